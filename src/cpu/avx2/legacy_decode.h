// Decoding of one 32-element block of the legacy formats into 32 int8 lanes
// (element order) and its float scale(s). Shared by the per-row tiles
// (legacy.cpp) and the panel GEMM (gemm.cpp). Private to src/cpu/avx2/.
#pragma once

#include "cpu/avx2/common.h"
#include "formats/common.h"

namespace qlm::cpu::avx2 {

// Unsigned codes: Q4_0 stores q + 8 (0..15), Q5_0 q + 16 (0..31).
inline __m256i codes_q4_0(const uint8_t* p, float& d) {
    d = fp16_load(p);
    return unpack_nibbles16(p + 2);
}

// 5-bit codes: nibbles at qs, bit 4 from the 32 bits at qh.
inline __m256i codes5(const uint8_t* qh, const uint8_t* qs) {
    return _mm256_or_si256(unpack_nibbles16(qs), _mm256_and_si256(bytes_from_bits32(qh), _mm256_set1_epi8(0x10)));
}

inline __m256i codes_q5_0(const uint8_t* p, float& d) {
    d = fp16_load(p);
    return codes5(p + 2, p + 6);
}

// Signed values.
inline __m256i decode_q4_0(const uint8_t* p, float& d) {
    return _mm256_sub_epi8(codes_q4_0(p, d), _mm256_set1_epi8(8));
}

// nibble | 0xf0 where the high bit is clear: the signed value q - 16.
inline __m256i decode_q5_0(const uint8_t* p, float& d) {
    d = fp16_load(p);
    const __m256i hi = _mm256_andnot_si256(bytes_from_bits32(p + 2), _mm256_set1_epi8(int8_t(0xf0)));
    return _mm256_or_si256(unpack_nibbles16(p + 6), hi);
}

inline __m256i decode_q8_0(const uint8_t* p, float& d) {
    d = fp16_load(p);
    return load256(p + 2);
}

inline constexpr int8_t kMxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

inline __m256i decode_iq4_nl(const uint8_t* p, float& d) {
    d = fp16_load(p);
    return lookup16(unpack_nibbles16(p + 2), kIq4nl);
}

inline __m256i decode_mxfp4(const uint8_t* p, float& d) {
    d = fmt::e8m0_to_fp32_half(p[0]);
    return lookup16(unpack_nibbles16(p + 1), kMxfp4);
}

// Unsigned codes with a min (Q8_1 activations).
inline __m256i decode_q4_1(const uint8_t* p, float& d, float& m) {
    d = fp16_load(p), m = fp16_load(p + 2);
    return unpack_nibbles16(p + 4);
}

inline __m256i decode_q5_1(const uint8_t* p, float& d, float& m) {
    d = fp16_load(p), m = fp16_load(p + 2);
    return codes5(p + 4, p + 8);
}

}  // namespace qlm::cpu::avx2
