// Shared helpers for the format tests: the type list, test data, round trips
// and the error bounds (llama.cpp's published ones, see DESIGN.md).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qlm/formats.h"

namespace qlm::test {

// Every type in the traits table, so a new row is tested without editing here.
inline std::vector<GgmlType> every_type() {
    size_t count = 0;
    const TypeInfo* infos = all_types(&count);
    std::vector<GgmlType> types;
    for (size_t i = 0; i < count; ++i) types.push_back(infos[i].type);
    return types;
}

// The types quantize_row supports (the low-bit IQ and TQ types are read-only).
inline std::vector<GgmlType> quantizable_types() {
    std::vector<GgmlType> types;
    for (GgmlType t : every_type())
        if (can_quantize(t)) types.push_back(t);
    return types;
}

inline std::string type_param_name(const ::testing::TestParamInfo<GgmlType>& p) { return type_name(p.param); }

// llama.cpp's test data (test-quantize-fns): 0.1 + 2 cos(i + offset), in float.
inline std::vector<float> cos_data(int64_t n, float offset) {
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) x[size_t(i)] = 0.1f + 2.0f * std::cos(float(i) + offset);
    return x;
}

// Normal samples by Box-Muller on mt19937 (whose output the standard fixes),
// so the data is the same with every standard library.
inline std::vector<float> normal_data(int64_t n, uint32_t seed, double mean = 0.0, double stddev = 1.0) {
    std::mt19937 rng(seed);
    auto uniform = [&] { return (double(rng() >> 8) + 0.5) / double(1u << 24); };  // (0, 1)
    std::vector<float> x(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; i += 2) {
        const double r = std::sqrt(-2.0 * std::log(uniform())), a = 6.283185307179586 * uniform();
        x[size_t(i)] = float(mean + stddev * r * std::cos(a));
        if (i + 1 < n) x[size_t(i + 1)] = float(mean + stddev * r * std::sin(a));
    }
    return x;
}

inline std::vector<uint8_t> quantize(GgmlType t, const std::vector<float>& x) {
    std::vector<uint8_t> q(row_size(t, int64_t(x.size())));
    quantize_row(t, x.data(), q.data(), int64_t(x.size()));
    return q;
}

inline std::vector<float> dequantize(GgmlType t, const std::vector<uint8_t>& q, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n));
    dequantize_row(t, q.data(), y.data(), n);
    return y;
}

inline std::vector<float> round_trip(GgmlType t, const std::vector<float>& x) {
    return dequantize(t, quantize(t, x), int64_t(x.size()));
}

// llama.cpp's "total quantization error": sqrt(sum (a - b)^2) / n.
inline double total_error(const std::vector<float>& a, const std::vector<float>& b) {
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return std::sqrt(sum) / double(a.size());
}

inline double sum_sq(const std::vector<float>& a) {
    double s = 0;
    for (float v : a) s += double(v) * v;
    return s;
}

// Round-trip bound on cos_data: 2-bit 0.0075, 3-bit 0.004, else 0.002; the
// float types only round their mantissa.
inline double round_trip_bound(GgmlType t) {
    switch (t) {
        case GgmlType::F32: return 0.0;
        case GgmlType::F16:
        case GgmlType::BF16: return 1e-4;
        case GgmlType::Q2_K: return 0.0075;
        case GgmlType::Q3_K: return 0.004;
        default: return 0.002;
    }
}

// vec_dot bound |err| / n: 0.02, low-bit (2- and 3-bit) 0.04.
inline double dot_bound(GgmlType t) {
    return t == GgmlType::Q2_K || t == GgmlType::Q3_K ? 0.04 : 0.02;
}

inline bool has_nonfinite(const std::vector<float>& y) {
    for (float v : y)
        if (!std::isfinite(v)) return true;
    return false;
}

}  // namespace qlm::test
