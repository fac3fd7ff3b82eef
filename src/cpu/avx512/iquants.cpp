// AVX-512 VNNI tiles for the low-bit lattice formats (IQ1_S, IQ1_M, IQ2_XXS,
// IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) and the ternary TQ1_0 / TQ2_0, against Q8_K
// (decoders: iquant_decode.h). Per activation row S = sum_h sc_h <q, x>_h by
// vpmaddubsw(|q|, sign(x, q)) + vpdpwssd, then rows.h's float order:
//   acc = fma(float(S), (d * factor) * dx, acc)
// which the GEMM (gemm.cpp, from kGemmMinK rows) keeps too.
#include "cpu/avx512/iquant_decode.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace {

using namespace iq;

template <class D>
struct IQuant : iq::Decoder<D> {
    static constexpr int kQK = QK_K;
    static constexpr int kOff = 0;
    static constexpr Kind kKind = Kind::Plain;
    static constexpr size_t kWBytes = sizeof(typename D::Block), kXBytes = sizeof(block_q8_K);
    using Dec = IqDec;
    static void partial(const Dec& d, const uint8_t* x, __m256i& s, __m256i& t) {
        const uint8_t* xq = x + offsetof(block_q8_K, qs);
        __m256i acc = _mm256_setzero_si256();
        for (int c = 0; c < 8; ++c)
            acc = _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(d.aq[c], _mm256_sign_epi8(load256(xq + 32 * c), d.q[c])),
                                      d.sc[c]);
        s = acc, t = _mm256_setzero_si256();
    }
    static float xscale(const uint8_t* x) { return f32(x); }
    static float xmin(const uint8_t*) { return 0.0f; }
    static int32_t xoff(const uint8_t*) { return 0; }
};

}  // namespace

void register_iquants(KernelTable& k) {
    k.tile[uint32_t(GgmlType::IQ2_XXS)] = tile<IQuant<DecIq2Xxs>, 1>;
    k.tile[uint32_t(GgmlType::IQ2_XS)] = tile<IQuant<DecIq2Xs>, 1>;
    k.tile[uint32_t(GgmlType::IQ2_S)] = tile<IQuant<DecIq2S>, 1>;
    k.tile[uint32_t(GgmlType::IQ3_XXS)] = tile<IQuant<DecIq3Xxs>, 1>;
    k.tile[uint32_t(GgmlType::IQ3_S)] = tile<IQuant<DecIq3S>, 1>;
    k.tile[uint32_t(GgmlType::IQ1_S)] = tile<IQuant<DecIq1S>, 1>;
    k.tile[uint32_t(GgmlType::IQ1_M)] = tile<IQuant<DecIq1M>, 1>;
    k.tile[uint32_t(GgmlType::TQ1_0)] = tile<IQuant<DecTq1>, 1>;
    k.tile[uint32_t(GgmlType::TQ2_0)] = tile<IQuant<DecTq2>, 1>;
}

}  // namespace qlm::cpu::QLM_AVX512_NS
