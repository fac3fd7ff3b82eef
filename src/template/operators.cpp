// Python's arithmetic, `in`, iteration and the two string-formatting
// operators (str % args, str.format) on template values.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "template/evaluator.h"

namespace qlm::tmpl {

namespace {

int64_t as_int(const Value& v) { return v.kind == Value::Kind::Bool ? int64_t(v.b) : v.i; }

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
    throw Failure(cat("unsupported operand type(s) for ", op, ": '", type_name(a), "' and '", type_name(b), "'"));
}

template <typename Op>
int64_t checked(Op op, int64_t a, int64_t b) {
    int64_t r;
    if (op(a, b, &r)) throw Failure("integer overflow");
    return r;
}
bool add_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_add_overflow(a, b, r); }
bool sub_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_sub_overflow(a, b, r); }
bool mul_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

Value repeat(const Value& seq, int64_t n) {
    if (n < 0) n = 0;
    if (seq.is_string()) {
        if (n > 0 && !seq.s.empty()) check_size(size_t(n) > (size_t(1) << 40) / seq.s.size() ? SIZE_MAX : seq.s.size() * size_t(n));
        std::string out;
        if (seq.s.empty()) n = 0;  // '' * 10**9 must not loop 10**9 times
        out.reserve(seq.s.size() * size_t(n));
        for (int64_t k = 0; k < n; ++k) out += seq.s;
        Value r = Value::string(std::move(out));
        r.markup = seq.markup;
        return r;
    }
    const size_t per = seq.list->items.size();
    if (per > 0 && n > 0) check_items(size_t(n) > (size_t(1) << 40) / per ? SIZE_MAX : per * size_t(n));
    std::vector<Value> items;
    if (per == 0) n = 0;  // [] * 10**9 must not loop 10**9 times
    for (int64_t k = 0; k < n; ++k) items.insert(items.end(), seq.list->items.begin(), seq.list->items.end());
    return Value::make_list(std::move(items), seq.list->tuple);
}

}  // namespace

std::string html_escape(std::string_view s) {
    std::string out;
    for (char c : s) switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    return out;
}

Value binary_op(const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
        std::string s = to_str(a);
        const std::string t = to_str(b);
        check_size(s.size() + t.size());
        return Value::string(s + t);
    }
    if (op == "%" && a.is_string()) return Value::string(py_percent(a.s, b));
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    const bool ints = a.is_integer() && b.is_integer();
    const bool nums = a.is_number() && b.is_number();
    if (op == "+") {
        if (ints) {
            return Value::integer(checked(add_ovf, as_int(a), as_int(b)));
        }
        if (nums) return Value::number(a.as_double() + b.as_double());
        if (a.is_string() && b.is_string() && (a.markup || b.markup)) {  // Markup + str escapes the str
            Value r = Value::string((a.markup ? a.s : html_escape(a.s)) + (b.markup ? b.s : html_escape(b.s)));
            check_size(r.s.size());
            r.markup = true;
            return r;
        }
        if (a.is_string() && b.is_string()) {
            check_size(a.s.size() + b.s.size());
            return Value::string(a.s + b.s);
        }
        if (a.is_list() && b.is_list() && a.list->tuple == b.list->tuple && !a.is_lazy() && !b.is_lazy()) {
            check_items(a.list->items.size() + b.list->items.size());
            std::vector<Value> items = a.list->items;
            items.insert(items.end(), b.list->items.begin(), b.list->items.end());
            return Value::make_list(std::move(items), a.list->tuple);
        }
        unsupported(op, a, b);
    }
    if (op == "-") {
        if (ints) {
            return Value::integer(checked(sub_ovf, as_int(a), as_int(b)));
        }
        if (nums) return Value::number(a.as_double() - b.as_double());
        unsupported(op, a, b);
    }
    if (op == "*") {
        if (ints) {
            return Value::integer(checked(mul_ovf, as_int(a), as_int(b)));
        }
        if (nums) return Value::number(a.as_double() * b.as_double());
        if ((a.is_string() || (a.is_list() && !a.is_lazy())) && b.is_integer()) return repeat(a, as_int(b));
        if ((b.is_string() || (b.is_list() && !b.is_lazy())) && a.is_integer()) return repeat(b, as_int(a));
        unsupported(op, a, b);
    }
    if (op == "/") {
        if (!nums) unsupported(op, a, b);
        if (b.as_double() == 0) throw Failure("division by zero");
        return Value::number(a.as_double() / b.as_double());
    }
    if (op == "//") {
        if (!nums) unsupported(op, a, b);
        if (ints) {
            const int64_t x = as_int(a), y = as_int(b);
            if (y == 0) throw Failure("integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) throw Failure("integer overflow");
            int64_t q = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
            return Value::integer(q);
        }
        if (b.as_double() == 0) throw Failure("float floor division by zero");
        return Value::number(std::floor(a.as_double() / b.as_double()));
    }
    if (op == "%") {
        if (a.is_string()) return Value::string(py_percent(a.s, b));
        if (!nums) unsupported(op, a, b);
        if (ints) {
            const int64_t x = as_int(a), y = as_int(b);
            if (y == 0) throw Failure("integer division or modulo by zero");
            if (y == -1) return Value::integer(0);
            int64_t r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) r += y;
            return Value::integer(r);
        }
        const double x = a.as_double(), y = b.as_double();
        if (y == 0) throw Failure("float modulo");
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value::number(r);
    }
    if (op == "**") {
        if (!nums) unsupported(op, a, b);
        if (ints && as_int(b) >= 0) {
            int64_t base = as_int(a), e = as_int(b), r = 1;
            while (e > 0) {
                if (e & 1) r = checked(mul_ovf, r, base);
                e >>= 1;
                if (e > 0) base = checked(mul_ovf, base, base);
            }
            return Value::integer(r);
        }
        if (a.as_double() == 0 && b.as_double() < 0) throw Failure("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(a.as_double(), b.as_double()));
    }
    throw Failure("unknown operator " + op);
}

