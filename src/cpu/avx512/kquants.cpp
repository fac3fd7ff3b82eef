// AVX-512 VNNI kernels for the super-block formats against Q8_K activations:
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS (decoding: kquant_decode.h; the
// driver and its float order: rows.h).
#include "cpu/avx512/kquant_decode.h"
#include "cpu/avx512/rows.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace {

template <class D>
struct KQuant : D {
    static constexpr int kQK = fmt::QK_K;
    static constexpr int kOff = 0;
    static constexpr Kind kKind = D::kMode == kq::Mode::Min ? Kind::MinK : Kind::Plain;
    using Dec = kq::KDec;
    static void partial(const Dec& d, const uint8_t* x, __m256i& s, __m256i& t) { kq::dot_lanes<D>(d, x, s, t); }
    static float xscale(const uint8_t* x) { return f32(x); }
    static float xmin(const uint8_t*) { return 0.0f; }
    static int32_t xoff(const uint8_t*) { return 0; }
};

}  // namespace

void register_kquants(KernelTable& k) {
    k.tile[uint32_t(GgmlType::Q2_K)] = tile<KQuant<kq::DecQ2_K>, 1>;
    k.tile[uint32_t(GgmlType::Q3_K)] = tile<KQuant<kq::DecQ3_K>, 1>;
    k.tile[uint32_t(GgmlType::Q4_K)] = tile<KQuant<kq::DecQ4_K>, 1>;
    k.tile[uint32_t(GgmlType::Q5_K)] = tile<KQuant<kq::DecQ5_K>, 1>;
    k.tile[uint32_t(GgmlType::Q6_K)] = tile<KQuant<kq::DecQ6_K>, 1>;
    k.tile[uint32_t(GgmlType::IQ4_XS)] = tile<KQuant<kq::DecIq4Xs>, 1>;
}

}  // namespace qlm::cpu::QLM_AVX512_NS
