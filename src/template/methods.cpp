// Python attributes the sandbox lets a template use (str, dict and list
// methods; the loop object), jinja2's tests, and the global functions
// (range, dict, namespace, raise_exception, strftime_now, ...).
#include <cmath>
#include <ctime>

#include "template/evaluator.h"
#include "template/strings.h"

namespace qlm::tmpl {

namespace {

std::optional<std::string> opt_str(const Value& v, const char* what) {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!v.is_string()) throw Failure(cat(what, " arg must be None or str"));
    return v.s;
}

int64_t opt_int(const Value& v, int64_t dflt) {
    if (v.is_undefined() || v.is_none()) return dflt;
    if (!v.is_integer()) throw Failure(cat("'", type_name(v), "' object cannot be interpreted as an integer"));
    return v.kind == Value::Kind::Bool ? v.b : v.i;
}

const std::string& need_str(const Value& v, const char* what) {
    if (!v.is_string()) throw Failure(cat(what, " expects a string, not ", type_name(v)));
    return v.s;
}

Value str_list(std::vector<std::string> parts, bool markup = false) {
    std::vector<Value> items;
    items.reserve(parts.size());
    for (auto& p : parts) {
        items.push_back(Value::string(std::move(p)));
        items.back().markup = markup;
    }
    return Value::make_list(std::move(items));
}

Value unsafe(const Value& obj, const std::string& name) {
    Value u = Value::undefined(cat("access to attribute '", name, "' of '", type_name(obj), "' object is unsafe."));
    u.unsafe = true;
    return u;
}

bool affix(const Value& self, const Value& arg, bool prefix) {
    auto one = [&](const std::string& a) {
        if (a.size() > self.s.size()) return false;
        return prefix ? self.s.compare(0, a.size(), a) == 0 : self.s.compare(self.s.size() - a.size(), a.size(), a) == 0;
    };
    if (arg.is_list() && arg.list->tuple) {
        for (const auto& x : arg.list->items)
            if (one(need_str(x, prefix ? "startswith" : "endswith"))) return true;
        return false;
    }
    return one(need_str(arg, prefix ? "startswith" : "endswith"));
}

using Method = Value (*)(Evaluator&, const Value&, Args&);

// A Markup's str methods return Markup.
Value keep_markup(const Value& self, std::string s) {
    Value v = Value::string(std::move(s));
    v.markup = self.markup;
    return v;
}

#define QLM_M(...) [](Evaluator & ev, const Value& self, Args& args) -> Value { (void)ev; __VA_ARGS__ }

const std::vector<std::pair<const char*, Method>>& str_methods() {
    static const std::vector<std::pair<const char*, Method>> m = {
        {"upper", QLM_M(bind(args, "upper", {}); return keep_markup(self, py_upper(self.s));)},
        {"lower", QLM_M(bind(args, "lower", {}); return keep_markup(self, py_lower(self.s));)},
        {"title", QLM_M(bind(args, "title", {}); return keep_markup(self, py_title(self.s));)},
        {"capitalize", QLM_M(bind(args, "capitalize", {}); return keep_markup(self, py_capitalize(self.s));)},
        {"strip", QLM_M(auto a = bind(args, "strip", {"chars"}); return keep_markup(self, py_strip(self.s, opt_str(a[0], "strip"), true, true));)},
        {"lstrip", QLM_M(auto a = bind(args, "lstrip", {"chars"}); return keep_markup(self, py_strip(self.s, opt_str(a[0], "lstrip"), true, false));)},
        {"rstrip", QLM_M(auto a = bind(args, "rstrip", {"chars"}); return keep_markup(self, py_strip(self.s, opt_str(a[0], "rstrip"), false, true));)},
        {"split", QLM_M(auto a = bind(args, "split", {"sep", "maxsplit"}); return str_list(py_split(self.s, opt_str(a[0], "split"), opt_int(a[1], -1)), self.markup);)},
        {"rsplit", QLM_M(auto a = bind(args, "rsplit", {"sep", "maxsplit"}); return str_list(py_rsplit(self.s, opt_str(a[0], "rsplit"), opt_int(a[1], -1)), self.markup);)},
        {"splitlines", QLM_M(auto a = bind(args, "splitlines", {"keepends"}); return str_list(py_splitlines(self.s, a[0].truthy()));)},
        {"startswith", QLM_M(auto a = bind(args, "startswith", {"prefix"}, 1); return Value::boolean(affix(self, a[0], true));)},
        {"endswith", QLM_M(auto a = bind(args, "endswith", {"suffix"}, 1); return Value::boolean(affix(self, a[0], false));)},
        {"replace", QLM_M(auto a = bind(args, "replace", {"old", "new", "count"}, 2);
                          return Value::string(py_replace(self.s, need_str(a[0], "replace"), need_str(a[1], "replace"), opt_int(a[2], -1)));)},
        {"find", QLM_M(auto a = bind(args, "find", {"sub"}, 1); return Value::integer(py_find(self.s, need_str(a[0], "find"), false));)},
        {"rfind", QLM_M(auto a = bind(args, "rfind", {"sub"}, 1); return Value::integer(py_find(self.s, need_str(a[0], "rfind"), true));)},
        {"index", QLM_M(auto a = bind(args, "index", {"sub"}, 1); const int64_t i = py_find(self.s, need_str(a[0], "index"), false);
                        if (i < 0) throw Failure("substring not found"); return Value::integer(i);)},
        {"count", QLM_M(auto a = bind(args, "count", {"sub"}, 1); return Value::integer(py_count(self.s, need_str(a[0], "count")));)},
        {"format", QLM_M(return Value::string(py_format(self.s, args));)},
        {"join", QLM_M(auto a = bind(args, "join", {"iterable"}, 1); std::string out; bool first = true;
                       for (const auto& x : iterate(a[0])) { if (!first) out += self.s; first = false; out += need_str(x, "join"); check_size(out.size()); }
                       return Value::string(std::move(out));)},
        {"removeprefix", QLM_M(auto a = bind(args, "removeprefix", {"prefix"}, 1); const std::string& p = need_str(a[0], "removeprefix");
                               return Value::string(self.s.compare(0, p.size(), p) == 0 && p.size() <= self.s.size() ? self.s.substr(p.size()) : self.s);)},
        {"removesuffix", QLM_M(auto a = bind(args, "removesuffix", {"suffix"}, 1); const std::string& p = need_str(a[0], "removesuffix");
                               const bool ends = !p.empty() && p.size() <= self.s.size() && self.s.compare(self.s.size() - p.size(), p.size(), p) == 0;
                               return Value::string(ends ? self.s.substr(0, self.s.size() - p.size()) : self.s);)},
        {"isdigit", QLM_M(bind(args, "isdigit", {}); bool ok = !self.s.empty(); for (char c : self.s) ok &= c >= '0' && c <= '9'; return Value::boolean(ok);)},
        {"isspace", QLM_M(bind(args, "isspace", {}); bool ok = !self.s.empty(); for (uint32_t c : decode_utf8(self.s)) ok &= py_isspace(c); return Value::boolean(ok);)},
        {"isalpha", QLM_M(bind(args, "isalpha", {}); bool ok = !self.s.empty(); for (uint32_t c : decode_utf8(self.s)) ok &= is_cased_upper(c) || is_cased_lower(c); return Value::boolean(ok);)},
        {"isupper", QLM_M(bind(args, "isupper", {}); bool any = false, ok = true; for (uint32_t c : decode_utf8(self.s)) { any |= is_cased_upper(c); ok &= !is_cased_lower(c); } return Value::boolean(any && ok);)},
        {"islower", QLM_M(bind(args, "islower", {}); bool any = false, ok = true; for (uint32_t c : decode_utf8(self.s)) { any |= is_cased_lower(c); ok &= !is_cased_upper(c); } return Value::boolean(any && ok);)},
    };
    return m;
}

const std::vector<std::pair<const char*, Method>>& dict_methods() {
    static const std::vector<std::pair<const char*, Method>> m = {
        {"get", QLM_M(auto a = bind(args, "get", {"key", "default"}, 1); const Value* v = self.dict->find(a[0]);
                      return v ? *v : a[1].is_undefined() ? Value::none() : a[1];)},
        {"items", QLM_M(bind(args, "items", {}); std::vector<Value> items;
                        for (const auto& [k, v] : self.dict->items) items.push_back(Value::make_list({k, v}, true));
                        return Value::make_lazy(std::move(items), Lazy::DictItems);)},
        {"keys", QLM_M(bind(args, "keys", {}); std::vector<Value> items; for (const auto& kv : self.dict->items) items.push_back(kv.first);
                       return Value::make_lazy(std::move(items), Lazy::DictKeys);)},
        {"values", QLM_M(bind(args, "values", {}); std::vector<Value> items; for (const auto& kv : self.dict->items) items.push_back(kv.second);
                         return Value::make_lazy(std::move(items), Lazy::DictValues);)},
        {"copy", QLM_M(bind(args, "copy", {}); Value d = Value::make_dict(); d.dict->items = self.dict->items; d.dict->depth = self.dict->depth; return d;)},
    };
    return m;
}

const std::vector<std::pair<const char*, Method>>& list_methods() {
    static const std::vector<std::pair<const char*, Method>> m = {
        {"index", QLM_M(auto a = bind(args, "index", {"value"}, 1);
                        for (size_t k = 0; k < self.list->items.size(); ++k) if (equals(self.list->items[k], a[0])) return Value::integer(int64_t(k));
                        throw Failure(cat(to_repr(a[0]), " is not in list"));)},
        {"count", QLM_M(auto a = bind(args, "count", {"value"}, 1); int64_t n = 0;
                        for (const auto& x : self.list->items) n += equals(x, a[0]); return Value::integer(n);)},
        {"copy", QLM_M(bind(args, "copy", {}); return Value::make_list(self.list->items, self.list->tuple);)},
    };
    return m;
}

#undef QLM_M

std::optional<Value> find_method(Evaluator& ev, const Value& obj, const std::string& name,
                                 const std::vector<std::pair<const char*, Method>>& table) {
    for (const auto& [n, fn] : table)
        if (name == n) {
            Method m = fn;
            Evaluator* e = &ev;
            return Value::function(name, [m, e, obj](Args& args) { return m(*e, obj, args); });
        }
    return std::nullopt;
}

std::optional<Value> loop_attribute(const Value& obj, const std::string& name) {
    const LoopObj& l = *obj.loop;
    const size_t n = l.items->size(), i = l.index0;
    if (name == "index") return Value::integer(int64_t(i + 1));
    if (name == "index0") return Value::integer(int64_t(i));
    if (name == "revindex") return Value::integer(int64_t(n - i));
    if (name == "revindex0") return Value::integer(int64_t(n - i - 1));
    if (name == "first") return Value::boolean(i == 0);
    if (name == "last") return Value::boolean(i + 1 == n);
    if (name == "length") return Value::integer(int64_t(n));
    if (name == "depth") return Value::integer(l.depth);
    if (name == "depth0") return Value::integer(l.depth - 1);
    if (name == "previtem") return i > 0 ? (*l.items)[i - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem") return i + 1 < n ? (*l.items)[i + 1] : Value::undefined("there is no next item");
    if (name == "cycle") {
        const size_t idx = i;
        return Value::function("cycle", [idx](Args& args) {
            if (args.pos.empty()) throw Failure("no items for cycling given");
            return args.pos[idx % args.pos.size()];
        });
    }
    if (name == "changed") {
        auto lp = obj.loop;
        return Value::function("changed", [lp](Args& args) {
            Value now = Value::make_list(args.pos, true);
            if (lp->last_changed && equals(*lp->last_changed, now)) return Value::boolean(false);
            lp->last_changed = std::make_shared<Value>(now);
            return Value::boolean(true);
        });
    }
    return std::nullopt;
}

}  // namespace

std::optional<Value> python_attribute(Evaluator& ev, const Value& obj, const std::string& name) {
    switch (obj.kind) {
        case Value::Kind::String: return find_method(ev, obj, name, str_methods());
        case Value::Kind::Dict:
            for (const char* u : {"clear", "pop", "popitem", "setdefault", "update"})
                if (name == u) return unsafe(obj, name);
            return find_method(ev, obj, name, dict_methods());
        case Value::Kind::List:
            if (obj.is_lazy()) return std::nullopt;
            if (!obj.list->tuple)
                for (const char* u : {"append", "clear", "pop", "reverse", "insert", "sort", "extend", "remove"})
                    if (name == u) return unsafe(obj, name);
            return find_method(ev, obj, name, list_methods());
        case Value::Kind::Loop: return loop_attribute(obj, name);
        default: return std::nullopt;
    }
}

// ---- tests ----

namespace {

using TestFn = bool (*)(Evaluator&, const Value&, Args&);
#define QLM_T(...) [](Evaluator & ev, const Value& v, Args& args) -> bool { (void)ev; (void)args; __VA_ARGS__ }

Value arg0(Args& args, const char* what) {
    auto a = bind(args, what, {"other"}, 1);
    return a[0];
}

const std::vector<std::pair<const char*, TestFn>>& test_table() {
    static const std::vector<std::pair<const char*, TestFn>> t = {
        {"defined", QLM_T(return !v.is_undefined();)},
        {"undefined", QLM_T(return v.is_undefined();)},
        {"none", QLM_T(return v.is_none();)},
        {"boolean", QLM_T(return v.kind == Value::Kind::Bool;)},
        {"false", QLM_T(return v.kind == Value::Kind::Bool && !v.b;)},
        {"true", QLM_T(return v.kind == Value::Kind::Bool && v.b;)},
        {"integer", QLM_T(return v.kind == Value::Kind::Int;)},
        {"float", QLM_T(return v.kind == Value::Kind::Float;)},
        {"number", QLM_T(return v.is_number();)},
        {"string", QLM_T(return v.is_string();)},
        {"mapping", QLM_T(return v.is_dict();)},
        {"iterable", QLM_T(return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();)},
        {"sequence", QLM_T(return v.is_undefined() || v.is_string() || (v.is_list() && !v.is_lazy()) || v.is_dict();)},
        {"callable", QLM_T(return v.kind == Value::Kind::Callable;)},
        {"lower", QLM_T(bool any = false, ok = true;  // str(value).islower()
                        for (uint32_t c : decode_utf8(to_str(v))) { any |= is_cased_lower(c); ok &= !is_cased_upper(c); } return any && ok;)},
        {"upper", QLM_T(bool any = false, ok = true;  // str(value).isupper()
                        for (uint32_t c : decode_utf8(to_str(v))) { any |= is_cased_upper(c); ok &= !is_cased_lower(c); } return any && ok;)},
        {"even", QLM_T(return equals(binary_op("%", v, Value::integer(2)), Value::integer(0));)},
        {"odd", QLM_T(return equals(binary_op("%", v, Value::integer(2)), Value::integer(1));)},
        {"divisibleby", QLM_T(const Value d = arg0(args, "divisibleby"); const Value r = binary_op("%", v, d); return !r.truthy();)},
        {"in", QLM_T(return contains(arg0(args, "in"), v);)},
        {"eq", QLM_T(return equals(v, arg0(args, "eq"));)},
        {"ne", QLM_T(return !equals(v, arg0(args, "ne"));)},
        {"lt", QLM_T(return compare(v, arg0(args, "lt")) < 0;)},
        {"le", QLM_T(return compare(v, arg0(args, "le")) <= 0;)},
        {"gt", QLM_T(return compare(v, arg0(args, "gt")) > 0;)},
        {"ge", QLM_T(return compare(v, arg0(args, "ge")) >= 0;)},
        {"sameas", QLM_T(const Value o = arg0(args, "sameas");
                         if (v.kind != o.kind) return false;
                         if (v.is_none() || v.is_undefined()) return true;
                         if (v.kind == Value::Kind::Bool) return v.b == o.b;
                         if (v.is_list()) return v.list == o.list;
                         if (v.is_dict() || v.kind == Value::Kind::Namespace) return v.dict == o.dict;
                         return equals(v, o);)},
        {"escaped", QLM_T(return false;)},
        {"filter", QLM_T(return v.is_string() && has_filter(v.s);)},
        {"test", QLM_T(return v.is_string() && has_test(v.s);)},
    };
    return t;
}
#undef QLM_T

const char* alias(const std::string& name) {
    if (name == "==" || name == "equalto") return "eq";
    if (name == "!=") return "ne";
    if (name == "<" || name == "lessthan") return "lt";
    if (name == "<=") return "le";
    if (name == ">" || name == "greaterthan") return "gt";
    if (name == ">=") return "ge";
    return nullptr;
}

}  // namespace

bool has_test(const std::string& name) {
    const char* a = alias(name);
    const std::string n = a ? a : name;
    for (const auto& [k, fn] : test_table())
        if (n == k) return true;
    return false;
}

bool apply_test(Evaluator& ev, const std::string& name, const Value& v, Args& args) {
    const char* a = alias(name);
    const std::string n = a ? a : name;
    for (const auto& [k, fn] : test_table())
        if (n == k) return fn(ev, v, args);
    throw Failure(cat("no test named '", name, "'"));
}

// ---- globals ----

void add_globals(Scope& g, const TemplateOptions& opt) {
    g.vars["range"] = Value::function("range", [](Args& args) {
        auto a = bind(args, "range", {"start", "stop", "step"}, 1);
        int64_t start = 0, stop, step = 1;
        if (a[1].is_undefined()) stop = opt_int(a[0], 0);
        else start = opt_int(a[0], 0), stop = opt_int(a[1], 0), step = opt_int(a[2], 1);
        if (step == 0) throw Failure("range() arg 3 must not be zero");
        std::vector<Value> items;
        for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
            if (items.size() >= 100000) throw Failure("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            items.push_back(Value::integer(k));
            if ((step > 0 && k > INT64_MAX - step) || (step < 0 && k < INT64_MIN - step)) break;
        }
        check_items(items.size());
        return Value::make_list(std::move(items));
    });
    g.vars["dict"] = Value::function("dict", [](Args& args) {
        if (!args.pos.empty()) throw Failure("dict() takes keyword arguments only here");
        Value d = Value::make_dict();
        for (auto& [k, v] : args.kw) d.dict->set(Value::string(k), v);
        return d;
    });
    g.vars["namespace"] = Value::function("namespace", [](Args& args) {
        Value ns = Value::make_namespace();
        register_namespace(ns);
        for (auto& p : args.pos) {
            if (!p.is_dict()) throw Failure("namespace() takes a mapping as positional argument");
            for (auto& [k, v] : p.dict->items) ns.dict->set(k, v);
        }
        for (auto& [k, v] : args.kw) ns.dict->set(Value::string(k), v);
        return ns;
    });
    g.vars["raise_exception"] = Value::function("raise_exception", [](Args& args) -> Value {
        auto a = bind(args, "raise_exception", {"message"}, 1);
        throw Failure(to_str(a[0]), true);
    });
    const std::optional<std::time_t> now = opt.now;
    g.vars["strftime_now"] = Value::function("strftime_now", [now](Args& args) {
        auto a = bind(args, "strftime_now", {"format"}, 1);
        const std::string& fmt = need_str(a[0], "strftime_now");
        if (fmt.size() > 256) throw Failure("strftime_now: format too long");
        const std::time_t t = now ? *now : std::time(nullptr);
        std::tm tm{};
        localtime_r(&t, &tm);
        std::string buf(fmt.size() * 16 + 64, '\0');
        const size_t n = fmt.empty() ? 0 : std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
        buf.resize(n);
        return Value::string(std::move(buf));
    });
}

}  // namespace qlm::tmpl
