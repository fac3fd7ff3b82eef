// The public Tokenizer: cutting special tokens out of the text, dispatch to
// SPM or BPE per fragment, and detokenization, all as llama.cpp's
// llama_vocab::impl::tokenize / token_to_piece / detokenize.
#include "qlm/tokenizer.h"

#include <algorithm>
#include <bitset>

#include "qlm/error.h"
#include "qlm/gguf.h"
#include "tokenizer/encode.h"
#include "tokenizer/vocab.h"

namespace qlm {
namespace {

using tok::Vocab;

// A fragment of the input: raw text [off, off + len), or one special token.
struct Fragment {
    int32_t token;  // tok::kNoToken for raw text
    size_t off;
    size_t len;
};

// C isspace in the "C" locale (what upstream's lstrip/rstrip use).
bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Cut special tokens out of the text, longest first; each token splits every
// raw fragment at all of its non-overlapping occurrences, left to right.
std::vector<Fragment> partition(const Vocab& v, std::string_view text, bool parse_special) {
    std::vector<Fragment> frags;
    if (text.empty()) return frags;
    frags.push_back({tok::kNoToken, 0, text.size()});
    // Bytes present in the text: a token whose first byte is absent cannot match
    // (a shortcut only; vocabularies have thousands of special tokens).
    std::bitset<256> present;
    for (char c : text) present.set(uint8_t(c));
    std::vector<Fragment> next;
    for (int32_t id : v.special_by_length) {
        const uint32_t attr = v.attr[id];
        if (!parse_special && (attr & (tok::kAttrControl | tok::kAttrUnknown))) continue;  // user-defined: always
        const std::string& needle = v.text[id];
        if (!present.test(uint8_t(needle[0]))) continue;
        bool found = false;
        next.clear();
        for (const Fragment& f : frags) {
            if (f.token != tok::kNoToken) {
                next.push_back(f);
                continue;
            }
            size_t off = f.off, len = f.len;
            while (len > 0) {
                const size_t hit = text.substr(0, off + len).find(needle, off);
                if (hit == std::string_view::npos) {
                    next.push_back({tok::kNoToken, off, len});
                    break;
                }
                found = true;
                size_t left = hit - off;
                if (attr & tok::kAttrLstrip)
                    while (left > 0 && ascii_space(text[off + left - 1])) --left;
                if (left > 0) next.push_back({tok::kNoToken, off, left});
                next.push_back({id, 0, 0});
                size_t right_off = hit + needle.size();
                size_t right_len = off + len - right_off;
                if (attr & tok::kAttrRstrip)
                    while (right_len > 0 && ascii_space(text[right_off])) ++right_off, --right_len;
                off = right_off;
                len = right_len;
            }
        }
        if (found) frags.swap(next);
    }
    return frags;
}

std::string escape_spaces(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 2);
    for (char c : s) {
        if (c == ' ')
            out += "\xe2\x96\x81";
        else
            out.push_back(c);
    }
    return out;
}

// llama.cpp's clean_up_tokenization_spaces passes, kept index for index
// (in place, including how the second pass blanks the space it skips).
void clean_spaces(std::string& text) {
    int32_t total = int32_t(text.size());
    // " ?", " !", " .", " ," -> drop the space
    const int32_t total1 = total;
    total = total ? 1 : 0;
    for (int32_t i = 1; i < total1; ++i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
        text[total++] = x;
    }
    // " ' " -> "'"
    const int32_t total2 = total;
    total = total ? 1 : 0;
    for (int32_t i = 1; i < total2; ++i) {
        const char x = text[i];
        if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            total--;
            text[++i] = '\0';
        }
        text[total++] = x;
    }
    // " 's", " 'm", " 're", " 've" -> drop the space
    const int32_t total3 = total;
    total = total ? 1 : 0;
    for (int32_t i = 1; i < total3; ++i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
            const char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                total--;
            } else if (x1 != 't' && x1 != 'd' && i + 2 < total3) {
                const char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) total--;
            }
        }
        text[total++] = x;
    }
    text.resize(size_t(total));
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const tok::Vocab> vocab) : vocab_(std::move(vocab)) {}

Tokenizer Tokenizer::from_gguf(const GgufReader& reader) {
    return Tokenizer(std::make_shared<const Vocab>(Vocab::from_gguf(reader)));
}

