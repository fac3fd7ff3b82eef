// The batch-invariant driver of the AVX2 m = 1..16 kernels: 8 weight rows at
// a time, one vector lane per row, in the float order of the panel GEMM
// (src/cpu/kernels.h, "Batch invariance"), so an output is the same bits
// whether it comes from here (decode, small batches) or from gemm.cpp.
//
// A decoder K gives, per weight block, its exact integer sums as 8-lane
// int32 partial vectors (their lanes are added in integers, so the partial
// layout does not matter) and its float scales:
//   kQK, kWBytes, kXBytes, kKind   (Plain, MinLegacy, MinK)
//   Dec, decode(w, Dec&), Dec::d (and Dec::m: the min / dmin)
//   isum(Dec, x, T&) -> S          (T: the bsum terms, MinK only)
//   xscale(x) (and xmin(x): Q8_1's s, MinLegacy only)
//   optional fused(w, x, S&, T&, d&, m&): decode and isum in one pass (m = 1)
// Per output, over the blocks b in order:
//   acc = fma(float(S), d_b * dx_b, acc)
//   MinLegacy: acc = fma(m_b, s_b, acc);  MinK: acc = fnmadd(float(T), m_b * dx_b, acc)
// Private to src/cpu/avx2/.
#pragma once

#include <vector>

#include "cpu/avx2/common.h"

namespace qlm::cpu::avx2 {

enum class DotKind { Plain, MinLegacy, MinK };

// Lane j = the sum of the 8 lanes of v[j] (exact: integers).
inline __m256i reduce8_epi32(const __m256i v[8]) {
    const __m256i h0 = _mm256_hadd_epi32(v[0], v[1]), h1 = _mm256_hadd_epi32(v[2], v[3]);
    const __m256i h2 = _mm256_hadd_epi32(v[4], v[5]), h3 = _mm256_hadd_epi32(v[6], v[7]);
    const __m256i g0 = _mm256_hadd_epi32(h0, h1), g1 = _mm256_hadd_epi32(h2, h3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20), _mm256_permute2x128_si256(g0, g1, 0x31));
}

// The activation facts per row and block: dx (and s for MinLegacy), [i * nb + b].
template <class K>
struct XFacts {
    static inline thread_local std::vector<float> d, s;
    static void prepare(const MatmulTile& t, int64_t nb) {
        d.resize(size_t(t.m * nb));
        if constexpr (K::kKind == DotKind::MinLegacy) s.resize(size_t(t.m * nb));
        for (int i = 0; i < t.m; ++i)
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t* x = t.x + i * t.x_stride + b * K::kXBytes;
                d[size_t(i * nb + b)] = K::xscale(x);
                if constexpr (K::kKind == DotKind::MinLegacy) s[size_t(i * nb + b)] = K::xmin(x);
            }
    }
};

// acc += one block's contribution for the 8 lanes, from the reduced sums.
template <class K>
inline __m256 accumulate(__m256 acc, const __m256i s[8], const __m256i t[8], __m256 dw, __m256 mw, float dx, float sx) {
    const __m256 vdx = _mm256_set1_ps(dx);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8_epi32(s)), _mm256_mul_ps(dw, vdx), acc);
    if constexpr (K::kKind == DotKind::MinLegacy) acc = _mm256_fmadd_ps(mw, _mm256_set1_ps(sx), acc);
    if constexpr (K::kKind == DotKind::MinK)
        acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(reduce8_epi32(t)), _mm256_mul_ps(mw, vdx), acc);
    return acc;
}

inline void store_lanes(__m256 v, float* y, int valid) {
    if (valid == 8) return _mm256_storeu_ps(y, v);
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    std::copy(tmp, tmp + valid, y);
}

// acc = fma(s, sc, acc) in scalar (one output's chain).
inline float fma1(float s, float sc, float acc) { return __builtin_fmaf(s, sc, acc); }

inline int32_t hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

// One block's integer sums and scales, decoded and multiplied in one pass.
template <class K>
inline void block_sums(const uint8_t* w, const uint8_t* x, __m256i& s, __m256i& t, float& d, float& m) {
    if constexpr (requires(__m256i v, float f) { K::fused(w, x, v, v, f, f); }) {
        K::fused(w, x, s, t, d, m);
    } else {
        typename K::Dec dec;
        K::decode(w, dec);
        s = K::isum(dec, x, t);
        d = dec.d, m = dec.m;
    }
}

