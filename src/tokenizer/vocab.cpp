// Reading the vocabulary from GGUF and deriving what llama.cpp derives at load
// time (llama-vocab.cpp, llama_vocab::impl::load): defaults per model type,
// pre-tokenizer per tokenizer.ggml.pre, end-of-generation tokens found by
// their text, the special-token cut order and the per-token piece cache.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "qlm/error.h"
#include "qlm/gguf.h"
#include "tokenizer/unicode.h"

namespace qlm::tok {
namespace {

constexpr std::string_view kTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kScores = "tokenizer.ggml.scores";
constexpr std::string_view kTokenType = "tokenizer.ggml.token_type";
constexpr std::string_view kMerges = "tokenizer.ggml.merges";

// GGUF token types (tokenizer.ggml.token_type) -> attributes.
uint32_t attr_of_type(int64_t type) {
    switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
    }
}

struct PreInfo {
    std::vector<std::string_view> names;
    std::vector<Split> splits;
    bool clean_spaces = true;
    bool ignore_merges = false;
    bool add_bos = false;  // forces add_bos (before the metadata may override it)
    bool no_bos = false;   // no default BOS token
};

const std::vector<PreInfo>& pre_table() {
    using S = Split;
    static const std::vector<PreInfo> table = {
        {{"default", ""}, {S::kPunctRuns, S::kGpt2, S::kNumberRuns, S::kAsciiDigit3}},
        {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"},
         {S::kLlama3}, true, true, true},
        {{"dbrx", "smaug-bpe"}, {S::kLlama3}},
        {{"chatglm-bpe"}, {S::kLlama3}, true, false, false, true},
        {{"glm4", "glm5"}, {S::kLlama3}, true, true, false, true},
        {{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
          "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "exaone4"},
         {S::kGpt2}},
        {{"trillion", "granite-docling"}, {S::kGpt2}, false},
        {{"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"}, {S::kEachNumber, S::kGpt2}},
        {{"command-r", "smollm"}, {S::kEachNumber, S::kGpt2}, false},
        {{"falcon"}, {S::kPunctRunsFalcon, S::kGpt2, S::kAsciiDigit3}},
        {{"stablelm2", "megrez"}, {S::kQwen2}},
        {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"}, {S::kQwen2}, false},
        {{"qwen35"}, {S::kQwen35}, false},
        {{"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"}, {S::kGpt4o}, false},
        {{"deepseek-coder"}, {S::kEachCrLf, S::kSpaceLetters, S::kSpacePunct, S::kCjkRuns, S::kEachNumber}, false},
    };
    return table;
}

const GgufKV* find_kv(const GgufReader& r, std::string_view key) {
    for (const GgufKV& kv : r.metadata())
        if (kv.key == key) return &kv;
    return nullptr;
}

[[noreturn]] void fail_key(const GgufReader& r, std::string_view key, const std::string& what) {
    const GgufKV* kv = find_kv(r, key);
    if (kv) fail(r.path(), ": offset ", kv->offset, ": key '", key, "': ", what);
    fail(r.path(), ": key '", key, "': ", what);
}

// An array key whose elements must all be of one of the given types.
const GgufValue* typed_array(const GgufReader& r, std::string_view key, std::initializer_list<GgufValueType> types,
                             const char* what, bool required) {
    const GgufValue* v = r.find(key);
    if (!v) {
        if (required) fail(r.path(), ": missing metadata key '", key, "'");
        return nullptr;
    }
    if (v->type != GgufValueType::ARRAY ||
        std::find(types.begin(), types.end(), v->elem_type) == types.end())
        fail_key(r, key, cat("expected an array of ", what, ", found ",
                             v->type == GgufValueType::ARRAY ? "an array of " : "",
                             gguf_value_type_name(v->type == GgufValueType::ARRAY ? v->elem_type : v->type)));
    return v;
}

void read_tokens(const GgufReader& r, Vocab& v) {
    const GgufValue* tokens = typed_array(r, kTokens, {GgufValueType::STRING}, "STRING", true);
    const size_t n = tokens->items.size();
    if (n == 0) fail_key(r, kTokens, "no tokens");
    if (n > size_t(INT32_MAX)) fail_key(r, kTokens, cat(n, " tokens do not fit 32-bit ids"));

    const GgufValue* scores =
        typed_array(r, kScores, {GgufValueType::FLOAT32, GgufValueType::INT32}, "FLOAT32 or INT32", false);
    if (scores && scores->items.size() < n)
        fail_key(r, kScores, cat(scores->items.size(), " scores for ", n, " tokens"));
    const GgufValue* types = typed_array(r, kTokenType, {GgufValueType::INT32}, "INT32", false);
    if (types && types->items.size() < n)
        fail_key(r, kTokenType, cat(types->items.size(), " token types for ", n, " tokens"));

    v.text.resize(n);
    v.score.assign(n, 0.0f);
    v.attr.assign(n, kAttrNormal);
    // No reserve(): filled one by one like llama.cpp's map, it iterates in the
    // same order, which decides ties in detect_by_text.
    for (size_t i = 0; i < n; ++i) {
        std::string word = tokens->items[i].str;
        if (word.empty()) word = cat("[EMPTY_", i, "]");  // as llama.cpp
        auto [it, fresh] = v.to_id.try_emplace(word, int32_t(i));
        if (!fresh) fail_key(r, kTokens, cat("token ", i, " '", word, "' repeats token ", it->second));
        v.text[i] = std::move(word);
        if (scores) {
            const GgufValue& s = scores->items[i];
            v.score[i] = s.type == GgufValueType::INT32 ? float(s.i) : float(s.f);
        }
        if (types) v.attr[i] = attr_of_type(types->items[i].i);
    }
}

void read_merges(const GgufReader& r, Vocab& v) {
    const GgufValue* merges = typed_array(r, kMerges, {GgufValueType::STRING}, "STRING", true);
    v.merge_rank.reserve(merges->items.size());
    for (size_t i = 0; i < merges->items.size(); ++i) {
        const std::string& m = merges->items[i].str;
        const size_t space = m.find(' ', 1);
        if (space == std::string::npos) fail_key(r, kMerges, cat("merge ", i, " '", m, "' is not 'left right'"));
        const std::string_view left = std::string_view(m).substr(0, space);
        const std::string_view right = std::string_view(m).substr(space + 1);
        if (v.find(left) == kNoToken || v.find(right) == kNoToken)
            fail_key(r, kMerges, cat("merge ", i, " '", m, "' names a token not in the vocabulary"));
        v.merge_rank.try_emplace(m, int32_t(i));  // the first of duplicates wins, as upstream
    }
}

void read_special_id(const GgufReader& r, const Vocab& v, std::string_view key, int32_t& id) {
    if (id >= v.n_tokens()) id = kNoToken;  // a default that does not fit is dropped, as upstream
    if (!r.find(key)) return;
    int64_t value = 0;
    try {
        value = r.get_i64(key);
    } catch (const Error&) {
        fail_key(r, key, "expected an integer token id");
    }
    if (value < 0 || value >= v.n_tokens())
        fail_key(r, key, cat("token id ", value, " is outside the vocabulary of ", v.n_tokens(), " tokens"));
    id = int32_t(value);
}

bool read_bool(const GgufReader& r, std::string_view key, bool fallback) {
    if (!r.find(key)) return fallback;
    try {
        return r.get_bool(key);
    } catch (const Error&) {
        fail_key(r, key, "expected a BOOL");
    }
}

// Tokens that end generation and the special ids llama.cpp infers from token
// text when the metadata does not name them.
void detect_by_text(Vocab& v) {
    struct Guess {
        int32_t* id;
        std::initializer_list<std::string_view> texts;
    };
    const Guess guesses[] = {
        {&v.eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
                  "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"}},
        {&v.eom, {"<|eom_id|>"}},
        {&v.fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                      "<|code_prefix|>", "<|prefix|>"}},
        {&v.fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                      "<|code_suffix|>", "<|suffix|>"}},
        {&v.fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
                      "<|code_middle|>", "<|middle|>"}},
        {&v.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}},
        {&v.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}},
        {&v.fim_sep, {"<|file_sep|>"}},
    };
    // The first match in map order wins, as upstream (so ties go the same way).
    for (const auto& [text, id] : v.to_id) {
        for (const Guess& g : guesses) {
            if (*g.id == kNoToken && std::find(g.texts.begin(), g.texts.end(), text) != g.texts.end()) {
                *g.id = id;
                v.attr[id] |= kAttrControl;
            }
        }
    }

    std::vector<int32_t> eog;
    for (int32_t id : {v.fim_pad, v.fim_rep, v.fim_sep})
        if (id != kNoToken) eog.push_back(id);
    static const std::vector<std::string_view> kEogText = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
        "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
        "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<｜end▁of▁sentence｜>", "[e~["};
    for (int32_t t = 0; t < v.n_tokens(); ++t) {
        const std::string& s = v.text[t];
        if (std::find(kEogText.begin(), kEogText.end(), s) != kEogText.end()) {
            eog.push_back(t);
            v.attr[t] |= kAttrControl;
        }
        // gpt-oss: always rendered
        if (s == "<|channel|>" || s == "<|message|>" || s == "<|start|>" || s == "<|constrain|>")
            v.attr[t] = kAttrUserDefined;
    }
    for (int32_t id : {v.eos, v.eot, v.eom})
        if (id != kNoToken) eog.push_back(id);
    std::sort(eog.begin(), eog.end());
    eog.erase(std::unique(eog.begin(), eog.end()), eog.end());

    const auto eog_with = [&](std::string_view s) {
        for (int32_t id : eog)
            if (v.text[id] == s) return id;
        return kNoToken;
    };
    const auto drop = [&](int32_t id, uint32_t attr) {
        eog.erase(std::find(eog.begin(), eog.end(), id));
        v.attr[id] = attr;
    };
    // o200k_harmony and solar-open: <|end|> ends a message, not generation.
    const bool has_call = eog_with("<|call|>") != kNoToken || eog_with("<|calls|>") != kNoToken;
    if (const int32_t end = eog_with("<|end|>");
        end != kNoToken && has_call && (eog_with("<|return|>") != kNoToken || eog_with("<|flush|>") != kNoToken))
        drop(end, kAttrUserDefined);
    // gemma4 and plamo: </s> is a normal token.
    if (const int32_t s = eog_with("</s>");
        s != kNoToken && (eog_with("<|tool_response>") != kNoToken || eog_with("<|plamo:eos|>") != kNoToken))
        drop(s, kAttrNormal);
    v.eog = std::move(eog);
}

