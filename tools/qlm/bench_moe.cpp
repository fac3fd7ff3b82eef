// qlm bench moe — the expert FFN of one mixture-of-experts layer, router
// excluded: quantize the layer input once, gate+up (one matmul_experts run),
// the gated activation, quantize, down (matmul_experts), combine_experts.
// Expert biases (gpt-oss) are left out. Shapes of Qwen3-30B-A3B (128 experts,
// 8 used, 2048 -> 768 -> 2048) and gpt-oss-20b (32 experts, 4 used,
// 2880 -> 2880 -> 2880), beside the machine's read bandwidth.
//
// Routing: per token, n_used distinct experts drawn uniformly (partial
// Fisher-Yates on splitmix64), weights uniform and normalized; the same
// generator and seeds as bench/ggml/ggml_moe_bench.cpp, so both see the same
// routings. Routing i of batch m uses seed  seed + 1000003 * m + i.
//
// For m <= 16 the layer's weights are several copies, together >= 4x the
// last-level cache, and each rep runs the layer once per copy, each run with
// its own routing (a pool of 64 routings, cycled), so the experts a token
// touches come from DRAM as in a decode step of a whole model. Reported: the
// median over reps of the per-layer time (rep time / copies).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "model_common.h"
#include "qlm/error.h"
#include "qlm/formats.h"
#include "qlm/ops.h"

namespace qlm::cli {
namespace {

struct MoeShape {
    std::string name;
    int64_t n_expert, n_used, d, ff;
    GgmlType gate_up, down;
    bool oai;  // gpt-oss's clamped SwiGLU (alpha 1.702, limit 7), else SiLU-gated
};

// The configurations of issue 17: name -> shape and types.
std::vector<MoeShape> all_shapes() {
    return {
        {"qwen3-30b-a3b:Q4_K/Q6_K", 128, 8, 2048, 768, GgmlType::Q4_K, GgmlType::Q6_K, false},
        {"qwen3-30b-a3b:Q4_K/Q4_K", 128, 8, 2048, 768, GgmlType::Q4_K, GgmlType::Q4_K, false},
        {"qwen3-30b-a3b:Q8_0/Q8_0", 128, 8, 2048, 768, GgmlType::Q8_0, GgmlType::Q8_0, false},
        {"gpt-oss-20b:MXFP4/MXFP4", 32, 4, 2880, 2880, GgmlType::MXFP4, GgmlType::MXFP4, true},
    };
}

struct Opts {
    std::string configs = "all";
    std::string ms = "1,4,8,32,128,512";
    std::string isa;
    int threads = 0;
    int reps = 0;  // 0: as many as fit in ~0.5 s, at least 3
    double llc_factor = 4;
    uint64_t seed = 42;
    bool json = false;
    bool stages = false;
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, sep);)
        if (!item.empty()) out.push_back(item);
    return out;
}

uint64_t splitmix64(uint64_t& s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct Routing {
    std::vector<int32_t> ids;
    std::vector<float> weights;
    int64_t distinct = 0;
};

// Uniform top-k: n_used distinct experts per token (partial Fisher-Yates),
// weights uniform in (0, 1] normalized to sum 1. Mirrored in ggml_moe_bench.cpp.
Routing make_routing(int64_t n_expert, int64_t n_used, int64_t n_tokens, uint64_t seed) {
    Routing r;
    r.ids.resize(size_t(n_tokens * n_used));
    r.weights.resize(r.ids.size());
    std::vector<int32_t> perm(static_cast<size_t>(n_expert));
    std::vector<int32_t> hit(static_cast<size_t>(n_expert), 0);
    uint64_t s = seed;
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t e = 0; e < n_expert; ++e) perm[size_t(e)] = int32_t(e);
        double sum = 0;
        for (int64_t j = 0; j < n_used; ++j) {
            const int64_t pick = j + int64_t(splitmix64(s) % uint64_t(n_expert - j));
            std::swap(perm[size_t(j)], perm[size_t(pick)]);
            r.ids[size_t(t * n_used + j)] = perm[size_t(j)];
            hit[size_t(perm[size_t(j)])] = 1;
            const float w = float((splitmix64(s) >> 40) + 1) / float(1 << 24);
            r.weights[size_t(t * n_used + j)] = w;
            sum += w;
        }
        for (int64_t j = 0; j < n_used; ++j) r.weights[size_t(t * n_used + j)] = float(r.weights[size_t(t * n_used + j)] / sum);
    }
    for (int32_t h : hit) r.distinct += h;
    return r;
}

