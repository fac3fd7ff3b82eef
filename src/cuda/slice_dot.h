// The integer heart of the CUDA GEMV: one 32-element slice of a weight block
// against one Q8_1 activation block, with __dp4a. Host-and-device code (QLM_HD):
// the kernels run it on the GPU and tests/cuda runs the very same code on the
// CPU against the reference vec_dot, so the bit twiddling is checked without a GPU.
//
// A weight row of k elements is k/32 slices; slice q of a row pairs with Q8_1
// block q of the activation row. Blocks of 32 elements are one slice; K-quant
// and IQ4_XS super-blocks of 256 are eight (slice s = elements 32s..32s+31).
//
// Activations are Q8_1 for every quantized type, as in llama.cpp's CUDA
// backend. For the types whose CPU partner is Q8_0 or Q8_1 (legacy, IQ4_NL,
// MXFP4) the per-block terms are bit-identical to the reference vec_dot (same
// integers, same float operations in the same order); only the summation order
// over blocks differs. For K-quants and IQ4_XS the CPU quantizes activations to
// Q8_K (one scale per 256) and the GPU to Q8_1 (one per 32): the results are
// both approximations of the float product and differ by the activation
// rounding, ~1e-5 normalized MSE, far inside DESIGN.md's 5e-4.
#pragma once

#include <cstdint>

#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/legacy.h"
#include "qlm/formats.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif
#if !defined(__CUDA_ARCH__)
#include <cstring>
#endif

namespace qlm::cuda {

// ---- Device intrinsics, emulated on the host --------------------------------

// c + sum of the four signed byte products of a and b.
QLM_HD inline int dp4a(int a, int b, int c) {
#if defined(__CUDA_ARCH__)
    return __dp4a(a, b, c);
#else
    for (int i = 0; i < 4; ++i) c += int(int8_t(uint32_t(a) >> (8 * i))) * int(int8_t(uint32_t(b) >> (8 * i)));
    return c;
#endif
}

// Per-byte a - b modulo 256.
QLM_HD inline uint32_t vsub4(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
    return __vsub4(a, b);
#else
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) r |= ((((a >> (8 * i)) & 0xffu) - ((b >> (8 * i)) & 0xffu)) & 0xffu) << (8 * i);
    return r;
#endif
}

// Byte n of the result = byte ((s >> 4n) & 7) of the 8 bytes {y, x} (x low).
QLM_HD inline uint32_t byte_perm(uint32_t x, uint32_t y, uint32_t s) {
#if defined(__CUDA_ARCH__)
    return __byte_perm(x, y, s);
#else
    const uint64_t v = (uint64_t(y) << 32) | x;
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) r |= uint32_t((v >> (8 * ((s >> (4 * i)) & 7u))) & 0xffu) << (8 * i);
    return r;
#endif
}

QLM_HD inline float half_to_float(uint16_t h) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(h));  // exact, like fmt::fp16_to_fp32
#else
    return fmt::fp16_to_fp32(h);
#endif
}

// 32-bit little-endian loads from packed blocks, by the alignment the layout
// guarantees (device rows start 256-byte aligned and hold whole blocks).
QLM_HD inline uint32_t load_a1(const uint8_t* p) { return fmt::load_u32(p); }
QLM_HD inline uint32_t load_a2(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
    const uint16_t* q = reinterpret_cast<const uint16_t*>(p);
    return uint32_t(q[0]) | (uint32_t(q[1]) << 16);
#else
    return fmt::load_u32(p);
#endif
}
QLM_HD inline uint32_t load_a4(const uint8_t* p) {
#if defined(__CUDA_ARCH__)
    return *reinterpret_cast<const uint32_t*>(p);
#else
    return fmt::load_u32(p);
#endif
}

// Four 4-bit indices (one per byte, 0..15) -> four int8 values of a 16-entry
// table packed little-endian into four words: two byte permutes and a select.
QLM_HD inline uint32_t lookup16(uint32_t idx, uint32_t t0, uint32_t t1, uint32_t t2, uint32_t t3) {
    const uint32_t b = idx & 0x07070707u;
    const uint32_t sel = (b & 0x7u) | ((b >> 4) & 0x70u) | ((b >> 8) & 0x700u) | ((b >> 12) & 0x7000u);
    const uint32_t lo = byte_perm(t0, t1, sel), hi = byte_perm(t2, t3, sel);
    const uint32_t upper = ((idx & 0x08080808u) >> 3) * 0xffu;  // 0xff in bytes whose index is >= 8
    return (lo & ~upper) | (hi & upper);
}

