// The AMX GEMM driver of the legacy panels (gemm_legacy.cpp) and the tile
// plumbing it shares with the K-quant path (gemm_kquants.cpp); built with
// -mamx-tile -mamx-int8 and the AVX-512 flags. Private to src/cpu/amx/.
//
// The panels' tiles: C = A x B with A = 16 activation rows of one (sub-)block of int8
// codes, loaded straight from the quantized activation rows (tileloadd with
// the row stride), and B = 16 weight rows of the same (sub-)block, packed in
// cache as a panel in the VNNI layout (row g: lane n = weight row n's codes
// 4g .. 4g + 3), signed (the code offsets are taken off while packing, so
// tdpbssd gives <q, x> directly: the same integer as the VNNI kernels' <u, x>
// - Off * sum(x)). One tdpbssd per (sub-)block gives each output's exact
// int32 block sum; tilestored puts it in L1 and the float step of
// cpu/kernels.h runs lane for lane (lane n = weight row n) in zmm registers:
//   acc = fma(float(S), dw * dx, acc)  [+ fma(mw, sx, acc) | fnmadd(float(T), dmin * dx, acc)]
#pragma once

// GCC 12 sees the _mm512_undefined_* inside some avx512fintrin.h intrinsics
// (shifts, conversions) as "may be used uninitialized" once inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include "cpu/amx/amx.h"
#include "cpu/avx512/rows.h"

namespace qlm::cpu::amx {

using avx512::imin;
using avx512::transpose8;

// Tiles 0-3: C (rows x 16 int32); 4, 5: A (rows x step bytes); 6, 7: B
// (step / 4 rows x 64 bytes).
struct alignas(64) TileConfig {
    uint8_t palette = 1, start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
};

inline void configure(int rows, int step) {
    TileConfig c;
    for (int t = 0; t < 4; ++t) c.rows[t] = uint8_t(rows), c.colsb[t] = 64;
    for (int t = 4; t < 6; ++t) c.rows[t] = uint8_t(rows), c.colsb[t] = uint16_t(step);
    for (int t = 6; t < 8; ++t) c.rows[t] = uint8_t(step / 4), c.colsb[t] = 64;
    _tile_loadconfig(&c);
}

// int32 -> float (vcvtdq2ps; the masked form spares GCC 12 a false
// "may be used uninitialized" in _mm512_cvtepi32_ps).
inline __m512 cvt(__m512i v) { return _mm512_maskz_cvtepi32_ps(__mmask16(0xffff), v); }

inline void store256(uint8_t* p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }

// 16 rows' 8 int32 lanes (r[j], j < 16) as 8 panel rows of 64 bytes: row g,
// lane n = r[n] lane g.
inline void transpose16x8(const __m256i r[16], uint8_t* out) {
    __m256i t0[8], t1[8];
    transpose8(r, t0);
    transpose8(r + 8, t1);
    for (int g = 0; g < 8; ++g) {
        store256(out + 64 * g, t0[g]);
        store256(out + 64 * g + 32, t1[g]);
    }
}

// 16 rows' block dwords at w (lanes past `rows` repeat the last row; rows
// 9..16 only where they exist).
inline void gather16(const uint8_t* w, size_t stride, int rows, __m256i& lo, __m256i& hi) {
    lo = avx512::load_strided32(w, stride, rows);
    hi = rows > 8 ? avx512::load_strided32(w + 8 * stride, stride, rows - 8) : lo;
}
inline __m512 join(__m256 lo, __m256 hi) { return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1); }

// Activation facts per row i and block b at [i * nb + b]: dx (and sx).
struct Facts {
    const float* dx;
    const float* sx;
};

// Panels of 16 weight rows, up to kSlab rows packed per k chunk; the driver:
// P gives kId, kQK, kWBytes, kXBytes, kStep (bytes of A per tdpbssd), kBlockBytes (one
// block's panel bytes), kChunk (blocks per chunk), facts(), pack(), micro<G>().
inline constexpr int64_t kSlab = 128;

template <class P>
void gemm(const MatmulTile& t) {
    if (t.m < P::kMinM) return g_fallback[uint32_t(P::kId)](t);
    const int64_t nb = t.k / P::kQK;
    const Facts fa = P::facts(t, nb);
    const int64_t kc = imin(P::kChunk, nb);
    uint8_t* panels = static_cast<uint8_t*>(avx512::scratch(3, size_t(kSlab / 16 * kc * P::kBlockBytes)));
    int32_t* cbuf = static_cast<int32_t*>(avx512::scratch(2, size_t(P::kCBufBytes)));
    int cfg = 0;
    for (int64_t r = t.r0; r < t.r1; r += kSlab) {
        const int64_t rows = imin(kSlab, t.r1 - r);
        const int64_t np = (rows + 15) / 16;
        for (int64_t c0 = 0; c0 < nb; c0 += kc) {
            const int64_t nc = imin(kc, nb - c0);
            for (int64_t p = 0; p < np; ++p)
                P::pack(t.w + (r + 16 * p) * t.w_stride + c0 * P::kWBytes, t.w_stride, int(imin(16, rows - 16 * p)), nc,
                        panels + p * kc * P::kBlockBytes);
            for (int i0 = 0; i0 < t.m; i0 += 16) {
                const int g = int(imin(16, t.m - i0));
                if (g != cfg) configure(g, P::kStep), cfg = g;
                const uint8_t* x = t.x + i0 * t.x_stride + c0 * P::kXBytes;
                for (int64_t p = 0; p < np; ++p) {
                    const int valid = int(imin(16, rows - 16 * p));
                    const __mmask16 mask = __mmask16((1u << valid) - 1);
                    float* y = t.y + i0 * t.ldy + r + 16 * p;
                    const uint8_t* pb = panels + p * kc * P::kBlockBytes;
                    const int64_t xo = i0 * nb + c0;
                    if (g == 16)
                        P::template micro<16>(pb, nc, x, t.x_stride, fa, nb, xo, cbuf, y, t.ldy, mask, c0 == 0, g);
                    else
                        P::template micro<0>(pb, nc, x, t.x_stride, fa, nb, xo, cbuf, y, t.ldy, mask, c0 == 0, g);
                }
            }
        }
    }
    _tile_release();
}

// Output accumulators of G (or g) activation rows x 16 weight rows: from y
// (first k chunk: zeros) and back, masked to the panel's valid rows.
template <int G>
inline void load_acc(__m512* acc, int g, const float* y, int64_t ldy, __mmask16 mask, bool first) {
    const int n = G ? G : g;
    for (int i = 0; i < n; ++i) acc[i] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, y + i * ldy);
}
template <int G>
inline void store_acc(const __m512* acc, int g, float* y, int64_t ldy, __mmask16 mask) {
    const int n = G ? G : g;
    for (int i = 0; i < n; ++i) _mm512_mask_storeu_ps(y + i * ldy, mask, acc[i]);
}

}  // namespace qlm::cpu::amx
