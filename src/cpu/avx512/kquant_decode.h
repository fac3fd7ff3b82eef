// One 256-element super-block of the K-quants (and IQ4_XS) decoded to 8 x 32
// unsigned byte codes, the scales per 16 elements and the coefficients of the
// activation's 16-element sums (bsums). Shared by the tiles (kquants.cpp) and
// the GEMM (gemm.cpp). Private to src/cpu/avx512/.
//   S = sum_j sc_j <u, x>_j - [Bias] sum_j coef_j bsum_j      (exact int32)
//   T = sum_j coef_j bsum_j                                     [Min only]
// Narrow codes (<= 63) go through vpmaddubsw + vpdpwssd with int16 scales;
// IQ4_XS's codes are its table values + 128 (up to 241, too wide for the
// int16 pair sums), so it takes vpdpbusd and an int32 multiply.
#pragma once

#include "cpu/avx512/legacy_decode.h"
#include "formats/kquants.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace kq {

using namespace fmt;

enum class Mode { Min, Bias };

struct KDec {
    __m256i q[8];   // codes of elements 32c .. 32c + 31
    __m256i sc[8];  // chunk c's scales: int16 s_2c x 8 | s_2c+1 x 8 (wide: int32 s x 4 | s' x 4)
    __m256i coef;   // int16 coefficient per bsum
};

inline __m256i bits_at(__m256i v, int shift, int mask) {
    return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(int8_t(mask)));
}

inline void set_scales16(KDec& d, const int16_t* s) {
    for (int c = 0; c < 8; ++c)
        d.sc[c] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(s[2 * c])), _mm_set1_epi16(s[2 * c + 1]), 1);
}
inline __m256i load_coef(const int16_t* v) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v)); }

// Q4_K / Q5_K 6-bit scales and mins, eight at a time with 32-bit masks
// (formats/kquants.h unpack_scale_min_k4: bytes 0-3 scales 0-3, 4-7 mins
// 0-3, 8-11 the low nibbles of scales / mins 4-7, whose top two bits are
// bits 6-7 of bytes 0-7): chunk c's scale broadcast, mins per bsum.
inline void scales_mins_k4(const uint8_t* q, KDec& d) {
    uint32_t a, b, c;
    std::memcpy(&a, q, 4), std::memcpy(&b, q + 4, 4), std::memcpy(&c, q + 8, 4);
    const uint32_t sc_hi = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);
    const uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    const uint64_t sc = (a & 0x3f3f3f3fu) | uint64_t(sc_hi) << 32;
    const uint64_t mn = (b & 0x3f3f3f3fu) | uint64_t(mn_hi) << 32;
    const __m128i m8 = _mm_cvtsi64_si128(int64_t(mn));
    d.coef = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m_j for bsums 2j, 2j+1
    const __m256i s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(int64_t(sc))));
    for (int k = 0; k < 8; ++k) d.sc[k] = _mm256_shuffle_epi8(s16, _mm256_set1_epi16(short(0x0100 + 0x0202 * k)));
}

// int8 scales per 16 elements (16 bytes) -> chunk c's [s_2c x 8 | s_2c+1 x 8] as int16.
inline void scales_i8(__m128i s8, KDec& d) {
    for (int c = 0; c < 8; ++c) {
        const __m128i pick = _mm_set_epi64x(int64_t(0x0101010101010101ull * unsigned(2 * c + 1)),
                                            int64_t(0x0101010101010101ull * unsigned(2 * c)));
        d.sc[c] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s8, pick));
    }
}

inline void nibbles_k(const uint8_t* qs, __m256i* q) {
    for (int p = 0; p < 4; ++p) {
        const __m256i v = load256(qs + 32 * p);
        q[2 * p] = bits_at(v, 0, 0x0f);
        q[2 * p + 1] = bits_at(v, 4, 0x0f);
    }
}
inline void crumbs_k(const uint8_t* qs, __m256i* q) {
    for (int c = 0; c < 8; ++c) q[c] = bits_at(load256(qs + 32 * (c / 4)), 2 * (c % 4), 3);
}
inline void add_high_bit(const uint8_t* h, int to, __m256i* q) {
    const __m256i v = load256(h);
    for (int c = 0; c < 8; ++c) q[c] = _mm256_or_si256(q[c], _mm256_slli_epi16(bits_at(v, c, 1), to));
}

template <class Block, Mode M, bool Wide, size_t DOff, bool DHigh>
struct KBase {
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_K);
    static constexpr size_t kDOff = DOff;  // gathered dword: d in its low (or high) half, Min: dmin high
    static constexpr Mode kMode = M;
    static constexpr bool kWide = Wide;
    static void scales(__m256i g, __m256& d, __m256& dmin) {
        d = DHigh ? f16_hi(g) : f16_lo(g);
        dmin = M == Mode::Min ? f16_hi(g) : _mm256_setzero_ps();
    }
};

