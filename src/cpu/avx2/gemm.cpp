// AVX2 GEMM for many activation rows (prefill and batched decode), for the
// legacy 32-element block formats and the K-quants. Weight rows are packed a
// slab at a time into panels of 8 interleaved rows: for each group of 4
// elements, one vector whose 32-bit lane j holds row j's 4 int8 codes, plus
// per-row scales. The panel lives in cache for the length of one call and is
// never a float copy. The micro-kernel broadcasts 4 activation bytes and
// multiplies them with all 8 rows at once (maddubs), so each block ends in one
// int32 lane per weight row: no horizontal sums, one scale multiply-add per 8
// outputs. K-quant panels also carry each row's int16 scales and min/offset
// coefficients per 16 elements, applied with madd.
//
// Each output's integer block sums equal the reference's; it differs from the
// reference only in the float order of the per-block terms, and every lane
// runs the same instruction sequence whichever rows or threads share a call,
// so results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "cpu/avx2/common.h"
#include "cpu/avx2/kquant_decode.h"
#include "cpu/avx2/legacy_decode.h"
#include "cpu/x86/transpose.h"
#include "formats/iquants.h"
#include "formats/legacy.h"
#include "formats/ternary.h"

namespace qlm::cpu::avx2 {

// Low-bit IQ and TQ decoders as Bias-mode K-quant blocks (iquants.cpp).
namespace iq {
using BiasDec = kq::KDec<kq::Mode::Bias>;
void biased_iq2_xxs(const uint8_t*, BiasDec&);
void biased_iq2_xs(const uint8_t*, BiasDec&);
void biased_iq2_s(const uint8_t*, BiasDec&);
void biased_iq3_xxs(const uint8_t*, BiasDec&);
void biased_iq3_s(const uint8_t*, BiasDec&);
void biased_iq1_s(const uint8_t*, BiasDec&);
void biased_iq1_m(const uint8_t*, BiasDec&);
void biased_tq1_0(const uint8_t*, BiasDec&);
void biased_tq2_0(const uint8_t*, BiasDec&);
}  // namespace iq

namespace {

using namespace fmt;

constexpr int kPanel = 8;  // weight rows per panel

inline __m256i bcast4(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// 8 rows' codes for one 32-element piece -> 8 group vectors at out.
inline void store_groups(const __m256i r[8], __m256i* out) {
    __m256i t[8];
    transpose8(r, t);
    for (int g = 0; g < 8; ++g) _mm256_store_si256(out + g, t[g]);
}

// G activation rows times the 4-element groups g0..g0+n-1 of one panel piece,
// summed in int16 (the caller keeps the sums in range): p[i] += codes * x.
template <int G>
inline void sum_groups_u8(const __m256i* W, int g0, int n, const uint8_t* x, size_t xs, __m256i* p) {
    for (int g = g0; g < g0 + n; ++g) {
        const __m256i w = _mm256_load_si256(W + g);
        for (int i = 0; i < G; ++i) p[i] = _mm256_add_epi16(p[i], _mm256_maddubs_epi16(w, bcast4(x + i * xs + 4 * g)));
    }
}

// ---------------------------------------------------------------------------
// Legacy formats: per block 8 code vectors; floats: 8 scales (+ 8 mins).
//   Offset: unsigned codes u = q + off, integer sum <u, x> - off * sum(x);
//   Signed: signed values, sign trick (|w| times x with w's sign);
//   Min:    unsigned codes, plus a float min times the activation block's s.
enum class Kind { Offset, Signed, Min };

template <class Block, class XBlock, Kind K, int Off, auto Decode>
struct Legacy {
    static constexpr int kQK = 32, kVecs = 8, kFloats = K == Kind::Min ? 16 : 8;
    // activation rows per micro-kernel call: 3 keeps the int16, int32 and
    // float sums in registers (1 thread, m = 512, Q5_0 640x2048: 2 rows 102,
    // 3 rows 123, 4 rows 110 GFLOP/s)
    static constexpr int kRowsG = 3;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(XBlock), kXQs = offsetof(XBlock, qs);

    // Per activation row and block: its scale, for Q8_1 its s = d * sum, and
    // for Offset kinds Off times the integer sum of its codes.
    struct XInfo {
        std::vector<float> d, s;
        std::vector<int32_t> sum;
    };
    static inline thread_local XInfo xi;
    static void prepare(const MatmulTile& t, int64_t nb) {
        const size_t n = size_t(t.m * nb);
        xi.d.resize(n), xi.s.resize(n), xi.sum.resize(n);
        for (int i = 0; i < t.m; ++i)
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t* x = t.x + i * t.x_stride + b * kXBytes;
                const size_t o = size_t(i * nb + b);
                xi.d[o] = fp16_load(x);
                if constexpr (K == Kind::Min) xi.s[o] = fp16_load(x + 2);
                if constexpr (K == Kind::Offset)
                    xi.sum[o] = Off * sum_i8(load256(x + kXQs));  // the offset's share, ready to broadcast
            }
    }

    static void pack(const uint8_t* w, size_t stride, int rows, int64_t nb, __m256i* q, float* f) {
        for (int64_t b = 0; b < nb; ++b) {
            __m256i r[kPanel];
            float* fb = f + b * kFloats;
            for (int j = 0; j < kPanel; ++j) {
                float d = 0, m = 0;
                r[j] = _mm256_setzero_si256();
                if (j < rows) {
                    if constexpr (K == Kind::Min)
                        r[j] = Decode(w + j * stride + b * kWBytes, d, m);
                    else
                        r[j] = Decode(w + j * stride + b * kWBytes, d);
                }
                fb[j] = d;
                if constexpr (K == Kind::Min) fb[kPanel + j] = m;
            }
            store_groups(r, q + b * kVecs);
        }
    }

    // acc[i] += the panel's 8 rows times activation row i (x: row 0, first block).
    template <int G>
    static void micro(const __m256i* q, const float* f, int64_t nb, const uint8_t* x, size_t xs, int64_t xo,
                      __m256* acc) {
        const __m256i ones = _mm256_set1_epi16(1);
        // the thread's activation facts, read through plain pointers (not the
        // thread_local object) so the loop keeps them in registers
        const float* xd = xi.d.data() + xo;
        const float* xsd = xi.s.data() + xo;
        const int32_t* xsum = xi.sum.data() + xo;
        __m256 a[G];
        for (int i = 0; i < G; ++i) a[i] = acc[i];
        for (int64_t b = 0; b < nb; ++b) {
            const __m256i* W = q + b * kVecs;
            const uint8_t* xb = x + b * kXBytes + kXQs;
            __m256i s[G];
            for (int i = 0; i < G; ++i) s[i] = _mm256_setzero_si256();
            if constexpr (K == Kind::Signed) {
                for (int g = 0; g < 8; ++g) {
                    const __m256i w = _mm256_load_si256(W + g), aw = _mm256_sign_epi8(w, w);
                    for (int i = 0; i < G; ++i) {
                        const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bcast4(xb + i * xs + 4 * g), w));
                        s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(p, ones));
                    }
                }
            } else {
                // unsigned codes <= 31 times |x| <= 127: four groups fit in int16
                for (int h = 0; h < 2; ++h) {
                    __m256i p[G];
                    for (int i = 0; i < G; ++i) p[i] = _mm256_setzero_si256();
                    sum_groups_u8<G>(W, 4 * h, 4, xb, xs, p);
                    for (int i = 0; i < G; ++i) s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(p[i], ones));
                }
            }
            const float* fb = f + b * kFloats;
            const __m256 d = _mm256_loadu_ps(fb);
            for (int i = 0; i < G; ++i) {
                const size_t o = size_t(i * nb + b);
                if constexpr (K == Kind::Offset) s[i] = _mm256_sub_epi32(s[i], _mm256_set1_epi32(xsum[o]));
                a[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]), _mm256_mul_ps(d, _mm256_broadcast_ss(xd + o)), a[i]);
                if constexpr (K == Kind::Min)
                    a[i] = _mm256_fmadd_ps(_mm256_loadu_ps(fb + kPanel), _mm256_broadcast_ss(xsd + o), a[i]);
            }
        }
        for (int i = 0; i < G; ++i) acc[i] = a[i];
    }
};

