// jinja2's built-in filters (jinja2/filters.py), with transformers' tojson
// (json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "template/evaluator.h"
#include "template/strings.h"

namespace qlm::tmpl {

namespace {

using FilterFn = Value (*)(Evaluator&, Value&, Args&);

std::string soft_str(const Value& v) { return to_str(v); }

// jinja2's soft_str keeps a Markup a Markup, and its str methods return Markup.
Value keep_markup(const Value& v, std::string s) {
    Value r = Value::string(std::move(s));
    r.markup = v.is_string() && v.markup;
    return r;
}

int64_t int_arg(const Value& v, int64_t dflt, const char* what) {
    if (v.is_undefined()) return dflt;
    if (!v.is_integer()) throw Failure(cat(what, ": an integer is required, not ", type_name(v)));
    return v.kind == Value::Kind::Bool ? v.b : v.i;
}

// jinja2's make_attrgetter: "a.b.0" -> getitem per dotted part.
Value get_attribute(Evaluator& ev, const Value& item, const Value& attribute) {
    if (attribute.is_integer()) return ev.getitem(item, attribute);
    Value cur = item;
    const std::string path = to_str(attribute);
    size_t pos = 0;
    for (;;) {
        const size_t dot = path.find('.', pos);
        const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        bool digits = !part.empty();
        for (char c : part) digits &= c >= '0' && c <= '9';
        cur = ev.getitem(cur, digits && part.size() < 18 ? Value::integer(std::atoll(part.c_str())) : Value::string(part));
        if (dot == std::string::npos) return cur;
        pos = dot + 1;
    }
}

// Sort key: strings lowered unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
    if (!case_sensitive && v.is_string()) return Value::string(py_lower(v.s));
    return v;
}

void check_defined(const Value& v) {
    if (v.is_undefined()) undefined_error(v);
}

Value select_or_reject(Evaluator& ev, Value& seq, Args& args, bool attr, bool select) {
    std::vector<Value> pos = args.pos;
    Value attribute;
    if (attr) {
        if (pos.empty()) throw Failure("missing parameter for attribute name");
        attribute = pos.front();
        pos.erase(pos.begin());
    }
    std::string test;
    if (!pos.empty()) {
        if (!pos.front().is_string()) throw Failure("test name must be a string");
        test = pos.front().s;
        pos.erase(pos.begin());
    }
    std::vector<Value> out;
    if (!seq.truthy()) return Value::make_lazy({}, Lazy::Generator);  // jinja2: `if value:` before iterating
    for (auto& item : iterate(seq)) {
        const Value x = attr ? get_attribute(ev, item, attribute) : item;
        bool ok;
        if (test.empty()) {
            ok = x.truthy();
        } else {
            Args targs{pos, args.kw};
            ok = ev.test(test, x, targs);
        }
        if (ok == select) out.push_back(item);
    }
    return Value::make_lazy(std::move(out), Lazy::Generator);
}

Value do_round(Value& v, Args& args) {
    auto a = bind(args, "round", {"precision", "method"});
    const int64_t precision = int_arg(a[0], 0, "round");
    const std::string method = a[1].is_undefined() ? "common" : to_str(a[1]);
    if (!v.is_number()) throw Failure(cat("type ", type_name(v), " doesn't define __round__ method"));
    if (precision < -300 || precision > 300) throw Failure("round: precision out of range");
    if (method == "common") {
        if (v.is_integer() && precision >= 0) return Value::integer(v.kind == Value::Kind::Bool ? v.b : v.i);
        const double x = v.as_double();
        if (!std::isfinite(x) || precision < 0) {
            const double p = std::pow(10.0, double(-precision));
            return Value::number(std::nearbyint(x / p) * p);
        }
        char buf[400];
        std::snprintf(buf, sizeof buf, "%.*f", int(precision), x);  // correctly rounded, ties to even
        return Value::number(std::strtod(buf, nullptr));
    }
    const double p = std::pow(10.0, double(precision));
    if (method == "ceil") return Value::number(std::ceil(v.as_double() * p) / p);
    if (method == "floor") return Value::number(std::floor(v.as_double() * p) / p);
    throw Failure("method must be common, ceil or floor");
}

std::string jinja_title(const std::string& s) {
    std::string out;
    bool start = true;
    for (uint32_t cp : decode_utf8(s)) {
        const bool sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || py_isspace(cp);
        std::string c;
        append_utf8(c, cp);
        if (sep) {
            out += c;
            start = true;
        } else {
            out += start ? py_upper(c) : py_lower(c);
            start = false;
        }
    }
    return out;
}

Value do_tojson(Value& v, Args& args) {
    auto a = bind(args, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
    int indent = -1;
    if (!a[1].is_undefined() && !a[1].is_none()) indent = int(std::clamp<int64_t>(int_arg(a[1], 0, "tojson"), 0, 64));
    std::string item_sep = indent >= 0 ? "," : ", ", key_sep = ": ";
    if (!a[2].is_undefined() && !a[2].is_none()) {
        if (!a[2].is_list() || a[2].list->items.size() != 2) throw Failure("separators must be a pair of strings");
        item_sep = to_str(a[2].list->items[0]);
        key_sep = to_str(a[2].list->items[1]);
    }
    std::string out = to_json(v, indent, item_sep, key_sep, a[3].truthy());
    check_size(out.size());
    if (a[0].truthy()) {  // ensure_ascii: non-ASCII only occurs inside strings
        std::string esc;
        for (uint32_t cp : decode_utf8(out)) {
            char b[16];
            if (cp < 0x80) {
                esc += char(cp);
            } else if (cp < 0x10000) {
                std::snprintf(b, sizeof b, "\\u%04x", cp);
                esc += b;
            } else {
                const uint32_t c = cp - 0x10000;
                std::snprintf(b, sizeof b, "\\u%04x\\u%04x", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF));
                esc += b;
            }
        }
        out = std::move(esc);
    }
    return Value::string(std::move(out));
}

Value do_indent(Value& v, Args& args) {
    auto a = bind(args, "indent", {"width", "first", "blank"});
    std::string ind = a[0].is_string() ? a[0].s : std::string(size_t(std::clamp<int64_t>(int_arg(a[0], 4, "indent"), 0, 4096)), ' ');
    if (!v.is_string()) throw Failure(cat("'", type_name(v), "' object has no attribute 'splitlines'"));
    std::string s = v.s + "\n";
    const auto lines = py_splitlines(s, false);
    std::string rv;
    if (a[2].truthy()) {
        for (size_t k = 0; k < lines.size(); ++k) {
            if (k) rv += "\n" + ind;
            rv += lines[k];
            check_size(rv.size());
        }
    } else {
        rv = lines.empty() ? "" : lines[0];
        for (size_t k = 1; k < lines.size(); ++k) {
            rv += "\n";
            if (!lines[k].empty()) rv += ind;
            rv += lines[k];
            check_size(rv.size());
        }
    }
    if (a[1].truthy()) rv = ind + rv;
    return Value::string(std::move(rv));
}

Value do_int(Value& v, Args& args) {
    auto a = bind(args, "int", {"default", "base"});
    const Value dflt = a[0].is_undefined() ? Value::integer(0) : a[0];
    const int64_t base = int_arg(a[1], 10, "int");
    if (v.is_undefined()) undefined_error(v);  // int(Undefined) raises
    if (v.kind == Value::Kind::Int) return v;
    if (v.kind == Value::Kind::Bool) return Value::integer(v.b);
    if (v.kind == Value::Kind::Float) {
        if (!std::isfinite(v.f) || std::fabs(v.f) >= 9.2e18) throw Failure("cannot convert float to integer");
        return Value::integer(int64_t(std::trunc(v.f)));
    }
    if (v.is_string()) {
        std::string s = py_strip(v.s, std::nullopt, true, true);
        std::string t;
        for (size_t k = 0; k < s.size(); ++k)
            if (!(s[k] == '_' && k > 0 && k + 1 < s.size() && std::isalnum(uint8_t(s[k - 1])) && std::isalnum(uint8_t(s[k + 1]))))
                t += s[k];
        if (!t.empty() && base >= 2 && base <= 36) {
            char* end = nullptr;
            errno = 0;
            const long long x = std::strtoll(t.c_str(), &end, int(base));
            if (end && *end == 0 && errno == 0 && !std::isspace(uint8_t(t[0]))) return Value::integer(x);
        }
        char* end = nullptr;
        const double d = std::strtod(t.c_str(), &end);
        if (!t.empty() && end && *end == 0 && std::isfinite(d) && std::fabs(d) < 9.2e18 && t.find_first_of("xX") == std::string::npos)
            return Value::integer(int64_t(std::trunc(d)));
    }
    return dflt;
}

Value do_float(Value& v, Args& args) {
    auto a = bind(args, "float", {"default"});
    const Value dflt = a[0].is_undefined() ? Value::number(0.0) : a[0];
    if (v.is_undefined()) undefined_error(v);  // float(Undefined) raises
    if (v.kind == Value::Kind::Float) return v;
    if (v.is_integer()) return Value::number(v.as_double());
    if (v.is_string()) {
        const std::string s = py_strip(v.s, std::nullopt, true, true);
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end && *end == 0 && s.find_first_of("xXpP") == std::string::npos) return Value::number(d);
    }
    return dflt;
}