QLM_HD constexpr uint32_t pack4(int a, int b, int c, int d) {
    return uint32_t(uint8_t(a)) | (uint32_t(uint8_t(b)) << 8) | (uint32_t(uint8_t(c)) << 16) | (uint32_t(uint8_t(d)) << 24);
}

QLM_HD inline uint32_t lookup_iq4nl(uint32_t idx) {
    return lookup16(idx, pack4(-127, -104, -83, -65), pack4(-49, -35, -22, -10), pack4(1, 13, 25, 38),
                    pack4(53, 69, 89, 113));
}
QLM_HD inline uint32_t lookup_mxfp4(uint32_t idx) {
    return lookup16(idx, pack4(0, 1, 2, 3), pack4(4, 6, 8, 12), pack4(0, -1, -2, -3), pack4(-4, -6, -8, -12));
}

// Bit j (0..3) of h into bit 4 of byte j.
QLM_HD inline uint32_t spread_bit4(uint32_t h) {
    return ((h << 4) & 0x10u) | ((h << 11) & 0x1000u) | ((h << 18) & 0x100000u) | ((h << 25) & 0x10000000u);
}

// ---- One decoded slice and its integer sums ---------------------------------

// 32 weight values as int8 (element 4i+b in byte b of v[i]) with the integer
// scales/mins of elements 0-15 and 16-31 and the float super-scales.
struct WeightSlice {
    int v[8];
    int sc[2];
    int mn[2];
    float d, dm;
};

// Integer dots of a slice with the 32 activation int8s: lo over elements 0-15,
// hi over 16-31; plo/phi the activation sums (only for types with mins).
struct SliceSums {
    int lo, hi, plo, phi;
};

// Byte j (0..31) of a decoded slice: the weight's integer value at element j.
QLM_HD inline int slice_value(const WeightSlice& w, int j) { return int(int8_t(uint32_t(w.v[j / 4]) >> (8 * (j % 4)))); }

template <bool kMins>
QLM_HD inline SliceSums slice_sums(const WeightSlice& w, const int* y) {
    SliceSums s{0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) s.lo = dp4a(w.v[i], y[i], s.lo);
    for (int i = 4; i < 8; ++i) s.hi = dp4a(w.v[i], y[i], s.hi);
    if (kMins) {
        for (int i = 0; i < 4; ++i) s.plo = dp4a(0x01010101, y[i], s.plo);
        for (int i = 4; i < 8; ++i) s.phi = dp4a(0x01010101, y[i], s.phi);
    }
    return s;
}

// The eight int32 words of a Q8_1 block's quants (qs at byte 4 of a 36-byte block: aligned).
QLM_HD inline void load_q8_1_quants(const fmt::block_q8_1& b, int* y) {
    const uint8_t* qs = reinterpret_cast<const uint8_t*>(b.qs);
    for (int i = 0; i < 8; ++i) y[i] = int(load_a4(qs + 4 * i));
}

// SliceDot<T>: Block, kSlices (32-element slices per block), kMins, and
//   load(block, s, slice)          decode slice s of a block
//   combine(slice, sums, dy, sy)   the float term, dy/sy the Q8_1 block's d and s
//   dequantize(slice, y)           the 32 floats, bit-identical to the reference
//                                  dequantize_block (same operations, same order)
template <GgmlType T>
struct SliceDot;

// ---- Legacy formats: float operations in the reference vec_dot's order -------

template <>
struct SliceDot<GgmlType::Q4_0> {
    using Block = fmt::block_q4_0;
    static constexpr int kSlices = 1;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int, WeightSlice& w) {
        for (int i = 0; i < 4; ++i) {
            const uint32_t q = load_a2(b.qs + 4 * i);
            w.v[i] = int(vsub4(q & 0x0f0f0f0fu, 0x08080808u));
            w.v[i + 4] = int(vsub4((q >> 4) & 0x0f0f0f0fu, 0x08080808u));
        }
        w.d = half_to_float(b.d);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return float(s.lo + s.hi) * w.d * dy;
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int j = 0; j < 32; ++j) y[j] = w.d * float(slice_value(w, j));
    }
};

