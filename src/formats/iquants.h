// Non-linear 4-bit formats: each nibble indexes a fixed 16-entry int8 table
// (denser near zero), times the block scale. Below them the low-bit lattice
// formats IQ1_S/IQ1_M/IQ2_XXS/IQ2_XS/IQ2_S/IQ3_XXS/IQ3_S: each index picks a
// point of a fixed grid of 8 (IQ1, IQ2) or 4 (IQ3) element values, signs come
// separately, times a per-32 or per-16 odd integer scale and the block's d.
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

// ---- low-bit lattice formats (256-element super-blocks, partner Q8_K) ----
// The grids (iq_grids.cpp, generated from gguf-py): entry i = the element
// values of lattice point i as bytes, element 0 in the low byte.
extern const uint64_t kIq2xxsGrid[256];  // values 8, 25, 43
extern const uint64_t kIq2xsGrid[512];
extern const uint64_t kIq2sGrid[1024];
extern const uint32_t kIq3xxsGrid[256];  // values 4, 12, ..., 62
extern const uint32_t kIq3sGrid[512];    // values 1, 3, ..., 15
extern const uint64_t kIq1sGrid[2048];   // int8 values -1, 0, 1
inline constexpr float kIq1Delta = 0.125f;

// The IQ2/IQ3 sign code: 7 stored bits of an 8-element sign byte, whose 8th
// bit makes the count of minus signs even. Bit j set: element j negative.
constexpr uint8_t iq2_sign_byte(uint32_t code7) {
    uint32_t p = code7 & 127, c = 0;
    for (uint32_t v = p; v; v >>= 1) c += v & 1;
    return uint8_t(p | ((c & 1) << 7));
}

// [d:f16][qs:u16 x 32] per 32 elements two u32 (aux0, aux1): aux0's 4 bytes
// index kIq2xxsGrid for elements 8l..8l+7; aux1 bits 7l..7l+6 their sign
// code, bits 28..31 the scale s: element = d * (0.5 + s) * 0.25 * grid * sign.
struct block_iq2_xxs {
    uint16_t d;
    uint16_t qs[QK_K / 8];
};
static_assert(sizeof(block_iq2_xxs) == 66);

// [d:f16][qs:u16 x 32][scales:8]  qs[g] for elements 8g..8g+7: bits 0..8
// index kIq2xsGrid, bits 9..15 the sign code; scales[ib] low nibble for
// elements 32ib..+15, high nibble for +16..+31: d * (0.5 + s) * 0.25.
struct block_iq2_xs {
    uint16_t d;
    uint16_t qs[QK_K / 8];
    uint8_t scales[QK_K / 32];
};
static_assert(sizeof(block_iq2_xs) == 74);

// [d:f16][qs:32][signs:32][qh:8][scales:8]  group g of 8: index qs[g] |
// ((qh[g/4] >> 2(g%4)) & 3) << 8 into kIq2sGrid, sign bits signs[g] (bit j:
// element j negative); scales as IQ2_XS.
struct block_iq2_s {
    uint16_t d;
    uint8_t qs[QK_K / 8];
    uint8_t signs[QK_K / 8];
    uint8_t qh[QK_K / 32];
    uint8_t scales[QK_K / 32];
};
static_assert(sizeof(block_iq2_s) == 82);

// [d:f16][qs:64][sas:u32 x 8]  qs[q] indexes kIq3xxsGrid for elements
// 4q..4q+3; sas[ib] (32 elements): bits 7l.. the sign code of elements
// 32ib+8l.., bits 28..31 the scale s: d * (0.5 + s) * 0.5.
struct block_iq3_xxs {
    uint16_t d;
    uint8_t qs[QK_K / 4];
    uint8_t sas[4 * (QK_K / 32)];
};
static_assert(sizeof(block_iq3_xxs) == 98);

// [d:f16][qs:64][qh:8][signs:32][scales:4]  index qs[q] | bit q%8 of qh[q/8]
// << 8 into kIq3sGrid (elements 4q..4q+3); signs as IQ2_S; scales[ib/2]
// nibble ib%2 for elements 32ib..: d * (1 + 2 s).
struct block_iq3_s {
    uint16_t d;
    uint8_t qs[QK_K / 4];
    uint8_t qh[QK_K / 32];
    uint8_t signs[QK_K / 8];
    uint8_t scales[QK_K / 64];
};
static_assert(sizeof(block_iq3_s) == 110);

// [d:f16][qs:32][qh:u16 x 8]  group g of 8: index qs[g] | ((qh[g/4] >>
// 3(g%4)) & 7) << 8 into kIq1sGrid; qh[ib] bits 12..14 the scale s, bit 15
// the delta's sign: element = d * (2s + 1) * (grid +- 0.125) (bit set: -).
struct block_iq1_s {
    uint16_t d;
    uint8_t qs[QK_K / 8];
    uint16_t qh[QK_K / 32];
};
static_assert(sizeof(block_iq1_s) == 50);

// [qs:32][qh:16][scales:u16 x 4]  group g of 8: index qs[g] | (nibble g%2 of
// qh[g/2] & 7) << 8, that nibble's bit 3 the delta's sign; the 3-bit scale of
// elements 16h..16h+15 is bits 3(h%4).. of scales[h/4]; the fp16 d is the
// four top nibbles of scales (scales[0]'s lowest): d * (2s + 1) * (grid +- 0.125).
struct block_iq1_m {
    uint8_t qs[QK_K / 8];
    uint8_t qh[QK_K / 16];
    uint16_t scales[QK_K / 64];
};
static_assert(sizeof(block_iq1_m) == 56);

inline uint16_t iq1_m_d(const block_iq1_m& b) {
    return uint16_t((b.scales[0] >> 12) | ((b.scales[1] >> 8) & 0x00f0) | ((b.scales[2] >> 4) & 0x0f00) |
                    (b.scales[3] & 0xf000));
}

// The integer form the dot products use (reference and kernels alike): a
// super-block is q[e] (int8) times an integer scale sc[e / 16] times
// fp16 d times the type's power-of-two factor, so for activations x (Q8_K)
//   S = sum_h sc[h] * sum_{e in 16h..16h+15} q[e] * x[e]   (exact int32)
//   dot = S * (d * factor * dx)
// IQ1: q = 8 grid +- 1 (the delta), factor 1/8. |q| <= 62, sc <= 31.
struct IqInts {
    int8_t q[QK_K];
    int16_t sc[QK_K / 16];
    float d;  // fp16 d * factor
};
void to_ints(const block_iq2_xxs& b, IqInts& o);
void to_ints(const block_iq2_xs& b, IqInts& o);
void to_ints(const block_iq2_s& b, IqInts& o);
void to_ints(const block_iq3_xxs& b, IqInts& o);
void to_ints(const block_iq3_s& b, IqInts& o);
void to_ints(const block_iq1_s& b, IqInts& o);
void to_ints(const block_iq1_m& b, IqInts& o);

}  // namespace qlm::fmt
