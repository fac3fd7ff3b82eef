// A tokenizer vocabulary as read from GGUF metadata (tokenizer.ggml.*), with
// the token attributes, special ids and flags llama.cpp derives from it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenize.h"

namespace qlm {
class GgufReader;
}

namespace qlm::tok {

// Token attributes: llama.cpp's llama_token_attr bits.
enum Attr : uint32_t {
    kAttrUndefined = 0,
    kAttrUnknown = 1u << 0,
    kAttrUnused = 1u << 1,
    kAttrNormal = 1u << 2,
    kAttrControl = 1u << 3,
    kAttrUserDefined = 1u << 4,
    kAttrByte = 1u << 5,
    kAttrLstrip = 1u << 7,
    kAttrRstrip = 1u << 8,
};

enum class VocabKind { kSpm, kBpe };

constexpr int32_t kNoToken = -1;

// Transparent hashing so lookups by string_view do not allocate.
struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct Vocab {
    VocabKind kind = VocabKind::kSpm;
    std::string model;  // tokenizer.ggml.model
    std::string pre;    // tokenizer.ggml.pre ("" if absent)

    std::vector<std::string> text;  // by id
    std::vector<float> score;
    std::vector<uint32_t> attr;
    TokenMap to_id;

    // BPE merges: "left right" -> rank (first occurrence wins).
    TokenMap merge_rank;
    std::vector<Split> splits;  // pre-tokenizer stages

    int32_t bos = kNoToken, eos = kNoToken, eot = kNoToken, eom = kNoToken, unk = kNoToken;
    int32_t sep = kNoToken, pad = kNoToken, mask = kNoToken;
    int32_t fim_pre = kNoToken, fim_suf = kNoToken, fim_mid = kNoToken;
    int32_t fim_pad = kNoToken, fim_rep = kNoToken, fim_sep = kNoToken;
    std::vector<int32_t> eog;  // sorted

    bool add_space_prefix = false;
    bool add_bos = false;
    bool add_eos = false;
    bool ignore_merges = false;
    bool clean_spaces = false;

    // Control, user-defined and unknown tokens, longest text first: the order
    // in which they are cut out of the input text.
    std::vector<int32_t> special_by_length;
    // token_to_piece(id, special = true) for every id.
    std::vector<std::string> piece;

    int32_t n_tokens() const { return int32_t(text.size()); }
    int32_t find(std::string_view s) const {
        auto it = to_id.find(s);
        return it == to_id.end() ? kNoToken : it->second;
    }
    int32_t merge(std::string_view left, std::string_view right, std::string& scratch) const;
    // The token of one byte: <0xXX> (SPM, or a single-byte text as fallback) or
    // its GPT-2 stand-in (BPE). kNoToken if the vocabulary has none.
    int32_t byte_token(uint8_t byte) const;
    uint8_t token_byte(int32_t id) const;  // the byte of a <0xXX> token

    static Vocab from_gguf(const GgufReader& reader);
};

}  // namespace qlm::tok