void Tokenizer::check_id(int32_t id) const {
    if (id < 0 || id >= vocab_->n_tokens())
        fail("tokenizer: token id ", id, " is outside the vocabulary of ", vocab_->n_tokens(), " tokens");
}

std::vector<int32_t> Tokenizer::encode_chat(std::string_view rendered) const {
    std::vector<int32_t> ids = encode(rendered, false, true);
    if (add_bos() && bos() != kNone) {
        const std::string& b = token_text(bos());
        if (b.empty() || rendered.substr(0, b.size()) != b) ids.insert(ids.begin(), bos());
    }
    return ids;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    const Vocab& v = *vocab_;
    std::vector<int32_t> out;
    const std::vector<Fragment> frags = partition(v, text, parse_special);
    if (add_special && v.add_bos) out.push_back(v.bos);
    if (v.kind == tok::VocabKind::kSpm) {
        bool prev_special = true;  // the first fragment gets the space prefix too
        for (const Fragment& f : frags) {
            if (f.token != tok::kNoToken) {
                out.push_back(f.token);
                prev_special = true;
                continue;
            }
            std::string piece = v.add_space_prefix && prev_special ? " " : "";
            piece += text.substr(f.off, f.len);
            tok::spm_encode(v, escape_spaces(piece), out);
            prev_special = false;
        }
    } else {
        for (const Fragment& f : frags) {
            if (f.token != tok::kNoToken)
                out.push_back(f.token);
            else
                tok::bpe_encode(v, text.substr(f.off, f.len), out);
        }
    }
    if (add_special && v.add_eos) out.push_back(v.eos);
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
    check_id(id);
    if (!special && (vocab_->attr[id] & (tok::kAttrControl | tok::kAttrUnknown))) return {};
    return vocab_->piece[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool remove_special, bool unparse_special) const {
    const Vocab& v = *vocab_;
    bool remove_space = v.add_space_prefix;
    if (remove_special && v.add_bos && !ids.empty() && ids.front() == v.bos) {
        remove_space = false;
        ids = ids.subspan(1);
    }
    if (remove_special && v.add_eos && !ids.empty() && ids.back() == v.eos) ids = ids.first(ids.size() - 1);

    std::string text;
    for (int32_t id : ids) {
        std::string piece = token_to_piece(id, unparse_special);
        if (remove_space && !piece.empty() && piece.front() == ' ') piece.erase(0, 1);
        remove_space = false;
        text += piece;
    }
    if (v.clean_spaces) clean_spaces(text);
    return text;
}

int32_t Tokenizer::n_vocab() const { return vocab_->n_tokens(); }

const std::string& Tokenizer::token_text(int32_t id) const {
    check_id(id);
    return vocab_->text[id];
}

int32_t Tokenizer::token_id(std::string_view text) const { return vocab_->find(text); }

float Tokenizer::token_score(int32_t id) const {
    check_id(id);
    return vocab_->score[id];
}

bool Tokenizer::is_control(int32_t id) const {
    check_id(id);
    return (vocab_->attr[id] & tok::kAttrControl) != 0;
}

bool Tokenizer::is_eog(int32_t id) const {
    return std::binary_search(vocab_->eog.begin(), vocab_->eog.end(), id);
}

const std::vector<int32_t>& Tokenizer::eog_ids() const { return vocab_->eog; }
int32_t Tokenizer::bos() const { return vocab_->bos; }
int32_t Tokenizer::eos() const { return vocab_->eos; }
int32_t Tokenizer::eot() const { return vocab_->eot; }
int32_t Tokenizer::unk() const { return vocab_->unk; }
int32_t Tokenizer::pad() const { return vocab_->pad; }
bool Tokenizer::add_bos() const { return vocab_->add_bos; }
bool Tokenizer::add_eos() const { return vocab_->add_eos; }
Tokenizer::Kind Tokenizer::kind() const { return vocab_->kind == tok::VocabKind::kSpm ? Kind::kSpm : Kind::kBpe; }
const std::string& Tokenizer::model() const { return vocab_->model; }
const std::string& Tokenizer::pre() const { return vocab_->pre; }

}  // namespace qlm
