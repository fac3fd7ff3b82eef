// GBNF (llama.cpp's grammar format) -> grammar::Program. Groups and
// repetitions become rules of their own (x* is `r ::= x r |`, right
// recursive, so the matcher's stacks stay flat); x{m,n} is m copies then
// nested optionals. Checked: undefined rules, the root, left recursion
// (which the matcher could not expand) and a root that matches nothing.
#include <algorithm>
#include <functional>
#include <unordered_map>

#include "grammar/program.h"
#include "qlm/grammar.h"

namespace qlm {

namespace grammar {

CharSet make_charset(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negate) {
    std::sort(ranges.begin(), ranges.end());
    std::vector<std::pair<uint32_t, uint32_t>> merged;
    for (auto r : ranges) {
        if (r.first > r.second) continue;
        if (!merged.empty() && r.first <= merged.back().second + 1)
            merged.back().second = std::max(merged.back().second, r.second);
        else
            merged.push_back(r);
    }
    if (negate) {
        std::vector<std::pair<uint32_t, uint32_t>> inv;
        uint32_t next = 0;
        for (const auto& [lo, hi] : merged) {
            if (lo > next) inv.push_back({next, lo - 1});
            next = hi + 1;
        }
        if (next <= kMaxCodePoint) inv.push_back({next, kMaxCodePoint});
        merged = std::move(inv);
    }
    CharSet s;
    s.ranges = std::move(merged);
    for (const auto& [lo, hi] : s.ranges)
        for (uint32_t c = lo; c <= hi && c < 128; ++c) s.ascii[c >> 6] |= uint64_t(1) << (c & 63);
    return s;
}

}  // namespace grammar

namespace {

using grammar::CharSet;
using grammar::Item;
using Seq = std::vector<Item>;

constexpr size_t kMaxItems = size_t(1) << 22;
constexpr uint32_t kMaxRepeat = 100000;

class Parser {
public:
    explicit Parser(std::string_view src) : s_(src) {}

    grammar::Program run(std::string_view root_name) {
        space(true);
        while (p_ < s_.size()) {
            rule();
            space(true);
        }
        for (size_t r = 0; r < names_.size(); ++r)
            if (!defined_[r]) fail_at(ref_pos_[r], "undefined rule '" + names_[r] + "'");
        const auto it = ids_.find(std::string(root_name));
        if (it == ids_.end() || !defined_[size_t(it->second)])
            throw GrammarError(GrammarError::Kind::Syntax, "grammar: no rule '" + std::string(root_name) + "' (the start rule)");
        check(it->second);
        grammar::Program prog;
        prog.rule_names = names_;
        prog.sets = std::move(sets_);
        prog.root = it->second;
        prog.alt_starts.resize(rules_.size());
        for (size_t r = 0; r < rules_.size(); ++r)
            for (const Seq& alt : rules_[r]) {
                prog.alt_starts[r].push_back(int32_t(prog.items.size()));
                prog.items.insert(prog.items.end(), alt.begin(), alt.end());
                prog.items.push_back({Item::End, 0});
            }
        return prog;
    }

private:
    [[noreturn]] void fail_at(size_t pos, const std::string& msg) const {
        int line = 1, col = 1;
        for (size_t i = 0; i < pos && i < s_.size(); ++i) {
            if (s_[i] == '\n') ++line, col = 1;
            else ++col;
        }
        throw GrammarError(GrammarError::Kind::Syntax,
                           "grammar: line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + msg);
    }
    [[noreturn]] void fail(const std::string& msg) const { fail_at(p_, msg); }

    bool at_end() const { return p_ >= s_.size(); }
    char cur() const { return at_end() ? '\0' : s_[p_]; }
    static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    }

    void space(bool newlines) {
        while (!at_end()) {
            const char c = s_[p_];
            if (c == ' ' || c == '\t') ++p_;
            else if (c == '#') while (!at_end() && s_[p_] != '\n') ++p_;
            else if (newlines && (c == '\n' || c == '\r')) ++p_;
            else break;
        }
    }

    std::string name() {
        const size_t b = p_;
        while (!at_end() && name_char(s_[p_])) ++p_;
        if (p_ == b) fail("expected a rule name");
        return std::string(s_.substr(b, p_ - b));
    }

    int32_t rule_id(const std::string& n, size_t pos) {
        const auto it = ids_.find(n);
        if (it != ids_.end()) return it->second;
        const int32_t id = int32_t(names_.size());
        ids_.emplace(n, id);
        names_.push_back(n);
        rules_.emplace_back();
        defined_.push_back(false);
        ref_pos_.push_back(pos);
        return id;
    }

    int32_t new_rule(const std::string& base) {
        std::string n;
        do n = base + "/" + std::to_string(++synth_);  // no clash with names a grammar can spell
        while (ids_.count(n));
        const int32_t id = rule_id(n, p_);
        defined_[size_t(id)] = true;
        return id;
    }

