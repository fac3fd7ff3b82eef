// BPE pre-tokenization: the regex splits llama.cpp applies before BPE merges,
// chosen by tokenizer.ggml.pre, written by hand over codepoint classes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qlm::tok {

// One split stage: each stage cuts every piece left by the previous stage into
// the stage's matches and the gaps between them.
enum class Split {
    kGpt2,         // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
    kLlama3,       // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    kQwen2,        // as kLlama3 with \p{N} (one digit per piece)
    kQwen35,       // as kQwen2 with [\p{L}\p{M}]+ for letter runs
    // gpt-4o (o200k_base): W?U*L+C?|W?U+L*C?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
    // with W = [^\r\n\p{L}\p{N}], C = (?i:'s|'t|'re|'ve|'m|'ll|'d), and the case classes
    kO200k,        // exact: U = [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}], L = [\p{Ll}\p{Lm}\p{Lo}\p{M}]
    kGpt4o,        // as llama.cpp runs it: U = \p{L} but a-z, L = \p{L} but A-Z, C ASCII-only
    kEachNumber,   // \p{N}
    kNumberRuns,   // \p{N}+
    kPunctRuns,    // [\p{P}\$\+<=>\^~\|]+
    kPunctRunsFalcon,  // [\p{P}\$\+<=>\^~\|`]+
    kAsciiDigit3,  // [0-9][0-9][0-9]
    kEachCrLf,     // [\r\n]
    kSpaceLetters, // \s?\p{L}+
    kSpacePunct,   // \s?\p{P}+
    kCjkRuns,      // [一-龥ࠀ-一가-퟿]+
};

// Split `text` through the stages in order and return the pieces as UTF-8,
// or, if byte_encode, with each byte replaced by its GPT-2 stand-in character.
std::vector<std::string> pretokenize(std::string_view text, const std::vector<Split>& stages, bool byte_encode);

}  // namespace qlm::tok
