// The 32-element block formats as unsigned byte codes u = q + Off for
// vpdpbusd, and their scales for 8 rows at once from one gathered dword per
// row (the block's first 4 bytes). Shared by the tiles (legacy.cpp) and the
// GEMM (gemm.cpp). Private to src/cpu/avx512/.
#pragma once

#include "cpu/avx512/simd.h"
#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/legacy.h"

namespace qlm::cpu::QLM_AVX512_NS {

// Table values + 128 (IQ4_NL: formats/iquants.h iq4nl_value; MXFP4: the
// doubled E2M1 values of formats/fp.h).
alignas(16) inline constexpr uint8_t kIq4nlU[16] = {1,   24,  45,  63,  79,  93,  106, 118,
                                                    129, 141, 153, 166, 181, 197, 217, 241};
alignas(16) inline constexpr uint8_t kMxfp4U[16] = {128, 129, 130, 131, 132, 134, 136, 140,
                                                    128, 127, 126, 125, 124, 122, 120, 116};

template <class Block, class XBlock, int Off, bool Min>
struct LegacyBase {
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(XBlock), kXQs = offsetof(XBlock, qs);
    static constexpr int kOff = Off;
    static constexpr bool kMin = Min;
    // dw (and mw) of 8 rows from their blocks' first dwords: d is the low binary16
    static void scales(__m256i g, __m256& dw, __m256& mw) {
        dw = f16_lo(g);
        if constexpr (Min) mw = f16_hi(g);
        else mw = _mm256_setzero_ps();
    }
};

struct DecQ4_0 : LegacyBase<fmt::block_q4_0, fmt::block_q8_0, 8, false> {
    static __m256i codes(const uint8_t* p) { return unpack_nibbles16(p + 2); }
};
// 5-bit codes: nibbles, bit 4 from qh
inline __m256i codes5(const uint8_t* qh, const uint8_t* qs) {
    return _mm256_or_si256(unpack_nibbles16(qs), _mm256_and_si256(bytes_from_bits32(qh), _mm256_set1_epi8(0x10)));
}
struct DecQ5_0 : LegacyBase<fmt::block_q5_0, fmt::block_q8_0, 16, false> {
    static __m256i codes(const uint8_t* p) { return codes5(p + 2, p + 6); }
};
struct DecQ8_0 : LegacyBase<fmt::block_q8_0, fmt::block_q8_0, 128, false> {
    static __m256i codes(const uint8_t* p) { return _mm256_xor_si256(load256(p + 2), _mm256_set1_epi8(int8_t(0x80))); }
};
struct DecIq4Nl : LegacyBase<fmt::block_iq4_nl, fmt::block_q8_0, 128, false> {
    static __m256i codes(const uint8_t* p) { return lookup16(unpack_nibbles16(p + 2), kIq4nlU); }
};
struct DecMxfp4 : LegacyBase<fmt::block_mxfp4, fmt::block_q8_0, 128, false> {
    static __m256i codes(const uint8_t* p) { return lookup16(unpack_nibbles16(p + 1), kMxfp4U); }
    // E8M0 byte e -> 2^(e-127) / 2 (formats/common.h e8m0_to_fp32_half)
    static void scales(__m256i g, __m256& dw, __m256& mw) {
        const __m256i e = _mm256_and_si256(g, _mm256_set1_epi32(0xff));
        const __m256i big = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
        const __m256i small = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
        const __m256i is_small = _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e);
        dw = _mm256_castsi256_ps(_mm256_blendv_epi8(big, small, is_small));
        mw = _mm256_setzero_ps();
    }
};
struct DecQ4_1 : LegacyBase<fmt::block_q4_1, fmt::block_q8_1, 0, true> {
    static __m256i codes(const uint8_t* p) { return unpack_nibbles16(p + 4); }
};
struct DecQ5_1 : LegacyBase<fmt::block_q5_1, fmt::block_q8_1, 0, true> {
    static __m256i codes(const uint8_t* p) { return codes5(p + 4, p + 8); }
};

}  // namespace qlm::cpu::QLM_AVX512_NS
