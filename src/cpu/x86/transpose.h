// The 8 x 8 transpose of 32-bit lanes, written once for the x86 kernels: the
// AVX2 GEMM panels (avx2/gemm.cpp), the AVX-512 rows and panels
// (avx512/rows.h, gemm.cpp) and the AMX packing (amx/gemm.h). Pure data
// movement: int32 sums or float bits come out as they went in. And its
// float reduction, the 8 horizontal sums of attention's scores.
//
// Include it like x86/iq_decode.h: from the ISA's own header, after its
// intrinsics, with QLM_X86_NS naming the ISA's namespace.
#pragma once

#ifndef QLM_X86_NS
#error "include cpu/x86/transpose.h through an ISA header that defines QLM_X86_NS"
#endif

namespace qlm::cpu::QLM_X86_NS {

// in[j] lane c -> out[c] lane j.
inline void transpose8(const __m256i in[8], __m256i out[8]) {
    __m256i t[8], u[8];
    for (int p = 0; p < 4; ++p) {
        t[2 * p] = _mm256_unpacklo_epi32(in[2 * p], in[2 * p + 1]);
        t[2 * p + 1] = _mm256_unpackhi_epi32(in[2 * p], in[2 * p + 1]);
    }
    for (int h = 0; h < 2; ++h) {
        const __m256i* s = t + 4 * h;
        u[4 * h + 0] = _mm256_unpacklo_epi64(s[0], s[2]);
        u[4 * h + 1] = _mm256_unpackhi_epi64(s[0], s[2]);
        u[4 * h + 2] = _mm256_unpacklo_epi64(s[1], s[3]);
        u[4 * h + 3] = _mm256_unpackhi_epi64(s[1], s[3]);
    }
    for (int c = 0; c < 4; ++c) {
        out[c] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x20);
        out[c + 4] = _mm256_permute2x128_si256(u[c], u[4 + c], 0x31);
    }
}

// Lane j = the sum of a[j]'s 8 lanes, in one order for every j (the
// attention kernels' contract: a score does not depend on its neighbours).
inline __m256 hsum8_ps(const __m256 a[8]) {
    const __m256 h0 = _mm256_hadd_ps(a[0], a[1]), h1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 h2 = _mm256_hadd_ps(a[4], a[5]), h3 = _mm256_hadd_ps(a[6], a[7]);
    const __m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3);
    return _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
}

}  // namespace qlm::cpu::QLM_X86_NS
