// Shared pieces of the NEON kernels: small vector helpers and the ISA side
// of the tile driver (cpu/common/tile.h), whose TileDecoder concept every
// weight type's decoder meets. Private to src/cpu/neon/.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "cpu/neon/neon.h"

// The namespace of the shared headers (cpu/common/) in this folder's
// translation units: their code is compiled with the NEON flags.
#define QLM_CPU_NS neon

#include "cpu/common/tile.h"

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

// The NEON side of the tile driver (cpu/common/tile.h): 4 float lanes.
struct Lanes {
    using Acc = float32x4_t;
    static float32x4_t zero() { return vdupq_n_f32(0.0f); }
    static float hsum(float32x4_t v) { return vaddvq_f32(v); }
    static float* scratch_floats(size_t n) { return neon::scratch_floats(n); }
};
static_assert(drivers::TileLanes<Lanes>);

using drivers::XScales;

// The tile of decoder K (a drivers::TileDecoder).
template <class K>
inline constexpr MatmulTileFn tile = drivers::tile<Lanes, K>;

}  // namespace qlm::cpu::neon
