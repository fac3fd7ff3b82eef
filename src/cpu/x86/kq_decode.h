// The decoders of the K-quant super-blocks (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K),
// written once for the x86 kernels: the AVX2 tiles and GEMM
// (avx2/kquant_decode.h) and the AVX-512 / AMX ones (avx512/kquant_decode.h).
// Private to src/cpu/avx2, avx512 and amx.
//
// The decoder concept (KDecoder below). A decoder D gives
//   Block, kMode     the packed block (formats/kquants.h); Min: the codes are
//                    unsigned and dmin * sum_j m_j bsum_j comes off; Bias: the
//                    codes are q + offset, the offset's sum_j coef_j bsum_j
//                    comes off in integers
//   kDByte           the offset of the fp16 d; Min: dmin is the fp16 after it
//   decode(p, k)     into any decoded block k with __m256i q[8] (unsigned
//                    codes of elements 32c .. 32c + 31), sc[8] (int16 scales:
//                    s_2c x 8 | s_2c+1 x 8) and coef (int16 per bsum), so that
//                      S = sum_j sc_j <q, x>_j - [Bias] sum_j coef_j bsum_j
//                      T = sum_j coef_j bsum_j   [Min]       (exact int32)
// The ISAs differ in what they do with the decoded block (vpmaddubsw + madd,
// vpdpwssd, AMX planes) and how they fetch d (per block, or 8 rows from
// gathered dwords), not in the decoding. IQ4_XS, also a super-block format,
// is decoded per ISA (AVX2: signed values, AVX-512: values + 128, wide).
//
// Include it like x86/iq_decode.h: from the ISA's own header, after its
// intrinsics, with QLM_X86_NS naming the ISA's namespace.
#pragma once

#ifndef QLM_X86_NS
#error "include cpu/x86/kq_decode.h through an ISA header that defines QLM_X86_NS"
#endif

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "formats/kquants.h"

namespace qlm::cpu::QLM_X86_NS {
namespace kq {

using namespace fmt;

// Signed: IQ4_XS on AVX2 (values and their magnitudes, no bsum terms).
enum class Mode { Min, Bias, Signed };

template <class D, class K>
concept KDecoder = requires(const uint8_t* p, K& k, __m256i& v) {
    typename D::Block;
    requires std::same_as<decltype(D::kMode), const Mode>;
    requires std::same_as<decltype(D::kDByte), const size_t>;
    D::decode(p, k);
    v = k.q[0];
    v = k.sc[0];
    v = k.coef;
};

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
// Q6_K chunk c: 4 bits from ql, 2 from qh (the code q + 32, 0..63).
inline __m256i q6_codes(const uint8_t* ql, const uint8_t* qh, int c) {
    const int h = c / 4, g = c % 4;
    const __m256i lo = bits_at(load256(ql + 64 * h + 32 * (g % 2)), 4 * (g / 2), 0x0f);
    const __m256i hi = bits_at(load256(qh + 32 * h), 2 * g, 3);
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
}

// Q4_K / Q5_K 6-bit scales and mins, eight at a time with 32-bit masks
// (formats/kquants.h unpack_scale_min_k4: bytes 0-3 scales 0-3, 4-7 mins
// 0-3, 8-11 the low nibbles of scales / mins 4-7, whose top two bits are
// bits 6-7 of bytes 0-7): byte j of sc / mn is scale / min j.
inline void scale_min_bytes_k4(const uint8_t* q, uint64_t& sc, uint64_t& mn) {
    uint32_t a, b, c;
    std::memcpy(&a, q, 4), std::memcpy(&b, q + 4, 4), std::memcpy(&c, q + 8, 4);
    const uint32_t sc_hi = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);
    const uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    sc = (a & 0x3f3f3f3fu) | uint64_t(sc_hi) << 32;
    mn = (b & 0x3f3f3f3fu) | uint64_t(mn_hi) << 32;
}
// ... as chunk c's scale broadcast and the mins per bsum (coef)
template <class K>
inline void scales_mins_k4(const uint8_t* q, K& d) {
    uint64_t sc, mn;
    scale_min_bytes_k4(q, sc, mn);
    const __m128i m8 = _mm_cvtsi64_si128(int64_t(mn));
    d.coef = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m_j for bsums 2j, 2j+1
    const __m256i s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(int64_t(sc))));
    for (int k = 0; k < 8; ++k) d.sc[k] = _mm256_shuffle_epi8(s16, _mm256_set1_epi16(short(0x0100 + 0x0202 * k)));
}

