// Tokenizer unit tests on small crafted vocabularies: SPM merges and byte
// fallback, BPE merges, special tokens, the streaming detokenizer, and the
// errors for bad metadata.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "qlm/error.h"
#include "qlm/gguf.h"
#include "qlm/tokenizer.h"

namespace {

using qlm::GgufValue;
using qlm::GgufValueType;

GgufValue strings(const std::vector<std::string>& v) {
    std::vector<GgufValue> items;
    for (const auto& s : v) items.push_back(GgufValue::of_string(s));
    return GgufValue::of_array(GgufValueType::STRING, std::move(items));
}
GgufValue floats(const std::vector<float>& v) {
    std::vector<GgufValue> items;
    for (float f : v) items.push_back(GgufValue::of_f32(f));
    return GgufValue::of_array(GgufValueType::FLOAT32, std::move(items));
}
GgufValue ints(const std::vector<int32_t>& v) {
    std::vector<GgufValue> items;
    for (int32_t i : v) items.push_back(GgufValue::of_i32(i));
    return GgufValue::of_array(GgufValueType::INT32, std::move(items));
}

// A GGUF in memory built from key/values that tests can replace or drop, to
// break one thing at a time.
struct Crafted {
    std::vector<std::pair<std::string, GgufValue>> kvs;
    std::vector<uint8_t> bytes;

    void set(const std::string& key, GgufValue v) {
        for (auto& kv : kvs)
            if (kv.first == key) {
                kv.second = std::move(v);
                return;
            }
        kvs.emplace_back(key, std::move(v));
    }
    void drop(const std::string& key) {
        std::erase_if(kvs, [&](const auto& kv) { return kv.first == key; });
    }
    qlm::Tokenizer load() {
        qlm::GgufWriter w;
        for (const auto& [k, v] : kvs) w.add(k, v);
        bytes = w.to_bytes();
        return qlm::Tokenizer::from_gguf(qlm::GgufReader::from_memory(bytes, "crafted.gguf"));
    }
};

constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6;

// SPM: <unk> <s> </s>, 256 byte tokens, then pieces with scores.
Crafted spm_vocab() {
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<float> scores = {0, 0, 0};
    std::vector<int32_t> types = {kUnknown, kControl, kControl};
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        tokens.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
        scores.push_back(0);
        types.push_back(kByte);
    }
    const std::pair<const char*, float> pieces[] = {
        {"\xe2\x96\x81", -1}, {"a", -2}, {"b", -2}, {"c", -2}, {"ab", -3}, {"bc", -1},
        {"\xe2\x96\x81" "a", -4}, {"abc", -5}, {"<turn>", 0}, {"\n", 0}};
    for (const auto& [text, score] : pieces) {
        tokens.push_back(text);
        scores.push_back(score);
        types.push_back(std::string(text) == "<turn>" ? kControl : std::string(text) == "\n" ? kUserDefined : kNormal);
    }
    Crafted c;
    c.set("general.architecture", GgufValue::of_string("llama"));
    c.set("tokenizer.ggml.model", GgufValue::of_string("llama"));
    c.set("tokenizer.ggml.tokens", strings(tokens));
    c.set("tokenizer.ggml.scores", floats(scores));
    c.set("tokenizer.ggml.token_type", ints(types));
    c.set("tokenizer.ggml.bos_token_id", GgufValue::of_u32(1));
    c.set("tokenizer.ggml.eos_token_id", GgufValue::of_u32(2));
    return c;
}

int32_t id_of(const qlm::Tokenizer& t, const std::string& s) {
    const int32_t id = t.token_id(s);
    EXPECT_NE(id, qlm::Tokenizer::kNone) << s;
    return id;
}

TEST(Spm, MergesByScoreWithSpacePrefix) {
    const qlm::Tokenizer t = spm_vocab().load();
    // " abc" -> "▁abc": "bc" (-1) merges first, then "▁a" (-4) beats "abc" (-5).
    EXPECT_EQ(t.encode("abc", false, false), (std::vector<int32_t>{id_of(t, "\xe2\x96\x81" "a"), id_of(t, "bc")}));
    EXPECT_EQ(t.encode("abc", true, false).front(), 1);
    EXPECT_EQ(t.encode("", true, false), std::vector<int32_t>{1});
    EXPECT_TRUE(t.encode("", false, false).empty());
    EXPECT_EQ(t.decode(t.encode("ab c", false, false)), "ab c");  // the space prefix is dropped again
    // As llama_detokenize: only a first token's space is dropped, and a BOS counts as first.
    EXPECT_EQ(t.decode(t.encode("ab c", true, false), true, false), " ab c");
}

