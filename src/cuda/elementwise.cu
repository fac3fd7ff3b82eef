// Element-wise ops of the backend: scale, residual add, gpt-oss's clamped
// SwiGLU, the expert combine and per-expert biases, and RoPE in the CPU op's
// float evaluation (with frequency factors, YaRN and attn_factor). Device
// expf/cosf/sinf are within 2 ulp of the C library's: close, not bit-exact.
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

__global__ void rope_ext_kernel(RopeExtArgs a) {
    const int half = a.n_dims / 2;
    const int64_t width = int64_t(a.n_heads) * a.head_dim;
    QLM_GRID_STRIDE(t, a.rows * half) {
        const int64_t r = t / half;
        const int i = int(t % half);
        float theta = float(a.positions[r]);
        for (int j = 0; j < i; ++j) theta *= a.theta_scale;  // as the CPU: repeated multiplication
        const float ff = a.freq_factors ? a.freq_factors[i] : 1.0f;
        const float extrap = theta / ff;
        float th = a.freq_scale * extrap;
        if (a.ext_factor != 0.0f) {
            const float y = (float(i) - a.corr_lo) / fmaxf(0.001f, a.corr_hi - a.corr_lo);
            const float ramp = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * a.ext_factor;
            th = th * (1.0f - ramp) + extrap * ramp;
        }
        const float c = cosf(th) * a.mscale, s = sinf(th) * a.mscale;
        const int i0 = a.neox ? i : 2 * i, i1 = a.neox ? i + half : 2 * i + 1;
        for (int h = 0; h < a.n_heads; ++h) {
            float* v = a.x + r * width + int64_t(h) * a.head_dim;
            const float x0 = v[i0], x1 = v[i1];
            v[i0] = x0 * c - x1 * s;
            v[i1] = x0 * s + x1 * c;
        }
    }
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

void launch_rope_ext(const Stream& s, const RopeExtArgs& a) {
    const int64_t total = a.rows * (a.n_dims / 2);
    if (total > 0) launch(s, {"rope_ext"}, rope_ext_kernel, grid(total), dim3(kElementwiseThreads), 0, a);
}

}  // namespace qlm::cuda