// 8 consecutive blocks of one row: their sums reduced as they come (the lane
// order of reduce8_epi32, few vectors live at once), scaled 8 at a time.
template <class K>
inline void chunk8(const uint8_t* w, const uint8_t* x, const float* xd, float* S, float* SC, float* T, float* MC,
                   float* M) {
    constexpr size_t W = K::kWBytes, X = K::kXBytes;
    __m256i g[2], gt[2];
    float d[8];
    for (int q = 0; q < 2; ++q) {
        __m256i h[2], ht[2];
        for (int p = 0; p < 2; ++p) {
            const int c = 4 * q + 2 * p;
            __m256i s0, s1, t0 = _mm256_setzero_si256(), t1 = t0;
            block_sums<K>(w + c * W, x + c * X, s0, t0, d[c], M[c]);
            block_sums<K>(w + (c + 1) * W, x + (c + 1) * X, s1, t1, d[c + 1], M[c + 1]);
            h[p] = _mm256_hadd_epi32(s0, s1);
            if constexpr (K::kKind == DotKind::MinK) ht[p] = _mm256_hadd_epi32(t0, t1);
        }
        g[q] = _mm256_hadd_epi32(h[0], h[1]);
        if constexpr (K::kKind == DotKind::MinK) gt[q] = _mm256_hadd_epi32(ht[0], ht[1]);
    }
    auto fold = [](const __m256i* v) {
        return _mm256_add_epi32(_mm256_permute2x128_si256(v[0], v[1], 0x20), _mm256_permute2x128_si256(v[0], v[1], 0x31));
    };
    const __m256 vdx = _mm256_loadu_ps(xd);
    _mm256_store_ps(S, _mm256_cvtepi32_ps(fold(g)));
    _mm256_store_ps(SC, _mm256_mul_ps(_mm256_loadu_ps(d), vdx));
    if constexpr (K::kKind == DotKind::MinK) {
        _mm256_store_ps(T, _mm256_cvtepi32_ps(fold(gt)));
        _mm256_store_ps(MC, _mm256_mul_ps(_mm256_loadu_ps(M), vdx));
    }
}

// m = 1: R weight rows at a time, each read from start to end (R sequential
// streams; reading 8 rows block by block side by side ran at a third of the
// bandwidth), nothing stored per block. The outputs' chains take the scaled
// sums in block order as scalar fmas; R chains side by side hide their latency.
template <class K, int R>
void rows_m1_r(const MatmulTile& t, int64_t r, const float* xd, const float* xs) {
    constexpr size_t W = K::kWBytes, X = K::kXBytes;
    const int64_t nb = t.k / K::kQK;
    float acc[R];
    for (int j = 0; j < R; ++j) acc[j] = 0.0f;
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        alignas(32) float S[R][8], SC[R][8], T[R][8], MC[R][8], M[R][8];
        for (int j = 0; j < R; ++j)
            chunk8<K>(t.w + (r + j) * t.w_stride + b * W, t.x + b * X, xd + b, S[j], SC[j], T[j], MC[j], M[j]);
        for (int c = 0; c < 8; ++c)
            for (int j = 0; j < R; ++j) {
                acc[j] = fma1(S[j][c], SC[j][c], acc[j]);
                if constexpr (K::kKind == DotKind::MinLegacy) acc[j] = fma1(M[j][c], xs[b + c], acc[j]);
                if constexpr (K::kKind == DotKind::MinK) acc[j] = fma1(-T[j][c], MC[j][c], acc[j]);
            }
    }
    for (; b < nb; ++b)
        for (int j = 0; j < R; ++j) {
            __m256i s, tt = _mm256_setzero_si256();
            float d, m;
            block_sums<K>(t.w + (r + j) * t.w_stride + b * W, t.x + b * X, s, tt, d, m);
            acc[j] = fma1(float(hsum_epi32(s)), d * xd[b], acc[j]);
            if constexpr (K::kKind == DotKind::MinLegacy) acc[j] = fma1(m, xs[b], acc[j]);
            if constexpr (K::kKind == DotKind::MinK) acc[j] = fma1(-float(hsum_epi32(tt)), m * xd[b], acc[j]);
        }
    for (int j = 0; j < R; ++j) t.y[r + j] = acc[j];
}

