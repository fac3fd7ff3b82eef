// Shared pieces of the AVX2 kernels: small vector helpers and the ISA side
// of the tile driver (cpu/common/tile.h). Private to src/cpu/avx2/.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/avx2/avx2.h"

// The namespace of the shared headers (cpu/x86/, cpu/common/) in this
// folder's translation units: their code is compiled with the AVX2 flags.
#define QLM_X86_NS avx2
#define QLM_CPU_NS avx2

#include "cpu/common/tile.h"
#include "cpu/x86/bytes.h"

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


// 16 packed bytes -> 32 nibbles: low nibbles are elements 0..15, high 16..31.
inline __m256i unpack_nibbles16(const uint8_t* p) {
    const __m128i q = load128(p);
    const __m128i lo = _mm_and_si128(q, _mm_set1_epi8(0x0f));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0f));
    return _mm256_setr_m128i(lo, hi);
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

// The AVX2 side of the tile driver (cpu/common/tile.h): 8 float lanes.
struct Lanes {
    using Acc = __m256;
    static __m256 zero() { return _mm256_setzero_ps(); }
    static float hsum(__m256 v) { return avx2::hsum(v); }
};
static_assert(drivers::TileLanes<Lanes>);

// The tile of decoder K (a drivers::TileDecoder).
template <class K>
inline constexpr MatmulTileFn tile = drivers::tile<Lanes, K>;

}  // namespace qlm::cpu::avx2
