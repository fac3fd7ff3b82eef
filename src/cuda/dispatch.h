// Runtime values -> template parameters (DESIGN.md: in one helper, not in
// switch blocks copied per op). C++17 (device code): generic lambdas with
// integral_constant tags stand in for C++20 templated lambdas.
#pragma once

#include <type_traits>
#include <utility>

#include "cuda/config.h"
#include "qlm/formats.h"

namespace qlm::cuda {

// Calls f(std::integral_constant<GgmlType, T>{}) if t is one of Ts; false if none.
template <GgmlType... Ts, typename F>
bool dispatch_type(GgmlType t, F&& f) {
    return ((t == Ts ? (f(std::integral_constant<GgmlType, Ts>{}), true) : false) || ...);
}

template <typename F, int... Ms>
void dispatch_m_impl(int m, F&& f, std::integer_sequence<int, Ms...>) {
    ((m == Ms + 1 ? (f(std::integral_constant<int, Ms + 1>{}), true) : false) || ...);
}
// Calls f(std::integral_constant<int, M>{}) for the runtime m in 1..kGemvMaxM.
template <typename F>
void dispatch_m(int m, F&& f) {
    dispatch_m_impl(m, std::forward<F>(f), std::make_integer_sequence<int, kGemvMaxM>{});
}

// Every quantized weight type with a SliceDot (GEMV and GEMM tiles).
#define QLM_CUDA_QUANT_TYPES                                                                                      \
    GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, \
        GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4

}  // namespace qlm::cuda
