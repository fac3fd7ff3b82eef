// AVX-512 VNNI GEMM for many activation rows (prefill, large batches), for
// the legacy 32-element formats and the K-quants (with IQ4_XS). Weight rows
// are packed a slab at a time into panels of 8 interleaved rows: per group of
// 4 elements one vector whose 32-bit lane j holds row j's 4 unsigned codes
// (an 8 x 8 transpose of the decoded blocks), plus the rows' scales. The
// micro-kernel broadcasts 4 activation bytes into vpdpbusd against all 8
// rows, so each block ends as one exact int32 sum per lane (= weight row) and
// the float step is the one of rows.h, lane for lane:
//   acc = fma(float(S), dw * dx, acc)  [+ fma(mw, sx, acc) | fnmadd(float(T), dmin * dx, acc)]
// so an output is the same bits whether the GEMM or the tiles computed it.
// K-quant panels carry int32 scales per 16 elements (S = sum_h sc_h * <u, x>_h
// through vpmulld) and the bsum coefficients as int16 pairs (vpdpwssd).
#include <type_traits>

#include "cpu/avx512/iquant_decode.h"

#include "cpu/avx512/kquant_decode.h"
#include "cpu/avx512/rows.h"
#include "cpu/avx512/vec.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace {

// Width H (vec.h): a panel is 8H interleaved weight rows (lane j = row j),
// stored as H 8-row halves side by side: vector v of block b is the 32-byte
// units q[(b * kVecs + v) * H + h], floats likewise (dw then mw, 8H each).
// From this many activation rows on the GEMM instead of the tiles. In cache
// the GEMM wins from m = 2, but in a decode step the weights come from DRAM
// and the packing pass dominates; a K-quant super-block's scales cost more to
// pack than a legacy block. Measurements: bench/results/kernel-thresholds.md.
constexpr int kGemmMinLegacy = 9, kGemmMinLegacyWide = 8, kGemmMinK = 32;

// Row j of an 8-row half: min(j, rows - 1) (rows >= 1).
inline void store_half(const __m256i* t, int n, __m256i* q, int H) {
    for (int v = 0; v < n; ++v) q[v * H] = t[v];
}

// The block at p (a hint, never a fault): pack_half prefetches the same
// blocks of the next slab, as the tiles' row pass does (rows.h).
template <size_t Bytes>
inline void prefetch_block(const uint8_t* p) {
    for (size_t o = 0; o < Bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + o), _MM_HINT_T0);
}

// Half h of a panel with no rows: every unit and float zero.
template <int Vecs, int Floats>
inline void zero_half(int64_t nb, __m256i* q, float* f, int H, int h) {
    for (int64_t b = 0; b < nb; ++b) {
        for (int v = 0; v < Vecs; ++v) q[(b * Vecs + v) * H + h] = _mm256_setzero_si256();
        for (int k = 0; k < Floats / 8; ++k) _mm256_store_ps(f + (b * Floats + k * 8) * H + 8 * h, _mm256_setzero_ps());
    }
}

template <class D>
struct LegacyPanel : D {
    static constexpr int kQK = 32;
    static constexpr size_t kDOff = 0;
    static constexpr Kind kKind = D::kMin ? Kind::MinLegacy : Kind::Plain;
    static constexpr int kVecs = 8, kFloats = 16;
    template <int H>
    static constexpr int kRowsG = 8;
    static float xscale(const uint8_t* x) { return f16(x); }
    static float xmin(const uint8_t* x) { return f16(x + 2); }
    static int32_t xoff(const uint8_t* x) { return D::kOff * sum_i8(load256(x + D::kXQs)); }

