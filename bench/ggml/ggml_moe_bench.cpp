// ggml_moe_bench: the expert FFN of one mixture-of-experts layer through
// llama.cpp's ggml CPU backend, as llama.cpp builds it (build_moe_ffn):
// gate = mul_mat_id(gate_exps, x, ids), up = mul_mat_id(up_exps, x, ids),
// act = swiglu_split(gate, up) (gpt-oss: swiglu_oai, alpha 1.702, limit 7),
// down = mul_mat_id(down_exps, act, ids), down *= weights, sum over the
// n_used views. Router excluded, expert biases left out: the twin of
// `qlm bench moe` (tools/qlm/bench_moe.cpp), with the same configurations,
// the same routings (splitmix64, uniform top-k, seed + 1000003*m + i) and the
// same copies/rep structure: for m <= 16 the graph holds one layer per copy of
// the weights (copies together >= 4x L3), each copy with its own routing from
// a pool of 64, set before each run; time per layer = graph time / copies.
// Built by bench/ggml/build_ggml.sh; nothing here is part of qlm itself.
//
//   ggml_moe_bench --threads 2 [--configs all] [--m 1,4,8,32,128,512] [--json]

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#define QLM_BENCH_NAME "ggml_moe_bench"

#ifndef QLM_GGML_ORIGIN
#define QLM_GGML_ORIGIN "unknown"
#endif

namespace {

#include "bench_common.h"  // clk, die, split, machine facts, BwMeter, repack_buft

// Host image of one W: `tile_rows` rows quantized from N(0,1) data with
// ggml_quantize_chunk, repeated over all n rows (timing does not depend on
// the values; quantizing all rows of the K/IQ types would take seconds).
std::vector<uint8_t> make_weights(ggml_type type, int64_t n, int64_t k, std::mt19937 & rng) {
    const size_t row = ggml_row_size(type, k);
    const int64_t tile_rows = std::min<int64_t>(n, 64);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> src((size_t) (tile_rows * k));
    for (auto & v : src) v = nd(rng);
    std::vector<uint8_t> tile(row * (size_t) tile_rows);
    size_t wrote = ggml_quantize_chunk(type, src.data(), tile.data(), 0, tile_rows, k, nullptr);
    if (wrote != tile.size()) die("ggml_quantize_chunk wrote an unexpected size");
    std::vector<uint8_t> img(row * (size_t) n);
    for (int64_t r = 0; r < n; ++r) std::memcpy(img.data() + row * (size_t) r, tile.data() + row * (size_t) (r % tile_rows), row);
    return img;
}


uint64_t splitmix64(uint64_t & s) {
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

// Same as make_routing in tools/qlm/bench_moe.cpp.
Routing make_routing(int64_t n_expert, int64_t n_used, int64_t n_tokens, uint64_t seed) {
    Routing r;
    r.ids.resize((size_t) (n_tokens * n_used));
    r.weights.resize(r.ids.size());
    std::vector<int32_t> perm((size_t) n_expert);
    std::vector<int32_t> hit((size_t) n_expert, 0);
    uint64_t s = seed;
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t e = 0; e < n_expert; ++e) perm[(size_t) e] = (int32_t) e;
        double sum = 0;
        for (int64_t j = 0; j < n_used; ++j) {
            const int64_t pick = j + (int64_t) (splitmix64(s) % (uint64_t) (n_expert - j));
            std::swap(perm[(size_t) j], perm[(size_t) pick]);
            r.ids[(size_t) (t * n_used + j)] = perm[(size_t) j];
            hit[(size_t) perm[(size_t) j]] = 1;
            const float w = (float) ((splitmix64(s) >> 40) + 1) / (float) (1 << 24);
            r.weights[(size_t) (t * n_used + j)] = w;
            sum += w;
        }
        for (int64_t j = 0; j < n_used; ++j) r.weights[(size_t) (t * n_used + j)] = (float) (r.weights[(size_t) (t * n_used + j)] / sum);
    }
    for (int32_t h : hit) r.distinct += h;
    return r;
}

struct MoeShape {
    const char * name;
    int64_t n_expert, n_used, d, ff;
    ggml_type gate_up, down;
    bool oai;
};

