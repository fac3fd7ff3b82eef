// Shared by the CUDA tests: random weights and activations, and the reference
// results the GPU is held to (computed on the CPU from the scalar reference code).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "formats/traits.h"
#include "qlm/formats.h"
#include "qlm/ops.h"

namespace qlm::cudatest {

struct Weights {
    WeightView view;
    std::vector<uint8_t> bytes;
    std::vector<float> deq;  // n x k, dequantized by the reference
};

inline Weights make_weights(GgmlType type, int64_t n, int64_t k, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> w(size_t(n * k));
    for (auto& v : w) v = nd(rng);
    Weights out;
    const size_t rs = row_size(type, k);
    out.bytes.resize(rs * size_t(n));
    out.deq.resize(w.size());
    for (int64_t r = 0; r < n; ++r) {
        quantize_row(type, w.data() + r * k, out.bytes.data() + r * rs, k);
        dequantize_row(type, out.bytes.data() + r * rs, out.deq.data() + r * k, k);
    }
    // a distinct name per matrix: the device weight cache is keyed by name
    out.view = {type, n, k, rs, out.bytes.data(),
                std::string("test.") + type_name(type) + "." + std::to_string(n) + "x" + std::to_string(k) + "." +
                    std::to_string(seed),
                false};
    return out;
}

// Uniform in [-1, 1], with a few larger values and an all-zero block so the
// quantizers see amax = 0 and varied scales.
inline std::vector<float> make_activations(int64_t m, int64_t k, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
    std::vector<float> x(size_t(m * k));
    for (auto& v : x) v = ud(rng);
    for (size_t i = 0; i < x.size(); i += 97) x[i] *= 9.0f;
    if (k >= 64)
        for (int64_t j = 32; j < 64; ++j) x[size_t(j)] = 0.0f;  // row 0, block 1
    return x;
}

// Every weight type of the CUDA backend (all but the activation-only Q8_1/Q8_K
// and the read-only low-bit IQ / TQ types, which CUDA does not run yet).
inline std::vector<GgmlType> weight_types() {
    std::vector<GgmlType> out;
    for (const auto& t : fmt::kTypeTraits)
        if (t.info.type != GgmlType::Q8_1 && t.info.type != GgmlType::Q8_K && t.quantize_row) out.push_back(t.info.type);
    return out;
}

inline bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

// Types whose CPU activation partner is Q8_0 or Q8_1: the GPU's per-block
// terms are bit-identical to the reference vec_dot's.
inline bool legacy_partner(GgmlType t) {
    const GgmlType p = type_info(t).vec_dot_type;
    return p == GgmlType::Q8_0 || p == GgmlType::Q8_1;
}

// sum (a-b)^2 / sum b^2
inline double nmse(const std::vector<float>& a, const std::vector<double>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

// y (m × n) = x · deqᵀ in double.
inline std::vector<double> product_double(const Weights& w, const std::vector<float>& x, int64_t m) {
    const int64_t n = w.view.n, k = w.view.k;
    std::vector<double> y(size_t(m * n));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t r = 0; r < n; ++r) {
            double s = 0;
            for (int64_t j = 0; j < k; ++j) s += double(w.deq[size_t(r * k + j)]) * double(x[size_t(i * k + j)]);
            y[size_t(i * n + r)] = s;
        }
    return y;
}

// A Q8_1 block as the Q8_0 block the reference vec_dot of Q8_0-partnered types takes.
inline fmt::block_q8_0 as_q8_0(const fmt::block_q8_1& b) {
    fmt::block_q8_0 o;
    o.d = b.d;
    for (int j = 0; j < 32; ++j) o.qs[j] = b.qs[j];
    return o;
}

// Reference per-block terms of row r against activation row xq (Q8_1 blocks):
// each is the reference vec_dot of one weight block, which the GPU reproduces bit for bit.
inline std::vector<float> block_terms(GgmlType t, const uint8_t* wrow, const fmt::block_q8_1* xq, int64_t k) {
    const TypeInfo& ti = type_info(t);
    std::vector<float> terms;
    for (int64_t b = 0; b < k / 32; ++b) {
        if (ti.vec_dot_type == GgmlType::Q8_1) {
            terms.push_back(vec_dot(t, 32, wrow + b * ti.type_size, &xq[b]));
        } else {
            const fmt::block_q8_0 y = as_q8_0(xq[b]);
            terms.push_back(vec_dot(t, 32, wrow + b * ti.type_size, &y));
        }
    }
    return terms;
}

}  // namespace qlm::cudatest