    // rows (1..8) rows from w into half h of a panel of H halves
    static void pack_half(const uint8_t* w, size_t stride, int rows, int64_t nb, __m256i* q, float* f, int H, int h,
                          size_t pf) {
        if (rows <= 0) return zero_half<kVecs, kFloats>(nb, q, f, H, h);
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* wb = w + b * D::kWBytes;
            for (int j = 0; j < 8; ++j) prefetch_block<D::kWBytes>(wb + j * stride + pf);
            __m256i r[8], t[8];
            for (int j = 0; j < 8; ++j) r[j] = j < rows ? D::codes(wb + j * stride) : _mm256_setzero_si256();
            transpose8(r, t);
            store_half(t, 8, q + b * kVecs * H + h, H);
            __m256 dw, mw;
            D::scales(load_strided32(wb, stride, rows), dw, mw);
            _mm256_store_ps(f + b * kFloats * H + 8 * h, dw);
            _mm256_store_ps(f + (b * kFloats + 8) * H + 8 * h, mw);
        }
    }

    template <int H, int G>
    static void micro(const __m256i* q, const float* f, int64_t nc, int64_t nb, const uint8_t* x, size_t xs,
                      const Facts& fa, int64_t xo, typename Vec<H>::F* acc) {
        using V = Vec<H>;
        typename V::F a[G];
        for (int i = 0; i < G; ++i) a[i] = acc[i];
        const float* dx = fa.dx + xo;
        const float* sx = fa.sx + xo;
        const int32_t* off = fa.off + xo;
        for (int64_t b = 0; b < nc; ++b) {
            const __m256i* W = q + b * kVecs * H;
            const uint8_t* xb = x + b * D::kXBytes + D::kXQs;
            typename V::I s[G];
            for (int i = 0; i < G; ++i) s[i] = V::zero();
            for (int g = 0; g < 8; ++g) {
                const typename V::I wv = V::load(W + g * H);
                for (int i = 0; i < G; ++i) s[i] = V::dpbusd(s[i], wv, V::bcast4(xb + i * xs + 4 * g));
            }
            const typename V::F dw = V::loadf(f + b * kFloats * H);
            for (int i = 0; i < G; ++i) {
                const int64_t o = i * nb + b;
                if constexpr (D::kOff != 0) s[i] = V::sub(s[i], V::set1(off[o]));
                a[i] = V::fmadd(V::cvt(s[i]), V::mul(dw, V::set1f(dx[o])), a[i]);
                if constexpr (D::kMin) a[i] = V::fmadd(V::loadf(f + (b * kFloats + 8) * H), V::set1f(sx[o]), a[i]);
            }
        }
        for (int i = 0; i < G; ++i) acc[i] = a[i];
    }
};

// The K-quants whose integer scales cover 32 elements (the panel still
// stores one per 16).
template <class D>
inline constexpr bool kScalePer32 =
    std::is_same_v<D, kq::DecQ4_K> || std::is_same_v<D, kq::DecQ5_K> || std::is_same_v<D, kq::DecIq4Xs>;

// Per super-block: 64 code vectors (chunk c, group g), 16 scale vectors (int32
// per row, one per 16 elements), 8 coefficient vectors (row j: the int16 pair
// of bsums 2k, 2k + 1); floats d, dmin.
template <class D>
struct KQuantPanel : D {
    static constexpr int kQK = fmt::QK_K;
    static constexpr int kOff = 0;
    static constexpr Kind kKind = D::kMode == kq::Mode::Min ? Kind::MinK : Kind::Plain;
    static constexpr int kVecs = 64 + 16 + 8, kFloats = 16;
    template <int H>
    static constexpr int kRowsG = 6;
    static float xscale(const uint8_t* x) { return f32(x); }
    static float xmin(const uint8_t*) { return 0.0f; }
    static int32_t xoff(const uint8_t*) { return 0; }

