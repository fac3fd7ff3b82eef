// The low-bit lattice formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S) and TQ1_0 / TQ2_0 as decoders of the AVX-512 tiles
// (iquants.cpp) and the GEMM (gemm.cpp). The decoders themselves are
// x86/iq_decode.h's; here they get the AVX-512 fetch (grid points and sign
// vectors by vpgather at indices built in vectors, faster than scalar lookups
// here: bench/results/kernel-thresholds.md) and the block scale of 8 rows at
// once from gathered dwords (rows.h block_scales): d * factor from the dword
// at kDOff (scales) or, for IQ1_M, two dwords (kDOff2, scales2).
// Private to src/cpu/avx512/.
#pragma once

#include "cpu/avx512/kquant_decode.h"
#include "cpu/avx512/rows.h"
#include "cpu/x86/iq_decode.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace iq {

// Chunk c's vpermw indices, 2c x 8 | 2c + 1 x 8, loaded from memory (GCC
// builds set1 / insert forms in registers per block).
struct ScalePick {
    alignas(32) int16_t v[8][16];
    constexpr ScalePick() : v{} {
        for (int c = 0; c < 8; ++c)
            for (int l = 0; l < 16; ++l) v[c][l] = int16_t(2 * c + l / 8);
    }
};
inline constexpr ScalePick kScalePick{};

// GatherFetch with IQ1_M's 3-bit scales in vectors (vpermw, vpsrlvw).
struct Fetch : GatherFetch {
    static void scales_3bit(const uint8_t* p, __m256i* sc) {
        const __m256i words = _mm256_permutexvar_epi16(_mm256_setr_epi16(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                                       _mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
        const __m256i s3 = _mm256_and_si256(
            _mm256_srlv_epi16(words, _mm256_setr_epi16(0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9)), _mm256_set1_epi16(7));
        const __m256i s = _mm256_add_epi16(_mm256_add_epi16(s3, s3), _mm256_set1_epi16(1));
        for (int c = 0; c < 8; ++c)
            sc[c] = _mm256_permutexvar_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(kScalePick.v[c])), s);
    }
};

// The block scale of 8 rows from the gathered dword holding the fp16 d
// (kquant_decode.h), or ...
template <class D>
struct BlockScale : kq::GatheredScale<D> {};
// ... where d is spread over the scale words (IQ1_M), the dwords at kDOff
// and kDOff2.
template <class D>
    requires requires(__m256i v) { D::d16x8(v, v); }
struct BlockScale<D> {
    static constexpr size_t kDOff = offsetof(typename D::Block, scales), kDOff2 = kDOff + 4;
    static void scales2(__m256i g1, __m256i g2, __m256& dw, __m256& mw) {
        dw = _mm256_mul_ps(f16_lo(D::d16x8(g1, g2)), _mm256_set1_ps(D::kDFactor));
        mw = _mm256_setzero_ps();
    }
};

// A shared decoder bound to the AVX-512 fetch and block scales.
template <class D>
struct Decoder : D, BlockScale<D> {
    static_assert(IqDecoder<D, Fetch>);
    static void decode(const uint8_t* p, IqDec& d) { D::template decode<Fetch>(p, d); }
};

// As a K-quant decoder for the GEMM panels (gemm.cpp KQuantPanel): codes
// q + 64 (unsigned, <= 126, for vpdpbusd), the 64 taken off as 64 sc_h bsum_h.
template <class D>
struct AsKQuant : Decoder<D> {
    static constexpr kq::Mode kMode = kq::Mode::Bias;
    static constexpr bool kWide = false;
    static constexpr size_t kWBytes = sizeof(typename D::Block), kXBytes = sizeof(block_q8_K);
    static void decode(const uint8_t* p, kq::KDec& k) {
        IqDec d;
        Decoder<D>::decode(p, d);
        to_biased(d, k);
    }
};

}  // namespace iq
}  // namespace qlm::cpu::QLM_AVX512_NS
