// Python semantics of template values: str()/repr(), ==, ordering, json.dumps.
#include "template/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "template/failure.h"

namespace qlm::tmpl {

namespace {

// Nested values are built at run time (a list in a list in ...), so the
// recursive walks over them are bounded too.
constexpr int kMaxValueDepth = 500;
thread_local int g_value_depth = 0;

struct ValueDepth {
    ValueDepth() {
        if (++g_value_depth > kMaxValueDepth) {
            --g_value_depth;
            throw Failure("maximum recursion depth exceeded (value nested too deeply)");
        }
    }
    ~ValueDepth() { --g_value_depth; }
};

}  // namespace

int nesting(const Value& v) {
    if (v.list) return v.list->depth;
    if (v.dict) return v.dict->depth;
    return 0;
}

Value Value::make_list(std::vector<Value> items, bool tuple) {
    int depth = 1;
    for (const auto& x : items) depth = std::max(depth, nesting(x) + 1);
    if (depth > kMaxValueDepth) throw Failure("maximum recursion depth exceeded (value nested too deeply)");
    Value v;
    v.kind = Kind::List;
    v.list = std::make_shared<ListObj>();
    v.list->items = std::move(items);
    v.list->tuple = tuple;
    v.list->depth = depth;
    return v;
}

Value Value::make_lazy(std::vector<Value> items, Lazy lazy) {
    Value v = make_list(std::move(items));
    v.list->lazy = lazy;
    return v;
}

bool Value::is_lazy() const { return kind == Kind::List && list->lazy != Lazy::None; }
bool Value::is_iterator() const {
    return kind == Kind::List && (list->lazy == Lazy::Generator || list->lazy == Lazy::ReverseIterator);
}

Value Value::make_dict() {
    Value v;
    v.kind = Kind::Dict;
    v.dict = std::make_shared<DictObj>();
    return v;
}

Value Value::make_namespace() {
    Value v = make_dict();
    v.kind = Kind::Namespace;
    return v;
}

Value Value::function(std::string name, std::function<Value(Args&)> call) {
    Value v;
    v.kind = Kind::Callable;
    v.fn = std::make_shared<Callable>();
    v.fn->name = std::move(name);
    v.fn->call = std::move(call);
    return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) {
    ValueDepth guard;
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return none();
        case nlohmann::ordered_json::value_t::boolean: return boolean(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return integer(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            const uint64_t u = j.get<uint64_t>();
            if (u > uint64_t(INT64_MAX)) return number(double(u));
            return integer(int64_t(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return number(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return string(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(from_json(e));
            return make_list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            Value d = make_dict();
            for (auto it = j.begin(); it != j.end(); ++it) {
                Value x = from_json(it.value());
                d.dict->depth = std::max(d.dict->depth, nesting(x) + 1);
                d.dict->items.emplace_back(string(it.key()), std::move(x));
            }
            return d;
        }
        default: return none();
    }
}

bool Value::truthy() const {
    switch (kind) {
        case Kind::Undefined:
        case Kind::None: return false;
        case Kind::Bool: return b;
        case Kind::Int: return i != 0;
        case Kind::Float: return f != 0;
        case Kind::String: return !s.empty();
        case Kind::List: return is_iterator() || !list->items.empty();
        case Kind::Dict: return !dict->items.empty();
        default: return true;
    }
}

double Value::as_double() const {
    if (kind == Kind::Float) return f;
    if (kind == Kind::Bool) return b ? 1 : 0;
    return double(i);
}

const Value* DictObj::find(const Value& key) const {
    for (const auto& [k, v] : items)
        if (equals(k, key)) return &v;
    return nullptr;
}

Value* DictObj::find(const Value& key) {
    for (auto& [k, v] : items)
        if (equals(k, key)) return &v;
    return nullptr;
}

const Value* DictObj::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k.kind == Value::Kind::String && k.s == key) return &v;
    return nullptr;
}

void DictObj::set(Value key, Value v) {
    const int d = std::max(nesting(key), nesting(v)) + 1;
    if (d > kMaxValueDepth) throw Failure("maximum recursion depth exceeded (value nested too deeply)");
    depth = std::max(depth, d);
    if (Value* slot = find(key)) {
        *slot = std::move(v);
        return;
    }
    items.emplace_back(std::move(key), std::move(v));
}

const char* type_name(const Value& v) {
    switch (v.kind) {
        case Value::Kind::Undefined: return "Undefined";
        case Value::Kind::None: return "NoneType";
        case Value::Kind::Bool: return "bool";
        case Value::Kind::Int: return "int";
        case Value::Kind::Float: return "float";
        case Value::Kind::String: return "str";
        case Value::Kind::List:
            switch (v.list->lazy) {
                case Lazy::Generator: return "generator";
                case Lazy::ReverseIterator: return "list_reverseiterator";
                case Lazy::DictItems: return "dict_items";
                case Lazy::DictKeys: return "dict_keys";
                case Lazy::DictValues: return "dict_values";
                case Lazy::None: break;
            }
            return v.list->tuple ? "tuple" : "list";
        case Value::Kind::Dict: return "dict";
        case Value::Kind::Namespace: return "Namespace";
        case Value::Kind::Callable: return v.fn->is_macro ? "Macro" : "builtin_function_or_method";
        case Value::Kind::Loop: return "LoopContext";
    }
    return "object";
}

// ---- UTF-8 ----

std::vector<uint32_t> decode_utf8(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    for (size_t k = 0; k < s.size();) {
        const uint8_t c = uint8_t(s[k]);
        int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || k + size_t(n) > s.size()) {  // invalid byte: keep it as a code point of its own
            out.push_back(0xDC00 + c);
            ++k;
            continue;
        }
        uint32_t cp = n == 1 ? c : c & (0x7F >> n);
        for (int m = 1; m < n; ++m) cp = (cp << 6) | (uint8_t(s[k + size_t(m)]) & 0x3F);
        out.push_back(cp);
        k += size_t(n);
    }
    return out;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp >= 0xDC80 && cp <= 0xDCFF) {  // a lone byte kept by decode_utf8
        out += char(cp - 0xDC00);
    } else if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (char c : s) n += (uint8_t(c) & 0xC0) != 0x80;
    return n;
}

bool py_isspace(uint32_t cp) {
    return (cp >= 9 && cp <= 13) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

// ---- str() / repr() ----

std::string py_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    // Shortest round-trip digits, laid out as Python's repr does: positional
    // for 1e-4 <= |d| < 1e16, otherwise d.ddde[+-]XX.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    const size_t e = sci.find('e');
    std::string mant = sci.substr(0, e);
    const int exp = std::stoi(sci.substr(e + 1));
    bool neg = false;
    if (!mant.empty() && mant[0] == '-') {
        neg = true;
        mant.erase(0, 1);
    }
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    std::string out = neg ? "-" : "";
    if (exp < -4 || exp >= 16) {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        out += eb;
    } else if (exp < 0) {
        out += "0." + std::string(size_t(-exp - 1), '0') + digits;
    } else {
        const size_t int_len = size_t(exp) + 1;
        if (digits.size() <= int_len) {
            out += digits + std::string(int_len - digits.size(), '0') + ".0";
        } else {
            out += digits.substr(0, int_len) + "." + digits.substr(int_len);
        }
    }
    return out;
}

namespace {

bool py_isprintable(uint32_t cp) {
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) return false;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) ||
        (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF)
        return false;
    if ((cp >= 0xD800 && cp <= 0xF8FF) || cp == 0xFFF9 || cp == 0xFFFA || cp == 0xFFFB || cp >= 0xF0000) return false;
    return true;
}

}  // namespace

