// AVX2 float loops of the transformer blocks: attention scores / weighted sums
// over float rows, and the gated GELU-tanh / SiLU activations with a
// vectorized exp (Cody-Waite range reduction, degree-6 polynomial, relative
// error ~2 ulp over the clamped range).
#include <algorithm>
#include <cmath>

#include "cpu/avx2/common.h"
#include "cpu/gelu_table.h"
#include "cpu/x86/transpose.h"

namespace qlm::cpu::avx2 {
namespace {

// The elements past the last whole vector of an element-wise loop: the
// scalar kernel (baseline code, cpu/scalar/), which computes each element as
// the vector code does (F16C and fmt's conversions agree bit for bit).
template <class Fn>
inline Fn scalar_tail(Fn KernelTable::*m) {
    return scalar_kernels().*m;
}

inline __m256 exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// x · sigmoid(z) = x / (1 + exp(-z))
inline __m256 x_sigmoid(__m256 x, __m256 z) {
    const __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(x, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), z))));
}

// GELU through the shared F16 table (cpu/gelu_table.h): F16C rounds the
// inputs, a 32-bit gather fetches the table entries.
void gelu_tanh_mul(float* g, const float* u, int64_t n) {
    const uint16_t* table = gelu_f16_table();
    const int* base = reinterpret_cast<const int*>(table);  // byte-addressed by the gather (scale 1)
    int64_t j = 0;
    const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
    for (; j + 8 <= n; j += 8) {
        const __m256 x = _mm256_loadu_ps(g + j);
        const __m256i h = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        // 32 bits at byte offset 2h; the low half is the entry.
        const __m256i t = _mm256_and_si256(_mm256_i32gather_epi32(base, _mm256_slli_epi32(h, 1), 1),
                                           _mm256_set1_epi32(0xffff));
        const __m256i packed = _mm256_packus_epi32(t, _mm256_setzero_si256());  // per 128-bit lane
        __m256 a = _mm256_cvtph_ps(
            _mm_unpacklo_epi64(_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1)));
        a = _mm256_blendv_ps(a, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LE_OQ));
        a = _mm256_blendv_ps(a, x, _mm256_cmp_ps(x, hi, _CMP_GE_OQ));
        _mm256_storeu_ps(g + j, _mm256_mul_ps(a, _mm256_loadu_ps(u + j)));
    }
    if (j < n) scalar_tail(&KernelTable::gelu_tanh_mul)(g + j, u + j, n - j);
}

// Runs f(g8, u8) over 8-float groups; a tail of fewer than 8 goes through
// the same vector code from a padded copy, so an element's result never
// depends on where it sits in the array (batch invariance).
template <class F>
inline void by8(float* g, const float* u, int64_t n, F&& f) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) f(g + j, u + j);
    if (j < n) {
        alignas(32) float gt[8] = {}, ut[8] = {};
        std::copy(g + j, g + n, gt), std::copy(u + j, u + n, ut);
        f(gt, ut);
        std::copy(gt, gt + (n - j), g + j);
    }
}

void silu_mul(float* g, const float* u, int64_t n) {
    by8(g, u, n, [](float* g8, const float* u8) {
        const __m256 x = _mm256_loadu_ps(g8);
        _mm256_storeu_ps(g8, _mm256_mul_ps(x_sigmoid(x, x), _mm256_loadu_ps(u8)));
    });
}

void swiglu_oai_mul(float* g, const float* u, int64_t n, float alpha, float limit) {
    const __m256 a = _mm256_set1_ps(alpha), lim = _mm256_set1_ps(limit), nlim = _mm256_set1_ps(-limit);
    const __m256 one = _mm256_set1_ps(1.0f);
    by8(g, u, n, [&](float* g8, const float* u8) {
        const __m256 x = _mm256_min_ps(_mm256_loadu_ps(g8), lim);
        const __m256 y = _mm256_min_ps(_mm256_max_ps(_mm256_loadu_ps(u8), nlim), lim);
        _mm256_storeu_ps(g8, _mm256_mul_ps(x_sigmoid(x, _mm256_mul_ps(a, x)), _mm256_add_ps(y, one)));
    });
}

// 8 elements of a cache row as floats (binary16 converted exactly).
template <class E>
inline __m256 load8(const E* p) {
    if constexpr (sizeof(E) == 2)
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    else
        return _mm256_loadu_ps(p);
}
template <class E>
inline float load1(const E* p) {
    if constexpr (sizeof(E) == 2)
        return _cvtsh_ss(*p);
    else
        return *p;
}

