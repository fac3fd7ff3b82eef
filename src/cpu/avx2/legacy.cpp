// AVX2 tiles for the 32-element block formats: Q4_0, Q5_0, Q8_0, IQ4_NL,
// MXFP4 (signed weights, Q8_0 activations) and Q4_1, Q5_1 (unsigned weights
// plus a min, Q8_1 activations). Each block's integer sum is the reference's;
// it is scaled once per block.
#include <type_traits>

#include "cpu/avx2/common.h"
#include "cpu/avx2/legacy_decode.h"
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
    static constexpr bool kFusedM1 = true;
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
