// Non-linear 4-bit formats: each nibble indexes a fixed 16-entry int8 table
// (denser near zero), times the block scale.
#pragma once

#include "formats/common.h"

namespace qlm::fmt {

inline constexpr int QK4_NL = 32;

QLM_HD inline int8_t iq4nl_value(int i) {
    constexpr int8_t kValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};
    return kValues[i];
}

// [d:f16][qs:16]  element j: low nibble of qs[j] (j < 16) or high nibble of qs[j-16]
struct block_iq4_nl {
    uint16_t d;
    uint8_t qs[QK4_NL / 2];
};
static_assert(sizeof(block_iq4_nl) == 18);

// [d:f16][scales_h:u16][scales_l:4][qs:128]  8 sub-blocks of 32 laid out like
// IQ4_NL blocks; sub-block scale ib = (4 bits of scales_l | 2 bits of scales_h) - 32.
struct block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[QK_K / 64];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_iq4_xs) == 136);

QLM_HD inline int unpack_scale_iq4_xs(int ib, const block_iq4_xs& b) {
    const int lo = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
    const int hi = (b.scales_h >> (2 * ib)) & 3;
    return (lo | (hi << 4)) - 32;
}

QLM_HD inline void dequantize_block(const block_iq4_nl& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < QK4_NL / 2; ++j) {
        y[j] = d * float(iq4nl_value(b.qs[j] & 0x0f));
        y[j + QK4_NL / 2] = d * float(iq4nl_value(b.qs[j] >> 4));
    }
}

QLM_HD inline void dequantize_block(const block_iq4_xs& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float dl = d * float(unpack_scale_iq4_xs(ib, b));
        const uint8_t* qs = b.qs + 16 * ib;
        for (int j = 0; j < 16; ++j) {
            y[32 * ib + j] = dl * float(iq4nl_value(qs[j] & 0x0f));
            y[32 * ib + j + 16] = dl * float(iq4nl_value(qs[j] >> 4));
        }
    }
}

}  // namespace qlm::fmt
