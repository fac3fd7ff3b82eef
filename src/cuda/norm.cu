// RMSNorm (one thread block per row) and the bias add. The sum of squares is
// accumulated in double, as the CPU op does, so the scale matches it to the
// last bit in all but rare ties; y = (x * scale) * weight in the CPU's order.
#include "cuda/config.h"
#include "cuda/launch.cuh"

namespace qlm::cuda {

namespace {

// y may alias x: every thread reads its own elements before writing them.
__global__ void rms_norm_kernel(const float* x, const float* __restrict__ weight, float* y, int64_t n, float eps) {
    __shared__ double partial[32];
    const float* xr = x + int64_t(blockIdx.x) * n;
    float* yr = y + int64_t(blockIdx.x) * n;
    double ss = 0;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) ss += double(xr[j]) * double(xr[j]);
    ss = warp_sum(ss);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) partial[warp] = ss;
    __syncthreads();
    double total = 0;
    for (int w = 0; w < int(blockDim.x / 32); ++w) total += partial[w];
    const float scale = float(1.0 / sqrt(total / double(n) + double(eps)));
    if (weight)
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) yr[j] = xr[j] * scale * weight[j];
    else
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) yr[j] = xr[j] * scale;
}

__global__ void add_bias_kernel(float* __restrict__ x, const float* __restrict__ b, int64_t rows, int64_t n) {
    const int64_t total = rows * n;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
        x[i] += b[i % n];
}

}  // namespace

void launch_rms_norm(const Stream& s, const float* x, const float* weight, float* y, int64_t rows, int64_t n,
                     float eps) {
    static_assert(kRowThreads % 32 == 0 && kRowThreads <= 1024);
    launch(s, {"rms_norm"}, rms_norm_kernel, dim3(unsigned(rows)), dim3(kRowThreads), 0, x, weight, y, n, eps);
}

void launch_add_bias(const Stream& s, float* x, const float* b, int64_t rows, int64_t n) {
    launch(s, {"add_bias"}, add_bias_kernel, blocks_for(rows * n, kElementwiseThreads), dim3(kElementwiseThreads), 0, x,
           b, rows, n);
}

}  // namespace qlm::cuda
