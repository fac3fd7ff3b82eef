// Pieces the ggml harnesses share (bench/ggml: ggml_matmul_bench,
// ggml_moe_bench): timing, argument parsing, machine facts, the read-bandwidth
// meter and ggml's CPU_REPACK buffer type. Included inside each harness's
// anonymous namespace, after it defines QLM_BENCH_NAME (its name in errors).
// Nothing here is part of qlm itself.
#pragma once

#ifndef QLM_BENCH_NAME
#error "define QLM_BENCH_NAME before including bench_common.h"
#endif

using clk = std::chrono::steady_clock;

double seconds_since(clk::time_point t0) {
    return std::chrono::duration<double>(clk::now() - t0).count();
}

[[noreturn]] void die(const std::string & msg) {
    std::fprintf(stderr, QLM_BENCH_NAME ": %s\n", msg.c_str());
    std::exit(2);
}

std::vector<std::string> split(const std::string & s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t end = s.find(sep, start);
        if (end == std::string::npos) end = s.size();
        if (end > start) out.push_back(s.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

long parse_long(const std::string & s, const char * what) {
    char * end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != '\0' || v <= 0) die(std::string("bad ") + what + ": '" + s + "'");
    return v;
}

// ---------------------------------------------------------------------------
// machine facts

size_t l3_bytes() {
    // cpu0's index3 is the L3 on x86 Linux; check its level to be sure.
    std::ifstream lv("/sys/devices/system/cpu/cpu0/cache/index3/level");
    int level = 0;
    if (lv >> level && level == 3) {
        std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index3/size");
        std::string s;
        if (f >> s && !s.empty()) {
            char unit = s.back();
            size_t mult = 1;
            if (unit == 'K') mult = 1024; else if (unit == 'M') mult = 1024 * 1024; else if (unit == 'G') mult = 1024ull * 1024 * 1024;
            if (!std::isdigit((unsigned char) unit)) s.pop_back();
            char * end = nullptr;
            unsigned long long v = std::strtoull(s.c_str(), &end, 10);
            if (end != s.c_str() && v > 0) return (size_t) v * mult;
        }
    }
    return 32ull << 20;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("model name", 0) == 0) {
            auto p = line.find(':');
            if (p != std::string::npos) {
                std::string v = line.substr(p + 1);
                v.erase(0, v.find_first_not_of(" \t"));
                return v;
            }
        }
    }
    return "unknown";
}

std::string json_escape(const std::string & s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') { o += '\\'; o += c; }
        else if ((unsigned char) c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
        else o += c;
    }
    return o;
}

// ---------------------------------------------------------------------------
// Memory read bandwidth: n_threads threads sum disjoint slices of one buffer
// (each slice first-touched by its reader).  Each thread reads its slice as
// kStreams interleaved sequential streams, 64 B from each in turn, much as a
// matmul kernel reads several weight rows at once: on the Zen 3 VM this was
// written on one stream per thread left ~30% of the bandwidth unused (and
// ggml's own F32 GEMV read faster than that).  Result: best of `runs` passes.

constexpr int kStreams = 4;

uint64_t sum_streams(const uint64_t * p, size_t n_words) {
    const size_t per = n_words / kStreams / 8 * 8;  // words per stream, whole 64 B lines
    uint64_t s = 0;
#if defined(__AVX2__)
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    for (size_t i = 0; i < per; i += 8) {
        for (int k = 0; k < kStreams; ++k) {
            const uint64_t * q = p + (size_t) k * per + i;
            a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *) q));
            a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *) (q + 4)));
        }
    }
    a0 = _mm256_add_epi64(a0, a1);
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256((__m256i *) lanes, a0);
    s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
    uint64_t acc[kStreams] = {};
    for (size_t i = 0; i < per; ++i)
        for (int k = 0; k < kStreams; ++k) acc[k] += p[(size_t) k * per + i];
    for (auto v : acc) s += v;
#endif
    return s;
}

class BwMeter {
public:
    BwMeter(int n_threads, size_t bytes) : nt_(n_threads) {
        per_ = bytes / 8 / (size_t) nt_ / (8 * kStreams) * (8 * kStreams);
        buf_ = (uint64_t *) std::aligned_alloc(64, per_ * (size_t) nt_ * 8);
        if (!buf_) die("cannot allocate the bandwidth buffer");
        std::vector<std::thread> th;
        for (int t = 0; t < nt_; ++t) th.emplace_back([this, t] {
            uint64_t * p = buf_ + (size_t) t * per_;
            for (size_t i = 0; i < per_; ++i) p[i] = i ^ (uint64_t) t;
        });
        for (auto & x : th) x.join();
    }
    ~BwMeter() { std::free(buf_); }
    BwMeter(const BwMeter &) = delete;
    BwMeter & operator=(const BwMeter &) = delete;

    size_t bytes() const { return per_ * (size_t) nt_ * 8; }

    // best GB/s over `runs` timed passes after one untimed pass
    double measure(int runs) {
        std::vector<clk::time_point> t_start(nt_), t_end(nt_);
        std::vector<uint64_t> sink((size_t) nt_ * 8, 0);  // 64 B apart
        std::barrier sync(nt_ + 1);
        std::vector<std::thread> th;
        for (int t = 0; t < nt_; ++t) th.emplace_back([&, t] {
            const uint64_t * p = buf_ + (size_t) t * per_;
            for (int r = 0; r < runs + 1; ++r) {
                sync.arrive_and_wait();
                t_start[t] = clk::now();
                sink[(size_t) t * 8] += sum_streams(p, per_);
                t_end[t] = clk::now();
                sync.arrive_and_wait();
            }
        });
        double best = 0.0;
        for (int r = 0; r < runs + 1; ++r) {
            sync.arrive_and_wait();
            sync.arrive_and_wait();
            const auto t0 = *std::min_element(t_start.begin(), t_start.end());
            const auto t1 = *std::max_element(t_end.begin(), t_end.end());
            const double sec = std::chrono::duration<double>(t1 - t0).count();
            if (r > 0 && sec > 0) best = std::max(best, (double) bytes() / sec / 1e9);
        }
        for (auto & x : th) x.join();
        uint64_t total = 0;
        for (auto v : sink) total += v;
        sink_ += total;  // keeps the sums observable
        return best;
    }

private:
    int nt_;
    size_t per_ = 0;
    uint64_t * buf_ = nullptr;
    uint64_t sink_ = 0;
};

ggml_backend_buffer_type_t repack_buft() {
    ggml_backend_reg_t reg = ggml_backend_cpu_reg();
    auto get_extra = (ggml_backend_dev_get_extra_bufts_t)
        ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
    if (!get_extra) return nullptr;
    ggml_backend_dev_t dev = ggml_backend_reg_dev_get(reg, 0);
    for (ggml_backend_buffer_type_t * p = get_extra(dev); p && *p; ++p) {
        if (std::strcmp(ggml_backend_buft_name(*p), "CPU_REPACK") == 0) return *p;
    }
    return nullptr;
}
