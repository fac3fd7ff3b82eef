// qlm bench kernels — matmul speed per weight type and batch size m, beside
// the machine's read bandwidth measured in the same run. For m <= 16 the
// weights are several copies, together >= 4x the last-level cache, cycled, so
// the numbers are DRAM numbers (a decode step streams its weights from memory).
// --hot keeps one copy (in cache when it fits): the rate the kernel computes
// at when memory is not the limit, to tell a compute-bound kernel from a
// bandwidth-bound one.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
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
#include "qlm/kernel_info.h"
#include "qlm/ops.h"

namespace qlm::cli {
namespace {

struct Shape {
    int64_t n, k;  // weight rows x columns
};

struct Opts {
    std::string types =
        "F32,F16,BF16,Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,IQ4_NL,IQ4_XS,MXFP4,"
        "IQ1_S,IQ1_M,IQ2_XXS,IQ2_XS,IQ2_S,IQ3_XXS,IQ3_S,TQ1_0,TQ2_0";
    // n x k: the large FFN shapes, then the default model's (Gemma 3 270M) projections
    std::string shapes = "4096x14336,14336x4096,1024x640,256x640,640x1024,2048x640,640x2048";
    std::string ms = "1,2,4,8,16,512";
    std::string isa;
    int threads = 0;
    int reps = 0;  // 0: as many as fit in ~0.3 s, at least 3
    bool json = false;
    bool hot = false;  // one copy of the weights, kept in cache: the kernel's compute rate
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, sep);)
        if (!item.empty()) out.push_back(item);
    return out;
}

Shape parse_shape(const std::string& s) {
    const auto x = s.find('x');
    if (x == std::string::npos) fail("--shapes: '", s, "' is not NxK");
    try {
        return {std::stoll(s.substr(0, x)), std::stoll(s.substr(x + 1))};
    } catch (const std::exception&) {
        fail("--shapes: '", s, "' is not NxK");
    }
}

// One weight matrix filled from 64 quantized random rows (quantizing tens of
// millions of values with the reference K-quant quantizers would take minutes).
// Types qlm only reads (low-bit IQ, TQ): random bytes with bit 14 of every
// 16-bit word clear, so every fp16 scale (wherever the block keeps it) is finite.
std::vector<uint8_t> make_weight_bytes(GgmlType type, Shape sh, std::mt19937& rng) {
    const size_t rs = row_size(type, sh.k);
    const int64_t distinct = std::min<int64_t>(64, sh.n);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> row(static_cast<size_t>(sh.k));
    std::vector<uint8_t> bytes(rs * size_t(sh.n));
    for (int64_t r = 0; r < distinct; ++r) {
        uint8_t* out = bytes.data() + size_t(r) * rs;
        if (!can_quantize(type)) {
            for (size_t i = 0; i < rs; ++i) out[i] = uint8_t(rng() >> 24) & (i % 2 ? 0xbf : 0xff);
            continue;
        }
        for (auto& v : row) v = nd(rng);
        quantize_row(type, row.data(), out, sh.k);
    }
    for (int64_t r = distinct; r < sh.n; ++r)
        std::copy_n(bytes.data() + size_t(r % distinct) * rs, rs, bytes.data() + size_t(r) * rs);
    return bytes;
}

