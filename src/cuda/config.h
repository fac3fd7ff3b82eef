// Per-architecture launch tuning of the CUDA kernels, in one place (DESIGN.md:
// small config headers, not #if ladders inside kernels). Host and device read
// the same constexpr values: the kernels' register arrays are sized from them
// and the launchers size the grids from them.
#pragma once

#include <cstddef>

#include "cuda/config_sm90.h"

namespace qlm::cuda {

// The tuning every build uses today. Another architecture gets its own
// config_smXX.h and a line here choosing it.
namespace tuning = sm90;

// Largest activation batch served by the GEMV kernels; above it, matmul
// dequantizes weight tiles to BF16 and calls cuBLAS.
inline constexpr int kGemvMaxM = tuning::kGemvMaxM;

constexpr GemvShape gemv_shape(int m) { return tuning::gemv_shape(m); }

inline constexpr int kElementwiseThreads = tuning::kElementwiseThreads;
inline constexpr int kQuantizeThreads = tuning::kElementwiseThreads;  // a multiple of 32: whole warps
inline constexpr int kRowThreads = tuning::kRowThreads;          // rms_norm: one thread block per row
inline constexpr int kAttentionWarps = tuning::kAttentionWarps;
inline constexpr size_t kGemmTileBytes = tuning::kGemmTileBytes;  // BF16 weight tile of the GEMM path
inline constexpr size_t kCublasWorkspaceBytes = tuning::kCublasWorkspaceBytes;

}  // namespace qlm::cuda