Value minmax(Evaluator& ev, Value& v, Args& args, bool want_max) {
    auto a = bind(args, want_max ? "max" : "min", {"case_sensitive", "attribute"});
    const auto items = iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    auto key = [&](const Value& x) {
        return sort_key(a[1].is_undefined() ? x : get_attribute(ev, x, a[1]), a[0].truthy());
    };
    Value bk = key(items[0]);
    for (size_t k = 1; k < items.size(); ++k) {
        Value kk = key(items[k]);
        const int c = compare(kk, bk);
        if (want_max ? c > 0 : c < 0) best = k, bk = kk;
    }
    return items[best];
}

#define QLM_F(...) [](Evaluator & ev, Value& v, Args& args) -> Value { (void)ev; __VA_ARGS__ }

const std::vector<std::pair<const char*, FilterFn>>& filter_table() {
    static const std::vector<std::pair<const char*, FilterFn>> t = {
        {"abs", QLM_F(bind(args, "abs", {}); check_defined(v);
                      if (v.kind == Value::Kind::Float) return Value::number(std::fabs(v.f));
                      if (v.is_integer()) { const int64_t x = v.kind == Value::Kind::Bool ? v.b : v.i;
                          if (x == INT64_MIN) throw Failure("integer overflow"); return Value::integer(x < 0 ? -x : x); }
                      throw Failure(cat("bad operand type for abs(): '", type_name(v), "'"));)},
        {"attr", QLM_F(auto a = bind(args, "attr", {"name"}, 1); return ev.getattr(v, to_str(a[0]));)},
        {"batch", QLM_F(auto a = bind(args, "batch", {"linecount", "fill_with"}, 1);
                        const int64_t n = int_arg(a[0], 1, "batch"); if (n <= 0) throw Failure("batch: linecount must be positive");
                        std::vector<Value> out, cur;
                        for (auto& x : iterate(v)) { cur.push_back(x); if (int64_t(cur.size()) == n) { out.push_back(Value::make_list(std::move(cur))); cur.clear(); } }
                        if (!cur.empty()) { if (!a[1].is_undefined()) while (int64_t(cur.size()) < n) cur.push_back(a[1]);
                                            out.push_back(Value::make_list(std::move(cur))); }
                        return Value::make_lazy(std::move(out), Lazy::Generator);)},
        {"capitalize", QLM_F(bind(args, "capitalize", {}); return Value::string(py_capitalize(soft_str(v)));)},
        {"center", QLM_F(auto a = bind(args, "center", {"width"}); const std::string s = soft_str(v);
                         const int64_t w = std::clamp<int64_t>(int_arg(a[0], 80, "center"), 0, 1 << 20), len = int64_t(utf8_length(s));
                         if (w <= len) return Value::string(s);
                         const int64_t pad = w - len, left = pad / 2 + (pad & w & 1);
                         return Value::string(std::string(size_t(left), ' ') + s + std::string(size_t(pad - left), ' '));)},
        {"count", QLM_F(bind(args, "count", {}); return apply_filter(ev, "length", v, args);)},
        {"default", QLM_F(auto a = bind(args, "default", {"default_value", "boolean"});
                          if (v.is_undefined() || (a[1].truthy() && !v.truthy())) return a[0].is_undefined() ? Value::string("") : a[0];
                          return v;)},
        {"dictsort", QLM_F(auto a = bind(args, "dictsort", {"case_sensitive", "by", "reverse"});
                           if (!v.is_dict()) throw Failure("You can only sort by either mapping");
                           const bool by_value = a[1].is_string() && a[1].s == "value";
                           if (!a[1].is_undefined() && !by_value && !(a[1].is_string() && a[1].s == "key")) throw Failure("You can only sort by either \"key\" or \"value\"");
                           std::vector<Value> items;
                           for (const auto& [k, x] : v.dict->items) items.push_back(Value::make_list({k, x}, true));
                           const bool cs = a[0].truthy();
                           std::stable_sort(items.begin(), items.end(), [&](const Value& p, const Value& q) {
                               const size_t i = by_value ? 1 : 0;
                               return compare(sort_key(p.list->items[i], cs), sort_key(q.list->items[i], cs)) < 0; });
                           if (a[2].truthy()) std::reverse(items.begin(), items.end());
                           return Value::make_list(std::move(items));)},
        {"escape", QLM_F(bind(args, "escape", {}); if (v.is_string() && v.markup) return v;
                         Value r = Value::string(html_escape(soft_str(v))); r.markup = true; return r;)},
        {"first", QLM_F(bind(args, "first", {}); const auto items = iterate(v);
                        return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();)},
        {"float", QLM_F(return do_float(v, args);)},
        {"format", QLM_F(if (!args.kw.empty()) { Value d = Value::make_dict(); for (auto& [k, x] : args.kw) d.dict->set(Value::string(k), x);
                                                return Value::string(py_percent(soft_str(v), d)); }
                         return Value::string(py_percent(soft_str(v), Value::make_list(args.pos, true)));)},
        {"indent", QLM_F(return do_indent(v, args);)},
        {"int", QLM_F(return do_int(v, args);)},
        {"items", QLM_F(bind(args, "items", {}); if (v.is_undefined()) return Value::make_lazy({}, Lazy::Generator);
                        if (!v.is_dict()) throw Failure("Can only get item pairs from a mapping.");
                        std::vector<Value> items; for (const auto& [k, x] : v.dict->items) items.push_back(Value::make_list({k, x}, true));
                        return Value::make_lazy(std::move(items), Lazy::Generator);)},
        {"join", QLM_F(auto a = bind(args, "join", {"d", "attribute"}); const std::string sep = a[0].is_undefined() ? "" : to_str(a[0]);
                       std::string out; bool first = true;
                       for (const auto& x : iterate(v)) { if (!first) out += sep; first = false;
                           out += to_str(a[1].is_undefined() ? x : get_attribute(ev, x, a[1])); check_size(out.size()); }
                       return Value::string(std::move(out));)},
        {"last", QLM_F(bind(args, "last", {}); if (v.is_iterator()) throw Failure(cat("'", type_name(v), "' object is not reversible"));
                       const auto items = iterate(v);
                       return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();)},
        {"length", QLM_F(bind(args, "length", {});
                         switch (v.kind) {
                             case Value::Kind::Undefined: return Value::integer(0);
                             case Value::Kind::String: return Value::integer(int64_t(utf8_length(v.s)));
                             case Value::Kind::List:
                                 if (v.is_iterator()) throw Failure(cat("object of type '", type_name(v), "' has no len()"));
                                 return Value::integer(int64_t(v.list->items.size()));
                             case Value::Kind::Dict: return Value::integer(int64_t(v.dict->items.size()));
                             default: throw Failure(cat("object of type '", type_name(v), "' has no len()")); })},
        {"list", QLM_F(bind(args, "list", {}); return Value::make_list(iterate(v));)},
        {"lower", QLM_F(bind(args, "lower", {}); return keep_markup(v, py_lower(soft_str(v)));)},
        {"map", QLM_F(std::vector<Value> out; const auto items = v.truthy() ? iterate(v) : std::vector<Value>{};
                      Value attribute, dflt; bool by_attr = false;
                      for (auto& [k, x] : args.kw) { if (k == "attribute") attribute = x, by_attr = true; else if (k == "default") dflt = x; }
                      if (by_attr) {
                          for (const auto& item : items) { Value r = get_attribute(ev, item, attribute);
                              out.push_back(r.is_undefined() && !dflt.is_undefined() ? dflt : r); }
                          return Value::make_lazy(std::move(out), Lazy::Generator); }
                      if (args.pos.empty() || !args.pos[0].is_string()) throw Failure("map requires a filter argument");
                      const std::string name = args.pos[0].s;
                      Args fargs{std::vector<Value>(args.pos.begin() + 1, args.pos.end()), args.kw};
                      for (auto item : items) { Args a2 = fargs; out.push_back(ev.filter(name, item, a2)); }
                      return Value::make_lazy(std::move(out), Lazy::Generator);)},
        {"max", QLM_F(return minmax(ev, v, args, true);)},
        {"min", QLM_F(return minmax(ev, v, args, false);)},
        {"pprint", QLM_F(bind(args, "pprint", {}); return Value::string(to_repr(v));)},
        {"reject", QLM_F(return select_or_reject(ev, v, args, false, false);)},
        {"rejectattr", QLM_F(return select_or_reject(ev, v, args, true, false);)},
        {"replace", QLM_F(auto a = bind(args, "replace", {"old", "new", "count"}, 2);
                          return Value::string(py_replace(soft_str(v), to_str(a[0]), to_str(a[1]), a[2].is_undefined() || a[2].is_none() ? -1 : int_arg(a[2], -1, "replace")));)},
        {"reverse", QLM_F(bind(args, "reverse", {});
                          if (v.is_string()) { auto cps = decode_utf8(v.s); std::string out;
                              for (size_t k = cps.size(); k-- > 0;) append_utf8(out, cps[k]); return Value::string(std::move(out)); }
                          const bool reversible = (v.is_list() && !v.is_iterator()) || v.is_dict();
                          auto items = iterate(v); std::reverse(items.begin(), items.end());
                          return reversible ? Value::make_lazy(std::move(items), Lazy::ReverseIterator) : Value::make_list(std::move(items));)},
        {"round", QLM_F(return do_round(v, args);)},
        {"safe", QLM_F(bind(args, "safe", {}); if (v.is_string() && v.markup) return v;
                       Value r = Value::string(soft_str(v)); r.markup = true; return r;)},
        {"select", QLM_F(return select_or_reject(ev, v, args, false, true);)},
        {"selectattr", QLM_F(return select_or_reject(ev, v, args, true, true);)},
        {"slice", QLM_F(auto a = bind(args, "slice", {"slices", "fill_with"}, 1);
                        const int64_t n = int_arg(a[0], 1, "slice"); if (n <= 0 || n > 100000) throw Failure("slice: bad number of slices");
                        const auto seq = iterate(v); const size_t len = seq.size(), per = len / size_t(n), extra = len % size_t(n);
                        std::vector<Value> out; size_t offset = 0;
                        for (size_t k = 0; k < size_t(n); ++k) { const size_t start = offset + k * per; if (k < extra) ++offset;
                            const size_t end = offset + (k + 1) * per;
                            std::vector<Value> part(seq.begin() + long(start), seq.begin() + long(end));
                            if (!a[1].is_undefined() && k >= extra) part.push_back(a[1]);
                            out.push_back(Value::make_list(std::move(part))); }
                        return Value::make_lazy(std::move(out), Lazy::Generator);)},
        {"sort", QLM_F(auto a = bind(args, "sort", {"reverse", "case_sensitive", "attribute"}); auto items = iterate(v);
                       const bool cs = a[1].truthy();
                       std::vector<std::pair<Value, Value>> keyed;
                       for (auto& x : items) keyed.emplace_back(sort_key(a[2].is_undefined() ? x : get_attribute(ev, x, a[2]), cs), x);
                       const bool rev = a[0].truthy();
                       std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& p, const auto& q) {
                           return rev ? compare(q.first, p.first) < 0 : compare(p.first, q.first) < 0; });
                       std::vector<Value> out; for (auto& kv : keyed) out.push_back(std::move(kv.second));
                       return Value::make_list(std::move(out));)},
        {"string", QLM_F(bind(args, "string", {}); if (v.is_string()) return v; return Value::string(soft_str(v));)},
        {"sum", QLM_F(auto a = bind(args, "sum", {"attribute", "start"}); Value total = a[1].is_undefined() ? Value::integer(0) : a[1];
                      for (const auto& x : iterate(v)) total = binary_op("+", total, a[0].is_undefined() ? x : get_attribute(ev, x, a[0]));
                      return total;)},
        {"title", QLM_F(bind(args, "title", {}); return Value::string(jinja_title(soft_str(v)));)},
        {"tojson", QLM_F(return do_tojson(v, args);)},
        {"trim", QLM_F(auto a = bind(args, "trim", {"chars"});
                       std::optional<std::string> chars; if (!a[0].is_undefined() && !a[0].is_none()) chars = to_str(a[0]);
                       return keep_markup(v, py_strip(soft_str(v), chars, true, true));)},
        {"unique", QLM_F(auto a = bind(args, "unique", {"case_sensitive", "attribute"}); std::vector<Value> out, seen;
                         for (const auto& x : iterate(v)) { Value k = sort_key(a[1].is_undefined() ? x : get_attribute(ev, x, a[1]), a[0].truthy());
                             bool dup = false; for (const auto& s : seen) if (equals(s, k)) { dup = true; break; }
                             if (!dup) { seen.push_back(k); out.push_back(x); } }
                         return Value::make_lazy(std::move(out), Lazy::Generator);)},
        {"upper", QLM_F(bind(args, "upper", {}); return keep_markup(v, py_upper(soft_str(v)));)},
        {"wordcount", QLM_F(bind(args, "wordcount", {}); int64_t n = 0; bool in = false;
                            for (uint32_t cp : decode_utf8(soft_str(v))) {
                                const bool w = cp == '_' || (cp < 0x80 ? std::isalnum(int(cp)) != 0 : !py_isspace(cp));
                                if (w && !in) ++n; in = w; }
                            return Value::integer(n);)},
    };
    return t;
}
#undef QLM_F

