// Rotary position embedding (normal and NeoX layouts).
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/context_impl.h"
#include "ops/profile.h"
#include "qlm/error.h"

namespace qlm {

void rope(Context& ctx, float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
          const RopeParams& p) {
    ProfileScope scope(ctx.impl(), "rope", rows, [&] { return cat(n_heads, " heads x ", head_dim); });
    if (p.n_dims <= 0 || p.n_dims > head_dim || p.n_dims % 2 != 0)
        fail("rope: rotary dimensions ", p.n_dims, " must be even and within the head size ", head_dim);
    const int half = p.n_dims / 2;
    // Angles follow llama.cpp's evaluation exactly (float: theta_i =
    // pos · s^i by repeated multiplication, s = base^(-2/n_dims), then
    // divided by the frequency factor and scaled), so positions rotate by the
    // very same float angles as in the reference engine.
    const float theta_scale = std::pow(p.freq_base, -2.0f / float(p.n_dims));
    // YaRN's correction dimensions (ggml: floor/ceil of the dimension whose
    // wavelength fits n_rot times into the original context).
    float corr_lo = 0, corr_hi = 0, mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
        if (p.n_ctx_orig <= 0) fail("rope: YaRN needs the original context length, got ", p.n_ctx_orig);
        auto corr_dim = [&](float n_rot) {
            return float(p.n_dims) * std::log(float(p.n_ctx_orig) / (n_rot * 2.0f * float(M_PI))) /
                   (2.0f * std::log(p.freq_base));
        };
        corr_lo = std::max(0.0f, std::floor(corr_dim(p.beta_fast)));
        corr_hi = std::min(float(p.n_dims - 1), std::ceil(corr_dim(p.beta_slow)));
        mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    }
    const int64_t width = int64_t(n_heads) * head_dim;
    auto one = [&](int64_t r, std::vector<float>& c, std::vector<float>& s) {
        float theta = float(positions[r]);
        for (int i = 0; i < half; ++i) {
            const float ff = p.freq_factors ? p.freq_factors[i] : 1.0f;
            const float extrap = theta / ff;
            float th = p.freq_scale * extrap;
            if (p.ext_factor != 0.0f) {
                const float y = (float(i) - corr_lo) / std::max(0.001f, corr_hi - corr_lo);
                const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
                th = th * (1.0f - ramp) + extrap * ramp;
            }
            c[size_t(i)] = std::cos(th) * mscale;
            s[size_t(i)] = std::sin(th) * mscale;
            theta *= theta_scale;
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
    // rows r0 .. r1 with one cos / sin buffer
    auto run = [&](int64_t r0, int64_t r1) {
        std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
        for (int64_t r = r0; r < r1; ++r) one(r, c, s);
    };
    if (rows < 4) return run(0, rows);
    ctx.impl().pool->run_ranges(rows, run);
}

}  // namespace qlm
