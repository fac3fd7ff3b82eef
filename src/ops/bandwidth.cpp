// Memory read bandwidth of this machine, measured the way a GEMV reads its
// weights: every thread streams its own slice of a buffer far larger than the
// last-level cache. Benchmarks report kernel GB/s beside this number.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <vector>

#include "ops/context_impl.h"
#include "qlm/ops.h"

namespace qlm {

size_t last_level_cache_bytes() noexcept {
    size_t best = 0;
    for (int idx = 0; idx < 8; ++idx) {
        std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/size");
        std::string s;
        if (!(f >> s)) continue;
        size_t v = std::strtoull(s.c_str(), nullptr, 10);
        if (!s.empty() && (s.back() == 'K')) v <<= 10;
        if (!s.empty() && (s.back() == 'M')) v <<= 20;
        best = std::max(best, v);
    }
    return best ? best : size_t(32) << 20;
}

double measure_read_bandwidth(Context& ctx, size_t bytes, int reps) {
    auto& pool = *ctx.impl().pool;
    const size_t words = bytes / sizeof(uint64_t);
    std::vector<uint64_t> buf(words);
    for (size_t i = 0; i < words; ++i) buf[i] = i * 0x9e3779b97f4a7c15ull;  // touch every page
    const int64_t tasks = pool.size();
    const size_t per = words / size_t(tasks) / 8 * 8;
    std::vector<uint64_t> sink(size_t(tasks) * 8);
    double best = 0;
    for (int rep = 0; rep < reps; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        pool.run(tasks, [&](int64_t t) {
            const uint64_t* p = buf.data() + size_t(t) * per;
            // Four interleaved streams per thread, eight sums each: one stream per
            // thread, or fewer sums, left this machine's prefetchers or adders as the
            // limit (15-16 GB/s measured where ggml's harness and our Q8_0 GEMV saw 21+).
            const size_t quarter = per / 4 / 8 * 8;
            const uint64_t* q[4] = {p, p + quarter, p + 2 * quarter, p + 3 * quarter};
            uint64_t a[4][8] = {};
            for (size_t i = 0; i < quarter; i += 8)
                for (int s4 = 0; s4 < 4; ++s4)
                    for (int j = 0; j < 8; ++j) a[s4][j] += q[s4][i + size_t(j)];
            uint64_t x = 0;
            for (const auto& row : a)
                for (uint64_t v : row) x ^= v;
            sink[size_t(t) * 8] = x;  // one cache line per thread: no false sharing
        });
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, double(per / 32 * 32 * size_t(tasks) * sizeof(uint64_t)) / s / 1e9);
    }
    uint64_t x = 0;
    for (uint64_t v : sink) x ^= v;
    if (x == 42) best += 1e-12;  // keep the sums alive
    return best;
}

}  // namespace qlm
