// AVX2 tiles for the 256-element super-block formats against Q8_K
// activations: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (unsigned codes) and IQ4_XS
// (signed table values). A super-block decodes to 8 x 32 int8 codes and one
// int16 scale per 16 elements; the dot per activation row is
//   sum_q = sum_j sc_j <q, p>_j  (maddubs, then madd with the scales),
// and the terms that depend only on the activation's 16-element sums (bsums):
//   Min:  mins (Q2_K/Q4_K/Q5_K), scaled by dmin:  d*sum_q - dmin*sum_j m_j bsum_j
//   Bias: the code offset (Q3_K: q+4, Q6_K: q+32), taken off in integers.
// These are the reference's integer sums; each super-block is scaled once.
#include "cpu/avx2/kquant_decode.h"

namespace qlm::cpu::avx2 {
namespace {

using namespace fmt;
using namespace kq;

template <class Block, Mode M, void (*Decode)(const uint8_t*, KDec<M>&)>
struct KQuant {
    static constexpr int kQK = QK_K, kChunk = 1;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_K);
    using Dec = KDec<M>;
    static void decode(const uint8_t* p, Dec& d) { Decode(p, d); }
    static float xscale(const uint8_t* x) {
        float dy;
        std::memcpy(&dy, x, 4);
        return dy;
    }
    static __m256 dot(const Dec& d, const uint8_t* x, float dy, __m256 acc) {
        const uint8_t* qs = x + offsetof(block_q8_K, qs);
        __m256i s = _mm256_setzero_si256();
        for (int c = 0; c < 8; ++c) {
            const __m256i a = load256(qs + 32 * c);
            __m256i p;
            if constexpr (M == Mode::Signed)
                p = dot_s8_i16(d.q[c], d.aq[c], a);
            else
                p = dot_u8_i16(d.q[c], a);
            s = _mm256_add_epi32(s, _mm256_madd_epi16(p, d.sc[c]));
        }
        if constexpr (M == Mode::Signed) return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(d.d * dy), acc);
        const __m256i bias = _mm256_madd_epi16(d.coef, load256(x + offsetof(block_q8_K, bsums)));
        if constexpr (M == Mode::Bias) s = _mm256_sub_epi32(s, bias);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(d.d * dy), acc);
        if constexpr (M == Mode::Min) acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(bias), _mm256_set1_ps(d.dmin * dy), acc);
        return acc;
    }
};

}  // namespace

void register_kquants(KernelTable& k) {
    k.tile[uint32_t(GgmlType::Q2_K)] = tile<KQuant<block_q2_K, Mode::Min, decode_q2_k>>;
    k.tile[uint32_t(GgmlType::Q3_K)] = tile<KQuant<block_q3_K, Mode::Bias, decode_q3_k>>;
    k.tile[uint32_t(GgmlType::Q4_K)] = tile<KQuant<block_q4_K, Mode::Min, decode_q4_k>>;
    k.tile[uint32_t(GgmlType::Q5_K)] = tile<KQuant<block_q5_K, Mode::Min, decode_q5_k>>;
    k.tile[uint32_t(GgmlType::Q6_K)] = tile<KQuant<block_q6_K, Mode::Bias, decode_q6_k>>;
    k.tile[uint32_t(GgmlType::IQ4_XS)] = tile<KQuant<block_iq4_xs, Mode::Signed, decode_iq4_xs>>;
}

}  // namespace qlm::cpu::avx2
