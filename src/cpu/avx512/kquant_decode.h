// One 256-element super-block of the K-quants (and IQ4_XS) decoded to 8 x 32
// unsigned byte codes, the scales per 16 elements and the coefficients of the
// activation's 16-element sums (bsums). Shared by the tiles (kquants.cpp), the
// GEMM (gemm.cpp) and AMX (amx/gemm_kquants.cpp). Private to src/cpu/avx512/.
//   S = sum_j sc_j <u, x>_j - [Bias] sum_j coef_j bsum_j      (exact int32)
//   T = sum_j coef_j bsum_j                                     [Min only]
// The K-quant decoders are x86/kq_decode.h's; here they get d (and dmin) for
// 8 rows at once from one gathered dword per row (rows.h block_scales).
// Narrow codes (<= 63) go through vpmaddubsw + vpdpwssd with int16 scales;
// IQ4_XS's codes are its table values + 128 (up to 241, too wide for the
// int16 pair sums), so it takes vpdpbusd and an int32 multiply.
#pragma once

#include "cpu/avx512/legacy_decode.h"
#include "cpu/x86/kq_decode.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace kq {

struct KDec {
    __m256i q[8];   // codes of elements 32c .. 32c + 31
    __m256i sc[8];  // chunk c's scales: int16 s_2c x 8 | s_2c+1 x 8 (wide: int32 s x 4 | s' x 4)
    __m256i coef;   // int16 coefficient per bsum
};

// d (and dmin) of 8 rows from the gathered dword holding the fp16 d at
// kDByte (Min: dmin in the fp16 after it), or, d in a block's last 2 bytes,
// the dword before it (high half); times kDFactor where a decoder has one.
template <class D>
constexpr bool has_min() {
    if constexpr (requires { D::kMode; }) return D::kMode == Mode::Min;
    return false;
}
template <class D>
struct GatheredScale {
    static constexpr bool kMin = has_min<D>();
    static constexpr bool kHigh = D::kDByte + 4 > sizeof(typename D::Block);
    static_assert(!(kMin && kHigh), "Min: d and dmin in one dword");
    static constexpr size_t kDOff = kHigh ? D::kDByte - 2 : D::kDByte;
    static void scales(__m256i g, __m256& dw, __m256& mw) {
        dw = kHigh ? f16_hi(g) : f16_lo(g);
        if constexpr (requires { D::kDFactor; })
            if constexpr (D::kDFactor != 1.0f) dw = _mm256_mul_ps(dw, _mm256_set1_ps(D::kDFactor));
        mw = kMin ? f16_hi(g) : _mm256_setzero_ps();
    }
};

// A K-quant decoder with its block scales: the decoder of the tiles, the
// GEMM panels and AMX. kWide: int32 scales per 32 elements (IQ4_XS).
template <class D>
struct Vnni : D, GatheredScale<D> {
    static_assert(KDecoder<D, KDec>);
    static constexpr size_t kWBytes = sizeof(typename D::Block), kXBytes = sizeof(block_q8_K);
    static constexpr bool kWide = [] {
        if constexpr (requires { D::kWide; }) return D::kWide;
        return false;
    }();
};
using DecQ2_K = Vnni<Q2K>;
using DecQ3_K = Vnni<Q3K>;
using DecQ4_K = Vnni<Q4K>;
using DecQ5_K = Vnni<Q5K>;
using DecQ6_K = Vnni<Q6K>;

// Table values + 128; the 128 comes off as 128 sc_ib bsum_j.
struct Iq4Xs {
    using Block = block_iq4_xs;
    static constexpr Mode kMode = Mode::Bias;
    static constexpr size_t kDByte = offsetof(block_iq4_xs, d);
    static constexpr bool kWide = true;
    static void decode(const uint8_t* p, KDec& d) {
        const auto& b = *reinterpret_cast<const block_iq4_xs*>(p);
        int16_t c128[16];
        for (int ib = 0; ib < 8; ++ib) {
            const int lo = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
            const int hi = (b.scales_h >> (2 * ib)) & 3;
            const int s = (lo | (hi << 4)) - 32;
            d.sc[ib] = _mm256_set1_epi32(s);
            c128[2 * ib] = c128[2 * ib + 1] = int16_t(128 * s);
            d.q[ib] = lg::table16(unpack_nibbles16(b.qs + 16 * ib), lg::kIq4nlU.v);
        }
        d.coef = load_coef(c128);
    }
};
using DecIq4Xs = Vnni<Iq4Xs>;

// Row j's S (Bias already taken off) and T as 8 int32 lanes against one
// activation super-block x (block_q8_K).
template <class K>
inline void dot_lanes(const KDec& d, const uint8_t* x, __m256i& s, __m256i& tm) {
    const uint8_t* xq = x + offsetof(block_q8_K, qs);
    __m256i acc = _mm256_setzero_si256();
    for (int c = 0; c < 8; ++c) {
        const __m256i a = load256(xq + 32 * c);
        if constexpr (K::kWide)
            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), d.q[c], a), d.sc[c]));
        else
            acc = _mm256_dpwssd_epi32(acc, _mm256_maddubs_epi16(d.q[c], a), d.sc[c]);
    }
    const __m256i t = _mm256_madd_epi16(d.coef, load256(x + offsetof(block_q8_K, bsums)));
    if constexpr (K::kMode == Mode::Bias) {
        s = _mm256_sub_epi32(acc, t);
        tm = _mm256_setzero_si256();
    } else {
        s = acc, tm = t;
    }
}

}  // namespace kq
}  // namespace qlm::cpu::QLM_AVX512_NS