// n_expert matrices of n x k from 64 quantized random rows, tiled.
std::vector<uint8_t> make_expert_bytes(GgmlType type, int64_t rows, int64_t k, std::mt19937& rng) {
    const size_t rs = row_size(type, k);
    const int64_t distinct = std::min<int64_t>(64, rows);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> row(static_cast<size_t>(k));
    std::vector<uint8_t> bytes(rs * size_t(rows));
    for (int64_t r = 0; r < distinct; ++r) {
        for (auto& v : row) v = nd(rng);
        quantize_row(type, row.data(), bytes.data() + size_t(r) * rs, k);
    }
    for (int64_t r = distinct; r < rows; ++r)
        std::copy_n(bytes.data() + size_t(r % distinct) * rs, rs, bytes.data() + size_t(r) * rs);
    return bytes;
}

ExpertsView experts(GgmlType type, int64_t n_expert, int64_t n, int64_t k, const std::vector<uint8_t>& bytes,
                    const char* name) {
    ExpertsView v;
    v.type = type, v.n_expert = n_expert, v.n = n, v.k = k;
    v.row_stride = row_size(type, k);
    v.expert_stride = v.row_stride * size_t(n);
    v.data = bytes.data();
    v.name = name;
    return v;
}

int bench_moe(const Opts& o) {
    std::vector<MoeShape> shapes;
    const std::vector<std::string> wanted = split(o.configs, ',');
    for (const MoeShape& s : all_shapes())
        if (o.configs == "all" || std::find(wanted.begin(), wanted.end(), s.name) != wanted.end()) shapes.push_back(s);
    if (shapes.empty()) {
        std::string names;
        for (const MoeShape& s : all_shapes()) names += " " + s.name;
        fail("--configs: none of '", o.configs, "' is one of:", names);
    }
    std::vector<int64_t> ms;
    for (const auto& s : split(o.ms, ',')) {
        try {
            ms.push_back(std::stoll(s));
        } catch (const std::exception&) {
            fail("--m: '", s, "' is not a number");
        }
        if (ms.back() <= 0) fail("--m: ", ms.back(), " tokens");
    }
    // Options are checked before the bandwidth pass (a buffer of 8x the LLC).
    auto ctx_ptr = make_context(o.threads, o.isa);
    Context& ctx = *ctx_ptr;
    const size_t llc = last_level_cache_bytes();
    const double bw = measure_read_bandwidth(ctx, std::max<size_t>(llc * 8, size_t(256) << 20));

    nlohmann::json records = nlohmann::json::array();
    if (!o.json) {
        std::printf("isa %s, %d threads, last-level cache %.0f MiB, measured read bandwidth %.2f GB/s\n",
                    isa_name(ctx.isa()), ctx.threads(), double(llc) / (1 << 20), bw);
        std::printf("expert FFN of one layer (router excluded): gate+up, act, down, combine; uniform top-k routing\n");
        std::printf("%-26s %5s %6s %8s %6s %11s %11s %11s %9s %7s\n", "config", "m", "copies", "experts", "reps",
                    "us/layer", "us(min)", "tok/s", "GB/s", "%bw");
    }
    constexpr int kRoutings = 64;
    std::mt19937 rng(1234);
    for (const MoeShape& sh : shapes) {
        const int64_t E = sh.n_expert, d = sh.d, ff = sh.ff;
        const std::vector<uint8_t> g1 = make_expert_bytes(sh.gate_up, E * ff, d, rng);
        const std::vector<uint8_t> u1 = make_expert_bytes(sh.gate_up, E * ff, d, rng);
        const std::vector<uint8_t> d1 = make_expert_bytes(sh.down, E * d, ff, rng);
        const size_t layer_bytes = g1.size() + u1.size() + d1.size();
        const double expert_bytes = double(layer_bytes) / double(E);
        const int64_t min_m = *std::min_element(ms.begin(), ms.end());
        const int max_copies =
            min_m <= 16 ? int(std::max<double>(1, std::ceil(o.llc_factor * double(llc) / double(layer_bytes)))) : 1;
        std::vector<std::vector<uint8_t>> G(size_t(max_copies), g1), U(size_t(max_copies), u1), D(size_t(max_copies), d1);
        for (int64_t m : ms) {
            const int copies = m <= 16 ? max_copies : 1;
            std::vector<Routing> routings;
            double mean_distinct = 0;
            for (int i = 0; i < kRoutings; ++i) {
                routings.push_back(make_routing(E, sh.n_used, m, o.seed + 1000003ull * uint64_t(m) + uint64_t(i)));
                mean_distinct += double(routings.back().distinct) / kRoutings;
            }
            const int64_t slots = m * sh.n_used;
            std::vector<float> x(size_t(m * d)), eg(size_t(slots * ff)), eu(size_t(slots * ff)), ed(size_t(slots * d)),
                out(size_t(m * d));
            std::uniform_real_distribution<float> ud(-1, 1);
            for (auto& v : x) v = ud(rng);
            // Per-stage seconds (--stages): quantize x, gate+up, activation, quantize, down, combine.
            double stage[6] = {0, 0, 0, 0, 0, 0};
            auto tick = [&](int i, std::chrono::steady_clock::time_point& t) {
                if (!o.stages) return;
                const auto now = std::chrono::steady_clock::now();
                stage[i] += std::chrono::duration<double>(now - t).count();
                t = now;
            };
            auto layer = [&](int c, const Routing& rt) {
                auto t = std::chrono::steady_clock::now();
                const ExpertsView gate = experts(sh.gate_up, E, ff, d, G[size_t(c)], "gate_exps");
                const ExpertsView up = experts(sh.gate_up, E, ff, d, U[size_t(c)], "up_exps");
                const ExpertsView down = experts(sh.down, E, d, ff, D[size_t(c)], "down_exps");
                const ExpertRouting r{rt.ids.data(), rt.weights.data(), m, int(sh.n_used), E};
                const QuantizedActivations xq = quantize_activations(ctx, x.data(), m, d, activation_type(sh.gate_up));
                tick(0, t);
                matmul_experts(ctx, r, {{&xq, false, gate, eg.data()}, {&xq, false, up, eu.data()}});
                tick(1, t);
                if (sh.oai)
                    swiglu_oai_mul(ctx, eg.data(), eu.data(), slots * ff, 1.702f, 7.0f);
                else
                    silu_mul(ctx, eg.data(), eu.data(), slots * ff);
                tick(2, t);
                const QuantizedActivations gq = quantize_activations(ctx, eg.data(), slots, ff, activation_type(sh.down));
                tick(3, t);
                matmul_experts(ctx, r, {{&gq, true, down, ed.data()}});
                tick(4, t);
                combine_experts(r, ed.data(), d, out.data());
                tick(5, t);
            };
            int it = 0;
            for (int c = 0; c < copies; ++c) layer(c, routings[size_t(it++ % kRoutings)]);  // warm-up
            std::fill(std::begin(stage), std::end(stage), 0.0);
            std::vector<double> times;
            double total = 0;
            for (int rep = 0; o.reps ? rep < o.reps : (rep < 3 || (total < 0.5 && rep < 200)); ++rep) {
                const auto t0 = std::chrono::steady_clock::now();
                for (int c = 0; c < copies; ++c) layer(c, routings[size_t(it++ % kRoutings)]);
                const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                times.push_back(s / copies);
                total += s;
            }
            // Reference (--stages): the same products as plain matmul jobs, one per
            // (active expert, weight) in one parallel run over activations gathered
            // beforehand (untimed): matmul_experts minus its gather, scatter and
            // buffers. Same copies, routings and rep count, after the timed reps.
            double ref_gu = 0, ref_down = 0;
            if (o.stages) {
                const QuantizedActivations xq = quantize_activations(ctx, x.data(), m, d, activation_type(sh.gate_up));
                const QuantizedActivations hq = quantize_activations(ctx, eg.data(), slots, ff, activation_type(sh.down));
                auto gather = [&](const QuantizedActivations& src, const std::vector<int64_t>& rows) {
                    QuantizedActivations a;
                    a.type = src.type, a.m = int64_t(rows.size()), a.k = src.k, a.row_stride = src.row_stride;
                    a.data.resize(rows.size() * src.row_stride);
                    for (size_t i = 0; i < rows.size(); ++i)
                        std::copy_n(src.data.data() + size_t(rows[i]) * src.row_stride, src.row_stride,
                                    a.data.data() + i * src.row_stride);
                    return a;
                };
                int it2 = 0;
                for (size_t rep = 0; rep < times.size(); ++rep)
                    for (int c = 0; c < copies; ++c) {
                        const Routing& rt = routings[size_t(it2++ % kRoutings)];
                        std::vector<std::vector<int64_t>> tok{size_t(E)}, slot{size_t(E)};
                        for (int64_t q = 0; q < slots; ++q) {
                            tok[size_t(rt.ids[size_t(q)])].push_back(q / sh.n_used);
                            slot[size_t(rt.ids[size_t(q)])].push_back(q);
                        }
                        std::vector<QuantizedActivations> xe, he;
                        xe.reserve(size_t(E)), he.reserve(size_t(E));
                        std::vector<MatmulJob> gu, dn;
                        const ExpertsView gate = experts(sh.gate_up, E, ff, d, G[size_t(c)], "gate_exps");
                        const ExpertsView up = experts(sh.gate_up, E, ff, d, U[size_t(c)], "up_exps");
                        const ExpertsView down = experts(sh.down, E, d, ff, D[size_t(c)], "down_exps");
                        int64_t row = 0;
                        for (int64_t e = 0; e < E; ++e) {
                            if (tok[size_t(e)].empty()) continue;
                            xe.push_back(gather(xq, tok[size_t(e)]));
                            he.push_back(gather(hq, slot[size_t(e)]));
                            gu.push_back({&xe.back(), gate.expert(e), eg.data() + row * ff});
                            gu.push_back({&xe.back(), up.expert(e), eu.data() + row * ff});
                            dn.push_back({&he.back(), down.expert(e), ed.data() + row * d});
                            row += int64_t(tok[size_t(e)].size());
                        }
                        auto t0 = std::chrono::steady_clock::now();
                        matmul(ctx, gu);
                        auto t1 = std::chrono::steady_clock::now();
                        matmul(ctx, dn);
                        auto t2 = std::chrono::steady_clock::now();
                        ref_gu += std::chrono::duration<double>(t1 - t0).count();
                        ref_down += std::chrono::duration<double>(t2 - t1).count();
                    }
            }
            const double best = *std::min_element(times.begin(), times.end());
            std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
            const double s = times[times.size() / 2];
            const double touched = mean_distinct * expert_bytes, gbps = touched / s / 1e9;
            const double runs = double(times.size()) * copies;
            static const char* const kStage[6] = {"quantize_x", "gate_up", "activation", "quantize_h", "down", "combine"};
            nlohmann::json stages = nlohmann::json::object();
            std::string stage_text;
            if (o.stages)
                for (int i = 0; i < 6; ++i) {
                    stages[kStage[i]] = stage[i] / runs * 1e6;
                    stage_text += cat("  ", kStage[i], " ", int64_t(stage[i] / runs * 1e6 + 0.5));
                }
            if (o.stages) {
                stages["ref_gate_up_matmul_jobs"] = ref_gu / runs * 1e6;
                stages["ref_down_matmul_jobs"] = ref_down / runs * 1e6;
                stage_text += cat("  | ref jobs: gate_up ", int64_t(ref_gu / runs * 1e6 + 0.5), " down ",
                                  int64_t(ref_down / runs * 1e6 + 0.5));
            }
            records.push_back({{"config", sh.name},
                               {"n_expert", E},
                               {"n_used", sh.n_used},
                               {"n_embd", d},
                               {"n_ff_exp", ff},
                               {"gate_up_type", type_name(sh.gate_up)},
                               {"down_type", type_name(sh.down)},
                               {"m", m},
                               {"copies", copies},
                               {"reps", times.size()},
                               {"mean_distinct_experts", mean_distinct},
                               {"bytes_per_expert", expert_bytes},
                               {"us", s * 1e6},
                               {"us_min", best * 1e6},
                               {"tokens_per_s", double(m) / s},
                               {"gbps", gbps},
                               {"pct_bandwidth", 100 * gbps / bw}});
            if (o.stages) records.back()["stage_us_mean"] = stages;
            if (!o.json)
                std::printf("%-26s %5lld %6d %8.1f %6zu %11.1f %11.1f %11.1f %9.2f %6.1f%%%s\n", sh.name.c_str(),
                            (long long)m, copies, mean_distinct, times.size(), s * 1e6, best * 1e6, double(m) / s, gbps,
                            100 * gbps / bw, stage_text.c_str());
            std::fflush(stdout);
        }
    }
    if (o.json) {
        nlohmann::json doc = {{"isa", isa_name(ctx.isa())},
                              {"threads", ctx.threads()},
                              {"llc_bytes", llc},
                              {"read_bandwidth_gbps", bw},
                              {"router", "excluded"},
                              {"seed", o.seed},
                              {"results", records}};
        std::printf("%s\n", doc.dump(1).c_str());
    }
    return 0;
}

}  // namespace

