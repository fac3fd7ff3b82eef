// Legacy block formats: 32 elements per block, one fp16 scale (and min).
// Element j of a block is in the low nibble of qs[j] for j < 16 and in the high
// nibble of qs[j-16] otherwise; 5-bit types keep bit 4 of element j in bit j of qh.
#pragma once

#include "formats/common.h"

namespace qlm::fmt {

inline constexpr int QK4_0 = 32, QK4_1 = 32, QK5_0 = 32, QK5_1 = 32, QK8_0 = 32, QK8_1 = 32;

// [d:f16][qs:16]  y = (q - 8) * d
struct block_q4_0 {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
};
static_assert(sizeof(block_q4_0) == 18);

// [d:f16][m:f16][qs:16]  y = q * d + m
struct block_q4_1 {
    uint16_t d, m;
    uint8_t qs[QK4_1 / 2];
};
static_assert(sizeof(block_q4_1) == 20);

// [d:f16][qh:4][qs:16]  y = (q - 16) * d, q = nibble | bit << 4
struct block_q5_0 {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
};
static_assert(sizeof(block_q5_0) == 22);

// [d:f16][m:f16][qh:4][qs:16]  y = q * d + m
struct block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};
static_assert(sizeof(block_q5_1) == 24);

// [d:f16][qs:i8 x32]  y = q * d
struct block_q8_0 {
    uint16_t d;
    int8_t qs[QK8_0];
};
static_assert(sizeof(block_q8_0) == 34);

// [d:f16][s:f16][qs:i8 x32]  y = q * d; s = d * sum(q), the activation partner
// of Q4_1/Q5_1 (it carries the sum so the weight's min folds in as m * s).
struct block_q8_1 {
    uint16_t d, s;
    int8_t qs[QK8_1];
};
static_assert(sizeof(block_q8_1) == 36);

QLM_HD inline void dequantize_block(const block_q4_0& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
        y[j] = d * float(int(b.qs[j] & 0x0f) - 8);
        y[j + QK4_0 / 2] = d * float(int(b.qs[j] >> 4) - 8);
    }
}

QLM_HD inline void dequantize_block(const block_q4_1& b, float* y) {
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    for (int j = 0; j < QK4_1 / 2; ++j) {
        y[j] = d * float(b.qs[j] & 0x0f) + m;
        y[j + QK4_1 / 2] = d * float(b.qs[j] >> 4) + m;
    }
}

QLM_HD inline void dequantize_block(const block_q5_0& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    const uint32_t qh = load_u32(b.qh);
    for (int j = 0; j < QK5_0 / 2; ++j) {
        const int lo = int((b.qs[j] & 0x0f) | (((qh >> j) & 1u) << 4));
        const int hi = int((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
        y[j] = d * float(lo - 16);
        y[j + QK5_0 / 2] = d * float(hi - 16);
    }
}

QLM_HD inline void dequantize_block(const block_q5_1& b, float* y) {
    const float d = fp16_to_fp32(b.d), m = fp16_to_fp32(b.m);
    const uint32_t qh = load_u32(b.qh);
    for (int j = 0; j < QK5_1 / 2; ++j) {
        const uint32_t lo = (b.qs[j] & 0x0fu) | (((qh >> j) & 1u) << 4);
        const uint32_t hi = (b.qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
        y[j] = d * float(lo) + m;
        y[j + QK5_1 / 2] = d * float(hi) + m;
    }
}

QLM_HD inline void dequantize_block(const block_q8_0& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < QK8_0; ++j) y[j] = float(b.qs[j]) * d;
}

QLM_HD inline void dequantize_block(const block_q8_1& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int j = 0; j < QK8_1; ++j) y[j] = float(b.qs[j]) * d;
}

}  // namespace qlm::fmt
