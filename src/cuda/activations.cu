// Gated FFN activations: g = act(g) * u, element-wise, in the CPU's formulas
// (silu(x) = x / (1 + exp(-x)); GELU with the tanh approximation). Device
// expf/tanhf are within 2 ulp of the C library's, so results agree to ~1e-6
// relative, not bit for bit.
#include "cuda/config.h"
#include "cuda/launch.cuh"

namespace qlm::cuda {

namespace {

__global__ void silu_mul_kernel(float* __restrict__ g, const float* __restrict__ u, int64_t n) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const float x = g[i];
        g[i] = x / (1.0f + expf(-x)) * u[i];
    }
}

__global__ void gelu_tanh_mul_kernel(float* __restrict__ g, const float* __restrict__ u, int64_t n) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
        const float x = g[i];
        g[i] = 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x))) * u[i];
    }
}

}  // namespace

void launch_silu_mul(const Stream& s, float* g, const float* u, int64_t n) {
    launch(s, {"silu_mul"}, silu_mul_kernel, blocks_for(n, kElementwiseThreads), dim3(kElementwiseThreads), 0, g, u, n);
}

void launch_gelu_tanh_mul(const Stream& s, float* g, const float* u, int64_t n) {
    launch(s, {"gelu_tanh_mul"}, gelu_tanh_mul_kernel, blocks_for(n, kElementwiseThreads), dim3(kElementwiseThreads), 0,
           g, u, n);
}

}  // namespace qlm::cuda
