// AVX-512 VNNI kernels for the 32-element block formats: Q4_0, Q5_0, Q8_0,
// IQ4_NL, MXFP4 (Q8_0 activations) and Q4_1, Q5_1 (a min, Q8_1 activations).
//
// Every weight block decodes to 32 unsigned bytes u = q + Off (Q4_0: q + 8,
// Q5_0: q + 16, the signed types: q + 128 through their table), so one
// vpdpbusd multiplies it with the signed activation bytes; the exact block
// sum is S = <u, x> - Off * sum(x), with sum(x) computed once per activation
// block. Eight weight rows go together: their eight vpdpbusd vectors reduce
// to one vector of eight S (lane j: row j), and each output follows the
// batch-invariance order of cpu/kernels.h in its own lane:
//   acc = fma(float(S), dw * dx, acc)  [+ fma(m, s, acc) for Q4_1/Q5_1]
// The same code runs for m = 1 and every tile, so an output does not depend
// on m; the scales of 8 rows come in with one gather per block.
#include "cpu/avx512/legacy_decode.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace {

// Per activation row and block: dx (its scale), off = Off * sum(x) (offset
// kinds) or s (Q8_1's d * sum, Min kinds). Computed once per call.
template <class K>
struct XFacts {
    const float* dx;
    const float* s;
    const int32_t* off;
};

template <class K>
XFacts<K> activation_facts(const MatmulTile& t, int64_t nb) {
    const size_t n = size_t(t.m * nb);
    float* dx = static_cast<float*>(scratch(0, n * 4));
    float* s = static_cast<float*>(scratch(1, n * 4));
    int32_t* off = static_cast<int32_t*>(scratch(2, n * 4));
    for (int i = 0; i < t.m; ++i)
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* x = t.x + i * t.x_stride + b * K::kXBytes;
            const size_t o = size_t(i * nb + b);
            dx[o] = f16(x);
            if constexpr (K::kMin) {
                s[o] = f16(x + 2);
                off[o] = 0;
            } else {
                s[o] = 0;
                off[o] = K::kOff * sum_i8(load256(x + K::kXQs));
            }
        }
    return {dx, s, off};
}

// acc[i] (lane j: output of row j) += block b of the 8 rows times activation row i.
template <class K, int G>
inline void apply_block(const __m256i u[8], __m256 dw, __m256 mw, const uint8_t* x, size_t xs, const XFacts<K>& f,
                        size_t o, int64_t nb, __m256* acc) {
    for (int i = 0; i < G; ++i) {
        const __m256i xq = load256(x + i * xs + K::kXQs);
        __m256i v[8];
        for (int j = 0; j < 8; ++j) v[j] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u[j], xq);
        __m256i s = reduce8(v);
        const size_t oi = o + size_t(i * nb);
        if constexpr (!K::kMin) s = _mm256_sub_epi32(s, _mm256_set1_epi32(f.off[oi]));
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(f.dx[oi])), acc[i]);
        if constexpr (K::kMin) acc[i] = _mm256_fmadd_ps(mw, _mm256_set1_ps(f.s[oi]), acc[i]);
    }
}

template <class K, int G>
void rows8(const MatmulTile& t, int64_t r, int rows, int i0, const XFacts<K>& f) {
    const int64_t nb = t.k / 32;
    const uint8_t* w = t.w + r * t.w_stride;
    const __m256i offs = row_offsets(t.w_stride, rows);
    __m256 acc[G];
    for (int i = 0; i < G; ++i) acc[i] = _mm256_setzero_ps();
    const uint8_t* x = t.x + i0 * t.x_stride;
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* wb = w + b * K::kWBytes;
        __m256 dw, mw;
        K::scales(gather32(wb, offs), dw, mw);
        __m256i u[8];
        for (int j = 0; j < 8; ++j) u[j] = K::codes(wb + (j < rows ? j : rows - 1) * t.w_stride);
        apply_block<K, G>(u, dw, mw, x + b * K::kXBytes, t.x_stride, f, size_t(i0 * nb + b), nb, acc);
    }
    for (int i = 0; i < G; ++i) store_lanes(t.y + (i0 + i) * t.ldy + r, acc[i], rows);
}

