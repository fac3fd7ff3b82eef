// NEON tiles for F32, F16 and BF16 weights (activations of the same type).
// Sixteen float lanes per row (four independent fma chains) accumulate within
// a 256-element chunk; chunks are summed separately, which keeps the rounding
// error well inside the test bound for rows of many thousand elements.
// Elements past the last multiple of 16 are summed in double, as the
// reference does (cpu/common/floats.h).
#include "cpu/neon/common.h"
#include "cpu/common/floats.h"

namespace qlm::cpu::neon {
namespace {

// 16 elements of type E as floats in v[0..3] (fcvtl: binary16 exact,
// subnormals included; bfloat16 by a shift).
template <class E>
inline void load16(const uint8_t* p, float32x4_t* v) {
    if constexpr (E::kType == GgmlType::F32) {
        for (int j = 0; j < 4; ++j) v[j] = vreinterpretq_f32_u8(vld1q_u8(p + 16 * j));
    } else if constexpr (E::kType == GgmlType::F16) {
        const float16x8_t a = vreinterpretq_f16_u8(vld1q_u8(p)), b = vreinterpretq_f16_u8(vld1q_u8(p + 16));
        v[0] = vcvt_f32_f16(vget_low_f16(a)), v[1] = vcvt_high_f32_f16(a);
        v[2] = vcvt_f32_f16(vget_low_f16(b)), v[3] = vcvt_high_f32_f16(b);
    } else {
        const uint16x8_t a = vreinterpretq_u16_u8(vld1q_u8(p)), b = vreinterpretq_u16_u8(vld1q_u8(p + 16));
        v[0] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(a), 16));
        v[1] = vreinterpretq_f32_u32(vshll_high_n_u16(a, 16));
        v[2] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(b), 16));
        v[3] = vreinterpretq_f32_u32(vshll_high_n_u16(b, 16));
    }
}

template <class E>
struct FloatRow : drivers::FloatTail<E> {
    static constexpr int kQK = 16, kChunk = 16, kXScales = 0;
    static constexpr size_t kWBytes = 16 * E::kSize, kXBytes = 16 * E::kSize;

    struct Dec {
        float32x4_t v[kChunk][4];
    };

    static void decode(const uint8_t* w, int nc, Dec& d) {
        for (int c = 0; c < nc; ++c) load16<E>(w + c * kWBytes, d.v[c]);
    }

    template <int G>
    static void apply(const Dec& d, int nc, const uint8_t* x, size_t xs, XScales, float32x4_t* acc) {
        float32x4_t a[G][4];
        for (int g = 0; g < G; ++g)
            for (int j = 0; j < 4; ++j) a[g][j] = vdupq_n_f32(0.0f);
        for (int c = 0; c < nc; ++c)
            for (int g = 0; g < G; ++g) {
                float32x4_t xv[4];
                load16<E>(x + g * xs + c * kXBytes, xv);
                for (int j = 0; j < 4; ++j) a[g][j] = vfmaq_f32(a[g][j], d.v[c][j], xv[j]);
            }
        for (int g = 0; g < G; ++g)
            acc[g] = vaddq_f32(acc[g], vaddq_f32(vaddq_f32(a[g][0], a[g][1]), vaddq_f32(a[g][2], a[g][3])));
    }
};

}  // namespace

void register_floats(KernelTable& k) { drivers::register_float_rows<Lanes, FloatRow>(k); }

}  // namespace qlm::cpu::neon