Command add_bench_moe(CLI::App& bench) {
    auto o = std::make_shared<Opts>();
    auto* s = bench.add_subcommand(
        "moe", "expert FFN of one MoE layer (Qwen3-30B-A3B, gpt-oss-20b shapes) per batch size, beside the read bandwidth");
    s->add_option("--configs", o->configs,
                  "comma-separated: all, qwen3-30b-a3b:Q4_K/Q6_K, qwen3-30b-a3b:Q4_K/Q4_K, qwen3-30b-a3b:Q8_0/Q8_0, "
                  "gpt-oss-20b:MXFP4/MXFP4");
    s->add_option("--m", o->ms, "comma-separated token counts");
    s->add_option("-t,--threads", o->threads, "threads (default: physical cores)");
    s->add_option("--isa", o->isa, "force an instruction set: scalar, avx2, avx512, neon");
    s->add_option("--reps", o->reps, "timed repetitions (default: ~0.5 s worth, at least 3)");
    s->add_option("--llc-factor", o->llc_factor, "for m <= 16, weight copies totalling >= this x the LLC (default 4)");
    s->add_option("--seed", o->seed, "routing seed (default 42)");
    s->add_flag("--stages", o->stages, "also time each stage (mean us): quantize, gate+up, activation, quantize, down, combine");
    s->add_flag("--json", o->json, "print one JSON document");
    return [o]() { return bench_moe(*o); };
}

}  // namespace qlm::cli
