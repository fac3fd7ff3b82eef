// AVX2 primitives of the activation quantizers (the row loops:
// cpu/common/quantize.h). roundf is built from truncation; nearbyint is
// vroundps in the current mode.
#include "cpu/avx2/common.h"
#include "cpu/common/quantize.h"

namespace qlm::cpu::avx2 {
namespace {

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

struct Q8 {
    static int q8_block(const float* x, float& d, int8_t* qs) {
        __m256 v[4], amax = _mm256_setzero_ps();
        for (int j = 0; j < 4; ++j) {
            v[j] = _mm256_loadu_ps(x + 8 * j);
            amax = _mm256_max_ps(abs_ps(v[j]), amax);  // a NaN element is skipped, as std::max does
        }
        d = hmax(amax) / 127.0f;
        const __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
        for (int j = 0; j < 4; ++j) v[j] = round_away(_mm256_mul_ps(v[j], id));
        const __m256i q = pack_i8(v);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), q);
        return sum_i8(q);
    }

    static float amax(const float* x, int n) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < n; j += 8) m = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + j)), m);
        return hmax(m);
    }

    static int first_abs_equal(const float* x, int n, float a) {
        const __m256 av = _mm256_set1_ps(a);
        for (int j = 0; j < n; j += 8) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), av, _CMP_EQ_OQ));
            if (hit) return j + __builtin_ctz(unsigned(hit));
        }
        return 0;  // not reached: a is one of the |x[j]|
    }

    static void q8k_quants(const float* x, float iscale, int8_t* qs, int16_t* bsums) {
        const __m256 is = _mm256_set1_ps(iscale), lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
        for (int j = 0; j < fmt::QK_K; j += 32) {
            __m256 v[4];
            for (int u = 0; u < 4; ++u) {
                const __m256 r = _mm256_round_ps(_mm256_mul_ps(is, _mm256_loadu_ps(x + j + 8 * u)),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                v[u] = _mm256_min_ps(_mm256_max_ps(r, lo), hi);  // NaN -> lo, as round_clamp
            }
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + j), pack_i8(v));
        }
        drivers::q8k_bsums(qs, bsums);
    }
};
static_assert(drivers::Q8Quantizer<Q8>);

}  // namespace

void register_quantizers(KernelTable& k) { drivers::register_quantizers<Q8>(k); }

}  // namespace qlm::cpu::avx2
