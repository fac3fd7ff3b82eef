// Rotary position embedding (normal and NeoX layouts). Angles are computed in
// double from the position and the pair index, so they do not drift with the
// position the way an iterated product of float powers does.
#include <cmath>
#include <vector>

#include "ops/context_impl.h"
#include "qlm/error.h"

namespace qlm {

void rope(Context& ctx, float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
          const RopeParams& p) {
    if (p.n_dims <= 0 || p.n_dims > head_dim || p.n_dims % 2 != 0)
        fail("rope: rotary dimensions ", p.n_dims, " must be even and within the head size ", head_dim);
    const int half = p.n_dims / 2;
    std::vector<double> inv_freq(static_cast<size_t>(half));
    for (int i = 0; i < half; ++i) {
        inv_freq[size_t(i)] = std::pow(double(p.freq_base), -2.0 * i / p.n_dims) * double(p.freq_scale);
        if (p.freq_factors) inv_freq[size_t(i)] /= double(p.freq_factors[i]);
    }
    const int64_t width = int64_t(n_heads) * head_dim;
    auto one = [&](int64_t r) {
        std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
        for (int i = 0; i < half; ++i) {
            const double theta = double(positions[r]) * inv_freq[size_t(i)];
            c[size_t(i)] = float(std::cos(theta));
            s[size_t(i)] = float(std::sin(theta));
        }
        for (int h = 0; h < n_heads; ++h) {
            float* v = x + r * width + int64_t(h) * head_dim;
            for (int i = 0; i < half; ++i) {
                const int i0 = p.layout == RopeLayout::Normal ? 2 * i : i;
                const int i1 = p.layout == RopeLayout::Normal ? 2 * i + 1 : i + half;
                const float a = v[i0], b = v[i1];
                v[i0] = a * c[size_t(i)] - b * s[size_t(i)];
                v[i1] = a * s[size_t(i)] + b * c[size_t(i)];
            }
        }
    };
    if (rows < 4) {
        for (int64_t r = 0; r < rows; ++r) one(r);
        return;
    }
    ctx.impl().pool->run(rows, one);
}

}  // namespace qlm