// Chunk c's [s_2c x 8 | s_2c+1 x 8] as int16 from 16 int8 scales.
inline __m256i scale_pair_i8(__m128i s8, int c) {
    const __m128i pick = _mm_set_epi64x(int64_t(0x0101010101010101ull * unsigned(2 * c + 1)),
                                        int64_t(0x0101010101010101ull * unsigned(2 * c)));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s8, pick));
}
template <class K>
inline void scales_i8(__m128i s8, K& d) {
    for (int c = 0; c < 8; ++c) d.sc[c] = scale_pair_i8(s8, c);
}
template <class K>
inline void set_scales16(K& d, const int16_t* s) {
    for (int c = 0; c < 8; ++c) d.sc[c] = _mm256_setr_m128i(_mm_set1_epi16(s[2 * c]), _mm_set1_epi16(s[2 * c + 1]));
}
inline __m256i load_coef(const int16_t* v) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v)); }

// ---- the decoders ----

// What every K-quant decoder declares: its block and mode; d is the block's
// member `d`.
template <class B, Mode M>
struct KAt {
    using Block = B;
    static constexpr Mode kMode = M;
    static constexpr size_t kDByte = offsetof(B, d);
};

struct Q4K : KAt<block_q4_K, Mode::Min> {
    template <class K>
    static void decode(const uint8_t* p, K& d) {
        scales_mins_k4(p + offsetof(block_q4_K, scales), d);
        nibbles_k(p + offsetof(block_q4_K, qs), d.q);
    }
};

struct Q5K : KAt<block_q5_K, Mode::Min> {
    template <class K>
    static void decode(const uint8_t* p, K& d) {
        scales_mins_k4(p + offsetof(block_q5_K, scales), d);
        nibbles_k(p + offsetof(block_q5_K, qs), d.q);
        add_high_bit(p + offsetof(block_q5_K, qh), 4, d.q);
    }
};

struct Q2K : KAt<block_q2_K, Mode::Min> {
    template <class K>
    static void decode(const uint8_t* p, K& d) {
        const auto& b = *reinterpret_cast<const block_q2_K*>(p);
        const __m128i sc = load128(b.scales), lo = _mm_set1_epi8(0x0f);
        scales_i8(_mm_and_si128(sc, lo), d);
        d.coef = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc, 4), lo));
        crumbs_k(b.qs, d.q);
    }
};

// q + 4 = 2-bit code + 4 * high bit; the 4 comes off as 4 sc_j bsum_j.
struct Q3K : KAt<block_q3_K, Mode::Bias> {
    template <class K>
    static void decode(const uint8_t* p, K& d) {
        const auto& b = *reinterpret_cast<const block_q3_K*>(p);
        int16_t s[16], c4[16];
        for (int i = 0; i < 16; ++i) {  // formats/kquants.h unpack_scale_q3_K
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
struct Q6K : KAt<block_q6_K, Mode::Bias> {
    template <class K>
    static void decode(const uint8_t* p, K& d) {
        const auto& b = *reinterpret_cast<const block_q6_K*>(p);
        const __m128i sc = load128(reinterpret_cast<const uint8_t*>(b.scales));
        scales_i8(sc, d);
        d.coef = _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5);
        for (int c = 0; c < 8; ++c) d.q[c] = q6_codes(b.ql, b.qh, c);
    }
};

}  // namespace kq
}  // namespace qlm::cpu::QLM_X86_NS
