// A matrix of packed GGUF blocks as the kernels see it (any backend).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "qlm/formats.h"

namespace qlm {

// A weight matrix W of n rows × k columns stored row-major in packed `type`
// blocks (a GGUF tensor with shape [k, n]). transposed: the view stands for Wᵀ
// (k rows × n columns) over the same bytes; matmul(x, transpose(W)) = x · W.
struct WeightView {
    GgmlType type = GgmlType::F32;
    int64_t n = 0, k = 0;
    size_t row_stride = 0;
    const uint8_t* data = nullptr;
    std::string name;
    bool transposed = false;
};

inline WeightView transpose(WeightView w) {
    w.transposed = !w.transposed;
    return w;
}

}  // namespace qlm