TEST(Spm, ByteFallbackForUnknownCharacters) {
    const qlm::Tokenizer t = spm_vocab().load();
    // "é" is not a piece: its two UTF-8 bytes become <0xC3><0xA9>.
    const auto ids = t.encode("é", false, false);
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[1], id_of(t, "<0xC3>"));
    EXPECT_EQ(ids[2], id_of(t, "<0xA9>"));
    EXPECT_EQ(t.token_to_piece(ids[1]), "\xC3");
    EXPECT_EQ(t.decode(ids), "é");  // the space prefix is removed again
}

TEST(Spm, SpecialTokensInText) {
    const qlm::Tokenizer t = spm_vocab().load();
    const int32_t turn = id_of(t, "<turn>"), nl = id_of(t, "\n");
    const auto parsed = t.encode("a<turn>b", false, true);
    EXPECT_EQ(parsed, (std::vector<int32_t>{id_of(t, "\xe2\x96\x81" "a"), turn, id_of(t, "\xe2\x96\x81"), id_of(t, "b")}));
    // Not parsed: control tokens are plain text; user-defined ones always match.
    const auto plain = t.encode("a<turn>", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), turn), 0);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), id_of(t, "<0x3C>")), 1);
    const auto with_nl = t.encode("a\nb", false, false);
    EXPECT_EQ(std::count(with_nl.begin(), with_nl.end(), nl), 1);
    EXPECT_EQ(t.token_to_piece(turn, true), "<turn>");
    EXPECT_EQ(t.token_to_piece(turn, false), "");
    EXPECT_TRUE(t.is_control(turn));
    EXPECT_TRUE(t.is_eog(2));  // </s>: eos
    EXPECT_FALSE(t.is_eog(turn));
}

TEST(Spm, AddBosAndAddEosFromMetadata) {
    Crafted c = spm_vocab();
    c.set("tokenizer.ggml.add_bos_token", GgufValue::of_bool(false));
    c.set("tokenizer.ggml.add_eos_token", GgufValue::of_bool(true));
    c.set("tokenizer.ggml.add_space_prefix", GgufValue::of_bool(false));
    const qlm::Tokenizer t = c.load();
    EXPECT_EQ(t.encode("a", true, false), (std::vector<int32_t>{id_of(t, "a"), 2}));
    EXPECT_EQ(t.encode("a", false, false), (std::vector<int32_t>{id_of(t, "a")}));
}

// BPE: every GPT-2 byte stand-in is a token, plus merges h e -> he, he l -> hel, ...
Crafted bpe_vocab() {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) {
        uint32_t cpt = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE) ? uint32_t(b) : 0;
        if (!cpt) {
            int n = 0;
            for (int x = 0; x < b; ++x)
                if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) ++n;
            cpt = 256 + uint32_t(n);
        }
        std::string s;
        if (cpt < 0x80) {
            s.push_back(char(cpt));
        } else {
            s.push_back(char(0xC0 | (cpt >> 6)));
            s.push_back(char(0x80 | (cpt & 0x3F)));
        }
        tokens.push_back(s);
    }
    for (const char* t : {"he", "hel", "hell", "hello", "\xc4\xa0" "w", "\xc4\xa0" "wo", "<|end|>"}) tokens.push_back(t);
    std::vector<int32_t> types(tokens.size(), kNormal);
    types.back() = kControl;
    Crafted c;
    c.set("general.architecture", GgufValue::of_string("gpt2"));
    c.set("tokenizer.ggml.model", GgufValue::of_string("gpt2"));
    c.set("tokenizer.ggml.pre", GgufValue::of_string("gpt-2"));
    c.set("tokenizer.ggml.tokens", strings(tokens));
    c.set("tokenizer.ggml.token_type", ints(types));
    c.set("tokenizer.ggml.merges",
          strings({"h e", "he l", "hel l", "hell o", "\xc4\xa0 w", "\xc4\xa0w o"}));
    c.set("tokenizer.ggml.bos_token_id", GgufValue::of_u32(uint32_t(tokens.size() - 1)));
    c.set("tokenizer.ggml.eos_token_id", GgufValue::of_u32(uint32_t(tokens.size() - 1)));
    return c;
}

