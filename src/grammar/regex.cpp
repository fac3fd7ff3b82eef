// A JSON Schema `pattern` (an ECMA-262 regex subset) -> a GBNF expression
// over the characters of a JSON string's inside. Literals come out JSON
// escaped where JSON needs it ("" and \ and control characters); classes
// leave those characters out, so whatever matches is a valid JSON string
// body. Supported: literals, escapes (\d \w \s and their negations,
// \. \\ \n \t and so on), ., [classes] with ranges and negation, groups (also (?:)),
// |, * + ? {m} {m,} {m,n} (lazy forms too), ^ and $ at the ends (an
// unanchored side matches anything there). Anything else (backreferences,
// lookaround) is a GrammarError naming "pattern".
#include <string>
#include <vector>

#include "grammar/program.h"

#include "grammar/schema_internal.h"

namespace qlm::grammar {

namespace {

class Regex {
public:
    explicit Regex(std::string_view p) : s_(p) {}

    std::string run() {
        bool head = false, tail = false;
        if (!s_.empty() && s_.front() == '^') head = true, s_.remove_prefix(1);
        if (!s_.empty() && s_.back() == '$' && (s_.size() < 2 || s_[s_.size() - 2] != '\\')) tail = true, s_.remove_suffix(1);
        std::string body = alternation();
        if (p_ != s_.size()) bad("unexpected ')'");
        std::string out;
        if (!head) out += "json-char* ";
        out += "(" + body + ")";
        if (!tail) out += " json-char*";
        return out;
    }

private:
    [[noreturn]] void bad(const std::string& why) const {
        throw GrammarError(GrammarError::Kind::UnsupportedSchema,
                           "json schema: 'pattern' /" + std::string(s_) + "/: " + why + " is not supported", "pattern");
    }
    bool end() const { return p_ >= s_.size(); }
    char cur() const { return end() ? '\0' : s_[p_]; }

    std::string alternation() {
        std::string out = sequence();
        while (cur() == '|') {
            ++p_;
            out += " | " + sequence();
        }
        return out;
    }

    std::string sequence() {
        std::string out;
        while (!end() && cur() != '|' && cur() != ')') {
            std::string atom_s = atom();
            atom_s = quantified(atom_s);
            out += (out.empty() ? "" : " ") + atom_s;
        }
        return out.empty() ? "\"\"" : out;
    }

    std::string quantified(std::string a) {
        const char c = cur();
        std::string q;
        if (c == '*' || c == '+' || c == '?') {
            ++p_;
            q = std::string(1, c);
        } else if (c == '{') {
            const size_t close = s_.find('}', p_);
            if (close == std::string_view::npos) bad("an unclosed {");
            const std::string inner(s_.substr(p_ + 1, close - p_ - 1));
            for (char ch : inner)
                if (!(ch >= '0' && ch <= '9') && ch != ',') bad("the quantifier {" + inner + "}");
            if (inner.empty() || inner[0] == ',') bad("the quantifier {" + inner + "}");
            q = "{" + inner + "}";
            p_ = close + 1;
        } else {
            return a;
        }
        if (cur() == '?') ++p_;  // lazy: the same language
        if (cur() == '*' || cur() == '+' || cur() == '?' || cur() == '{') bad("a quantifier after a quantifier");
        return "(" + a + ")" + q;
    }

    std::string atom() {
        const char c = cur();
        if (c == '(') {
            ++p_;
            if (cur() == '?') {
                if (p_ + 1 < s_.size() && s_[p_ + 1] == ':') p_ += 2;
                else bad("lookaround and named groups");
            }
            std::string inner = alternation();
            if (cur() != ')') bad("an unclosed (");
            ++p_;
            return "(" + inner + ")";
        }
        if (c == '[') return cls();
        if (c == '.') {
            ++p_;
            return "json-char-plain";
        }
        if (c == '^' || c == '$') bad("an anchor inside the pattern");
        if (c == '*' || c == '+' || c == '?' || c == '{') bad("a quantifier with nothing to repeat");
        if (c == '\\') {
            ++p_;
            const char e = cur();
            ++p_;
            switch (e) {
                case 'd': return "[0-9]";
                case 'w': return "[a-zA-Z0-9_]";
                case 's': return "\" \"";
                case 'D': return "[^0-9\"\\\\\\x00-\\x1F\\x7F]";
                case 'W': return "[^a-zA-Z0-9_\"\\\\\\x00-\\x1F\\x7F]";
                case 'S': return "[^ \"\\\\\\x00-\\x1F\\x7F]";
                case 'n': return json_char_literal('\n');
                case 't': return json_char_literal('\t');
                case 'r': return json_char_literal('\r');
                case 'b': case 'B': bad("word boundaries");
                default:
                    if (e >= '1' && e <= '9') bad("backreferences");
                    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) bad(std::string("the escape \\") + e);
                    return json_char_literal(uint32_t(uint8_t(e)));
            }
        }
        return json_char_literal(next_cp());
    }

