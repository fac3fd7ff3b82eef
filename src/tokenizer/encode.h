// The two merge algorithms, over one fragment of text between special tokens.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace qlm::tok {

// A symbol of the merge loops: a byte range of the text in a linked list.
struct Symbol {
    int prev;
    int next;
    size_t begin;  // byte range in the text
    size_t len;
};

// Appends one symbol per UTF-8 character of `text` (a truncated sequence at
// the end stays one symbol), linked in order: the merge loops' start.
inline void split_utf8_symbols(std::string_view text, std::vector<Symbol>& symbols) {
    for (size_t off = 0; off < text.size();) {
        const size_t len = std::min(utf8_seq_len(uint8_t(text[off])), text.size() - off);
        const int index = int(symbols.size());
        symbols.push_back({index - 1, off + len == text.size() ? -1 : index + 1, off, len});
        off += len;
    }
}

// SentencePiece-style: `text` already has spaces escaped to U+2581.
void spm_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out);
// Byte-level BPE: pre-tokenize, then merge by rank within each piece.
void bpe_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out);

}  // namespace qlm::tok
