// jinja2's lexer rules (jinja2/lexer.py), as a hand-written scanner:
//   root: text up to the first "{{", "{%" or "{#" (each optionally followed
//   by '-' or '+'); '-' strips all whitespace before the tag, otherwise
//   lstrip_blocks strips spaces on the tag's own line before "{%" and "{#";
//   "%}" and "#}" swallow one following newline (trim_blocks), "-%}" all
//   whitespace, "+%}" none. Inside tags: whitespace, float, integer, name,
//   string, operator; the end of a tag is only seen outside brackets.
#include "template/lexer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "qlm/template.h"
#include "template/value.h"

namespace qlm::tmpl {

void syntax_error(int line, int col, const std::string& message) {
    throw TemplateError(cat("line ", line, ", column ", col, ": ", message), line, col, false);
}

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Python's str.rstrip() (Unicode whitespace).
size_t rstrip_len(std::string_view s) {
    size_t end = s.size();
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && (uint8_t(s[start]) & 0xC0) == 0x80) --start;
        const auto cps = decode_utf8(s.substr(start, end - start));
        if (cps.size() != 1 || !py_isspace(cps[0])) break;
        end = start;
    }
    return end;
}

bool all_space(std::string_view s) {
    if (s.empty()) return false;
    for (uint32_t cp : decode_utf8(s))
        if (!py_isspace(cp)) return false;
    return true;
}

class Lexer {
public:
    explicit Lexer(std::string_view src) : src_(src) {
        line_starts_.push_back(0);
        for (size_t k = 0; k < src_.size(); ++k)
            if (src_[k] == '\n') line_starts_.push_back(k + 1);
    }

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        while (pos < src_.size()) {
            size_t at = find_tag(pos);
            if (at == std::string_view::npos) {
                push(Tok::Data, pos, std::string(src_.substr(pos)));
                break;
            }
            const char kind = src_[at + 1];  // '{', '%' or '#'
            size_t after = at + 2;
            char sign = 0;
            if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
            std::string_view text = src_.substr(pos, at - pos);
            if (sign == '-') {
                text = text.substr(0, rstrip_len(text));
            } else if (sign != '+' && kind != '{') {
                const size_t nl = text.rfind('\n');
                const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
                if ((l_pos > 0 || line_starting) && all_space(text.substr(l_pos))) text = text.substr(0, l_pos);
            }
            if (kind == '%' && raw_begin(after, pos, text, line_starting)) continue;
            if (!text.empty()) push(Tok::Data, pos, std::string(text));
            if (kind == '#') {
                pos = comment(at, after, line_starting);
            } else {
                pos = tag(at, after, kind == '%', line_starting);
            }
        }
        push(Tok::Eof, src_.size(), "");
        return std::move(out_);
    }

