// AVX-512 VNNI kernels for the super-block formats against Q8_K activations:
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS. Eight weight rows go together;
// each row's super-block decodes once (kquant_decode.h) and is applied to
// every activation row of the call; its exact S (and T) per row reduce to
// one lane per row, and each output follows cpu/kernels.h's order:
//   acc = fma(float(S), d * dx, acc)   [Min: acc = fnmadd(float(T), dmin * dx, acc)]
#include "cpu/avx512/kquant_decode.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace {

using kq::KDec;
using kq::Mode;

// Eight weight rows [r, r + rows) against all t.m activation rows: each
// super-block decodes once per call.
template <class K>
void rows8(const MatmulTile& t, int64_t r, int rows) {
    const int64_t nb = t.k / fmt::QK_K;
    const uint8_t* w = t.w + r * t.w_stride;
    const __m256i offs = row_offsets(t.w_stride, rows);
    __m256 acc[kMaxTileM];
    for (int i = 0; i < t.m; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* wb = w + b * K::kWBytes;
        __m256 dw, dmw;
        K::scales(gather32(wb + K::kDOff, offs), dw, dmw);
        KDec dec[8];
        for (int j = 0; j < 8; ++j) K::decode(wb + (j < rows ? j : rows - 1) * t.w_stride, dec[j]);
        for (int i = 0; i < t.m; ++i) {
            const uint8_t* xb = t.x + i * t.x_stride + b * K::kXBytes;
            __m256i s[8], tm[8];
            for (int j = 0; j < 8; ++j) kq::dot_lanes<K>(dec[j], xb, s[j], tm[j]);
            const __m256 dx = _mm256_set1_ps(f32(xb));
            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(reduce8(s)), _mm256_mul_ps(dw, dx), acc[i]);
            if constexpr (K::kMode == Mode::Min)
                acc[i] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(reduce8(tm)), _mm256_mul_ps(dmw, dx), acc[i]);
        }
    }
    for (int i = 0; i < t.m; ++i) store_lanes(t.y + i * t.ldy + r, acc[i], rows);
}

template <class K>
void tile(const MatmulTile& t) {
    for (int64_t r = t.r0; r < t.r1; r += 8) rows8<K>(t, r, int(imin(8, t.r1 - r)));
}

}  // namespace

void register_kquants(KernelTable& k) {
    k.tile[uint32_t(GgmlType::Q2_K)] = tile<kq::DecQ2_K>;
    k.tile[uint32_t(GgmlType::Q3_K)] = tile<kq::DecQ3_K>;
    k.tile[uint32_t(GgmlType::Q4_K)] = tile<kq::DecQ4_K>;
    k.tile[uint32_t(GgmlType::Q5_K)] = tile<kq::DecQ5_K>;
    k.tile[uint32_t(GgmlType::Q6_K)] = tile<kq::DecQ6_K>;
    k.tile[uint32_t(GgmlType::IQ4_XS)] = tile<kq::DecIq4Xs>;
}

}  // namespace qlm::cpu::QLM_AVX512_NS
