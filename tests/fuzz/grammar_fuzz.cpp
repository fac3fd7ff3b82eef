// libFuzzer target for the grammar engine. The first byte picks the input's
// kind: even, a GBNF grammar; odd, a JSON schema. A grammar either parses or
// throws GrammarError (naming line and column); a schema either converts into
// GBNF that parses (anything else is our bug) or throws GrammarError naming
// why. What parses drives a matcher over a small vocabulary for a few tokens
// (masks against token checks). Any other exception, a crash, a hang or a
// sanitizer report is a finding.
#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "qlm/grammar.h"

namespace {

volatile size_t g_sink;

std::shared_ptr<const qlm::TokenVocab> vocab() {
    static auto v = [] {
        std::vector<std::string> p = {"a", "b", "0", "1", "\"", "\\", "{", "}", "[", "]", ",", ":", " ", "\n",
                                      "-", ".", "e", "true", "null", "\xc3\xa9", "\xe4", "\xb8\xad", "ab", "\"a\"",
                                      "{\"", "\":", "12", "x", "<", ">", "/", ""};
        return qlm::TokenVocab::build(p, {int32_t(p.size() - 1)});
    }();
    return v;
}

void drive(const std::shared_ptr<const qlm::Grammar>& g, const uint8_t* data, size_t size) {
    qlm::GrammarMatcher m(std::make_shared<qlm::GrammarAutomaton>(g, vocab()));
    std::vector<uint64_t> bits;
    for (int step = 0; step < 12; ++step) {
        m.fill_mask(bits);
        std::vector<int32_t> ok;
        for (int32_t t = 0; t < vocab()->n_vocab(); ++t) {
            const bool in = (bits[size_t(t) >> 6] >> (t & 63)) & 1;
            if (in != m.allows(t)) __builtin_trap();  // the mask and the token check disagree
            if (in && !vocab()->piece(t).empty()) ok.push_back(t);
        }
        if (ok.empty()) return;
        m.accept(ok[size_t(data[size_t(step) % size]) % ok.size()]);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        std::shared_ptr<const qlm::Grammar> g;
        if (data[0] % 2 == 0) {
            g = qlm::Grammar::parse_gbnf(text);
        } else {
            nlohmann::ordered_json schema;
            try {
                schema = nlohmann::ordered_json::parse(text);
            } catch (const nlohmann::json::exception&) {
                return 0;  // not JSON: the server answers that before any schema code
            }
            const std::string gbnf = qlm::json_schema_to_gbnf(schema);
            try {
                g = qlm::Grammar::parse_gbnf(gbnf);
            } catch (const qlm::GrammarError&) {
                __builtin_trap();  // we wrote a grammar we cannot read
            }
        }
        g_sink = g_sink + g->n_rules();
        drive(g, data, size);
    } catch (const qlm::GrammarError& e) {
        g_sink = g_sink + std::strlen(e.what());
    } catch (const qlm::Error& e) {  // the automaton's state cap
        g_sink = g_sink + std::strlen(e.what());
    }
    return 0;
}
