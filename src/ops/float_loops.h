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

}  // namespace qlm::ops
