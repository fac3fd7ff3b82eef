// AVX2 tiles for the low-bit lattice formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS,
// IQ2_S, IQ3_XXS, IQ3_S) and the ternary TQ1_0 / TQ2_0, against Q8_K.
//
// The decoders are x86/iq_decode.h's, with the grid points and sign vectors
// fetched by scalar loads (ScalarFetch): a super-block becomes 8 x 32 signed
// values as |q| and a sign, and int16 scales per 16 elements (fmt::IqInts):
//   S = sum_h sc_h <q, x>_h  (exact int32),  block scale d * factor
// so rows8.h's driver gives them the float order of src/cpu/kernels.h. The
// product is maddubs(|q|, sign(x, q)) then madd with the scales.
#include "cpu/avx2/kquant_decode.h"
#include "cpu/avx2/rows8.h"
#include "cpu/x86/iq_decode.h"

namespace qlm::cpu::avx2 {
namespace {

using namespace fmt;
using namespace iq;
using Fetch = ScalarFetch;

// d * factor of a block (scalar: one block at a time).
template <class D>
inline float block_d(const uint8_t* p) {
    const float d = _cvtsh_ss(D::d16(p));
    if constexpr (D::kDFactor != 1.0f) return d * D::kDFactor;
    return d;
}

template <class D>
struct IQuant {
    static_assert(IqDecoder<D, Fetch>);
    static constexpr int kQK = QK_K;
    static constexpr DotKind kKind = DotKind::Plain;
    static constexpr size_t kWBytes = sizeof(typename D::Block), kXBytes = sizeof(block_q8_K);
    struct Dec {
        IqDec k;
        float d, m;
    };
    static void decode(const uint8_t* p, Dec& d) {
        d.d = block_d<D>(p), d.m = 0.0f;
        D::template decode<Fetch>(p, d.k);
    }
    static float xscale(const uint8_t* x) {
        float dy;
        std::memcpy(&dy, x, 4);
        return dy;
    }
    static __m256i isum(const Dec& dd, const uint8_t* x, __m256i&) {
        const uint8_t* qs = x + offsetof(block_q8_K, qs);
        __m256i s = _mm256_setzero_si256();
        for (int c = 0; c < 8; ++c)
            s = _mm256_add_epi32(s, _mm256_madd_epi16(dot_s8_i16(dd.k.q[c], dd.k.aq[c], load256(qs + 32 * c)), dd.k.sc[c]));
        return s;
    }
};

// For the GEMM panels (gemm.cpp KQuant, Bias mode): codes q + 64 (unsigned,
// <= 126), the 64 taken off as 64 sc_h bsum_h; the same S and d as the tiles.
template <class D>
void decode_biased(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) {
    IqDec d;
    D::template decode<Fetch>(p, d);
    k.d = block_d<D>(p), k.dmin = 0;
    to_biased(d, k);
}

}  // namespace

namespace iq {
void biased_iq2_xxs(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecIq2Xxs>(p, k); }
void biased_iq2_xs(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecIq2Xs>(p, k); }
void biased_iq2_s(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecIq2S>(p, k); }
void biased_iq3_xxs(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecIq3Xxs>(p, k); }
void biased_iq3_s(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecIq3S>(p, k); }
void biased_iq1_s(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecIq1S>(p, k); }
void biased_iq1_m(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecIq1M>(p, k); }
void biased_tq1_0(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecTq1>(p, k); }
void biased_tq2_0(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<DecTq2>(p, k); }
}  // namespace iq

void register_iquants(KernelTable& k) {
    k.tile[uint32_t(GgmlType::IQ2_XXS)] = rows8<IQuant<DecIq2Xxs>>;
    k.tile[uint32_t(GgmlType::IQ2_XS)] = rows8<IQuant<DecIq2Xs>>;
    k.tile[uint32_t(GgmlType::IQ2_S)] = rows8<IQuant<DecIq2S>>;
    k.tile[uint32_t(GgmlType::IQ3_XXS)] = rows8<IQuant<DecIq3Xxs>>;
    k.tile[uint32_t(GgmlType::IQ3_S)] = rows8<IQuant<DecIq3S>>;
    k.tile[uint32_t(GgmlType::IQ1_S)] = rows8<IQuant<DecIq1S>>;
    k.tile[uint32_t(GgmlType::IQ1_M)] = rows8<IQuant<DecIq1M>>;
    k.tile[uint32_t(GgmlType::TQ1_0)] = rows8<IQuant<DecTq1>>;
    k.tile[uint32_t(GgmlType::TQ2_0)] = rows8<IQuant<DecTq2>>;
}

}  // namespace qlm::cpu::avx2
