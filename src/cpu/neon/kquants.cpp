// NEON tiles for the 256-element super-block formats against Q8_K
// activations: Q2_K, Q4_K, Q5_K (unsigned codes with mins), Q3_K, Q6_K and
// IQ4_XS (signed values). A super-block decodes to 16 x 16 int8 lanes with
// the code offsets already taken off (Q3_K: q - 4, Q6_K: q - 32), so sdot
// takes them as they are, and one int32 scale per sub-block of 16 (Q2_K,
// Q3_K, Q6_K) or 32 (Q4_K, Q5_K, IQ4_XS) elements. Per activation row:
//   sum_q = sum_j sc_j <q, p>_j     (sdot, then a multiply-add with the scales)
//   sum_m = sum_j m_j bsum_j        (Min types: the activation's 16-element sums)
// are the reference's exact integer sums, and the super-block is scaled with
// the reference's float expression in the reference's order, so these tiles
// give the scalar kernel's results bit for bit.
#include "cpu/neon/common.h"
#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/ternary.h"

namespace qlm::cpu::neon {
namespace {

using namespace fmt;

struct KDec {
    int8x16_t q[16];     // element 16u + l at lane l of q[u]
    int32x4_t sc[4];     // sub-block scales, 4 per vector (Sub 32: sc[0..1] only)
    int16x8_t mins[2];   // Min types: per bsum (Sub 16) or per bsum pair (Sub 32: mins[0])
    float d, dmin;
};

inline int32x4_t widen_lo(int16x8_t v) { return vmovl_s16(vget_low_s16(v)); }
inline int32x4_t widen_hi(int16x8_t v) { return vmovl_high_s16(v); }

// 16 int8 scales -> sc[0..3].
inline void set_scales16(KDec& d, int8x16_t s) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(s)), hi = vmovl_high_s8(s);
    d.sc[0] = widen_lo(lo), d.sc[1] = widen_hi(lo), d.sc[2] = widen_lo(hi), d.sc[3] = widen_hi(hi);
}

// 8 int8 scales -> sc[0..1].
inline void set_scales8(KDec& d, int8x8_t s) {
    const int16x8_t v = vmovl_s8(s);
    d.sc[0] = widen_lo(v), d.sc[1] = widen_hi(v);
}

template <class Block, int Sub, bool Min, void (*Decode)(const uint8_t*, KDec&)>
struct KQuant {
    static_assert(Sub == 16 || Sub == 32);
    static constexpr int kQK = QK_K, kChunk = 1, kXScales = 0;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_K);
    using Dec = KDec;

    static void decode(const uint8_t* w, int, Dec& d) { Decode(w, d); }

    template <int G>
    static void apply(const Dec& d, int, const uint8_t* x, size_t xs, XScales, float32x4_t* acc) {
        constexpr size_t kQs = offsetof(block_q8_K, qs), kBsums = offsetof(block_q8_K, bsums);
        int32x4_t sq[G];
        for (int g = 0; g < G; ++g) sq[g] = vdupq_n_s32(0);
        const int32x4_t z = vdupq_n_s32(0);
        if constexpr (Sub == 16) {
            for (int u = 0; u < 4; ++u)  // sub-blocks 4u..4u+3
                for (int g = 0; g < G; ++g) {
                    const uint8_t* a = x + g * xs + kQs + 64 * u;
                    const int32x4_t s = reduce4(vdotq_s32(z, d.q[4 * u], load_s8(a)),
                                                vdotq_s32(z, d.q[4 * u + 1], load_s8(a + 16)),
                                                vdotq_s32(z, d.q[4 * u + 2], load_s8(a + 32)),
                                                vdotq_s32(z, d.q[4 * u + 3], load_s8(a + 48)));
                    sq[g] = vmlaq_s32(sq[g], s, d.sc[u]);
                }
        } else {
            for (int u = 0; u < 2; ++u)  // sub-blocks 4u..4u+3
                for (int g = 0; g < G; ++g) {
                    const uint8_t* a = x + g * xs + kQs + 128 * u;
                    const int8x16_t* q = d.q + 8 * u;
                    const int32x4_t s = reduce4(dot32(q, a), dot32(q + 2, a + 32), dot32(q + 4, a + 64), dot32(q + 6, a + 96));
                    sq[g] = vmlaq_s32(sq[g], s, d.sc[u]);
                }
        }
        for (int g = 0; g < G; ++g) {
            const uint8_t* xg = x + g * xs;
            float dy;
            std::memcpy(&dy, xg + offsetof(block_q8_K, d), 4);
            const int32_t sum_q = vaddvq_s32(sq[g]);
            float v;
            if constexpr (Min) {
                const int16x8_t b0 = load_s16(xg + kBsums), b1 = load_s16(xg + kBsums + 16);
                int32x4_t m;
                if constexpr (Sub == 16) {
                    m = vmull_s16(vget_low_s16(b0), vget_low_s16(d.mins[0]));
                    m = vmlal_high_s16(m, b0, d.mins[0]);
                    m = vmlal_s16(m, vget_low_s16(b1), vget_low_s16(d.mins[1]));
                    m = vmlal_high_s16(m, b1, d.mins[1]);
                } else {
                    const int16x8_t pairs = vpaddq_s16(b0, b1);  // |bsum| <= 2048: no overflow
                    m = vmull_s16(vget_low_s16(pairs), vget_low_s16(d.mins[0]));
                    m = vmlal_high_s16(m, pairs, d.mins[0]);
                }
                const int32_t sum_m = vaddvq_s32(m);
                v = dy * (d.d * float(sum_q) - d.dmin * float(sum_m));
            } else {
                v = dy * d.d * float(sum_q);
            }
            // The scalar kernel's running sum, in lane 0 (the other lanes stay 0).
            acc[g] = vsetq_lane_f32(vgetq_lane_f32(acc[g], 0) + v, acc[g], 0);
        }
    }
};