// Per-model attribute fix-ups llama.cpp applies by model name.
void model_specific_attrs(const GgufReader& r, Vocab& v) {
    std::string name = r.get_string_or("general.name", "");
    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return char(std::tolower(uint8_t(c))); });
    const auto set = [&](std::string_view text, uint32_t bit, bool on) {
        const int32_t id = v.find(text);
        if (id == kNoToken) return;
        v.attr[id] = on ? (v.attr[id] | bit) : (v.attr[id] & ~bit);
    };
    if (v.pre.find("jina-v2-de") != std::string::npos || v.pre.find("jina-v2-es") != std::string::npos ||
        v.pre.find("jina-v2-code") != std::string::npos) {
        set("<mask>", kAttrLstrip, true);
    } else if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
        for (int32_t id : v.special_by_length) v.attr[id] |= kAttrRstrip;
        set("</s>", kAttrRstrip, true);
        for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, kAttrRstrip, false);
    } else if (name.find("modern-bert") != std::string::npos) {
        set("[MASK]", kAttrLstrip, true);
    }
}

// llama_decode_text: undo the GPT-2 byte mapping of a BPE token's text.
std::string gpt2_decode(const std::string& text) {
    std::string out;
    for (uint32_t cpt : utf8_to_cpts(text)) {
        const int b = gpt2_cpt_to_byte(cpt);
        if (b >= 0) {
            out.push_back(char(b));
            continue;
        }
        std::string utf8;
        append_utf8(utf8, cpt);
        out += "[UNK_BYTE_0x";
        static const char* hex = "0123456789abcdef";
        for (char c : utf8) {
            out.push_back(hex[uint8_t(c) >> 4]);
            out.push_back(hex[uint8_t(c) & 15]);
        }
        out += text + "]";
    }
    return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    std::string out;
    size_t pos = 0;
    for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
        out.append(s, pos, hit - pos);
        out += to;
    }
    out.append(s, pos);
    return out;
}

