// GEMV for float weights (F32, F16, BF16) against float activations, batch
// sizes 1..kGemvMaxM: the activations stay F32 (the CPU rounds them to the
// weight's type first, so the GPU result is the more precise of the two).
// Threads walk the columns (coalesced loads); reduction as in gemv.cuh.
#include "cuda/gemv.cuh"

namespace qlm::cuda {

namespace {

template <GgmlType T>
__device__ inline float load_weight(const uint8_t* row, int64_t j) {
    if constexpr (T == GgmlType::F32) return reinterpret_cast<const float*>(row)[j];
    else if constexpr (T == GgmlType::F16) return half_to_float(reinterpret_cast<const uint16_t*>(row)[j]);
    else return fmt::bf16_to_fp32(reinterpret_cast<const uint16_t*>(row)[j]);
}

template <GgmlType T, int M, int R>
__global__ void gemv_float_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t n, int64_t k,
                                  const float* __restrict__ x, float* __restrict__ y, int64_t ldy) {
    const int64_t row0 = int64_t(blockIdx.x) * R;
    const int threads = 32 * int(blockDim.y);
    const int t = int(threadIdx.y) * 32 + int(threadIdx.x);
    const uint8_t* rows[R];
#pragma unroll
    for (int r = 0; r < R; ++r) rows[r] = w + size_t(row0 + r < n ? row0 + r : n - 1) * row_bytes;

    float acc[R][M] = {};
    for (int64_t j = t; j < k; j += threads) {
        float wv[R];
#pragma unroll
        for (int r = 0; r < R; ++r) wv[r] = load_weight<T>(rows[r], j);
#pragma unroll
        for (int i = 0; i < M; ++i) {
            const float xv = x[int64_t(i) * k + j];
#pragma unroll
            for (int r = 0; r < R; ++r) acc[r][i] += wv[r] * xv;
        }
    }
    gemv_reduce_store<M, R>(acc, row0, n, y, ldy);
}

template <GgmlType T>
void launch_gemv_float_t(const Stream& s, const GemvArgs& a) {
    dispatch_m(a.m, [&](auto m_tag) {
        constexpr int M = decltype(m_tag)::value;
        constexpr GemvShape shape = gemv_shape(M);
        const dim3 grid(unsigned((a.n + shape.rows - 1) / shape.rows)), block(32, shape.warps);
        launch(s, {"gemv_float", type_name(T), M}, gemv_float_kernel<T, M, shape.rows>, grid, block, 0, a.w,
               a.row_bytes, a.n, a.k, static_cast<const float*>(a.x), a.y, a.ldy);
    });
}

}  // namespace

bool launch_gemv_float(const Stream& s, const GemvArgs& a) {
    return dispatch_type<GgmlType::F32, GgmlType::F16, GgmlType::BF16>(
        a.type, [&](auto t) { launch_gemv_float_t<decltype(t)::value>(s, a); });
}

}  // namespace qlm::cuda
