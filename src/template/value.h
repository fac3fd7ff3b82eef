// Values of the template language: Python's JSON-like types (None, bool, int,
// float, str, list/tuple, dict) plus jinja2's Undefined and the callables a
// template sees (macros, builtins, bound methods, namespace(), the loop object).
// Lists, dicts and namespaces are shared by reference, as in Python.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace qlm::tmpl {

struct Value;
struct ListObj;
struct DictObj;
struct Callable;
struct LoopObj;

// What Python object a sequence stands for. jinja2's map/select/... filters
// return generators (always true, no len(), consumed by iteration, refused by
// tojson), dict.items()/keys()/values() return views (len() but no index).
enum class Lazy : uint8_t { None, Generator, ReverseIterator, DictItems, DictKeys, DictValues };

// Positional and keyword arguments of a call.
struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
};

struct Value {
    enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable, Loop };

    Kind kind = Kind::Undefined;
    bool b = false;
    bool unsafe = false;  // an Undefined for an attribute the sandbox refuses
    bool markup = false;  // a String that is markupsafe.Markup (from |safe, |escape)
    int64_t i = 0;
    double f = 0;
    std::string s;        // String value, or the name an Undefined stands for
    std::shared_ptr<ListObj> list;
    std::shared_ptr<DictObj> dict;   // Dict and Namespace
    std::shared_ptr<Callable> fn;
    std::shared_ptr<LoopObj> loop;

    static Value undefined(std::string hint = {}) { Value v; v.s = std::move(hint); return v; }
    static Value none() { Value v; v.kind = Kind::None; return v; }
    static Value boolean(bool x) { Value v; v.kind = Kind::Bool; v.b = x; return v; }
    static Value integer(int64_t x) { Value v; v.kind = Kind::Int; v.i = x; return v; }
    static Value number(double x) { Value v; v.kind = Kind::Float; v.f = x; return v; }
    static Value string(std::string x) { Value v; v.kind = Kind::String; v.s = std::move(x); return v; }
    static Value make_list(std::vector<Value> items = {}, bool tuple = false);
    static Value make_lazy(std::vector<Value> items, Lazy lazy);
    static Value make_dict();
    static Value make_namespace();
    static Value function(std::string name, std::function<Value(Args&)> call);
    static Value from_json(const nlohmann::ordered_json& j);

    bool is_undefined() const { return kind == Kind::Undefined; }
    bool is_none() const { return kind == Kind::None; }
    bool is_string() const { return kind == Kind::String; }
    bool is_list() const { return kind == Kind::List; }
    bool is_lazy() const;                  // a generator or a dict view
    bool is_iterator() const;              // a generator (no len(), consumed once)
    bool is_dict() const { return kind == Kind::Dict; }
    bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
    bool is_integer() const { return kind == Kind::Int || kind == Kind::Bool; }
    bool truthy() const;
    double as_double() const;
};

struct ListObj {
    std::vector<Value> items;
    bool tuple = false;
    Lazy lazy = Lazy::None;
    std::string error;  // a generator whose first step fails: raised when iterated, as Python would
    int depth = 1;  // nesting, bounded so destruction cannot overflow the stack
};

// Insertion-ordered, as Python dicts are. Templates' dicts are small.
struct DictObj {
    std::vector<std::pair<Value, Value>> items;
    int depth = 1;
    const Value* find(const Value& key) const;
    Value* find(const Value& key);
    const Value* find(std::string_view key) const;
    void set(Value key, Value v);
};

struct Callable {
    std::string name;
    bool is_macro = false;
    std::function<Value(Args&)> call;
};

// The `loop` variable of a for loop.
struct LoopObj {
    std::shared_ptr<const std::vector<Value>> items;
    size_t index0 = 0;
    int depth = 1;
    std::shared_ptr<Value> last_changed;
};

int nesting(const Value& v);  // 0 for scalars
const char* type_name(const Value& v);  // Python's type names, for error messages

// Python's str() and repr() of a value.
std::string to_str(const Value& v);
std::string to_repr(const Value& v);
std::string py_float_repr(double d);
std::string py_str_repr(std::string_view s);

// Python ==, and the order of sort()/comparisons (throws TypeError-like errors).
bool equals(const Value& a, const Value& b);
int compare(const Value& a, const Value& b);  // <0, 0, >0

// Python json.dumps(v, ensure_ascii=False, indent, separators, sort_keys).
std::string to_json(const Value& v, int indent, std::string_view item_sep, std::string_view key_sep,
                    bool sort_keys);

// UTF-8 helpers: code points for len/index/slice, Python's isspace.
std::vector<uint32_t> decode_utf8(std::string_view s);
void append_utf8(std::string& out, uint32_t cp);
bool py_isspace(uint32_t cp);
size_t utf8_length(std::string_view s);

}  // namespace qlm::tmpl
