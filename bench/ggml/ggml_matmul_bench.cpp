// ggml_matmul_bench: times llama.cpp's ggml CPU matrix multiplication
// y = W x (ggml_mul_mat) for quantized weight types, next to a measured
// memory read bandwidth, so that qlm's own kernels can be compared on the
// same machine in the same run.  Built by bench/ggml/build_ggml.sh against an
// out-of-tree ggml; nothing here is part of qlm itself.
//
//   ggml_matmul_bench --types Q4_0,Q8_0 --shapes 4096x14336,14336x4096
//                     --m 1,8,512 --threads 2 --reps 10 --json
//
// Shapes are "n x k": W has n rows of k weights (ggml: ne0 = k, ne1 = n),
// x is F32 with ne0 = k, ne1 = m.  For m <= --small-m (16), several copies of
// W whose total size is >= --llc-factor (4) x L3 are cycled through in one
// graph (one mul_mat node per copy), so the weights come from DRAM; the time
// reported is per matmul (graph time / copies).  x is shared by all copies
// and stays in cache, as activations do in a real model.  ggml quantizes x to
// the weight type's vec_dot type inside mul_mat; that is part of the timed
// work.
//
// --repack on (default) puts W in ggml's CPU_REPACK buffer type, as llama.cpp
// does by default; ggml then uses interleaved layouts for the types it knows
// on this CPU (the record's "repack" says whether it applied).  --repack off
// uses the plain CPU buffer; --repack both runs both where they differ.

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

#define QLM_BENCH_NAME "ggml_matmul_bench"

#ifndef QLM_GGML_ORIGIN
#define QLM_GGML_ORIGIN "unknown"
#endif

namespace {

#include "bench_common.h"  // clk, die, split, machine facts, BwMeter, repack_buft


std::string upper(std::string s) {
    for (char & c : s) c = (char) std::toupper((unsigned char) c);
    return s;
}

ggml_type parse_type(const std::string & name) {
    const std::string want = upper(name);
    for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
        const char * tn = ggml_type_name((ggml_type) t);
        if (tn && upper(tn) == want && ggml_type_size((ggml_type) t) > 0) return (ggml_type) t;
    }
    die("unknown ggml type '" + name + "'");
}


// CPU time used by other processes, as a fraction of the whole machine,
// between two snapshots: a contention indicator for each record (ticks are
// 10 ms, so short windows are coarse).
struct CpuSnap { long long sys_busy = 0, sys_total = 0, self = 0; };

CpuSnap cpu_snap() {
    CpuSnap s;
    std::ifstream f("/proc/stat");
    std::string cpu;
    long long v[10] = {};
    if (f >> cpu) {
        for (int i = 0; i < 10 && (f >> v[i]); ++i) {}
        // user nice system idle iowait irq softirq steal guest guest_nice
        long long total = 0;
        for (int i = 0; i < 8; ++i) total += v[i];
        s.sys_total = total;
        s.sys_busy = total - v[3] - v[4];
    }
    std::ifstream g("/proc/self/stat");
    std::string line;
    if (std::getline(g, line)) {
        auto p = line.rfind(')');
        if (p != std::string::npos) {
            std::vector<std::string> fld = split(line.substr(p + 2), ' ');
            // fields after ")" start at field 3 (state); utime, stime are fields 14, 15
            if (fld.size() > 13) s.self = std::atoll(fld[11].c_str()) + std::atoll(fld[12].c_str());
        }
    }
    return s;
}

double other_load(const CpuSnap & a, const CpuSnap & b) {
    long long total = b.sys_total - a.sys_total;
    if (total <= 0) return 0.0;
    double o = (double) ((b.sys_busy - a.sys_busy) - (b.self - a.self)) / (double) total;
    return std::clamp(o, 0.0, 1.0);
}

// Wait (up to max_s seconds) for a 0.3 s window in which other processes
// use at most `limit` of the machine's CPU.  Returns whether one came.
bool wait_quiet(double limit, double max_s) {
    const auto t0 = clk::now();
    while (true) {
        CpuSnap a = cpu_snap();
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        if (other_load(a, cpu_snap()) <= limit) return true;
        if (seconds_since(t0) >= max_s) return false;
    }
}


// ---------------------------------------------------------------------------

