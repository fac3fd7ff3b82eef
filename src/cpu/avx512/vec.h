// The vector width as a template parameter: Vec<1> is 256-bit EVEX (8 int32
// / float lanes), Vec<2> is 512-bit (16 lanes), with the same operations, so
// a kernel is written once and instantiated for both. Lane j of a float step
// does the same operations in the same order at either width, so the width
// never changes an output's bits (cpu/kernels.h, "Batch invariance").
// Which width a kernel takes on this CPU: prefer_512() (kernels.cpp).
// Private to src/cpu/avx512/.
#pragma once

#include "cpu/avx512/simd.h"

namespace qlm::cpu::QLM_AVX512_NS {

template <int H>
struct Vec;

template <>
struct Vec<1> {
    static constexpr int kLanes = 8;
    using I = __m256i;
    using F = __m256;
    static I zero() { return _mm256_setzero_si256(); }
    static F zerof() { return _mm256_setzero_ps(); }
    static I load(const void* p) { return _mm256_load_si256(static_cast<const __m256i*>(p)); }
    static void store(void* p, I v) { _mm256_store_si256(static_cast<__m256i*>(p), v); }
    static I set1(int32_t v) { return _mm256_set1_epi32(v); }
    static I bcast4(const uint8_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm256_set1_epi32(v);
    }
    static I dpbusd(I acc, I u, I s) { return _mm256_dpbusd_epi32(acc, u, s); }
    static I dpwssd(I acc, I a, I b) { return _mm256_dpwssd_epi32(acc, a, b); }
    static I add(I a, I b) { return _mm256_add_epi32(a, b); }
    static I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
    static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
    static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
    static F loadf(const float* p) { return _mm256_load_ps(p); }
    static F set1f(float v) { return _mm256_set1_ps(v); }
    static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
    static F load_lanes(const float* y, int n) { return QLM_AVX512_NS::load_lanes(y, n); }
    static void store_lanes(float* y, F v, int n) { QLM_AVX512_NS::store_lanes(y, v, n); }
};

template <>
struct Vec<2> {
    static constexpr int kLanes = 16;
    using I = __m512i;
    using F = __m512;
    static I zero() { return _mm512_setzero_si512(); }
    static F zerof() { return _mm512_setzero_ps(); }
    static I load(const void* p) { return _mm512_load_si512(p); }
    static void store(void* p, I v) { _mm512_store_si512(p, v); }
    static I set1(int32_t v) { return _mm512_set1_epi32(v); }
    static I bcast4(const uint8_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm512_set1_epi32(v);
    }
    static I dpbusd(I acc, I u, I s) { return _mm512_dpbusd_epi32(acc, u, s); }
    static I dpwssd(I acc, I a, I b) { return _mm512_dpwssd_epi32(acc, a, b); }
    static I add(I a, I b) { return _mm512_add_epi32(a, b); }
    static I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
    static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
    static F cvt(I v) {
#if defined(QLM_AVX512_SIMDE)  // SIMDe 0.7.4 has no _mm512_cvtepi32_ps
        const __m256 lo = _mm256_cvtepi32_ps(_mm512_castsi512_si256(v));
        return _mm512_insertf32x8(_mm512_castps256_ps512(lo), _mm256_cvtepi32_ps(_mm512_extracti64x4_epi64(v, 1)), 1);
#else
        return _mm512_cvtepi32_ps(v);
#endif
    }
    static F loadf(const float* p) { return _mm512_load_ps(p); }
    static F set1f(float v) { return _mm512_set1_ps(v); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
    static F load_lanes(const float* y, int n) {
        if (n == 16) return _mm512_loadu_ps(y);
        alignas(64) float tmp[16] = {};
        for (int j = 0; j < n; ++j) tmp[j] = y[j];
        return _mm512_load_ps(tmp);
    }
    static void store_lanes(float* y, F v, int n) {
        if (n == 16) return _mm512_storeu_ps(y, v);
        alignas(64) float tmp[16];
        _mm512_store_ps(tmp, v);
        for (int j = 0; j < n; ++j) y[j] = tmp[j];
    }
};

}  // namespace qlm::cpu::QLM_AVX512_NS
