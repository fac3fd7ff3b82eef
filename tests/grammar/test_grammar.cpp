// The grammar engine: GBNF syntax and its errors, the matcher on texts whose
// membership is known by construction, masks against token-by-token checks
// on a random vocabulary (the trie walk and its subtree skipping against the
// plain path), JSON Schema conversion and refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "qlm/grammar.h"
#include "qlm/sampler.h"

namespace qlm {
namespace {

using ojson = nlohmann::ordered_json;

std::shared_ptr<const TokenVocab> byte_vocab() {
    static auto v = [] {
        std::vector<std::string> p;
        for (int b = 0; b < 256; ++b) p.push_back(std::string(1, char(b)));
        p.push_back("");  // 256: end of generation
        return TokenVocab::build(p, {256});
    }();
    return v;
}

// Whether `text` is a complete sentence of the grammar.
bool full(const std::shared_ptr<const Grammar>& g, std::string_view text) {
    GrammarMatcher m(std::make_shared<GrammarAutomaton>(g, byte_vocab()));
    return m.accept_bytes(text) && m.can_end();
}
bool prefix(const std::shared_ptr<const Grammar>& g, std::string_view text) {
    GrammarMatcher m(std::make_shared<GrammarAutomaton>(g, byte_vocab()));
    return m.accept_bytes(text);
}
std::shared_ptr<const Grammar> G(const std::string& s) { return Grammar::parse_gbnf(s); }

TEST(Gbnf, LiteralsAlternativesGroups) {
    auto g = G("root ::= \"ab\" (\"c\" | \"de\") | \"x\"\n");
    EXPECT_TRUE(full(g, "abc"));
    EXPECT_TRUE(full(g, "abde"));
    EXPECT_TRUE(full(g, "x"));
    EXPECT_FALSE(full(g, "ab"));
    EXPECT_TRUE(prefix(g, "ab"));
    EXPECT_FALSE(prefix(g, "abx"));
    EXPECT_FALSE(full(g, "abcx"));
}

TEST(Gbnf, Repetitions) {
    auto g = G("root ::= [a-c]* \"-\" [0-9]+ \"-\" \"x\"? \"-\" \"y\"{2} \"-\" \"z\"{1,3} \"-\" \"w\"{2,}\n");
    EXPECT_TRUE(full(g, "-1--yy-z-ww"));
    EXPECT_TRUE(full(g, "abcabc-0123-x-yy-zzz-wwwww"));
    EXPECT_FALSE(full(g, "--x-yy-z-ww"));      // + needs one
    EXPECT_FALSE(full(g, "-1-xx-yy-z-ww"));    // ? at most one
    EXPECT_FALSE(full(g, "-1--y-z-ww"));       // {2}
    EXPECT_FALSE(full(g, "-1--yy-zzzz-ww"));   // {1,3}
    EXPECT_FALSE(full(g, "-1--yy-z-w"));       // {2,}
    auto g2 = G("root ::= (\"ab\" | \"c\"){0,2} \"!\"\n");
    EXPECT_TRUE(full(g2, "!"));
    EXPECT_TRUE(full(g2, "abc!"));
    EXPECT_FALSE(full(g2, "abcab!"));
}

TEST(Gbnf, ClassesEscapesAndComments) {
    auto g = G("# a comment\nroot ::= [^a-z\\n] [\\x41-\\x43] [\\u00e9] \"\\t\\\"\\\\\" . # trailing\n  # more\n");
    EXPECT_TRUE(full(g, "1B\xc3\xa9\t\"\\z"));
    EXPECT_TRUE(full(g, "!A\xc3\xa9\t\"\\\xe4\xb8\xad"));
    EXPECT_FALSE(full(g, "aB\xc3\xa9\t\"\\z"));  // negated class
    EXPECT_FALSE(full(g, "\nB\xc3\xa9\t\"\\z"));
    EXPECT_FALSE(full(g, "1D\xc3\xa9\t\"\\z"));
    EXPECT_FALSE(full(g, "1B\xc3\xa8\t\"\\z"));
}

TEST(Gbnf, RulesAcrossLinesAndRecursion) {
    auto g = G("root ::= list\nlist ::=\n  \"[\" (\n    item\n    (\",\" item)*\n  )? \"]\"\nitem ::= [0-9] | list\n");
    EXPECT_TRUE(full(g, "[]"));
    EXPECT_TRUE(full(g, "[1,[2,[]],3]"));
    EXPECT_FALSE(full(g, "[1,]"));
    EXPECT_FALSE(full(g, "[[1]"));
}

TEST(Gbnf, Utf8SplitAcrossTokens) {
    auto g = G("root ::= [\\u4e00-\\u9fff]+\n");
    std::vector<std::string> p = {"\xe4", "\xb8\xad", "\xe4\xb8", "\xad", "a", "\xe4\xb8\xad\xe6\x96\x87", "\xc3\xa9", ""};
    auto v = TokenVocab::build(p, {7});
    GrammarMatcher m(std::make_shared<GrammarAutomaton>(g, v));
    std::vector<uint64_t> bits;
    m.fill_mask(bits);
    auto allowed = [&](int t) { return (bits[0] >> t) & 1; };
    EXPECT_TRUE(allowed(0));   // a lead byte that can start a CJK character
    EXPECT_FALSE(allowed(1));  // a continuation at a boundary
    EXPECT_TRUE(allowed(2));
    EXPECT_FALSE(allowed(4));
    EXPECT_TRUE(allowed(5));
    EXPECT_FALSE(allowed(6));  // é is outside the range (its lead byte C3 cannot start one)
    EXPECT_FALSE(allowed(7));  // nothing yet: no end
    m.accept(2);
    m.fill_mask(bits);
    EXPECT_TRUE(allowed(3));
    EXPECT_FALSE(allowed(0));
    m.accept(3);
    EXPECT_TRUE(m.can_end());
    m.fill_mask(bits);
    EXPECT_TRUE(allowed(7));
    EXPECT_THROW(m.accept(4), Error);
}

void expect_error(const std::string& src, const std::string& needle) {
    try {
        Grammar::parse_gbnf(src);
        ADD_FAILURE() << "no error for: " << src;
    } catch (const GrammarError& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        EXPECT_EQ(e.kind(), GrammarError::Kind::Syntax);
    }
}

TEST(Gbnf, ErrorsNameWhere) {
    expect_error("root ::= \"abc\n", "unterminated literal");
    expect_error("root ::= [abc\n", "unterminated character class");
    expect_error("root ::= \"a\" \\q\n", "line 1, column 14");
    expect_error("root ::= x\n", "undefined rule 'x'");
    expect_error("start ::= \"a\"\n", "no rule 'root'");
    expect_error("root ::= root \"a\" | \"b\"\n", "left recursive");
    expect_error("root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"z\"\n", "left recursive");
    expect_error("root ::= \"a\"{3,1}\n", "n < m");
    expect_error("root ::= * \"a\"\n", "nothing before it");
    expect_error("root ::= \"a\"\nroot ::= \"b\"\n", "defined twice");
    expect_error("root ::= \"a\" root\n", "matches no finite text");
    expect_error("root ::= \"\\x4\"\n", "hex digits");
    expect_error("root ::= \"a\"\n  \"b\" ::= x\n", "line 2");
    expect_error("root ::= [z-a]\n", "backwards");
}

TEST(Gbnf, DoneAndCanEnd) {
    auto g = G("root ::= \"a\" [0-9]*\n");
    GrammarMatcher m(std::make_shared<GrammarAutomaton>(g, byte_vocab()));
    EXPECT_FALSE(m.can_end());
    ASSERT_TRUE(m.accept_bytes("a"));
    EXPECT_TRUE(m.can_end());
    EXPECT_FALSE(m.done());
    auto g2 = G("root ::= \"ab\"\n");
    GrammarMatcher m2(std::make_shared<GrammarAutomaton>(g2, byte_vocab()));
    ASSERT_TRUE(m2.accept_bytes("ab"));
    EXPECT_TRUE(m2.done());
}

void feed(GrammarMatcher& m, const std::string& text) {
    for (unsigned char c : text) m.accept(int32_t(c));
}

TEST(Matcher, TriggersStartTheGrammarOutsideReasoning) {
    auto g = G("root ::= \"<tool_call>\" [a-z]+ \"</tool_call>\"\n");
    auto a = std::make_shared<GrammarAutomaton>(g, byte_vocab());
    GrammarMatcher plain(a);
    plain.set_triggers({"<tool_call>"});
    feed(plain, "Sure. <tool_");
    EXPECT_FALSE(plain.active());
    feed(plain, "call>");
    EXPECT_TRUE(plain.active());
    EXPECT_FALSE(plain.allows('<'));
    feed(plain, "abc</tool_call>");
    EXPECT_TRUE(plain.done());

    GrammarMatcher think(a);  // the model opens a reasoning block: a marker inside it does not count
    think.set_triggers({"<tool_call>"}, "<think>", "</think>", false);
    feed(think, "\n<thi");
    feed(think, "nk>I could write <tool_call> here.</th");
    EXPECT_FALSE(think.active());
    feed(think, "ink>\n\n<tool_call>x");
    EXPECT_TRUE(think.active());

    GrammarMatcher inside(a);  // the prompt opened it
    inside.set_triggers({"<tool_call>"}, "<think>", "</think>", true);
    feed(inside, "<tool_call> is what I will write");
    EXPECT_FALSE(inside.active());
    feed(inside, "</think><tool_call>");
    EXPECT_TRUE(inside.active());

    GrammarMatcher none(a);  // no block at all: the gate opens at once
    none.set_triggers({"<tool_call>"}, "<think>", "</think>", false);
    feed(none, "ok <tool_call>");
    EXPECT_TRUE(none.active());
}

// Sampling under a grammar draws from the masked softmax: the unmasked-first
// shortcut (no truncation) and the masked chain (top-k) give the frequencies
// the formula gives, and never a token the grammar refuses.
TEST(Matcher, SamplerDrawsFromTheMaskedDistribution) {
    auto g = G("root ::= [a-e]\n");
    const int n_vocab = 257;
    std::vector<float> logits(n_vocab);
    std::mt19937 rng(4);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    for (auto& l : logits) l = nd(rng);
    logits['z'] = 9.0f;  // the unmasked favourite is refused
    for (int top_k : {0, 3}) {
        SamplerOptions o;
        o.temp = 1.0f, o.top_k = top_k, o.top_p = 1.0f, o.min_p = 0.0f, o.seed = 99;
        Sampler smp(o);
        std::vector<double> want(n_vocab, 0.0);
        std::vector<int> allowed;
        for (int c = 'a'; c <= 'e'; ++c) allowed.push_back(c);
        std::sort(allowed.begin(), allowed.end(), [&](int x, int y) { return logits[x] > logits[y]; });
        if (top_k > 0) allowed.resize(size_t(top_k));
        double z = 0;
        for (int c : allowed) z += std::exp(double(logits[c]));
        for (int c : allowed) want[c] = std::exp(double(logits[c])) / z;
        std::vector<int> count(n_vocab, 0);
        const int draws = 20000;
        for (int i = 0; i < draws; ++i) {
            GrammarMatcher m(std::make_shared<GrammarAutomaton>(g, byte_vocab()));
            const int32_t t = smp.sample(logits.data(), n_vocab, &m);
            ASSERT_TRUE(t >= 'a' && t <= 'e') << t;
            ++count[t];
        }
        for (int c = 'a'; c <= 'e'; ++c) {
            const double p = want[c], sd = std::sqrt(p * (1 - p) / draws);
            EXPECT_NEAR(double(count[c]) / draws, p, 5 * sd + 1e-9) << "token " << char(c) << " top_k " << top_k;
        }
    }
}

// A very ambiguous grammar (found by the fuzzer: the parses in play grew
// without bound) ends with an error quickly instead of stalling the caller.
TEST(Matcher, AmbiguityIsBounded) {
    auto g = G("root ::= (expr | num | \"(\" \"=\" ws term \"\\n\")+\n"
               "expr ::= term ([= [ \\t\\n]*) root*\n"
               "term ::= ident | num | \"(\" ws expr \"-\" ws\n"
               "ident ::= [a-z] [a-z1-9_]* ws\n"
               "num ::= [0-9]+ ws\n"
               "ws ::= [ \\t\\n]*\n");
    GrammarMatcher m(std::make_shared<GrammarAutomaton>(g, byte_vocab()));
    try {
        for (int i = 0; i < 200; ++i) m.accept_bytes("a ");
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("ambiguous"), std::string::npos) << e.what();
    }
}

// Random vocabulary over an alphabet that exercises JSON strings, escapes,
// digits and multi-byte and split UTF-8.
std::shared_ptr<const TokenVocab> random_vocab(int n, uint32_t seed) {
    const std::vector<std::string> alphabet = {"a", "b", "z", "0", "1", "9", "\"", "\\", "{", "}", "[", "]", ",",
                                               ":", " ", "\n", "-", ".", "e", "n", "u", "l", "t", "r", "f",
                                               "\xc3\xa9", "\xe4\xb8\xad", "\xe4", "\xb8", "\xad", "\x01"};
    std::mt19937 rng(seed);
    std::vector<std::string> p;
    for (int i = 0; i < n; ++i) {
        std::string s;
        const int len = 1 + int(rng() % 6);
        for (int k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
        p.push_back(s);
    }
    p.push_back(p[3]);  // a duplicate piece
    p.push_back("");    // eog
    return TokenVocab::build(p, {int32_t(p.size() - 1)});
}

// Drives a matcher with random allowed tokens; at every step the mask must
// equal the per-token answers.
void mask_walk(const std::shared_ptr<const Grammar>& g, uint32_t seed, int steps) {
    auto v = random_vocab(3000, seed);
    auto a = std::make_shared<GrammarAutomaton>(g, v);
    GrammarMatcher m(a);
    std::mt19937 rng(seed);
    std::vector<uint64_t> bits;
    for (int s = 0; s < steps; ++s) {
        m.fill_mask(bits);
        std::vector<int32_t> allowed;
        for (int32_t t = 0; t < v->n_vocab(); ++t) {
            const bool in = (bits[size_t(t) >> 6] >> (t & 63)) & 1;
            ASSERT_EQ(in, m.allows(t)) << "step " << s << " token " << t << " '" << v->piece(t) << "'";
            if (in && t != v->n_vocab() - 1) allowed.push_back(t);
        }
        if (allowed.empty()) break;
        m.accept(allowed[rng() % allowed.size()]);
    }
}

TEST(Matcher, MaskEqualsTokenChecksJson) {
    auto g = G(json_value_gbnf());
    for (uint32_t seed = 1; seed <= 4; ++seed) mask_walk(g, seed, 40);
}

TEST(Matcher, MaskEqualsTokenChecksSchema) {
    auto schema = ojson::parse(R"({"type":"object","properties":{"name":{"type":"string","maxLength":5},
        "n":{"type":"integer","minimum":-20,"maximum":300},"tags":{"type":"array","items":{"enum":["a","b\u00e9"]}}},
        "required":["name"]})");
    auto g = G(json_schema_to_gbnf(schema));
    for (uint32_t seed = 5; seed <= 8; ++seed) mask_walk(g, seed, 40);
}

