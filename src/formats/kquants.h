// K-quants: 256-element super-blocks split into sub-blocks of 16 or 32, each
// sub-block with its own small integer scale (and min) relative to the
// super-block's fp16 d (and dmin). Q8_K is the activation partner.
#pragma once

#include "formats/common.h"

namespace qlm::fmt {

inline constexpr int K_SCALE_SIZE = 12;  // 8 six-bit scales + 8 six-bit mins

// [scales:16 (lo nibble scale, hi nibble min)][qs:64 (2-bit)][d:f16][dmin:f16]
// 16 sub-blocks of 16: y = d*sc*q - dmin*m
struct block_q2_K {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d, dmin;
};
static_assert(sizeof(block_q2_K) == 84);

// [hmask:32][qs:64 (low 2 bits)][scales:12 (16 six-bit, biased by 32)][d:f16]
// 16 sub-blocks of 16: y = d*(sc-32)*(q - (hbit ? 0 : 4))
struct block_q3_K {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
};
static_assert(sizeof(block_q3_K) == 110);

// [d:f16][dmin:f16][scales:12 (8 six-bit scales, 8 six-bit mins)][qs:128 (4-bit)]
// 8 sub-blocks of 32: y = d*sc*q - dmin*m
struct block_q4_K {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_q4_K) == 144);

// Q4_K plus [qh:32], the fifth bit of each element.
struct block_q5_K {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
};
static_assert(sizeof(block_q5_K) == 176);

// [ql:128 (low 4 bits)][qh:64 (high 2 bits)][scales:i8 x16][d:f16]
// 16 sub-blocks of 16: y = d*sc*(q - 32)
struct block_q6_K {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
};
static_assert(sizeof(block_q6_K) == 210);

// Activation partner: [d:f32][qs:i8 x256][bsums:i16 x16 (sum of each 16 qs)]
struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};
static_assert(sizeof(block_q8_K) == 292);

// Q4_K/Q5_K sub-block j (0..7): 6-bit scale and min from the 12 packed bytes.
// Bytes 0-3 hold scales 0-3 (low 6 bits), bytes 4-7 mins 0-3; for j >= 4 the
// low 4 bits come from bytes 8-11 and the top 2 bits from the spare bits above.
QLM_HD inline void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = uint8_t((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Q3_K sub-block i (0..15): 6-bit scale, unbiased (-32..31). Low 4 bits are
// the nibbles of bytes 0-7 (i < 8: low nibble of byte i, else high nibble of
// byte i-8); the top 2 bits are bit pair i/4 of byte 8 + i%4.
QLM_HD inline int unpack_scale_q3_K(int i, const uint8_t* s) {
    const int lo = i < 8 ? (s[i] & 0x0f) : (s[i - 8] >> 4);
    const int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

QLM_HD inline void dequantize_block(const block_q2_K& b, float* y) {
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    // element e: sub-block e/16; 2-bit value at qs[32*(e/128) + e%32] bits 2*((e%128)/32)
    for (int e = 0; e < QK_K; ++e) {
        const uint8_t sc = b.scales[e / 16];
        const int q = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        const float dl = d * float(sc & 0x0f), ml = dmin * float(sc >> 4);
        y[e] = dl * float(q) - ml;
    }
}

QLM_HD inline void dequantize_block(const block_q3_K& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    // low 2 bits as Q2_K; high bit of element e at hmask[e%32] bit e/32 (set means no -4)
    for (int e = 0; e < QK_K; ++e) {
        const int ql = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        const int hb = (b.hmask[e % 32] >> (e / 32)) & 1;
        const float dl = d * float(unpack_scale_q3_K(e / 16, b.scales));
        y[e] = dl * float(ql - (hb ? 0 : 4));
    }
}

QLM_HD inline void dequantize_block(const block_q4_K& b, float* y) {
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    // sub-block j: qs[32*(j/2) + l] low nibble (j even) or high nibble (j odd)
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        unpack_scale_min_k4(j, b.scales, &sc, &m);
        const float d1 = d * float(sc), m1 = dmin * float(m);
        for (int l = 0; l < 32; ++l) {
            const int q = (b.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0f;
            y[32 * j + l] = d1 * float(q) - m1;
        }
    }
}

QLM_HD inline void dequantize_block(const block_q5_K& b, float* y) {
    const float d = fp16_to_fp32(b.d), dmin = fp16_to_fp32(b.dmin);
    for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t sc, m;
        unpack_scale_min_k4(j, b.scales, &sc, &m);
        const float d1 = d * float(sc), m1 = dmin * float(m);
        for (int l = 0; l < 32; ++l) {
            const int lo = (b.qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0f;
            const int hi = (b.qh[l] >> j) & 1;
            y[32 * j + l] = d1 * float(lo | (hi << 4)) - m1;
        }
    }
}

QLM_HD inline void dequantize_block(const block_q6_K& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    // element e = 128*h + 32*g + l (h half, g group 0..3, l 0..31):
    // low 4 bits: ql[64*h + 32*(g%2) + l] nibble g/2; high 2: qh[32*h + l] bits 2*g
    for (int e = 0; e < QK_K; ++e) {
        const int h = e / 128, g = (e % 128) / 32, l = e % 32;
        const int lo = (b.ql[64 * h + 32 * (g % 2) + l] >> (4 * (g / 2))) & 0x0f;
        const int hi = (b.qh[32 * h + l] >> (2 * g)) & 3;
        const float dl = d * float(b.scales[e / 16]);
        y[e] = dl * float((lo | (hi << 4)) - 32);
    }
}

QLM_HD inline void dequantize_block(const block_q8_K& b, float* y) {
    for (int e = 0; e < QK_K; ++e) y[e] = b.d * float(b.qs[e]);
}

}  // namespace qlm::fmt
