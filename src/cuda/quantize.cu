// Activation quantization to Q8_1 on the device, byte-identical to the CPU
// reference quantize_row(Q8_1): per block of 32, d = amax/127 (IEEE division),
// q = roundf(x / d) via x * (1/d), d and s = d*sum(q) stored as fp16 with the
// reference's own rounding code. One warp per block: a row of k (a multiple
// of 32) is k/32 whole warps, so every warp is entirely in range or out.
// Also the float -> bfloat16 conversion of the GEMM path's activations.
#include "cuda/config.h"
#include "cuda/launch.cuh"
#include "formats/fp.h"
#include "formats/legacy.h"

namespace qlm::cuda {

namespace {

__global__ void quantize_q8_1_kernel(const float* __restrict__ x, fmt::block_q8_1* __restrict__ y, int64_t total) {
    const int lane = threadIdx.x % 32;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i - lane < total;
         i += int64_t(gridDim.x) * blockDim.x) {
        const float v = x[i];
        const float amax = warp_max(fabsf(v));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const int q = int(roundf(v * id));
        const int sum = warp_sum(q);
        fmt::block_q8_1& b = y[i / 32];
        b.qs[lane] = int8_t(q);
        if (lane == 0) {
            b.d = fmt::fp32_to_fp16(d);
            b.s = fmt::fp32_to_fp16(d * float(sum));
        }
    }
}

__global__ void f32_to_bf16_kernel(const float* __restrict__ x, int64_t count, uint16_t* __restrict__ y) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = fmt::fp32_to_bf16(x[i]);
}

}  // namespace

void launch_quantize_q8_1(const Stream& s, const float* x, int64_t m, int64_t k, void* out) {
    const int64_t total = m * k;  // a multiple of 32: the caller checked k
    launch(s, {"quantize_q8_1"}, quantize_q8_1_kernel, blocks_for(total, kQuantizeThreads), dim3(kQuantizeThreads), 0, x,
           static_cast<fmt::block_q8_1*>(out), total);
}

void launch_f32_to_bf16(const Stream& s, const float* x, int64_t count, uint16_t* out) {
    launch(s, {"f32_to_bf16"}, f32_to_bf16_kernel, blocks_for(count, kElementwiseThreads), dim3(kElementwiseThreads), 0,
           x, count, out);
}

}  // namespace qlm::cuda