template <>
struct SliceDot<GgmlType::Q4_1> {
    using Block = fmt::block_q4_1;
    static constexpr int kSlices = 1;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int, WeightSlice& w) {
        for (int i = 0; i < 4; ++i) {
            const uint32_t q = load_a4(b.qs + 4 * i);
            w.v[i] = int(q & 0x0f0f0f0fu);
            w.v[i + 4] = int((q >> 4) & 0x0f0f0f0fu);
        }
        w.d = half_to_float(b.d);
        w.dm = half_to_float(b.m);
    }
    // d_x d_y sum(q p) + m_x s_y, s_y the activation block's stored d*sum(p)
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float sy) {
        return w.d * dy * float(s.lo + s.hi) + w.dm * sy;
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int j = 0; j < 32; ++j) y[j] = w.d * float(slice_value(w, j)) + w.dm;
    }
};

template <>
struct SliceDot<GgmlType::Q5_0> {
    using Block = fmt::block_q5_0;
    static constexpr int kSlices = 1;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int, WeightSlice& w) {
        const uint32_t qh = load_a2(b.qh);
        for (int i = 0; i < 4; ++i) {
            const uint32_t q = load_a2(b.qs + 4 * i);
            w.v[i] = int(vsub4((q & 0x0f0f0f0fu) | spread_bit4(qh >> (4 * i)), 0x10101010u));
            w.v[i + 4] = int(vsub4(((q >> 4) & 0x0f0f0f0fu) | spread_bit4(qh >> (16 + 4 * i)), 0x10101010u));
        }
        w.d = half_to_float(b.d);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return float(s.lo + s.hi) * w.d * dy;
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int j = 0; j < 32; ++j) y[j] = w.d * float(slice_value(w, j));
    }
};

template <>
struct SliceDot<GgmlType::Q5_1> {
    using Block = fmt::block_q5_1;
    static constexpr int kSlices = 1;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int, WeightSlice& w) {
        const uint32_t qh = load_a4(b.qh);
        for (int i = 0; i < 4; ++i) {
            const uint32_t q = load_a4(b.qs + 4 * i);
            w.v[i] = int((q & 0x0f0f0f0fu) | spread_bit4(qh >> (4 * i)));
            w.v[i + 4] = int(((q >> 4) & 0x0f0f0f0fu) | spread_bit4(qh >> (16 + 4 * i)));
        }
        w.d = half_to_float(b.d);
        w.dm = half_to_float(b.m);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float sy) {
        return w.d * dy * float(s.lo + s.hi) + w.dm * sy;
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int j = 0; j < 32; ++j) y[j] = w.d * float(slice_value(w, j)) + w.dm;
    }
};

template <>
struct SliceDot<GgmlType::Q8_0> {
    using Block = fmt::block_q8_0;
    static constexpr int kSlices = 1;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int, WeightSlice& w) {
        const uint8_t* qs = reinterpret_cast<const uint8_t*>(b.qs);
        for (int i = 0; i < 8; ++i) w.v[i] = int(load_a2(qs + 4 * i));
        w.d = half_to_float(b.d);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return float(s.lo + s.hi) * w.d * dy;
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int j = 0; j < 32; ++j) y[j] = float(slice_value(w, j)) * w.d;
    }
};

template <>
struct SliceDot<GgmlType::IQ4_NL> {
    using Block = fmt::block_iq4_nl;
    static constexpr int kSlices = 1;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int, WeightSlice& w) {
        for (int i = 0; i < 4; ++i) {
            const uint32_t q = load_a2(b.qs + 4 * i);
            w.v[i] = int(lookup_iq4nl(q & 0x0f0f0f0fu));
            w.v[i + 4] = int(lookup_iq4nl((q >> 4) & 0x0f0f0f0fu));
        }
        w.d = half_to_float(b.d);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return w.d * dy * float(s.lo + s.hi);
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int j = 0; j < 32; ++j) y[j] = w.d * float(slice_value(w, j));
    }
};

template <>
struct SliceDot<GgmlType::MXFP4> {
    using Block = fmt::block_mxfp4;
    static constexpr int kSlices = 1;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int, WeightSlice& w) {
        for (int i = 0; i < 4; ++i) {
            const uint32_t q = load_a1(b.qs + 4 * i);  // 17-byte blocks: no alignment
            w.v[i] = int(lookup_mxfp4(q & 0x0f0f0f0fu));
            w.v[i + 4] = int(lookup_mxfp4((q >> 4) & 0x0f0f0f0fu));
        }
        w.d = fmt::e8m0_to_fp32_half(b.e);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return w.d * dy * float(s.lo + s.hi);
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int j = 0; j < 32; ++j) y[j] = w.d * float(slice_value(w, j));
    }
};

// ---- K-quants and IQ4_XS: eight slices per 256-element super-block -----------

