// Argument checks and the kernel-choice ladder of the CUDA ops. Host-only and
// CUDA-free, so they run (and are tested) on machines without a GPU. Every op
// checks here before enqueueing anything; errors name op, weight, type, shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "qlm/cuda.h"

namespace qlm::cuda {

// How a matmul runs, chosen by a short ladder of supports_* predicates.
enum class MatmulPath {
    GemvQ8_1,   // m <= kGemvMaxM, quantized weight: __dp4a against Q8_1 activations
    GemvFloat,  // m <= kGemvMaxM, F32/F16/BF16 weight: float dots
    GemmBf16,   // m > kGemvMaxM: weight tiles -> BF16, cuBLAS GemmEx
    GemmF32,    // m > kGemvMaxM, F32 weight: cuBLAS SGEMM
};
const char* matmul_path_name(MatmulPath p) noexcept;

bool supports_gemv_q8_1(GgmlType t) noexcept;
bool supports_gemv_float(GgmlType t) noexcept;
bool supports_gemm(GgmlType t) noexcept;

// "name (TYPE, n x k)" for messages.
std::string describe(const DeviceWeight& w);

// The path for weight w and batch m; qlm::Error naming the op, weight, type
// and shape if no kernel serves it.
MatmulPath choose_matmul_path(const char* op, const DeviceWeight& w, int64_t m);

// A host weight that can be uploaded: 2-D, not transposed, whole blocks
// (K-quant rows: k a multiple of 256), row stride large enough, sizes that
// fit the kernels' index types.
void check_upload(const WeightView& w);
// A device weight and a batch: non-null pointers, m in 1..INT_MAX, whole blocks.
void check_matmul(const char* op, const DeviceWeight& w, int64_t m, const void* x, const void* y);

void check_q8_1_shape(const char* op, int64_t m, int64_t k);
void check_rms_norm(int64_t rows, int64_t n, const void* x, const void* y);
void check_rope(int64_t rows, int n_heads, int head_dim, const int32_t* positions, const RopeParams& p,
                const void* x);
void check_elementwise(const char* op, int64_t n, const void* a, const void* b);
void check_add_bias(int64_t rows, int64_t n, const void* x, const void* b);

// Weight rows per cuBLAS call of the GEMM path: as many as fit tile_bytes as
// BF16, a multiple of 64 when the weight does not fit whole; at least 1.
int64_t gemm_tile_rows(int64_t n, int64_t k, size_t tile_bytes) noexcept;

}  // namespace qlm::cuda
