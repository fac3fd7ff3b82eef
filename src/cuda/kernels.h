// Host-side launchers of the CUDA kernels, one group per .cu file (each
// launcher lives beside its kernel). Plain C++: the op layer (matmul.cpp,
// ops.cpp) calls these after validating shapes; they only enqueue work on the
// stream (no allocation, no synchronization, no host-to-device copies).
// All pointers are device pointers.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

#include "qlm/formats.h"

namespace qlm::cuda {

struct Stream {
    cudaStream_t stream = nullptr;
    bool debug_sync = false;  // synchronize and check after every launch
};

// ---- quantize.cu ----
// x (m × k floats, k a multiple of 32) -> m rows of k/32 block_q8_1, rows contiguous.
void launch_quantize_q8_1(const Stream& s, const float* x, int64_t m, int64_t k, void* out);
// count floats -> bfloat16 (round to nearest even).
void launch_f32_to_bf16(const Stream& s, const float* x, int64_t count, uint16_t* out);

// ---- gemv_*.cu ----
// y[i*ldy + r] = x_i · W_r for i < m (1..kGemvMaxM), r < n. Weight rows of
// row_bytes each, contiguous from w. x is m rows of k/32 block_q8_1 for
// quantized weights and m × k floats for F32/F16/BF16 weights.
struct GemvArgs {
    GgmlType type;
    const uint8_t* w;
    size_t row_bytes;
    int64_t n, k;
    const void* x;
    int m;
    float* y;
    int64_t ldy;
};
void launch_gemv(const Stream& s, const GemvArgs& a);  // gemv_dispatch.cpp
// Per family (one .cu each so they compile in parallel); false if the type is not theirs.
bool launch_gemv_legacy(const Stream& s, const GemvArgs& a);
bool launch_gemv_kquants(const Stream& s, const GemvArgs& a);
bool launch_gemv_iquants(const Stream& s, const GemvArgs& a);
bool launch_gemv_float(const Stream& s, const GemvArgs& a);

// ---- dequantize.cu ----
// Rows of a weight (any type but F32) -> rows × k bfloat16, row-major.
void launch_dequantize_bf16(const Stream& s, GgmlType type, const uint8_t* w, size_t row_bytes, int64_t rows,
                            int64_t k, uint16_t* out);

// ---- norm.cu ----
void launch_rms_norm(const Stream& s, const float* x, const float* weight, float* y, int64_t rows, int64_t n,
                     float eps);
void launch_add_bias(const Stream& s, float* x, const float* b, int64_t rows, int64_t n);

// ---- rope.cu ----
// RoPE with the CPU op's float evaluation (angles by repeated
// multiplication, frequency factors, YaRN ramp, attn_factor): the host
// (cuda_rope) precomputes theta_scale, the correction dims and mscale.
struct RopeArgs {
    float* x;
    int64_t rows;
    int n_heads, head_dim;
    const int32_t* positions;
    bool neox;
    int n_dims;
    float theta_scale, freq_scale;
    const float* freq_factors;  // n_dims/2 divisors, or null
    float ext_factor, corr_lo, corr_hi, mscale;
};
void launch_rope(const Stream& s, const RopeArgs& a);

// ---- activations.cu ----
void launch_silu_mul(const Stream& s, float* g, const float* u, int64_t n);
void launch_gelu_tanh_mul(const Stream& s, float* g, const float* u, int64_t n);

}  // namespace qlm::cuda