std::string piece_of(const Vocab& v, int32_t id) {
    const uint32_t a = v.attr[id];
    const std::string& t = v.text[id];
    if (a & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t;
    if (a & kAttrNormal) return v.kind == VocabKind::kSpm ? replace_all(t, "\xe2\x96\x81", " ") : gpt2_decode(t);
    if (a & kAttrByte) return std::string(1, char(v.token_byte(id)));
    return {};  // unused and undefined tokens render as nothing
}

}  // namespace

int32_t Vocab::merge(std::string_view left, std::string_view right, std::string& scratch) const {
    scratch.assign(left);
    scratch.push_back(' ');
    scratch.append(right);
    auto it = merge_rank.find(std::string_view(scratch));
    return it == merge_rank.end() ? kNoToken : it->second;
}

int32_t Vocab::byte_token(uint8_t byte) const {
    if (kind == VocabKind::kBpe) return find(gpt2_byte_to_utf8(byte));
    static const char* hex = "0123456789ABCDEF";
    const char buf[6] = {'<', '0', 'x', hex[byte >> 4], hex[byte & 15], '>'};
    const int32_t id = find(std::string_view(buf, 6));
    return id != kNoToken ? id : find(std::string_view(reinterpret_cast<const char*>(&byte), 1));
}

uint8_t Vocab::token_byte(int32_t id) const {
    // "<0xXX>"; like strtol, stop at the first non-hex digit.
    const std::string& t = text[id];
    unsigned value = 0;
    for (size_t i = 3; i < 5 && i < t.size(); ++i) {
        const char c = t[i];
        const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) break;
        value = value * 16 + unsigned(d);
    }
    return uint8_t(value);
}

