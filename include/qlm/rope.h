// RoPE parameters, shared by the ops (qlm/ops.h rope) and every backend.
#pragma once

#include <cstdint>

namespace qlm {

enum class RopeLayout { Normal, Neox };
struct RopeParams {
    RopeLayout layout = RopeLayout::Normal;
    int n_dims = 0;
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;             // 1 / linear scaling factor
    const float* freq_factors = nullptr;  // n_dims/2 divisors (llama3 "rope_freqs"), or null
    float attn_factor = 1.0f;             // cos and sin scaled by this (LongRoPE's rope.scaling.attn_factor)
    // YaRN (ext_factor > 0): per pair, the angle blends the interpolated
    // (freq_scale ·) and the original angle by a ramp over the pairs between
    // the correction dimensions of beta_fast and beta_slow rotations at
    // n_ctx_orig, and cos/sin gain 1 + 0.1·ln(1/freq_scale), as ggml's rope.
    float ext_factor = 0.0f;
    float beta_fast = 32.0f, beta_slow = 1.0f;
    int64_t n_ctx_orig = 0;
};

}  // namespace qlm