struct Options {
    std::vector<ggml_type> types;
    std::vector<std::string> type_names;
    std::vector<std::pair<int64_t, int64_t>> shapes;  // (n, k)
    std::vector<int64_t> ms = { 1, 2, 4, 8, 16, 512 };
    int threads = 0;
    int reps = 10;
    int warmup = 1;
    double max_seconds = 3.0;   // per-config timing budget: caps reps (min 3)
    double llc_factor = 4.0;    // weight set >= llc_factor * L3 for small m
    int64_t small_m = 16;
    int repack_mode = 1;        // 0 off, 1 on, 2 both
    bool json = false;
    bool bw = true;
    int bw_runs = 5;
    double max_other_load = 0.10;  // retry a record whose timing saw more foreign CPU use
    int retries = 3;
    double quiet_wait = 20.0;      // before each attempt, wait up to this long for a quiet machine
};

void usage() {
    std::fprintf(stderr,
        "usage: ggml_matmul_bench [options]\n"
        "  --types A,B,..   ggml types (default: F32,F16,BF16,Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q3_K,\n"
        "                   Q4_K,Q5_K,Q6_K,IQ4_NL,IQ4_XS,MXFP4)\n"
        "  --shapes NxK,..  W has n rows of k weights (default 4096x14336,14336x4096)\n"
        "  --m 1,8,512      batch sizes: columns of x (default 1,2,4,8,16,512)\n"
        "  --threads N      ggml threads and bandwidth threads (default: all CPUs)\n"
        "  --reps R         timed repetitions, median reported (default 10)\n"
        "  --max-seconds T  per-config budget: reps = min(R, max(3, T / warm-up time)) (default 3)\n"
        "  --warmup W       warm-up graph runs (default 1)\n"
        "  --repack on|off|both  weights in ggml's CPU_REPACK buffer, as llama.cpp does (default on)\n"
        "  --llc-factor F   for m <= small-m, cycle copies of W totalling >= F x L3 (default 4)\n"
        "  --small-m M      (default 16)\n"
        "  --no-bw          skip the read-bandwidth measurement; --bw-runs N (default 5)\n"
        "  --max-other-load F  a record whose timing saw other processes use more than F of the\n"
        "                   machine's CPU (default 0.10) is re-measured up to --retries N (3)\n"
        "                   times, keeping the least contended attempt; before each attempt\n"
        "                   wait up to --quiet-wait S (20) s for a quiet 0.3 s window\n"
        "                   (--retries 0 --quiet-wait 0: measure once, never wait)\n"
        "  --json           one JSON array on stdout (default: a table)\n");
}

Options parse_args(int argc, char ** argv) {
    Options o;
    std::string types = "F32,F16,BF16,Q4_0,Q4_1,Q5_0,Q5_1,Q8_0,Q2_K,Q3_K,Q4_K,Q5_K,Q6_K,IQ4_NL,IQ4_XS,MXFP4";
    std::string shapes = "4096x14336,14336x4096";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value for " + a);
            return argv[++i];
        };
        if (a == "--types") types = next();
        else if (a == "--shapes") shapes = next();
        else if (a == "--m") { o.ms.clear(); for (auto & s : split(next(), ',')) o.ms.push_back(parse_long(s, "m")); }
        else if (a == "--threads") o.threads = (int) parse_long(next(), "threads");
        else if (a == "--reps") o.reps = (int) parse_long(next(), "reps");
        else if (a == "--warmup") { std::string v = next(); o.warmup = v == "0" ? 0 : (int) parse_long(v, "warmup"); }
        else if (a == "--max-seconds") { o.max_seconds = std::atof(next().c_str()); if (o.max_seconds <= 0) die("bad --max-seconds"); }
        else if (a == "--llc-factor") { o.llc_factor = std::atof(next().c_str()); if (o.llc_factor <= 0) die("bad --llc-factor"); }
        else if (a == "--small-m") o.small_m = parse_long(next(), "small-m");
        else if (a == "--repack") {
            std::string v = next();
            if (v == "off") o.repack_mode = 0; else if (v == "on") o.repack_mode = 1; else if (v == "both") o.repack_mode = 2;
            else die("--repack takes on, off or both");
        }
        else if (a == "--json") o.json = true;
        else if (a == "--max-other-load") o.max_other_load = std::atof(next().c_str());
        else if (a == "--quiet-wait") o.quiet_wait = std::atof(next().c_str());
        else if (a == "--retries") { std::string v = next(); o.retries = v == "0" ? 0 : (int) parse_long(v, "retries"); }
        else if (a == "--no-bw") o.bw = false;
        else if (a == "--bw-runs") o.bw_runs = (int) parse_long(next(), "bw-runs");
        else if (a == "-h" || a == "--help") { usage(); std::exit(0); }
        else { usage(); die("unknown argument '" + a + "'"); }
    }
    for (auto & t : split(types, ',')) { o.types.push_back(parse_type(t)); o.type_names.push_back(upper(t)); }
    for (auto & s : split(shapes, ',')) {
        auto p = s.find_first_of("xX");
        if (p == std::string::npos) die("bad shape '" + s + "' (want NxK)");
        o.shapes.push_back({ parse_long(s.substr(0, p), "n"), parse_long(s.substr(p + 1), "k") });
    }
    if (o.threads <= 0) o.threads = (int) std::max(1u, std::thread::hardware_concurrency());
    return o;
}