// Q4_K/Q5_K head: d, dmin and the 8 six-bit scales and mins (the bit moves of
// unpack_scale_min_k4, four sub-blocks at a time).
void decode_scale_min_k4(const uint8_t* scales, KDec& d) {
    constexpr uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
    uint32_t u[3];
    std::memcpy(u, scales, 12);
    const uint32_t sc[2] = {u[0] & kLow6, (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4)};
    const uint32_t mn[2] = {u[1] & kLow6, ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4)};
    uint8_t b[8];
    std::memcpy(b, sc, 8);
    set_scales8(d, vreinterpret_s8_u8(vld1_u8(b)));
    std::memcpy(b, mn, 8);
    d.mins[0] = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(b)));
}

// 4-bit codes of sub-block j (32 elements) at qs[32*(j/2) + l], nibble j%2.
inline void nibbles_k(const uint8_t* qs, int8x16_t* q) {
    for (int p = 0; p < 4; ++p) {
        const uint8x16_t v0 = load_u8(qs + 32 * p), v1 = load_u8(qs + 32 * p + 16);
        q[4 * p] = vreinterpretq_s8_u8(vandq_u8(v0, vdupq_n_u8(0x0f)));
        q[4 * p + 1] = vreinterpretq_s8_u8(vandq_u8(v1, vdupq_n_u8(0x0f)));
        q[4 * p + 2] = vreinterpretq_s8_u8(vshrq_n_u8(v0, 4));
        q[4 * p + 3] = vreinterpretq_s8_u8(vshrq_n_u8(v1, 4));
    }
}

// 2-bit codes of element e = 16k + l at qs[32*(k/8) + 16*(k%2) + l], bit pair (k%8)/2.
inline void crumbs_k(const uint8_t* qs, uint8x16_t* q) {
    for (int h = 0; h < 2; ++h)
        for (int half = 0; half < 2; ++half) {
            const uint8x16_t v = load_u8(qs + 32 * h + 16 * half);
            q[8 * h + half] = vandq_u8(v, vdupq_n_u8(3));
            q[8 * h + 2 + half] = vandq_u8(vshrq_n_u8(v, 2), vdupq_n_u8(3));
            q[8 * h + 4 + half] = vandq_u8(vshrq_n_u8(v, 4), vdupq_n_u8(3));
            q[8 * h + 6 + half] = vshrq_n_u8(v, 6);
        }
}

void decode_q4_k(const uint8_t* p, KDec& d) {
    d.d = fp16_load(p + offsetof(block_q4_K, d)), d.dmin = fp16_load(p + offsetof(block_q4_K, dmin));
    decode_scale_min_k4(p + offsetof(block_q4_K, scales), d);
    nibbles_k(p + offsetof(block_q4_K, qs), d.q);
}

