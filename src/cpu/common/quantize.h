// The activation quantizer row loops (Q8_0, Q8_1, Q8_K), written once for
// every instruction set. They must write the same bytes as the reference
// quantize_row (formats/legacy.cpp, kquants.cpp): the same scale arithmetic
// (here, once) and the same rounding (the ISA's primitives: roundf for
// Q8_0/Q8_1, nearbyint with round_clamp's clamping for Q8_K).
//
// Include it from the ISA's own header, after its intrinsics, with
// QLM_CPU_NS naming the ISA's namespace: each ISA's translation units get
// their own copy (compiled with their flags) under their own names.
// Private to src/cpu/<isa>/.
#pragma once

#ifndef QLM_CPU_NS
#error "include cpu/common/quantize.h through an ISA header that defines QLM_CPU_NS"
#endif

#include <concepts>
#include <cstdint>

#include "cpu/kernels.h"
#include "formats/kquants.h"
#include "formats/legacy.h"

namespace qlm::cpu::QLM_CPU_NS {
namespace drivers {

// What an instruction set provides to the quantizer loops (P's static members):
//   q8_block(x, d, qs)       32 elements: d = amax / 127 (a NaN element skipped,
//                            as std::max does), qs = roundf(x / d) (0 where d = 0);
//                            returns the sum of qs
//   amax(x, n)               max |x[j]| over j < n (NaN skipped); n: a multiple of 32
//   first_abs_equal(x, n, a) the first j < n with |x[j]| == a (one exists)
//   q8k_quants(x, is, qs, bsums)
//                            QK_K elements: qs = the clamp to [-128, 127] of
//                            nearbyint(is * x) (NaN -> -128), bsums[j] = the
//                            sum of qs[16 j .. 16 j + 15]
template <class P>
concept Q8Quantizer = requires(const float* x, float& d, int8_t* qs, int16_t* bsums, int n, float a) {
    { P::q8_block(x, d, qs) } -> std::same_as<int>;
    { P::amax(x, n) } -> std::same_as<float>;
    { P::first_abs_equal(x, n, a) } -> std::same_as<int>;
    { P::q8k_quants(x, a, qs, bsums) } -> std::same_as<void>;
};

// bsums from the quants, for ISAs whose q8k_quants does not sum in vectors.
inline void q8k_bsums(const int8_t* qs, int16_t* bsums) {
    for (int j = 0; j < fmt::QK_K / 16; ++j) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += qs[16 * j + l];
        bsums[j] = int16_t(sum);
    }
}

template <Q8Quantizer P>
void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<fmt::block_q8_0*>(vy);
    for (int64_t i = 0; i < n / fmt::QK8_0; ++i) {
        float d;
        P::q8_block(x + i * fmt::QK8_0, d, y[i].qs);
        y[i].d = fmt::fp32_to_fp16(d);
    }
}

template <Q8Quantizer P>
void quantize_row_q8_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<fmt::block_q8_1*>(vy);
    for (int64_t i = 0; i < n / fmt::QK8_1; ++i) {
        float d;
        const int sum = P::q8_block(x + i * fmt::QK8_1, d, y[i].qs);
        y[i].d = fmt::fp32_to_fp16(d);
        y[i].s = fmt::fp32_to_fp16(d * float(sum));
    }
}

template <Q8Quantizer P>
void quantize_row_q8_K(const float* x, void* vy, int64_t n) {
    constexpr int QK = fmt::QK_K;
    auto* y = static_cast<fmt::block_q8_K*>(vy);
    for (int64_t i = 0; i < n / QK; ++i) {
        fmt::block_q8_K& b = y[i];
        const float* xb = x + i * QK;
        const float a = P::amax(xb, QK);
        // the first element of largest magnitude, with its sign
        const float max = a > 0 ? xb[P::first_abs_equal(xb, QK, a)] : 0.0f;
        const float iscale = max != 0 ? -127.0f / max : 0.0f;
        P::q8k_quants(xb, iscale, b.qs, b.bsums);
        b.d = iscale != 0 ? 1.0f / iscale : 0.0f;
    }
}

template <Q8Quantizer P>
void register_quantizers(KernelTable& k) {
    k.quantize[uint32_t(GgmlType::Q8_0)] = quantize_row_q8_0<P>;
    k.quantize[uint32_t(GgmlType::Q8_1)] = quantize_row_q8_1<P>;
    k.quantize[uint32_t(GgmlType::Q8_K)] = quantize_row_q8_K<P>;
}

}  // namespace drivers
}  // namespace qlm::cpu::QLM_CPU_NS
