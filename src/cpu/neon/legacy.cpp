// NEON tiles for the 32-element block formats: Q4_0, Q5_0, Q8_0, IQ4_NL,
// MXFP4 (signed weights, Q8_0 activations) and Q4_1, Q5_1 (unsigned weights
// plus a min, Q8_1 activations). A block decodes to 32 int8 lanes, all within
// int8 range, so sdot takes both operands as they are; each block's integer
// sum is the reference's. Four blocks' sums are reduced into one vector and
// scaled there (d_w * d_x per block), with one fma per four blocks.
#include "cpu/neon/common.h"
#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/legacy.h"

namespace qlm::cpu::neon {
namespace {

using namespace fmt;

// Decode(block, q[2], d, m): 32 int8 weights, the block scale and its min.
using DecodeFn = void (*)(const uint8_t*, int8x16_t*, float&, float&);

// Min: unsigned weights with a min, Q8_1 activations: d dy <q,p> + m s_y.
template <class Block, bool Min, DecodeFn Decode>
struct Legacy {
    static constexpr int kQK = 32, kChunk = 8, kXScales = Min ? 2 : 1;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = Min ? sizeof(block_q8_1) : sizeof(block_q8_0);
    static constexpr size_t kXQs = Min ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);

    struct Dec {
        int8x16_t q[kChunk][2];
        float d[kChunk], m[kChunk];
    };

    static void xscales(const uint8_t* x, float* s) {
        s[0] = fp16_load(x);
        if constexpr (Min) s[1] = fp16_load(x + offsetof(block_q8_1, s));
    }

    static void decode(const uint8_t* w, int nc, Dec& d) {
        for (int c = 0; c < nc; ++c) Decode(w + c * kWBytes, d.q[c], d.d[c], d.m[c]);
    }

    template <int G>
    static void apply(const Dec& d, int nc, const uint8_t* x, size_t xs, XScales s, float32x4_t* acc) {
        int c = 0;
        for (; c + 4 <= nc; c += 4) {
            const float32x4_t dw = vld1q_f32(d.d + c);
            for (int g = 0; g < G; ++g) {
                const uint8_t* a = x + g * xs + c * kXBytes + kXQs;
                const int32x4_t sum = reduce4(dot32(d.q[c], a), dot32(d.q[c + 1], a + kXBytes),
                                              dot32(d.q[c + 2], a + 2 * kXBytes), dot32(d.q[c + 3], a + 3 * kXBytes));
                const float* sg = s.p + g * s.row + c;
                acc[g] = vfmaq_f32(acc[g], vcvtq_f32_s32(sum), vmulq_f32(dw, vld1q_f32(sg)));
                if constexpr (Min) acc[g] = vfmaq_f32(acc[g], vld1q_f32(d.m + c), vld1q_f32(sg + s.plane));
            }
        }
        for (; c < nc; ++c)  // the row's last 1..3 blocks
            for (int g = 0; g < G; ++g) {
                const int32x4_t sum = dot32(d.q[c], x + g * xs + c * kXBytes + kXQs);
                const float* sg = s.p + g * s.row + c;
                acc[g] = vfmaq_n_f32(acc[g], vcvtq_f32_s32(sum), d.d[c] * sg[0]);
                if constexpr (Min) acc[g] = vaddq_f32(acc[g], vsetq_lane_f32(d.m[c] * sg[s.plane], vdupq_n_f32(0.0f), 0));
            }
    }
};

void decode_q4_0(const uint8_t* p, int8x16_t* q, float& d, float&) {
    d = fp16_load(p);
    uint8x16_t lo, hi;
    unpack_nibbles(p + offsetof(block_q4_0, qs), lo, hi);
    q[0] = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8(8));
    q[1] = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8(8));
}