const char* filter_alias(const std::string& name) {
    if (name == "d") return "default";
    if (name == "e") return "escape";
    if (name == "forceescape") return "escape";
    return nullptr;
}

}  // namespace

bool has_filter(const std::string& name) {
    const char* a = filter_alias(name);
    const std::string n = a ? a : name;
    for (const auto& [k, fn] : filter_table())
        if (n == k) return true;
    return false;
}

Value apply_filter(Evaluator& ev, const std::string& name, Value v, Args& args) {
    const char* a = filter_alias(name);
    const std::string n = a ? a : name;
    // jinja2's generator filters fail only when their result is iterated.
    static const char* generators[] = {"map", "select", "reject", "selectattr", "rejectattr", "items", "batch", "slice", "unique"};
    for (const auto& [k, fn] : filter_table())
        if (n == k) {
            if (std::find_if(std::begin(generators), std::end(generators), [&](const char* g) { return n == g; }) ==
                std::end(generators))
                return fn(ev, v, args);
            try {
                return fn(ev, v, args);
            } catch (const Failure& f) {
                if (f.raised) throw;
                Value g = Value::make_lazy({}, Lazy::Generator);
                g.list->error = f.what();
                return g;
            }
        }
    throw Failure(cat("no filter named '", name, "'"));
}

}  // namespace qlm::tmpl