struct DecQ4_K : KBase<block_q4_K, Mode::Min, false, 0, false> {
    static void decode(const uint8_t* p, KDec& d) {
        scales_mins_k4(p + offsetof(block_q4_K, scales), d);
        nibbles_k(p + offsetof(block_q4_K, qs), d.q);
    }
};
struct DecQ5_K : KBase<block_q5_K, Mode::Min, false, 0, false> {
    static void decode(const uint8_t* p, KDec& d) {
        scales_mins_k4(p + offsetof(block_q5_K, scales), d);
        nibbles_k(p + offsetof(block_q5_K, qs), d.q);
        add_high_bit(p + offsetof(block_q5_K, qh), 4, d.q);
    }
};
struct DecQ2_K : KBase<block_q2_K, Mode::Min, false, offsetof(block_q2_K, d), false> {
    static void decode(const uint8_t* p, KDec& d) {
        const auto& b = *reinterpret_cast<const block_q2_K*>(p);
        const __m128i sc = load128(b.scales), lo = _mm_set1_epi8(0x0f);
        scales_i8(_mm_and_si128(sc, lo), d);
        d.coef = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), lo));
        crumbs_k(b.qs, d.q);
    }
};
// q + 4 = 2-bit code + 4 * high bit; the 4 comes off as 4 sc_j bsum_j.
struct DecQ3_K : KBase<block_q3_K, Mode::Bias, false, offsetof(block_q3_K, d) - 2, true> {
    static void decode(const uint8_t* p, KDec& d) {
        const auto& b = *reinterpret_cast<const block_q3_K*>(p);
        int16_t s[16], c4[16];
        for (int i = 0; i < 16; ++i) {
            const int lo = i < 8 ? (b.scales[i] & 0x0f) : (b.scales[i - 8] >> 4);
            const int hi = (b.scales[8 + i % 4] >> (2 * (i / 4))) & 3;
            s[i] = int16_t((lo | (hi << 4)) - 32), c4[i] = int16_t(4 * s[i]);
        }
        set_scales16(d, s);
        d.coef = load_coef(c4);
        crumbs_k(b.qs, d.q);
        add_high_bit(b.hmask, 2, d.q);
    }
};
// q + 32 = the 6-bit code; the 32 comes off as 32 sc_j bsum_j.
struct DecQ6_K : KBase<block_q6_K, Mode::Bias, false, offsetof(block_q6_K, d) - 2, true> {
    static void decode(const uint8_t* p, KDec& d) {
        const auto& b = *reinterpret_cast<const block_q6_K*>(p);
        const __m128i sc = load128(reinterpret_cast<const uint8_t*>(b.scales));
        scales_i8(sc, d);
        d.coef = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5);
        for (int c = 0; c < 8; ++c) {
            const int h = c / 4, g = c % 4;
            const __m256i lo = bits_at(load256(b.ql + 64 * h + 32 * (g % 2)), 4 * (g / 2), 0x0f);
            const __m256i hi = bits_at(load256(b.qh + 32 * h), 2 * g, 3);
            d.q[c] = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
        }
    }
};
// Table values + 128; the 128 comes off as 128 sc_ib bsum_j.
struct DecIq4Xs : KBase<block_iq4_xs, Mode::Bias, true, 0, false> {
    static void decode(const uint8_t* p, KDec& d) {
        const auto& b = *reinterpret_cast<const block_iq4_xs*>(p);
        int16_t c128[16];
        for (int ib = 0; ib < 8; ++ib) {
            const int lo = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
            const int hi = (b.scales_h >> (2 * ib)) & 3;
            const int s = (lo | (hi << 4)) - 32;
            d.sc[ib] = _mm256_set1_epi32(s);
            c128[2 * ib] = c128[2 * ib + 1] = int16_t(128 * s);
            d.q[ib] = lookup16(unpack_nibbles16(b.qs + 16 * ib), kIq4nlU);
        }
        d.coef = load_coef(c128);
    }
};

// Row j's S (Bias already taken off) and T as 8 int32 lanes against one
// activation super-block x (block_q8_K).
template <class K>
inline void dot_lanes(const KDec& d, const uint8_t* x, __m256i& s, __m256i& tm) {
    const uint8_t* xq = x + offsetof(block_q8_K, qs);
    __m256i acc = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
        const __m256i a = load256(xq + 32 * c);
        if constexpr (K::kWide)
            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), d.q[c], a), d.sc[c]));
        else
            acc = _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(d.q[c], a), d.sc[c]);
    }
    const __m256i t = _mm256_madd_epi16(d.coef, load256(x + offsetof(block_q8_K, bsums)));
    if constexpr (K::kMode == Mode::Bias) {
        s = _mm256_sub_epi32(acc, t);
        tm = _mm256_setzero_si256();
    } else {
        s = acc, tm = t;
    }
}

}  // namespace kq
}  // namespace qlm::cpu::QLM_AVX512_NS
