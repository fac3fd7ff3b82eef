// AVX2 tiles for F32, F16 and BF16 weights (activations of the same type).
// Eight float lanes accumulate within a 256-element chunk; chunks are summed
// separately, which keeps the rounding error well inside the test bound for
// rows of many thousand elements. Elements past the last multiple of 8 are
// summed in double, as the reference does (cpu/common/floats.h).
#include "cpu/avx2/common.h"
#include "cpu/common/floats.h"

namespace qlm::cpu::avx2 {
namespace {

// 8 elements of type E as floats (binary16 and bfloat16 converted exactly).
template <class E>
inline __m256 load8(const uint8_t* p) {
    if constexpr (E::kType == GgmlType::F32)
        return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    else if constexpr (E::kType == GgmlType::F16)
        return _mm256_cvtph_ps(load128(p));
    else
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
}

template <class E>
struct FloatRow : drivers::FloatTail<E> {
    static constexpr int kQK = 8, kChunk = 32, kXScales = 0;
    static constexpr size_t kWBytes = 8 * E::kSize, kXBytes = 8 * E::kSize;

    // Floats need no decoding: the chunk is its weights, loaded (and
    // converted) where they are multiplied, once per group of rows. A
    // decoded copy on the stack cost 10-20 % at m = 1 (bench kernels --hot).
    struct Dec {
        const uint8_t* w;
    };

    static void decode(const uint8_t* w, int, Dec& d) { d.w = w; }

    template <int G>
    static void apply(const Dec& d, int nc, const uint8_t* x, size_t xs, drivers::XScales, __m256* acc) {
        __m256 a[G];
        for (int g = 0; g < G; ++g) a[g] = _mm256_setzero_ps();
        for (int c = 0; c < nc; ++c) {
            const __m256 w = load8<E>(d.w + c * kWBytes);
            for (int g = 0; g < G; ++g) a[g] = _mm256_fmadd_ps(w, load8<E>(x + g * xs + c * kXBytes), a[g]);
        }
        for (int g = 0; g < G; ++g) acc[g] = _mm256_add_ps(acc[g], a[g]);
    }
};

}  // namespace

void register_floats(KernelTable& k) { drivers::register_float_rows<Lanes, FloatRow>(k); }

}  // namespace qlm::cpu::avx2
