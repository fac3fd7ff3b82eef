// NEON primitives of the activation quantizers (the row loops:
// cpu/common/quantize.h). NEON has both reference roundings as
// instructions: fcvtas rounds half away from zero (roundf, Q8_0 and Q8_1)
// and frinti rounds in the current mode (nearbyint, Q8_K). The narrowing
// moves truncate, as the reference's int8_t(...) conversion does.
#include <cmath>

#include "cpu/neon/common.h"
#include "cpu/common/quantize.h"

namespace qlm::cpu::neon {
namespace {

// std::max(m, a) for non-negative a: a NaN element is skipped, as in the reference.
inline float32x4_t max_skip_nan(float32x4_t m, float32x4_t a) { return vbslq_f32(vcgtq_f32(a, m), a, m); }

// Four vectors of int32 (elements 0..15 in order) -> 16 int8, keeping the low byte of each.
inline int8x16_t narrow_i8(const int32x4_t* q) {
    const int16x8_t a = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
    const int16x8_t b = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
    return vcombine_s8(vmovn_s16(a), vmovn_s16(b));
}

struct Q8 {
    static int q8_block(const float* x, float& d, int8_t* qs) {
        float32x4_t v[8], amax = vdupq_n_f32(0.0f);
        for (int j = 0; j < 8; ++j) {
            v[j] = vld1q_f32(x + 4 * j);
            amax = max_skip_nan(amax, vabsq_f32(v[j]));
        }
        d = vmaxvq_f32(amax) / 127.0f;  // no NaN lanes left
        const float id = d != 0 ? 1.0f / d : 0.0f;
        int32x4_t q[8];
        for (int j = 0; j < 8; ++j) q[j] = vcvtaq_s32_f32(vmulq_n_f32(v[j], id));
        const int8x16_t lo = narrow_i8(q), hi = narrow_i8(q + 4);
        vst1q_s8(qs, lo);
        vst1q_s8(qs + 16, hi);
        return int(vaddlvq_s8(lo)) + int(vaddlvq_s8(hi));
    }

    static float amax(const float* x, int n) {
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int j = 0; j < n; j += 4) m = max_skip_nan(m, vabsq_f32(vld1q_f32(x + j)));
        return vmaxvq_f32(m);
    }

    static int first_abs_equal(const float* x, int n, float a) {
        const float32x4_t av = vdupq_n_f32(a);
        for (int j = 0; j < n; j += 4)
            if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + j)), av))) {
                int l = 0;
                while (!(std::fabs(x[j + l]) == a)) ++l;
                return j + l;
            }
        return 0;  // not reached: a is one of the |x[j]|
    }

    static void q8k_quants(const float* x, float iscale, int8_t* qs, int16_t* bsums) {
        const float32x4_t lo = vdupq_n_f32(-128.0f), hi = vdupq_n_f32(127.0f);
        for (int j = 0; j < fmt::QK_K; j += 16) {
            int32x4_t q[4];
            for (int u = 0; u < 4; ++u) {
                const float32x4_t r = vrndiq_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * u), iscale));
                // round_clamp: !(r >= lo) -> lo (NaN included), then r > hi -> hi
                const float32x4_t c = vminq_f32(vbslq_f32(vcgeq_f32(r, lo), r, lo), hi);
                q[u] = vcvtq_s32_f32(c);
            }
            const int8x16_t v = narrow_i8(q);
            vst1q_s8(qs + j, v);
            bsums[j / 16] = int16_t(vaddlvq_s8(v));
        }
    }
};
static_assert(drivers::Q8Quantizer<Q8>);

}  // namespace

void register_quantizers(KernelTable& k) { drivers::register_quantizers<Q8>(k); }

}  // namespace qlm::cpu::neon