// ---------------------------------------------------------------------------
// K-quants against Q8_K: per super-block 64 code vectors (8 pieces of 32 x 8
// groups), 16 scale vectors (lanes 2j, 2j+1: row j's int16 scale of one
// 16-element half), 8 coefficient vectors (lanes 2j, 2j+1: row j's
// coefficients of two consecutive 16-element sums); floats: d and dmin.
//   sum_q = sum over halves of scale * <codes, x>      (madd with the scales)
//   t     = sum over 16-sums of coef * bsum             (madd with the bsums)
//   Min:  y += d dy sum_q - dmin dy t;   Bias: y += d dy (sum_q - t).
template <class Block, kq::Mode M, void (*Decode)(const uint8_t*, kq::KDec<M>&), int Flush>
struct KQuant {
    static_assert(M != kq::Mode::Signed, "signed codes need the sign trick: not packed here");
    static constexpr int kQK = QK_K, kVecs = 64 + 16 + 8, kFloats = 16;
    // activation rows per micro-kernel call (1 thread, m = 512, Q4_K 640x2048:
    // 1 row 96, 2 rows 110, 3 rows 76, 4 rows 74 GFLOP/s; from 3 rows the
    // int16, int32 and float sums no longer fit in registers)
    static constexpr int kRowsG = 2;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_K);

    static void prepare(const MatmulTile&, int64_t) {}

    static void pack(const uint8_t* w, size_t stride, int rows, int64_t nb, __m256i* q, float* f) {
        for (int64_t b = 0; b < nb; ++b) {
            alignas(32) int16_t sc[16][16] = {}, co[8][16] = {};
            __m256i r[8][kPanel];
            float* fb = f + b * kFloats;
            for (int j = 0; j < kPanel; ++j) {
                if (j >= rows) {
                    for (int c = 0; c < 8; ++c) r[c][j] = _mm256_setzero_si256();
                    fb[j] = fb[kPanel + j] = 0;
                    continue;
                }
                kq::KDec<M> dec;
                Decode(w + j * stride + b * kWBytes, dec);
                alignas(32) int16_t coef[16];
                _mm256_store_si256(reinterpret_cast<__m256i*>(coef), dec.coef);
                for (int c = 0; c < 8; ++c) {
                    r[c][j] = dec.q[c];
                    alignas(32) int16_t s[16];
                    _mm256_store_si256(reinterpret_cast<__m256i*>(s), dec.sc[c]);
                    sc[2 * c][2 * j] = sc[2 * c][2 * j + 1] = s[0];
                    sc[2 * c + 1][2 * j] = sc[2 * c + 1][2 * j + 1] = s[8];
                    co[c][2 * j] = coef[2 * c], co[c][2 * j + 1] = coef[2 * c + 1];
                }
                fb[j] = dec.d, fb[kPanel + j] = dec.dmin;
            }
            __m256i* qb = q + b * kVecs;
            for (int c = 0; c < 8; ++c) store_groups(r[c], qb + 8 * c);
            for (int h = 0; h < 16; ++h) _mm256_store_si256(qb + 64 + h, _mm256_load_si256(reinterpret_cast<__m256i*>(sc[h])));
            for (int c = 0; c < 8; ++c) _mm256_store_si256(qb + 80 + c, _mm256_load_si256(reinterpret_cast<__m256i*>(co[c])));
        }
    }

    template <int G>
    static void micro(const __m256i* q, const float* f, int64_t nb, const uint8_t* x, size_t xs, int64_t,
                      __m256* acc) {
        __m256 a[G];
        for (int i = 0; i < G; ++i) a[i] = acc[i];
        for (int64_t b = 0; b < nb; ++b) {
            const __m256i* W = q + b * kVecs;
            const uint8_t* xb = x + b * kXBytes;
            const uint8_t* xq = xb + offsetof(block_q8_K, qs);
            __m256i s[G], t[G];
            for (int i = 0; i < G; ++i) s[i] = _mm256_setzero_si256();
            for (int c = 0; c < 8; ++c)
                for (int h = 0; h < 2; ++h) {
                    const __m256i sc = _mm256_load_si256(W + 64 + 2 * c + h);
                    // Flush groups at a time stay within int16 (codes <= 15: 4, <= 63: 2)
                    for (int g0 = 4 * h; g0 < 4 * h + 4; g0 += Flush) {
                        __m256i p[G];
                        for (int i = 0; i < G; ++i) p[i] = _mm256_setzero_si256();
                        sum_groups_u8<G>(W + 8 * c, g0, Flush, xq + 32 * c, xs, p);
                        for (int i = 0; i < G; ++i) s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(p[i], sc));
                    }
                }
            for (int i = 0; i < G; ++i) t[i] = _mm256_setzero_si256();
            const uint8_t* bs = xb + offsetof(block_q8_K, bsums);
            for (int c = 0; c < 8; ++c) {
                const __m256i co = _mm256_load_si256(W + 80 + c);
                for (int i = 0; i < G; ++i) t[i] = _mm256_add_epi32(t[i], _mm256_madd_epi16(co, bcast4(bs + i * xs + 4 * c)));
            }
            const float* fb = f + b * kFloats;
            const __m256 d = _mm256_loadu_ps(fb);
            for (int i = 0; i < G; ++i) {
                float dy;
                std::memcpy(&dy, xb + i * xs, 4);
                const __m256 vdy = _mm256_set1_ps(dy);
                if constexpr (M == kq::Mode::Bias) s[i] = _mm256_sub_epi32(s[i], t[i]);
                a[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]), _mm256_mul_ps(d, vdy), a[i]);
                if constexpr (M == kq::Mode::Min)
                    a[i] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(t[i]), _mm256_mul_ps(_mm256_loadu_ps(fb + kPanel), vdy),
                                            a[i]);
            }
        }
        for (int i = 0; i < G; ++i) acc[i] = a[i];
    }
};