Vocab Vocab::from_gguf(const GgufReader& r) {
    Vocab v;
    v.model = r.get_string("tokenizer.ggml.model");
    v.pre = r.get_string_or("tokenizer.ggml.pre", "");

    const PreInfo* pre = nullptr;
    if (v.model == "llama") {
        v.kind = VocabKind::kSpm;
        v.bos = 1, v.eos = 2, v.unk = 0;
        v.add_space_prefix = true;
        v.add_bos = true;
    } else if (v.model == "gpt2") {
        v.kind = VocabKind::kBpe;
        v.bos = 11, v.eos = 11;
        for (const PreInfo& p : pre_table())
            if (std::find(p.names.begin(), p.names.end(), v.pre) != p.names.end()) pre = &p;
        if (!pre) fail_key(r, "tokenizer.ggml.pre", cat("unsupported pre-tokenizer '", v.pre, "'"));
        v.splits = pre->splits;
        v.clean_spaces = pre->clean_spaces;
        v.ignore_merges = pre->ignore_merges;
        v.add_bos = pre->add_bos;
        if (pre->no_bos) v.bos = kNoToken;
    } else {
        fail_key(r, "tokenizer.ggml.model", cat("unsupported tokenizer model '", v.model, "' (supported: llama, gpt2)"));
    }
    v.add_space_prefix = read_bool(r, "tokenizer.ggml.add_space_prefix", v.add_space_prefix);

    read_tokens(r, v);
    if (v.kind == VocabKind::kBpe) read_merges(r, v);

    const std::pair<std::string_view, int32_t*> ids[] = {
        {"tokenizer.ggml.bos_token_id", &v.bos},         {"tokenizer.ggml.eos_token_id", &v.eos},
        {"tokenizer.ggml.eot_token_id", &v.eot},         {"tokenizer.ggml.eom_token_id", &v.eom},
        {"tokenizer.ggml.unknown_token_id", &v.unk},     {"tokenizer.ggml.seperator_token_id", &v.sep},
        {"tokenizer.ggml.padding_token_id", &v.pad},     {"tokenizer.ggml.mask_token_id", &v.mask},
        {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep},
        {"tokenizer.ggml.prefix_token_id", &v.fim_pre},  {"tokenizer.ggml.suffix_token_id", &v.fim_suf},
        {"tokenizer.ggml.middle_token_id", &v.fim_mid},
    };
    for (const auto& [key, id] : ids) read_special_id(r, v, key, *id);
    v.add_bos = read_bool(r, "tokenizer.ggml.add_bos_token", v.add_bos);
    v.add_eos = read_bool(r, "tokenizer.ggml.add_eos_token", v.add_eos);
    if (v.add_bos && v.bos == kNoToken)
        fail(r.path(), ": tokenizer.ggml.add_bos_token is set but the vocabulary has no BOS token");
    if (v.add_eos && v.eos == kNoToken)
        fail(r.path(), ": tokenizer.ggml.add_eos_token is set but the vocabulary has no EOS token");

    detect_by_text(v);

    for (int32_t id = 0; id < v.n_tokens(); ++id)
        if (v.attr[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) v.special_by_length.push_back(id);
    // std::sort, not stable_sort: ties keep the order llama.cpp's std::sort gives them.
    std::sort(v.special_by_length.begin(), v.special_by_length.end(),
              [&](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });

    v.piece.resize(v.text.size());
    for (int32_t id = 0; id < v.n_tokens(); ++id) v.piece[id] = piece_of(v, id);

    model_specific_attrs(r, v);
    return v;
}

}  // namespace qlm::tok
