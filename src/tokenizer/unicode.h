// UTF-8 and Unicode helpers for the tokenizers: codepoint classes (the
// \p{L}, \p{N}, \p{P}, ... of the pre-tokenizer regexes, with letters in
// the three kinds the o200k pattern needs), White_Space, and
// GPT-2's byte <-> unicode mapping. Decoding follows llama.cpp exactly
// (including how it replaces invalid bytes), since token ids must match it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qlm::tok {

enum class CptClass : uint8_t {
    kNone = 0,  // outside the text being matched (never a real codepoint's class)
    kUndefined, // unassigned (Cn)
    kNumber,    // \p{N}
    kLetterUpper,  // \p{Lu} and \p{Lt}  (the three letter kinds together are \p{L})
    kLetterLower,  // \p{Ll}
    kLetterOther,  // \p{Lm} and \p{Lo}
    kSeparator, // \p{Z}
    kMark,      // \p{M}
    kPunctuation,  // \p{P}
    kSymbol,    // \p{S}
    kControl,   // \p{C} except Cn
};

struct CptRun {
    uint32_t first;
    CptClass cls;
};
extern const CptRun kCptRuns[];
extern const size_t kCptRunCount;
extern const uint32_t kWhiteSpace[];
extern const size_t kWhiteSpaceCount;

// Class and White_Space of one codepoint. A default-constructed CptInfo
// (class kNone) stands for "past the end of the text".
struct CptInfo {
    CptClass cls = CptClass::kNone;
    bool space = false;

    bool none() const { return cls == CptClass::kNone; }
    bool letter() const {
        return cls == CptClass::kLetterUpper || cls == CptClass::kLetterLower || cls == CptClass::kLetterOther;
    }
    bool number() const { return cls == CptClass::kNumber; }
    bool mark() const { return cls == CptClass::kMark; }
    bool punct() const { return cls == CptClass::kPunctuation; }
};
CptInfo cpt_info(uint32_t cpt);

constexpr uint32_t kReplacementChar = 0xFFFD;

// Bytes in the UTF-8 sequence that starts with `lead`, judged from its high
// nibble alone (continuation bytes count as 1), as llama.cpp does.
inline size_t utf8_seq_len(uint8_t lead) {
    static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLen[lead >> 4];
}

// Decode a whole string; each invalid byte becomes U+FFFD.
std::vector<uint32_t> utf8_to_cpts(std::string_view s);
void append_utf8(std::string& out, uint32_t cpt);  // cpt must be <= 0x10FFFF

// GPT-2 byte-level BPE: every byte has a printable stand-in codepoint.
const std::string& gpt2_byte_to_utf8(uint8_t byte);
// The byte a stand-in codepoint encodes, or -1 if it is none.
int gpt2_cpt_to_byte(uint32_t cpt);

}  // namespace qlm::tok
