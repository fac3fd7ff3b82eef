// Small float loops shared by the ops: fixed summation order (8 partial sums),
// written so the compiler can vectorize them without -ffast-math.
#pragma once

#include <cstdint>

namespace qlm::ops {

inline double sum_squares(const float* x, int64_t n) {
    float acc[8] = {};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; ++l) acc[l] += x[j + l] * x[j + l];
    double s = 0;
    for (int l = 0; l < 8; ++l) s += acc[l];
    for (; j < n; ++j) s += double(x[j]) * x[j];
    return s;
}

inline float dot(const float* a, const float* b, int64_t n) {
    float acc[8] = {};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; ++l) acc[l] += a[j + l] * b[j + l];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; j < n; ++j) s += a[j] * b[j];
    return s;
}

// y += a * x
inline void axpy(float a, const float* x, float* y, int64_t n) {
    for (int64_t j = 0; j < n; ++j) y[j] += a * x[j];
}

}  // namespace qlm::ops
