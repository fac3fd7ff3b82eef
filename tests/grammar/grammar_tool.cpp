// grammar_tool: the grammar engine from the command line, for the Python
// tests and the mask benchmark.
//   grammar_tool schema < schema.json     GBNF on stdout; a refusal as JSON {"error", "kind", "keyword"}, exit 2
//   grammar_tool check FILE.gbnf          parses; the error on stdout, exit 2
//   grammar_tool match FILE.gbnf < text   prints full / prefix / no
//   grammar_tool bench MODEL.gguf [REPS]  per-token mask cost on the model's vocabulary (p50/p99)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "qlm/gguf.h"
#include "qlm/grammar.h"
#include "qlm/tokenizer.h"

using namespace qlm;
using ojson = nlohmann::ordered_json;

namespace {

std::string slurp(std::istream& in) {
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int refusal(const GrammarError& e) {
    const char* kind = e.kind() == GrammarError::Kind::Syntax              ? "syntax"
                       : e.kind() == GrammarError::Kind::UnsupportedSchema ? "unsupported"
                                                                           : "invalid";
    std::cout << ojson{{"error", e.what()}, {"kind", kind}, {"keyword", e.keyword()}}.dump() << "\n";
    return 2;
}

double pct(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

int bench(const std::string& model, int reps, bool verbose) {
    GgufReader r = GgufReader::open(model);
    Tokenizer tok = Tokenizer::from_gguf(r);
    std::vector<std::string> pieces;
    for (int32_t i = 0; i < tok.n_vocab(); ++i) pieces.push_back(tok.is_control(i) ? "" : tok.token_to_piece(i, false));
    const auto t0 = std::chrono::steady_clock::now();
    auto vocab = TokenVocab::build(pieces, tok.eog_ids());
    const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("vocabulary: %d tokens, trie %zu nodes, built in %.1f ms\n", tok.n_vocab(), vocab->nodes().size(), build_ms);
    const ojson schema = ojson::parse(R"({"type":"object","properties":{
        "name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},
        "email":{"type":"string"},"tags":{"type":"array","items":{"type":"string"},"maxItems":5},
        "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["city","zip"]},
        "score":{"type":"number"},"active":{"type":"boolean"}},
        "required":["name","age","email","tags","address","score","active"]})");
    const std::string doc =
        R"({"name": "Marie Curie-Skłodowska, née 玛丽", "age": 66, "email": "marie.curie@example.org", )"
        R"("tags": ["physics", "chemistry", "radioactivity \"pioneer\""], "address": {"city": "Paris", "zip": "75005"}, )"
        R"("score": 98.25, "active": false})";
    const std::vector<int32_t> ids = tok.encode(doc, false, false);
    auto g = Grammar::parse_gbnf(json_schema_to_gbnf(schema));
    for (bool cache : {false, true}) {
        std::vector<double> first, later, best(ids.size(), 1e30);
        std::vector<uint64_t> bits;
        for (int rep = 0; rep < reps; ++rep) {
            auto a = std::make_shared<GrammarAutomaton>(g, vocab);  // a new request: nothing memoized
            a->set_mask_cache(cache);
            GrammarMatcher m(a);
            for (const int32_t& id : ids) {
                const auto s = std::chrono::steady_clock::now();
                m.fill_mask(bits);
                const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count();
                (rep == 0 ? first : later).push_back(us);
                if (rep > 0) best[size_t(&id - ids.data())] = std::min(best[size_t(&id - ids.data())], us);
                if (verbose && us > 1000) std::fprintf(stderr, "  slow step: %.0f us before '%s'\n", us, tok.token_to_piece(id).c_str());
                if (!((bits[size_t(id) >> 6] >> (id & 63)) & 1)) {
                    std::fprintf(stderr, "bench: token %d ('%s') is masked out\n", id, tok.token_to_piece(id).c_str());
                    return 1;
                }
                m.accept(id);
            }
        }
        std::printf("mask cache %-3s: %zu tokens; first request (cold automaton) p50 %.1f us p99 %.1f us max %.1f us",
                    cache ? "on" : "off", ids.size(), pct(first, 0.5), pct(first, 0.99), pct(first, 1.0));
        if (!later.empty())
            std::printf("; %d more fresh requests p50 %.1f us p99 %.1f us; per-step best of them (less noise from a shared "
                        "machine) p50 %.1f us p99 %.1f us max %.1f us",
                        reps - 1, pct(later, 0.5), pct(later, 0.99), pct(best, 0.5), pct(best, 0.99), pct(best, 1.0));
        std::printf("\n");
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: grammar_tool schema|check FILE|match FILE|bench MODEL [REPS]\n");
        return 64;
    }
    const std::string cmd = argv[1];
    try {
        if (cmd == "schema") {
            const ojson s = ojson::parse(slurp(std::cin));
            const std::string g = json_schema_to_gbnf(s);
            Grammar::parse_gbnf(g);  // what we emit must parse
            std::cout << g;
            return 0;
        }
        if (cmd == "check" && argc >= 3) {
            std::ifstream in(argv[2], std::ios::binary);
            if (!in) return std::fprintf(stderr, "cannot open %s\n", argv[2]), 64;
            const auto g = Grammar::parse_gbnf(slurp(in));
            std::cout << "ok " << g->n_rules() << " rules\n";
            return 0;
        }
        if (cmd == "match" && argc >= 3) {
            std::ifstream in(argv[2], std::ios::binary);
            if (!in) return std::fprintf(stderr, "cannot open %s\n", argv[2]), 64;
            const auto g = Grammar::parse_gbnf(slurp(in));
            std::vector<std::string> bytes;
            for (int b = 0; b < 256; ++b) bytes.push_back(std::string(1, char(b)));
            GrammarMatcher m(std::make_shared<GrammarAutomaton>(g, TokenVocab::build(bytes, {})));
            const std::string text = slurp(std::cin);
            std::cout << (!m.accept_bytes(text) ? "no" : m.can_end() ? "full" : "prefix") << "\n";
            return 0;
        }
        if (cmd == "bench" && argc >= 3) return bench(argv[2], argc >= 4 ? std::atoi(argv[3]) : 3, argc >= 5);
    } catch (const GrammarError& e) {
        return refusal(e);
    } catch (const std::exception& e) {
        std::cout << ojson{{"error", e.what()}, {"kind", "other"}, {"keyword", ""}}.dump() << "\n";
        return 2;
    }
    std::fprintf(stderr, "unknown command\n");
    return 64;
}