// Q queries against key j: per query two 8-lane accumulators over 16
// elements, then 8, a horizontal sum, the tail.
template <class E, int Q>
void scores_q(const float* q, int64_t qs, const E* k, int64_t ld, int64_t n, int d, float scale, float* out,
              int64_t os) {
    for (int64_t j = 0; j < n; ++j) {
        const E* kj = k + j * ld;
        __m256 acc0[Q], acc1[Q];
        for (int i = 0; i < Q; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
        int e = 0;
        for (; e + 16 <= d; e += 16) {
            const __m256 k0 = load8(kj + e), k1 = load8(kj + e + 8);
            for (int i = 0; i < Q; ++i) {
                acc0[i] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i * qs + e), k0, acc0[i]);
                acc1[i] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i * qs + e + 8), k1, acc1[i]);
            }
        }
        for (; e + 8 <= d; e += 8) {
            const __m256 k0 = load8(kj + e);
            for (int i = 0; i < Q; ++i) acc0[i] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i * qs + e), k0, acc0[i]);
        }
        for (int i = 0; i < Q; ++i) {
            float s = hsum(_mm256_add_ps(acc0[i], acc1[i]));
            for (int t = e; t < d; ++t) s += q[i * qs + t] * load1(kj + t);
            out[i * os + j] = s * scale;
        }
    }
}


// Q queries against KB keys at a time (Q * KB <= 8): one accumulator per
// (key, query) pair, 8 elements per step, so each q piece is loaded once per
// KB keys and the 8 horizontal sums share one reduction (the same lane
// order for every accumulator). Needs d % 8 == 0.
template <class E, int Q, int KB>
void scores_blk(const float* q, int64_t qs, const E* k, int64_t ld, int64_t n, int d, float scale, float* out,
                int64_t os) {
    static_assert(Q * KB <= 8);  // unused accumulators stay zero
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t j = 0;
    for (; j + KB <= n; j += KB) {
        __m256 acc[8];
        for (int a = 0; a < 8; ++a) acc[a] = _mm256_setzero_ps();
        for (int e = 0; e < d; e += 8) {
            __m256 kv[KB];
            for (int b = 0; b < KB; ++b) kv[b] = load8(k + (j + b) * ld + e);
            for (int i = 0; i < Q; ++i) {
                const __m256 qv = _mm256_loadu_ps(q + i * qs + e);
                for (int b = 0; b < KB; ++b) acc[i * KB + b] = _mm256_fmadd_ps(qv, kv[b], acc[i * KB + b]);
            }
        }
        alignas(32) float r[8];
        _mm256_store_ps(r, _mm256_mul_ps(hsum8_ps(acc), vs));
        for (int i = 0; i < Q; ++i)
            for (int b = 0; b < KB; ++b) out[i * os + j + b] = r[i * KB + b];
    }
    // the last keys one at a time: the same per-pair order as above, so a
    // query's scores do not depend on nq
    if constexpr (KB > 1)
        if (j < n) scores_blk<E, Q, 1>(q, qs, k + j * ld, ld, n - j, d, scale, out + j, os);
}

template <class E>
void scores_e(const float* q, int nq, int64_t qs, const E* k, int64_t ld, int64_t n, int d, float scale, float* out,
              int64_t os) {
    if (d % 8 == 0) switch (nq) {
            case 4: return scores_blk<E, 4, 2>(q, qs, k, ld, n, d, scale, out, os);
            case 3: return scores_blk<E, 3, 2>(q, qs, k, ld, n, d, scale, out, os);
            case 2: return scores_blk<E, 2, 4>(q, qs, k, ld, n, d, scale, out, os);
            case 1: return scores_blk<E, 1, 8>(q, qs, k, ld, n, d, scale, out, os);
        }
    switch (nq) {
        case 4: return scores_q<E, 4>(q, qs, k, ld, n, d, scale, out, os);
        case 3: return scores_q<E, 3>(q, qs, k, ld, n, d, scale, out, os);
        case 2: return scores_q<E, 2>(q, qs, k, ld, n, d, scale, out, os);
        default:
            for (int i = 0; i < nq; ++i) scores_q<E, 1>(q + i * qs, qs, k, ld, n, d, scale, out + i * os, os);
    }
}

void attn_scores(const float* q, int nq, int64_t qs, KvRows k, int64_t n, int d, float scale, float* out, int64_t os) {
    if (k.f16) return scores_e(q, nq, qs, static_cast<const uint16_t*>(k.data), k.ld, n, d, scale, out, os);
    scores_e(q, nq, qs, static_cast<const float*>(k.data), k.ld, n, d, scale, out, os);
}

