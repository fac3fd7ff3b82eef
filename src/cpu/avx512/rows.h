// The batch-invariant driver of the AVX-512 m = 1..16 kernels.
//
// Eight weight rows at a time, several groups of 8 side by side (Streams
// below). Row pass: each block decoded once and multiplied with every
// activation row by vpdpbusd; the exact int32 sums of 8 consecutive blocks
// reduce to one vector (lane c: block b0 + c) that goes to a buffer in L1/L2;
// the blocks' scale dwords are stored as they are, row j's at lane j (so no
// gather and no transpose: the float pass converts the scales of 8 rows at
// once). Float pass: an 8 x 8 transpose turns the sums into lane j = row j,
// and each output takes its blocks in order (cpu/kernels.h, "Batch
// invariance"):
//   acc = fma(float(S), dw * dx, acc)
//   MinLegacy (Q4_1/Q5_1): acc = fma(mw, sx, acc)
//   MinK (Q2_K/Q4_K/Q5_K): acc = fnmadd(float(T), dmin * dx, acc)
// The panel GEMM (gemm.cpp) computes the same per-lane sequence.
//
// A decoder K gives: kQK, kWBytes, kXBytes, kKind, kOff (S = sum - kOff *
// sum(x), legacy), kDOff (the dword holding d / dmin), scales(gathered, dw,
// mw), Dec, decode(w, Dec&), partial(Dec, x, s, t) (8-lane int32 partial
// sums of S and of T), xscale(x), xmin(x) (MinLegacy), xoff(x) (kOff != 0).
// Private to src/cpu/avx512/.
#pragma once

// GCC 12 sees the _mm512_undefined_* inside some avx512fintrin.h intrinsics
// (inserts, casts) as "may be used uninitialized" once inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "cpu/avx512/simd.h"
#include "cpu/avx512/vec.h"
#include "cpu/x86/transpose.h"

namespace qlm::cpu::QLM_AVX512_NS {

enum class Kind { Plain, MinLegacy, MinK };

// Activation facts per row i and block b at [i * nb + b] (8 spare entries at
// the end, so 8 of them load as one vector): dx, sx (MinLegacy), off.
struct Facts {
    const float* dx;
    const float* sx;
    const int32_t* off;
};

template <class K>
Facts activation_facts(const MatmulTile& t, int64_t nb) {
    const size_t n = size_t(t.m * nb) + 8;
    float* dx = static_cast<float*>(scratch(0, n * 4));
    float* sx = static_cast<float*>(scratch(1, n * 4));
    int32_t* off = static_cast<int32_t*>(scratch(2, n * 4));
    for (int i = 0; i < t.m; ++i)
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* x = t.x + i * t.x_stride + b * K::kXBytes;
            const size_t o = size_t(i * nb + b);
            dx[o] = K::xscale(x);
            sx[o] = 0.0f, off[o] = 0;
            if constexpr (K::kKind == Kind::MinLegacy) sx[o] = K::xmin(x);
            if constexpr (K::kOff != 0) off[o] = K::xoff(x);
        }
    for (size_t o = n - 8; o < n; ++o) dx[o] = sx[o] = 0.0f, off[o] = 0;
    return {dx, sx, off};
}

