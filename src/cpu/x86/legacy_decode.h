// The decoders of the 32-element block formats (Q4_0, Q5_0, Q8_0, IQ4_NL,
// MXFP4, Q4_1, Q5_1), written once for the x86 kernels: the AVX2 tiles and
// GEMM (avx2/legacy_decode.h) and the AVX-512 / AMX ones
// (avx512/legacy_decode.h). Private to src/cpu/avx2, avx512 and amx.
//
// The decoder concept (LegacyDecoder below). A decoder D gives
//   Block, XBlock    the packed block and its activation partner (Q8_0, Q8_1)
//   kOff, kMin       codes(p) = q + kOff, unsigned (vpdpbusd, maddubs); kMin:
//                    the block has a min m (Q8_1 activations), kOff = 0
//   codes(p)         the block's 32 codes u = q + kOff, element order
//   values(p)        kOff != 0: the signed q, in its cheapest form (the sign
//                    trick of AVX2: maddubs(|q|, sign(x, q)))
//   the scale        fp16 d at byte 0 (kMin: fp16 m at byte 2), unless D has
//                    d(p) (one block) and d8(g) (8 blocks from their first
//                    dwords): MXFP4's E8M0 byte
// AVX2 multiplies values (or codes with a min), AVX-512 codes with vpdpbusd
// and takes kOff * sum(x) off; each reads the scales its own way.
//
// Include it like x86/iq_decode.h: from the ISA's own header, after its
// intrinsics, with QLM_X86_NS naming the ISA's namespace.
#pragma once

#ifndef QLM_X86_NS
#error "include cpu/x86/legacy_decode.h through an ISA header that defines QLM_X86_NS"
#endif

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/legacy.h"

namespace qlm::cpu::QLM_X86_NS {
namespace lg {

template <class D>
concept LegacyDecoder = requires(const uint8_t* p, __m256i& v) {
    typename D::Block;
    typename D::XBlock;
    requires std::same_as<decltype(D::kOff), const int>;
    requires std::same_as<decltype(D::kMin), const bool>;
    requires(!D::kMin || D::kOff == 0);
    v = D::codes(p);
    requires(D::kOff == 0) || requires { v = D::values(p); };
};

// IQ4_NL / IQ4_XS code values (formats/iquants.h iq4nl_value) and MXFP4's
// doubled E2M1 values (formats/fp.h), and both + 128 (unsigned codes).
alignas(16) inline constexpr int8_t kIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                  1,    13,   25,  38,  53,  69,  89,  113};
alignas(16) inline constexpr int8_t kMxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
struct Plus128 {
    alignas(16) uint8_t v[16];
    constexpr explicit Plus128(const int8_t* t) : v{} {
        for (int i = 0; i < 16; ++i) v[i] = uint8_t(t[i] + 128);
    }
};
inline constexpr Plus128 kIq4nlU{kIq4nl}, kMxfp4U{kMxfp4};

// 16-entry byte table lookup of nibbles (both 128-bit lanes).
inline __m256i table16(__m256i nibbles, const void* table) {
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(load128(static_cast<const uint8_t*>(table))), nibbles);
}

// 5-bit codes: nibbles at qs, bit 4 from the 32 bits at qh.
inline __m256i codes5(const uint8_t* qh, const uint8_t* qs) {
    return _mm256_or_si256(unpack_nibbles16(qs), _mm256_and_si256(bytes_from_bits32(qh), _mm256_set1_epi8(0x10)));
}

template <class B, class XB, int Off, bool Min = false>
struct Base {
    using Block = B;
    using XBlock = XB;
    static constexpr int kOff = Off;
    static constexpr bool kMin = Min;
};

struct Q4_0 : Base<fmt::block_q4_0, fmt::block_q8_0, 8> {
    static __m256i codes(const uint8_t* p) { return unpack_nibbles16(p + 2); }
    static __m256i values(const uint8_t* p) { return _mm256_sub_epi8(codes(p), _mm256_set1_epi8(8)); }
};
struct Q5_0 : Base<fmt::block_q5_0, fmt::block_q8_0, 16> {
    static __m256i codes(const uint8_t* p) { return codes5(p + 2, p + 6); }
    // nibble | 0xf0 where the high bit is clear: q - 16
    static __m256i values(const uint8_t* p) {
        const __m256i hi = _mm256_andnot_si256(bytes_from_bits32(p + 2), _mm256_set1_epi8(int8_t(0xf0)));
        return _mm256_or_si256(unpack_nibbles16(p + 6), hi);
    }
};
struct Q8_0 : Base<fmt::block_q8_0, fmt::block_q8_0, 128> {
    static __m256i codes(const uint8_t* p) { return _mm256_xor_si256(load256(p + 2), _mm256_set1_epi8(int8_t(0x80))); }
    static __m256i values(const uint8_t* p) { return load256(p + 2); }
};
struct Iq4Nl : Base<fmt::block_iq4_nl, fmt::block_q8_0, 128> {
    static __m256i codes(const uint8_t* p) { return table16(unpack_nibbles16(p + 2), kIq4nlU.v); }
    static __m256i values(const uint8_t* p) { return table16(unpack_nibbles16(p + 2), kIq4nl); }
};
struct Mxfp4 : Base<fmt::block_mxfp4, fmt::block_q8_0, 128> {
    static __m256i codes(const uint8_t* p) { return table16(unpack_nibbles16(p + 1), kMxfp4U.v); }
    static __m256i values(const uint8_t* p) { return table16(unpack_nibbles16(p + 1), kMxfp4); }
    // E8M0 byte e -> 2^(e-127) / 2 (formats/common.h e8m0_to_fp32_half): one
    // block, and 8 blocks from their first dwords
    static float d(const uint8_t* p) {
        const uint32_t e = p[0], bits = e < 2 ? (0x00200000u << e) : (e - 1) << 23;
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
    }
    static __m256 d8(__m256i g) {
        const __m256i e = _mm256_and_si256(g, _mm256_set1_epi32(0xff));
        const __m256i big = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
        const __m256i small = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
        const __m256i is_small = _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e);
        return _mm256_castsi256_ps(_mm256_blendv_epi8(big, small, is_small));
    }
};
struct Q4_1 : Base<fmt::block_q4_1, fmt::block_q8_1, 0, true> {
    static __m256i codes(const uint8_t* p) { return unpack_nibbles16(p + 4); }
};
struct Q5_1 : Base<fmt::block_q5_1, fmt::block_q8_1, 0, true> {
    static __m256i codes(const uint8_t* p) { return codes5(p + 4, p + 8); }
};

static_assert(LegacyDecoder<Q4_0> && LegacyDecoder<Q5_0> && LegacyDecoder<Q8_0> && LegacyDecoder<Iq4Nl> &&
              LegacyDecoder<Mxfp4> && LegacyDecoder<Q4_1> && LegacyDecoder<Q5_1>);

}  // namespace lg
}  // namespace qlm::cpu::QLM_X86_NS