TEST(Matcher, MaskEqualsTokenChecksUnicodeClasses) {
    auto g = G("root ::= ([^\"\\\\] | [\\u4e00-\\u4e2f] [a-z])* \"\\\"\"\n");
    for (uint32_t seed = 9; seed <= 10; ++seed) mask_walk(g, seed, 30);
}

// JSON Schema: conversion accepts and refuses as documented.
bool schema_accepts(const char* schema, const std::string& text) {
    return full(G(json_schema_to_gbnf(ojson::parse(schema))), text);
}

TEST(JsonSchema, ObjectsRequiredOptionalAdditional) {
    const char* s = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["b"]})";
    EXPECT_TRUE(schema_accepts(s, R"({"b":"x"})"));
    EXPECT_TRUE(schema_accepts(s, R"({"b": "x", "a": 1, "c": true})"));  // required first, then in order
    EXPECT_TRUE(schema_accepts(s, R"({"b":"x","c":false})"));
    EXPECT_FALSE(schema_accepts(s, R"({"a":1})"));
    EXPECT_FALSE(schema_accepts(s, R"({"b":"x","d":1})"));
    const char* o = R"({"type":"object","properties":{"k":{"type":"null"}},"additionalProperties":{"type":"integer"}})";
    EXPECT_TRUE(schema_accepts(o, R"({})"));
    EXPECT_TRUE(schema_accepts(o, R"({"k":null,"x":1,"ka":2})"));
    EXPECT_TRUE(schema_accepts(o, R"({"x":1})"));
    EXPECT_FALSE(schema_accepts(o, R"({"k":1})"));  // k is known: not an additional key
}

