// AVX2 tiles for F32, F16 and BF16 weights (activations of the same type).
// Eight float lanes accumulate within a 256-element chunk; chunks are summed
// separately, which keeps the rounding error well inside the test bound for
// rows of many thousand elements. Elements past the last multiple of 8 are
// summed in double, as the reference does.
#include "cpu/avx2/common.h"
#include "formats/common.h"

namespace qlm::cpu::avx2 {
namespace {

struct LoadF32 {
    static constexpr size_t kSize = 4;
    static __m256 load8(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
    static float one(const uint8_t* p) { return fmt::f32_from_bits(fmt::load_u32(p)); }
};
struct LoadF16 {
    static constexpr size_t kSize = 2;
    static __m256 load8(const uint8_t* p) { return _mm256_cvtph_ps(load128(p)); }
    static float one(const uint8_t* p) { return fmt::fp16_to_fp32(fmt::load_u16(p)); }
};
struct LoadBF16 {
    static constexpr size_t kSize = 2;
    static __m256 load8(const uint8_t* p) {
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p)), 16));
    }
    static float one(const uint8_t* p) { return fmt::bf16_to_fp32(fmt::load_u16(p)); }
};

template <class L>
struct FloatRow {
    static constexpr int kQK = 8, kChunk = 32;
    static constexpr size_t kWBytes = 8 * L::kSize, kXBytes = 8 * L::kSize;
    using Dec = __m256;
    static void decode(const uint8_t* p, Dec& d) { d = L::load8(p); }
    static __m256 dot(const Dec& d, const uint8_t* x, float, __m256 acc) { return _mm256_fmadd_ps(d, L::load8(x), acc); }
    static float tail(const uint8_t* w, const uint8_t* x, int64_t j0, int64_t k) {
        double s = 0;
        for (int64_t j = j0; j < k; ++j) s += double(L::one(w + j * L::kSize)) * double(L::one(x + j * L::kSize));
        return float(s);
    }
};

}  // namespace

void register_floats(KernelTable& k) {
    k.tile[uint32_t(GgmlType::F32)] = tile<FloatRow<LoadF32>>;
    k.tile[uint32_t(GgmlType::F16)] = tile<FloatRow<LoadF16>>;
    k.tile[uint32_t(GgmlType::BF16)] = tile<FloatRow<LoadBF16>>;
}

}  // namespace qlm::cpu::avx2
