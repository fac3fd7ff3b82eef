// AVX2 activation quantizers for Q8_0, Q8_1 and Q8_K. They must write the
// same bytes as the reference quantize_row (formats/legacy.cpp, kquants.cpp):
// the same scale arithmetic and the same rounding (roundf for Q8_0/Q8_1,
// nearbyint with clamping for Q8_K).
#include "cpu/avx2/common.h"
#include "formats/kquants.h"
#include "formats/legacy.h"

namespace qlm::cpu::avx2 {
namespace {

using namespace fmt;

inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// roundf: half away from zero (trunc, then step away where |fraction| >= 0.5).
inline __m256 round_away(__m256 v) {
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));
    const __m256 far = _mm256_cmp_ps(abs_ps(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(far, step));
}

// Four vectors of 8 integral floats (elements 0..31 in order) -> 32 int8.
inline __m256i pack_i8(const __m256 r[4]) {
    const __m256i a = _mm256_packs_epi32(_mm256_cvtps_epi32(r[0]), _mm256_cvtps_epi32(r[1]));
    const __m256i b = _mm256_packs_epi32(_mm256_cvtps_epi32(r[2]), _mm256_cvtps_epi32(r[3]));
    const __m256i p = _mm256_packs_epi16(a, b);
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One 32-element Q8 block: d = amax/127, q = roundf(x/d); returns sum of q.
int quantize_q8_block(const float* x, uint16_t* d_out, int8_t* qs, float* d_f32) {
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
        v[j] = _mm256_loadu_ps(x + 8 * j);
        amax = _mm256_max_ps(abs_ps(v[j]), amax);  // a NaN element is skipped, as std::max does
    }
    const float d = hmax(amax) / 127.0f;
    const __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
    for (int j = 0; j < 4; ++j) v[j] = round_away(_mm256_mul_ps(v[j], id));
    const __m256i q = pack_i8(v);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), q);
    *d_out = fp32_to_fp16(d);
    *d_f32 = d;
    return sum_i8(q);
}

void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_0*>(vy);
    float d;
    for (int64_t i = 0; i < n / QK8_0; ++i) quantize_q8_block(x + i * 32, &y[i].d, y[i].qs, &d);
}

void quantize_row_q8_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < n / QK8_1; ++i) {
        float d;
        const int sum = quantize_q8_block(x + i * 32, &y[i].d, y[i].qs, &d);
        y[i].s = fp32_to_fp16(d * float(sum));
    }
}

void quantize_row_q8_K(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_q8_K& b = y[i];
        const float* xb = x + i * QK_K;
        __m256 amax = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) amax = _mm256_max_ps(abs_ps(_mm256_loadu_ps(xb + j)), amax);
        const float a = hmax(amax);
        float max = 0;  // the first element of largest magnitude, with its sign
        if (a > 0) {
            const __m256 av = _mm256_set1_ps(a);
            for (int j = 0; j < QK_K; j += 8) {
                const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(xb + j)), av, _CMP_EQ_OQ));
                if (hit) {
                    max = xb[j + __builtin_ctz(unsigned(hit))];
                    break;
                }
            }
        }
        const float iscale = max != 0 ? -127.0f / max : 0.0f;
        const __m256 is = _mm256_set1_ps(iscale), lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
        for (int j = 0; j < QK_K; j += 32) {
            __m256 v[4];
            for (int u = 0; u < 4; ++u) {
                const __m256 r = _mm256_round_ps(_mm256_mul_ps(is, _mm256_loadu_ps(xb + j + 8 * u)),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                v[u] = _mm256_min_ps(_mm256_max_ps(r, lo), hi);  // NaN -> lo, as round_clamp
            }
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs + j), pack_i8(v));
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
            b.bsums[j] = int16_t(sum);
        }
        b.d = iscale != 0 ? 1.0f / iscale : 0.0f;
    }
}

}  // namespace

void register_quantizers(KernelTable& k) {
    k.quantize[uint32_t(GgmlType::Q8_0)] = quantize_row_q8_0;
    k.quantize[uint32_t(GgmlType::Q8_1)] = quantize_row_q8_1;
    k.quantize[uint32_t(GgmlType::Q8_K)] = quantize_row_q8_K;
}

}  // namespace qlm::cpu::avx2