// 512-bit tiles of the 32-element formats: activation row i's codes, per
// group of 8 blocks 4 vectors, vector k = [block k | block k + 4] (blocks
// past the row's end zero), so one vpdpbusd takes two blocks and the sums
// of 8 blocks reduce in 8 shuffles (256-bit: 14) with lane c = block c.
template <class K>
const __m512i* packed_activations(const MatmulTile& t, int64_t nb) {
    const int64_t ng = (nb + 7) / 8;
    __m512i* xp = static_cast<__m512i*>(scratch(4, size_t(t.m * ng) * 4 * 64));
    for (int i = 0; i < t.m; ++i)
        for (int64_t g = 0; g < ng; ++g)
            for (int k = 0; k < 4; ++k) {
                const int64_t b = 8 * g + k;
                const uint8_t* x = t.x + i * t.x_stride + K::kXQs;
                const __m256i lo = b < nb ? load256(x + b * K::kXBytes) : _mm256_setzero_si256();
                const __m256i hi = b + 4 < nb ? load256(x + (b + 4) * K::kXBytes) : _mm256_setzero_si256();
                xp[(i * ng + g) * 4 + k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
            }
    return xp;
}

// Lane c = the sum of block c's 8 lanes, v[k] = [block k | block k + 4].
inline __m256i reduce8_wide(const __m512i v[4]) {
    const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
    const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
    // 128-bit lane L, element k: vector k's 4-lane sum over that lane
    __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
    u = _mm512_permutexvar_epi32(_mm512_set_epi32(15, 14, 13, 12, 7, 6, 5, 4, 11, 10, 9, 8, 3, 2, 1, 0), u);
    return _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
}

// One row's 8 blocks (nv of them real) against m activation rows, 512-bit
// (legacy formats only): as row_group below; xp: group g of activation row 0.
template <class K, int M>
inline void row_group_wide(const uint8_t* w, int nv, const __m512i* xp, int64_t xstride, int m_, const int32_t* off,
                           int64_t nb, __m256i* s_out, int64_t stride) {
    const int m = M ? M : m_;
    constexpr size_t W = K::kWBytes;
    const __m256i z = _mm256_setzero_si256();
    __m512i d[4];
    for (int k = 0; k < 4; ++k) {
        if constexpr (requires { K::kPair; })
            if (K::kPair && nv == 8) {
                d[k] = K::decode_pair(w + k * W, w + (k + 4) * W);
                continue;
            }
        typename K::Dec lo = z, hi = z;
        if (k < nv) K::decode(w + k * W, lo);
        if (k + 4 < nv) K::decode(w + (k + 4) * W, hi);
        d[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
    }
    for (int i = 0; i < m; ++i) {
        __m512i v[4];
        for (int k = 0; k < 4; ++k) v[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), d[k], xp[i * xstride + k]);
        __m256i s = reduce8_wide(v);
        if constexpr (K::kOff != 0)
            s = _mm256_sub_epi32(s, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off + i * nb)));
        s_out[i * stride] = s;
    }
}

// One row's 8 blocks (nv of them real) against m activation rows: lane c of
// s_out[i * stride] is block c's exact S (kOff taken off), of t_out its T.
template <class K, int M>
inline void row_group(const uint8_t* w, int nv, const uint8_t* x, size_t xs, int m_, const int32_t* off, int64_t nb,
                      __m256i* s_out, __m256i* t_out, int64_t stride) {
    const int m = M ? M : m_;
    constexpr size_t W = K::kWBytes, X = K::kXBytes;
    constexpr bool kT = K::kKind == Kind::MinK;
    const __m256i z = _mm256_setzero_si256();
    if constexpr (sizeof(typename K::Dec) == 32) {
        // small blocks: all 8 decoded in registers, then each activation row
        typename K::Dec d[8];
        for (int c = 0; c < 8; ++c)
            if (c < nv) K::decode(w + c * W, d[c]);
        for (int i = 0; i < m; ++i) {
            __m256i v[8], tv[8];
            for (int c = 0; c < 8; ++c) {
                v[c] = tv[c] = z;
                if (c < nv) K::partial(d[c], x + i * xs + c * X, v[c], tv[c]);
            }
            __m256i s = reduce8(v);
            if constexpr (K::kOff != 0)
                s = _mm256_sub_epi32(s, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off + i * nb)));
            s_out[i * stride] = s;
            if constexpr (kT) t_out[i * stride] = reduce8(tv);
        }
    } else {
        // super-blocks: each decoded once, its partial sums kept per activation row
        __m256i v[M ? M : kMaxTileM][8], tv[M ? M : kMaxTileM][8];
        for (int c = 0; c < 8; ++c) {
            if (c >= nv) {
                for (int i = 0; i < m; ++i) v[i][c] = tv[i][c] = z;
                continue;
            }
            typename K::Dec d;
            K::decode(w + c * W, d);
            for (int i = 0; i < m; ++i) {
                tv[i][c] = z;
                K::partial(d, x + i * xs + c * X, v[i][c], tv[i][c]);
            }
        }
        for (int i = 0; i < m; ++i) {
            s_out[i * stride] = reduce8(v[i]);
            if constexpr (kT) t_out[i * stride] = reduce8(tv[i]);
        }
    }
}

// M: the number of activation rows when known at compile time (m = 1), else 0.
// H: the vector width (vec.h) of the integer pass of the 32-element formats.
//
// Streams: the row pass reads row j of kStreams consecutive groups of 8
// rows side by side, 8 blocks of each in turn, so each core keeps that many
// sequential streams going at once (a whole row of one group, then of the
// next, was one stream at a time: the core then waited on its line fill
// buffers, held by prefetches for rows far ahead). Software prefetch
// kPrefetchBytes ahead in each stream, into L1. Measurements:
// bench/results/m1-streams-intel-xeon-2t.md.
inline constexpr int kStreams = 4;  // m = 1; 2 for the tiles
inline constexpr size_t kPrefetchBytes = 2048;