    static void pack_half(const uint8_t* w, size_t stride, int rows, int64_t nb, __m256i* q, float* f, int H, int h,
                          size_t pf) {
        if (rows <= 0) return zero_half<kVecs, kFloats>(nb, q, f, H, h);
        for (int64_t b = 0; b < nb; ++b) {
            const uint8_t* wb = w + b * D::kWBytes;
            for (int j = 0; j < 8; ++j) prefetch_block<D::kWBytes>(wb + j * stride + pf);
            alignas(32) int32_t sc[16][8] = {}, co[8][8] = {};
            __m256i r[8][8];
            for (int j = 0; j < 8; ++j) {
                if (j >= rows) {
                    for (int c = 0; c < 8; ++c) r[c][j] = _mm256_setzero_si256();
                    continue;
                }
                kq::KDec dec;
                D::decode(wb + j * stride, dec);
                alignas(32) int16_t coef[16];
                _mm256_store_si256(reinterpret_cast<__m256i*>(coef), dec.coef);
                for (int c = 0; c < 8; ++c) {
                    r[c][j] = dec.q[c];
                    alignas(32) int16_t s16[16];
                    alignas(32) int32_t s32[8];
                    if constexpr (D::kWide) {
                        _mm256_store_si256(reinterpret_cast<__m256i*>(s32), dec.sc[c]);
                        sc[2 * c][j] = s32[0], sc[2 * c + 1][j] = s32[4];
                    } else {
                        _mm256_store_si256(reinterpret_cast<__m256i*>(s16), dec.sc[c]);
                        sc[2 * c][j] = s16[0], sc[2 * c + 1][j] = s16[8];
                    }
                }
                for (int k = 0; k < 8; ++k)
                    co[k][j] = int32_t(uint32_t(uint16_t(coef[2 * k])) | uint32_t(uint16_t(coef[2 * k + 1])) << 16);
            }
            __m256i* qb = q + b * kVecs * H + h;
            __m256i t[8];
            for (int c = 0; c < 8; ++c) {
                transpose8(r[c], t);
                store_half(t, 8, qb + 8 * c * H, H);
            }
            for (int k = 0; k < 16; ++k) qb[(64 + k) * H] = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc[k]));
            for (int k = 0; k < 8; ++k) qb[(80 + k) * H] = _mm256_load_si256(reinterpret_cast<const __m256i*>(co[k]));
            __m256 d, dmin;
            block_scales<D>(wb + D::kDOff, stride, rows, d, dmin);
            _mm256_store_ps(f + b * kFloats * H + 8 * h, d);
            _mm256_store_ps(f + (b * kFloats + 8) * H + 8 * h, dmin);
        }
    }

    template <int H, int G>
    static void micro(const __m256i* q, const float* f, int64_t nc, int64_t nb, const uint8_t* x, size_t xs,
                      const Facts& fa, int64_t xo, typename Vec<H>::F* acc) {
        using V = Vec<H>;
        typename V::F a[G];
        for (int i = 0; i < G; ++i) a[i] = acc[i];
        const float* dx = fa.dx + xo;
        for (int64_t b = 0; b < nc; ++b) {
            const __m256i* W = q + b * kVecs * H;
            const uint8_t* xb = x + b * D::kXBytes;
            const uint8_t* xq = xb + offsetof(fmt::block_q8_K, qs);
            typename V::I s[G], t[G];
            for (int i = 0; i < G; ++i) s[i] = t[i] = V::zero();
            // a scale per 32 elements (Q4_K, Q5_K, IQ4_XS: scale 2c == 2c + 1):
            // one vpmulld per 32 elements instead of per 16, the same integer S
            constexpr int kStep = kScalePer32<D> ? 2 : 1;
            for (int h = 0; h < 16; h += kStep) {
                typename V::I p[G];
                for (int i = 0; i < G; ++i) p[i] = V::zero();
                for (int g = 4 * (h % 2); g < 4 * (h % 2) + 4 * kStep; ++g) {
                    const typename V::I wv = V::load(W + (8 * (h / 2) + g) * H);
                    for (int i = 0; i < G; ++i) p[i] = V::dpbusd(p[i], wv, V::bcast4(xq + i * xs + 32 * (h / 2) + 4 * g));
                }
                const typename V::I sc = V::load(W + (64 + h) * H);
                for (int i = 0; i < G; ++i) s[i] = V::add(s[i], V::mullo(p[i], sc));
            }
            const uint8_t* bs = xb + offsetof(fmt::block_q8_K, bsums);
            for (int k = 0; k < 8; ++k) {
                const typename V::I co = V::load(W + (80 + k) * H);
                for (int i = 0; i < G; ++i) t[i] = V::dpwssd(t[i], co, V::bcast4(bs + i * xs + 4 * k));
            }
            const typename V::F d = V::loadf(f + b * kFloats * H);
            for (int i = 0; i < G; ++i) {
                const typename V::F vdx = V::set1f(dx[i * nb + b]);
                if constexpr (kKind != Kind::MinK) s[i] = V::sub(s[i], t[i]);
                a[i] = V::fmadd(V::cvt(s[i]), V::mul(d, vdx), a[i]);
                if constexpr (kKind == Kind::MinK)
                    a[i] = V::fnmadd(V::cvt(t[i]), V::mul(V::loadf(f + (b * kFloats + 8) * H), vdx), a[i]);
            }
        }
        for (int i = 0; i < G; ++i) acc[i] = a[i];
    }
};

