// AMX GEMM for the 32-element formats (Q4_0, Q5_0, Q8_0, IQ4_NL, MXFP4 with
// Q8_0 activations; Q4_1, Q5_1 with Q8_1): one tdpbssd (K = 32) per block
// and 16 x 16 outputs, the float step of the VNNI kernels (gemm.h).
#include "cpu/amx/gemm.h"
#include "cpu/avx512/legacy_decode.h"

namespace qlm::cpu::amx {
namespace {

using namespace avx512;

// Per block of a panel: 8 code rows of 64 bytes, dw[16], mw[16].
template <class D, GgmlType T, int MinM>
struct Legacy {
    static constexpr GgmlType kId = T;
    static constexpr int kMinM = MinM;
    static constexpr int kQK = 32, kStep = 32;
    static constexpr size_t kWBytes = D::kWBytes, kXBytes = D::kXBytes;
    static constexpr int64_t kBlockBytes = 8 * 64 + 2 * 64, kChunk = 64, kCBufBytes = 4 * 1024;

    static Facts facts(const MatmulTile& t, int64_t nb) {
        float* dx = static_cast<float*>(scratch(0, size_t(t.m * nb) * 4));
        float* sx = static_cast<float*>(scratch(1, size_t(t.m * nb) * 4));
        for (int i = 0; i < t.m; ++i)
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t* x = t.x + i * t.x_stride + b * kXBytes;
                dx[i * nb + b] = f16(x);
                if constexpr (D::kMin) sx[i * nb + b] = f16(x + 2);
            }
        return {dx, sx};
    }

    static void pack(const uint8_t* w, size_t stride, int rows, int64_t nc, uint8_t* out) {
        const __m256i off = _mm256_set1_epi8(int8_t(D::kOff));
        for (int64_t b = 0; b < nc; ++b) {
            const uint8_t* wb = w + b * kWBytes;
            uint8_t* o = out + b * kBlockBytes;
            __m256i r[16];
            for (int j = 0; j < 16; ++j) {
                if (j >= rows) {
                    r[j] = _mm256_setzero_si256();
                    continue;
                }
                r[j] = D::codes(wb + j * stride);
                if constexpr (D::kOff != 0) r[j] = _mm256_sub_epi8(r[j], off);  // signed codes q
            }
            transpose16x8(r, o);
            __m256i lo, hi;
            gather16(wb, stride, rows, lo, hi);
            __m256 dw0, mw0, dw1, mw1;
            D::scales(lo, dw0, mw0);
            D::scales(hi, dw1, mw1);
            _mm512_store_ps(o + 512, join(dw0, dw1));
            _mm512_store_ps(o + 576, join(mw0, mw1));
        }
    }


    template <int G>
    static void floats(__m512* acc, int g, const int32_t* c, const uint8_t* o, const float* dx, const float* sx,
                       int64_t nb) {
        const int n = G ? G : g;
        const __m512 dw = _mm512_load_ps(o + 512);
#pragma GCC unroll 16
        for (int i = 0; i < n; ++i) {
            const __m512 s = cvt(_mm512_load_si512(c + 16 * i));
            acc[i] = _mm512_fmadd_ps(s, _mm512_mul_ps(dw, _mm512_set1_ps(dx[i * nb])), acc[i]);
            if constexpr (D::kMin) acc[i] = _mm512_fmadd_ps(_mm512_load_ps(o + 576), _mm512_set1_ps(sx[i * nb]), acc[i]);
        }
    }

    // Blocks b .. b + 3: four independent tile products in flight (C tiles
    // 0..3, A and B tiles alternating), their sums to cbuf slots 0..3.
    static void products4(const uint8_t* xq, size_t xs, const uint8_t* pb, int32_t* cbuf) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        _tile_loadd(4, xq, xs);
        _tile_loadd(6, pb, 64);
        _tile_dpbssd(0, 4, 6);
        _tile_loadd(5, xq + kXBytes, xs);
        _tile_loadd(7, pb + kBlockBytes, 64);
        _tile_dpbssd(1, 5, 7);
        _tile_loadd(4, xq + 2 * kXBytes, xs);
        _tile_loadd(6, pb + 2 * kBlockBytes, 64);
        _tile_dpbssd(2, 4, 6);
        _tile_loadd(5, xq + 3 * kXBytes, xs);
        _tile_loadd(7, pb + 3 * kBlockBytes, 64);
        _tile_dpbssd(3, 5, 7);
        _tile_stored(0, cbuf, 64);
        _tile_stored(1, cbuf + 256, 64);
        _tile_stored(2, cbuf + 512, 64);
        _tile_stored(3, cbuf + 768, 64);
    }

    template <int G>
    static void micro(const uint8_t* pb, int64_t nc, const uint8_t* x, size_t xs, const Facts& fa, int64_t nb,
                      int64_t xo, int32_t* cbuf, float* y, int64_t ldy, __mmask16 mask, bool first, int g) {
        __m512 acc[G ? G : 16];
        load_acc<G>(acc, g, y, ldy, mask, first);
        const uint8_t* xq = x + D::kXQs;
        int64_t b = 0;
        for (; b + 3 < nc; b += 4) {
            products4(xq + b * kXBytes, xs, pb + b * kBlockBytes, cbuf);
            for (int u = 0; u < 4; ++u)
                floats<G>(acc, g, cbuf + 256 * u, pb + (b + u) * kBlockBytes, fa.dx + xo + b + u, fa.sx + xo + b + u, nb);
        }
        for (; b < nc; ++b) {
            _tile_zero(0);
            _tile_loadd(4, xq + b * kXBytes, xs);
            _tile_loadd(6, pb + b * kBlockBytes, 64);
            _tile_dpbssd(0, 4, 6);
            _tile_stored(0, cbuf, 64);
            floats<G>(acc, g, cbuf, pb + b * kBlockBytes, fa.dx + xo + b, fa.sx + xo + b, nb);
        }
        store_acc<G>(acc, g, y, ldy, mask);
    }
};

// From this many activation rows on (below: the VNNI GEMM or the tiles);
// the formats with a min take one more fma per block and start later.
// Measurements: bench/results/kernel-thresholds.md.
constexpr int kMinPlain = 24, kMinWithMin = 64;

template <class D, GgmlType T>
void set(Entry* e) {
    constexpr int min_m = D::kMin ? kMinWithMin : kMinPlain;
    e[uint32_t(T)] = {gemm<Legacy<D, T, min_m>>, min_m};
}

}  // namespace

void register_legacy(Entry* e) {
    set<DecQ4_0, GgmlType::Q4_0>(e);
    set<DecQ5_0, GgmlType::Q5_0>(e);
    set<DecQ8_0, GgmlType::Q8_0>(e);
    set<DecIq4Nl, GgmlType::IQ4_NL>(e);
    set<DecMxfp4, GgmlType::MXFP4>(e);
    set<DecQ4_1, GgmlType::Q4_1>(e);
    set<DecQ5_1, GgmlType::Q5_1>(e);
}

}  // namespace qlm::cpu::amx
