// cuda_bench_kernels: device-to-device copy bandwidth, then matmul time per
// weight type and batch size m, like `qlm bench kernels` on the CPU. The weight
// set is copies of one matrix totalling >= 4x the L2 cache, cycled, so GEMV
// numbers are HBM numbers; times come from CUDA events around `reps` calls.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <random>

#include "cuda/check.h"
#include "cuda/context_impl.h"
#include "cuda/validate.h"
#include "qlm/cuda.h"
#include "qlm/error.h"

namespace qlm {

namespace {

// Milliseconds of the work `f` enqueues on the context's stream.
template <typename F>
double time_ms(CudaContext& ctx, F&& f) {
    auto stream = static_cast<cudaStream_t>(ctx.stream());
    cudaEvent_t start, stop;
    QLM_CUDA_CHECK(cudaEventCreate(&start));
    QLM_CUDA_CHECK(cudaEventCreate(&stop));
    QLM_CUDA_CHECK(cudaEventRecord(start, stream));
    f();
    QLM_CUDA_CHECK(cudaEventRecord(stop, stream));
    QLM_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    QLM_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    (void)cudaEventDestroy(start);
    (void)cudaEventDestroy(stop);
    return double(ms);
}

// 64 distinct quantized rows repeated to n (quantizing everything is slow for the search-based types).
std::vector<uint8_t> make_weight_bytes(GgmlType type, int64_t n, int64_t k, std::mt19937& rng) {
    const size_t rs = row_size(type, k);
    const int64_t distinct = std::min<int64_t>(64, n);
    std::normal_distribution<float> nd(0, 1);
    std::vector<float> row(static_cast<size_t>(k));
    std::vector<uint8_t> bytes(rs * size_t(n));
    for (int64_t r = 0; r < distinct; ++r) {
        for (auto& v : row) v = nd(rng);
        quantize_row(type, row.data(), bytes.data() + size_t(r) * rs, k);
    }
    for (int64_t r = distinct; r < n; ++r)
        std::copy_n(bytes.data() + size_t(r % distinct) * rs, rs, bytes.data() + size_t(r) * rs);
    return bytes;
}

}  // namespace

CudaBenchReport cuda_bench_kernels(const CudaBenchOptions& o) {
    if (o.n <= 0 || o.k <= 0 || o.reps <= 0) fail("cuda bench: n, k and reps must be positive");
    CudaContext ctx(CudaOptions{o.device, false});
    auto stream = static_cast<cudaStream_t>(ctx.stream());
    CudaBenchReport rep;
    rep.device = ctx.device_name();
    rep.l2_bytes = ctx.l2_cache_bytes();

    {  // copy bandwidth: best of 5 device-to-device copies of >= 8x L2
        const size_t bytes = std::max<size_t>(8 * rep.l2_bytes, size_t(256) << 20);
        CudaBuffer a = ctx.alloc(bytes), b = ctx.alloc(bytes);
        QLM_CUDA_CHECK(cudaMemsetAsync(a.data(), 1, bytes, stream));
        QLM_CUDA_CHECK(cudaMemsetAsync(b.data(), 0, bytes, stream));
        double best = 1e30;
        for (int i = 0; i < 6; ++i) {
            const double ms = time_ms(ctx, [&] {
                QLM_CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, stream));
            });
            if (i > 0) best = std::min(best, ms);  // the first is a warm-up
        }
        rep.copy_gbps = 2.0 * double(bytes) / (best * 1e-3) / 1e9;
    }

    std::vector<GgmlType> types = o.types;
    if (types.empty()) {
        size_t count = 0;
        const TypeInfo* all = all_types(&count);
        for (size_t i = 0; i < count; ++i)
            if (cuda::supports_gemm(all[i].type)) types.push_back(all[i].type);
    }
    const int64_t max_m = o.ms.empty() ? 1 : *std::max_element(o.ms.begin(), o.ms.end());
    std::mt19937 rng(1234);
    for (GgmlType type : types) {
        if (!cuda::supports_gemm(type)) fail("cuda bench: ", type_name(type), " is not a CUDA weight type");
        if (o.k % type_info(type).block_size) continue;  // K-quants need k % 256 == 0
        const size_t rs = row_size(type, o.k), bytes = rs * size_t(o.n);
        const std::vector<uint8_t> host = make_weight_bytes(type, o.n, o.k, rng);
        const int copies = int(std::max<size_t>(1, (4 * rep.l2_bytes + bytes - 1) / bytes));
        rep.weight_set_bytes = std::max(rep.weight_set_bytes, bytes * size_t(copies));
        std::vector<CudaBuffer> mem;
        std::vector<DeviceWeight> weights;
        for (int c = 0; c < copies; ++c) {
            mem.push_back(ctx.alloc(bytes));
            if (c == 0) cuda_copy_to_device(ctx, mem[0].data(), host.data(), bytes);
            else QLM_CUDA_CHECK(cudaMemcpyAsync(mem[size_t(c)].data(), mem[0].data(), bytes, cudaMemcpyDeviceToDevice, stream));
            weights.push_back({type, o.n, o.k, rs, mem[size_t(c)].as<const uint8_t>(), cat("bench.", type_name(type))});
        }
        std::vector<float> xh(size_t(max_m * o.k));
        std::uniform_real_distribution<float> ud(-1, 1);
        for (auto& v : xh) v = ud(rng);
        CudaBuffer x = ctx.alloc(xh.size() * sizeof(float)), y = ctx.alloc(size_t(max_m * o.n) * sizeof(float));
        cuda_copy_to_device(ctx, x.data(), xh.data(), xh.size() * sizeof(float));
        for (int64_t m : o.ms) {
            if (m <= 0) fail("cuda bench: batch sizes must be positive, got ", m);
            for (int c = 0; c < std::min(copies, 2); ++c)  // warm-up: scratch buffers, cuBLAS heuristics
                cuda_matmul(ctx, x.as<float>(), m, weights[size_t(c)], y.as<float>());
            const double ms = time_ms(ctx, [&] {
                for (int r = 0; r < o.reps; ++r)
                    cuda_matmul(ctx, x.as<float>(), m, weights[size_t(r % copies)], y.as<float>());
            });
            const double s = ms * 1e-3 / o.reps;
            CudaBenchRow row{type, m, o.n, o.k, s * 1e6, double(bytes) / s / 1e9,
                             2.0 * double(m) * double(o.n) * double(o.k) / s / 1e9, 0};
            row.pct_of_copy = 100 * row.weight_gbps / rep.copy_gbps;
            rep.rows.push_back(row);
        }
        ctx.synchronize();
    }
    return rep;
}

void print_cuda_bench(const CudaBenchReport& r, std::ostream& os) {
    char line[256];
    std::snprintf(line, sizeof line, "%s, L2 %.0f MiB, device-to-device copy %.1f GB/s (read + write)\n",
                  r.device.c_str(), double(r.l2_bytes) / (1 << 20), r.copy_gbps);
    os << line;
    std::snprintf(line, sizeof line, "%-7s %7s %7s %5s %10s %9s %10s %7s\n", "type", "n", "k", "m", "us", "GB/s",
                  "GFLOP/s", "%copy");
    os << line;
    for (const auto& x : r.rows) {
        std::snprintf(line, sizeof line, "%-7s %7lld %7lld %5lld %10.1f %9.1f %10.1f %6.1f%%\n", type_name(x.type),
                      (long long)x.n, (long long)x.k, (long long)x.m, x.us, x.weight_gbps, x.gflops, x.pct_of_copy);
        os << line;
    }
}

}  // namespace qlm