TEST(Bpe, MergesByRankAfterPretokenization) {
    const qlm::Tokenizer t = bpe_vocab().load();
    EXPECT_EQ(t.kind(), qlm::Tokenizer::Kind::kBpe);
    EXPECT_EQ(t.encode("hello world", false, false),
              (std::vector<int32_t>{id_of(t, "hello"), id_of(t, "\xc4\xa0" "wo"), id_of(t, "r"), id_of(t, "l"),
                                    id_of(t, "d")}));
    EXPECT_EQ(t.decode(t.encode("hello world", false, false)), "hello world");
    EXPECT_EQ(t.token_to_piece(id_of(t, "\xc4\xa0" "w")), " w");
    const auto ids = t.encode("x<|end|>", false, true);
    EXPECT_EQ(ids, (std::vector<int32_t>{id_of(t, "x"), id_of(t, "<|end|>")}));
    EXPECT_TRUE(t.is_eog(id_of(t, "<|end|>")));
}

// --- streaming detokenizer -------------------------------------------------

TEST(Detokenizer, HoldsSplitCharactersUntilComplete) {
    const qlm::Tokenizer t = spm_vocab().load();
    qlm::Detokenizer d(t);
    // U+1F999 (llama emoji) as four byte-fallback tokens.
    EXPECT_EQ(d.push(id_of(t, "<0xF0>")), "");
    EXPECT_EQ(d.push(id_of(t, "<0x9F>")), "");
    EXPECT_EQ(d.push(id_of(t, "<0xA6>")), "");
    EXPECT_EQ(d.push(id_of(t, "<0x99>")), "\xF0\x9F\xA6\x99");
    // "é" split across two tokens, then a normal token.
    EXPECT_EQ(d.push(id_of(t, "<0xC3>")), "");
    EXPECT_EQ(d.push(id_of(t, "<0xA9>")), "é");
    EXPECT_EQ(d.push(id_of(t, "ab")), "ab");
    EXPECT_EQ(d.flush(), "");
}

TEST(Detokenizer, ByteFallbackOfAnEncodedEmoji) {
    const qlm::Tokenizer t = spm_vocab().load();
    const auto ids = t.encode("a\xF0\x9F\xA6\x99", false, false);  // ▁a + 4 byte tokens
    ASSERT_EQ(ids.size(), 5u);
    qlm::Detokenizer d(t);
    std::vector<std::string> chunks;
    for (int32_t id : ids) chunks.push_back(d.push(id));
    EXPECT_EQ(chunks, (std::vector<std::string>{" a", "", "", "", "\xF0\x9F\xA6\x99"}));
    EXPECT_EQ(d.flush(), "");
}

TEST(Detokenizer, InvalidBytesBecomeReplacementCharacters) {
    const qlm::Tokenizer t = spm_vocab().load();
    const std::string fffd = "\xEF\xBF\xBD";
    qlm::Detokenizer d(t);
    EXPECT_EQ(d.push(id_of(t, "<0xFF>")), fffd);          // never valid: at once
    EXPECT_EQ(d.push(id_of(t, "<0x80>")), fffd);          // stray continuation byte
    EXPECT_EQ(d.push(id_of(t, "<0xE2>")), "");            // may still complete
    EXPECT_EQ(d.push(id_of(t, "a")), fffd + "a");         // ...but did not
    EXPECT_EQ(d.push(id_of(t, "<0xED>")), "");
    EXPECT_EQ(d.push(id_of(t, "<0xA0>")), fffd + fffd);   // would be a surrogate
    EXPECT_EQ(d.push(id_of(t, "<0xF0>")), "");
    EXPECT_EQ(d.push(id_of(t, "<0x9F>")), "");
    EXPECT_EQ(d.flush(), fffd);                           // cut short at the end
    EXPECT_EQ(d.push(id_of(t, "b")), "b");                // and the stream goes on
}

TEST(Detokenizer, ControlTokensOnlyWhenAsked) {
    const qlm::Tokenizer t = spm_vocab().load();
    qlm::Detokenizer plain(t), special(t, true);
    EXPECT_EQ(plain.push(id_of(t, "<turn>")), "");
    EXPECT_EQ(special.push(id_of(t, "<turn>")), "<turn>");
}

// --- errors ----------------------------------------------------------------