    void rule() {
        const size_t at = p_;
        const std::string n = name();
        const int32_t id = rule_id(n, at);
        if (defined_[size_t(id)]) fail_at(at, "rule '" + n + "' is defined twice");
        defined_[size_t(id)] = true;
        current_ = n;
        space(false);
        if (s_.substr(p_, 3) != "::=") fail("expected '::=' after the rule name '" + n + "'");
        p_ += 3;
        space(true);
        rules_[size_t(id)] = alternates(false);
        space(false);
        if (!at_end() && cur() != '\n' && cur() != '\r') fail(std::string("unexpected '") + cur() + "'");
    }

    std::vector<Seq> alternates(bool nested) {
        std::vector<Seq> alts;
        alts.push_back(sequence(nested));
        while (cur() == '|') {
            ++p_;
            space(true);
            alts.push_back(sequence(nested));
        }
        return alts;
    }

    uint32_t hex(int n) {
        uint32_t v = 0;
        for (int i = 0; i < n; ++i) {
            const char c = cur();
            int d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else fail("expected " + std::to_string(n) + " hex digits");
            v = v * 16 + uint32_t(d);
            ++p_;
        }
        return v;
    }

    // One character of a literal or class, escapes decoded; UTF-8 decoded.
    uint32_t character() {
        if (at_end()) fail("unexpected end of grammar");
        const unsigned char c = static_cast<unsigned char>(s_[p_]);
        if (c == '\\') {
            ++p_;
            const char e = cur();
            ++p_;
            switch (e) {
                case 'x': return hex(2);
                case 'u': return check_cp(hex(4));
                case 'U': return check_cp(hex(8));
                case 't': return '\t';
                case 'r': return '\r';
                case 'n': return '\n';
                case '\\': case '"': case '[': case ']': case '-': case '^': case '/': return uint32_t(e);
                default: --p_; fail(std::string("unknown escape '\\") + e + "'");
            }
        }
        if (c < 0x80) {
            ++p_;
            return c;
        }
        int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
        if (n < 0 || c > 0xF4) fail("invalid UTF-8");
        uint32_t cp = c & (0x3F >> n);
        ++p_;
        for (int i = 0; i < n; ++i) {
            if (at_end() || (static_cast<unsigned char>(s_[p_]) & 0xC0) != 0x80) fail("invalid UTF-8");
            cp = (cp << 6) | (static_cast<unsigned char>(s_[p_]) & 0x3F);
            ++p_;
        }
        return check_cp(cp);
    }
    uint32_t check_cp(uint32_t cp) {
        if (cp > grammar::kMaxCodePoint) fail("code point out of range");
        return cp;
    }

    int32_t set_id(CharSet s) {
        sets_.push_back(std::move(s));
        return int32_t(sets_.size() - 1);
    }
    Item chars(std::vector<std::pair<uint32_t, uint32_t>> r, bool neg) {
        return {Item::Chars, set_id(grammar::make_charset(std::move(r), neg))};
    }

    void grow(size_t n) {
        total_ += n;
        if (total_ > kMaxItems) fail("the grammar is too large (repetitions expand to over 4M items)");
    }

    Seq sequence(bool nested) {
        Seq out;
        size_t last = std::string::npos;  // where the last symbol starts in `out`
        while (!at_end()) {
            const char c = cur();
            if (c == '"') {
                ++p_;
                last = out.size();
                while (cur() != '"') {
                    if (at_end()) fail("unterminated literal");
                    const uint32_t cp = character();
                    out.push_back(chars({{cp, cp}}, false));
                }
                ++p_;
                grow(out.size() - last);
            } else if (c == '[') {
                ++p_;
                bool neg = false;
                if (cur() == '^') neg = true, ++p_;
                std::vector<std::pair<uint32_t, uint32_t>> r;
                while (cur() != ']') {
                    if (at_end()) fail("unterminated character class");
                    const uint32_t a = character();
                    uint32_t b = a;
                    if (cur() == '-' && p_ + 1 < s_.size() && s_[p_ + 1] != ']') {
                        ++p_;
                        b = character();
                        if (b < a) fail("character range is backwards");
                    }
                    r.push_back({a, b});
                }
                ++p_;
                last = out.size();
                out.push_back(chars(std::move(r), neg));
                grow(1);
            } else if (c == '.') {
                ++p_;
                last = out.size();
                out.push_back(chars({{0, grammar::kMaxCodePoint}}, false));
                grow(1);
            } else if (name_char(c)) {
                const size_t at = p_;
                const std::string n = name();
                last = out.size();
                out.push_back({Item::Ref, rule_id(n, at)});
                grow(1);
            } else if (c == '(') {
                ++p_;
                space(true);
                const int32_t id = new_rule(current_);
                auto alts = alternates(true);
                if (cur() != ')') fail("expected ')'");
                ++p_;
                rules_[size_t(id)] = std::move(alts);
                last = out.size();
                out.push_back({Item::Ref, id});
                grow(1);
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (last == std::string::npos) fail(std::string("'") + c + "' with nothing before it to repeat");
                ++p_;
                uint32_t lo = 0, hi = 0;
                bool unbounded = false;
                if (c == '*') unbounded = true;
                else if (c == '+') lo = 1, unbounded = true;
                else if (c == '?') hi = 1;
                else {
                    space(nested);
                    lo = number();
                    space(nested);
                    if (cur() == ',') {
                        ++p_;
                        space(nested);
                        if (cur() == '}') unbounded = true;
                        else hi = number();
                    } else {
                        hi = lo;
                    }
                    space(nested);
                    if (cur() != '}') fail("expected '}'");
                    ++p_;
                    if (!unbounded && hi < lo) fail("repetition {m,n} with n < m");
                }
                repeat(out, last, lo, hi, unbounded);
                last = std::string::npos;
            } else {
                break;
            }
            space(nested);
        }
        return out;
    }