// 16 sub-blocks of 16, 2-bit quants, 4-bit scale and min each.
template <>
struct SliceDot<GgmlType::Q2_K> {
    using Block = fmt::block_q2_K;
    static constexpr int kSlices = 8;
    static constexpr bool kMins = true;
    QLM_HD static void load(const Block& b, int s, WeightSlice& w) {
        // element 32s + l: bits 2*(s%4) of qs[32*(s/4) + l]
        const uint8_t* qs = b.qs + 32 * (s / 4);
        const int shift = 2 * (s % 4);
        for (int i = 0; i < 8; ++i) w.v[i] = int((load_a4(qs + 4 * i) >> shift) & 0x03030303u);
        for (int h = 0; h < 2; ++h) {
            const uint8_t sc = b.scales[2 * s + h];
            w.sc[h] = sc & 0x0f;
            w.mn[h] = sc >> 4;
        }
        w.d = half_to_float(b.d);
        w.dm = half_to_float(b.dmin);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return dy * (w.d * float(w.sc[0] * s.lo + w.sc[1] * s.hi) - w.dm * float(w.mn[0] * s.plo + w.mn[1] * s.phi));
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int h = 0; h < 2; ++h) {
            const float dl = w.d * float(w.sc[h]), ml = w.dm * float(w.mn[h]);
            for (int j = 16 * h; j < 16 * h + 16; ++j) y[j] = dl * float(slice_value(w, j)) - ml;
        }
    }
};

// Q2_K's low bits plus a high bit from hmask; 16 six-bit signed scales.
template <>
struct SliceDot<GgmlType::Q3_K> {
    using Block = fmt::block_q3_K;
    static constexpr int kSlices = 8;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int s, WeightSlice& w) {
        const uint8_t* qs = b.qs + 32 * (s / 4);
        const int shift = 2 * (s % 4);
        for (int i = 0; i < 8; ++i) {
            const uint32_t lo = (load_a2(qs + 4 * i) >> shift) & 0x03030303u;
            const uint32_t hb = (load_a2(b.hmask + 4 * i) >> s) & 0x01010101u;
            w.v[i] = int(vsub4(lo | (hb << 2), 0x04040404u));  // q - (hbit ? 0 : 4)
        }
        w.sc[0] = fmt::unpack_scale_q3_K(2 * s, b.scales);
        w.sc[1] = fmt::unpack_scale_q3_K(2 * s + 1, b.scales);
        w.d = half_to_float(b.d);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return w.d * dy * float(w.sc[0] * s.lo + w.sc[1] * s.hi);
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int h = 0; h < 2; ++h) {
            const float dl = w.d * float(w.sc[h]);
            for (int j = 16 * h; j < 16 * h + 16; ++j) y[j] = dl * float(slice_value(w, j));
        }
    }
};

// 8 sub-blocks of 32, 4-bit quants, six-bit scale and min each.
template <>
struct SliceDot<GgmlType::Q4_K> {
    using Block = fmt::block_q4_K;
    static constexpr int kSlices = 8;
    static constexpr bool kMins = true;
    QLM_HD static void load(const Block& b, int s, WeightSlice& w) {
        const uint8_t* qs = b.qs + 32 * (s / 2);
        const int shift = 4 * (s % 2);
        for (int i = 0; i < 8; ++i) w.v[i] = int((load_a4(qs + 4 * i) >> shift) & 0x0f0f0f0fu);
        uint8_t sc, m;
        fmt::unpack_scale_min_k4(s, b.scales, &sc, &m);
        w.sc[0] = w.sc[1] = sc;
        w.mn[0] = w.mn[1] = m;
        w.d = half_to_float(b.d);
        w.dm = half_to_float(b.dmin);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return dy * (w.d * float(w.sc[0] * (s.lo + s.hi)) - w.dm * float(w.mn[0] * (s.plo + s.phi)));
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int h = 0; h < 2; ++h) {
            const float dl = w.d * float(w.sc[h]), ml = w.dm * float(w.mn[h]);
            for (int j = 16 * h; j < 16 * h + 16; ++j) y[j] = dl * float(slice_value(w, j)) - ml;
        }
    }
};

