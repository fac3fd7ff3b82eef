// GEMV for m = 1..kGemvMaxM rows of activations: y (m × n) = x · Wᵀ.
//
// Thread block = `warps` warps on `R` weight rows (config.h). Its threads walk
// the 32-element slices of those rows together (thread t takes slices t,
// t + threads, ...), decode each weight slice once into registers and dot it
// with the matching activation block of every one of the M rows, so each
// weight byte is read from memory once for the whole batch. Partial sums are
// reduced in a fixed order (warp shuffles, then warps in index order): results
// do not depend on timing.
//
// Included by the per-family gemv_*.cu files, which instantiate it for their
// types; the batch size M is a template parameter (register arrays), chosen
// at run time in dispatch_m.
#pragma once

#include "cuda/config.h"
#include "cuda/dispatch.h"
#include "cuda/launch.cuh"
#include "cuda/slice_dot.h"

namespace qlm::cuda {

inline constexpr int kGemvMaxWarps = 8;

// Sum acc[r][i] over the thread block and store row0 + r of output row i.
template <int M, int R>
__device__ inline void gemv_reduce_store(float (&acc)[R][M], int64_t row0, int64_t n, float* __restrict__ y,
                                         int64_t ldy) {
    __shared__ float partial[kGemvMaxWarps][R][M];
    const int lane = threadIdx.x, warp = threadIdx.y;
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int i = 0; i < M; ++i) {
            const float v = warp_sum(acc[r][i]);
            if (lane == 0) partial[warp][r][i] = v;
        }
    __syncthreads();
    const int t = warp * 32 + lane;
    if (t < R * M) {
        const int r = t / M, i = t % M;
        float sum = 0.0f;
        for (int w = 0; w < int(blockDim.y); ++w) sum += partial[w][r][i];
        if (row0 + r < n) y[int64_t(i) * ldy + row0 + r] = sum;
    }
}

// Quantized weights against Q8_1 activations (x: M rows of k/32 blocks).
template <GgmlType T, int M, int R>
__global__ void gemv_q8_1_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n, int n_slices,
                                 const fmt::block_q8_1* __restrict__ x, float* __restrict__ y, int64_t ldy) {
    using S = SliceDot<T>;
    using Block = typename S::Block;
    const int64_t row0 = int64_t(blockIdx.x) * R;
    const int threads = 32 * int(blockDim.y);
    const int t = int(threadIdx.y) * 32 + int(threadIdx.x);
    // Rows past n (the last thread block of an odd n) read row n-1 and are not stored.
    const Block* rows[R];
#pragma unroll
    for (int r = 0; r < R; ++r)
        rows[r] = reinterpret_cast<const Block*>(w + size_t(row0 + r < n ? row0 + r : n - 1) * row_bytes);

    float acc[R][M] = {};
    for (int q = t; q < n_slices; q += threads) {
        const int kb = q / S::kSlices, s = q % S::kSlices;
        WeightSlice ws[R];
#pragma unroll
        for (int r = 0; r < R; ++r) S::load(rows[r][kb], s, ws[r]);
#pragma unroll
        for (int i = 0; i < M; ++i) {
            const fmt::block_q8_1& xb = x[int64_t(i) * n_slices + q];
            int xq[8];
            load_q8_1_quants(xb, xq);
            const float dx = half_to_float(xb.d), sx = half_to_float(xb.s);
#pragma unroll
            for (int r = 0; r < R; ++r) acc[r][i] += S::combine(ws[r], slice_sums<S::kMins>(ws[r], xq), dx, sx);
        }
    }
    gemv_reduce_store<M, R>(acc, row0, n, y, ldy);
}

template <GgmlType T>
void launch_gemv_q8_1(const Stream& s, const GemvArgs& a) {
    dispatch_m(a.m, [&](auto m_tag) {
        constexpr int M = decltype(m_tag)::value;
        constexpr GemvShape shape = gemv_shape(M);
        static_assert(shape.warps <= kGemvMaxWarps);
        const dim3 grid(unsigned((a.n + shape.rows - 1) / shape.rows)), block(32, shape.warps);
        launch(s, {"gemv_q8_1", type_name(T), M}, gemv_q8_1_kernel<T, M, shape.rows>, grid, block, 0, a.w,
               a.row_bytes, a.n, int(a.k / 32), static_cast<const fmt::block_q8_1*>(a.x), a.y, a.ldy);
    });
}

}  // namespace qlm::cuda