private:
    std::string_view src_;
    std::vector<size_t> line_starts_;
    std::vector<Token> out_;

    void where(size_t off, int& line, int& col) const {
        const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), off);
        const size_t l = size_t(it - line_starts_.begin()) - 1;
        line = int(l + 1);
        col = int(off - line_starts_[l] + 1);
    }

    [[noreturn]] void fail(size_t off, const std::string& msg) const {
        int line, col;
        where(off, line, col);
        syntax_error(line, col, msg);
    }

    Token& push(Tok t, size_t off, std::string text) {
        Token tok;
        tok.type = t;
        tok.text = std::move(text);
        where(off, tok.line, tok.col);
        out_.push_back(std::move(tok));
        return out_.back();
    }

    size_t find_tag(size_t pos) const {
        for (size_t k = pos; k + 1 < src_.size(); ++k)
            if (src_[k] == '{' && (src_[k + 1] == '{' || src_[k + 1] == '%' || src_[k + 1] == '#')) return k;
        return std::string_view::npos;
    }

    size_t skip_ws(size_t p) const {
        while (p < src_.size() && is_ws(src_[p])) ++p;
        return p;
    }

    bool word_at(size_t p, std::string_view w) const {
        if (src_.substr(p, w.size()) != w) return false;
        const size_t q = p + w.size();
        return q >= src_.size() || !(std::isalnum(uint8_t(src_[q])) || src_[q] == '_');
    }

    // {% raw %}...{% endraw %}: the body is data, untouched.
    bool raw_begin(size_t after, size_t& pos, std::string_view text, bool& line_starting) {
        size_t p = skip_ws(after);
        if (!word_at(p, "raw")) return false;
        p = skip_ws(p + 3);
        if (src_.substr(p, 3) == "-%}") {
            p = skip_ws(p + 3);
        } else if (src_.substr(p, 2) == "%}") {
            p += 2;
        } else {
            return false;
        }
        if (!text.empty()) push(Tok::Data, pos, std::string(text));
        // Find {%[-+]? endraw ... %}
        for (size_t k = p; k + 1 < src_.size(); ++k) {
            if (src_[k] != '{' || src_[k + 1] != '%') continue;
            size_t q = k + 2;
            char sign = 0;
            if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
            q = skip_ws(q);
            if (!word_at(q, "endraw")) continue;
            q = skip_ws(q + 6);
            size_t end;
            if (src_.substr(q, 3) == "+%}") end = q + 3;
            else if (src_.substr(q, 3) == "-%}") end = skip_ws(q + 3);
            else if (src_.substr(q, 2) == "%}") end = q + 2 + (q + 2 < src_.size() && src_[q + 2] == '\n');
            else fail(q, "missing end of raw directive");
            std::string_view body = src_.substr(p, k - p);
            if (sign == '-') {
                body = body.substr(0, rstrip_len(body));
            } else if (sign != '+') {
                const size_t nl = body.rfind('\n');
                const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
                if (l_pos > 0 && all_space(body.substr(l_pos))) body = body.substr(0, l_pos);
            }
            if (!body.empty()) push(Tok::Data, p, std::string(body));
            pos = end;
            line_starting = src_[end - 1] == '\n';
            return true;
        }
        fail(p, "missing end of raw directive");
    }

    size_t comment(size_t at, size_t p, bool& line_starting) {
        const size_t close = src_.find("#}", p);
        if (close == std::string_view::npos) fail(at, "missing end of comment tag");
        size_t end = close + 2;
        const bool signed_end = close > p && (src_[close - 1] == '-' || src_[close - 1] == '+');
        if (signed_end && src_[close - 1] == '-') end = skip_ws(end);
        else if (!signed_end && end < src_.size() && src_[end] == '\n') ++end;
        line_starting = src_[end - 1] == '\n';
        return end;
    }

    // Inside {{ }} or {% %}: tokens up to the end of the tag.
    size_t tag(size_t at, size_t p, bool block, bool& line_starting) {
        push(block ? Tok::BlockBegin : Tok::VarBegin, at, block ? "{%" : "{{");
        std::vector<char> brackets;
        for (;;) {
            p = skip_ws(p);
            if (p >= src_.size()) fail(at, block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
            if (brackets.empty()) {
                size_t end = 0;
                if (block) {
                    if (src_.substr(p, 3) == "+%}") end = p + 3;
                    else if (src_.substr(p, 3) == "-%}") end = skip_ws(p + 3);
                    else if (src_.substr(p, 2) == "%}") end = p + 2 + (p + 2 < src_.size() && src_[p + 2] == '\n');
                } else {
                    if (src_.substr(p, 3) == "-}}") end = skip_ws(p + 3);
                    else if (src_.substr(p, 2) == "}}") end = p + 2;
                }
                if (end) {
                    push(block ? Tok::BlockEnd : Tok::VarEnd, p, "");
                    line_starting = src_[end - 1] == '\n';
                    return end;
                }
            }
            p = token(p, brackets);
        }
    }

    size_t digits(size_t p) const {  // (\d+_)*\d+
        size_t q = p;
        while (q < src_.size() && std::isdigit(uint8_t(src_[q]))) {
            while (q < src_.size() && std::isdigit(uint8_t(src_[q]))) ++q;
            if (q + 1 < src_.size() && src_[q] == '_' && std::isdigit(uint8_t(src_[q + 1]))) ++q;
        }
        return q;
    }

    static std::string no_underscores(std::string_view s) {
        std::string out;
        for (char c : s)
            if (c != '_') out += c;
        return out;
    }

    size_t number(size_t p) {
        size_t q = digits(p);
        // float: (?<!\.)digits((\.digits)?e[+-]?digits|\.digits)
        if (p == 0 || src_[p - 1] != '.') {
            size_t r = q;
            bool frac = false;
            if (r + 1 < src_.size() && src_[r] == '.' && std::isdigit(uint8_t(src_[r + 1]))) {
                r = digits(r + 1);
                frac = true;
            }
            size_t e = r;
            bool expo = false;
            if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
                size_t s = e + 1;
                if (s < src_.size() && (src_[s] == '+' || src_[s] == '-')) ++s;
                if (s < src_.size() && std::isdigit(uint8_t(src_[s]))) {
                    e = digits(s);
                    expo = true;
                }
            }
            if (frac || expo) {
                const size_t end = expo ? e : r;
                Token& t = push(Tok::Float, p, std::string(src_.substr(p, end - p)));
                t.fval = std::strtod(no_underscores(t.text).c_str(), nullptr);
                return end;
            }
        }
        // integer: 0x / 0o / 0b prefixes, or decimal
        int base = 10;
        size_t start = p;
        if (src_[p] == '0' && p + 1 < src_.size()) {
            const char c = char(std::tolower(uint8_t(src_[p + 1])));
            if (c == 'x' || c == 'o' || c == 'b') {
                base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
                start = p + 2;
                q = start;
                while (q < src_.size() && (std::isxdigit(uint8_t(src_[q])) || src_[q] == '_')) {
                    const int d = std::isdigit(uint8_t(src_[q])) ? src_[q] - '0'
                                  : src_[q] == '_'              ? 0
                                                                : std::tolower(uint8_t(src_[q])) - 'a' + 10;
                    if (d >= base) break;
                    ++q;
                }
                if (q == start) q = p + 1, base = 10, start = p;
            }
        }
        Token& t = push(Tok::Int, p, std::string(src_.substr(p, q - p)));
        const std::string body = no_underscores(src_.substr(start, q - start));
        errno = 0;
        const unsigned long long v = std::strtoull(body.c_str(), nullptr, base);
        if (errno == ERANGE || v > uint64_t(INT64_MAX)) fail(p, "integer literal too large: " + t.text);
        t.ival = int64_t(v);
        return q;
    }

    size_t string(size_t p) {
        const char quote = src_[p];
        size_t q = p + 1;
        while (q < src_.size() && src_[q] != quote) q += src_[q] == '\\' ? 2 : 1;
        if (q >= src_.size()) fail(p, "unexpected end of string");
        Token& t = push(Tok::String, p, "");
        t.text = unescape(src_.substr(p + 1, q - p - 1), p);
        return q + 1;
    }

    // Python's "unicode-escape" decoding, which jinja2 applies to literals.
    std::string unescape(std::string_view s, size_t off) const {
        std::string out;
        auto hex = [&](size_t k, size_t n) -> uint32_t {
            if (k + n > s.size()) fail(off, "truncated \\x, \\u or \\U escape in a string literal");
            uint32_t v = 0;
            for (size_t m = 0; m < n; ++m) {
                const char c = s[k + m];
                if (!std::isxdigit(uint8_t(c))) fail(off, "truncated \\x, \\u or \\U escape in a string literal");
                v = v * 16 + uint32_t(std::isdigit(uint8_t(c)) ? c - '0' : std::tolower(uint8_t(c)) - 'a' + 10);
            }
            return v;
        };
        for (size_t k = 0; k < s.size(); ++k) {
            if (s[k] != '\\' || k + 1 >= s.size()) {
                out += s[k];
                continue;
            }
            const char c = s[++k];
            switch (c) {
                case '\n': break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case 'a': out += '\a'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'v': out += '\v'; break;
                case 'x': append_utf8(out, hex(k + 1, 2)); k += 2; break;
                case 'u': append_utf8(out, hex(k + 1, 4)); k += 4; break;
                case 'U': {
                    const uint32_t cp = hex(k + 1, 8);
                    if (cp > 0x10FFFF) fail(off, "illegal Unicode character in a string literal");
                    append_utf8(out, cp);
                    k += 8;
                    break;
                }
                default:
                    if (c >= '0' && c <= '7') {
                        uint32_t v = 0;
                        size_t n = 0;
                        while (n < 3 && k < s.size() && s[k] >= '0' && s[k] <= '7') v = v * 8 + uint32_t(s[k++] - '0'), ++n;
                        --k;
                        append_utf8(out, v);
                    } else {
                        out += '\\';
                        out += c;
                    }
            }
        }
        return out;
    }

    size_t token(size_t p, std::vector<char>& brackets) {
        const char c = src_[p];
        if (std::isdigit(uint8_t(c))) return number(p);
        if (std::isalpha(uint8_t(c)) || c == '_') {
            size_t q = p;
            while (q < src_.size() && (std::isalnum(uint8_t(src_[q])) || src_[q] == '_')) ++q;
            push(Tok::Name, p, std::string(src_.substr(p, q - p)));
            return q;
        }
        if (c == '\'' || c == '"') return string(p);
        static constexpr std::string_view two[] = {"//", "**", "==", "!=", ">=", "<="};
        for (auto op : two)
            if (src_.substr(p, 2) == op) {
                push(Tok::Op, p, std::string(op));
                return p + 2;
            }
        static constexpr std::string_view one = "+-/*%~[](){}=.:|,;<>";
        if (one.find(c) == std::string_view::npos) fail(p, cat("unexpected char '", c, "'"));
        if (c == '(' || c == '[' || c == '{') {
            brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (c == ')' || c == ']' || c == '}') {
            if (brackets.empty()) fail(p, cat("unexpected '", c, "'"));
            if (brackets.back() != c) fail(p, cat("unexpected '", c, "', expected '", brackets.back(), "'"));
            brackets.pop_back();
        }
        push(Tok::Op, p, std::string(1, c));
        return p + 1;
    }
};

}  // namespace

std::vector<Token> lex(std::string_view source) {
    // jinja2: every \r\n and \r becomes \n; one trailing newline is dropped.
    std::string norm;
    norm.reserve(source.size());
    for (size_t k = 0; k < source.size(); ++k) {
        if (source[k] == '\r') {
            norm += '\n';
            if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
        } else {
            norm += source[k];
        }
    }
    if (!norm.empty() && norm.back() == '\n') norm.pop_back();
    return Lexer(norm).run();
}

}  // namespace qlm::tmpl