template <>
struct SliceDot<GgmlType::Q5_K> {
    using Block = fmt::block_q5_K;
    static constexpr int kSlices = 8;
    static constexpr bool kMins = true;
    QLM_HD static void load(const Block& b, int s, WeightSlice& w) {
        const uint8_t* qs = b.qs + 32 * (s / 2);
        const int shift = 4 * (s % 2);
        for (int i = 0; i < 8; ++i) {
            const uint32_t lo = (load_a4(qs + 4 * i) >> shift) & 0x0f0f0f0fu;
            const uint32_t hi = (load_a4(b.qh + 4 * i) >> s) & 0x01010101u;
            w.v[i] = int(lo | (hi << 4));
        }
        uint8_t sc, m;
        fmt::unpack_scale_min_k4(s, b.scales, &sc, &m);
        w.sc[0] = w.sc[1] = sc;
        w.mn[0] = w.mn[1] = m;
        w.d = half_to_float(b.d);
        w.dm = half_to_float(b.dmin);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return dy * (w.d * float(w.sc[0] * (s.lo + s.hi)) - w.dm * float(w.mn[0] * (s.plo + s.phi)));
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int h = 0; h < 2; ++h) {
            const float dl = w.d * float(w.sc[h]), ml = w.dm * float(w.mn[h]);
            for (int j = 16 * h; j < 16 * h + 16; ++j) y[j] = dl * float(slice_value(w, j)) - ml;
        }
    }
};

// 16 sub-blocks of 16, 6-bit quants (4 low in ql, 2 high in qh), int8 scales.
template <>
struct SliceDot<GgmlType::Q6_K> {
    using Block = fmt::block_q6_K;
    static constexpr int kSlices = 8;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int s, WeightSlice& w) {
        // element 128h + 32g + l: ql[64h + 32(g%2) + l] nibble g/2, qh[32h + l] bits 2g
        const int h = s / 4, g = s % 4;
        const uint8_t* ql = b.ql + 64 * h + 32 * (g % 2);
        const uint8_t* qh = b.qh + 32 * h;
        for (int i = 0; i < 8; ++i) {
            const uint32_t lo = (load_a2(ql + 4 * i) >> (4 * (g / 2))) & 0x0f0f0f0fu;
            const uint32_t hi = (load_a2(qh + 4 * i) >> (2 * g)) & 0x03030303u;
            w.v[i] = int(vsub4(lo | (hi << 4), 0x20202020u));
        }
        w.sc[0] = b.scales[2 * s];
        w.sc[1] = b.scales[2 * s + 1];
        w.d = half_to_float(b.d);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return w.d * dy * float(w.sc[0] * s.lo + w.sc[1] * s.hi);
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int h = 0; h < 2; ++h) {
            const float dl = w.d * float(w.sc[h]);
            for (int j = 16 * h; j < 16 * h + 16; ++j) y[j] = dl * float(slice_value(w, j));
        }
    }
};

// 8 IQ4_NL-like sub-blocks of 32 with six-bit signed scales.
template <>
struct SliceDot<GgmlType::IQ4_XS> {
    using Block = fmt::block_iq4_xs;
    static constexpr int kSlices = 8;
    static constexpr bool kMins = false;
    QLM_HD static void load(const Block& b, int s, WeightSlice& w) {
        const uint8_t* qs = b.qs + 16 * s;
        for (int i = 0; i < 4; ++i) {
            const uint32_t q = load_a4(qs + 4 * i);
            w.v[i] = int(lookup_iq4nl(q & 0x0f0f0f0fu));
            w.v[i + 4] = int(lookup_iq4nl((q >> 4) & 0x0f0f0f0fu));
        }
        w.sc[0] = w.sc[1] = fmt::unpack_scale_iq4_xs(s, b);
        w.d = half_to_float(b.d);
    }
    QLM_HD static float combine(const WeightSlice& w, const SliceSums& s, float dy, float) {
        return w.d * dy * float(w.sc[0] * (s.lo + s.hi));
    }
    QLM_HD static void dequantize(const WeightSlice& w, float* y) {
        for (int h = 0; h < 2; ++h) {
            const float dl = w.d * float(w.sc[h]);
            for (int j = 16 * h; j < 16 * h + 16; ++j) y[j] = dl * float(slice_value(w, j));
        }
    }
};

// One slice's term: decode, integer sums, float combine.
template <GgmlType T>
QLM_HD inline float slice_term(const typename SliceDot<T>::Block& b, int s, const fmt::block_q8_1& y) {
    WeightSlice w{};
    SliceDot<T>::load(b, s, w);
    int yq[8];
    load_q8_1_quants(y, yq);
    return SliceDot<T>::combine(w, slice_sums<SliceDot<T>::kMins>(w, yq), half_to_float(y.d), half_to_float(y.s));
}

}  // namespace qlm::cuda
