// AVX2 tiles for the 32-element block formats: Q4_0, Q5_0, Q8_0, IQ4_NL,
// MXFP4 (signed weights, Q8_0 activations) and Q4_1, Q5_1 (unsigned weights
// plus a min, Q8_1 activations). Each block's integer sum is the reference's;
// it is scaled once per block.
#include <type_traits>

#include "cpu/avx2/common.h"
#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/legacy.h"

namespace qlm::cpu::avx2 {
namespace {

using namespace fmt;

// Signed int8 weights w (|w| kept for the sign trick) times Q8_0 activations.
struct SignedDec {
    __m256i w, aw;
    float d;
};

template <class Block, auto Decode>
struct SignedQ8_0 {
    static constexpr int kQK = 32, kChunk = 8;
    static constexpr bool kFusedM1 = !std::is_same_v<Block, block_q8_0>;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_0);
    using Dec = SignedDec;
    static void decode(const uint8_t* p, Dec& d) {
        d.w = Decode(p, d.d);
        d.aw = _mm256_sign_epi8(d.w, d.w);
    }
    static float xscale(const uint8_t* x) { return fp16_load(x); }
    static __m256 dot(const Dec& d, const uint8_t* x, float xd, __m256 acc) {
        const __m256i s = sum_i16_pairs(dot_s8_i16(d.w, d.aw, load256(x + 2)));
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(d.d * xd), acc);
    }
};

// Unsigned weights with a min times Q8_1 activations: d dy <q,p> + m s_y.
struct UnsignedDec {
    __m256i w;
    float d, m;
};

template <class Block, auto Decode>
struct UnsignedQ8_1 {
    static constexpr int kQK = 32, kChunk = 8;
    static constexpr bool kFusedM1 = true;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_1);
    using Dec = UnsignedDec;
    static void decode(const uint8_t* p, Dec& d) { d.w = Decode(p, d.d, d.m); }
    static float xscale(const uint8_t* x) { return fp16_load(x); }
    static __m256 dot(const Dec& d, const uint8_t* x, float xd, __m256 acc) {
        const __m256i s = sum_i16_pairs(dot_u8_i16(d.w, load256(x + 4)));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(d.d * xd), acc);
        return _mm256_add_ps(acc, _mm256_zextps128_ps256(_mm_set_ss(d.m * fp16_load(x + 2))));
    }
};

__m256i decode_q4_0(const uint8_t* p, float& d) {
    d = fp16_load(p);
    return _mm256_sub_epi8(unpack_nibbles16(p + 2), _mm256_set1_epi8(8));
}

// nibble | 0xf0 where the high bit is clear: the signed value q - 16.
__m256i decode_q5_0(const uint8_t* p, float& d) {
    d = fp16_load(p);
    const __m256i hi = _mm256_andnot_si256(bytes_from_bits32(p + 2), _mm256_set1_epi8(int8_t(0xf0)));
    return _mm256_or_si256(unpack_nibbles16(p + 6), hi);
}

__m256i decode_q8_0(const uint8_t* p, float& d) {
    d = fp16_load(p);
    return load256(p + 2);
}

constexpr int8_t kMxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

__m256i decode_iq4_nl(const uint8_t* p, float& d) {
    d = fp16_load(p);
    return lookup16(unpack_nibbles16(p + 2), kIq4nl);
}

__m256i decode_mxfp4(const uint8_t* p, float& d) {
    d = e8m0_to_fp32_half(p[0]);
    return lookup16(unpack_nibbles16(p + 1), kMxfp4);
}

__m256i decode_q4_1(const uint8_t* p, float& d, float& m) {
    d = fp16_load(p), m = fp16_load(p + 2);
    return unpack_nibbles16(p + 4);
}

__m256i decode_q5_1(const uint8_t* p, float& d, float& m) {
    d = fp16_load(p), m = fp16_load(p + 2);
    const __m256i hi = _mm256_and_si256(bytes_from_bits32(p + 4), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(unpack_nibbles16(p + 8), hi);
}

}  // namespace

void register_legacy(KernelTable& k) {
    k.tile[uint32_t(GgmlType::Q4_0)] = tile<SignedQ8_0<block_q4_0, decode_q4_0>>;
    k.tile[uint32_t(GgmlType::Q5_0)] = tile<SignedQ8_0<block_q5_0, decode_q5_0>>;
    k.tile[uint32_t(GgmlType::Q8_0)] = tile<SignedQ8_0<block_q8_0, decode_q8_0>>;
    k.tile[uint32_t(GgmlType::IQ4_NL)] = tile<SignedQ8_0<block_iq4_nl, decode_iq4_nl>>;
    k.tile[uint32_t(GgmlType::MXFP4)] = tile<SignedQ8_0<block_mxfp4, decode_mxfp4>>;
    k.tile[uint32_t(GgmlType::Q4_1)] = tile<UnsignedQ8_1<block_q4_1, decode_q4_1>>;
    k.tile[uint32_t(GgmlType::Q5_1)] = tile<UnsignedQ8_1<block_q5_1, decode_q5_1>>;
}

}  // namespace qlm::cpu::avx2
