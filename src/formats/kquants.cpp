// Reference rows for the K-quants and Q8_K.
//
// Quantizers: each sub-block's scale (and min) is searched to minimize the
// importance-weighted squared error (scale_search.h); the sub-block scales
// are then rounded to their integer widths relative to the super-block's fp16
// d (and dmin), and the elements re-rounded with the scales actually stored.
//
// Dot products: integer sums inside each super-block (the sub-block scales are
// integers too), one float scaling per super-block. The min terms of
// Q2_K/Q4_K/Q5_K use Q8_K's bsums: sum_l m*p_l = m * bsum.
#include <algorithm>
#include <cmath>

#include "formats/kquants.h"
#include "formats/reference.h"
#include "formats/scale_search.h"

namespace qlm::fmt {

void dequantize_row_q2_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q2_K, QK_K>(x, y, n); }
void dequantize_row_q3_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q3_K, QK_K>(x, y, n); }
void dequantize_row_q4_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q4_K, QK_K>(x, y, n); }
void dequantize_row_q5_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q5_K, QK_K>(x, y, n); }
void dequantize_row_q6_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q6_K, QK_K>(x, y, n); }
void dequantize_row_q8_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q8_K, QK_K>(x, y, n); }

namespace {

// Element e's field in the packed arrays; the index math mirrors the
// dequantize_block functions in kquants.h, which are the specification.

// Q2_K/Q3_K: 2 bits at qs[32*(e/128) + e%32], bit pair (e%128)/32.
int get_2bit(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; }
void put_2bit(uint8_t* qs, int e, int v) { qs[32 * (e / 128) + e % 32] |= uint8_t(v << (2 * ((e % 128) / 32))); }

// Q3_K/Q5_K: one bit at byte e%32, bit e/32.
int get_1bit(const uint8_t* h, int e) { return (h[e % 32] >> (e / 32)) & 1; }
void put_1bit(uint8_t* h, int e, int v) { h[e % 32] |= uint8_t(v << (e / 32)); }

// Q4_K/Q5_K: nibble at qs[32*(e/64) + e%32], high nibble for odd sub-blocks e/32.
int get_nibble_k(const uint8_t* qs, int e) { return (qs[32 * (e / 64) + e % 32] >> (4 * ((e / 32) % 2))) & 0x0f; }
void put_nibble_k(uint8_t* qs, int e, int v) { qs[32 * (e / 64) + e % 32] |= uint8_t(v << (4 * ((e / 32) % 2))); }

// Q6_K: low 4 bits at ql[64*h + 32*(g%2) + l] nibble g/2, high 2 at qh[32*h + l]
// bit pair g, for e = 128*h + 32*g + l.
int get_q6(const block_q6_K& b, int e) {
    const int h = e / 128, g = (e % 128) / 32, l = e % 32;
    const int lo = (b.ql[64 * h + 32 * (g % 2) + l] >> (4 * (g / 2))) & 0x0f;
    const int hi = (b.qh[32 * h + l] >> (2 * g)) & 3;
    return lo | (hi << 4);
}
void put_q6(block_q6_K& b, int e, int v) {
    const int h = e / 128, g = (e % 128) / 32, l = e % 32;
    b.ql[64 * h + 32 * (g % 2) + l] |= uint8_t((v & 0x0f) << (4 * (g / 2)));
    b.qh[32 * h + l] |= uint8_t((v >> 4) << (2 * g));
}

// Inverse of unpack_scale_min_k4: 8 six-bit scales and mins into 12 bytes.
void pack_scale_min_k4(const int* sc, const int* m, uint8_t* q) {
    for (int i = 0; i < K_SCALE_SIZE; ++i) q[i] = 0;
    for (int j = 0; j < 4; ++j) {
        q[j] = uint8_t(sc[j]);
        q[j + 4] = uint8_t(m[j]);
    }
    for (int j = 4; j < 8; ++j) {
        q[j + 4] = uint8_t((sc[j] & 0x0f) | ((m[j] & 0x0f) << 4));
        q[j - 4] |= uint8_t((sc[j] >> 4) << 6);
        q[j] |= uint8_t((m[j] >> 4) << 6);
    }
}

// Inverse of unpack_scale_q3_K: 16 signed six-bit scales (-32..31) into 12 bytes.
void pack_scales_q3_K(const int* sc, uint8_t* s) {
    for (int i = 0; i < 12; ++i) s[i] = 0;
    for (int i = 0; i < 16; ++i) {
        const int v = sc[i] + 32;
        s[i % 8] |= uint8_t((v & 0x0f) << (i < 8 ? 0 : 4));
        s[8 + i % 4] |= uint8_t((v >> 4) << (2 * (i / 4)));
    }
}

// One super-block of an affine type (Q2_K: 16 x 16 elements, 2-bit q, 4-bit
// scales; Q4_K/Q5_K: 8 x 32, 4/5-bit q, 6-bit scales): y = d*sc*q - dmin*m.
// Fills q (0..nmax per element), sc and m (0..smax per sub-block), d and dmin.
void quantize_affine_superblock(const float* x, int sub, int nmax, int smax, int* q, int* sc, int* m,
                                uint16_t* d_out, uint16_t* dmin_out) {
    const int nsub = QK_K / sub;
    float w[QK_K];
    importance_weights(x, QK_K, w);
    float s[16], b[16];
    float max_s = 0, max_m = 0;
    for (int j = 0; j < nsub; ++j) {
        search_affine(x + j * sub, w + j * sub, sub, nmax, &s[j], &b[j], q + j * sub);
        max_s = std::max(max_s, s[j]);
        max_m = std::max(max_m, -b[j]);
    }
    *d_out = fp32_to_fp16(max_s / float(smax));
    *dmin_out = fp32_to_fp16(max_m / float(smax));
    const float d = fp16_to_fp32(*d_out), dmin = fp16_to_fp32(*dmin_out);

    // Round each scale and min, then try their +-1 neighbours with the
    // elements re-rounded: the rounded pair is not always the best pair
    // (this lowers Q2_K's error by ~2%).
    int trial[32];
    for (int j = 0; j < nsub; ++j) {
        const float* xj = x + j * sub;
        const int sc0 = d > 0 ? round_clamp(s[j] / d, 0, smax) : 0;
        const int m0 = dmin > 0 ? round_clamp(-b[j] / dmin, 0, smax) : 0;
        float best_err = INFINITY;
        for (const int c : {sc0, sc0 - 1, sc0 + 1}) {
            for (const int mm : {m0, m0 - 1, m0 + 1}) {
                if (c < 0 || c > smax || mm < 0 || mm > smax) continue;
                const float sj = d * float(c), bj = -dmin * float(mm);
                round_affine(xj, sub, nmax, sj, bj, trial);
                const float err = affine_error(xj, w + j * sub, sub, sj, bj, trial);
                if (err < best_err) {
                    best_err = err, sc[j] = c, m[j] = mm;
                    for (int i = 0; i < sub; ++i) q[j * sub + i] = trial[i];
                }
            }
        }
    }
}

}  // namespace