void expect_error(Crafted c, const std::vector<std::string>& parts) {
    try {
        c.load();
        ADD_FAILURE() << "no error; expected one mentioning " << parts.front();
    } catch (const qlm::Error& e) {
        for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
}

TEST(TokenizerErrors, MissingOrIllTypedMetadata) {
    Crafted c = spm_vocab();
    c.drop("tokenizer.ggml.model");
    expect_error(c, {"tokenizer.ggml.model"});

    c = spm_vocab();
    c.drop("tokenizer.ggml.tokens");
    expect_error(c, {"tokenizer.ggml.tokens", "missing"});

    c = spm_vocab();
    c.set("tokenizer.ggml.tokens", ints({1, 2, 3}));
    expect_error(c, {"tokenizer.ggml.tokens", "STRING"});

    c = spm_vocab();
    c.set("tokenizer.ggml.scores", floats({0, 0}));
    expect_error(c, {"tokenizer.ggml.scores", "2 scores"});

    c = spm_vocab();
    c.set("tokenizer.ggml.token_type", strings({"x"}));
    expect_error(c, {"tokenizer.ggml.token_type", "INT32"});

    c = spm_vocab();
    c.set("tokenizer.ggml.add_bos_token", GgufValue::of_string("yes"));
    expect_error(c, {"tokenizer.ggml.add_bos_token"});

    c = spm_vocab();
    c.set("tokenizer.ggml.model", GgufValue::of_string("bert"));
    expect_error(c, {"tokenizer.ggml.model", "bert"});

    c = spm_vocab();
    c.set("tokenizer.ggml.tokens", strings({"a", "b", "a"}));
    c.drop("tokenizer.ggml.scores");
    c.drop("tokenizer.ggml.token_type");
    expect_error(c, {"tokenizer.ggml.tokens", "token 2", "repeats token 0"});
}

TEST(TokenizerErrors, TokenIdsOutOfRange) {
    Crafted c = spm_vocab();
    c.set("tokenizer.ggml.eos_token_id", GgufValue::of_u32(100000));
    expect_error(c, {"tokenizer.ggml.eos_token_id", "100000"});

    c = spm_vocab();
    c.set("tokenizer.ggml.bos_token_id", GgufValue::of_i32(-5));
    expect_error(c, {"tokenizer.ggml.bos_token_id", "-5"});

    const qlm::Tokenizer t = spm_vocab().load();
    EXPECT_THROW(t.token_to_piece(-1), qlm::Error);
    EXPECT_THROW(t.token_to_piece(t.n_vocab()), qlm::Error);
    EXPECT_THROW(t.token_text(t.n_vocab()), qlm::Error);
    const std::vector<int32_t> bad = {1, 999999};
    try {
        (void)t.decode(bad);
        ADD_FAILURE() << "decode of an unknown id did not throw";
    } catch (const qlm::Error& e) {
        EXPECT_NE(std::string(e.what()).find("999999"), std::string::npos) << e.what();
    }
    qlm::Detokenizer d(t);
    EXPECT_THROW(d.push(-3), qlm::Error);
}

TEST(TokenizerErrors, BadMerges) {
    Crafted c = bpe_vocab();
    c.drop("tokenizer.ggml.merges");
    expect_error(c, {"tokenizer.ggml.merges", "missing"});

    c = bpe_vocab();
    c.set("tokenizer.ggml.merges", strings({"h e", "q zz"}));
    expect_error(c, {"tokenizer.ggml.merges", "merge 1", "q zz"});

    c = bpe_vocab();
    c.set("tokenizer.ggml.merges", strings({"hello"}));
    expect_error(c, {"tokenizer.ggml.merges", "merge 0"});

    c = bpe_vocab();
    c.set("tokenizer.ggml.pre", GgufValue::of_string("no-such-pre"));
    expect_error(c, {"tokenizer.ggml.pre", "no-such-pre"});
}

TEST(TokenizerErrors, ArbitraryBytesNeverCrash) {
    const qlm::Tokenizer spm = spm_vocab().load();
    const qlm::Tokenizer bpe = bpe_vocab().load();
    std::string junk;
    for (int i = 0; i < 256; ++i) junk.push_back(char((i * 151 + 7) & 0xFF));
    for (size_t len : {1, 2, 3, 17, 256}) {
        const std::string s = junk.substr(0, len);
        EXPECT_NO_THROW((void)spm.encode(s, true, true));
        EXPECT_NO_THROW((void)bpe.encode(s, true, true));
    }
}

}  // namespace
