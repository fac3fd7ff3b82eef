// The one include of the AVX-512 kernels: native intrinsics, or the same
// names from SIMDe (QLM_AVX512_SIMDE, test builds on any x86), each in its own
// namespace so both builds link into one binary. Small vector helpers.
// Private to src/cpu/avx512/.
//
// Everything here is 256-bit EVEX code (AVX-512VL, 32 vector registers) with
// VNNI (vpdpbusd / vpdpwssd): on Zen 4 a 512-bit operation is two 256-bit
// halves, and 256 bits keep one weight block per register.
//
// Only intrinsics, plain integer code and our own inline functions: a
// library inline function (formats/, std::) instantiated here could be the
// copy the linker keeps for the whole program, and this file's flags would
// then leak AVX-512 into code that runs on any CPU (scratch.cpp holds the
// container code, built with the baseline flags).
#pragma once

#if defined(QLM_AVX512_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#else
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/avx512/ns.h"
#include "cpu/kernels.h"
#include "cpu/x86/bytes.h"

namespace qlm::cpu::QLM_AVX512_NS {

void register_legacy(KernelTable& k, bool wide);
void register_kquants(KernelTable& k);
void register_iquants(KernelTable& k);  // iquants.cpp: low-bit IQ, TQ
// wide: 512-bit vectors where they measured faster (vec.h, kernels.cpp)
void register_gemm(KernelTable& k, bool wide);
void register_attention(KernelTable& k);  // attention.cpp: 512-bit (wide tables only)

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

inline float f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}
inline float f32(const uint8_t* p) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
}

// Eight binary16 values in the low (or high) halves of the 32-bit lanes -> floats.
inline __m256 f16_lo(__m256i v) {
    const __m256i p = _mm256_packus_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)), _mm256_setzero_si256());
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08)));
}
inline __m256 f16_hi(__m256i v) { return f16_lo(_mm256_srli_epi32(v, 16)); }

// Lane j: the 32 bits at p + min(j, n - 1) * step (block scales of 8 blocks
// of a row, or of 8 rows; a short group reads only its own). Plain loads: a
// vpgatherdd, with its offsets built in memory, was slower here (Intel Xeon:
// the AMX K-quant packing 15-32 % faster at m = 32 without it).
inline __m256i load_strided32(const uint8_t* p, size_t step, int n) {
    int32_t v[8];
    for (int j = 0; j < 8; ++j) std::memcpy(&v[j], p + size_t(j < n ? j : n - 1) * step, 4);
    return _mm256_setr_epi32(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

// Lane j = the sum of the 8 lanes of v[j] (exact int32 sums, any order).
inline __m256i reduce8(const __m256i v[8]) {
    const __m256i t0 = _mm256_hadd_epi32(v[0], v[1]), t1 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i t2 = _mm256_hadd_epi32(v[4], v[5]), t3 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i u0 = _mm256_hadd_epi32(t0, t1), u1 = _mm256_hadd_epi32(t2, t3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

// Sum of 32 signed bytes (vpdpbusd with ones).
inline int32_t sum_i8(__m256i q) {
    return hsum_i32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q));
}

// 16 packed bytes -> 32 nibbles: low nibbles are elements 0..15, high 16..31.
inline __m256i unpack_nibbles16(const uint8_t* p) {
    const __m128i q = load128(p);
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

// Loads lanes [0, n) from y (the rest zero).
inline __m256 load_lanes(const float* y, int n) {
    if (n == 8) return _mm256_loadu_ps(y);
    alignas(32) float tmp[8] = {};
    for (int j = 0; j < n; ++j) tmp[j] = y[j];
    return _mm256_load_ps(tmp);
}

// Stores lanes [0, n) of v at y (n < 8 only at the end of a row range).
inline void store_lanes(float* y, __m256 v, int n) {
    if (n == 8) return _mm256_storeu_ps(y, v);
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    for (int j = 0; j < n; ++j) y[j] = tmp[j];
}

}  // namespace qlm::cpu::QLM_AVX512_NS