// ---------------------------------------------------------------------------

// G activation rows against one panel; writes y[i * ldy + j] for the panel's
// first `valid` rows j.
template <class F, int G>
void apply_panel(const __m256i* q, const float* f, int64_t nb, const uint8_t* x, size_t xs, int64_t xo, float* y,
                 int64_t ldy, int valid) {
    __m256 acc[G];
    for (int i = 0; i < G; ++i) acc[i] = _mm256_setzero_ps();
    F::template micro<G>(q, f, nb, x, xs, xo, acc);
    for (int i = 0; i < G; ++i) {
        if (valid == kPanel) {
            _mm256_storeu_ps(y + i * ldy, acc[i]);
        } else {
            alignas(32) float tmp[kPanel];
            _mm256_store_ps(tmp, acc[i]);
            std::copy(tmp, tmp + valid, y + i * ldy);
        }
    }
}

// g (1..G) activation rows against one panel.
template <class F, int G>
void apply_rows(int g, const __m256i* q, const float* f, int64_t nb, const uint8_t* x, size_t xs, int64_t xo,
                float* y, int64_t ldy, int valid) {
    if constexpr (G > 1)
        if (g < G) return apply_rows<F, G - 1>(g, q, f, nb, x, xs, xo, y, ldy, valid);
    apply_panel<F, G>(q, f, nb, x, xs, xo, y, ldy, valid);
}