TEST(JsonSchema, IntegerBounds) {
    const char* s = R"({"type":"integer","minimum":-15,"exclusiveMaximum":120})";
    for (int i = -40; i <= 200; ++i)
        EXPECT_EQ(schema_accepts(s, std::to_string(i)), i >= -15 && i < 120) << i;
    EXPECT_FALSE(schema_accepts(s, "007"));
    EXPECT_FALSE(schema_accepts(s, "-0"));
    const char* m = R"({"type":"integer","minimum":95})";
    for (int i = 0; i <= 1200; i += 7) EXPECT_EQ(schema_accepts(m, std::to_string(i)), i >= 95) << i;
}

TEST(JsonSchema, ArraysEnumsRefsPatterns) {
    EXPECT_TRUE(schema_accepts(R"({"type":"array","items":{"type":"number"},"minItems":2,"maxItems":3})", "[1, 2.5e3]"));
    EXPECT_FALSE(schema_accepts(R"({"type":"array","items":{"type":"number"},"minItems":2,"maxItems":3})", "[1]"));
    EXPECT_FALSE(schema_accepts(R"({"type":"array","items":{"type":"number"},"minItems":2,"maxItems":3})", "[1,2,3,4]"));
    EXPECT_TRUE(schema_accepts(R"({"prefixItems":[{"type":"string"},{"const":3}]})", R"(["a", 3])"));
    EXPECT_TRUE(schema_accepts(R"({"enum":["x", 1, null, {"a":[true]}]})", R"({"a":[true]})"));
    EXPECT_FALSE(schema_accepts(R"({"enum":["x", 1]})", R"("y")"));
    const char* r = R"({"$defs":{"node":{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["next"]}},"$ref":"#/$defs/node"})";
    EXPECT_TRUE(schema_accepts(r, R"({"next":{"next":null}})"));
    EXPECT_FALSE(schema_accepts(r, R"({"next":{}})"));
    const char* p = R"({"type":"string","pattern":"^[A-Z]{2}-\\d{3}(x|yz)?$"})";
    EXPECT_TRUE(schema_accepts(p, R"("AB-123")"));
    EXPECT_TRUE(schema_accepts(p, R"("AB-123yz")"));
    EXPECT_FALSE(schema_accepts(p, R"("AB-12")"));
    EXPECT_FALSE(schema_accepts(p, R"("ab-123")"));
    EXPECT_TRUE(schema_accepts(R"({"type":"string","format":"date"})", R"("2024-02-29")"));
    EXPECT_TRUE(schema_accepts(R"({"type":"string","minLength":2,"maxLength":3})", R"("\u00e9\n")"));
    EXPECT_FALSE(schema_accepts(R"({"type":"string","minLength":2,"maxLength":3})", R"("abcd")"));
}