void quantize_row_q2_K(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q2_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_q2_K& b = y[i];
        int q[QK_K], sc[16], m[16];
        quantize_affine_superblock(x + i * QK_K, 16, 3, 15, q, sc, m, &b.d, &b.dmin);
        for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t(sc[j] | (m[j] << 4));
        for (int e = 0; e < QK_K / 4; ++e) b.qs[e] = 0;
        for (int e = 0; e < QK_K; ++e) put_2bit(b.qs, e, q[e]);
    }
}

void quantize_row_q3_K(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q3_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_q3_K& b = y[i];
        int q[QK_K], sc[16];
        b.d = quantize_scaled_superblock(x + i * QK_K, 16, 16, UniformGrid{-4, 3}, -32, 31, sc, q);
        pack_scales_q3_K(sc, b.scales);
        for (int e = 0; e < QK_K / 8; ++e) b.hmask[e] = 0;
        for (int e = 0; e < QK_K / 4; ++e) b.qs[e] = 0;
        // stored as q + 4 in 0..7: low 2 bits in qs, bit 2 in hmask (set means "no -4")
        for (int e = 0; e < QK_K; ++e) {
            put_2bit(b.qs, e, (q[e] + 4) & 3);
            put_1bit(b.hmask, e, (q[e] + 4) >> 2);
        }
    }
}

void quantize_row_q4_K(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q4_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_q4_K& b = y[i];
        int q[QK_K], sc[8], m[8];
        quantize_affine_superblock(x + i * QK_K, 32, 15, 63, q, sc, m, &b.d, &b.dmin);
        pack_scale_min_k4(sc, m, b.scales);
        for (int e = 0; e < QK_K / 2; ++e) b.qs[e] = 0;
        for (int e = 0; e < QK_K; ++e) put_nibble_k(b.qs, e, q[e]);
    }
}

void quantize_row_q5_K(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q5_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_q5_K& b = y[i];
        int q[QK_K], sc[8], m[8];
        quantize_affine_superblock(x + i * QK_K, 32, 31, 63, q, sc, m, &b.d, &b.dmin);
        pack_scale_min_k4(sc, m, b.scales);
        for (int e = 0; e < QK_K / 2; ++e) b.qs[e] = 0;
        for (int e = 0; e < QK_K / 8; ++e) b.qh[e] = 0;
        for (int e = 0; e < QK_K; ++e) {
            put_nibble_k(b.qs, e, q[e] & 0x0f);
            put_1bit(b.qh, e, q[e] >> 4);
        }
    }
}