// g (1..G) activation rows against one panel over nc blocks; the outputs'
// accumulators come in from y (first chunk: zeros) and go back to it, so a
// chunked k keeps each output's one chain of fmas (float stores are exact).
template <class F, int H, int G>
void apply_rows(int g, const __m256i* q, const float* f, int64_t nc, int64_t nb, const uint8_t* x, size_t xs,
                const Facts& fa, int64_t xo, float* y, int64_t ldy, int valid, bool first) {
    using V = Vec<H>;
    if constexpr (G > 1)
        if (g < G) return apply_rows<F, H, G - 1>(g, q, f, nc, nb, x, xs, fa, xo, y, ldy, valid, first);
    typename V::F acc[G];
    for (int i = 0; i < G; ++i) acc[i] = first ? V::zerof() : V::load_lanes(y + i * ldy, valid);
    F::template micro<H, G>(q, f, nc, nb, x, xs, fa, xo, acc);
    for (int i = 0; i < G; ++i) V::store_lanes(y + i * ldy, acc[i], valid);
}

// Blocks per k chunk: the packed slab (up to 64 rows) and the chunk of every
// activation row it meets stay in L2 (for k = 14336 one whole row of
// activations alone is 15 KiB, 512 of them 7.7 MiB).
template <class F>
int64_t chunk_blocks(int64_t nb, int m) {
    const int64_t slab_bytes = 64 * (F::kVecs * 32 + F::kFloats * 4) / 8;  // per block, 64 rows
    const int64_t x_bytes = int64_t(m) * F::kXBytes;                        // per block, all rows
    int64_t c = (512 * 1024) / (slab_bytes + x_bytes);
    c = c < 4 ? 4 : c;
    return c < nb ? c : nb;
}

template <class F, int H>
void gemm(const MatmulTile& t) {
    constexpr int kPanel = 8 * H, kRowsG = F::template kRowsG<H>;
    const int64_t nb = t.k / F::kQK;
    const Facts fa = activation_facts<F>(t, nb);
    const int64_t kc = chunk_blocks<F>(nb, t.m);
    constexpr int64_t slab = 64, panels = slab / kPanel;
    const int64_t qp = kc * F::kVecs * H, fp = kc * F::kFloats * H;  // per panel: 32-byte units, floats
    __m256i* q = static_cast<__m256i*>(scratch(3, size_t(panels * (qp * 32 + fp * 4))));
    float* f = reinterpret_cast<float*>(q + panels * qp);
    for (int64_t r = t.r0; r < t.r1; r += slab) {
        const int64_t rows = imin(slab, t.r1 - r);
        const int64_t np = (rows + kPanel - 1) / kPanel;
        for (int64_t c0 = 0; c0 < nb; c0 += kc) {
            const int64_t nc = imin(kc, nb - c0);
            for (int64_t p = 0; p < np; ++p)
                for (int h = 0; h < H; ++h)
                    F::pack_half(t.w + (r + p * kPanel + 8 * h) * t.w_stride + c0 * F::kWBytes, t.w_stride,
                                 int(imin(8, rows - p * kPanel - 8 * h)), nc, q + p * qp, f + p * fp, H, h,
                                 size_t(slab) * t.w_stride);
            for (int i0 = 0; i0 < t.m; i0 += kRowsG) {
                const uint8_t* x = t.x + i0 * t.x_stride + c0 * F::kXBytes;
                for (int64_t p = 0; p < np; ++p) {
                    const int valid = int(imin(kPanel, rows - p * kPanel));
                    apply_rows<F, H, kRowsG>(int(imin(kRowsG, t.m - i0)), q + p * qp, f + p * fp, nc, nb, x,
                                             t.x_stride, fa, i0 * nb + c0, t.y + i0 * t.ldy + r + p * kPanel, t.ldy,
                                             valid, c0 == 0);
                }
            }
        }
    }
}

