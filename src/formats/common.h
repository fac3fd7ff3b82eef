// Shared by every block-format header: the host/device qualifier, bit casts and
// the half-precision conversions. Plain C++20 and nvcc-clean; no I/O, no throws.
#pragma once

#include <cstdint>
#include <cstring>
#if !defined(__CUDACC__)
#include <bit>
#endif

#if defined(__CUDACC__)
#define QLM_HD __host__ __device__
#else
#define QLM_HD
#endif

namespace qlm::fmt {

inline constexpr int QK_K = 256;  // elements per K-quant / IQ4_XS super-block

QLM_HD inline uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
#endif
}

QLM_HD inline float f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, 4);
    return f;
#endif
}

// IEEE binary16 -> binary32, exact (subnormals, inf and NaN included).
QLM_HD inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (man << 13));
    if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
    // zero or subnormal: man * 2^-24, exact in binary32
    const float mag = float(man) * 5.9604644775390625e-08f;
    return sign ? -mag : mag;
}

// binary32 -> binary16, round to nearest even, overflow to inf, NaN stays NaN
// (same result as NumPy's astype(float16) and the hardware F16C conversion).
QLM_HD inline uint16_t fp32_to_fp16(float f) {
    const uint32_t u = f32_bits(f);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN, kept quiet
    if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: inf
    if (a < 0x38800000u) {
        // result is subnormal or zero: value / 2^-24, rounded to nearest even
        if (a < 0x33000000u) return sign;  // < 2^-25: rounds to zero
        const uint32_t e = a >> 23;
        const uint32_t m = (a & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126u - e;  // 14..24 (result = m >> shift)
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u);
        const uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) ++r;
        return uint16_t(sign | r);
    }
    // normal: rebias exponent, round mantissa from 23 to 10 bits
    uint32_t r = a - 0x38000000u;  // exponent - 112
    const uint32_t rem = r & 0x1fffu;
    r >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
    return uint16_t(sign | r);
}

QLM_HD inline float bf16_to_fp32(uint16_t h) { return f32_from_bits(uint32_t(h) << 16); }

// binary32 -> bfloat16, round to nearest even; NaN forced quiet (as ggml does).
QLM_HD inline uint16_t fp32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 64u);
    return uint16_t((uint64_t(u) + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// E8M0 scale byte (as MXFP4 stores it) -> 2^(e-127) / 2. The halving is there
// because the MXFP4 value table is stored doubled, so it stays integral.
QLM_HD inline float e8m0_to_fp32_half(uint8_t e) {
    const uint32_t bits = e < 2 ? (0x00200000u << e) : (uint32_t(e - 1) << 23);
    return f32_from_bits(bits);
}

// Little-endian loads from packed bytes (blocks are byte-packed, never aligned).
QLM_HD inline uint16_t load_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
QLM_HD inline uint32_t load_u32(const uint8_t* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

// Integer dot of one 32-element nibble block (element j in the low nibble of
// qs[j], element j+16 in the high nibble) whose nibbles index a 16-entry value
// table (IQ4_NL, IQ4_XS sub-blocks, MXFP4), against 32 int8 activations.
template <typename Lookup>
QLM_HD inline int32_t nibble_table_dot32(const uint8_t* qs, const int8_t* y, Lookup value) {
    int32_t acc = 0;
    for (int j = 0; j < 16; ++j) acc += value(qs[j] & 0x0f) * y[j] + value(qs[j] >> 4) * y[j + 16];
    return acc;
}

}  // namespace qlm::fmt
