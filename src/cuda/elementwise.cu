// Element-wise ops of the backend: scale, residual add, gpt-oss's clamped
// SwiGLU, the expert combine and per-expert biases. Device expf is within
// 2 ulp of the C library's: close, not bit-exact.
#include "cuda/backend_kernels.h"
#include "cuda/config.h"
#include "cuda/launch.cuh"

namespace qlm::cuda {

namespace {

#define QLM_GRID_STRIDE(i, total) \
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (total); i += int64_t(gridDim.x) * blockDim.x)

__global__ void scale_kernel(float* x, int64_t n, float v) {
    QLM_GRID_STRIDE(i, n) x[i] *= v;
}

__global__ void add_inplace_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t n) {
    QLM_GRID_STRIDE(i, n) y[i] += x[i];
}

__global__ void swiglu_oai_kernel(float* __restrict__ g, const float* __restrict__ u, int64_t n, float alpha,
                                  float limit) {
    QLM_GRID_STRIDE(i, n) {
        const float x = fminf(g[i], limit);
        const float y = fminf(fmaxf(u[i], -limit), limit);
        g[i] = x / (1.0f + expf(-alpha * x)) * (y + 1.0f);
    }
}

__global__ void combine_experts_kernel(const float* __restrict__ w, int64_t n_tokens, int n_used,
                                       const float* __restrict__ y, int64_t n, float* __restrict__ out) {
    QLM_GRID_STRIDE(i, n_tokens * n) {
        const int64_t t = i / n, c = i % n;
        const float* wt = w + t * n_used;
        const float* yt = y + t * n_used * n + c;
        float acc = wt[0] * yt[0];
        for (int j = 1; j < n_used; ++j) acc += wt[j] * yt[j * n];
        out[i] = acc;
    }
}

__global__ void add_rows_bias_kernel(float* __restrict__ y, const float* __restrict__ bias,
                                     const int32_t* __restrict__ ids, int64_t slots, int64_t n) {
    QLM_GRID_STRIDE(i, slots * n) y[i] += bias[int64_t(ids[i / n]) * n + i % n];
}

dim3 grid(int64_t n) {
    return blocks_for(n, kElementwiseThreads);
}

}  // namespace

void launch_scale(const Stream& s, float* x, int64_t n, float v) {
    if (n > 0) launch(s, {"scale"}, scale_kernel, grid(n), dim3(kElementwiseThreads), 0, x, n, v);
}

void launch_add_inplace(const Stream& s, float* y, const float* x, int64_t n) {
    if (n > 0) launch(s, {"add_inplace"}, add_inplace_kernel, grid(n), dim3(kElementwiseThreads), 0, y, x, n);
}

void launch_swiglu_oai_mul(const Stream& s, float* g, const float* u, int64_t n, float alpha, float limit) {
    if (n > 0)
        launch(s, {"swiglu_oai_mul"}, swiglu_oai_kernel, grid(n), dim3(kElementwiseThreads), 0, g, u, n, alpha, limit);
}

void launch_combine_experts(const Stream& s, const float* w, int64_t n_tokens, int n_used, const float* y, int64_t n,
                            float* out) {
    if (n_tokens * n > 0)
        launch(s, {"combine_experts"}, combine_experts_kernel, grid(n_tokens * n), dim3(kElementwiseThreads), 0, w,
               n_tokens, n_used, y, n, out);
}

void launch_add_rows_bias(const Stream& s, float* y, const float* bias, const int32_t* ids, int64_t slots, int64_t n) {
    if (slots * n > 0)
        launch(s, {"add_rows_bias"}, add_rows_bias_kernel, grid(slots * n), dim3(kElementwiseThreads), 0, y, bias, ids,
               slots, n);
}

}  // namespace qlm::cuda