// Q4_K plus bit j of qh[l] as bit 4 of element 32j + l.
void decode_q5_k(const uint8_t* p, KDec& d) {
    d.d = fp16_load(p + offsetof(block_q5_K, d)), d.dmin = fp16_load(p + offsetof(block_q5_K, dmin));
    decode_scale_min_k4(p + offsetof(block_q5_K, scales), d);
    nibbles_k(p + offsetof(block_q5_K, qs), d.q);
    const uint8_t* qh = p + offsetof(block_q5_K, qh);
    uint8x16_t h[2] = {load_u8(qh), load_u8(qh + 16)};
    for (int j = 0; j < 8; ++j)
        for (int half = 0; half < 2; ++half) {
            const uint8x16_t bit4 = vshlq_n_u8(vandq_u8(h[half], vdupq_n_u8(1)), 4);
            d.q[2 * j + half] = vreinterpretq_s8_u8(vorrq_u8(vreinterpretq_u8_s8(d.q[2 * j + half]), bit4));
            h[half] = vshrq_n_u8(h[half], 1);
        }
}

void decode_q2_k(const uint8_t* p, KDec& d) {
    d.d = fp16_load(p + offsetof(block_q2_K, d)), d.dmin = fp16_load(p + offsetof(block_q2_K, dmin));
    const uint8x16_t s = load_u8(p + offsetof(block_q2_K, scales));
    set_scales16(d, vreinterpretq_s8_u8(vandq_u8(s, vdupq_n_u8(0x0f))));
    const uint8x16_t m = vshrq_n_u8(s, 4);
    d.mins[0] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m)));
    d.mins[1] = vreinterpretq_s16_u16(vmovl_high_u8(m));
    uint8x16_t q[16];
    crumbs_k(p + offsetof(block_q2_K, qs), q);
    for (int k = 0; k < 16; ++k) d.q[k] = vreinterpretq_s8_u8(q[k]);
}

// Q3_K: value = 2-bit code - 4 where the hmask bit (hmask[e%32] bit e/32) is clear.
// Scales: the bit moves of unpack_scale_q3_K, four at a time, then -32.
void decode_q3_k(const uint8_t* p, KDec& d) {
    d.d = fp16_load(p + offsetof(block_q3_K, d)), d.dmin = 0;
    constexpr uint32_t kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
    uint32_t u[3];
    std::memcpy(u, p + offsetof(block_q3_K, scales), 12);
    const uint32_t s[4] = {(u[0] & kLow4) | ((u[2] & kLow2) << 4), (u[1] & kLow4) | (((u[2] >> 2) & kLow2) << 4),
                           ((u[0] >> 4) & kLow4) | (((u[2] >> 4) & kLow2) << 4),
                           ((u[1] >> 4) & kLow4) | (((u[2] >> 6) & kLow2) << 4)};
    uint8_t b[16];
    std::memcpy(b, s, 16);
    set_scales16(d, vsubq_s8(vreinterpretq_s8_u8(vld1q_u8(b)), vdupq_n_s8(32)));
    uint8x16_t q[16];
    crumbs_k(p + offsetof(block_q3_K, qs), q);
    const uint8_t* hm = p + offsetof(block_q3_K, hmask);
    const uint8x16_t h[2] = {load_u8(hm), load_u8(hm + 16)};
    for (int k = 0; k < 16; ++k) {
        const uint8x16_t set = vtstq_u8(h[k % 2], vdupq_n_u8(uint8_t(1u << (k / 2))));
        d.q[k] = vsubq_s8(vreinterpretq_s8_u8(q[k]), vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(4), set)));
    }
}

// Q6_K: element e = 128h + 32g + l: low 4 bits at ql[64h + 32(g%2) + l] nibble
// g/2, high 2 at qh[32h + l] bit pair g; value = code - 32.
void decode_q6_k(const uint8_t* p, KDec& d) {
    d.d = fp16_load(p + offsetof(block_q6_K, d)), d.dmin = 0;
    set_scales16(d, load_s8(p + offsetof(block_q6_K, scales)));
    const uint8_t* ql = p + offsetof(block_q6_K, ql);
    const uint8_t* qh = p + offsetof(block_q6_K, qh);
    for (int h = 0; h < 2; ++h)
        for (int half = 0; half < 2; ++half) {
            const uint8x16_t hi = load_u8(qh + 32 * h + 16 * half);
            const uint8x16_t lo01 = load_u8(ql + 64 * h + 16 * half), lo23 = load_u8(ql + 64 * h + 32 + 16 * half);
            const uint8x16_t lo[4] = {vandq_u8(lo01, vdupq_n_u8(0x0f)), vandq_u8(lo23, vdupq_n_u8(0x0f)),
                                      vshrq_n_u8(lo01, 4), vshrq_n_u8(lo23, 4)};
            const uint8x16_t top[4] = {vshlq_n_u8(vandq_u8(hi, vdupq_n_u8(0x03)), 4), vshlq_n_u8(vandq_u8(hi, vdupq_n_u8(0x0c)), 2),
                                       vandq_u8(hi, vdupq_n_u8(0x30)), vshrq_n_u8(vandq_u8(hi, vdupq_n_u8(0xc0)), 2)};
            for (int g = 0; g < 4; ++g)
                d.q[8 * h + 2 * g + half] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo[g], top[g])), vdupq_n_s8(32));
        }
}

