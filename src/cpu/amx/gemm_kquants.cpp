// AMX GEMM for the super-block formats against Q8_K activations: Q4_K, Q5_K,
// IQ4_XS (a scale per 32 elements: one tdpbssd of K = 32 per sub-block) and
// Q2_K, Q3_K, Q6_K (a scale per 16: K = 16). Each sub-block's 16 x 16 exact
// sums go to L1, then per output S = sum_j sc_j * C_j (vpmulld, exact int32)
// and for the formats with mins T = sum_k m_k * bsum_k (vpdpwssd), and the
// float step of the VNNI kernels (gemm.h):
//   acc = fma(float(S), d * dx, acc)   [Min: acc = fnmadd(float(T), dmin * dx, acc)]
// Codes are signed (offsets off while packing), so S needs no bias term: the
// same integer as the VNNI kernels' S - sum_j Off * sc_j * bsum_j.
#include "cpu/amx/gemm.h"
#include "cpu/avx512/kquant_decode.h"

namespace qlm::cpu::amx {
namespace {

using namespace avx512;

// Per super-block of a panel: 64 code rows of 64 bytes (sub-block j: rows
// j * kSub / 4 ..), kNSub scale vectors (int32 per weight row), 8 coefficient
// vectors (Min: int16 pairs of bsums 2k, 2k + 1), d[16], dmin[16].
template <class D, GgmlType T, int Sub, int Off, int MinM>
struct KQuant {
    static constexpr GgmlType kId = T;
    static constexpr int kMinM = MinM;
    static constexpr int kQK = fmt::QK_K, kStep = Sub, kNSub = fmt::QK_K / Sub;
    static constexpr bool kMinK = D::kMode == kq::Mode::Min;
    static constexpr size_t kWBytes = D::kWBytes, kXBytes = sizeof(fmt::block_q8_K);
    static constexpr int64_t kScOff = 64 * 64, kCoOff = kScOff + kNSub * 64, kDOff = kCoOff + 8 * 64;
    static constexpr int64_t kBlockBytes = kDOff + 2 * 64, kChunk = 16, kCBufBytes = kNSub * 1024;

    static Facts facts(const MatmulTile& t, int64_t nb) {
        float* dx = static_cast<float*>(scratch(0, size_t(t.m * nb) * 4));
        for (int i = 0; i < t.m; ++i)
            for (int64_t b = 0; b < nb; ++b) dx[i * nb + b] = f32(t.x + i * t.x_stride + b * kXBytes);
        return {dx, nullptr};
    }

    static void pack(const uint8_t* w, size_t stride, int rows, int64_t nc, uint8_t* out) {
        const __m256i off = _mm256_set1_epi8(int8_t(Off));
        for (int64_t b = 0; b < nc; ++b) {
            const uint8_t* wb = w + b * kWBytes;
            uint8_t* o = out + b * kBlockBytes;
            alignas(64) int32_t sc[kNSub][16] = {}, co[8][16] = {};
            __m256i r[8][16];
            for (int j = 0; j < 16; ++j) {
                if (j >= rows) {
                    for (int c = 0; c < 8; ++c) r[c][j] = _mm256_setzero_si256();
                    continue;
                }
                kq::KDec dec;
                D::decode(wb + j * stride, dec);
                for (int c = 0; c < 8; ++c) {
                    r[c][j] = Off ? _mm256_sub_epi8(dec.q[c], off) : dec.q[c];  // signed codes q
                    alignas(32) int16_t s16[16];
                    alignas(32) int32_t s32[8];
                    int32_t s0, s1;
                    if constexpr (D::kWide) {
                        _mm256_store_si256(reinterpret_cast<__m256i*>(s32), dec.sc[c]);
                        s0 = s32[0], s1 = s32[4];
                    } else {
                        _mm256_store_si256(reinterpret_cast<__m256i*>(s16), dec.sc[c]);
                        s0 = s16[0], s1 = s16[8];
                    }
                    if constexpr (Sub == 32) {
                        sc[c][j] = s0;  // s1 == s0
                    } else {
                        sc[2 * c][j] = s0, sc[2 * c + 1][j] = s1;
                    }
                }
                if constexpr (kMinK) {
                    alignas(32) int16_t coef[16];
                    _mm256_store_si256(reinterpret_cast<__m256i*>(coef), dec.coef);
                    for (int k = 0; k < 8; ++k)
                        co[k][j] = int32_t(uint32_t(uint16_t(coef[2 * k])) | uint32_t(uint16_t(coef[2 * k + 1])) << 16);
                }
            }
            for (int c = 0; c < 8; ++c) transpose16x8(r[c], o + c * 8 * 64);
            for (int k = 0; k < kNSub; ++k) _mm512_store_si512(o + kScOff + 64 * k, _mm512_load_si512(sc[k]));
            if constexpr (kMinK)
                for (int k = 0; k < 8; ++k) _mm512_store_si512(o + kCoOff + 64 * k, _mm512_load_si512(co[k]));
            __m256i lo, hi;
            gather16(wb + D::kDOff, stride, rows, lo, hi);
            __m256 d0, m0, d1, m1;
            D::scales(lo, d0, m0);
            D::scales(hi, d1, m1);
            _mm512_store_ps(o + kDOff, join(d0, d1));
            _mm512_store_ps(o + kDOff + 64, join(m0, m1));
        }
    }