std::vector<Value> iterate(const Value& v) {
    switch (v.kind) {
        case Value::Kind::Undefined: return {};
        case Value::Kind::List:
            if (v.is_iterator() && !v.list->error.empty()) throw Failure(v.list->error);
            if (v.is_iterator()) {  // a generator runs once
                std::vector<Value> items = std::move(v.list->items);
                v.list->items.clear();
                return items;
            }
            return v.list->items;
        case Value::Kind::Dict: {
            std::vector<Value> keys;
            for (const auto& kv : v.dict->items) keys.push_back(kv.first);
            return keys;
        }
        case Value::Kind::String: {
            std::vector<Value> chars;
            for (uint32_t cp : decode_utf8(v.s)) {
                std::string c;
                append_utf8(c, cp);
                chars.push_back(Value::string(std::move(c)));
            }
            return chars;
        }
        default: throw Failure(cat("'", type_name(v), "' object is not iterable"));
    }
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind) {
        case Value::Kind::Undefined: return false;
        case Value::Kind::String:
            if (!item.is_string())
                throw Failure(cat("'in <string>' requires string as left operand, not ", type_name(item)));
            return container.s.find(item.s) != std::string::npos;
        case Value::Kind::List:
            for (const auto& x : iterate(container))
                if (equals(x, item)) return true;
            return false;
        case Value::Kind::Dict: return container.dict->find(item) != nullptr;
        default: throw Failure(cat("argument of type '", type_name(container), "' is not iterable"));
    }
}

