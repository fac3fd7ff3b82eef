// AVX-512 VNNI kernels for the 32-element block formats: Q4_0, Q5_0, Q8_0,
// IQ4_NL, MXFP4 (Q8_0 activations) and Q4_1, Q5_1 (a min, Q8_1 activations).
//
// Every weight block decodes to 32 unsigned bytes u = q + Off (Q4_0: q + 8,
// Q5_0: q + 16, the signed types: q + 128 through their table), so one
// vpdpbusd multiplies it with the signed activation bytes; the exact block
// sum is S = <u, x> - Off * sum(x), with Off * sum(x) computed once per
// activation block. The driver (rows.h) and its float order are shared with
// the K-quants.
#include "cpu/avx512/legacy_decode.h"
#include "cpu/avx512/rows.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace {

// Two blocks' nibble codes in one vector, [a lo | a hi | b lo | b hi] (16
// bytes each): each 16-byte qs broadcast by a load, the high lanes shifted,
// one mask for all (2 blocks: 3 vector operations, 256-bit: 3 each), then
// the format's table where it has one.
enum class Table { None, Iq4Nl, Mxfp4 };
template <int At, Table T>
struct NibblesAt {
    static constexpr int kAt = At;
    static constexpr bool kTabled = T != Table::None;
    static const void* table() { return T == Table::Iq4Nl ? lg::kIq4nlU.v : lg::kMxfp4U.v; }
};
template <class D>
struct NibblePair : NibblesAt<-1, Table::None> {};  // no pair decoder: 256-bit codes, joined
template <>
struct NibblePair<DecQ4_0> : NibblesAt<offsetof(fmt::block_q4_0, qs), Table::None> {};
template <>
struct NibblePair<DecQ4_1> : NibblesAt<offsetof(fmt::block_q4_1, qs), Table::None> {};
template <>
struct NibblePair<DecIq4Nl> : NibblesAt<offsetof(fmt::block_iq4_nl, qs), Table::Iq4Nl> {};
template <>
struct NibblePair<DecMxfp4> : NibblesAt<offsetof(fmt::block_mxfp4, qs), Table::Mxfp4> {};

template <class D>
struct Legacy : D {
    static constexpr int kQK = 32;
    static constexpr size_t kDOff = 0;
    static constexpr Kind kKind = D::kMin ? Kind::MinLegacy : Kind::Plain;
    using Dec = __m256i;
    static void decode(const uint8_t* p, Dec& d) { d = D::codes(p); }
    static constexpr bool kPair = NibblePair<D>::kAt >= 0;
    // blocks a and b: [codes(a) | codes(b)] (kPair)
    static __m512i decode_pair(const uint8_t* a, const uint8_t* b) {
        constexpr int at = NibblePair<D>::kAt;
        __m512i z = _mm512_broadcast_i32x4(load128(a + at));
        z = _mm512_mask_broadcast_i32x4(z, 0xff00, load128(b + at));
        z = _mm512_and_si512(_mm512_mask_srli_epi16(z, 0xff00ff00u, z, 4), _mm512_set1_epi8(0x0f));
        if constexpr (NibblePair<D>::kTabled)
            z = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(load128(static_cast<const uint8_t*>(NibblePair<D>::table()))), z);
        return z;
    }
    static void partial(const Dec& d, const uint8_t* x, __m256i& s, __m256i&) {
        s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), d, load256(x + D::kXQs));
    }
    static float xscale(const uint8_t* x) { return f16(x); }
    static float xmin(const uint8_t* x) { return f16(x + 2); }
    static int32_t xoff(const uint8_t* x) { return D::kOff * sum_i8(load256(x + D::kXQs)); }
};

}  // namespace

void register_legacy(KernelTable& k, bool wide) {
    k.tile[uint32_t(GgmlType::Q4_0)] = wide ? tile<Legacy<DecQ4_0>, 2> : tile<Legacy<DecQ4_0>, 1>;
    k.tile[uint32_t(GgmlType::Q5_0)] = wide ? tile<Legacy<DecQ5_0>, 2> : tile<Legacy<DecQ5_0>, 1>;
    k.tile[uint32_t(GgmlType::Q8_0)] = wide ? tile<Legacy<DecQ8_0>, 2> : tile<Legacy<DecQ8_0>, 1>;
    k.tile[uint32_t(GgmlType::IQ4_NL)] = wide ? tile<Legacy<DecIq4Nl>, 2> : tile<Legacy<DecIq4Nl>, 1>;
    k.tile[uint32_t(GgmlType::MXFP4)] = wide ? tile<Legacy<DecMxfp4>, 2> : tile<Legacy<DecMxfp4>, 1>;
    k.tile[uint32_t(GgmlType::Q4_1)] = wide ? tile<Legacy<DecQ4_1>, 2> : tile<Legacy<DecQ4_1>, 1>;
    k.tile[uint32_t(GgmlType::Q5_1)] = wide ? tile<Legacy<DecQ5_1>, 2> : tile<Legacy<DecQ5_1>, 1>;
}

}  // namespace qlm::cpu::QLM_AVX512_NS
