// qlm's tokenizers against llama.cpp: fixtures recorded from llama-cpp-python
// by tests/oracle/gen_tokenizer_fixtures.py, one per vocabulary. Each string is
// checked for every (add_special, parse_special) pair, its detokenization three
// ways, a sample of single-token pieces, the EOG set and the special ids. A
// fixture with "derive" was recorded from its GGUF with some metadata changed
// (tokenizer.ggml.pre, token texts); the same changes are made here in memory.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "qlm/gguf.h"
#include "qlm/tokenizer.h"
#include "tokenizer/sha256.h"

namespace {

using nlohmann::json;

std::string hex_of(const std::string& s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (char c : s) {
        out.push_back(digits[uint8_t(c) >> 4]);
        out.push_back(digits[uint8_t(c) & 15]);
    }
    return out;
}

std::string show(const std::vector<int32_t>& ids) {
    std::string s = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(ids[i]);
    }
    return s + "]";
}

// Where the GGUF a fixture names lives here: the default model (QLM_MODEL
// overrides the build's default) or the vocab folder.
std::string gguf_path(const std::string& rel) {
    const std::string default_model = QLM_DEFAULT_MODEL;
    if (std::filesystem::path(rel).filename() == std::filesystem::path(default_model).filename()) {
        const char* env = std::getenv("QLM_MODEL");
        return env && *env ? env : default_model;
    }
    return std::string(QLM_VOCAB_DIR) + "/" + std::filesystem::path(rel).filename().string();
}

// The GGUF at path with the fixture's "derive" changes applied, as bytes.
std::vector<uint8_t> derived_gguf(const std::string& path, const json& derive) {
    const qlm::GgufReader src = qlm::GgufReader::open(path);
    qlm::GgufWriter w;
    for (const qlm::GgufKV& kv : src.metadata()) {
        qlm::GgufValue v = kv.value;
        if (kv.key == "tokenizer.ggml.pre") v = qlm::GgufValue::of_string(derive.at("pre").get<std::string>());
        if (kv.key == "tokenizer.ggml.tokens")
            for (const auto& [id, text] : derive.at("tokens").items())
                v.items.at(std::stoul(id)).str = text.get<std::string>();
        w.add(kv.key, std::move(v));
    }
    return w.to_bytes();
}

class OracleTest : public testing::TestWithParam<std::string> {};

TEST_P(OracleTest, MatchesLlamaCpp) {
    const std::string fixture = std::string(QLM_TOKENIZER_FIXTURES) + "/" + GetParam() + ".json";
    std::ifstream in(fixture);
    ASSERT_TRUE(in) << "missing fixture " << fixture;
    const json data = json::parse(in);

    const std::string path = gguf_path(data.at("gguf").get<std::string>());
    if (!std::filesystem::exists(path))
        GTEST_SKIP() << path << " not found (make vocabs / make model fetch it): " << GetParam()
                     << " tokenizer not checked";
    const std::string sha = data.at("sha256").get<std::string>();
    ASSERT_EQ(qlm::test::sha256_file(path), sha) << path << " is not the file the fixture was recorded from";

    std::vector<uint8_t> derived;
    if (data.contains("derive")) derived = derived_gguf(path, data.at("derive"));
    const qlm::Tokenizer tok = qlm::Tokenizer::from_gguf(
        derived.empty() ? qlm::GgufReader::open(path) : qlm::GgufReader::from_memory(derived, GetParam() + ".gguf"));

    const json& meta = data.at("meta");
    EXPECT_EQ(tok.n_vocab(), meta.at("n_vocab").get<int>());
    EXPECT_EQ(tok.bos(), meta.at("bos").get<int>());
    EXPECT_EQ(tok.eos(), meta.at("eos").get<int>());
    EXPECT_EQ(tok.eot(), meta.at("eot").get<int>());
    EXPECT_EQ(tok.add_bos(), meta.at("add_bos").get<bool>());
    EXPECT_EQ(tok.add_eos(), meta.at("add_eos").get<bool>());
    EXPECT_EQ(tok.eog_ids(), meta.at("eog").get<std::vector<int32_t>>());

    size_t n_cases = 0, n_ok = 0;
    for (const json& c : data.at("cases")) {
        const std::string text = c.at("text").get<std::string>();
        bool ok = true;
        for (int add = 0; add < 2; ++add) {
            for (int parse = 0; parse < 2; ++parse) {
                const auto want = c.at("ids_" + std::to_string(add) + std::to_string(parse)).get<std::vector<int32_t>>();
                const auto got = tok.encode(text, add, parse);
                if (got != want) {
                    ok = false;
                    ADD_FAILURE() << GetParam() << ": encode(" << json(text).dump() << ", add_special=" << add
                                  << ", parse_special=" << parse << ")\n  llama.cpp: " << show(want)
                                  << "\n  qlm:       " << show(got);
                }
            }
        }
        const auto ids = c.at("ids_11").get<std::vector<int32_t>>();
        const std::pair<const char*, std::string> detoks[] = {
            {"detok", tok.decode(ids, false, false)},
            {"detok_special", tok.decode(ids, false, true)},
            {"detok_remove", tok.decode(ids, true, false)},
        };
        for (const auto& [key, got] : detoks) {
            if (hex_of(got) != c.at(key).get<std::string>()) {
                ok = false;
                ADD_FAILURE() << GetParam() << ": " << key << " of " << json(text).dump() << " " << show(ids)
                              << "\n  llama.cpp: " << c.at(key).get<std::string>() << "\n  qlm:       " << hex_of(got);
            }
        }
        ++n_cases;
        n_ok += ok;
    }

    size_t n_pieces = 0, n_pieces_ok = 0;
    for (const auto& [id_text, want] : data.at("pieces").items()) {
        const int32_t id = std::stoi(id_text);
        const std::string got_special = hex_of(tok.token_to_piece(id, true));
        const std::string got_plain = hex_of(tok.token_to_piece(id, false));
        const bool ok = got_special == want.at(0).get<std::string>() && got_plain == want.at(1).get<std::string>();
        if (!ok)
            ADD_FAILURE() << GetParam() << ": token_to_piece(" << id << ") '" << tok.token_text(id) << "': llama.cpp "
                          << want.dump() << ", qlm [" << got_special << ", " << got_plain << "]";
        ++n_pieces;
        n_pieces_ok += ok;
    }
    std::cout << "[ oracle   ] " << GetParam() << ": " << n_ok << "/" << n_cases << " strings, " << n_pieces_ok << "/"
              << n_pieces << " pieces match llama.cpp (llama-cpp-python "
              << data.at("llama_cpp_python").get<std::string>() << ")\n";
    EXPECT_GE(n_cases, 200u);
}

std::vector<std::string> fixture_names() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(QLM_TOKENIZER_FIXTURES))
        if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

INSTANTIATE_TEST_SUITE_P(Vocab, OracleTest, testing::ValuesIn(fixture_names()),
                         [](const testing::TestParamInfo<std::string>& p) {
                             std::string s = p.param;
                             for (char& c : s)
                                 if (!std::isalnum(uint8_t(c))) c = '_';
                             return s;
                         });

}  // namespace