// printf-style: %s %r %d %i %f %x %o %e %g %% with flags, width and precision.
std::string py_percent(const std::string& fmt, const Value& args) {
    std::vector<Value> list;
    const Value* mapping = nullptr;
    if (args.is_list() && args.list->tuple) list = args.list->items;
    else if (args.is_dict() || args.is_undefined()) mapping = &args, list.push_back(args);  // Python: has __getitem__
    else list.push_back(args);
    size_t next = 0;
    std::string out;
    for (size_t k = 0; k < fmt.size(); ++k) {
        if (fmt[k] != '%') {
            out += fmt[k];
            continue;
        }
        if (++k >= fmt.size()) throw Failure("incomplete format");
        const Value* arg = nullptr;
        Value keyed;
        if (fmt[k] == '(') {
            const size_t close = fmt.find(')', k);
            if (close == std::string::npos || !mapping || !mapping->is_dict()) throw Failure("format requires a mapping");
            const Value* v = mapping->dict->find(std::string_view(fmt).substr(k + 1, close - k - 1));
            if (!v) throw Failure("KeyError in format");
            keyed = *v;
            arg = &keyed;
            k = close + 1;
        }
        std::string spec = "%";
        while (k < fmt.size() && std::string_view("-+ #0").find(fmt[k]) != std::string_view::npos) spec += fmt[k++];
        while (k < fmt.size() && (std::isdigit(uint8_t(fmt[k])) || fmt[k] == '.')) spec += fmt[k++];
        if (k >= fmt.size()) throw Failure("incomplete format");
        const char conv = fmt[k];
        if (conv == '%') {
            out += '%';
            continue;
        }
        if (!arg) {
            if (next >= list.size()) throw Failure("not enough arguments for format string");
            arg = &list[next++];
        }
        if (spec.size() > 12) throw Failure("format specifier too long");
        char buf[512];
        std::string s;
        switch (conv) {
            case 's': s = to_str(*arg); break;
            case 'r': s = to_repr(*arg); break;
            case 'd': case 'i': case 'x': case 'X': case 'o': {
                if (!arg->is_number()) throw Failure(cat("%", conv, " format: a real number is required, not ", type_name(*arg)));
                const long long x = arg->kind == Value::Kind::Float ? (long long)std::trunc(arg->f) : as_int(*arg);
                std::snprintf(buf, sizeof buf, (spec + "ll" + (conv == 'i' ? 'd' : conv)).c_str(), x);
                s = buf;
                break;
            }
            case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
                if (!arg->is_number()) throw Failure(cat("must be real number, not ", type_name(*arg)));
                std::snprintf(buf, sizeof buf, (spec + conv).c_str(), arg->as_double());
                s = buf;
                break;
            default: throw Failure(cat("unsupported format character '", conv, "'"));
        }
        if (conv == 's' || conv == 'r') {
            // width, precision and '-' for strings, in code points
            size_t width = 0, q = 1;
            while (q < spec.size() && !std::isdigit(uint8_t(spec[q])) && spec[q] != '.') ++q;
            while (q < spec.size() && std::isdigit(uint8_t(spec[q]))) width = std::min<size_t>(width * 10 + size_t(spec[q++] - '0'), 4096);
            if (q < spec.size() && spec[q] == '.') {
                size_t prec = 0;
                for (++q; q < spec.size() && std::isdigit(uint8_t(spec[q])); ++q) prec = std::min<size_t>(prec * 10 + size_t(spec[q] - '0'), 1 << 20);
                const auto cps = decode_utf8(s);
                if (prec < cps.size()) {
                    s.clear();
                    for (size_t m = 0; m < prec; ++m) append_utf8(s, cps[m]);
                }
            }
            const size_t len = utf8_length(s);
            if (len < width) {
                if (spec.find('-') != std::string::npos) s += std::string(width - len, ' ');
                else s = std::string(width - len, ' ') + s;
            }
        }
        check_size(out.size() + s.size());
        out += s;
    }
    if (!mapping && next < list.size()) throw Failure("not all arguments converted during string formatting");
    return out;
}

// str.format: {} {0} {name} {0.attr}-free subset with !s / !r; no format specs.
std::string py_format(const std::string& fmt, Args& args) {
    std::string out;
    size_t auto_index = 0;
    for (size_t k = 0; k < fmt.size(); ++k) {
        const char c = fmt[k];
        if (c == '}') {
            if (k + 1 < fmt.size() && fmt[k + 1] == '}') {
                out += '}';
                ++k;
                continue;
            }
            throw Failure("Single '}' encountered in format string");
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (k + 1 < fmt.size() && fmt[k + 1] == '{') {
            out += '{';
            ++k;
            continue;
        }
        const size_t close = fmt.find('}', k);
        if (close == std::string::npos) throw Failure("Single '{' encountered in format string");
        std::string field = fmt.substr(k + 1, close - k - 1);
        k = close;
        char conv = 0;
        if (const size_t bang = field.find('!'); bang != std::string::npos) {
            conv = bang + 1 < field.size() ? field[bang + 1] : 0;
            field = field.substr(0, bang);
        }
        if (field.find(':') != std::string::npos) throw Failure("format specifications are not supported");
        const Value* v = nullptr;
        if (field.empty()) {
            if (auto_index >= args.pos.size()) throw Failure(cat("Replacement index ", auto_index, " out of range"));
            v = &args.pos[auto_index++];
        } else if (std::isdigit(uint8_t(field[0]))) {
            const size_t idx = size_t(std::strtoul(field.c_str(), nullptr, 10));
            if (idx >= args.pos.size()) throw Failure(cat("Replacement index ", idx, " out of range"));
            v = &args.pos[idx];
        } else {
            for (auto& [key, x] : args.kw)
                if (key == field) v = &x;
            if (!v) throw Failure(cat("KeyError: '", field, "'"));
        }
        const std::string s = conv == 'r' ? to_repr(*v) : to_str(*v);
        check_size(out.size() + s.size());
        out += s;
    }
    return out;
}

}  // namespace qlm::tmpl