void decode_iq4_xs(const uint8_t* p, KDec& d) {
    d.d = fp16_load(p + offsetof(block_iq4_xs, d)), d.dmin = 0;
    uint16_t sh;
    std::memcpy(&sh, p + offsetof(block_iq4_xs, scales_h), 2);
    const uint8_t* sl = p + offsetof(block_iq4_xs, scales_l);
    int8_t s[8];
    for (int ib = 0; ib < 8; ++ib) s[ib] = int8_t((((sl[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((sh >> (2 * ib)) & 3) << 4)) - 32);
    set_scales8(d, vld1_s8(s));
    for (int ib = 0; ib < 8; ++ib) {
        uint8x16_t lo, hi;
        unpack_nibbles(p + offsetof(block_iq4_xs, qs) + 16 * ib, lo, hi);
        d.q[2 * ib] = lookup16(kIq4nl, lo);
        d.q[2 * ib + 1] = lookup16(kIq4nl, hi);
    }
}

// ---- low-bit lattice formats and TQ: the integer form of formats/iquants.h
// (values q and scales per 16, d * factor), so KQuant<Block, 16, false> takes
// them with the reference's integer sums and float order. Group g of 8
// elements: a grid point (8 bytes; IQ3: two 4-byte points) and a sign byte.

// The 128 IQ2/IQ3 sign bytes (iq2_sign_byte), as data.
struct SignTable {
    uint8_t v[128];
    constexpr SignTable() : v{} {
        for (uint32_t i = 0; i < 128; ++i) v[i] = iq2_sign_byte(i);
    }
};
inline constexpr SignTable kSigns{};

inline uint32_t u32_at(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Elements 16k..16k+15 from two groups' magnitudes and sign bytes.
inline int8x16_t signed16(uint64_t g0, uint64_t g1, uint8_t s0, uint8_t s1) {
    const uint8x16_t g = vcombine_u8(vcreate_u8(g0), vcreate_u8(g1));
    const uint8x16_t bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
    const uint8x16_t neg = vtstq_u8(vcombine_u8(vdup_n_u8(s0), vdup_n_u8(s1)), bit);
    return vreinterpretq_s8_u8(vsubq_u8(veorq_u8(g, neg), neg));
}

// IQ1: 8 * grid + delta, grid int8 in {-1, 0, 1}, delta +-1 per group.
inline int8x16_t iq1_16(uint64_t g0, uint64_t g1, int d0, int d1) {
    const int8x16_t g = vreinterpretq_s8_u8(vcombine_u8(vcreate_u8(g0), vcreate_u8(g1)));
    return vaddq_s8(vshlq_n_s8(g, 3), vcombine_s8(vdup_n_s8(int8_t(d0)), vdup_n_s8(int8_t(d1))));
}

inline void odd_scales_nibbles(KDec& d, const uint8_t* s8) {
    int8_t s[16];
    for (int h = 0; h < 16; ++h) s[h] = int8_t(2 * ((s8[h / 2] >> (4 * (h % 2))) & 15) + 1);
    set_scales16(d, vld1q_s8(s));
}
inline void odd_scales_per32(KDec& d, const int* ls) {
    int8_t s[16];
    for (int h = 0; h < 16; ++h) s[h] = int8_t(ls[h / 2]);
    set_scales16(d, vld1q_s8(s));
}

void decode_iq2_xxs(const uint8_t* p, KDec& d) {
    d.d = fp16_load(p) * 0.125f, d.dmin = 0;
    const uint8_t* qs = p + offsetof(block_iq2_xxs, qs);
    int ls[8];
    for (int c = 0; c < 8; ++c) {
        const uint32_t a0 = u32_at(qs + 8 * c), a1 = u32_at(qs + 8 * c + 4);
        ls[c] = int(2 * (a1 >> 28) + 1);
        for (int h = 0; h < 2; ++h) {
            const int l = 2 * h;
            d.q[2 * c + h] = signed16(kIq2xxsGrid[(a0 >> (8 * l)) & 255], kIq2xxsGrid[(a0 >> (8 * l + 8)) & 255],
                                      kSigns.v[(a1 >> (7 * l)) & 127], kSigns.v[(a1 >> (7 * l + 7)) & 127]);
        }
    }
    odd_scales_per32(d, ls);
}

void decode_iq2_xs(const uint8_t* p, KDec& d) {
    d.d = fp16_load(p) * 0.125f, d.dmin = 0;
    odd_scales_nibbles(d, p + offsetof(block_iq2_xs, scales));
    uint16_t q[32];
    std::memcpy(q, p + offsetof(block_iq2_xs, qs), 64);
    for (int k = 0; k < 16; ++k)
        d.q[k] = signed16(kIq2xsGrid[q[2 * k] & 511], kIq2xsGrid[q[2 * k + 1] & 511], kSigns.v[q[2 * k] >> 9],
                          kSigns.v[q[2 * k + 1] >> 9]);
}

void decode_iq2_s(const uint8_t* p, KDec& d) {
    const auto& b = *reinterpret_cast<const block_iq2_s*>(p);
    d.d = fp16_load(p) * 0.125f, d.dmin = 0;
    odd_scales_nibbles(d, b.scales);
    for (int k = 0; k < 16; ++k) {
        const int g0 = 2 * k, g1 = 2 * k + 1;
        const int i0 = b.qs[g0] | (((b.qh[g0 / 4] >> (2 * (g0 % 4))) & 3) << 8);
        const int i1 = b.qs[g1] | (((b.qh[g1 / 4] >> (2 * (g1 % 4))) & 3) << 8);
        d.q[k] = signed16(kIq2sGrid[i0], kIq2sGrid[i1], b.signs[g0], b.signs[g1]);
    }
}

inline uint64_t pair32(uint32_t lo, uint32_t hi) { return uint64_t(lo) | uint64_t(hi) << 32; }

void decode_iq3_xxs(const uint8_t* p, KDec& d) {
    const auto& b = *reinterpret_cast<const block_iq3_xxs*>(p);
    d.d = fp16_load(p) * 0.25f, d.dmin = 0;
    int ls[8];
    for (int c = 0; c < 8; ++c) {
        const uint32_t a = u32_at(b.sas + 4 * c);
        ls[c] = int(2 * (a >> 28) + 1);
        const uint8_t* q = b.qs + 8 * c;
        for (int h = 0; h < 2; ++h) {
            const int l = 2 * h;
            d.q[2 * c + h] = signed16(pair32(kIq3xxsGrid[q[2 * l]], kIq3xxsGrid[q[2 * l + 1]]),
                                      pair32(kIq3xxsGrid[q[2 * l + 2]], kIq3xxsGrid[q[2 * l + 3]]),
                                      kSigns.v[(a >> (7 * l)) & 127], kSigns.v[(a >> (7 * l + 7)) & 127]);
        }
    }
    odd_scales_per32(d, ls);
}

void decode_iq3_s(const uint8_t* p, KDec& d) {
    const auto& b = *reinterpret_cast<const block_iq3_s*>(p);
    d.d = fp16_load(p), d.dmin = 0;
    int ls[8];
    for (int c = 0; c < 8; ++c) {
        ls[c] = 2 * ((b.scales[c / 2] >> (4 * (c % 2))) & 15) + 1;
        uint32_t g[8];
        for (int k = 0; k < 8; ++k) g[k] = kIq3sGrid[b.qs[8 * c + k] | ((b.qh[c] >> k) & 1) << 8];
        for (int h = 0; h < 2; ++h)
            d.q[2 * c + h] = signed16(pair32(g[4 * h], g[4 * h + 1]), pair32(g[4 * h + 2], g[4 * h + 3]),
                                      b.signs[4 * c + 2 * h], b.signs[4 * c + 2 * h + 1]);
    }
    odd_scales_per32(d, ls);
}

void decode_iq1_s(const uint8_t* p, KDec& d) {
    const auto& b = *reinterpret_cast<const block_iq1_s*>(p);
    d.d = fp16_load(p) * 0.125f, d.dmin = 0;
    int ls[8];
    for (int c = 0; c < 8; ++c) {
        uint16_t qh;
        std::memcpy(&qh, p + offsetof(block_iq1_s, qh) + 2 * c, 2);
        ls[c] = 2 * ((qh >> 12) & 7) + 1;
        const int delta = qh & 0x8000 ? -1 : 1;
        const uint8_t* q = b.qs + 4 * c;
        for (int h = 0; h < 2; ++h) {
            const int l = 2 * h;
            d.q[2 * c + h] = iq1_16(kIq1sGrid[q[l] | ((qh >> (3 * l)) & 7) << 8],
                                    kIq1sGrid[q[l + 1] | ((qh >> (3 * l + 3)) & 7) << 8], delta, delta);
        }
    }
    odd_scales_per32(d, ls);
}

void decode_iq1_m(const uint8_t* p, KDec& d) {
    const auto& b = *reinterpret_cast<const block_iq1_m*>(p);
    uint16_t sc[4];
    std::memcpy(sc, p + offsetof(block_iq1_m, scales), 8);
    const uint16_t h = uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    uint8_t hb[2] = {uint8_t(h & 0xff), uint8_t(h >> 8)};
    d.d = fp16_load(hb) * 0.125f, d.dmin = 0;
    int8_t s[16];
    for (int k = 0; k < 16; ++k) s[k] = int8_t(2 * ((sc[k / 4] >> (3 * (k % 4))) & 7) + 1);
    set_scales16(d, vld1q_s8(s));
    for (int k = 0; k < 16; ++k) {  // groups 2k, 2k + 1: the two nibbles of qh[k]
        const int qh = b.qh[k];
        d.q[k] = iq1_16(kIq1sGrid[b.qs[2 * k] | (qh & 7) << 8], kIq1sGrid[b.qs[2 * k + 1] | ((qh >> 4) & 7) << 8],
                        qh & 0x08 ? -1 : 1, qh & 0x80 ? -1 : 1);
    }
}

// TQ1_0 / TQ2_0: the reference's to_ints (q = t - 1, scales 1).
template <class Block>
void decode_ternary(const uint8_t* p, KDec& d) {
    IqInts w;
    to_ints(*reinterpret_cast<const Block*>(p), w);
    d.d = w.d, d.dmin = 0;
    set_scales16(d, vdupq_n_s8(1));
    for (int k = 0; k < 16; ++k) d.q[k] = vld1q_s8(w.q + 16 * k);
}

}  // namespace

void register_kquants(KernelTable& k) {
    k.tile[uint32_t(GgmlType::IQ2_XXS)] = tile<KQuant<block_iq2_xxs, 16, false, decode_iq2_xxs>>;
    k.tile[uint32_t(GgmlType::IQ2_XS)] = tile<KQuant<block_iq2_xs, 16, false, decode_iq2_xs>>;
    k.tile[uint32_t(GgmlType::IQ2_S)] = tile<KQuant<block_iq2_s, 16, false, decode_iq2_s>>;
    k.tile[uint32_t(GgmlType::IQ3_XXS)] = tile<KQuant<block_iq3_xxs, 16, false, decode_iq3_xxs>>;
    k.tile[uint32_t(GgmlType::IQ3_S)] = tile<KQuant<block_iq3_s, 16, false, decode_iq3_s>>;
    k.tile[uint32_t(GgmlType::IQ1_S)] = tile<KQuant<block_iq1_s, 16, false, decode_iq1_s>>;
    k.tile[uint32_t(GgmlType::IQ1_M)] = tile<KQuant<block_iq1_m, 16, false, decode_iq1_m>>;
    k.tile[uint32_t(GgmlType::TQ1_0)] = tile<KQuant<block_tq1_0, 16, false, decode_ternary<block_tq1_0>>>;
    k.tile[uint32_t(GgmlType::TQ2_0)] = tile<KQuant<block_tq2_0, 16, false, decode_ternary<block_tq2_0>>>;
    k.tile[uint32_t(GgmlType::Q2_K)] = tile<KQuant<block_q2_K, 16, true, decode_q2_k>>;
    k.tile[uint32_t(GgmlType::Q3_K)] = tile<KQuant<block_q3_K, 16, false, decode_q3_k>>;
    k.tile[uint32_t(GgmlType::Q4_K)] = tile<KQuant<block_q4_K, 32, true, decode_q4_k>>;
    k.tile[uint32_t(GgmlType::Q5_K)] = tile<KQuant<block_q5_K, 32, true, decode_q5_k>>;
    k.tile[uint32_t(GgmlType::Q6_K)] = tile<KQuant<block_q6_K, 16, false, decode_q6_k>>;
    k.tile[uint32_t(GgmlType::IQ4_XS)] = tile<KQuant<block_iq4_xs, 32, false, decode_iq4_xs>>;
}

}  // namespace qlm::cpu::neon
