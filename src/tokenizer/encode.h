// The two merge algorithms, over one fragment of text between special tokens.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace qlm::tok {

// SentencePiece-style: `text` already has spaces escaped to U+2581.
void spm_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
// Byte-level BPE: pre-tokenize, then merge by rank within each piece.
void bpe_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out);

}  // namespace qlm::tok
