// Shared pieces of the NEON kernels: small vector helpers and the one tile
// driver every weight type plugs into. Private to src/cpu/neon/.
//
// A weight type is a "decoder" K with
//   kQK       elements per weight block, kWBytes / kXBytes bytes per weight /
//             activation block, kChunk blocks decoded per step,
//   kXScales  float scales per activation block (0..2), converted once per
//             call by xscales(x, out) (Q8_0: d; Q8_1: d and s),
//   Dec       up to kChunk decoded blocks (int8 lanes + scales),
//             decode(w, nc, Dec&) for nc <= kChunk blocks,
//   apply<G>(Dec, nc, x, xs, XScales, acc): adds the nc blocks' contribution
//             for G activation rows (x + g * xs) to acc[g].
// The driver decodes each block of a weight row once and applies it to every
// activation row of the tile, in register groups of up to 4 rows.
#pragma once

#include <arm_neon.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/neon/neon.h"

namespace qlm::cpu::neon {

inline uint8x16_t load_u8(const uint8_t* p) { return vld1q_u8(p); }
inline int8x16_t load_s8(const uint8_t* p) { return vreinterpretq_s8_u8(vld1q_u8(p)); }
// Eight little-endian int16 from packed bytes (no alignment assumed).
inline int16x8_t load_s16(const uint8_t* p) { return vreinterpretq_s16_u8(vld1q_u8(p)); }

inline float fp16_load(const uint8_t* p) {
    __fp16 h;
    std::memcpy(&h, p, 2);
    return float(h);  // fcvt: exact, as fmt::fp16_to_fp32
}

// 16 packed bytes -> 32 nibbles: lo holds elements 0..15, hi 16..31.
inline void unpack_nibbles(const uint8_t* p, uint8x16_t& lo, uint8x16_t& hi) {
    const uint8x16_t v = vld1q_u8(p);
    lo = vandq_u8(v, vdupq_n_u8(0x0f));
    hi = vshrq_n_u8(v, 4);
}

// 32 little-endian bits -> 32 bytes, 0xff where the bit is set (bit j -> byte j):
// lo holds bytes 0..15, hi 16..31.
inline void bytes_from_bits32(const uint8_t* p, uint8x16_t& lo, uint8x16_t& hi) {
    uint32_t h;
    std::memcpy(&h, p, 4);
    const uint8x8_t b = vcreate_u8(uint64_t(h));
    const uint8x16_t bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ull));
    lo = vtstq_u8(vcombine_u8(vdup_lane_u8(b, 0), vdup_lane_u8(b, 1)), bit);
    hi = vtstq_u8(vcombine_u8(vdup_lane_u8(b, 2), vdup_lane_u8(b, 3)), bit);
}

// IQ4_NL / IQ4_XS code values (formats/iquants.h iq4nl_value) as a vqtbl1q table.
inline constexpr int8_t kIq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

inline int8x16_t lookup16(const int8_t* table, uint8x16_t nibbles) { return vqtbl1q_s8(vld1q_s8(table), nibbles); }

// <w, a> over 32 int8 pairs, as 4 int32 partial sums (sdot).
inline int32x4_t dot32(const int8x16_t* w, const uint8_t* a) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w[0], load_s8(a)), w[1], load_s8(a + 16));
}

// Lanes of p0..p3 summed: lane j = sum of pj's lanes.
inline int32x4_t reduce4(int32x4_t p0, int32x4_t p1, int32x4_t p2, int32x4_t p3) {
    return vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
}

// Activation block scales as floats: kXScales planes of m x nb values.
struct XScales {
    const float* p;  // this group's first row, this chunk's first block (plane 0)
    int64_t row;     // stride between activation rows
    int64_t plane;   // stride between planes (d, then s)
    XScales at(int64_t i) const { return {p ? p + i * row : nullptr, row, plane}; }
};

template <class K>
const float* activation_scales(const MatmulTile& t, int64_t nb) {
    if constexpr (K::kXScales == 0) {
        (void)t, (void)nb;
        return nullptr;
    } else {
        const size_t plane = size_t(t.m) * size_t(nb);
        float* buf = scratch_floats(plane * K::kXScales);
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

template <class K>
void tile(const MatmulTile& t) {
    constexpr int C = K::kChunk;
    const int64_t nb = t.k / K::kQK;
    const float* xsc = activation_scales<K>(t, nb);
    const XScales all{xsc, nb, int64_t(t.m) * nb};
    const size_t xs = t.x_stride;
    for (int64_t r = t.r0; r < t.r1; ++r) {
        const uint8_t* w = t.w + r * t.w_stride;
        float32x4_t acc[kMaxTileM];
        for (int i = 0; i < t.m; ++i) acc[i] = vdupq_n_f32(0.0f);
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
        for (int i = 0; i < t.m; ++i) t.y[i * t.ldy + r] = vaddvq_f32(acc[i]) + tail_dot<K>(t, w, i);
    }
}

}  // namespace qlm::cpu::neon