// m = 1: row after row (adjacent rows are one sequential stream), 8 blocks
// at a time with lane c = block b0 + c; the per-output chain of fmas then runs
// over the lanes in block order, two rows interleaved to hide its latency.
template <class K, int R>
inline void row_blocks(const MatmulTile& t, int64_t r, const XFacts<K>& f, const __m256i boffs) {
    const int64_t nb = t.k / 32;
    __m128 acc[R];
    for (int q = 0; q < R; ++q) acc[q] = _mm_setzero_ps();
    int64_t b0 = 0;
    for (; b0 + 8 <= nb; b0 += 8) {
        alignas(32) float sf[R][8], p[R][8], mm[R][8];
        const __m256 dx = _mm256_loadu_ps(f.dx + b0);
        for (int q = 0; q < R; ++q) {
            const uint8_t* w = t.w + (r + q) * t.w_stride + b0 * K::kWBytes;
            __m256i v[8];
            for (int c = 0; c < 8; ++c)
                v[c] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), K::codes(w + c * K::kWBytes),
                                           load256(t.x + (b0 + c) * K::kXBytes + K::kXQs));
            __m256i s = reduce8(v);
            if constexpr (!K::kMin) s = _mm256_sub_epi32(s, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f.off + b0)));
            __m256 dw, mw;
            K::scales(gather32(w, boffs), dw, mw);
            _mm256_store_ps(sf[q], _mm256_cvtepi32_ps(s));
            _mm256_store_ps(p[q], _mm256_mul_ps(dw, dx));
            if constexpr (K::kMin) _mm256_store_ps(mm[q], mw);
        }
        for (int c = 0; c < 8; ++c)
            for (int q = 0; q < R; ++q) {
                acc[q] = _mm_fmadd_ss(_mm_set_ss(sf[q][c]), _mm_set_ss(p[q][c]), acc[q]);
                if constexpr (K::kMin) acc[q] = _mm_fmadd_ss(_mm_set_ss(mm[q][c]), _mm_set_ss(f.s[b0 + c]), acc[q]);
            }
    }
    for (; b0 < nb; ++b0)
        for (int q = 0; q < R; ++q) {
            const uint8_t* w = t.w + (r + q) * t.w_stride + b0 * K::kWBytes;
            const __m256i xq = load256(t.x + b0 * K::kXBytes + K::kXQs);
            int32_t s = hsum_i32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), K::codes(w), xq));
            if constexpr (!K::kMin) s -= f.off[b0];
            float d, m;
            K::scalar_scales(w, d, m);
            acc[q] = _mm_fmadd_ss(_mm_set_ss(float(s)), _mm_set_ss(d * f.dx[b0]), acc[q]);
            if constexpr (K::kMin) acc[q] = _mm_fmadd_ss(_mm_set_ss(m), _mm_set_ss(f.s[b0]), acc[q]);
        }
    for (int q = 0; q < R; ++q) t.y[r + q] = _mm_cvtss_f32(acc[q]);
}

template <class K>
void gemv(const MatmulTile& t, const XFacts<K>& f) {
    alignas(32) int32_t o[8];
    for (int c = 0; c < 8; ++c) o[c] = int32_t(c * K::kWBytes);
    const __m256i boffs = _mm256_load_si256(reinterpret_cast<const __m256i*>(o));
    int64_t r = t.r0;
    for (; r + 2 <= t.r1; r += 2) row_blocks<K, 2>(t, r, f, boffs);
    if (r < t.r1) row_blocks<K, 1>(t, r, f, boffs);
}

// Activation rows in groups of up to 4 (the accumulators and the eight
// decoded blocks stay in registers).
template <class K>
void tile(const MatmulTile& t) {
    const int64_t nb = t.k / 32;
    const XFacts<K> f = activation_facts<K>(t, nb);
    if (t.m == 1) return gemv<K>(t, f);
    for (int64_t r = t.r0; r < t.r1; r += 8) {
        const int rows = int(imin(8, t.r1 - r));
        int i = 0;
        for (; i + 4 <= t.m; i += 4) rows8<K, 4>(t, r, rows, i, f);
        switch (t.m - i) {
            case 3: rows8<K, 3>(t, r, rows, i, f); break;
            case 2: rows8<K, 2>(t, r, rows, i, f); break;
            case 1: rows8<K, 1>(t, r, rows, i, f); break;
            default: break;
        }
    }
}

}  // namespace

void register_legacy(KernelTable& k) {
    using namespace fmt;
    k.tile[uint32_t(GgmlType::Q4_0)] = tile<DecQ4_0>;
    k.tile[uint32_t(GgmlType::Q5_0)] = tile<DecQ5_0>;
    k.tile[uint32_t(GgmlType::Q8_0)] = tile<DecQ8_0>;
    k.tile[uint32_t(GgmlType::IQ4_NL)] = tile<DecIq4Nl>;
    k.tile[uint32_t(GgmlType::MXFP4)] = tile<DecMxfp4>;
    k.tile[uint32_t(GgmlType::Q4_1)] = tile<DecQ4_1>;
    k.tile[uint32_t(GgmlType::Q5_1)] = tile<DecQ5_1>;
}

}  // namespace qlm::cpu::QLM_AVX512_NS
