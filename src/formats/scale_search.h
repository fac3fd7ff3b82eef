// Scale searches shared by the K-quant and IQ4 quantizers (host only). Each
// fits one sub-block of at most 256 elements, x[i] ~ s * value(q[i]) (+ b),
// minimizing the weighted squared error: try a fan of candidate scales, round
// the elements to the grid, solve the least-squares scale (and offset) for
// that rounding, keep the best, then alternate re-rounding and re-fitting
// while the error still drops.
#pragma once

#include <cmath>
#include <initializer_list>

#include "formats/common.h"

namespace qlm::fmt {

// Nearest integer (ties to even), clamped to [lo, hi]; NaN maps to lo so a bad
// input can never become an out-of-range integer conversion.
inline int round_clamp(float v, int lo, int hi) {
    const float r = std::nearbyint(v);
    if (!(r >= float(lo))) return lo;
    if (r > float(hi)) return hi;
    return int(r);
}

// The integers lo..hi (Q3_K: -4..3, Q6_K: -32..31).
struct UniformGrid {
    int lo, hi;
    int nearest(float t) const { return round_clamp(t, lo, hi); }
    int value(int q) const { return q; }
    int min_value() const { return lo; }
    int max_value() const { return hi; }
};

// Value of largest magnitude, keeping its sign (first one on ties).
inline float signed_absmax(const float* x, int n) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; ++i)
        if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), max = x[i];
    return max;
}

// Importance of each element's error: w = sigma^2 + x^2, sigma^2 the block's
// mean square. Large elements weigh more (they dominate dot products; without
// this, the plain least-squares fit shrinks them and Q2_K misses llama.cpp's
// dot-product bound on correlated data), and sigma^2 keeps small ones counted.
inline void importance_weights(const float* x, int n, float* w) {
    float sum2 = 0;
    for (int i = 0; i < n; ++i) sum2 += x[i] * x[i];
    const float sigma2 = sum2 / float(n);
    for (int i = 0; i < n; ++i) w[i] = sigma2 + x[i] * x[i];
}

// Grid index nearest to x/s for every element (s == 0: nearest to 0).
template <typename Grid>
void round_to_grid(const float* x, int n, float s, const Grid& g, int* q) {
    const float is = s != 0 ? 1.0f / s : 0.0f;
    for (int i = 0; i < n; ++i) q[i] = g.nearest(x[i] * is);
}

// Weighted squared error of x against s * value(q).
template <typename Grid>
float grid_error(const float* x, const float* w, int n, const Grid& g, float s, const int* q) {
    float err = 0;
    for (int i = 0; i < n; ++i) {
        const float e = x[i] - s * float(g.value(q[i]));
        err += w[i] * e * e;
    }
    return err;
}

// Weighted least-squares s for x ~ s * value(q): s = sum(w v x) / sum(w v v).
// Returns the weighted squared error of that fit.
template <typename Grid>
float fit_symmetric_scale(const float* x, const float* w, int n, const Grid& g, const int* q, float* s) {
    float sum_vx = 0, sum_vv = 0;
    for (int i = 0; i < n; ++i) {
        const float v = float(g.value(q[i]));
        sum_vx += w[i] * v * x[i];
        sum_vv += w[i] * v * v;
    }
    *s = sum_vv > 0 ? sum_vx / sum_vv : 0.0f;
    return grid_error(x, w, n, g, *s, q);
}

// Symmetric fit x ~ s * value(q), q a grid index. The candidates put the
// largest-magnitude element at 0.8..1.2 times either end of the grid (the
// ends differ when the grid is lopsided, e.g. -4..3). Returns s.
template <typename Grid>
float search_symmetric_scale(const float* x, const float* w, int n, const Grid& g, int* q) {
    const float max = signed_absmax(x, n);
    if (max == 0) {
        round_to_grid(x, n, 0.0f, g, q);
        return 0;
    }
    float best_s = 0, best_err = INFINITY;
    int trial[256];
    for (const int end : {g.min_value(), g.max_value()}) {
        for (int t = -10; t <= 10; ++t) {
            const float s0 = max / (float(end) * (1.0f + 0.02f * float(t)));
            round_to_grid(x, n, s0, g, trial);
            float s;
            const float err = fit_symmetric_scale(x, w, n, g, trial, &s);
            if (err < best_err) {
                best_err = err, best_s = s;
                for (int i = 0; i < n; ++i) q[i] = trial[i];
            }
        }
    }
    // Alternate rounding and fitting: neither step can raise the error.
    for (int it = 0; it < 8 && best_s != 0; ++it) {
        round_to_grid(x, n, best_s, g, trial);
        float s;
        const float err = fit_symmetric_scale(x, w, n, g, trial, &s);
        if (!(err < best_err)) break;
        best_err = err, best_s = s;
        for (int i = 0; i < n; ++i) q[i] = trial[i];
    }
    return best_s;
}

// Weighted squared error of x against s*q + b.
inline float affine_error(const float* x, const float* w, int n, float s, float b, const int* q) {
    float err = 0;
    for (int i = 0; i < n; ++i) {
        const float e = x[i] - (s * float(q[i]) + b);
        err += w[i] * e * e;
    }
    return err;
}

