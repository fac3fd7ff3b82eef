// Decoding of one 256-element super-block of the K-quants (and IQ4_XS) into
// 8 x 32 int8 codes, int16 scales per 16 elements and the coefficients of the
// activation's 16-element sums. Shared by the per-row tiles (kquants.cpp) and
// the panel GEMM (gemm.cpp). The K-quant decoders are x86/kq_decode.h's; d
// and dmin are read per block here. Private to src/cpu/avx2/.
#pragma once

#include "cpu/avx2/common.h"
#include "cpu/x86/kq_decode.h"
#include "cpu/x86/legacy_decode.h"
#include "formats/iquants.h"

namespace qlm::cpu::avx2 {
namespace kq {

template <Mode M>
struct KDec {
    __m256i q[8];
    __m256i aq[M == Mode::Signed ? 8 : 1];  // |q| for the sign trick
    __m256i sc[8];                          // int16 scale of elements 0..15 | 16..31 of chunk c
    __m256i coef;                           // int16 coefficient per bsum
    float d, dmin;
};

// A shared decoder D with its d (and dmin) from the block.
template <class D>
inline void decode_k(const uint8_t* p, KDec<D::kMode>& d) {
    static_assert(KDecoder<D, KDec<D::kMode>>);
    D::decode(p, d);
    d.d = fp16_load(p + D::kDByte);
    d.dmin = D::kMode == Mode::Min ? fp16_load(p + D::kDByte + 2) : 0.0f;
}
inline void decode_q2_k(const uint8_t* p, KDec<Mode::Min>& d) { decode_k<Q2K>(p, d); }
inline void decode_q3_k(const uint8_t* p, KDec<Mode::Bias>& d) { decode_k<Q3K>(p, d); }
inline void decode_q4_k(const uint8_t* p, KDec<Mode::Min>& d) { decode_k<Q4K>(p, d); }
inline void decode_q5_k(const uint8_t* p, KDec<Mode::Min>& d) { decode_k<Q5K>(p, d); }
inline void decode_q6_k(const uint8_t* p, KDec<Mode::Bias>& d) { decode_k<Q6K>(p, d); }

inline void decode_iq4_xs(const uint8_t* p, KDec<Mode::Signed>& d) {
    const auto& b = *reinterpret_cast<const block_iq4_xs*>(p);
    d.d = fp16_load(p), d.dmin = 0;
    int16_t s[16];
    for (int ib = 0; ib < 8; ++ib) {  // formats/iquants.h unpack_scale_iq4_xs
        const int lo = (b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
        const int hi = (b.scales_h >> (2 * ib)) & 3;
        s[2 * ib] = s[2 * ib + 1] = int16_t((lo | (hi << 4)) - 32);
    }
    set_scales16(d, s);
    for (int ib = 0; ib < 8; ++ib) {
        d.q[ib] = lg::table16(unpack_nibbles16(b.qs + 16 * ib), lg::kIq4nl);
        d.aq[ib] = _mm256_sign_epi8(d.q[ib], d.q[ib]);
    }
}

}  // namespace kq
}  // namespace qlm::cpu::avx2
