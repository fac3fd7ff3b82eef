// Decoding of one 256-element super-block of the K-quants (and IQ4_XS) into
// 8 x 32 int8 codes, int16 scales per 16 elements and the coefficients of the
// activation's 16-element sums. Shared by the per-row tiles (kquants.cpp) and
// the panel GEMM (gemm.cpp). Private to src/cpu/avx2/.
#pragma once

#include "cpu/avx2/common.h"
#include "formats/iquants.h"
#include "formats/kquants.h"

namespace qlm::cpu::avx2 {
namespace kq {

using namespace fmt;

enum class Mode { Min, Bias, Signed };

template <Mode M>
struct KDec {
    __m256i q[8];
    __m256i aq[M == Mode::Signed ? 8 : 1];  // |q| for the sign trick
    __m256i sc[8];                          // int16 scale of elements 0..15 | 16..31 of chunk c
    __m256i coef;                           // int16 coefficient per bsum
    float d, dmin;
};

// Scales per 16 elements -> the madd operands of the 8 chunks.
template <Mode M>
inline void set_scales(KDec<M>& d, const int16_t* s) {
    for (int c = 0; c < 8; ++c) d.sc[c] = _mm256_setr_m128i(_mm_set1_epi16(s[2 * c]), _mm_set1_epi16(s[2 * c + 1]));
}

inline __m256i coef_from(const int16_t* v) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v)); }

inline __m256i bits_at(__m256i v, int shift, int mask) {
    return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(int8_t(mask)));
}

// 4-bit codes at qs[32*(c/2) + l], nibble c%2.
inline void nibbles_k(const uint8_t* qs, __m256i* q) {
    for (int p = 0; p < 4; ++p) {
        const __m256i v = load256(qs + 32 * p);
        q[2 * p] = bits_at(v, 0, 0x0f);
        q[2 * p + 1] = bits_at(v, 4, 0x0f);
    }
}

// 2-bit codes at qs[32*(c/4) + l], bit pair c%4.
inline void crumbs_k(const uint8_t* qs, __m256i* q) {
    for (int c = 0; c < 8; ++c) q[c] = bits_at(load256(qs + 32 * (c / 4)), 2 * (c % 4), 3);
}

// One bit at h[l], bit c, placed at bit `to`.
inline void add_high_bit(const uint8_t* h, int to, __m256i* q) {
    const __m256i v = load256(h);
    for (int c = 0; c < 8; ++c) q[c] = _mm256_or_si256(q[c], _mm256_slli_epi16(bits_at(v, c, 1), to));
}

inline void decode_q4_k_scales(const uint8_t* p, KDec<Mode::Min>& d) {
    const auto& b = *reinterpret_cast<const block_q4_K*>(p);
    d.d = fp16_load(p), d.dmin = fp16_load(p + 2);
    int16_t s[16], m[16];
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, mn;
        unpack_scale_min_k4(j, b.scales, &sc, &mn);
        s[2 * j] = s[2 * j + 1] = sc;
        m[2 * j] = m[2 * j + 1] = mn;
    }
    set_scales(d, s);
    d.coef = coef_from(m);
}

inline void decode_q4_k(const uint8_t* p, KDec<Mode::Min>& d) {
    decode_q4_k_scales(p, d);  // Q4_K and Q5_K share the head (d, dmin, scales)
    nibbles_k(p + offsetof(block_q4_K, qs), d.q);
}

inline void decode_q5_k(const uint8_t* p, KDec<Mode::Min>& d) {
    decode_q4_k_scales(p, d);
    nibbles_k(p + offsetof(block_q5_K, qs), d.q);
    add_high_bit(p + offsetof(block_q5_K, qh), 4, d.q);
}

inline void decode_q2_k(const uint8_t* p, KDec<Mode::Min>& d) {
    const auto& b = *reinterpret_cast<const block_q2_K*>(p);
    d.d = fp16_load(p + offsetof(block_q2_K, d)), d.dmin = fp16_load(p + offsetof(block_q2_K, dmin));
    int16_t s[16], m[16];
    for (int j = 0; j < 16; ++j) s[j] = b.scales[j] & 0x0f, m[j] = b.scales[j] >> 4;
    set_scales(d, s);
    d.coef = coef_from(m);
    crumbs_k(b.qs, d.q);
}

// q + 4 = 2-bit code + 4 * high bit; the 4 comes off as 4 * sc_j * bsum_j.
inline void decode_q3_k(const uint8_t* p, KDec<Mode::Bias>& d) {
    const auto& b = *reinterpret_cast<const block_q3_K*>(p);
    d.d = fp16_load(p + offsetof(block_q3_K, d)), d.dmin = 0;
    int16_t s[16], c4[16];
    for (int j = 0; j < 16; ++j) s[j] = int16_t(unpack_scale_q3_K(j, b.scales)), c4[j] = int16_t(4 * s[j]);
    set_scales(d, s);
    d.coef = coef_from(c4);
    crumbs_k(b.qs, d.q);
    add_high_bit(b.hmask, 2, d.q);
}

// q + 32 = the 6-bit code; the 32 comes off as 32 * sc_j * bsum_j.
inline void decode_q6_k(const uint8_t* p, KDec<Mode::Bias>& d) {
    const auto& b = *reinterpret_cast<const block_q6_K*>(p);
    d.d = fp16_load(p + offsetof(block_q6_K, d)), d.dmin = 0;
    int16_t s[16], c32[16];
    for (int j = 0; j < 16; ++j) s[j] = b.scales[j], c32[j] = int16_t(32 * s[j]);
    set_scales(d, s);
    d.coef = coef_from(c32);
    for (int c = 0; c < 8; ++c) {
        const int h = c / 4, g = c % 4;
        const __m256i lo = bits_at(load256(b.ql + 64 * h + 32 * (g % 2)), 4 * (g / 2), 0x0f);
        const __m256i hi = bits_at(load256(b.qh + 32 * h), 2 * g, 3);
        d.q[c] = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
    }
}


inline void decode_iq4_xs(const uint8_t* p, KDec<Mode::Signed>& d) {
    const auto& b = *reinterpret_cast<const block_iq4_xs*>(p);
    d.d = fp16_load(p), d.dmin = 0;
    int16_t s[16];
    for (int ib = 0; ib < 8; ++ib) s[2 * ib] = s[2 * ib + 1] = int16_t(unpack_scale_iq4_xs(ib, b));
    set_scales(d, s);
    for (int ib = 0; ib < 8; ++ib) {
        d.q[ib] = lookup16(unpack_nibbles16(b.qs + 16 * ib), kIq4nl);
        d.aq[ib] = _mm256_sign_epi8(d.q[ib], d.q[ib]);
    }
}

}  // namespace kq
}  // namespace qlm::cpu::avx2
