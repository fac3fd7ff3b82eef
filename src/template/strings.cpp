#include "template/strings.h"

#include <algorithm>

#include "template/evaluator.h"
#include "template/value.h"

namespace qlm::tmpl {

namespace {

uint32_t to_upper_cp(uint32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c < 0x80) return c;
    if (c == 0xB5) return 0x39C;
    if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
    if (c == 0xFF) return 0x178;
    if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
        const bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
        if (odd_lower) return (c & 1) == 0 ? c - 1 : c;
        return (c & 1) ? c - 1 : c;
    }
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x3AC && c <= 0x3AF) return c == 0x3AC ? 0x386 : c - 37;
    if (c >= 0x430 && c <= 0x44F) return c - 32;
    if (c >= 0x450 && c <= 0x45F) return c - 80;
    return c;
}

uint32_t to_lower_cp(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0x80) return c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
    if (c == 0x178) return 0xFF;
    if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
        const bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
        if (odd_lower) return (c & 1) ? c + 1 : c;
        return (c & 1) == 0 ? c + 1 : c;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c >= 0x410 && c <= 0x42F) return c + 32;
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    return c;
}

bool is_cased(uint32_t c) { return to_upper_cp(c) != c || to_lower_cp(c) != c || c == 0xDF; }

std::string map_cps(std::string_view s, uint32_t (*f)(uint32_t)) {
    std::string out;
    out.reserve(s.size());
    bool ascii = true;
    for (char c : s) ascii &= uint8_t(c) < 0x80;
    if (ascii) {
        for (char c : s) out += char(f(uint8_t(c)));
        return out;
    }
    for (uint32_t cp : decode_utf8(s)) {
        if (f == to_upper_cp && cp == 0xDF) {
            out += "SS";
            continue;
        }
        append_utf8(out, f(cp));
    }
    return out;
}

std::string encode(const std::vector<uint32_t>& cps, size_t from, size_t to) {
    std::string out;
    for (size_t k = from; k < to; ++k) append_utf8(out, cps[k]);
    return out;
}

}  // namespace

bool is_cased_upper(uint32_t cp) { return to_lower_cp(cp) != cp; }
bool is_cased_lower(uint32_t cp) { return to_upper_cp(cp) != cp || cp == 0xDF; }

std::string py_upper(std::string_view s) { return map_cps(s, to_upper_cp); }
std::string py_lower(std::string_view s) { return map_cps(s, to_lower_cp); }

std::string py_title(std::string_view s) {
    std::string out;
    bool prev_cased = false;
    for (uint32_t cp : decode_utf8(s)) {
        append_utf8(out, prev_cased ? to_lower_cp(cp) : to_upper_cp(cp));
        prev_cased = is_cased(cp);
    }
    return out;
}

std::string py_capitalize(std::string_view s) {
    std::string out;
    bool first = true;
    for (uint32_t cp : decode_utf8(s)) {
        append_utf8(out, first ? to_upper_cp(cp) : to_lower_cp(cp));
        first = false;
    }
    return out;
}

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
    const auto cps = decode_utf8(s);
    std::vector<uint32_t> set;
    if (chars) set = decode_utf8(*chars);
    auto strip_me = [&](uint32_t cp) {
        return chars ? std::find(set.begin(), set.end(), cp) != set.end() : py_isspace(cp);
    };
    size_t b = 0, e = cps.size();
    if (left)
        while (b < e && strip_me(cps[b])) ++b;
    if (right)
        while (e > b && strip_me(cps[e - 1])) --e;
    return encode(cps, b, e);
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
    std::vector<std::string> out;
    if (sep) {
        if (sep->empty()) throw Failure("empty separator");
        size_t pos = 0;
        while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
            const size_t at = s.find(*sep, pos);
            if (at == std::string_view::npos) break;
            out.emplace_back(s.substr(pos, at - pos));
            pos = at + sep->size();
            check_items(1);
        }
        out.emplace_back(s.substr(pos));
        return out;
    }
    const auto cps = decode_utf8(s);
    size_t k = 0;
    while (k < cps.size()) {
        while (k < cps.size() && py_isspace(cps[k])) ++k;
        if (k >= cps.size()) break;
        if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
            size_t e = cps.size();
            while (e > k && py_isspace(cps[e - 1])) --e;
            out.push_back(encode(cps, k, e));
            break;
        }
        size_t e = k;
        while (e < cps.size() && !py_isspace(cps[e])) ++e;
        out.push_back(encode(cps, k, e));
        check_items(1);
        k = e;
    }
    return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
    if (maxsplit < 0) return py_split(s, sep, -1);
    std::vector<std::string> out;
    if (sep) {
        if (sep->empty()) throw Failure("empty separator");
        size_t end = s.size();
        while (int64_t(out.size()) < maxsplit) {
            if (end < sep->size()) break;
            const size_t at = s.rfind(*sep, end - sep->size());
            if (at == std::string_view::npos) break;
            out.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
            end = at;
        }
        out.emplace_back(s.substr(0, end));
        std::reverse(out.begin(), out.end());
        return out;
    }
    const auto cps = decode_utf8(s);
    size_t e = cps.size();
    while (e > 0) {
        while (e > 0 && py_isspace(cps[e - 1])) --e;
        if (e == 0) break;
        if (int64_t(out.size()) >= maxsplit) {
            size_t b = 0;
            while (b < e && py_isspace(cps[b])) ++b;
            out.push_back(encode(cps, b, e));
            break;
        }
        size_t b = e;
        while (b > 0 && !py_isspace(cps[b - 1])) --b;
        out.push_back(encode(cps, b, e));
        e = b;
    }
    std::reverse(out.begin(), out.end());
    return out;
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
    const auto cps = decode_utf8(s);
    std::vector<std::string> out;
    size_t b = 0;
    for (size_t k = 0; k < cps.size(); ++k) {
        const uint32_t c = cps[k];
        const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
                         c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!brk) continue;
        size_t end = k + 1;
        if (c == '\r' && k + 1 < cps.size() && cps[k + 1] == '\n') end = k + 2;
        out.push_back(encode(cps, b, keepends ? end : k));
        b = end;
        k = end - 1;
    }
    if (b < cps.size()) out.push_back(encode(cps, b, cps.size()));
    return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view with, int64_t count) {
    std::string out;
    int64_t done = 0;
    if (old.empty()) {
        const auto cps = decode_utf8(s);
        for (size_t k = 0; k <= cps.size(); ++k) {
            if (count < 0 || done < count) {
                out += with;
                ++done;
            }
            if (k < cps.size()) append_utf8(out, cps[k]);
            check_size(out.size());
        }
        return out;
    }
    size_t pos = 0;
    while (count < 0 || done < count) {
        const size_t at = s.find(old, pos);
        if (at == std::string_view::npos) break;
        out.append(s.substr(pos, at - pos));
        out.append(with);
        check_size(out.size());
        pos = at + old.size();
        ++done;
    }
    out.append(s.substr(pos));
    return out;
}

int64_t py_find(std::string_view s, std::string_view sub, bool reverse) {
    const size_t at = reverse ? s.rfind(sub) : s.find(sub);
    if (at == std::string_view::npos) return -1;
    return int64_t(utf8_length(s.substr(0, at)));
}

int64_t py_count(std::string_view s, std::string_view sub) {
    if (sub.empty()) return int64_t(utf8_length(s)) + 1;
    int64_t n = 0;
    for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size())) ++n;
    return n;
}

}  // namespace qlm::tmpl
