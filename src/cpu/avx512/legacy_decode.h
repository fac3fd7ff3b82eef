// The 32-element block formats as unsigned byte codes u = q + Off for
// vpdpbusd (x86/legacy_decode.h's decoders), and their scales for 8 rows at
// once from one gathered dword per row (the block's first 4 bytes). Shared
// by the tiles (legacy.cpp), the GEMM (gemm.cpp) and AMX
// (amx/gemm_legacy.cpp). Private to src/cpu/avx512/.
#pragma once

#include "cpu/avx512/simd.h"
#include "cpu/x86/legacy_decode.h"

namespace qlm::cpu::QLM_AVX512_NS {

template <class D>
struct LegacyDec : D {
    static_assert(lg::LegacyDecoder<D>);
    static constexpr size_t kWBytes = sizeof(typename D::Block), kXBytes = sizeof(typename D::XBlock);
    static constexpr size_t kXQs = offsetof(typename D::XBlock, qs);
    // dw (and mw) of 8 rows from their blocks' first dwords: d the low
    // binary16 (m the high one), or the decoder's own (MXFP4)
    static void scales(__m256i g, __m256& dw, __m256& mw) {
        if constexpr (requires { D::d8(g); }) dw = D::d8(g);
        else dw = f16_lo(g);
        if constexpr (D::kMin) mw = f16_hi(g);
        else mw = _mm256_setzero_ps();
    }
};
using DecQ4_0 = LegacyDec<lg::Q4_0>;
using DecQ5_0 = LegacyDec<lg::Q5_0>;
using DecQ8_0 = LegacyDec<lg::Q8_0>;
using DecIq4Nl = LegacyDec<lg::Iq4Nl>;
using DecMxfp4 = LegacyDec<lg::Mxfp4>;
using DecQ4_1 = LegacyDec<lg::Q4_1>;
using DecQ5_1 = LegacyDec<lg::Q5_1>;

}  // namespace qlm::cpu::QLM_AVX512_NS