void expect_unsupported(const char* schema, const std::string& keyword) {
    try {
        json_schema_to_gbnf(ojson::parse(schema));
        ADD_FAILURE() << "accepted: " << schema;
    } catch (const GrammarError& e) {
        EXPECT_EQ(e.kind(), GrammarError::Kind::UnsupportedSchema) << e.what();
        EXPECT_EQ(e.keyword(), keyword) << e.what();
        EXPECT_NE(std::string(e.what()).find("'" + keyword + "'"), std::string::npos) << e.what();
    }
}

TEST(JsonSchema, UnsupportedKeywordsAreNamed) {
    expect_unsupported(R"({"type":"string","not":{"const":"a"}})", "not");
    expect_unsupported(R"({"type":"array","uniqueItems":true})", "uniqueItems");
    expect_unsupported(R"({"type":"object","properties":{"a":{"type":"number","multipleOf":2}}})", "multipleOf");
    expect_unsupported(R"({"type":"object","patternProperties":{"^a":{}}})", "patternProperties");
    expect_unsupported(R"({"type":"string","format":"email"})", "format");
    expect_unsupported(R"({"type":"string","pattern":"(a)\\1"})", "pattern");
    expect_unsupported(R"({"$ref":"http://example.com/s.json"})", "$ref");
    expect_unsupported(R"({"type":"number","maximum":2.5})", "maximum");
    EXPECT_THROW(json_schema_to_gbnf(ojson::parse(R"({"type":"strin"})")), GrammarError);
    EXPECT_THROW(json_schema_to_gbnf(ojson::parse(R"({"$ref":"#/$defs/missing"})")), GrammarError);
    EXPECT_THROW(json_schema_to_gbnf(ojson::parse(R"(3)")), GrammarError);
}

}  // namespace
}  // namespace qlm
