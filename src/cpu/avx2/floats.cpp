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

// The tile driver's arithmetic (cpu/common/tile.h: per weight row and
// activation row, each chunk's 8-lane sum from zero, added to the row's
// accumulator in chunk order, then hsum and the tail) in another loop order:
// kRowBlock weight rows per chunk of activations, so the activation chunk
// (m x 1 KiB for F32) is read from L1 by all of them instead of from L2 once
// per weight row (m > 4). The outputs are the same floats.
constexpr int kRowBlock = 8;

template <class E>
void float_tile(const MatmulTile& t) {
    using K = FloatRow<E>;
    // up to 4 activation rows (32 KiB of F32 at k = 2048) stay in L1 anyway
    if (t.m <= 4) return drivers::tile<Lanes, K>(t);
    constexpr int C = K::kChunk;
    const int64_t nb = t.k / K::kQK;
    const size_t xs = t.x_stride;
    const drivers::XScales none{nullptr, 0, 0};
    for (int64_t r0 = t.r0; r0 < t.r1; r0 += kRowBlock) {
        const int rn = int(std::min<int64_t>(kRowBlock, t.r1 - r0));
        __m256 acc[kRowBlock][kMaxTileM];
        for (int rr = 0; rr < rn; ++rr)
            for (int i = 0; i < t.m; ++i) acc[rr][i] = _mm256_setzero_ps();
        for (int64_t b0 = 0; b0 < nb; b0 += C) {
            const int nc = int(std::min<int64_t>(C, nb - b0));
            const uint8_t* x = t.x + b0 * K::kXBytes;
            typename K::Dec dec[kRowBlock];
            for (int rr = 0; rr < rn; ++rr) K::decode(t.w + (r0 + rr) * t.w_stride + b0 * K::kWBytes, nc, dec[rr]);
            int i = 0;
            for (; i + 4 <= t.m; i += 4)
                for (int rr = 0; rr < rn; ++rr) K::template apply<4>(dec[rr], nc, x + i * xs, xs, none, acc[rr] + i);
            for (int rr = 0; rr < rn; ++rr) switch (t.m - i) {
                    case 3: K::template apply<3>(dec[rr], nc, x + i * xs, xs, none, acc[rr] + i); break;
                    case 2: K::template apply<2>(dec[rr], nc, x + i * xs, xs, none, acc[rr] + i); break;
                    case 1: K::template apply<1>(dec[rr], nc, x + i * xs, xs, none, acc[rr] + i); break;
                    default: break;
                }
        }
        for (int rr = 0; rr < rn; ++rr) {
            const uint8_t* w = t.w + (r0 + rr) * t.w_stride;
            for (int i = 0; i < t.m; ++i) t.y[i * t.ldy + r0 + rr] = Lanes::hsum(acc[rr][i]) + drivers::tail_dot<K>(t, w, i);
        }
    }
}

}  // namespace

void register_floats(KernelTable& k) {
    static_assert(drivers::TileDecoder<FloatRow<drivers::ElemF32>, Lanes> && drivers::TileDecoder<FloatRow<drivers::ElemF16>, Lanes> &&
                  drivers::TileDecoder<FloatRow<drivers::ElemBF16>, Lanes>);
    k.tile[uint32_t(GgmlType::F32)] = float_tile<drivers::ElemF32>;
    k.tile[uint32_t(GgmlType::F16)] = float_tile<drivers::ElemF16>;
    k.tile[uint32_t(GgmlType::BF16)] = float_tile<drivers::ElemBF16>;
}

}  // namespace qlm::cpu::avx2