template <class K>
void rows_m1(const MatmulTile& t, const float* xd, const float* xs) {
    constexpr int R = 2;
    int64_t r = t.r0;
    for (; r + R <= t.r1; r += R) rows_m1_r<K, R>(t, r, xd, xs);
    for (; r < t.r1; ++r) rows_m1_r<K, 1>(t, r, xd, xs);
}

// m = 2..16: one weight row at a time (a sequential stream), each block
// decoded once and multiplied into every activation row; the sums of 8
// activation rows reduced together, lane = activation row, and scaled and
// added 8 outputs per instruction. Nothing is stored per block.
template <class K>
void rows_mx(const MatmulTile& t) {
    constexpr size_t W = K::kWBytes, X = K::kXBytes;
    constexpr bool kT = K::kKind == DotKind::MinK, kL = K::kKind == DotKind::MinLegacy;
    const int64_t nb = t.k / K::kQK;
    const int m = t.m, groups = (m + 7) / 8;
    // activation facts by block, 16 lanes (rows past m: zeros)
    static thread_local std::vector<float> xdt, xst;
    xdt.assign(size_t(nb * 16), 0.0f);
    if (kL) xst.assign(size_t(nb * 16), 0.0f);
    for (int i = 0; i < m; ++i)
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* x = t.x + i * t.x_stride + b * X;
            xdt[size_t(b * 16 + i)] = K::xscale(x);
            if constexpr (kL) xst[size_t(b * 16 + i)] = K::xmin(x);
        }
    const float* xd = xdt.data();
    const float* xs = kL ? xst.data() : nullptr;
    for (int64_t r = t.r0; r < t.r1; ++r) {
        const uint8_t* w = t.w + r * t.w_stride;
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int64_t b = 0; b < nb; ++b) {
            typename K::Dec dec;
            K::decode(w + b * W, dec);
            const uint8_t* xb = t.x + b * X;
            for (int g = 0; g < groups; ++g) {
                __m256i h[4], ht[4];
                for (int p = 0; p < 4; ++p) {
                    const int i0 = 8 * g + 2 * p, i1 = i0 + 1;
                    __m256i s0 = _mm256_setzero_si256(), s1 = s0, t0 = s0, t1 = s0;
                    if (i0 < m) s0 = K::isum(dec, xb + i0 * t.x_stride, t0);
                    if (i1 < m) s1 = K::isum(dec, xb + i1 * t.x_stride, t1);
                    h[p] = _mm256_hadd_epi32(s0, s1);
                    if constexpr (kT) ht[p] = _mm256_hadd_epi32(t0, t1);
                }
                auto fold = [](const __m256i* v) {
                    const __m256i g0 = _mm256_hadd_epi32(v[0], v[1]), g1 = _mm256_hadd_epi32(v[2], v[3]);
                    return _mm256_add_epi32(_mm256_permute2x128_si256(g0, g1, 0x20),
                                            _mm256_permute2x128_si256(g0, g1, 0x31));
                };
                const __m256 vdx = _mm256_loadu_ps(xd + b * 16 + 8 * g);
                acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(fold(h)), _mm256_mul_ps(_mm256_set1_ps(dec.d), vdx), acc[g]);
                if constexpr (kL) acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(dec.m), _mm256_loadu_ps(xs + b * 16 + 8 * g), acc[g]);
                if constexpr (kT)
                    acc[g] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(fold(ht)), _mm256_mul_ps(_mm256_set1_ps(dec.m), vdx), acc[g]);
            }
        }
        alignas(32) float out[16];
        _mm256_store_ps(out, acc[0]);
        _mm256_store_ps(out + 8, acc[1]);
        for (int i = 0; i < m; ++i) t.y[i * t.ldy + r] = out[i];
    }
}

template <class K>
void rows8(const MatmulTile& t) {
    if (t.m > 1) return rows_mx<K>(t);
    const int64_t nb = t.k / K::kQK;
    XFacts<K>::prepare(t, nb);
    rows_m1<K>(t, XFacts<K>::d.data(), XFacts<K>::s.data());
}

}  // namespace qlm::cpu::avx2
