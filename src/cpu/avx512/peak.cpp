// The int8 compute peak of vpdpbusd (zmm, operands in registers): what the
// VNNI GEMM could reach at best, for `bench kernels`' % of peak. Native only.
#include <immintrin.h>

#include "cpu/kernels.h"

namespace qlm::cpu {

// iters x 12 independent vpdpbusd zmm (64 int8 multiply-adds each); returns
// the multiply-adds done.
double vnni_peak_probe(int64_t iters) noexcept {
    __m512i acc[12];
    for (int j = 0; j < 12; ++j) acc[j] = _mm512_set1_epi32(j);
    __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
    for (int64_t i = 0; i < iters; ++i) {
        for (int j = 0; j < 12; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], u, s);
        __asm__ volatile("" : "+v"(u), "+v"(s));  // keep the operands opaque
    }
    unsigned sink = 0;  // the sums wrap: unsigned, so that is defined
    for (int j = 0; j < 12; ++j) sink += unsigned(_mm512_reduce_add_epi32(acc[j]));
    __asm__ volatile("" ::"r"(sink));
    return double(iters) * 12 * 64;
}

}  // namespace qlm::cpu
