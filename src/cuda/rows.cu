// Row ops of the backend: embedding rows dequantized from any weight type
// (one thread per 32-element slice, SliceDot's decoder: bit-identical to the
// reference dequantizer), gather / scatter of float rows, the KV store.
#include "cuda/backend_kernels.h"
#include "cuda/config.h"
#include "cuda/dispatch.h"
#include "cuda/launch.cuh"
#include "cuda/slice_dot.h"
#include "qlm/error.h"

namespace qlm::cuda {

namespace {

template <GgmlType T>
__global__ void get_rows_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t spr,
                                const int32_t* __restrict__ ids, int64_t n_ids, float scale, float* __restrict__ out) {
    using S = SliceDot<T>;
    using Block = typename S::Block;
    const int64_t total = n_ids * spr;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i / spr, q = i % spr;
        const Block& b = reinterpret_cast<const Block*>(w + size_t(ids[r]) * row_bytes)[q / S::kSlices];
        WeightSlice ws;
        S::load(b, int(q % S::kSlices), ws);
        float v[32];
        S::dequantize(ws, v);
        float* o = out + r * spr * 32 + q * 32;
#pragma unroll
        for (int j = 0; j < 32; ++j) o[j] = scale == 1.0f ? v[j] : v[j] * scale;
    }
}

// F32, F16, BF16 tables: one thread per element.
__global__ void get_rows_float_kernel(int type, const uint8_t* __restrict__ w, size_t row_bytes, int64_t k,
                                      const int32_t* __restrict__ ids, int64_t n_ids, float scale,
                                      float* __restrict__ out) {
    const int64_t total = n_ids * k;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i / k, j = i % k;
        const uint8_t* row = w + size_t(ids[r]) * row_bytes;
        float v;
        if (type == 0)
            v = reinterpret_cast<const float*>(row)[j];
        else if (type == 1)
            v = half_to_float(reinterpret_cast<const uint16_t*>(row)[j]);
        else
            v = fmt::bf16_to_fp32(reinterpret_cast<const uint16_t*>(row)[j]);
        out[i] = scale == 1.0f ? v : v * scale;
    }
}

__global__ void gather_rows_kernel(const float* __restrict__ x, const int64_t* __restrict__ rows, int64_t n_rows,
                                   int64_t n, float* __restrict__ out) {
    const int64_t total = n_rows * n;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
        out[i] = x[rows[i / n] * n + i % n];
}

__global__ void scatter_rows_kernel(const float* __restrict__ x, const int64_t* __restrict__ rows, int64_t n_rows,
                                    int64_t n, float* __restrict__ out) {
    const int64_t total = n_rows * n;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
        out[rows[i / n] * n + i % n] = x[i];
}

__global__ void kv_store_kernel(KvStoreArgs a) {
    const int64_t total = a.rows * a.n_head * a.head_dim;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t d = i % a.head_dim, rh = i / a.head_dim;
        const int64_t h = rh % a.n_head, r = rh / a.n_head;
        const int64_t slot = a.slots[r], blk = slot / a.block_size, off = slot % a.block_size;
        uint8_t* dst = a.base + size_t(blk) * a.block_stride + size_t(h) * a.head_stride + size_t(off) * a.pos_stride;
        if (a.f16)
            reinterpret_cast<uint16_t*>(dst)[d] = fmt::fp32_to_fp16(a.x[i]);
        else
            reinterpret_cast<float*>(dst)[d] = a.x[i];
    }
}

}  // namespace

void launch_get_rows(const Stream& s, GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, const int32_t* ids,
                     int64_t n_ids, float scale, float* out) {
    if (n_ids == 0) return;
    if (type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16) {
        const int t = type == GgmlType::F32 ? 0 : type == GgmlType::F16 ? 1 : 2;
        launch(s, {"get_rows", type_name(type)}, get_rows_float_kernel, blocks_for(n_ids * k, kElementwiseThreads),
               dim3(kElementwiseThreads), 0, t, w, row_bytes, k, ids, n_ids, scale, out);
        return;
    }
    if (k % 32 != 0) fail("get_rows: row length ", k, " of a ", type_name(type), " table is not a multiple of 32");
    const bool done = dispatch_type<QLM_CUDA_QUANT_TYPES>(type, [&](auto t) {
        constexpr GgmlType T = decltype(t)::value;
        launch(s, {"get_rows", type_name(T)}, get_rows_kernel<T>, blocks_for(n_ids * (k / 32), kElementwiseThreads),
               dim3(kElementwiseThreads), 0, w, row_bytes, k / 32, ids, n_ids, scale, out);
    });
    if (!done) fail("get_rows: no CUDA kernel for table type ", type_name(type));
}

void launch_gather_rows(const Stream& s, const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out) {
    if (n_rows * n == 0) return;
    launch(s, {"gather_rows"}, gather_rows_kernel, blocks_for(n_rows * n, kElementwiseThreads),
           dim3(kElementwiseThreads), 0, x, rows, n_rows, n, out);
}

void launch_scatter_rows(const Stream& s, const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out) {
    if (n_rows * n == 0) return;
    launch(s, {"scatter_rows"}, scatter_rows_kernel, blocks_for(n_rows * n, kElementwiseThreads),
           dim3(kElementwiseThreads), 0, x, rows, n_rows, n, out);
}

void launch_kv_store(const Stream& s, const KvStoreArgs& a) {
    const int64_t total = a.rows * a.n_head * a.head_dim;
    if (total == 0) return;
    launch(s, {"kv_store"}, kv_store_kernel, blocks_for(total, kElementwiseThreads), dim3(kElementwiseThreads), 0, a);
}

}  // namespace qlm::cuda