std::string py_str_repr(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (uint32_t cp : decode_utf8(s)) {
        if (cp == uint32_t(quote) || cp == '\\') {
            out += '\\';
            out += char(cp);
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (cp >= 0xDC80 && cp <= 0xDCFF) {
            out += "\\udc" + std::string(1, "0123456789abcdef"[(cp >> 4) & 15]) + "0123456789abcdef"[cp & 15];
        } else if (!py_isprintable(cp)) {
            char b[16];
            if (cp < 0x100)
                std::snprintf(b, sizeof b, "\\x%02x", cp);
            else if (cp < 0x10000)
                std::snprintf(b, sizeof b, "\\u%04x", cp);
            else
                std::snprintf(b, sizeof b, "\\U%08x", cp);
            out += b;
        } else {
            append_utf8(out, cp);
        }
    }
    out += quote;
    return out;
}

std::string to_repr(const Value& v) {
    ValueDepth guard;
    switch (v.kind) {
        case Value::Kind::Undefined: return "Undefined";
        case Value::Kind::String: return v.markup ? "Markup(" + py_str_repr(v.s) + ")" : py_str_repr(v.s);
        case Value::Kind::List: {
            if (v.is_iterator()) return cat("<", type_name(v), " object>");
            if (v.is_lazy()) {
                Value plain = Value::make_list(v.list->items);
                return cat(type_name(v), "(", to_repr(plain), ")");
            }
            const auto& items = v.list->items;
            std::string out = v.list->tuple ? "(" : "[";
            for (size_t k = 0; k < items.size(); ++k) {
                if (k) out += ", ";
                out += to_repr(items[k]);
            }
            if (v.list->tuple && items.size() == 1) out += ",";
            out += v.list->tuple ? ")" : "]";
            return out;
        }
        case Value::Kind::Dict: {
            std::string out = "{";
            bool first = true;
            for (const auto& [k, x] : v.dict->items) {
                if (!first) out += ", ";
                first = false;
                out += to_repr(k) + ": " + to_repr(x);
            }
            return out + "}";
        }
        case Value::Kind::Namespace: {
            Value d = v;
            d.kind = Value::Kind::Dict;
            return "<Namespace " + to_repr(d) + ">";
        }
        default: return to_str(v);
    }
}

std::string to_str(const Value& v) {
    switch (v.kind) {
        case Value::Kind::Undefined: return "";
        case Value::Kind::None: return "None";
        case Value::Kind::Bool: return v.b ? "True" : "False";
        case Value::Kind::Int: return std::to_string(v.i);
        case Value::Kind::Float: return py_float_repr(v.f);
        case Value::Kind::String: return v.s;
        case Value::Kind::Callable:
            return v.fn->is_macro ? "<Macro '" + v.fn->name + "'>" : "<built-in function " + v.fn->name + ">";
        case Value::Kind::Loop: return "<LoopContext>";
        default: return to_repr(v);
    }
}

// ---- comparisons ----

bool equals(const Value& a, const Value& b) {
    ValueDepth guard;
    using K = Value::Kind;
    if (a.is_number() && b.is_number()) {
        if (a.is_integer() && b.is_integer()) return (a.kind == K::Bool ? a.b : a.i) == (b.kind == K::Bool ? b.b : b.i);
        return a.as_double() == b.as_double();
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case K::Undefined:
        case K::None: return true;
        case K::String: return a.s == b.s;
        case K::List: {
            if (a.list == b.list) return true;
            if (a.is_lazy() || b.is_lazy()) return false;
            if (a.list->tuple != b.list->tuple || a.list->items.size() != b.list->items.size()) return false;
            for (size_t k = 0; k < a.list->items.size(); ++k)
                if (!equals(a.list->items[k], b.list->items[k])) return false;
            return true;
        }
        case K::Dict: {
            if (a.dict == b.dict) return true;
            if (a.dict->items.size() != b.dict->items.size()) return false;
            for (const auto& [k, x] : a.dict->items) {
                const Value* y = b.dict->find(k);
                if (!y || !equals(x, *y)) return false;
            }
            return true;
        }
        case K::Namespace: return a.dict == b.dict;
        case K::Callable: return a.fn == b.fn;
        case K::Loop: return a.loop == b.loop;
        default: return false;
    }
}

int compare(const Value& a, const Value& b) {
    ValueDepth guard;
    if (a.is_number() && b.is_number()) {
        if (a.is_integer() && b.is_integer()) {
            const int64_t x = a.kind == Value::Kind::Bool ? a.b : a.i, y = b.kind == Value::Kind::Bool ? b.b : b.i;
            return x < y ? -1 : x > y ? 1 : 0;
        }
        const double x = a.as_double(), y = b.as_double();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;  // UTF-8 order = code point order
    if (a.is_list() && b.is_list() && a.list->tuple == b.list->tuple && !a.is_lazy() && !b.is_lazy()) {
        const auto &x = a.list->items, &y = b.list->items;
        for (size_t k = 0; k < x.size() && k < y.size(); ++k) {
            if (equals(x[k], y[k])) continue;
            return compare(x[k], y[k]);
        }
        return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
    }
    throw Failure(cat("'<' not supported between instances of '", type_name(a), "' and '", type_name(b), "'"));
}

// ---- json.dumps ----

namespace {

void json_string(std::string& out, std::string_view s) {
    out += '"';
    for (uint32_t cp : decode_utf8(s)) {
        switch (cp) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (cp < 0x20 || (cp >= 0xDC80 && cp <= 0xDCFF)) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", cp);
                    out += b;
                } else {
                    append_utf8(out, cp);
                }
        }
    }
    out += '"';
}

struct JsonWriter {
    int indent;
    std::string_view item_sep, key_sep;
    bool sort_keys;
    std::string out;
    int depth = 0;

    void newline(int level) {
        if (indent < 0) return;
        out += '\n';
        out.append(size_t(indent) * size_t(level), ' ');
    }

    std::string key_string(const Value& k) {
        switch (k.kind) {
            case Value::Kind::String: return k.s;
            case Value::Kind::None: return "null";
            case Value::Kind::Bool: return k.b ? "true" : "false";
            case Value::Kind::Int: return std::to_string(k.i);
            case Value::Kind::Float: return py_float_repr(k.f);
            default: throw Failure(cat("keys must be str, int, float, bool or None, not ", type_name(k)));
        }
    }

    void write(const Value& v) {
        if (++depth > 200) throw Failure("maximum recursion depth exceeded while encoding a JSON object");
        switch (v.kind) {
            case Value::Kind::None: out += "null"; break;
            case Value::Kind::Bool: out += v.b ? "true" : "false"; break;
            case Value::Kind::Int: out += std::to_string(v.i); break;
            case Value::Kind::Float:
                if (std::isnan(v.f)) out += "NaN";
                else if (std::isinf(v.f)) out += v.f > 0 ? "Infinity" : "-Infinity";
                else out += py_float_repr(v.f);
                break;
            case Value::Kind::String: json_string(out, v.s); break;
            case Value::Kind::List: {
                if (v.is_lazy()) throw Failure(cat("Object of type ", type_name(v), " is not JSON serializable"));
                const auto& items = v.list->items;
                if (items.empty()) {
                    out += "[]";
                    break;
                }
                out += '[';
                for (size_t k = 0; k < items.size(); ++k) {
                    if (k) out += item_sep;
                    newline(depth);
                    write(items[k]);
                }
                newline(depth - 1);
                out += ']';
                break;
            }
            case Value::Kind::Dict: {
                if (v.dict->items.empty()) {
                    out += "{}";
                    break;
                }
                std::vector<std::pair<std::string, const Value*>> entries;
                for (const auto& [k, x] : v.dict->items) entries.emplace_back(key_string(k), &x);
                if (sort_keys)
                    std::stable_sort(entries.begin(), entries.end(),
                                     [](const auto& a, const auto& b) { return a.first < b.first; });
                out += '{';
                for (size_t k = 0; k < entries.size(); ++k) {
                    if (k) out += item_sep;
                    newline(depth);
                    json_string(out, entries[k].first);
                    out += key_sep;
                    write(*entries[k].second);
                }
                newline(depth - 1);
                out += '}';
                break;
            }
            default: throw Failure(cat("Object of type ", type_name(v), " is not JSON serializable"));
        }
        --depth;
    }
};

}  // namespace

std::string to_json(const Value& v, int indent, std::string_view item_sep, std::string_view key_sep, bool sort_keys) {
    JsonWriter w{indent, item_sep, key_sep, sort_keys, {}};
    w.write(v);
    return std::move(w.out);
}

}  // namespace qlm::tmpl
