// Ternary formats (BitNet-style): every element is d * (t - 1), t in {0, 1, 2}.
#pragma once

#include "formats/common.h"

namespace qlm::fmt {

// [qs:48][qh:4][d:f16]  base-3 digits packed 5 per byte (4 in qh) as
// byte = ceil(value * 256 / 243): digit n of a byte is ((byte * 3^n mod 256) * 3) >> 8.
// qs[m], m < 32: elements 32n + m (n = 0..4); qs[32 + m], m < 16: elements
// 160 + 16n + m; qh[m]: elements 240 + 4n + m (n = 0..3).
struct block_tq1_0 {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];
    uint8_t qh[QK_K / 64];
    uint16_t d;
};
static_assert(sizeof(block_tq1_0) == 54);

// [qs:64][d:f16]  element 128j + 32l + m: bits 2l..2l+1 of qs[32j + m].
struct block_tq2_0 {
    uint8_t qs[QK_K / 4];
    uint16_t d;
};
static_assert(sizeof(block_tq2_0) == 66);

QLM_HD inline int tq1_digit(uint8_t byte, int n) {
    constexpr uint8_t pow3[5] = {1, 3, 9, 27, 81};
    return (int(uint8_t(byte * pow3[n])) * 3) >> 8;
}

// t - 1 of element e of a TQ1_0 block.
QLM_HD inline int tq1_value(const block_tq1_0& b, int e) {
    if (e < 160) return tq1_digit(b.qs[e % 32], e / 32) - 1;
    if (e < 240) return tq1_digit(b.qs[32 + (e - 160) % 16], (e - 160) / 16) - 1;
    return tq1_digit(b.qh[(e - 240) % 4], (e - 240) / 4) - 1;
}

QLM_HD inline int tq2_value(const block_tq2_0& b, int e) {
    return ((b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3) - 1;
}

// The integer form of iquants.h (IqInts: q = t - 1, scales 1, factor 1).
struct IqInts;
void to_ints(const block_tq1_0& b, IqInts& o);
void to_ints(const block_tq2_0& b, IqInts& o);

QLM_HD inline void dequantize_block(const block_tq1_0& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int e = 0; e < QK_K; ++e) y[e] = d * float(tq1_value(b, e));
}

QLM_HD inline void dequantize_block(const block_tq2_0& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int e = 0; e < QK_K; ++e) y[e] = d * float(tq2_value(b, e));
}

}  // namespace qlm::fmt