    uint32_t next_cp() {
        const unsigned char c = uint8_t(s_[p_]);
        if (c < 0x80) {
            ++p_;
            return c;
        }
        const int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        uint32_t cp = c & (0x3F >> n);
        ++p_;
        for (int i = 0; i < n && !end(); ++i, ++p_) cp = (cp << 6) | (uint8_t(s_[p_]) & 0x3F);
        return cp;
    }

    using Ranges = std::vector<std::pair<uint32_t, uint32_t>>;

    // One class character (escapes decoded); -1 for a shorthand class added to `extra`.
    int64_t class_char(Ranges& extra) {
        if (cur() == '\\') {
            ++p_;
            const char e = cur();
            ++p_;
            switch (e) {
                case 'd': extra.push_back({'0', '9'}); return -1;
                case 'w':
                    extra.insert(extra.end(), {{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'_', '_'}});
                    return -1;
                case 's': extra.push_back({' ', ' '}); return -1;
                case 'n': return '\n';
                case 't': return '\t';
                case 'r': return '\r';
                default:
                    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) bad(std::string("the class escape \\") + e);
                    return uint8_t(e);
            }
        }
        return next_cp();
    }

    std::string cls() {
        ++p_;
        bool neg = false;
        if (cur() == '^') neg = true, ++p_;
        Ranges r;
        bool first = true;
        while (first || cur() != ']') {
            first = false;
            if (end()) bad("an unclosed [");
            const int64_t a = class_char(r);
            if (a < 0) continue;
            int64_t b = a;
            if (cur() == '-' && p_ + 1 < s_.size() && s_[p_ + 1] != ']') {
                ++p_;
                b = class_char(r);
                if (b < 0 || b < a) bad("a class range");
            }
            r.push_back({uint32_t(a), uint32_t(b)});
        }
        ++p_;
        // JSON needs '"', '\\' and control characters escaped: a class never yields them
        const Ranges forbidden = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}, {0x7F, 0x7F}};
        if (neg) r.insert(r.end(), forbidden.begin(), forbidden.end());
        CharSet cs = make_charset(r, neg);
        if (!neg) cs = subtract(cs, forbidden);
        if (cs.ranges.empty()) bad("a class that matches no character JSON allows unescaped");
        std::string items;
        for (const auto& [lo, hi] : cs.ranges) {
            items += gbnf_class_char(lo);
            if (hi != lo) items += "-" + gbnf_class_char(hi);
        }
        return "[" + items + "]";
    }

    static CharSet subtract(const CharSet& a, const Ranges& b) {
        Ranges out;
        for (auto [lo, hi] : a.ranges) {
            std::vector<std::pair<uint32_t, uint32_t>> pieces = {{lo, hi}};
            for (const auto& [blo, bhi] : b) {
                std::vector<std::pair<uint32_t, uint32_t>> next;
                for (const auto& [x, y] : pieces) {
                    if (bhi < x || blo > y) {
                        next.push_back({x, y});
                        continue;
                    }
                    if (blo > x) next.push_back({x, blo - 1});
                    if (bhi < y) next.push_back({bhi + 1, y});
                }
                pieces = std::move(next);
            }
            out.insert(out.end(), pieces.begin(), pieces.end());
        }
        return make_charset(out, false);
    }

    std::string_view s_;
    size_t p_ = 0;
};

}  // namespace

std::string pattern_to_gbnf(std::string_view pattern) { return Regex(pattern).run(); }

}  // namespace qlm::grammar
