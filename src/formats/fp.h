// Floating-point formats: plain F32/F16/BF16 rows (block size 1) and MXFP4,
// the OCP microscaling FP4 (E2M1 elements sharing one E8M0 power-of-two scale).
#pragma once

#include "formats/common.h"

namespace qlm::fmt {

inline constexpr int QK_MXFP4 = 32;

// E2M1 values, doubled so they are integers: 0 .5 1 1.5 2 3 4 6 and negatives.
QLM_HD inline int8_t mxfp4_value(int i) {
    constexpr int8_t kValues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    return kValues[i];
}

// [e:E8M0][qs:16]  y = value[q] * 2^(e-127) / 2; nibble order as Q4_0.
struct block_mxfp4 {
    uint8_t e;
    uint8_t qs[QK_MXFP4 / 2];
};
static_assert(sizeof(block_mxfp4) == 17);

QLM_HD inline void dequantize_block(const block_mxfp4& b, float* y) {
    const float d = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < QK_MXFP4 / 2; ++j) {
        y[j] = d * float(mxfp4_value(b.qs[j] & 0x0f));
        y[j + QK_MXFP4 / 2] = d * float(mxfp4_value(b.qs[j] >> 4));
    }
}

}  // namespace qlm::fmt