const MoeShape kShapes[] = {
    { "qwen3-30b-a3b:Q4_K/Q6_K", 128, 8, 2048, 768, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K, false },
    { "qwen3-30b-a3b:Q4_K/Q4_K", 128, 8, 2048, 768, GGML_TYPE_Q4_K, GGML_TYPE_Q4_K, false },
    { "qwen3-30b-a3b:Q8_0/Q8_0", 128, 8, 2048, 768, GGML_TYPE_Q8_0, GGML_TYPE_Q8_0, false },
    { "gpt-oss-20b:MXFP4/MXFP4", 32, 4, 2880, 2880, GGML_TYPE_MXFP4, GGML_TYPE_MXFP4, true },
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

int main(int argc, char ** argv) {
    std::string configs = "all", ms_s = "1,4,8,32,128,512";
    int threads = 0, reps_opt = 0;
    bool json = false, repack = true;
    double llc_factor = 4;
    uint64_t seed = 42;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--configs") configs = next();
        else if (a == "--m") ms_s = next();
        else if (a == "--threads" || a == "-t") threads = (int) parse_long(next(), "threads");
        else if (a == "--reps") reps_opt = (int) parse_long(next(), "reps");
        else if (a == "--llc-factor") llc_factor = std::atof(next().c_str());
        else if (a == "--seed") seed = std::strtoull(next().c_str(), nullptr, 10);
        else if (a == "--repack") { std::string v = next(); if (v != "on" && v != "off") die("--repack on|off"); repack = v == "on"; }
        else if (a == "--json") json = true;
        else {
            std::fprintf(stderr, "usage: ggml_moe_bench [--configs all|NAME,..] [--m 1,4,8,32,128,512] [--threads N]\n"
                                 "       [--reps R] [--llc-factor 4] [--seed 42] [--repack on|off] [--json]\n");
            return a == "-h" || a == "--help" ? 0 : 2;
        }
    }
    if (threads <= 0) threads = (int) std::max(1u, std::thread::hardware_concurrency());
    std::vector<int64_t> ms;
    for (auto & s : split(ms_s, ',')) ms.push_back(parse_long(s, "m"));
    std::vector<MoeShape> shapes;
    const auto wanted = split(configs, ',');
    for (const auto & s : kShapes)
        if (configs == "all" || std::find(wanted.begin(), wanted.end(), std::string(s.name)) != wanted.end()) shapes.push_back(s);
    if (shapes.empty()) die("--configs: no known configuration in '" + configs + "'");

    const size_t l3 = l3_bytes();
    const std::string cpu = cpu_model();
    ggml_log_set([](ggml_log_level level, const char * text, void *) {
        if (level >= GGML_LOG_LEVEL_WARN) std::fputs(text, stderr);
    }, nullptr);
    ggml_backend_t backend = ggml_backend_cpu_init();
    if (!backend) die("ggml_backend_cpu_init failed");
    ggml_backend_cpu_set_n_threads(backend, threads);
    ggml_backend_buffer_type_t cpu_buft = ggml_backend_cpu_buffer_type();
    ggml_backend_buffer_type_t rp_buft = repack ? repack_buft() : nullptr;

    double bw = 0;
    {
        BwMeter meter(threads, std::max<size_t>(8 * l3, 256ull << 20));
        bw = meter.measure(5);
    }
    std::fprintf(stderr, "read bandwidth %.2f GB/s, L3 %zu MiB, %d threads\n", bw, l3 >> 20, threads);

    constexpr int kRoutings = 64;
    std::mt19937 rng(1234);
    std::string out_json = "[\n";
    char buf[2048];
    std::snprintf(buf, sizeof buf,
                  "  {\"kind\": \"membw\", \"gbps\": %.2f, \"threads\": %d, \"cpu\": \"%s\", \"l3_bytes\": %zu,"
                  " \"ggml_version\": \"%s\", \"ggml_origin\": \"%s\", \"router\": \"excluded\", \"seed\": %llu}",
                  bw, threads, json_escape(cpu).c_str(), l3, json_escape(ggml_version()).c_str(),
                  json_escape(QLM_GGML_ORIGIN).c_str(), (unsigned long long) seed);
    out_json += buf;
    if (!json) {
        std::printf("cpu: %s, L3 %zu MiB, ggml %s (%s), %d threads, read bandwidth %.2f GB/s\n", cpu.c_str(), l3 >> 20,
                    ggml_version(), QLM_GGML_ORIGIN, threads, bw);
        std::printf("%-26s %5s %7s %6s %8s %6s %11s %11s %11s %9s %7s\n", "config", "m", "repack", "copies", "experts", "reps",
                    "us/layer", "us(min)", "tok/s", "GB/s", "%bw");
    }
    for (const MoeShape & sh : shapes) {
        const int64_t E = sh.n_expert, d = sh.d, ff = sh.ff, K = sh.n_used;
        const std::vector<uint8_t> g1 = make_weights(sh.gate_up, E * ff, d, rng);
        const std::vector<uint8_t> u1 = make_weights(sh.gate_up, E * ff, d, rng);
        const std::vector<uint8_t> d1 = make_weights(sh.down, E * d, ff, rng);
        const size_t layer_bytes = g1.size() + u1.size() + d1.size();
        const double expert_bytes = (double) layer_bytes / (double) E;
        const int64_t min_m = *std::min_element(ms.begin(), ms.end());
        const int max_copies = min_m <= 16 ? (int) std::max<double>(1, std::ceil(llc_factor * (double) l3 / (double) layer_bytes)) : 1;

        // weights: max_copies x (gate, up, down); each role in ggml's CPU_REPACK
        // buffer where ggml has a layout for its type on this CPU, else in the
        // plain CPU buffer (as llama.cpp places each weight)
        struct Role {
            ggml_context * ctx = nullptr;
            ggml_backend_buffer_t buf = nullptr;
            std::vector<ggml_tensor *> t;
            bool repacked = false;
        };
        auto alloc_role = [&](ggml_type type, int64_t ne0, int64_t ne1, const std::vector<uint8_t> & img) {
            Role r;
            ggml_init_params wp = { ggml_tensor_overhead() * (size_t) (max_copies + 1), nullptr, true };
            r.ctx = ggml_init(wp);
            for (int c = 0; c < max_copies; ++c) r.t.push_back(ggml_new_tensor_3d(r.ctx, type, ne0, ne1, E));
            r.buf = ggml_backend_alloc_ctx_tensors_from_buft(r.ctx, rp_buft ? rp_buft : cpu_buft);
            if (!r.buf) die("cannot allocate weights");
            r.repacked = rp_buft && r.t[0]->extra != nullptr;
            if (rp_buft && !r.repacked) {
                ggml_backend_buffer_free(r.buf);
                for (auto * w : r.t) { w->buffer = nullptr; w->data = nullptr; w->extra = nullptr; }
                r.buf = ggml_backend_alloc_ctx_tensors_from_buft(r.ctx, cpu_buft);
                if (!r.buf) die("cannot allocate weights");
            }
            ggml_backend_buffer_set_usage(r.buf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
            for (auto * w : r.t) ggml_backend_tensor_set(w, img.data(), 0, img.size());  // repacks on CPU_REPACK
            return r;
        };
        Role RG = alloc_role(sh.gate_up, d, ff, g1), RU = alloc_role(sh.gate_up, d, ff, u1), RD = alloc_role(sh.down, ff, d, d1);
        const std::vector<ggml_tensor *> & G = RG.t, & U = RU.t, & D = RD.t;
        const std::string repack_s = std::string(RG.repacked ? "yes" : "no") + "/" + (RD.repacked ? "yes" : "no");

        for (int64_t m : ms) {
            const int C = m <= 16 ? max_copies : 1;
            std::vector<Routing> routings;
            double mean_distinct = 0;
            for (int i = 0; i < kRoutings; ++i) {
                routings.push_back(make_routing(E, K, m, seed + 1000003ull * (uint64_t) m + (uint64_t) i));
                mean_distinct += (double) routings.back().distinct / kRoutings;
            }
            const size_t gsize = std::max<size_t>(GGML_DEFAULT_GRAPH_SIZE, (size_t) C * (8 + 2 * (size_t) K) + 16);
            ggml_init_params p = { ggml_tensor_overhead() * ((size_t) C * (10 + 2 * (size_t) K) + 4) + ggml_graph_overhead_custom(gsize, false), nullptr, true };
            ggml_context * ctx = ggml_init(p);
            ggml_tensor * x = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, d, 1, m);
            ggml_cgraph * gf = ggml_new_graph_custom(ctx, gsize, false);
            std::vector<ggml_tensor *> IDS, WTS, OUT;
            for (int c = 0; c < C; ++c) {
                ggml_tensor * ids = ggml_new_tensor_2d(ctx, GGML_TYPE_I32, K, m);
                ggml_tensor * wts = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, 1, K, m);
                ggml_tensor * gate = ggml_mul_mat_id(ctx, G[c], x, ids);  // [ff, K, m]
                ggml_tensor * up = ggml_mul_mat_id(ctx, U[c], x, ids);
                ggml_tensor * act = sh.oai ? ggml_swiglu_oai(ctx, gate, up, 1.702f, 7.0f) : ggml_swiglu_split(ctx, gate, up);
                ggml_tensor * dn = ggml_mul_mat_id(ctx, D[c], act, ids);  // [d, K, m]
                dn = ggml_mul(ctx, dn, wts);
                ggml_tensor * out = nullptr;
                for (int64_t j = 0; j < K; ++j) {
                    ggml_tensor * v = ggml_view_2d(ctx, dn, d, m, dn->nb[2], (size_t) j * dn->nb[1]);
                    out = out ? ggml_add(ctx, out, v) : v;
                }
                ggml_build_forward_expand(gf, out);
                IDS.push_back(ids); WTS.push_back(wts); OUT.push_back(out);
            }
            ggml_backend_buffer_t abuf = ggml_backend_alloc_ctx_tensors(ctx, backend);
            if (!abuf) die("cannot allocate activations");
            std::vector<float> xs((size_t) (d * m));
            std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
            for (auto & v : xs) v = ud(rng);
            ggml_backend_tensor_set(x, xs.data(), 0, xs.size() * sizeof(float));
            int it = 0;
            auto set_routes = [&]() {
                for (int c = 0; c < C; ++c) {
                    const Routing & r = routings[(size_t) (it++ % kRoutings)];
                    ggml_backend_tensor_set(IDS[c], r.ids.data(), 0, r.ids.size() * sizeof(int32_t));
                    ggml_backend_tensor_set(WTS[c], r.weights.data(), 0, r.weights.size() * sizeof(float));
                }
            };
            auto run = [&]() {
                const auto t0 = clk::now();
                if (ggml_backend_graph_compute(backend, gf) != GGML_STATUS_SUCCESS) die("graph compute failed");
                return seconds_since(t0);
            };
            set_routes();
            run();  // warm-up
            std::vector<double> ts;
            double total = 0;
            for (int rep = 0; reps_opt ? rep < reps_opt : (rep < 3 || (total < 0.5 && rep < 200)); ++rep) {
                set_routes();
                const double s = run();
                ts.push_back(s / C);
                total += s;
            }
            // sanity: the output is finite and not all zero
            std::vector<float> o((size_t) (d * m));
            ggml_backend_tensor_get(OUT[0], o.data(), 0, o.size() * sizeof(float));
            double mag = 0;
            bool finite = true;
            for (float v : o) { finite = finite && std::isfinite(v); mag += std::fabs(v); }
            if (!finite || mag == 0) die(std::string(sh.name) + ": output is not finite or all zero");

            const double us = median(ts) * 1e6, us_min = *std::min_element(ts.begin(), ts.end()) * 1e6;
            const double gbps = mean_distinct * expert_bytes / (us * 1e-6) / 1e9;
            std::snprintf(buf, sizeof buf,
                          ",\n  {\"kind\": \"moe\", \"impl\": \"ggml\", \"config\": \"%s\", \"m\": %lld, \"threads\": %d,"
                          " \"repack\": \"%s\", \"copies\": %d, \"reps\": %zu, \"mean_distinct_experts\": %.2f,"
                          " \"bytes_per_expert\": %.0f, \"us\": %.2f, \"us_min\": %.2f, \"tokens_per_s\": %.2f,"
                          " \"gbps\": %.3f, \"pct_bandwidth\": %.2f}",
                          sh.name, (long long) m, threads, repack_s.c_str(), C, ts.size(), mean_distinct,
                          expert_bytes, us, us_min, (double) m / (us * 1e-6), gbps, 100 * gbps / bw);
            out_json += buf;
            if (!json)
                std::printf("%-26s %5lld %7s %6d %8.1f %6zu %11.1f %11.1f %11.1f %9.2f %6.1f%%\n", sh.name, (long long) m,
                            repack_s.c_str(), C, mean_distinct, ts.size(), us, us_min, (double) m / (us * 1e-6), gbps,
                            100 * gbps / bw);
            std::fflush(stdout);
            ggml_backend_buffer_free(abuf);
            ggml_free(ctx);
        }
        for (Role * r : { &RG, &RU, &RD }) { ggml_backend_buffer_free(r->buf); ggml_free(r->ctx); }
    }
    if (json) std::printf("%s\n]\n", out_json.c_str());
    ggml_backend_free(backend);
    return 0;
}