// Q queries, 16 columns of v at a time: each value row piece is loaded once
// for all queries; per query and column the sum runs over j in order.
template <class E, int Q>
void wsum_q(const float* p, int64_t ps, const E* v, int64_t ld, int64_t n, int d, float* out, int64_t os) {
    int e = 0;
    for (; e + 16 <= d; e += 16) {
        __m256 a0[Q], a1[Q];
        for (int i = 0; i < Q; ++i) {
            a0[i] = _mm256_loadu_ps(out + i * os + e);
            a1[i] = _mm256_loadu_ps(out + i * os + e + 8);
        }
        for (int64_t j = 0; j < n; ++j) {
            const E* vj = v + j * ld + e;
            const __m256 v0 = load8(vj), v1 = load8(vj + 8);
            for (int i = 0; i < Q; ++i) {
                const __m256 pj = _mm256_set1_ps(p[i * ps + j]);
                a0[i] = _mm256_fmadd_ps(pj, v0, a0[i]);
                a1[i] = _mm256_fmadd_ps(pj, v1, a1[i]);
            }
        }
        for (int i = 0; i < Q; ++i) {
            _mm256_storeu_ps(out + i * os + e, a0[i]);
            _mm256_storeu_ps(out + i * os + e + 8, a1[i]);
        }
    }
    for (; e + 8 <= d; e += 8)
        for (int i = 0; i < Q; ++i) {
            __m256 acc = _mm256_loadu_ps(out + i * os + e);
            for (int64_t j = 0; j < n; ++j)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(p[i * ps + j]), load8(v + j * ld + e), acc);
            _mm256_storeu_ps(out + i * os + e, acc);
        }
    for (; e < d; ++e)
        for (int i = 0; i < Q; ++i)
            for (int64_t j = 0; j < n; ++j) out[i * os + e] += p[i * ps + j] * load1(v + j * ld + e);
}

template <class E>
void wsum_e(const float* p, int nq, int64_t ps, const E* v, int64_t ld, int64_t n, int d, float* out, int64_t os) {
    switch (nq) {
        case 4: return wsum_q<E, 4>(p, ps, v, ld, n, d, out, os);
        case 3: return wsum_q<E, 3>(p, ps, v, ld, n, d, out, os);
        case 2: return wsum_q<E, 2>(p, ps, v, ld, n, d, out, os);
        default:
            for (int i = 0; i < nq; ++i) wsum_q<E, 1>(p + i * ps, ps, v, ld, n, d, out + i * os, os);
    }
}

// F16C rounds to nearest even, as fmt::fp32_to_fp16 does (NaN included).
void round_f16(float* x, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm256_storeu_ps(x + j, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + j), _MM_FROUND_TO_NEAREST_INT)));
    if (j < n) scalar_tail(&KernelTable::round_f16)(x + j, n - j);
}

// exp256 (about 2 ulp, as ggml's own vectorized softmax exp) 8 at a time.
double exp_sum(float* x, int64_t n, float* max_out) {
    int64_t j = 0;
    __m256 m8 = _mm256_set1_ps(-INFINITY);
    for (; j + 8 <= n; j += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(x + j));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float mx = _mm_cvtss_f32(m4);
    for (; j < n; ++j) mx = std::max(mx, x[j]);
    if (max_out) *max_out = mx;
    const __m256 vm = _mm256_set1_ps(mx);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    for (j = 0; j + 8 <= n; j += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
        _mm256_storeu_ps(x + j, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    alignas(32) double t[4];
    _mm256_store_pd(t, _mm256_add_pd(s0, s1));
    double sum = (t[0] + t[1]) + (t[2] + t[3]);
    for (; j < n; ++j) {
        x[j] = std::exp(x[j] - mx);
        sum += x[j];
    }
    return sum;
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + j), _mm256_cvtps_ph(_mm256_loadu_ps(x + j), _MM_FROUND_TO_NEAREST_INT));
    if (j < n) scalar_tail(&KernelTable::f32_to_f16)(x + j, y + j, n - j);
}

void attn_wsum(const float* p, int nq, int64_t ps, KvRows v, int64_t n, int d, float* out, int64_t os) {
    if (v.f16) return wsum_e(p, nq, ps, static_cast<const uint16_t*>(v.data), v.ld, n, d, out, os);
    wsum_e(p, nq, ps, static_cast<const float*>(v.data), v.ld, n, d, out, os);
}

}  // namespace

void register_activations(KernelTable& k) {
    k.attn_scores = attn_scores;
    k.attn_wsum = attn_wsum;
    k.round_f16 = round_f16;
    k.f32_to_f16 = f32_to_f16;
    k.exp_sum = exp_sum;
    k.gelu_tanh_mul = gelu_tanh_mul;
    k.silu_mul = silu_mul;
    k.swiglu_oai_mul = swiglu_oai_mul;
}

}  // namespace qlm::cpu::avx2