struct Record {
    std::string type;
    int64_t n, k, m;
    int threads, copies, reps;
    bool repack;
    double us, us_min, gbps, gflops;
    size_t weight_bytes;
    double max_rel_err;
    double other_load;
    double mem_gbps_near;
};


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

// Worst |y - ref| / sum|w*x| over a few rows of column 0, with ref from
// ggml's own dequantization in double precision.
double check_output(ggml_type type, const std::vector<uint8_t> & wimg, int64_t n, int64_t k,
                    const std::vector<float> & x, ggml_tensor * y) {
    const size_t row = ggml_row_size(type, k);
    std::vector<float> w((size_t) k);
    const auto * tr = ggml_get_type_traits(type);
    double worst = 0.0;
    const int64_t rows[] = { 0, 1, 7, 63, n / 2, n - 1 };
    for (int64_t r : rows) {
        r = std::clamp<int64_t>(r, 0, n - 1);
        const uint8_t * src = wimg.data() + row * (size_t) r;
        if (type == GGML_TYPE_F32) std::memcpy(w.data(), src, row);
        else tr->to_float(src, w.data(), k);
        double ref = 0, mag = 0;
        for (int64_t j = 0; j < k; ++j) { ref += (double) w[j] * x[j]; mag += std::fabs((double) w[j] * x[j]); }
        float got = 0;
        ggml_backend_tensor_get(y, &got, (size_t) r * sizeof(float), sizeof(float));
        worst = std::max(worst, std::fabs(got - ref) / std::max(mag, 1e-30));
    }
    return worst;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

int main(int argc, char ** argv) {
    Options opt = parse_args(argc, argv);
    const size_t l3 = l3_bytes();
    const std::string cpu = cpu_model();
    const unsigned ncpu = std::thread::hardware_concurrency();

    ggml_log_set([](ggml_log_level level, const char * text, void *) {
        if (level >= GGML_LOG_LEVEL_WARN) std::fputs(text, stderr);
    }, nullptr);

    ggml_backend_t backend = ggml_backend_cpu_init();
    if (!backend) die("ggml_backend_cpu_init failed");
    ggml_backend_cpu_set_n_threads(backend, opt.threads);
    ggml_backend_buffer_type_t cpu_buft = ggml_backend_cpu_buffer_type();
    ggml_backend_buffer_type_t rp_buft = repack_buft();
    if (opt.repack_mode != 0 && !rp_buft) std::fprintf(stderr, "note: this ggml has no CPU_REPACK buffer type\n");

    std::string features;
    if (auto get_f = (ggml_backend_get_features_t) ggml_backend_reg_get_proc_address(ggml_backend_cpu_reg(), "ggml_backend_get_features")) {
        for (auto * f = get_f(ggml_backend_cpu_reg()); f && f->name; ++f) {
            if (!features.empty()) features += ' ';
            features += f->name;
            if (std::strcmp(f->value, "1") != 0) { features += '='; features += f->value; }
        }
    }

    // Read bandwidth at the start and the end of the run, and a short sample
    // next to each record: on a VM it drifts with the neighbours' traffic.
    std::unique_ptr<BwMeter> meter;
    double bw_start = 0.0, bw_end = 0.0, bw_other = 0.0;
    auto measure_bw_quiet = [&](double & other) {
        double best = 0.0;
        other = 2.0;
        for (int attempt = 0; attempt <= opt.retries && other > opt.max_other_load; ++attempt) {
            if (opt.quiet_wait > 0) wait_quiet(opt.max_other_load, opt.quiet_wait);
            const CpuSnap s0 = cpu_snap();
            const double g = meter->measure(opt.bw_runs);
            const double l = other_load(s0, cpu_snap());
            if (l < other) { other = l; best = g; }
        }
        return best;
    };
    if (opt.bw) {
        const auto t0 = clk::now();
        meter = std::make_unique<BwMeter>(opt.threads, std::max<size_t>(8 * l3, 256ull << 20));
        bw_start = measure_bw_quiet(bw_other);
        std::fprintf(stderr, "read bandwidth: %.1f GB/s (%d threads x %d streams, %zu MiB, best of %d) [%.1fs, other load %.0f%%]\n",
                     bw_start, opt.threads, kStreams, meter->bytes() >> 20, opt.bw_runs, seconds_since(t0), 100 * bw_other);
    }

    std::vector<Record> recs;
    std::mt19937 rng(1234);
    const auto t_all = clk::now();

    for (auto [n, k] : opt.shapes) {
        for (size_t ti = 0; ti < opt.types.size(); ++ti) {
            const ggml_type type = opt.types[ti];
            if (k % ggml_blck_size(type) != 0) {
                std::fprintf(stderr, "skip %s %lldx%lld: k not a multiple of the block size %lld\n", opt.type_names[ti].c_str(),
                             (long long) n, (long long) k, (long long) ggml_blck_size(type));
                continue;
            }
            const auto t_setup = clk::now();
            std::vector<uint8_t> wimg = make_weights(type, n, k, rng);
            const size_t wbytes = wimg.size();
            const int64_t min_m = *std::min_element(opt.ms.begin(), opt.ms.end());
            const bool any_small = min_m <= opt.small_m;
            const int n_copies = any_small ? (int) std::max<double>(1.0, std::ceil(opt.llc_factor * (double) l3 / (double) wbytes)) : 1;

            std::vector<int> repack_runs;
            if (opt.repack_mode == 0 || !rp_buft) repack_runs = { 0 };
            else if (opt.repack_mode == 1) repack_runs = { 1 };
            else repack_runs = { 0, 1 };

            for (int want_repack : repack_runs) {
                // weights: n_copies tensors in their own context and buffer
                ggml_init_params wp = { ggml_tensor_overhead() * (size_t) (n_copies + 1), nullptr, true };
                ggml_context * wctx = ggml_init(wp);
                std::vector<ggml_tensor *> W;
                for (int c = 0; c < n_copies; ++c) W.push_back(ggml_new_tensor_2d(wctx, type, k, n));
                ggml_backend_buffer_t wbuf = ggml_backend_alloc_ctx_tensors_from_buft(wctx, want_repack ? rp_buft : cpu_buft);
                if (!wbuf) die("cannot allocate weights");
                // CPU_REPACK's init_tensor leaves tensor->extra null when it has no
                // layout for this type/shape on this CPU; its set_tensor would then
                // crash, so such weights go to the plain CPU buffer (as llama.cpp's
                // supports_op check does).
                const bool repacked = want_repack && W[0]->extra != nullptr;
                if (want_repack && !repacked) {
                    ggml_backend_buffer_free(wbuf);
                    wbuf = nullptr;
                    if (opt.repack_mode == 2) {  // identical to the off run
                        ggml_free(wctx);
                        continue;
                    }
                    for (auto * w : W) { w->buffer = nullptr; w->data = nullptr; w->extra = nullptr; }
                    wbuf = ggml_backend_alloc_ctx_tensors_from_buft(wctx, cpu_buft);
                    if (!wbuf) die("cannot allocate weights");
                }
                ggml_backend_buffer_set_usage(wbuf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
                for (auto * w : W) ggml_backend_tensor_set(w, wimg.data(), 0, wbytes);  // repacks on CPU_REPACK
                std::fprintf(stderr, "%-6s %5lldx%-5lld setup %.2fs (%d copies of %.1f MiB%s)\n", opt.type_names[ti].c_str(),
                             (long long) n, (long long) k, seconds_since(t_setup), n_copies, wbytes / 1048576.0,
                             repacked ? ", repacked" : "");

                for (int64_t m : opt.ms) {
                    const int C = m <= opt.small_m ? n_copies : 1;
                    const size_t gsize = std::max<size_t>(GGML_DEFAULT_GRAPH_SIZE, 2 * (size_t) C + 16);
                    ggml_init_params p = { ggml_tensor_overhead() * (size_t) (C + 4) + ggml_graph_overhead_custom(gsize, false), nullptr, true };
                    ggml_context * ctx = ggml_init(p);
                    ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, k, m);
                    ggml_cgraph * gf = ggml_new_graph_custom(ctx, gsize, false);
                    std::vector<ggml_tensor *> Y;
                    for (int c = 0; c < C; ++c) {
                        ggml_tensor * y = ggml_mul_mat(ctx, W[c], x);
                        ggml_build_forward_expand(gf, y);
                        Y.push_back(y);
                    }
                    ggml_backend_buffer_t abuf = ggml_backend_alloc_ctx_tensors(ctx, backend);
                    if (!abuf) die("cannot allocate activations");
                    std::vector<float> xs((size_t) (k * m));
                    std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
                    for (auto & v : xs) v = ud(rng);
                    ggml_backend_tensor_set(x, xs.data(), 0, xs.size() * sizeof(float));

                    auto run = [&]() {
                        auto t0 = clk::now();
                        if (ggml_backend_graph_compute(backend, gf) != GGML_STATUS_SUCCESS) die("graph compute failed");
                        return seconds_since(t0);
                    };
                    double t_w = 0;
                    for (int i = 0; i < std::max(1, opt.warmup); ++i) t_w = run();
                    const int reps = std::min(opt.reps, std::max(3, (int) (opt.max_seconds / std::max(t_w, 1e-9))));
                    // On a shared machine other processes steal cores and ggml's
                    // spinning barriers then cost whole scheduler slices: retry a
                    // contended measurement and keep the least contended attempt.
                    std::vector<double> ts;
                    double load = 2.0, near_bw = 0.0;
                    for (int attempt = 0; attempt <= opt.retries; ++attempt) {
                        if (attempt > 0) std::fprintf(stderr, "  m=%-4lld other load %.0f%%, retrying\n", (long long) m, 100 * load);
                        if (opt.quiet_wait > 0) wait_quiet(opt.max_other_load, opt.quiet_wait);
                        const CpuSnap s0 = cpu_snap();
                        const double nb = meter ? meter->measure(2) : 0.0;
                        run();  // re-warm after the wait and the bandwidth sample
                        std::vector<double> tt;
                        for (int r = 0; r < reps; ++r) tt.push_back(run() / C);
                        const double l = other_load(s0, cpu_snap());
                        if (l < load) { load = l; ts = tt; near_bw = nb; }
                        if (load <= opt.max_other_load) break;
                    }
                    const double err = check_output(type, wimg, n, k, xs, Y[0]);

                    Record rec;
                    rec.type = opt.type_names[ti];
                    rec.n = n; rec.k = k; rec.m = m;
                    rec.threads = opt.threads; rec.copies = C; rec.reps = reps;
                    rec.repack = repacked;
                    rec.us = median(ts) * 1e6;
                    rec.us_min = *std::min_element(ts.begin(), ts.end()) * 1e6;
                    rec.gbps = (double) wbytes / (rec.us * 1e-6) / 1e9;
                    rec.gflops = 2.0 * (double) m * (double) n * (double) k / (rec.us * 1e-6) / 1e9;
                    rec.weight_bytes = wbytes;
                    rec.max_rel_err = err;
                    rec.other_load = load;
                    rec.mem_gbps_near = near_bw;
                    recs.push_back(rec);
                    std::fprintf(stderr, "  m=%-4lld %10.1f us %7.1f GB/s (bw %4.1f) %8.1f GFLOP/s  copies=%d reps=%d err=%.1e other=%.0f%%%s\n",
                                 (long long) m, rec.us, rec.gbps, rec.mem_gbps_near, rec.gflops, C, reps, err, 100 * rec.other_load,
                                 err > 2e-2 ? "  CHECK FAILED" : "");

                    ggml_backend_buffer_free(abuf);
                    ggml_free(ctx);
                }
                ggml_backend_buffer_free(wbuf);
                ggml_free(wctx);
            }
        }
    }
    double bw_end_other = 0.0;
    if (meter) {
        bw_end = measure_bw_quiet(bw_end_other);
        std::fprintf(stderr, "read bandwidth at the end: %.1f GB/s [other load %.0f%%]\n", bw_end, 100 * bw_end_other);
    }
    std::fprintf(stderr, "total %.1fs\n", seconds_since(t_all));

    auto pct_bw = [](const Record & r) { return r.mem_gbps_near > 0 ? 100.0 * r.gbps / r.mem_gbps_near : 0.0; };
    if (opt.json) {
        std::printf("[\n");
        std::printf("  {\"kind\": \"membw\", \"impl\": \"stream-read\", \"threads\": %d, \"streams_per_thread\": %d,"
                    " \"gbps\": %.2f, \"gbps_end\": %.2f, \"bytes\": %zu, \"runs\": %d, \"other_load\": %.2f,"
                    " \"cpu\": \"%s\", \"logical_cpus\": %u, \"l3_bytes\": %zu, \"ggml_version\": \"%s\", \"ggml_commit\": \"%s\","
                    " \"ggml_origin\": \"%s\", \"ggml_cpu_features\": \"%s\"}",
                    opt.threads, kStreams, bw_start, bw_end, meter ? meter->bytes() : (size_t) 0, opt.bw_runs, bw_other,
                    json_escape(cpu).c_str(), ncpu, l3, json_escape(ggml_version()).c_str(),
                    json_escape(ggml_commit()).c_str(), json_escape(QLM_GGML_ORIGIN).c_str(), json_escape(features).c_str());
        for (auto & r : recs) {
            std::printf(",\n  {\"kind\": \"matmul\", \"impl\": \"ggml\", \"type\": \"%s\", \"n\": %lld, \"k\": %lld, \"m\": %lld,"
                        " \"threads\": %d, \"us\": %.2f, \"us_min\": %.2f, \"gbps\": %.2f, \"gflops\": %.2f, \"copies\": %d,"
                        " \"reps\": %d, \"repack\": %s, \"weight_bytes\": %zu, \"mem_gbps\": %.2f, \"mem_gbps_near\": %.2f,"
                        " \"max_rel_err\": %.2e, \"other_load\": %.2f}",
                        r.type.c_str(), (long long) r.n, (long long) r.k, (long long) r.m, r.threads, r.us, r.us_min,
                        r.gbps, r.gflops, r.copies, r.reps, r.repack ? "true" : "false", r.weight_bytes, bw_start,
                        r.mem_gbps_near, r.max_rel_err, r.other_load);
        }
        std::printf("\n]\n");
    } else {
        std::printf("cpu: %s (%u logical), L3 %zu MiB, ggml %s (%s; %s), threads %d\n", cpu.c_str(), ncpu, l3 >> 20,
                    ggml_version(), ggml_commit(), QLM_GGML_ORIGIN, opt.threads);
        std::printf("cpu features: %s\n", features.c_str());
        if (meter) std::printf("read bandwidth: %.1f GB/s at the start, %.1f GB/s at the end (%zu MiB, %d threads x %d streams)\n",
                               bw_start, bw_end, meter->bytes() >> 20, opt.threads, kStreams);
        std::printf("%-7s %6s %6s %5s %6s %6s %4s %12s %8s %8s %5s %9s %6s\n", "type", "n", "k", "m", "repack", "copies", "reps",
                    "us", "GB/s", "bw_near", "%bw", "GFLOP/s", "other");
        for (auto & r : recs) {
            std::printf("%-7s %6lld %6lld %5lld %6s %6d %4d %12.1f %8.1f %8.1f %4.0f%% %9.1f %5.0f%%\n", r.type.c_str(),
                        (long long) r.n, (long long) r.k, (long long) r.m, r.repack ? "yes" : "no", r.copies, r.reps, r.us,
                        r.gbps, r.mem_gbps_near, pct_bw(r), r.gflops, 100 * r.other_load);
        }
    }
    ggml_backend_free(backend);
    return 0;
}
