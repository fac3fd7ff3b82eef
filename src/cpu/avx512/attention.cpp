// Attention's inner loops at 512 bits, for the CPUs where 512-bit vectors
// measured faster (cpu_prefers_512; elsewhere the AVX2 ones). The contract
// of cpu/kernels.h: a query's scores and weighted sums are the same bits
// whatever nq is (the key blocks and the reduction below do not depend on
// it). Twice the AVX2 loops' multiply-adds per instruction: the F16 rows
// are converted 16 elements at a time and each converted piece serves up
// to 4 queries x 4 keys (scores) or 4 queries (weighted sums).
// GCC 12 sees the _mm512_undefined_* inside _mm512_cvtph_ps as "may be used
// uninitialized" once inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "cpu/avx512/simd.h"
#include "cpu/x86/transpose.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace {

// Elements e .. e + 15 of a cache row as floats (binary16 converted
// exactly); the masked form for the last elements of a row (the rest zero).
template <class E>
inline __m512 load16(const E* p) {
    if constexpr (sizeof(E) == 2)
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    else
        return _mm512_loadu_ps(p);
}
template <class E>
inline __m512 load16(const E* p, __mmask16 m) {
    if constexpr (sizeof(E) == 2)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    else
        return _mm512_maskz_loadu_ps(m, p);
}
inline __mmask16 first(int n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }

// The horizontal sums of a[0..15] as lanes 0..15, one order for every
// accumulator: lane j + lane j + 8 (half_sum), then hsum8_ps's tree.
inline __m256 half_sum(__m512 a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}

// Q queries against KB keys at a time (Q * KB <= 16, unused accumulators
// zero); the last keys one at a time through the same reduction.
template <class E, int Q, int KB>
void scores_blk(const float* q, int64_t qs, const E* k, int64_t ld, int64_t n, int d, float scale, float* out,
                int64_t os) {
    static_assert(Q * KB <= 16);
    const __m512 vs = _mm512_set1_ps(scale);
    int64_t j = 0;
    for (; j + KB <= n; j += KB) {
        __m512 acc[16];
        for (int a = 0; a < 16; ++a) acc[a] = _mm512_setzero_ps();
        int e = 0;
        for (; e + 16 <= d; e += 16) {
            __m512 kv[KB];
            for (int b = 0; b < KB; ++b) kv[b] = load16(k + (j + b) * ld + e);
            for (int i = 0; i < Q; ++i) {
                const __m512 qv = _mm512_loadu_ps(q + i * qs + e);
                for (int b = 0; b < KB; ++b) acc[i * KB + b] = _mm512_fmadd_ps(qv, kv[b], acc[i * KB + b]);
            }
        }
        if (e < d) {  // the same lanes, the missing elements zero
            const __mmask16 m = first(d - e);
            __m512 kv[KB];
            for (int b = 0; b < KB; ++b) kv[b] = load16(k + (j + b) * ld + e, m);
            for (int i = 0; i < Q; ++i) {
                const __m512 qv = _mm512_maskz_loadu_ps(m, q + i * qs + e);
                for (int b = 0; b < KB; ++b) acc[i * KB + b] = _mm512_fmadd_ps(qv, kv[b], acc[i * KB + b]);
            }
        }
        __m256 h[16];
        for (int a = 0; a < 16; ++a) h[a] = half_sum(acc[a]);
        alignas(64) float r[16];
        _mm512_store_ps(r, _mm512_mul_ps(_mm512_insertf32x8(_mm512_castps256_ps512(hsum8_ps(h)), hsum8_ps(h + 8), 1), vs));
        for (int i = 0; i < Q; ++i)
            for (int b = 0; b < KB; ++b) out[i * os + j + b] = r[i * KB + b];
    }
    if constexpr (KB > 1)
        if (j < n) scores_blk<E, Q, 1>(q, qs, k + j * ld, ld, n - j, d, scale, out + j, os);
}

template <class E>
void scores_e(const float* q, int nq, int64_t qs, const E* k, int64_t ld, int64_t n, int d, float scale, float* out,
              int64_t os) {
    static_assert(kAttnQ == 4);
    switch (nq) {
        case 4: return scores_blk<E, 4, 4>(q, qs, k, ld, n, d, scale, out, os);
        case 3: return scores_blk<E, 3, 4>(q, qs, k, ld, n, d, scale, out, os);
        case 2: return scores_blk<E, 2, 8>(q, qs, k, ld, n, d, scale, out, os);
        default:
            for (int i = 0; i < nq; ++i) scores_blk<E, 1, 16>(q + i * qs, qs, k, ld, n, d, scale, out + i * os, os);
    }
}

void attn_scores(const float* q, int nq, int64_t qs, KvRows k, int64_t n, int d, float scale, float* out, int64_t os) {
    if (k.f16) return scores_e(q, nq, qs, static_cast<const uint16_t*>(k.data), k.ld, n, d, scale, out, os);
    scores_e(q, nq, qs, static_cast<const float*>(k.data), k.ld, n, d, scale, out, os);
}

// Q queries, C x 16 columns of v at a time: each value row piece is loaded
// once for all queries; per query and column the sum runs over j in order.
template <class E, int Q, int C, bool Full>
void wsum_cols(const float* p, int64_t ps, const E* v, int64_t ld, int64_t n, int e, int d, float* out, int64_t os) {
    __m512 acc[Q][C];
    __mmask16 m[C];
    for (int c = 0; c < C; ++c) {
        m[c] = first(d - e - 16 * c);
        for (int i = 0; i < Q; ++i) acc[i][c] = _mm512_maskz_loadu_ps(m[c], out + i * os + e + 16 * c);
    }
    for (int64_t j = 0; j < n; ++j) {
        __m512 vv[C];
        for (int c = 0; c < C; ++c)
            vv[c] = Full ? load16(v + j * ld + e + 16 * c) : load16(v + j * ld + e + 16 * c, m[c]);
        for (int i = 0; i < Q; ++i) {
            const __m512 pj = _mm512_set1_ps(p[i * ps + j]);
            for (int c = 0; c < C; ++c) acc[i][c] = _mm512_fmadd_ps(pj, vv[c], acc[i][c]);
        }
    }
    for (int i = 0; i < Q; ++i)
        for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(out + i * os + e + 16 * c, m[c], acc[i][c]);
}

template <class E, int Q>
void wsum_q(const float* p, int64_t ps, const E* v, int64_t ld, int64_t n, int d, float* out, int64_t os) {
    int e = 0;
    for (; e + 64 <= d; e += 64) wsum_cols<E, Q, 4, true>(p, ps, v, ld, n, e, d, out, os);
    for (; e + 16 <= d; e += 16) wsum_cols<E, Q, 1, true>(p, ps, v, ld, n, e, d, out, os);
    if (e < d) wsum_cols<E, Q, 1, false>(p, ps, v, ld, n, e, d, out, os);
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

void attn_wsum(const float* p, int nq, int64_t ps, KvRows v, int64_t n, int d, float* out, int64_t os) {
    if (v.f16) return wsum_e(p, nq, ps, static_cast<const uint16_t*>(v.data), v.ld, n, d, out, os);
    wsum_e(p, nq, ps, static_cast<const float*>(v.data), v.ld, n, d, out, os);
}

}  // namespace

void register_attention(KernelTable& k) {
    k.attn_scores = attn_scores;
    k.attn_wsum = attn_wsum;
}

}  // namespace qlm::cpu::QLM_AVX512_NS