// nibble | 0xf0 where the high bit is clear: the signed value q - 16.
void decode_q5_0(const uint8_t* p, int8x16_t* q, float& d, float&) {
    d = fp16_load(p);
    uint8x16_t lo, hi, blo, bhi;
    unpack_nibbles(p + offsetof(block_q5_0, qs), lo, hi);
    bytes_from_bits32(p + offsetof(block_q5_0, qh), blo, bhi);
    q[0] = vreinterpretq_s8_u8(vorrq_u8(lo, vbicq_u8(vdupq_n_u8(0xf0), blo)));
    q[1] = vreinterpretq_s8_u8(vorrq_u8(hi, vbicq_u8(vdupq_n_u8(0xf0), bhi)));
}

void decode_q8_0(const uint8_t* p, int8x16_t* q, float& d, float&) {
    d = fp16_load(p);
    q[0] = load_s8(p + offsetof(block_q8_0, qs));
    q[1] = load_s8(p + offsetof(block_q8_0, qs) + 16);
}

constexpr int8_t kMxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

void decode_iq4_nl(const uint8_t* p, int8x16_t* q, float& d, float&) {
    d = fp16_load(p);
    uint8x16_t lo, hi;
    unpack_nibbles(p + offsetof(block_iq4_nl, qs), lo, hi);
    q[0] = lookup16(kIq4nl, lo);
    q[1] = lookup16(kIq4nl, hi);
}

void decode_mxfp4(const uint8_t* p, int8x16_t* q, float& d, float&) {
    d = e8m0_to_fp32_half(p[offsetof(block_mxfp4, e)]);
    uint8x16_t lo, hi;
    unpack_nibbles(p + offsetof(block_mxfp4, qs), lo, hi);
    q[0] = lookup16(kMxfp4, lo);
    q[1] = lookup16(kMxfp4, hi);
}

void decode_q4_1(const uint8_t* p, int8x16_t* q, float& d, float& m) {
    d = fp16_load(p + offsetof(block_q4_1, d)), m = fp16_load(p + offsetof(block_q4_1, m));
    uint8x16_t lo, hi;
    unpack_nibbles(p + offsetof(block_q4_1, qs), lo, hi);
    q[0] = vreinterpretq_s8_u8(lo);
    q[1] = vreinterpretq_s8_u8(hi);
}

void decode_q5_1(const uint8_t* p, int8x16_t* q, float& d, float& m) {
    d = fp16_load(p + offsetof(block_q5_1, d)), m = fp16_load(p + offsetof(block_q5_1, m));
    uint8x16_t lo, hi, blo, bhi;
    unpack_nibbles(p + offsetof(block_q5_1, qs), lo, hi);
    bytes_from_bits32(p + offsetof(block_q5_1, qh), blo, bhi);
    q[0] = vreinterpretq_s8_u8(vorrq_u8(lo, vandq_u8(blo, vdupq_n_u8(0x10))));
    q[1] = vreinterpretq_s8_u8(vorrq_u8(hi, vandq_u8(bhi, vdupq_n_u8(0x10))));
}

}  // namespace

void register_legacy(KernelTable& k) {
    k.tile[uint32_t(GgmlType::Q4_0)] = tile<Legacy<block_q4_0, false, decode_q4_0>>;
    k.tile[uint32_t(GgmlType::Q5_0)] = tile<Legacy<block_q5_0, false, decode_q5_0>>;
    k.tile[uint32_t(GgmlType::Q8_0)] = tile<Legacy<block_q8_0, false, decode_q8_0>>;
    k.tile[uint32_t(GgmlType::IQ4_NL)] = tile<Legacy<block_iq4_nl, false, decode_iq4_nl>>;
    k.tile[uint32_t(GgmlType::MXFP4)] = tile<Legacy<block_mxfp4, false, decode_mxfp4>>;
    k.tile[uint32_t(GgmlType::Q4_1)] = tile<Legacy<block_q4_1, true, decode_q4_1>>;
    k.tile[uint32_t(GgmlType::Q5_1)] = tile<Legacy<block_q5_1, true, decode_q5_1>>;
}

}  // namespace qlm::cpu::neon