    // Sub-blocks j .. j + 3 through C tiles 0..3 into cbuf (slot j: 1 KiB).
    static void products4(const uint8_t* xq, size_t xs, const uint8_t* codes, int j, int32_t* cbuf) {
        constexpr int kRows = Sub / 4;  // B rows per sub-block
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        _tile_loadd(4, xq + (j + 0) * Sub, xs);
        _tile_loadd(6, codes + (j + 0) * kRows * 64, 64);
        _tile_dpbssd(0, 4, 6);
        _tile_loadd(5, xq + (j + 1) * Sub, xs);
        _tile_loadd(7, codes + (j + 1) * kRows * 64, 64);
        _tile_dpbssd(1, 5, 7);
        _tile_loadd(4, xq + (j + 2) * Sub, xs);
        _tile_loadd(6, codes + (j + 2) * kRows * 64, 64);
        _tile_dpbssd(2, 4, 6);
        _tile_loadd(5, xq + (j + 3) * Sub, xs);
        _tile_loadd(7, codes + (j + 3) * kRows * 64, 64);
        _tile_dpbssd(3, 5, 7);
        _tile_stored(0, cbuf + (j + 0) * 256, 64);
        _tile_stored(1, cbuf + (j + 1) * 256, 64);
        _tile_stored(2, cbuf + (j + 2) * 256, 64);
        _tile_stored(3, cbuf + (j + 3) * 256, 64);
    }

    template <int G>
    static void micro(const uint8_t* pb, int64_t nc, const uint8_t* x, size_t xs, const Facts& fa, int64_t nb,
                      int64_t xo, int32_t* cbuf, float* y, int64_t ldy, __mmask16 mask, bool first, int g) {
        const int n = G ? G : g;
        __m512 acc[G ? G : 16];
        load_acc<G>(acc, g, y, ldy, mask, first);
        for (int64_t b = 0; b < nc; ++b) {
            const uint8_t* o = pb + b * kBlockBytes;
            const uint8_t* xb = x + b * kXBytes;
            for (int j = 0; j < kNSub; j += 4) products4(xb + offsetof(fmt::block_q8_K, qs), xs, o, j, cbuf);
            const __m512 d = _mm512_load_ps(o + kDOff);
            const float* dx = fa.dx + xo + b;
            for (int i = 0; i < n; ++i) {
                __m512i s = _mm512_mullo_epi32(_mm512_load_si512(cbuf + 16 * i), _mm512_load_si512(o + kScOff));
                for (int j = 1; j < kNSub; ++j)
                    s = _mm512_add_epi32(s, _mm512_mullo_epi32(_mm512_load_si512(cbuf + j * 256 + 16 * i),
                                                               _mm512_load_si512(o + kScOff + 64 * j)));
                const __m512 vdx = _mm512_set1_ps(dx[i * nb]);
                acc[i] = _mm512_fmadd_ps(cvt(s), _mm512_mul_ps(d, vdx), acc[i]);
                if constexpr (kMinK) {
                    const uint8_t* bs = xb + i * xs + offsetof(fmt::block_q8_K, bsums);
                    __m512i tm = _mm512_setzero_si512();
                    for (int k = 0; k < 8; ++k) {
                        int32_t v;
                        std::memcpy(&v, bs + 4 * k, 4);
                        tm = _mm512_dpwssd_epi32(tm, _mm512_load_si512(o + kCoOff + 64 * k), _mm512_set1_epi32(v));
                    }
                    acc[i] = _mm512_fnmadd_ps(cvt(tm), _mm512_mul_ps(_mm512_load_ps(o + kDOff + 64), vdx),
                                              acc[i]);
                }
            }
        }
        store_acc<G>(acc, g, y, ldy, mask);
    }
};

constexpr int kMinK = 16;

template <class D, GgmlType T, int Sub, int Off>
void set(Entry* e) {
    e[uint32_t(T)] = {gemm<KQuant<D, T, Sub, Off, kMinK>>, kMinK};
}

}  // namespace

void register_kquants(Entry* e) {
    using namespace kq;
    set<DecQ4_K, GgmlType::Q4_K, 32, 0>(e);
    set<DecQ5_K, GgmlType::Q5_K, 32, 0>(e);
    set<DecIq4Xs, GgmlType::IQ4_XS, 32, 128>(e);
    set<DecQ2_K, GgmlType::Q2_K, 16, 0>(e);
    set<DecQ3_K, GgmlType::Q3_K, 16, 4>(e);
    set<DecQ6_K, GgmlType::Q6_K, 16, 32>(e);
}

}  // namespace qlm::cpu::amx
