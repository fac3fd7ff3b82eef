// Shared pieces of the AVX2 kernels: small vector helpers and the one tile
// driver every weight type plugs into. Private to src/cpu/avx2/.
//
// A weight type is a "decoder" K with
//   kQK      elements per weight block, kWBytes / kXBytes bytes per weight /
//            activation block, kChunk blocks decoded per step,
//   Dec      a decoded block (int8 lanes + scales), decode(w, Dec&),
//   dot(Dec, x, xd, acc) -> acc + this block's contribution for one activation
//            row (xd: xscale(x), the activation block's scale as a float).
// The driver decodes each block of a weight row once and applies it to every
// activation row of the tile, in register groups of up to 4 rows.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cpu/avx2/avx2.h"

// The namespace of the shared x86 headers (cpu/x86/) in this folder's
// translation units: their code is compiled with the AVX2 flags.
#define QLM_X86_NS avx2

namespace qlm::cpu::avx2 {

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float fp16_load(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// 16 packed bytes -> 32 nibbles: low nibbles are elements 0..15, high 16..31.
inline __m256i unpack_nibbles16(const uint8_t* p) {
    const __m128i q = load128(p);
    const __m128i lo = _mm_and_si128(q, _mm_set1_epi8(0x0f));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0f));
    return _mm256_setr_m128i(lo, hi);
}

// 32 bits -> 32 bytes, 0xff where the bit is set (bit j -> byte j).
inline __m256i bytes_from_bits32(const uint8_t* p) {
    uint32_t x;
    std::memcpy(&x, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(int(x)), shuf);
    b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

// Pairwise byte products summed to 16 x int16: unsigned u times signed s.
inline __m256i dot_u8_i16(__m256i u, __m256i s) { return _mm256_maddubs_epi16(u, s); }
// Signed w (|w| given as aw) times signed a, as 16 x int16 (a != -128).
inline __m256i dot_s8_i16(__m256i w, __m256i aw, __m256i a) {
    return _mm256_maddubs_epi16(aw, _mm256_sign_epi8(a, w));
}
inline __m256i sum_i16_pairs(__m256i v) { return _mm256_madd_epi16(v, _mm256_set1_epi16(1)); }

// Sum of 32 signed bytes.
inline int32_t sum_i8(__m256i q) {
    const __m256i s = sum_i16_pairs(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    return _mm_cvtsi128_si32(s4);
}

// G activation rows against nc decoded blocks; xd: the rows' block scales
// (row g's at xd[g * xd_stride]).
template <class K, int G>
inline void apply_group(const typename K::Dec* dec, int nc, const uint8_t* x, size_t xs, const float* xd,
                        int64_t xd_stride, __m256* acc) {
    __m256 a[G];
    for (int g = 0; g < G; ++g) a[g] = _mm256_setzero_ps();
    for (int c = 0; c < nc; ++c)
        for (int g = 0; g < G; ++g) a[g] = K::dot(dec[c], x + g * xs + c * K::kXBytes, xd[g * xd_stride + c], a[g]);
    for (int g = 0; g < G; ++g) acc[g] = _mm256_add_ps(acc[g], a[g]);
}

// Contribution of the elements past the last whole block (float types only).
template <class K>
inline float tail_dot(const MatmulTile& t, const uint8_t* w, int i) {
    if constexpr (requires { K::tail(w, w, int64_t(0), int64_t(0)); }) {
        return K::tail(w, t.x + i * t.x_stride, (t.k / K::kQK) * K::kQK, t.k);
    } else {
        (void)t, (void)w, (void)i;
        return 0.0f;
    }
}

// Activation block scales as floats, converted once per call (types whose
// activation blocks have one; the others get zeros).
template <class K>
const float* activation_scales(const MatmulTile& t, int64_t nb) {
    static thread_local std::vector<float> buf;
    buf.resize(size_t(t.m * nb));
    for (int i = 0; i < t.m; ++i)
        for (int64_t b = 0; b < nb; ++b) {
            if constexpr (requires { K::xscale(t.x); })
                buf[size_t(i * nb + b)] = K::xscale(t.x + i * t.x_stride + b * K::kXBytes);
            else
                buf[size_t(i * nb + b)] = 0.0f;
        }
    return buf.data();
}

template <class K>
void tile(const MatmulTile& t) {
    constexpr int C = K::kChunk;
    const int64_t nb = t.k / K::kQK;
    const float* xd = activation_scales<K>(t, nb);
    for (int64_t r = t.r0; r < t.r1; ++r) {
        const uint8_t* w = t.w + r * t.w_stride;
        __m256 acc[kMaxTileM];
        for (int i = 0; i < t.m; ++i) acc[i] = _mm256_setzero_ps();
        for (int64_t b0 = 0; b0 < nb; b0 += C) {
            const int nc = int(std::min<int64_t>(C, nb - b0));
            typename K::Dec dec[C];
            for (int c = 0; c < nc; ++c) K::decode(w + (b0 + c) * K::kWBytes, dec[c]);
            const uint8_t* x = t.x + b0 * K::kXBytes;
            const size_t xs = t.x_stride;
            int i = 0;
            for (; i + 4 <= t.m; i += 4) apply_group<K, 4>(dec, nc, x + i * xs, xs, xd + i * nb + b0, nb, acc + i);
            switch (t.m - i) {
                case 3: apply_group<K, 3>(dec, nc, x + i * xs, xs, xd + i * nb + b0, nb, acc + i); break;
                case 2: apply_group<K, 2>(dec, nc, x + i * xs, xs, xd + i * nb + b0, nb, acc + i); break;
                case 1: apply_group<K, 1>(dec, nc, x + i * xs, xs, xd + i * nb + b0, nb, acc + i); break;
                default: break;
            }
        }
        for (int i = 0; i < t.m; ++i) t.y[i * t.ldy + r] = hsum(acc[i]) + tail_dot<K>(t, w, i);
    }
}

}  // namespace qlm::cpu::avx2
