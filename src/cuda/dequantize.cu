// Weight rows -> bfloat16 for the GEMM path (m > kGemvMaxM). Quantized types
// go through the reference per-block dequantizer of src/formats (the
// specification, compiled for the device), one thread per block; F16/BF16 are
// converted element by element. F32 weights never come here (cuBLAS SGEMM).
#include "cuda/config.h"
#include "cuda/launch.cuh"
#include "cuda/slice_dot.h"
#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/legacy.h"
#include "qlm/error.h"

namespace qlm::cuda {

namespace {

template <typename Block, int QK>
__global__ void dequantize_bf16_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t rows,
                                       int64_t blocks_per_row, uint16_t* __restrict__ out) {
    const int64_t total = rows * blocks_per_row;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i / blocks_per_row, kb = i % blocks_per_row;
        const Block& b = reinterpret_cast<const Block*>(w + size_t(r) * row_bytes)[kb];
        float v[QK];
        fmt::dequantize_block(b, v);
        uint16_t* o = out + r * (blocks_per_row * QK) + kb * QK;
#pragma unroll
        for (int j = 0; j < QK; ++j) o[j] = fmt::fp32_to_bf16(v[j]);
    }
}

__global__ void f16_to_bf16_kernel(const uint16_t* __restrict__ x, int64_t count, uint16_t* __restrict__ y) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = fmt::fp32_to_bf16(half_to_float(x[i]));
}

template <typename Block, int QK>
void launch_dequantize(const Stream& s, GgmlType type, const uint8_t* w, size_t row_bytes, int64_t rows, int64_t k,
                       uint16_t* out) {
    const int64_t blocks = k / QK;
    launch(s, {"dequantize_bf16", type_name(type)}, dequantize_bf16_kernel<Block, QK>,
           blocks_for(rows * blocks, kElementwiseThreads), dim3(kElementwiseThreads), 0, w, row_bytes, rows, blocks, out);
}

}  // namespace

void launch_dequantize_bf16(const Stream& s, GgmlType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                            int64_t k, uint16_t* out) {
    using T = GgmlType;
    switch (type) {
        case T::F16:
            // rows are contiguous (row_bytes == 2k on the device)
            launch(s, {"f16_to_bf16"}, f16_to_bf16_kernel, blocks_for(rows * k, kElementwiseThreads),
                   dim3(kElementwiseThreads), 0, reinterpret_cast<const uint16_t*>(w), rows * k, out);
            return;
        case T::BF16: fail("dequantize_bf16: BF16 weights are used as they are");
        case T::Q4_0: return launch_dequantize<fmt::block_q4_0, fmt::QK4_0>(s, type, w, row_bytes, rows, k, out);
        case T::Q4_1: return launch_dequantize<fmt::block_q4_1, fmt::QK4_1>(s, type, w, row_bytes, rows, k, out);
        case T::Q5_0: return launch_dequantize<fmt::block_q5_0, fmt::QK5_0>(s, type, w, row_bytes, rows, k, out);
        case T::Q5_1: return launch_dequantize<fmt::block_q5_1, fmt::QK5_1>(s, type, w, row_bytes, rows, k, out);
        case T::Q8_0: return launch_dequantize<fmt::block_q8_0, fmt::QK8_0>(s, type, w, row_bytes, rows, k, out);
        case T::Q2_K: return launch_dequantize<fmt::block_q2_K, fmt::QK_K>(s, type, w, row_bytes, rows, k, out);
        case T::Q3_K: return launch_dequantize<fmt::block_q3_K, fmt::QK_K>(s, type, w, row_bytes, rows, k, out);
        case T::Q4_K: return launch_dequantize<fmt::block_q4_K, fmt::QK_K>(s, type, w, row_bytes, rows, k, out);
        case T::Q5_K: return launch_dequantize<fmt::block_q5_K, fmt::QK_K>(s, type, w, row_bytes, rows, k, out);
        case T::Q6_K: return launch_dequantize<fmt::block_q6_K, fmt::QK_K>(s, type, w, row_bytes, rows, k, out);
        case T::IQ4_NL: return launch_dequantize<fmt::block_iq4_nl, fmt::QK4_NL>(s, type, w, row_bytes, rows, k, out);
        case T::IQ4_XS: return launch_dequantize<fmt::block_iq4_xs, fmt::QK_K>(s, type, w, row_bytes, rows, k, out);
        case T::MXFP4: return launch_dequantize<fmt::block_mxfp4, fmt::QK_MXFP4>(s, type, w, row_bytes, rows, k, out);
        default: break;
    }
    fail("dequantize_bf16: no kernel for weight type ", type_name(type));
}

}  // namespace qlm::cuda
