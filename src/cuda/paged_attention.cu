// Attention over the paged KV cache, one thread block per (query, head):
// each of kWarps warps walks every kWarps-th allowed position with an online
// softmax (running max, sum, and the lanes' share of the value row), then the
// warps merge, with the sink logit (gpt-oss) joining the denominator. Grouped
// query heads read kv head h / (n_head / n_kv_head). F16 or F32 cache.
#include "cuda/backend_kernels.h"
#include "cuda/config.h"
#include "cuda/launch.cuh"
#include "cuda/slice_dot.h"
#include "qlm/error.h"

namespace qlm::cuda {

namespace {

constexpr int kWarps = kAttentionWarps;
constexpr int kPerLane = kAttentionMaxHeadDim / 32;

__device__ inline float kv_at(const uint8_t* row, int d, bool f16) {
    return f16 ? half_to_float(reinterpret_cast<const uint16_t*>(row)[d]) : reinterpret_cast<const float*>(row)[d];
}

__global__ void paged_attention_kernel(PagedAttentionArgs a) {
    __shared__ float q[kAttentionMaxHeadDim];
    __shared__ float wm[kWarps], wl[kWarps];
    __shared__ float wacc[kWarps][kAttentionMaxHeadDim];
    const int64_t t = blockIdx.x;
    const int h = int(blockIdx.y);
    const int kvh = h / (a.n_head / a.n_kv_head);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const float* qr = a.q + t * a.q_stride + int64_t(h) * a.head_dim_k;
    for (int d = threadIdx.x; d < a.head_dim_k; d += blockDim.x) q[d] = qr[d];
    __syncthreads();

    const int64_t hi = a.positions[t];
    int64_t lo = 0;
    if (a.window > 0 && hi - a.window + 1 > 0) lo = hi - a.window + 1;
    float m = -INFINITY, l = 0.0f;
    float acc[kPerLane];
#pragma unroll
    for (int c = 0; c < kPerLane; ++c) acc[c] = 0.0f;
    for (int64_t j = lo + warp; j <= hi; j += kWarps) {
        const int64_t blk = a.table[j / a.block_size], row = j % a.block_size;
        const uint8_t* kr =
            a.k + size_t(blk) * a.k_block_stride + size_t(kvh) * a.k_head_stride + size_t(row) * a.k_pos_stride;
        const uint8_t* vr =
            a.v + size_t(blk) * a.v_block_stride + size_t(kvh) * a.v_head_stride + size_t(row) * a.v_pos_stride;
        float part = 0.0f;
        for (int d = lane; d < a.head_dim_k; d += 32) part += q[d] * kv_at(kr, d, a.f16);
        const float s = warp_sum(part) * a.scale;
        const float mn = fmaxf(m, s);
        const float corr = expf(m - mn), p = expf(s - mn);
        l = l * corr + p;
#pragma unroll
        for (int c = 0; c < kPerLane; ++c) {
            const int d = lane + 32 * c;
            if (d < a.head_dim_v) acc[c] = acc[c] * corr + p * kv_at(vr, d, a.f16);
        }
        m = mn;
    }
    if (lane == 0) wm[warp] = m, wl[warp] = l;
#pragma unroll
    for (int c = 0; c < kPerLane; ++c) {
        const int d = lane + 32 * c;
        if (d < a.head_dim_v) wacc[warp][d] = acc[c];
    }
    __syncthreads();
    float M = a.sinks ? a.sinks[h] : -INFINITY;
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, wm[w]);
    float L = a.sinks ? expf(a.sinks[h] - M) : 0.0f;
    for (int w = 0; w < kWarps; ++w) L += wm[w] == -INFINITY ? 0.0f : wl[w] * expf(wm[w] - M);
    float* o = a.out + t * a.out_stride + int64_t(h) * a.head_dim_v;
    for (int d = threadIdx.x; d < a.head_dim_v; d += blockDim.x) {
        float v = 0.0f;
        for (int w = 0; w < kWarps; ++w)
            if (wm[w] != -INFINITY) v += wacc[w][d] * expf(wm[w] - M);
        o[d] = v / L;
    }
}

}  // namespace

void launch_paged_attention(const Stream& s, const PagedAttentionArgs& a) {
    if (a.n_tokens == 0) return;
    if (a.head_dim_k > kAttentionMaxHeadDim || a.head_dim_v > kAttentionMaxHeadDim)
        fail("attention (cuda): head sizes ", a.head_dim_k, "/", a.head_dim_v, " exceed ", kAttentionMaxHeadDim);
    if (a.n_kv_head <= 0 || a.n_head % a.n_kv_head != 0)
        fail("attention (cuda): ", a.n_head, " query heads do not group over ", a.n_kv_head, " kv heads");
    launch(s, {"paged_attention"}, paged_attention_kernel, dim3(unsigned(a.n_tokens), unsigned(a.n_head)),
           dim3(32 * kWarps), 0, a);
}

}  // namespace qlm::cuda