template <GgmlType T, class F>
void set(KernelTable& k, int min_m, bool wide) {
    k.gemm[uint32_t(T)] = wide ? gemm<F, 2> : gemm<F, 1>;
    k.gemm_min_m[uint32_t(T)] = min_m;
}

}  // namespace

void register_gemm(KernelTable& k, bool wide) {
    using namespace kq;
    const int legacy_min = wide ? kGemmMinLegacyWide : kGemmMinLegacy;
    set<GgmlType::Q4_0, LegacyPanel<DecQ4_0>>(k, legacy_min, wide);
    set<GgmlType::Q5_0, LegacyPanel<DecQ5_0>>(k, legacy_min, wide);
    set<GgmlType::Q8_0, LegacyPanel<DecQ8_0>>(k, legacy_min, wide);
    set<GgmlType::IQ4_NL, LegacyPanel<DecIq4Nl>>(k, legacy_min, wide);
    set<GgmlType::MXFP4, LegacyPanel<DecMxfp4>>(k, legacy_min, wide);
    set<GgmlType::Q4_1, LegacyPanel<DecQ4_1>>(k, legacy_min, wide);
    set<GgmlType::Q5_1, LegacyPanel<DecQ5_1>>(k, legacy_min, wide);
    set<GgmlType::Q2_K, KQuantPanel<DecQ2_K>>(k, kGemmMinK, wide);
    set<GgmlType::Q3_K, KQuantPanel<DecQ3_K>>(k, kGemmMinK, wide);
    set<GgmlType::Q4_K, KQuantPanel<DecQ4_K>>(k, kGemmMinK, wide);
    set<GgmlType::Q5_K, KQuantPanel<DecQ5_K>>(k, kGemmMinK, wide);
    set<GgmlType::Q6_K, KQuantPanel<DecQ6_K>>(k, kGemmMinK, wide);
    set<GgmlType::IQ4_XS, KQuantPanel<DecIq4Xs>>(k, kGemmMinK, wide);
    // low-bit IQ and TQ (iquant_decode.h): the tiles' S and block scales
    set<GgmlType::IQ2_XXS, KQuantPanel<iq::AsKQuant<iq::DecIq2Xxs>>>(k, kGemmMinK, wide);
    set<GgmlType::IQ2_XS, KQuantPanel<iq::AsKQuant<iq::DecIq2Xs>>>(k, kGemmMinK, wide);
    set<GgmlType::IQ2_S, KQuantPanel<iq::AsKQuant<iq::DecIq2S>>>(k, kGemmMinK, wide);
    set<GgmlType::IQ3_XXS, KQuantPanel<iq::AsKQuant<iq::DecIq3Xxs>>>(k, kGemmMinK, wide);
    set<GgmlType::IQ3_S, KQuantPanel<iq::AsKQuant<iq::DecIq3S>>>(k, kGemmMinK, wide);
    set<GgmlType::IQ1_S, KQuantPanel<iq::AsKQuant<iq::DecIq1S>>>(k, kGemmMinK, wide);
    set<GgmlType::IQ1_M, KQuantPanel<iq::AsKQuant<iq::DecIq1M>>>(k, kGemmMinK, wide);
    set<GgmlType::TQ1_0, KQuantPanel<iq::AsKQuant<iq::DecTq1>>>(k, kGemmMinK, wide);
    set<GgmlType::TQ2_0, KQuantPanel<iq::AsKQuant<iq::DecTq2>>>(k, kGemmMinK, wide);
}

}  // namespace qlm::cpu::QLM_AVX512_NS
