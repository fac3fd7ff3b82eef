// Tokenizers built from GGUF metadata (tokenizer.ggml.*), token-for-token
// identical to llama.cpp: SentencePiece-style ("llama": score-ordered merges,
// byte fallback) and byte-level BPE ("gpt2": rank-ordered merges after the
// pre-tokenizer named by tokenizer.ggml.pre).
//
//   Tokenizer tok = Tokenizer::from_gguf(reader);
//   std::vector<int32_t> ids = tok.encode(prompt, /*add_special=*/true, /*parse_special=*/true);
//   Detokenizer out(tok);
//   for (int32_t id : generated) { if (tok.is_eog(id)) break; std::cout << out.push(id); }
//   std::cout << out.flush();
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qlm {

class GgufReader;
namespace tok {
struct Vocab;
}

class Tokenizer {
public:
    enum class Kind { kSpm, kBpe };
    static constexpr int32_t kNone = -1;  // "no such token"

    // Reads the vocabulary; the reader may be closed afterwards. Throws
    // qlm::Error naming the key (and token id) for missing, ill-typed or
    // inconsistent metadata, and for models or pre-tokenizers not supported.
    static Tokenizer from_gguf(const GgufReader& reader);

    // Text -> token ids. add_special: BOS/EOS as the metadata asks
    // (tokenizer.ggml.add_bos_token / add_eos_token, defaults as llama.cpp).
    // parse_special: control tokens written in the text (e.g. "<start_of_turn>")
    // become those tokens; user-defined tokens are always matched. Invalid UTF-8
    // is accepted (as llama.cpp does) and never crashes.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
    // A rendered chat template: special tokens parsed; BOS added only when the
    // model adds one and the text does not already start with its text.
    std::vector<int32_t> encode_chat(std::string_view rendered) const;

    // The bytes one token stands for: "▁" -> space, <0xXX> -> that byte, GPT-2
    // byte mapping undone. Control and unknown tokens give their text when
    // `special`, else nothing (llama_token_to_piece). May be part of a UTF-8
    // character. Throws qlm::Error if id is out of range.
    std::string token_to_piece(int32_t id, bool special = true) const;
    // Ids -> text exactly as llama_detokenize: remove_special drops a leading
    // BOS / trailing EOS the tokenizer would add; the leading space SPM adds is
    // removed; BPE vocabularies that ask for it get llama.cpp's space clean-up.
    std::string decode(std::span<const int32_t> ids, bool remove_special = false, bool unparse_special = false) const;

    int32_t n_vocab() const;
    const std::string& token_text(int32_t id) const;  // as stored in the GGUF; throws if out of range
    int32_t token_id(std::string_view text) const;    // kNone if no token has this text
    float token_score(int32_t id) const;
    bool is_control(int32_t id) const;                // control token (rendered only when asked)
    bool is_eog(int32_t id) const;  // ends generation: EOS, EOT, <end_of_turn>, <|im_end|>, <|eot_id|>, ...
    const std::vector<int32_t>& eog_ids() const;

    int32_t bos() const;  // kNone if the vocabulary has none
    int32_t eos() const;
    int32_t eot() const;
    int32_t unk() const;
    int32_t pad() const;
    bool add_bos() const;
    bool add_eos() const;

    Kind kind() const;
    const std::string& model() const;  // tokenizer.ggml.model
    const std::string& pre() const;    // tokenizer.ggml.pre ("" if absent)

private:
    explicit Tokenizer(std::shared_ptr<const tok::Vocab> vocab);
    void check_id(int32_t id) const;
    std::shared_ptr<const tok::Vocab> vocab_;  // immutable: copies share it
};

// Streams generated tokens as text without ever splitting a UTF-8 character:
// bytes of an incomplete character are held until it completes. A sequence
// that cannot complete is emitted as U+FFFD as soon as that is certain, and
// flush() emits whatever is still held (an incomplete tail as U+FFFD).
class Detokenizer {
public:
    explicit Detokenizer(Tokenizer tokenizer, bool render_special = false);
    std::string push(int32_t id);  // complete characters now available
    std::string flush();           // the rest; the stream may go on afterwards

private:
    std::string take_complete(bool at_end);
    Tokenizer tok_;
    bool special_;
    std::string pending_;
};

}  // namespace qlm