// The block scales of 8 blocks (lane c: the block whose scale dword is at
// w + min(c, n - 1) * step): K::scales of that dword, or K::scales2 of the
// dwords at kDOff and kDOff2 where d is spread over more bytes (IQ1_M).
template <class K>
inline void block_scales(const uint8_t* w, size_t step, int n, __m256& dw, __m256& mw) {
    if constexpr (requires { K::kDOff2; })
        K::scales2(load_strided32(w, step, n), load_strided32(w + (K::kDOff2 - K::kDOff), step, n), dw, mw);
    else
        K::scales(load_strided32(w, step, n), dw, mw);
}

template <class K, int M, int H>
void tile_m(const MatmulTile& t) {
    constexpr bool kWide = H == 2 && sizeof(typename K::Dec) == 32;
    constexpr size_t W = K::kWBytes, X = K::kXBytes;
    constexpr bool kT = K::kKind == Kind::MinK, kM = K::kKind != Kind::Plain;
    // the scales as raw dwords, transposed by where they are stored (not
    // IQ1_M, whose d takes two dwords)
    constexpr bool kRaw = !requires { K::kDOff2; };
    const int64_t nb = t.k / K::kQK;
    const int m = M ? M : t.m;
    constexpr int nst = M == 1 ? kStreams : 2;
    const Facts f = activation_facts<K>(t, nb);
    const int64_t ngx = (nb + 7) / 8;  // groups of 8 blocks per activation row
    const __m512i* xp = nullptr;
    if constexpr (kWide) xp = packed_activations<K>(t, nb);
    // blocks per chunk: a multiple of 8, the buffers of all streams at most
    // about 128 KiB (L2)
    int64_t cb = (2048 / (m * nst)) / 8 * 8;
    cb = imin(cb < 8 ? 8 : cb, (nb + 7) / 8 * 8);
    const int64_t ngmax = cb / 8;
    // per stream: S (and T) [i][g][j], dw (and mw) [g][j]: one vector each
    const int64_t per = ngmax * 8 * (m * (kT ? 2 : 1) + 2);
    __m256i* buf = static_cast<__m256i*>(scratch(3, size_t(per * nst) * 32));
    for (int64_t r = t.r0; r < t.r1; r += 8 * nst) {
        const int nq = int(imin(nst, (t.r1 - r + 7) / 8));
        __m256 acc[kStreams][M ? M : kMaxTileM];
        for (int q = 0; q < nq; ++q)
            for (int i = 0; i < m; ++i) acc[q][i] = _mm256_setzero_ps();
        for (int64_t b0 = 0; b0 < nb; b0 += cb) {
            const int64_t nc = imin(cb, nb - b0), ng = (nc + 7) / 8;
            for (int j = 0; j < 8; ++j) {
                int nlive = 0;
                for (int q = 0; q < nq; ++q) {
                    if (j < int(imin(8, t.r1 - r - 8 * q))) {
                        ++nlive;
                        continue;
                    }
                    // spare lanes: zeros, never stored
                    __m256i* SB = buf + q * per;
                    __m256i* TB = SB + ng * 8 * m;
                    __m256i* DW = kT ? TB + ng * 8 * m : TB;
                    __m256i* MW = DW + ng * 8;
                    for (int64_t g = 0; g < ng; ++g) {
                        for (int i = 0; i < m; ++i) {
                            SB[(i * ng + g) * 8 + j] = _mm256_setzero_si256();
                            if constexpr (kT) TB[(i * ng + g) * 8 + j] = _mm256_setzero_si256();
                        }
                        if constexpr (kRaw)
                            for (int c = 0; c < 8; ++c) reinterpret_cast<int32_t*>(DW + g * 8 + c)[j] = 0;
                        else
                            DW[g * 8 + j] = MW[g * 8 + j] = _mm256_setzero_si256();
                    }
                }
                // the live streams (a prefix: only the last group can be short)
                for (int64_t g = 0; g < ng; ++g) {
                    const int nv = int(imin(8, nc - 8 * g));
                    for (int q = 0; q < nlive; ++q) {
                        __m256i* SB = buf + q * per;
                        __m256i* TB = SB + ng * 8 * m;
                        __m256i* DW = kT ? TB + ng * 8 * m : TB;
                        __m256i* MW = DW + ng * 8;
                        const uint8_t* wg = t.w + (r + 8 * q + j) * t.w_stride + (b0 + 8 * g) * W;
                        // kPrefetchBytes further on in the stream: past the row's
                        // end the group's next row, past the group's last row the
                        // same group of the next pass (a hint: past the matrix harmless)
                        const uint8_t* ahead = wg + kPrefetchBytes;
                        if (ahead >= t.w + (r + 8 * q + 8) * t.w_stride) ahead += (nst - 1) * 8 * t.w_stride;
                        for (size_t o = 0; o < size_t(nv) * W; o += 64)
                            _mm_prefetch(reinterpret_cast<const char*>(ahead + o), _MM_HINT_T0);
                        if constexpr (kRaw) {
                            // the blocks' scale dwords as they are, row j's lane of
                            // [g][c]: the float pass converts 8 rows at once
                            int32_t* raw = reinterpret_cast<int32_t*>(DW + g * 8) + j;
                            if (nv == 8) {
#pragma GCC unroll 8
                                for (int c = 0; c < 8; ++c) std::memcpy(raw + 8 * c, wg + K::kDOff + c * W, 4);
                            } else {
                                for (int c = 0; c < nv; ++c) std::memcpy(raw + 8 * c, wg + K::kDOff + c * W, 4);
                            }
                        } else {
                            __m256 dw, mw;  // lanes past the row's end read its last block
                            block_scales<K>(wg + K::kDOff, W, nv, dw, mw);
                            DW[g * 8 + j] = _mm256_castps_si256(dw);
                            MW[g * 8 + j] = _mm256_castps_si256(mw);
                        }
                        if constexpr (kWide)
                            row_group_wide<K, M>(wg, nv, xp + (b0 / 8 + g) * 4, ngx * 4, m, f.off + b0 + 8 * g, nb,
                                                 SB + g * 8 + j, ng * 8);
                        else
                            row_group<K, M>(wg, nv, t.x + (b0 + 8 * g) * X, t.x_stride, m, f.off + b0 + 8 * g, nb,
                                            SB + g * 8 + j, TB + g * 8 + j, ng * 8);
                    }
                }
            }
            // float pass
            for (int q = 0; q < nq; ++q) {
                __m256i* SB = buf + q * per;
                __m256i* TB = SB + ng * 8 * m;
                __m256i* DW = kT ? TB + ng * 8 * m : TB;
                __m256i* MW = DW + ng * 8;
                for (int64_t g = 0; g < ng; ++g) {
                    const int nv = int(imin(8, nc - 8 * g));
                    __m256i dwt[8], mwt[8];
                    if constexpr (kRaw) {
                        for (int c = 0; c < nv; ++c) {
                            __m256 dw, mw;
                            K::scales(DW[g * 8 + c], dw, mw);
                            dwt[c] = _mm256_castps_si256(dw), mwt[c] = _mm256_castps_si256(mw);
                        }
                    } else {
                        transpose8(DW + g * 8, dwt);
                        if constexpr (kM) transpose8(MW + g * 8, mwt);
                    }
                    for (int i = 0; i < m; ++i) {
                        __m256i st[8], tt[8];
                        transpose8(SB + (i * ng + g) * 8, st);
                        if constexpr (kT) transpose8(TB + (i * ng + g) * 8, tt);
                        const size_t o = size_t(i * nb + b0 + 8 * g);
                        __m256 a = acc[q][i];
                        for (int c = 0; c < nv; ++c) {
                            const __m256 dx = _mm256_set1_ps(f.dx[o + c]);
                            a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(st[c]), _mm256_mul_ps(_mm256_castsi256_ps(dwt[c]), dx), a);
                            if constexpr (K::kKind == Kind::MinLegacy)
                                a = _mm256_fmadd_ps(_mm256_castsi256_ps(mwt[c]), _mm256_set1_ps(f.sx[o + c]), a);
                            if constexpr (kT)
                                a = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(tt[c]), _mm256_mul_ps(_mm256_castsi256_ps(mwt[c]), dx), a);
                        }
                        acc[q][i] = a;
                    }
                }
            }
        }
        for (int q = 0; q < nq; ++q)
            for (int i = 0; i < m; ++i) store_lanes(t.y + i * t.ldy + r + 8 * q, acc[q][i], int(imin(8, t.r1 - r - 8 * q)));
    }
}

template <class K, int H>
void tile(const MatmulTile& t) {
    if (t.m == 1) return tile_m<K, 1, H>(t);
    tile_m<K, 0, H>(t);
}

}  // namespace qlm::cpu::QLM_AVX512_NS