// Weight rows per slab: the packed slab stays in L2 (about 256 KiB).
int64_t slab_rows(int64_t k) {
    const int64_t rows = (256 * 1024 / std::max<int64_t>(k, 1)) / kPanel * kPanel;
    return std::clamp<int64_t>(rows, kPanel, 64);
}

template <class F>
void gemm(const MatmulTile& t) {
    const int64_t nb = t.k / F::kQK;
    F::prepare(t, nb);
    const int64_t slab = slab_rows(t.k);
    const int64_t panels = slab / kPanel;
    struct alignas(32) Vec {
        __m256i v;
    };
    static thread_local std::vector<Vec> qbuf;
    static thread_local std::vector<float> fbuf;
    qbuf.resize(size_t(panels * nb * F::kVecs));
    fbuf.resize(size_t(panels * nb * F::kFloats));
    __m256i* q = &qbuf[0].v;
    float* f = fbuf.data();
    const int64_t qp = nb * F::kVecs, fp = nb * F::kFloats;  // per panel
    for (int64_t r = t.r0; r < t.r1; r += slab) {
        const int64_t rows = std::min(slab, t.r1 - r);
        const int64_t np = (rows + kPanel - 1) / kPanel;
        for (int64_t p = 0; p < np; ++p)
            F::pack(t.w + (r + p * kPanel) * t.w_stride, t.w_stride, int(std::min<int64_t>(kPanel, rows - p * kPanel)),
                    nb, q + p * qp, f + p * fp);
        for (int i0 = 0; i0 < t.m; i0 += F::kRowsG) {
            const uint8_t* x = t.x + i0 * t.x_stride;
            const int64_t xo = i0 * nb;
            for (int64_t p = 0; p < np; ++p) {
                const int valid = int(std::min<int64_t>(kPanel, rows - p * kPanel));
                float* y = t.y + i0 * t.ldy + r + p * kPanel;
                const __m256i* qq = q + p * qp;
                const float* ff = f + p * fp;
                apply_rows<F, F::kRowsG>(int(std::min<int64_t>(F::kRowsG, t.m - i0)), qq, ff, nb, x, t.x_stride, xo, y,
                                         t.ldy, valid);
            }
        }
    }
}

}  // namespace