int bench_kernels(const Opts& o) {
    auto ctx_ptr = make_context(o.threads, o.isa);
    Context& ctx = *ctx_ptr;
    const size_t llc = last_level_cache_bytes();
    const double bw = measure_read_bandwidth(ctx, std::max<size_t>(llc * 8, size_t(256) << 20));
    const Int8Peak peak = measure_int8_peak(ctx);

    std::vector<GgmlType> types;
    for (const auto& name : split(o.types, ',')) {
        const auto t = type_from_name(name);
        if (!t) fail("--types: unknown type '", name, "'");
        types.push_back(*t);
    }
    std::vector<Shape> shapes;
    for (const auto& s : split(o.shapes, ',')) shapes.push_back(parse_shape(s));
    std::vector<int64_t> ms;
    for (const auto& s : split(o.ms, ',')) ms.push_back(std::stoll(s));

    nlohmann::json records = nlohmann::json::array();
    if (!o.json) {
        std::printf("isa %s, %d threads, last-level cache %.0f MiB, measured read bandwidth %.2f GB/s\n",
                    isa_name(ctx.isa()), ctx.threads(), double(llc) / (1 << 20), bw);
        std::printf("%s\n", amx_status().c_str());
        if (peak.vnni > 0)
            std::printf("int8 compute peak (operands in registers, all threads): vpdpbusd zmm %.0f G multiply-adds/s%s\n",
                        peak.vnni, peak.amx > 0 ? cat(", tdpbssd ", int64_t(peak.amx + 0.5), " G/s").c_str() : "");
        std::printf("%-7s %7s %7s %5s %7s %12s %9s %9s %7s %7s  %s\n", "type", "n", "k", "m", "copies", "us", "GB/s",
                    "GFLOP/s", "%bw", "%peak", "kernel");
    }
    std::mt19937 rng(1234);
    for (GgmlType type : types)
        for (const Shape& sh : shapes) {
            if (sh.k % type_info(type).block_size) continue;  // K-quants need k % 256 == 0
            const size_t bytes = row_size(type, sh.k) * size_t(sh.n);
            const std::vector<uint8_t> one = make_weight_bytes(type, sh, rng);
            for (int64_t m : ms) {
                const int copies = m <= 16 && !o.hot ? int(std::max<size_t>(1, (4 * llc + bytes - 1) / bytes)) : 1;
                std::vector<std::vector<uint8_t>> weights(size_t(copies), one);
                std::vector<float> x(size_t(m * sh.k)), y(size_t(m * sh.n));
                std::uniform_real_distribution<float> ud(-1, 1);
                for (auto& v : x) v = ud(rng);
                auto view = [&](int c) {
                    return WeightView{type, sh.n, sh.k, row_size(type, sh.k), weights[size_t(c)].data(), "bench", false};
                };
                matmul(ctx, x.data(), m, view(0), y.data());  // warm-up
                std::vector<double> times;
                double total = 0;
                for (int rep = 0; o.reps ? rep < o.reps : (rep < 3 || (total < 0.3 && rep < 1000)); ++rep) {
                    const auto t0 = std::chrono::steady_clock::now();
                    matmul(ctx, x.data(), m, view(rep % copies), y.data());
                    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                    times.push_back(s);
                    total += s;
                }
                std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
                const double s = times[times.size() / 2];
                const double gbps = double(bytes) / s / 1e9, gflops = 2.0 * double(m * sh.n * sh.k) / s / 1e9;
                const std::string kernel = matmul_kernel_name(ctx, type, m);
                // % of the int8 peak of the instructions this path multiplies with
                const double pk = kernel.rfind("amx", 0) == 0 ? peak.amx : peak.vnni;
                const double pct_peak = pk > 0 ? 100 * gflops / 2 / pk : 0;
                records.push_back({{"type", type_name(type)}, {"n", sh.n}, {"k", sh.k}, {"m", m}, {"copies", copies},
                                   {"us", s * 1e6}, {"gbps", gbps}, {"gflops", gflops},
                                   {"pct_bandwidth", 100 * gbps / bw}, {"pct_int8_peak", pct_peak}, {"kernel", kernel}});
                if (!o.json)
                    std::printf("%-7s %7lld %7lld %5lld %7d %12.1f %9.2f %9.1f %6.1f%% %6.1f%%  %s\n", type_name(type),
                                (long long)sh.n, (long long)sh.k, (long long)m, copies, s * 1e6, gbps, gflops,
                                100 * gbps / bw, pct_peak, kernel.c_str());
                std::fflush(stdout);
            }
        }
    if (o.json) {
        nlohmann::json doc = {{"isa", isa_name(ctx.isa())},        {"threads", ctx.threads()},
                              {"llc_bytes", llc},                  {"read_bandwidth_gbps", bw}, {"amx", amx_status()},
                              {"int8_peak_gmacs", {{"vpdpbusd", peak.vnni}, {"tdpbssd", peak.amx}}},
                              {"results", records}};
        std::printf("%s\n", doc.dump(1).c_str());
    }
    return 0;
}

}  // namespace

Command add_bench(CLI::App& app) {
    auto o = std::make_shared<Opts>();
    auto* bench = app.add_subcommand("bench", "Benchmarks");
    bench->require_subcommand(1);
    auto* k = bench->add_subcommand("kernels", "matmul speed per type and batch size, beside the read bandwidth");
    k->add_option("--types", o->types, "comma-separated weight types");
    k->add_option("--shapes", o->shapes, "comma-separated NxK weight shapes (rows x columns)");
    k->add_option("--m", o->ms, "comma-separated activation row counts");
    k->add_option("-t,--threads", o->threads, "threads (default: physical cores)");
    k->add_option("--isa", o->isa, "force an instruction set: scalar, avx2, avx512, neon");
    k->add_option("--reps", o->reps, "timed repetitions (default: ~0.3 s worth, at least 3)");
    k->add_flag("--json", o->json, "print one JSON document");
    k->add_flag("--hot", o->hot, "one copy of the weights, kept in cache (compute rate, not DRAM)");
    Command model = add_bench_model(*bench);
    Command batch = add_bench_batch(*bench);
    Command moe = add_bench_moe(*bench);
    return [o, k, bench, model, batch, moe]() {
        if (k->parsed()) return bench_kernels(*o);
        if (bench->got_subcommand("moe")) return moe();
        return bench->got_subcommand("batch") ? batch() : model();
    };
}

}  // namespace qlm::cli