    uint32_t number() {
        const size_t b = p_;
        uint64_t v = 0;
        while (cur() >= '0' && cur() <= '9') {
            v = v * 10 + uint64_t(cur() - '0');
            if (v > kMaxRepeat) fail("repetition count over " + std::to_string(kMaxRepeat));
            ++p_;
        }
        if (p_ == b) fail("expected a number");
        return uint32_t(v);
    }

    void repeat(Seq& out, size_t last, uint32_t lo, uint32_t hi, bool unbounded) {
        const Seq x(out.begin() + std::ptrdiff_t(last), out.end());
        out.resize(last);
        grow(x.size() * (size_t(lo) + (unbounded ? 1 : size_t(hi - lo))) + 4);
        for (uint32_t i = 0; i < lo; ++i) out.insert(out.end(), x.begin(), x.end());
        if (unbounded) {
            const int32_t r = new_rule(current_);
            Seq body = x;
            body.push_back({Item::Ref, r});
            rules_[size_t(r)] = {body, {}};
            out.push_back({Item::Ref, r});
            return;
        }
        // opt_k ::= x opt_{k-1} | ; opt_1 ::= x |
        int32_t prev = -1;
        for (uint32_t k = 0; k < hi - lo; ++k) {
            const int32_t r = new_rule(current_);
            Seq body = x;
            if (prev >= 0) body.push_back({Item::Ref, prev});
            rules_[size_t(r)] = {body, {}};
            prev = r;
        }
        if (prev >= 0) out.push_back({Item::Ref, prev});
    }

    // Left recursion (also through nullable prefixes) and a root that matches nothing.
    void check(int32_t root) {
        const size_t n = rules_.size();
        std::vector<char> nullable(n, 0), productive(n, 0);
        auto item_nullable = [&](const Item& it) { return it.kind == Item::Ref && nullable[size_t(it.arg)]; };
        auto item_productive = [&](const Item& it) {
            return it.kind == Item::Ref ? productive[size_t(it.arg)] != 0 : !sets_[size_t(it.arg)].ranges.empty();
        };
        for (bool changed = true; changed;) {
            changed = false;
            for (size_t r = 0; r < n; ++r)
                for (const Seq& alt : rules_[r]) {
                    if (!nullable[r] && std::all_of(alt.begin(), alt.end(), item_nullable)) nullable[r] = 1, changed = true;
                    if (!productive[r] && std::all_of(alt.begin(), alt.end(), item_productive))
                        productive[r] = 1, changed = true;
                }
        }
        if (!productive[size_t(root)])
            throw GrammarError(GrammarError::Kind::Syntax, "grammar: rule '" + names_[size_t(root)] + "' matches no finite text");
        std::vector<std::vector<int32_t>> left(n);
        for (size_t r = 0; r < n; ++r)
            for (const Seq& alt : rules_[r])
                for (const Item& it : alt) {
                    if (it.kind == Item::Ref) left[r].push_back(it.arg);
                    if (!item_nullable(it)) break;
                }
        std::vector<char> mark(n, 0);  // 1: on the path, 2: done
        std::function<void(int32_t)> visit = [&](int32_t r) {
            mark[size_t(r)] = 1;
            for (int32_t s : left[size_t(r)]) {
                if (mark[size_t(s)] == 1)
                    throw GrammarError(GrammarError::Kind::Syntax,
                                       "grammar: rule '" + names_[size_t(s)] + "' is left recursive");
                if (mark[size_t(s)] == 0) visit(s);
            }
            mark[size_t(r)] = 2;
        };
        for (size_t r = 0; r < n; ++r)
            if (mark[r] == 0) visit(int32_t(r));
    }

    std::string_view s_;
    size_t p_ = 0;
    size_t total_ = 0;
    int synth_ = 0;
    std::string current_;
    std::unordered_map<std::string, int32_t> ids_;
    std::vector<std::string> names_;
    std::vector<std::vector<Seq>> rules_;
    std::vector<bool> defined_;
    std::vector<size_t> ref_pos_;
    std::vector<CharSet> sets_;
};

}  // namespace

std::shared_ptr<const Grammar> Grammar::parse_gbnf(std::string_view text, std::string_view root) {
    auto g = std::shared_ptr<Grammar>(new Grammar());
    g->program_ = std::make_shared<const grammar::Program>(Parser(text).run(root));
    return g;
}

size_t Grammar::n_rules() const { return program_->rule_names.size(); }

}  // namespace qlm