void register_gemm(KernelTable& k) {
    using kq::Mode;
    k.gemm[uint32_t(GgmlType::Q4_0)] = gemm<Legacy<block_q4_0, block_q8_0, Kind::Offset, 8, codes_q4_0>>;
    k.gemm[uint32_t(GgmlType::Q5_0)] = gemm<Legacy<block_q5_0, block_q8_0, Kind::Offset, 16, codes_q5_0>>;
    k.gemm[uint32_t(GgmlType::Q8_0)] = gemm<Legacy<block_q8_0, block_q8_0, Kind::Signed, 0, decode_q8_0>>;
    k.gemm[uint32_t(GgmlType::IQ4_NL)] = gemm<Legacy<block_iq4_nl, block_q8_0, Kind::Signed, 0, decode_iq4_nl>>;
    k.gemm[uint32_t(GgmlType::MXFP4)] = gemm<Legacy<block_mxfp4, block_q8_0, Kind::Signed, 0, decode_mxfp4>>;
    k.gemm[uint32_t(GgmlType::Q4_1)] = gemm<Legacy<block_q4_1, block_q8_1, Kind::Min, 0, decode_q4_1>>;
    k.gemm[uint32_t(GgmlType::Q5_1)] = gemm<Legacy<block_q5_1, block_q8_1, Kind::Min, 0, decode_q5_1>>;
    k.gemm[uint32_t(GgmlType::Q2_K)] = gemm<KQuant<block_q2_K, Mode::Min, kq::decode_q2_k, 4>>;
    k.gemm[uint32_t(GgmlType::Q3_K)] = gemm<KQuant<block_q3_K, Mode::Bias, kq::decode_q3_k, 4>>;
    k.gemm[uint32_t(GgmlType::Q4_K)] = gemm<KQuant<block_q4_K, Mode::Min, kq::decode_q4_k, 4>>;
    k.gemm[uint32_t(GgmlType::Q5_K)] = gemm<KQuant<block_q5_K, Mode::Min, kq::decode_q5_k, 4>>;
    k.gemm[uint32_t(GgmlType::Q6_K)] = gemm<KQuant<block_q6_K, Mode::Bias, kq::decode_q6_k, 2>>;
    // low-bit IQ and TQ: codes q + 64 (<= 126), one group per int16 flush
    k.gemm[uint32_t(GgmlType::IQ2_XXS)] = gemm<KQuant<block_iq2_xxs, Mode::Bias, iq::biased_iq2_xxs, 1>>;
    k.gemm[uint32_t(GgmlType::IQ2_XS)] = gemm<KQuant<block_iq2_xs, Mode::Bias, iq::biased_iq2_xs, 1>>;
    k.gemm[uint32_t(GgmlType::IQ2_S)] = gemm<KQuant<block_iq2_s, Mode::Bias, iq::biased_iq2_s, 1>>;
    k.gemm[uint32_t(GgmlType::IQ3_XXS)] = gemm<KQuant<block_iq3_xxs, Mode::Bias, iq::biased_iq3_xxs, 1>>;
    k.gemm[uint32_t(GgmlType::IQ3_S)] = gemm<KQuant<block_iq3_s, Mode::Bias, iq::biased_iq3_s, 1>>;
    k.gemm[uint32_t(GgmlType::IQ1_S)] = gemm<KQuant<block_iq1_s, Mode::Bias, iq::biased_iq1_s, 1>>;
    k.gemm[uint32_t(GgmlType::IQ1_M)] = gemm<KQuant<block_iq1_m, Mode::Bias, iq::biased_iq1_m, 1>>;
    k.gemm[uint32_t(GgmlType::TQ1_0)] = gemm<KQuant<block_tq1_0, Mode::Bias, iq::biased_tq1_0, 1>>;
    k.gemm[uint32_t(GgmlType::TQ2_0)] = gemm<KQuant<block_tq2_0, Mode::Bias, iq::biased_tq2_0, 1>>;
    for (const GgmlType t : {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S, GgmlType::IQ3_XXS, GgmlType::IQ3_S,
                             GgmlType::IQ1_S, GgmlType::IQ1_M, GgmlType::TQ1_0, GgmlType::TQ2_0})
        k.gemm_min_m[uint32_t(t)] = 16;
    // From where the GEMM was measured faster than the per-row tiles (2 threads,
    // 4096x14336 and 2048x640): packing a legacy block is cheap, a K-quant
    // super-block's scales are not.
    for (const GgmlType t : {GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q8_0, GgmlType::IQ4_NL, GgmlType::MXFP4,
                             GgmlType::Q4_1, GgmlType::Q5_1})
        k.gemm_min_m[uint32_t(t)] = 4;
    for (const GgmlType t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
        k.gemm_min_m[uint32_t(t)] = 16;
}

}  // namespace qlm::cpu::avx2
