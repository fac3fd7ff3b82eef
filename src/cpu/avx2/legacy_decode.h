// Decoding of one 32-element block of the legacy formats into 32 int8 lanes
// (element order) and its float scale(s): x86/legacy_decode.h's decoders with
// the scales read per block. Shared by the per-row tiles (legacy.cpp) and the
// panel GEMM (gemm.cpp). Private to src/cpu/avx2/.
#pragma once

#include "cpu/avx2/common.h"
#include "cpu/x86/legacy_decode.h"

namespace qlm::cpu::avx2 {

template <class D>
inline float legacy_d(const uint8_t* p) {
    if constexpr (requires { D::d(p); }) return D::d(p);
    else return fp16_load(p);
}
// Signed values (Q8_0 activations).
template <class D>
inline __m256i decode_values(const uint8_t* p, float& d) {
    static_assert(lg::LegacyDecoder<D>);
    d = legacy_d<D>(p);
    return D::values(p);
}
// Unsigned codes q + kOff.
template <class D>
inline __m256i decode_codes(const uint8_t* p, float& d) {
    static_assert(lg::LegacyDecoder<D>);
    d = legacy_d<D>(p);
    return D::codes(p);
}
// Unsigned codes with a min (Q8_1 activations).
template <class D>
inline __m256i decode_codes_min(const uint8_t* p, float& d, float& m) {
    static_assert(lg::LegacyDecoder<D> && D::kMin);
    d = fp16_load(p), m = fp16_load(p + 2);
    return D::codes(p);
}

inline __m256i codes_q4_0(const uint8_t* p, float& d) { return decode_codes<lg::Q4_0>(p, d); }
inline __m256i codes_q5_0(const uint8_t* p, float& d) { return decode_codes<lg::Q5_0>(p, d); }
inline __m256i decode_q4_0(const uint8_t* p, float& d) { return decode_values<lg::Q4_0>(p, d); }
inline __m256i decode_q5_0(const uint8_t* p, float& d) { return decode_values<lg::Q5_0>(p, d); }
inline __m256i decode_q8_0(const uint8_t* p, float& d) { return decode_values<lg::Q8_0>(p, d); }
inline __m256i decode_iq4_nl(const uint8_t* p, float& d) { return decode_values<lg::Iq4Nl>(p, d); }
inline __m256i decode_mxfp4(const uint8_t* p, float& d) { return decode_values<lg::Mxfp4>(p, d); }
inline __m256i decode_q4_1(const uint8_t* p, float& d, float& m) { return decode_codes_min<lg::Q4_1>(p, d, m); }
inline __m256i decode_q5_1(const uint8_t* p, float& d, float& m) { return decode_codes_min<lg::Q5_1>(p, d, m); }

}  // namespace qlm::cpu::avx2
