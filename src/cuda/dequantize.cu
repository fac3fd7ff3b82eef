// Weight rows -> bfloat16 for the GEMM path (m > kGemvMaxM). One thread per
// 32-element slice: decoded by the GEMV's SliceDot<T>::load, expanded by
// SliceDot<T>::dequantize (bit-identical to the reference dequantize_block,
// checked on the CPU in tests/cuda), written as 64 contiguous bytes.
// F16 weights are converted element by element; BF16 weights are used in place
// and F32 weights go to SGEMM, so neither comes here.
#include "cuda/config.h"
#include "cuda/dispatch.h"
#include "cuda/launch.cuh"
#include "cuda/slice_dot.h"
#include "qlm/error.h"

namespace qlm::cuda {

namespace {

template <GgmlType T>
__global__ void dequantize_bf16_kernel(const uint8_t* __restrict__ w, size_t row_bytes, int64_t rows,
                                       int64_t slices_per_row, uint16_t* __restrict__ out) {
    using S = SliceDot<T>;
    using Block = typename S::Block;
    const int64_t total = rows * slices_per_row;
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = i / slices_per_row, q = i % slices_per_row;
        const Block& b = reinterpret_cast<const Block*>(w + size_t(r) * row_bytes)[q / S::kSlices];
        WeightSlice ws;
        S::load(b, int(q % S::kSlices), ws);
        float v[32];
        S::dequantize(ws, v);
        uint32_t p[16];
#pragma unroll
        for (int j = 0; j < 16; ++j) p[j] = uint32_t(fmt::fp32_to_bf16(v[2 * j])) | (uint32_t(fmt::fp32_to_bf16(v[2 * j + 1])) << 16);
        uint4* o = reinterpret_cast<uint4*>(out + i * 32);  // rows are contiguous: element r*k + 32q = 32i
#pragma unroll
        for (int j = 0; j < 4; ++j) o[j] = make_uint4(p[4 * j], p[4 * j + 1], p[4 * j + 2], p[4 * j + 3]);
    }
}

__global__ void f16_to_bf16_kernel(const uint16_t* __restrict__ x, int64_t count, uint16_t* __restrict__ y) {
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
        y[i] = fmt::fp32_to_bf16(half_to_float(x[i]));
}

}  // namespace

// out must be 16-byte aligned (pool buffers are 256-byte aligned).
void launch_dequantize_bf16(const Stream& s, GgmlType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                            int64_t k, uint16_t* out) {
    if (type == GgmlType::F16) {  // device rows are contiguous
        launch(s, {"f16_to_bf16"}, f16_to_bf16_kernel, blocks_for(rows * k, kElementwiseThreads),
               dim3(kElementwiseThreads), 0, reinterpret_cast<const uint16_t*>(w), rows * k, out);
        return;
    }
    const bool done = dispatch_type<QLM_CUDA_QUANT_TYPES>(type, [&](auto t) {
        constexpr GgmlType T = decltype(t)::value;
        launch(s, {"dequantize_bf16", type_name(T)}, dequantize_bf16_kernel<T>,
               blocks_for(rows * (k / 32), kElementwiseThreads), dim3(kElementwiseThreads), 0, w, row_bytes, rows,
               k / 32, out);
    });
    if (!done) fail("dequantize_bf16: no kernel for weight type ", type_name(type));
}

}  // namespace qlm::cuda
