// The tile driver (a MatmulTileFn: m = 1..kMaxTileM activation rows against
// a range of weight rows), written once for every instruction set: each
// block of a weight row is decoded once and applied to every activation row
// of the tile, in register groups of up to 4 rows. What differs per ISA is
// its accumulator (TileLanes) and the weight type's decoder (TileDecoder).
//
// Include it from the ISA's own header, after its intrinsics, with
// QLM_CPU_NS naming the ISA's namespace (see cpu/common/quantize.h).
// Private to src/cpu/<isa>/.
#pragma once

#ifndef QLM_CPU_NS
#error "include cpu/common/tile.h through an ISA header that defines QLM_CPU_NS"
#endif

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>

#include "cpu/kernels.h"

namespace qlm::cpu::QLM_CPU_NS {
namespace drivers {

// Activation block scales as floats: kXScales planes of m x nb values.
struct XScales {
    const float* p;  // this group's first row, this chunk's first block (plane 0)
    int64_t row;     // stride between activation rows
    int64_t plane;   // stride between planes (d, then s)
    XScales at(int64_t i) const { return {p ? p + i * row : nullptr, row, plane}; }
};

// The ISA's side (V's static members):
//   Acc              one activation row's float accumulator (a vector)
//   zero(), hsum(a)  an accumulator of zeros; the sum of its lanes
//   scratch_floats(n) per-thread floats, at least n (only for decoders with
//                    kXScales > 0)
template <class V>
concept TileLanes = requires(typename V::Acc a) {
    { V::zero() } -> std::same_as<typename V::Acc>;
    { V::hsum(a) } -> std::same_as<float>;
};

// A weight type's decoder K:
//   kQK        elements per weight block; kWBytes / kXBytes bytes per weight /
//              activation block; kChunk blocks decoded per step
//   kXScales   float scales per activation block (0..2), converted once per
//              call by xscales(x, out) (Q8_0: d; Q8_1: d and s)
//   Dec        up to kChunk decoded blocks; decode(w, nc, Dec&), nc <= kChunk
//   apply<G>(Dec, nc, x, xs, XScales, acc)
//              adds the nc blocks' contribution for G <= 4 activation rows
//              (row g at x + g * xs) to acc[g]
//   tail(w, x, j0, k) (optional, float types) the elements [j0, k) past the
//              last whole block
template <class K, class V>
concept TileDecoder = requires(const uint8_t* p, int nc, typename K::Dec& dec, const typename K::Dec& cdec,
                               size_t xs, XScales s, typename V::Acc* acc) {
    requires std::same_as<decltype(K::kQK), const int>;
    requires std::same_as<decltype(K::kChunk), const int>;
    requires std::same_as<decltype(K::kXScales), const int>;
    requires K::kXScales >= 0 && K::kXScales <= 2;
    requires std::same_as<decltype(K::kWBytes), const size_t>;
    requires std::same_as<decltype(K::kXBytes), const size_t>;
    K::decode(p, nc, dec);
    K::template apply<1>(cdec, nc, p, xs, s, acc);
    K::template apply<4>(cdec, nc, p, xs, s, acc);
    requires K::kXScales == 0 || requires(float* out) {
        K::xscales(p, out);
        { V::scratch_floats(xs) } -> std::same_as<float*>;
    };
};

template <class V, class K>
const float* activation_scales(const MatmulTile& t, int64_t nb) {
    if constexpr (K::kXScales == 0) {
        (void)t, (void)nb;
        return nullptr;
    } else {
        const size_t plane = size_t(t.m) * size_t(nb);
        float* buf = V::scratch_floats(plane * K::kXScales);
        for (int i = 0; i < t.m; ++i)
            for (int64_t b = 0; b < nb; ++b) {
                float s[K::kXScales];
                K::xscales(t.x + i * t.x_stride + b * K::kXBytes, s);
                for (int p = 0; p < K::kXScales; ++p) buf[size_t(p) * plane + size_t(i * nb + b)] = s[p];
            }
        return buf;
    }
}

// Contribution of the elements past the last whole block (float types only).
template <class K>
inline float tail_dot(const MatmulTile& t, const uint8_t* w, int i) {
    if constexpr (requires { K::tail(w, w, int64_t(0), int64_t(0)); }) {
        return K::tail(w, t.x + i * t.x_stride, (t.k / K::kQK) * K::kQK, t.k);
    } else {
        (void)t, (void)w, (void)i;
        return 0.0f;
    }
}

template <TileLanes V, class K>
    requires TileDecoder<K, V>
void tile(const MatmulTile& t) {
    using Acc = typename V::Acc;
    constexpr int C = K::kChunk;
    const int64_t nb = t.k / K::kQK;
    const float* xsc = activation_scales<V, K>(t, nb);
    const XScales all{xsc, nb, int64_t(t.m) * nb};
    const size_t xs = t.x_stride;
    for (int64_t r = t.r0; r < t.r1; ++r) {
        const uint8_t* w = t.w + r * t.w_stride;
        Acc acc[kMaxTileM];
        for (int i = 0; i < t.m; ++i) acc[i] = V::zero();
        for (int64_t b0 = 0; b0 < nb; b0 += C) {
            const int nc = int(std::min<int64_t>(C, nb - b0));
            typename K::Dec dec;
            K::decode(w + b0 * K::kWBytes, nc, dec);
            const uint8_t* x = t.x + b0 * K::kXBytes;
            const XScales s{xsc ? xsc + b0 : nullptr, all.row, all.plane};
            int i = 0;
            for (; i + 4 <= t.m; i += 4) K::template apply<4>(dec, nc, x + i * xs, xs, s.at(i), acc + i);
            switch (t.m - i) {
                case 3: K::template apply<3>(dec, nc, x + i * xs, xs, s.at(i), acc + i); break;
                case 2: K::template apply<2>(dec, nc, x + i * xs, xs, s.at(i), acc + i); break;
                case 1: K::template apply<1>(dec, nc, x + i * xs, xs, s.at(i), acc + i); break;
                default: break;
            }
        }
        for (int i = 0; i < t.m; ++i) t.y[i * t.ldy + r] = V::hsum(acc[i]) + tail_dot<K>(t, w, i);
    }
}

}  // namespace drivers
}  // namespace qlm::cpu::QLM_CPU_NS