void quantize_row_q6_K(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q6_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_q6_K& b = y[i];
        int q[QK_K], sc[16];
        b.d = quantize_scaled_superblock(x + i * QK_K, 16, 16, UniformGrid{-32, 31}, -128, 127, sc, q);
        for (int j = 0; j < 16; ++j) b.scales[j] = int8_t(sc[j]);
        for (int e = 0; e < QK_K / 2; ++e) b.ql[e] = 0;
        for (int e = 0; e < QK_K / 4; ++e) b.qh[e] = 0;
        for (int e = 0; e < QK_K; ++e) put_q6(b, e, q[e] + 32);
    }
}

// The largest-magnitude element maps to -127 exactly; d is kept in float32
// because activations need the precision and Q8_K is never stored in files.
void quantize_row_q8_K(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_q8_K& b = y[i];
        const float* xb = x + i * QK_K;
        const float max = signed_absmax(xb, QK_K);
        const float iscale = max != 0 ? -127.0f / max : 0.0f;
        for (int e = 0; e < QK_K; ++e) b.qs[e] = int8_t(round_clamp(iscale * xb[e], -128, 127));
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
            b.bsums[j] = int16_t(sum);
        }
        b.d = iscale != 0 ? 1.0f / iscale : 0.0f;
    }
}

float vec_dot_q2_K(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q2_K*>(vx);
    const auto* y = static_cast<const block_q8_K*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int32_t sum_q = 0, sum_m = 0;  // sum_j sc_j * <q, p>_j  and  sum_j m_j * bsum_j
        for (int j = 0; j < 16; ++j) {
            int32_t acc = 0;
            for (int e = 16 * j; e < 16 * j + 16; ++e) acc += get_2bit(x[i].qs, e) * y[i].qs[e];
            sum_q += (x[i].scales[j] & 0x0f) * acc;
            sum_m += (x[i].scales[j] >> 4) * y[i].bsums[j];
        }
        sum += y[i].d * (fp16_to_fp32(x[i].d) * float(sum_q) - fp16_to_fp32(x[i].dmin) * float(sum_m));
    }
    return sum;
}

float vec_dot_q3_K(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q3_K*>(vx);
    const auto* y = static_cast<const block_q8_K*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int32_t sum_q = 0;
        for (int j = 0; j < 16; ++j) {
            int32_t acc = 0;
            for (int e = 16 * j; e < 16 * j + 16; ++e) {
                const int q = get_2bit(x[i].qs, e) - (get_1bit(x[i].hmask, e) ? 0 : 4);
                acc += q * y[i].qs[e];
            }
            sum_q += unpack_scale_q3_K(j, x[i].scales) * acc;
        }
        sum += y[i].d * fp16_to_fp32(x[i].d) * float(sum_q);
    }
    return sum;
}

namespace {

// Q4_K and Q5_K share the 8 x (6-bit scale, 6-bit min) layout; they differ only
// in how element e of a block is read (get_q).
template <typename Block, typename GetQ>
float vec_dot_scale_min_k4(int64_t n, const void* vx, const void* vy, GetQ get_q) {
    const auto* x = static_cast<const Block*>(vx);
    const auto* y = static_cast<const block_q8_K*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int32_t sum_q = 0, sum_m = 0;
        for (int j = 0; j < 8; ++j) {
            uint8_t sc, m;
            unpack_scale_min_k4(j, x[i].scales, &sc, &m);
            int32_t acc = 0;
            for (int e = 32 * j; e < 32 * j + 32; ++e) acc += get_q(x[i], e) * y[i].qs[e];
            sum_q += sc * acc;
            sum_m += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        }
        sum += y[i].d * (fp16_to_fp32(x[i].d) * float(sum_q) - fp16_to_fp32(x[i].dmin) * float(sum_m));
    }
    return sum;
}

}  // namespace

float vec_dot_q4_K(int64_t n, const void* vx, const void* vy) {
    return vec_dot_scale_min_k4<block_q4_K>(n, vx, vy, [](const block_q4_K& b, int e) { return get_nibble_k(b.qs, e); });
}

float vec_dot_q5_K(int64_t n, const void* vx, const void* vy) {
    return vec_dot_scale_min_k4<block_q5_K>(
        n, vx, vy, [](const block_q5_K& b, int e) { return get_nibble_k(b.qs, e) | (get_1bit(b.qh, e) << 4); });
}

float vec_dot_q6_K(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q6_K*>(vx);
    const auto* y = static_cast<const block_q8_K*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int32_t sum_q = 0;
        for (int j = 0; j < 16; ++j) {
            int32_t acc = 0;
            for (int e = 16 * j; e < 16 * j + 16; ++e) acc += (get_q6(x[i], e) - 32) * y[i].qs[e];
            sum_q += x[i].scales[j] * acc;
        }
        sum += y[i].d * fp16_to_fp32(x[i].d) * float(sum_q);
    }
    return sum;
}

float vec_dot_q8_K(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q8_K*>(vx);
    const auto* y = static_cast<const block_q8_K*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int32_t acc = 0;
        for (int e = 0; e < QK_K; ++e) acc += x[i].qs[e] * y[i].qs[e];
        sum += x[i].d * y[i].d * float(acc);
    }
    return sum;
}

}  // namespace qlm::fmt
