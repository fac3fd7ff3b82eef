// Byte-level helpers written once for the x86 kernels (AVX2 and the AVX-512
// ones, native or SIMDe): unaligned loads and the bit -> byte mask expansion
// of the 5th / high bits of Q5_0, Q5_1 and friends.
//
// Include it like x86/iq_decode.h: from the ISA's own header, after its
// intrinsics, with QLM_X86_NS naming the ISA's namespace.
#pragma once

#ifndef QLM_X86_NS
#error "include cpu/x86/bytes.h through an ISA header that defines QLM_X86_NS"
#endif

#include <cstdint>
#include <cstring>

namespace qlm::cpu::QLM_X86_NS {

inline __m256i load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load128(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }

// 32 bits -> 32 bytes, 0xff where the bit is set (bit j -> byte j).
inline __m256i bytes_from_bits32(const uint8_t* p) {
    uint32_t x;
    std::memcpy(&x, p, 4);
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32(int(x)), shuf);
    b = _mm256_or_si256(b, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(b, _mm256_set1_epi64x(-1));
}

}  // namespace qlm::cpu::QLM_X86_NS
