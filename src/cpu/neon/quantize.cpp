// NEON activation quantizers for Q8_0, Q8_1 and Q8_K. They must write the
// same bytes as the reference quantize_row (formats/legacy.cpp, kquants.cpp):
// the same scale arithmetic and the same rounding. NEON has both reference
// roundings as instructions: fcvtas rounds half away from zero (roundf, Q8_0
// and Q8_1) and frinti rounds in the current mode (nearbyint, Q8_K). The
// narrowing moves truncate, as the reference's int8_t(...) conversion does.
#include <cmath>

#include "cpu/neon/common.h"
#include "formats/kquants.h"
#include "formats/legacy.h"

namespace qlm::cpu::neon {
namespace {

using namespace fmt;

// std::max(m, a) for non-negative a: a NaN element is skipped, as in the reference.
inline float32x4_t max_skip_nan(float32x4_t m, float32x4_t a) { return vbslq_f32(vcgtq_f32(a, m), a, m); }

// Four vectors of int32 (elements 0..15 in order) -> 16 int8, keeping the low byte of each.
inline int8x16_t narrow_i8(const int32x4_t* q) {
    const int16x8_t a = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
    const int16x8_t b = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
    return vcombine_s8(vmovn_s16(a), vmovn_s16(b));
}

// One 32-element Q8 block: d = amax/127, q = roundf(x/d); returns sum of q.
int quantize_q8_block(const float* x, uint16_t* d_out, int8_t* qs, float* d_f32) {
    float32x4_t v[8], amax = vdupq_n_f32(0.0f);
    for (int j = 0; j < 8; ++j) {
        v[j] = vld1q_f32(x + 4 * j);
        amax = max_skip_nan(amax, vabsq_f32(v[j]));
    }
    const float d = vmaxvq_f32(amax) / 127.0f;  // no NaN lanes left
    const float id = d != 0 ? 1.0f / d : 0.0f;
    int32x4_t q[8];
    for (int j = 0; j < 8; ++j) q[j] = vcvtaq_s32_f32(vmulq_n_f32(v[j], id));
    const int8x16_t lo = narrow_i8(q), hi = narrow_i8(q + 4);
    vst1q_s8(qs, lo);
    vst1q_s8(qs + 16, hi);
    *d_out = fp32_to_fp16(d);
    *d_f32 = d;
    return int(vaddlvq_s8(lo)) + int(vaddlvq_s8(hi));
}

void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_0*>(vy);
    float d;
    for (int64_t i = 0; i < n / QK8_0; ++i) quantize_q8_block(x + i * 32, &y[i].d, y[i].qs, &d);
}

void quantize_row_q8_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < n / QK8_1; ++i) {
        float d;
        const int sum = quantize_q8_block(x + i * 32, &y[i].d, y[i].qs, &d);
        y[i].s = fp32_to_fp16(d * float(sum));
    }
}

void quantize_row_q8_K(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_q8_K& b = y[i];
        const float* xb = x + i * QK_K;
        float32x4_t amax = vdupq_n_f32(0.0f);
        for (int j = 0; j < QK_K; j += 4) amax = max_skip_nan(amax, vabsq_f32(vld1q_f32(xb + j)));
        const float a = vmaxvq_f32(amax);
        float max = 0;  // the first element of largest magnitude, with its sign
        if (a > 0) {
            const float32x4_t av = vdupq_n_f32(a);
            for (int j = 0; j < QK_K; j += 4)
                if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(xb + j)), av))) {
                    int l = 0;
                    while (!(std::fabs(xb[j + l]) == a)) ++l;
                    max = xb[j + l];
                    break;
                }
        }
        const float iscale = max != 0 ? -127.0f / max : 0.0f;
        const float32x4_t lo = vdupq_n_f32(-128.0f), hi = vdupq_n_f32(127.0f);
        for (int j = 0; j < QK_K; j += 16) {
            int32x4_t q[4];
            for (int u = 0; u < 4; ++u) {
                const float32x4_t r = vrndiq_f32(vmulq_n_f32(vld1q_f32(xb + j + 4 * u), iscale));
                // round_clamp: !(r >= lo) -> lo (NaN included), then r > hi -> hi
                const float32x4_t c = vminq_f32(vbslq_f32(vcgeq_f32(r, lo), r, lo), hi);
                q[u] = vcvtq_s32_f32(c);
            }
            const int8x16_t v = narrow_i8(q);
            vst1q_s8(b.qs + j, v);
            b.bsums[j / 16] = int16_t(vaddlvq_s8(v));
        }
        b.d = iscale != 0 ? 1.0f / iscale : 0.0f;
    }
}

}  // namespace

void register_quantizers(KernelTable& k) {
    k.quantize[uint32_t(GgmlType::Q8_0)] = quantize_row_q8_0;
    k.quantize[uint32_t(GgmlType::Q8_1)] = quantize_row_q8_1;
    k.quantize[uint32_t(GgmlType::Q8_K)] = quantize_row_q8_K;
}

}  // namespace qlm::cpu::neon