// q = nearest integer in 0..nmax to (x - b) / s.
inline void round_affine(const float* x, int n, int nmax, float s, float b, int* q) {
    const float is = s != 0 ? 1.0f / s : 0.0f;
    for (int i = 0; i < n; ++i) q[i] = round_clamp((x[i] - b) * is, 0, nmax);
}

// Weighted least-squares s, b for x ~ s*q + b with b <= 0 (the formats store
// -b as an unsigned min); if the free optimum has b > 0 the best constrained
// one has b = 0. Returns the weighted squared error.
inline float fit_affine(const float* x, const float* w, int n, const int* q, float* s, float* b) {
    float sw = 0, sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
        const float qi = float(q[i]);
        sw += w[i];
        sq += w[i] * qi;
        sqq += w[i] * qi * qi;
        sx += w[i] * x[i];
        sqx += w[i] * qi * x[i];
    }
    const float det = sw * sqq - sq * sq;
    if (det > 0) {
        *s = (sw * sqx - sq * sx) / det;
        *b = (sqq * sx - sq * sqx) / det;
    } else {  // every q equal: only the offset is determined
        *s = 0;
        *b = sw > 0 ? sx / sw : 0.0f;
    }
    if (*b > 0) {
        *b = 0;
        *s = sqq > 0 ? sqx / sqq : 0.0f;
    }
    if (*s < 0) *s = 0;  // cannot happen for a monotone rounding; kept as a guard
    return affine_error(x, w, n, *s, *b, q);
}

// Weighted affine fit x ~ s*q + b, q in 0..nmax, s >= 0, b <= 0. Candidates
// stretch [min(x, 0), max(x)] over nmax-1 .. nmax+1 steps.
inline void search_affine(const float* x, const float* w, int n, int nmax, float* s_out, float* b_out, int* q) {
    float lo = 0, hi = x[0];
    for (int i = 0; i < n; ++i) lo = std::fmin(lo, x[i]), hi = std::fmax(hi, x[i]);
    if (!(hi > lo)) {  // all equal and <= 0: the offset alone represents them
        *s_out = 0, *b_out = lo;
        for (int i = 0; i < n; ++i) q[i] = 0;
        return;
    }
    float best_s = 0, best_b = 0, best_err = INFINITY;
    int trial[256];
    for (int t = -10; t <= 10; ++t) {
        const float s0 = (hi - lo) / (float(nmax) + 0.1f * float(t));
        round_affine(x, n, nmax, s0, lo, trial);
        float s, b;
        const float err = fit_affine(x, w, n, trial, &s, &b);
        if (err < best_err) {
            best_err = err, best_s = s, best_b = b;
            for (int i = 0; i < n; ++i) q[i] = trial[i];
        }
    }
    for (int it = 0; it < 8 && best_s != 0; ++it) {
        round_affine(x, n, nmax, best_s, best_b, trial);
        float s, b;
        const float err = fit_affine(x, w, n, trial, &s, &b);
        if (!(err < best_err)) break;
        best_err = err, best_s = s, best_b = b;
        for (int i = 0; i < n; ++i) q[i] = trial[i];
    }
    *s_out = best_s, *b_out = best_b;
}

// A super-block of nsub <= 32 sub-blocks of `sub` elements (at most 256 in all), each with a signed
// integer scale sc[j] in smin..smax (smin < 0) times the fp16 super-block d.
// Each sub-block scale is searched on its own, the largest in magnitude maps
// to smin (the wider end), and each integer scale is then nudged by +-1 if the
// re-rounded sub-block fits better. Returns d as fp16 bits; q gets indices.
template <typename Grid>
uint16_t quantize_scaled_superblock(const float* x, int nsub, int sub, const Grid& g, int smin, int smax,
                                    int* sc, int* q) {
    float w[256];
    importance_weights(x, nsub * sub, w);
    float s[32];
    for (int j = 0; j < nsub; ++j) s[j] = search_symmetric_scale(x + j * sub, w + j * sub, sub, g, q + j * sub);
    const uint16_t d16 = fp32_to_fp16(signed_absmax(s, nsub) / float(smin));
    const float d = fp16_to_fp32(d16);
    int trial[256];
    for (int j = 0; j < nsub; ++j) {
        const float* xj = x + j * sub;
        const int c0 = d != 0 ? round_clamp(s[j] / d, smin, smax) : 0;
        float best_err = INFINITY;
        for (const int c : {c0, c0 - 1, c0 + 1}) {  // c0 first: it wins ties
            if (c < smin || c > smax) continue;
            round_to_grid(xj, sub, d * float(c), g, trial);
            const float err = grid_error(xj, w + j * sub, sub, g, d * float(c), trial);
            if (err < best_err) {
                best_err = err, sc[j] = c;
                for (int i = 0; i < sub; ++i) q[j * sub + i] = trial[i];
            }
        }
    }
    return d16;
}

}  // namespace qlm::fmt
