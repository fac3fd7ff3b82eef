// Compile-time guard for DESIGN.md's rule that the block layouts and per-block
// reference math build under nvcc: device code that instantiates every
// dequantize_block and the half conversions. Nothing launches it yet; the CUDA
// backend (src/cuda) grows from here.
#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/legacy.h"

namespace qlm::fmt {

template <typename Block, int QK>
__global__ void dequantize_blocks_kernel(const Block* b, float* y, int n_blocks) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n_blocks) dequantize_block(b[i], y + size_t(i) * QK);
}

template __global__ void dequantize_blocks_kernel<block_q4_0, QK4_0>(const block_q4_0*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q4_1, QK4_1>(const block_q4_1*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q5_0, QK5_0>(const block_q5_0*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q5_1, QK5_1>(const block_q5_1*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q8_0, QK8_0>(const block_q8_0*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q8_1, QK8_1>(const block_q8_1*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q2_K, QK_K>(const block_q2_K*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q3_K, QK_K>(const block_q3_K*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q4_K, QK_K>(const block_q4_K*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q5_K, QK_K>(const block_q5_K*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q6_K, QK_K>(const block_q6_K*, float*, int);
template __global__ void dequantize_blocks_kernel<block_q8_K, QK_K>(const block_q8_K*, float*, int);
template __global__ void dequantize_blocks_kernel<block_iq4_nl, QK4_NL>(const block_iq4_nl*, float*, int);
template __global__ void dequantize_blocks_kernel<block_iq4_xs, QK_K>(const block_iq4_xs*, float*, int);
template __global__ void dequantize_blocks_kernel<block_mxfp4, QK_MXFP4>(const block_mxfp4*, float*, int);

__global__ void half_conversions_kernel(const uint16_t* h, float* y, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = fp16_to_fp32(fp32_to_fp16(fp16_to_fp32(h[i]))) + bf16_to_fp32(fp32_to_bf16(y[i]));
}

}  // namespace qlm::fmt
