// Tuning for Hopper (sm_90, H100/H200). GEMV shapes follow llama.cpp's mmvq
// choices for NVIDIA: for m = 1 four warps share one weight row (short rows
// still fill the machine); for larger m each thread block takes two rows so
// every activation block loaded is used twice.
#pragma once

#include <cstddef>

namespace qlm::cuda {

// GEMV launch shape for a batch of m rows: warps per thread block and weight
// rows per thread block.
struct GemvShape {
    int warps;
    int rows;
};

}  // namespace qlm::cuda

namespace qlm::cuda::sm90 {

inline constexpr int kGemvMaxM = 8;

constexpr GemvShape gemv_shape(int m) { return m <= 1 ? GemvShape{4, 1} : m <= 4 ? GemvShape{4, 2} : GemvShape{2, 2}; }

inline constexpr int kElementwiseThreads = 256;
inline constexpr int kRowThreads = 256;
inline constexpr int kAttentionWarps = 4;  // paged attention: warps per (query, head), each a share of the positions
inline constexpr size_t kGemmTileBytes = size_t(64) << 20;         // 64 MiB of BF16 weights per cuBLAS call
inline constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;  // NVIDIA's recommendation for Hopper

}  // namespace qlm::cuda::sm90
