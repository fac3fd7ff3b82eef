// Memory read bandwidth of this machine, measured the way the best STREAM-style
// read probes do and the way a GEMV reads its weights: the threads sum slices
// of the buffer (16 per thread, each first touched by a pool task) as
// four interleaved sequential streams of whole 64-byte lines, with 256-bit
// loads where the CPU has AVX2 and two accumulators (nothing spills); two
// buffer sizes, both far larger than the last-level cache, best of `reps`
// passes of each after an untimed one. Benchmarks report kernel GB/s beside
// this number (ggml's harness, bench/ggml, reads the same way).
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "cpu/kernels.h"
#include "ops/context_impl.h"
#include "qlm/error.h"
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

namespace {

constexpr int kStreams = 4;

// Sum of n words (a multiple of 8 * kStreams) read as kStreams streams.
uint64_t sum_streams_portable(const uint64_t* p, size_t n) {
    const size_t per = n / kStreams;
    uint64_t a[kStreams][2] = {};
    for (size_t i = 0; i < per; i += 8)
        for (int s = 0; s < kStreams; ++s) {
            const uint64_t* q = p + size_t(s) * per + i;
            a[s][0] += q[0] + q[2] + q[4] + q[6];
            a[s][1] += q[1] + q[3] + q[5] + q[7];
        }
    uint64_t x = 0;
    for (const auto& v : a) x += v[0] + v[1];
    return x;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t sum_streams_avx2(const uint64_t* p, size_t n) {
    const size_t per = n / kStreams;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    for (size_t i = 0; i < per; i += 8)
        for (int s = 0; s < kStreams; ++s) {
            const uint64_t* q = p + size_t(s) * per + i;
            a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(q)));
            a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 4)));
        }
    alignas(32) uint64_t l[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(l), _mm256_add_epi64(a0, a1));
    return l[0] + l[1] + l[2] + l[3];
}
#endif

struct FreeDeleter {
    void operator()(uint64_t* p) const { std::free(p); }
};

}  // namespace

double measure_read_bandwidth(Context& ctx, size_t bytes, int reps) {
    auto& pool = *ctx.impl().pool;
    // many slices per thread: with one task per thread a fast worker could take
    // two while another still waits to wake, and the probe read on one core
    const int64_t tasks = int64_t(pool.size()) * 16;
    uint64_t (*sum)(const uint64_t*, size_t) = sum_streams_portable;
#if defined(__x86_64__)
    if (cpu::cpu_has(Isa::Avx2)) sum = sum_streams_avx2;
#endif
    std::vector<uint64_t> sink(size_t(tasks) * 8);  // one cache line per thread: no false sharing
    double best = 0;
    for (const size_t size : {bytes / 2, bytes}) {
        const size_t per = size / 8 / size_t(tasks) / (8 * kStreams) * (8 * kStreams);  // words per thread
        if (per == 0) continue;
        std::unique_ptr<uint64_t, FreeDeleter> buf(
            static_cast<uint64_t*>(std::aligned_alloc(64, per * size_t(tasks) * 8)));
        if (!buf) fail("read bandwidth probe: cannot allocate ", per * size_t(tasks) * 8, " bytes");
        uint64_t* b = buf.get();
        pool.run(tasks, [&](int64_t t) {  // first touch by the reader
            uint64_t* p = b + size_t(t) * per;
            for (size_t i = 0; i < per; ++i) p[i] = i * 0x9e3779b97f4a7c15ull ^ uint64_t(t);
        });
        for (int rep = 0; rep <= reps; ++rep) {
            const auto t0 = std::chrono::steady_clock::now();
            pool.run(tasks, [&](int64_t t) { sink[size_t(t) * 8] += sum(b + size_t(t) * per, per); });
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (rep > 0) best = std::max(best, double(per * size_t(tasks) * 8) / s / 1e9);  // rep 0: untimed warm-up
        }
    }
    uint64_t x = 0;
    for (uint64_t v : sink) x ^= v;
    if (x == 42) best += 1e-12;  // keep the sums alive
    return best;
}

}  // namespace qlm
