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
#include "cpu/avx2/rows8.h"

namespace qlm::cpu::avx2 {
namespace {

using namespace fmt;
using namespace kq;

template <class Block, Mode M, void (*Decode)(const uint8_t*, KDec<M>&)>
struct KQuant {
    static constexpr int kQK = QK_K;
    static constexpr DotKind kKind = M == Mode::Min ? DotKind::MinK : DotKind::Plain;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_K);
    struct Dec {
        KDec<M> k;
        float d, m;
    };
    static void decode(const uint8_t* p, Dec& d) {
        Decode(p, d.k);
        d.d = d.k.d, d.m = d.k.dmin;
    }
    static float xscale(const uint8_t* x) {
        float dy;
        std::memcpy(&dy, x, 4);
        return dy;
    }
    // S = sum_j sc_j <q, x>_j (Bias: less the offset's bsum terms); T = the min's bsum terms
    static __m256i isum(const Dec& dd, const uint8_t* x, __m256i& t) {
        const KDec<M>& d = dd.k;
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
        if constexpr (M == Mode::Signed) return s;
        const __m256i bias = _mm256_madd_epi16(d.coef, load256(x + offsetof(block_q8_K, bsums)));
        if constexpr (M == Mode::Bias) return _mm256_sub_epi32(s, bias);
        t = bias;
        return s;
    }
};

// m = 1 for Q4_K / Q5_K: one pass over each super-block with nothing stored
// in between (the tile above decodes into a KDec first), the scales and mins
// unpacked eight at a time (kq::scale_min_bytes_k4).
// S = sum_j sc_j <q, x>_j,  T = sum_j m_j bsum_j (8 partial lanes each), d and dmin.
template <bool Q5>
inline void q4k_superblock(const uint8_t* w, const uint8_t* x, __m256i& S, __m256i& T, float& d, float& dmin) {
    uint64_t sc, mn;
    scale_min_bytes_k4(w + offsetof(block_q4_K, scales), sc, mn);
    const __m128i m8 = _mm_cvtsi64_si128(int64_t(mn));
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m_j for bsums 2j, 2j+1
    T = _mm256_madd_epi16(mins, load256(x + offsetof(block_q8_K, bsums)));
    d = fp16_load(w), dmin = fp16_load(w + 2);
    const __m256i s16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(int64_t(sc))));
    const uint8_t* qs = w + (Q5 ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs));
    const uint8_t* xq = x + offsetof(block_q8_K, qs);
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256i qh = Q5 ? load256(w + offsetof(block_q5_K, qh)) : _mm256_setzero_si256();
    __m256i sumi = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
        const __m256i q = load256(qs + 32 * p);
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        if constexpr (Q5) {
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(1)), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(2)), 3));
            qh = _mm256_srli_epi16(qh, 2);
        }
        const __m256i sc0 = _mm256_shuffle_epi8(s16, _mm256_set1_epi16(short(0x0100 + 0x0202 * (2 * p))));
        const __m256i sc1 = _mm256_shuffle_epi8(s16, _mm256_set1_epi16(short(0x0100 + 0x0202 * (2 * p + 1))));
        const __m256i p0 = _mm256_maddubs_epi16(lo, load256(xq + 64 * p));
        const __m256i p1 = _mm256_maddubs_epi16(hi, load256(xq + 64 * p + 32));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_madd_epi16(p0, sc0), _mm256_madd_epi16(p1, sc1)));
    }
    S = sumi;
}

// Decoders with a fused m = 1 pass (rows8.h): K plus SB, which decodes and
// multiplies a super-block in one go.
template <class K, void (*SB)(const uint8_t*, const uint8_t*, __m256i&, __m256i&, float&, float&)>
struct Fused : K {
    static void fused(const uint8_t* w, const uint8_t* x, __m256i& S, __m256i& T, float& d, float& m) { SB(w, x, S, T, d, m); }
};

// m = 1 for Q6_K, fused like Q4_K: codes q + 32 (0..63) from ql/qh as in
// kq::Q6K, int8 scales per 16 elements; the 32 comes off as
// 32 sum_j s_j bsum_j. (No min: accm stays as it is.)
inline void q6k_superblock(const uint8_t* w, const uint8_t* x, __m256i& S, __m256i&, float& d, float& m) {
    const auto& b = *reinterpret_cast<const block_q6_K*>(w);
    const __m128i sc8 = load128(reinterpret_cast<const uint8_t*>(b.scales));
    const __m256i bias = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), load256(x + offsetof(block_q8_K, bsums)));
    const uint8_t* xq = x + offsetof(block_q8_K, qs);
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
        const __m256i p = _mm256_maddubs_epi16(q6_codes(b.ql, b.qh, c), load256(xq + 32 * c));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scale_pair_i8(sc8, c)));
    }
    S = _mm256_sub_epi32(sumi, _mm256_slli_epi32(bias, 5));
    d = fp16_load(w + offsetof(block_q6_K, d)), m = 0.0f;
}

}  // namespace

void register_kquants(KernelTable& k) {
    k.tile[uint32_t(GgmlType::Q2_K)] = rows8<KQuant<block_q2_K, Mode::Min, decode_q2_k>>;
    k.tile[uint32_t(GgmlType::Q3_K)] = rows8<KQuant<block_q3_K, Mode::Bias, decode_q3_k>>;
    k.tile[uint32_t(GgmlType::Q4_K)] = rows8<Fused<KQuant<block_q4_K, Mode::Min, decode_q4_k>, q4k_superblock<false>>>;
    k.tile[uint32_t(GgmlType::Q5_K)] = rows8<Fused<KQuant<block_q5_K, Mode::Min, decode_q5_k>, q4k_superblock<true>>>;
    k.tile[uint32_t(GgmlType::Q6_K)] = rows8<Fused<KQuant<block_q6_K, Mode::Bias, decode_q6_k>, q6k_superblock>>;
    k.tile[uint32_t(GgmlType::IQ4_XS)] = rows8<KQuant<block_iq4_xs, Mode::Signed, decode_iq4_xs>>;
}

}  // namespace qlm::cpu::avx2
