// AVX2 tiles for the 32-element block formats: Q4_0, Q5_0, Q8_0, IQ4_NL,
// MXFP4 (signed weights, Q8_0 activations) and Q4_1, Q5_1 (unsigned weights
// plus a min, Q8_1 activations). Each block's integer sum is the reference's;
// it is scaled once per block, in the GEMM's float order (rows8.h).
#include <type_traits>

#include "cpu/avx2/common.h"
#include "cpu/avx2/legacy_decode.h"
#include "cpu/avx2/rows8.h"
#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/legacy.h"

namespace qlm::cpu::avx2 {
namespace {

using namespace fmt;

// Signed int8 weights w (|w| kept for the sign trick) times Q8_0 activations.
template <class Block, auto Decode>
struct SignedQ8_0 {
    static constexpr int kQK = 32;
    static constexpr DotKind kKind = DotKind::Plain;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_0);
    struct Dec {
        __m256i w, aw;
        float d, m;
    };
    static void decode(const uint8_t* p, Dec& d) {
        d.w = Decode(p, d.d);
        d.aw = _mm256_sign_epi8(d.w, d.w);
        d.m = 0.0f;
    }
    static float xscale(const uint8_t* x) { return fp16_load(x); }
    static __m256i isum(const Dec& d, const uint8_t* x, __m256i&) {
        return sum_i16_pairs(dot_s8_i16(d.w, d.aw, load256(x + 2)));
    }
};

// Unsigned weights with a min times Q8_1 activations: d dy <q,p> + m s_y.
template <class Block, auto Decode>
struct UnsignedQ8_1 {
    static constexpr int kQK = 32;
    static constexpr DotKind kKind = DotKind::MinLegacy;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_1);
    struct Dec {
        __m256i w;
        float d, m;
    };
    static void decode(const uint8_t* p, Dec& d) { d.w = Decode(p, d.d, d.m); }
    static float xscale(const uint8_t* x) { return fp16_load(x); }
    static float xmin(const uint8_t* x) { return fp16_load(x + 2); }
    static __m256i isum(const Dec& d, const uint8_t* x, __m256i&) { return sum_i16_pairs(dot_u8_i16(d.w, load256(x + 4))); }
};

}  // namespace

void register_legacy(KernelTable& k) {
    k.tile[uint32_t(GgmlType::Q4_0)] = rows8<SignedQ8_0<block_q4_0, decode_q4_0>>;
    k.tile[uint32_t(GgmlType::Q5_0)] = rows8<SignedQ8_0<block_q5_0, decode_q5_0>>;
    k.tile[uint32_t(GgmlType::Q8_0)] = rows8<SignedQ8_0<block_q8_0, decode_q8_0>>;
    k.tile[uint32_t(GgmlType::IQ4_NL)] = rows8<SignedQ8_0<block_iq4_nl, decode_iq4_nl>>;
    k.tile[uint32_t(GgmlType::MXFP4)] = rows8<SignedQ8_0<block_mxfp4, decode_mxfp4>>;
    k.tile[uint32_t(GgmlType::Q4_1)] = rows8<UnsignedQ8_1<block_q4_1, decode_q4_1>>;
    k.tile[uint32_t(GgmlType::Q5_1)] = rows8<UnsignedQ8_1<block_q5_1, decode_q5_1>>;
}

}  // namespace qlm::cpu::avx2
