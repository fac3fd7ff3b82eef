// Normal random test vectors shared by the op tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace qlm {

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

}  // namespace qlm
