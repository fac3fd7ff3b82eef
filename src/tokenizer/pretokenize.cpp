// The splitters mirror llama.cpp's unicode.cpp: its hand-written matchers for
// the GPT-2, Llama 3 and Qwen 2 regexes, and, for the other stages, the
// std::regex it runs over a "collapsed" text where each non-ASCII codepoint
// stands for its class. Their quirks are kept on purpose: token ids must match.
// One stage is not llama.cpp's: kO200k, the o200k_base pattern as written.
#include "tokenizer/pretokenize.h"

#include <cstdint>

#include "tokenizer/unicode.h"

namespace qlm::tok {
namespace {

constexpr uint32_t kOutside = 0xFFFFFFFF;

// A piece of the text, [begin, end) in codepoints, with range-checked access:
// outside it every codepoint is kOutside and every class kNone.
struct Chunk {
    const std::vector<uint32_t>& cpts;
    const std::vector<CptInfo>& info;
    size_t begin, end;

    uint32_t cpt(size_t pos) const { return pos >= begin && pos < end ? cpts[pos] : kOutside; }
    CptInfo at(size_t pos) const { return pos >= begin && pos < end ? info[pos] : CptInfo{}; }
};

// Collects piece lengths; each cut closes the piece that began at the previous cut.
struct Cutter {
    std::vector<size_t>& out;
    size_t prev;
    size_t cut(size_t end) {
        const size_t len = end - prev;
        if (len > 0) out.push_back(len);
        prev = end;
        return len;
    }
};

uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// 's 't 'm 'd 're 've 'll at pos (optionally case-insensitive): length or 0.
size_t contraction_len(const Chunk& c, size_t pos, bool any_case) {
    if (c.cpt(pos) != '\'' || pos + 1 >= c.end) return 0;
    const auto low = [&](size_t p) { return any_case ? ascii_lower(c.cpt(p)) : c.cpt(p); };
    const uint32_t n1 = low(pos + 1);
    if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') return 2;
    if (pos + 2 < c.end) {
        const uint32_t n2 = low(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) return 3;
    }
    return 0;
}

// The whitespace alternatives that llama3's and gpt-4o's patterns end with,
// at pos: '\s*[\r\n]+' | '\s+(?!\S)' | '\s+', else one codepoint that
// matched nothing. Cuts the piece; returns the position after it.
size_t whitespace_tail(const Chunk& c, size_t pos, Cutter& cut) {
    size_t n_space = 0;
    size_t last_crlf_end = 0;
    while (c.at(pos + n_space).space) {
        const uint32_t c2 = c.cpt(pos + n_space);
        if (c2 == '\r' || c2 == '\n') last_crlf_end = pos + n_space + 1;
        ++n_space;
    }
    if (last_crlf_end > 0) pos = last_crlf_end;                                               // '\s*[\r\n]+'
    else if (n_space > 1 && c.cpt(pos + n_space) != kOutside) pos += n_space - 1;              // '\s+(?!\S)'
    else if (n_space > 0) pos += n_space;                                                     // '\s+'
    else ++pos;                                                                               // no match
    cut.cut(pos);
    return pos;
}

void split_gpt2(const Chunk& c, std::vector<size_t>& out) {
    Cutter cut{out, c.begin};
    for (size_t pos = c.begin; pos < c.end;) {
        const uint32_t cpt = c.cpt(pos);
        if (size_t n = contraction_len(c, pos, false)) {
            pos += cut.cut(pos + n);
            continue;
        }
        CptInfo f2 = cpt == ' ' ? c.at(pos + 1) : c.at(pos);
        if (f2.letter() || f2.number()) {  // ' ?\p{L}+' and ' ?\p{N}+'
            const bool letter = f2.letter();
            pos += (cpt == ' ');
            while (letter ? f2.letter() : f2.number()) f2 = c.at(++pos);
            cut.cut(pos);
            continue;
        }
        if (!(f2.space || f2.letter() || f2.number()) && !f2.none()) {  // ' ?[^\s\p{L}\p{N}]+'
            pos += (cpt == ' ');
            while (!(f2.space || f2.letter() || f2.number()) && !f2.none()) f2 = c.at(++pos);
            cut.cut(pos);
            continue;
        }
        size_t n_space = 0;
        while (c.at(pos + n_space).space) ++n_space;
        if (n_space > 1 && c.cpt(pos + n_space) != kOutside) {  // '\s+(?!\S)'
            pos += n_space - 1;
            cut.cut(pos);
            continue;
        }
        if (n_space > 0) {  // '\s+'
            pos += n_space;
            cut.cut(pos);
            continue;
        }
        cut.cut(++pos);  // no match
    }
}

// Llama 3 and Qwen 2 (max_digits 3 or 1); with_marks for Qwen 3.5.
void split_llama3(const Chunk& c, std::vector<size_t>& out, size_t max_digits, bool with_marks) {
    Cutter cut{out, c.begin};
    const auto wordish = [&](CptInfo f) { return f.letter() || (with_marks && f.mark()); };
    for (size_t pos = c.begin; pos < c.end;) {
        const uint32_t cpt = c.cpt(pos);
        const CptInfo f = c.at(pos);
        if (size_t n = contraction_len(c, pos, true)) {
            pos += cut.cut(pos + n);
            continue;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (!(cpt == '\r' || cpt == '\n' || f.number())) {
            if (wordish(f) || wordish(c.at(pos + 1))) {
                ++pos;
                while (wordish(c.at(pos))) ++pos;
                cut.cut(pos);
                continue;
            }
        }
        // \p{N}{1,max_digits}
        if (f.number()) {
            size_t first = pos;
            while (c.at(pos).number()) {
                if (++pos - first >= max_digits) {
                    cut.cut(pos);
                    first = pos;
                }
            }
            cut.cut(pos);
            continue;
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'; the last test is on f, not f2, as upstream
        CptInfo f2 = cpt == ' ' ? c.at(pos + 1) : f;
        const auto other = [&](CptInfo g) { return !(g.space || wordish(g) || g.number()); };
        if (other(f2) && !f.none()) {
            pos += (cpt == ' ');
            while (other(f2) && !f2.none()) f2 = c.at(++pos);
            for (uint32_t c2 = c.cpt(pos); c2 == '\r' || c2 == '\n'; c2 = c.cpt(++pos)) {
            }
            cut.cut(pos);
            continue;
        }
        pos = whitespace_tail(c, pos, cut);
    }
}

// The gpt-4o / o200k_base pattern (see Split::kO200k), alternative by
// alternative in the order a backtracking regex tries them. llama.cpp does not
// run that pattern: it runs a rewrite through std::regex over its "collapsed"
// text, where every non-ASCII letter is one stand-in character, so there a
// non-ASCII letter is in both case classes, marks are in neither, and the
// contractions are matched as ASCII ('[sS]', ...). exact = false mirrors that
// (token ids must match llama.cpp); exact = true is the pattern itself, as
// tiktoken runs it (the case-insensitive 's also takes U+017F, long s).
void split_gpt4o(const Chunk& c, std::vector<size_t>& out, bool exact) {
    Cutter cut{out, c.begin};
    const auto upper = [&](size_t p) {
        const CptInfo f = c.at(p);
        if (exact)
            return f.cls == CptClass::kLetterUpper || f.cls == CptClass::kLetterOther || f.mark();
        const uint32_t x = c.cpt(p);
        return f.letter() && !(x >= 'a' && x <= 'z');
    };
    const auto lower = [&](size_t p) {
        const CptInfo f = c.at(p);
        if (exact)
            return f.cls == CptClass::kLetterLower || f.cls == CptClass::kLetterOther || f.mark();
        const uint32_t x = c.cpt(p);
        return f.letter() && !(x >= 'A' && x <= 'Z');
    };
    const auto contraction = [&](size_t p) -> size_t {
        if (c.cpt(p) != '\'') return 0;
        const auto fold = [&](size_t q) {
            const uint32_t x = c.cpt(q);
            return exact && x == 0x17F ? uint32_t('s') : ascii_lower(x);
        };
        const uint32_t n1 = fold(p + 1);
        if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') return 2;
        const uint32_t n2 = fold(p + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) return 3;
        return 0;
    };
    // U*L+C? from q: U* takes its longest run, then gives back until an L follows.
    const auto word1 = [&](size_t q) -> size_t {
        size_t u = 0;
        while (upper(q + u)) ++u;
        for (size_t k = u + 1; k-- > 0;) {
            if (!lower(q + k)) continue;
            size_t e = q + k;
            while (lower(e)) ++e;
            return e + contraction(e);
        }
        return 0;
    };
    // U+L*C? from q.
    const auto word2 = [&](size_t q) -> size_t {
        size_t e = q;
        while (upper(e)) ++e;
        if (e == q) return 0;
        while (lower(e)) ++e;
        return e + contraction(e);
    };
    for (size_t pos = c.begin; pos < c.end;) {
        const uint32_t cpt = c.cpt(pos);
        const CptInfo f = c.at(pos);
        // [^\r\n\p{L}\p{N}]? before either word form, tried with, then without
        const bool lead = !(cpt == '\r' || cpt == '\n' || f.letter() || f.number());
        size_t end = 0;
        if (lead) end = word1(pos + 1);
        if (!end) end = word1(pos);
        if (!end && lead) end = word2(pos + 1);
        if (!end) end = word2(pos);
        if (end) {
            pos = end;
            cut.cut(pos);
            continue;
        }
        if (f.number()) {  // \p{N}{1,3}
            for (size_t n = 0; n < 3 && c.at(pos).number(); ++n) ++pos;
            cut.cut(pos);
            continue;
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
        const auto other = [&](CptInfo g) { return !(g.space || g.letter() || g.number() || g.none()); };
        if (other(cpt == ' ' ? c.at(pos + 1) : f)) {
            pos += (cpt == ' ');
            while (other(c.at(pos))) ++pos;
            for (uint32_t c2 = c.cpt(pos); c2 == '\r' || c2 == '\n' || c2 == '/'; c2 = c.cpt(++pos)) {
            }
            cut.cut(pos);
            continue;
        }
        pos = whitespace_tail(c, pos, cut);  // (no match cannot happen: every class is covered above)
    }
}

// What std::regex's \s matches in llama.cpp's collapsed text: ASCII isspace, and
// every other White_Space codepoint (collapsed to \v).
bool regex_space(const CptInfo& f) { return f.space; }

bool punct_or(uint32_t cpt, const CptInfo& f, std::string_view extra) {
    return f.punct() || (cpt < 128 && extra.find(char(cpt)) != std::string_view::npos);
}

bool cjk(uint32_t cpt, const CptInfo& f) {
    return !f.space && ((cpt >= 0x4E00 && cpt <= 0x9FA5) || (cpt >= 0x0800 && cpt <= 0x4E00) ||
                        (cpt >= 0xAC00 && cpt <= 0xD7FF));
}

// Length of the match of a simple regex stage starting exactly at pos (0: none).
size_t match_at(Split s, const Chunk& c, size_t pos) {
    const auto run = [&](auto pred) {
        size_t p = pos;
        while (p < c.end && pred(c.cpt(p), c.at(p))) ++p;
        return p - pos;
    };
    const uint32_t cpt = c.cpt(pos);
    const CptInfo f = c.at(pos);
    switch (s) {
    case Split::kEachNumber:
        return f.number() ? 1 : 0;
    case Split::kNumberRuns:
        return run([](uint32_t, CptInfo g) { return g.number(); });
    case Split::kPunctRuns:
        return run([](uint32_t x, CptInfo g) { return punct_or(x, g, "$+<=>^~|"); });
    case Split::kPunctRunsFalcon:
        return run([](uint32_t x, CptInfo g) { return punct_or(x, g, "$+<=>^~|`"); });
    case Split::kAsciiDigit3: {
        for (size_t k = 0; k < 3; ++k) {
            const uint32_t d = c.cpt(pos + k);
            if (d < '0' || d > '9') return 0;
        }
        return 3;
    }
    case Split::kEachCrLf:
        return cpt == '\r' || cpt == '\n' ? 1 : 0;
    case Split::kSpaceLetters:
    case Split::kSpacePunct: {
        const auto cls = [&](uint32_t x, CptInfo g) {
            return s == Split::kSpaceLetters ? g.letter() : punct_or(x, g, "");
        };
        const size_t lead = regex_space(f) && cls(c.cpt(pos + 1), c.at(pos + 1)) ? 1 : 0;
        size_t p = pos + lead;
        while (p < c.end && cls(c.cpt(p), c.at(p))) ++p;
        return p - pos;
    }
    case Split::kCjkRuns:
        return run([](uint32_t x, CptInfo g) { return cjk(x, g); });
    default:
        return 0;
    }
}

// A regex stage as llama.cpp runs it: matches, and the gaps between, are pieces.
void split_regex(Split s, const Chunk& c, std::vector<size_t>& out) {
    size_t gap = c.begin;
    for (size_t pos = c.begin; pos < c.end;) {
        const size_t len = match_at(s, c, pos);
        if (len == 0) {
            ++pos;
            continue;
        }
        if (pos > gap) out.push_back(pos - gap);
        out.push_back(len);
        pos += len;
        gap = pos;
    }
    if (c.end > gap) out.push_back(c.end - gap);
}

}  // namespace

std::vector<std::string> pretokenize(std::string_view text, const std::vector<Split>& stages, bool byte_encode) {
    const std::vector<uint32_t> cpts = utf8_to_cpts(text);
    std::vector<CptInfo> info(cpts.size());
    for (size_t i = 0; i < cpts.size(); ++i) info[i] = cpt_info(cpts[i]);

    std::vector<size_t> lens = {cpts.size()};
    for (Split s : stages) {
        std::vector<size_t> next;
        next.reserve(lens.size() * 2);
        size_t begin = 0;
        for (size_t len : lens) {
            const Chunk c{cpts, info, begin, begin + len};
            switch (s) {
            case Split::kGpt2: split_gpt2(c, next); break;
            case Split::kLlama3: split_llama3(c, next, 3, false); break;
            case Split::kQwen2: split_llama3(c, next, 1, false); break;
            case Split::kQwen35: split_llama3(c, next, 1, true); break;
            case Split::kO200k: split_gpt4o(c, next, true); break;
            case Split::kGpt4o: split_gpt4o(c, next, false); break;
            default: split_regex(s, c, next); break;
            }
            begin += len;
        }
        lens = std::move(next);
    }

    std::vector<std::string> words;
    words.reserve(lens.size());
    size_t begin = 0;
    for (size_t len : lens) {
        std::string utf8;
        for (size_t i = begin; i < begin + len; ++i) append_utf8(utf8, cpts[i]);
        begin += len;
        if (!byte_encode) {
            words.push_back(std::move(utf8));
            continue;
        }
        std::string encoded;
        encoded.reserve(utf8.size() * 2);
        for (char ch : utf8) encoded += gpt2_byte_to_utf8(uint8_t(ch));
        words.push_back(std::move(encoded));
    }
    return words;
}

}  // namespace qlm::tok
