// Reference rows of the low-bit lattice formats (IQ1_S, IQ1_M, IQ2_XXS,
// IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) and the ternary TQ1_0 / TQ2_0.
//
// Dequantization computes each value with the float operations of
// gguf.quants (bit-exact): IQ2 db = d * (0.5 + s) * 0.25, IQ3_XXS
// d * (0.5 + s) * 0.5, then db * grid * sign; IQ3_S d * (1 + 2s) * grid * sign;
// IQ1 d * (2s + 1) * (grid + delta); TQ d * (t - 1).
//
// vec_dot (partner Q8_K) sums integers (to_ints, iquants.h): per super-block
//   S = sum_h sc_h * sum_{e in h} q_e x_e,   sum += (d * factor * dx) * float(S)
// which is the value llama.cpp computes up to float rounding. These types
// have no quantizer here (it needs an importance matrix); they are read from files.
#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/reference.h"
#include "formats/ternary.h"

namespace qlm::fmt {

namespace {

inline int grid_byte(uint64_t g, int j) { return int((g >> (8 * j)) & 0xff); }
inline int grid_i8(uint64_t g, int j) { return int(int8_t(uint8_t(g >> (8 * j)))); }
inline float sign_of(uint8_t signs, int j) { return (signs >> j) & 1 ? -1.0f : 1.0f; }

uint32_t u32_at(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

}  // namespace

// ---- integer forms ----

void to_ints(const block_iq2_xxs& b, IqInts& o) {
    o.d = fp16_to_fp32(b.d) * 0.125f;
    for (int ib = 0; ib < 8; ++ib) {
        const uint32_t a0 = u32_at(b.qs + 4 * ib), a1 = u32_at(b.qs + 4 * ib + 2);
        o.sc[2 * ib] = o.sc[2 * ib + 1] = int16_t(2 * (a1 >> 28) + 1);
        for (int l = 0; l < 4; ++l) {
            const uint64_t g = kIq2xxsGrid[(a0 >> (8 * l)) & 0xff];
            const uint8_t s = iq2_sign_byte(a1 >> (7 * l));
            for (int j = 0; j < 8; ++j) {
                const int v = grid_byte(g, j);
                o.q[32 * ib + 8 * l + j] = int8_t((s >> j) & 1 ? -v : v);
            }
        }
    }
}

void to_ints(const block_iq2_xs& b, IqInts& o) {
    o.d = fp16_to_fp32(b.d) * 0.125f;
    for (int h = 0; h < 16; ++h) o.sc[h] = int16_t(2 * ((b.scales[h / 2] >> (4 * (h % 2))) & 15) + 1);
    for (int g = 0; g < 32; ++g) {
        const uint64_t gr = kIq2xsGrid[b.qs[g] & 511];
        const uint8_t s = iq2_sign_byte(b.qs[g] >> 9);
        for (int j = 0; j < 8; ++j) {
            const int v = grid_byte(gr, j);
            o.q[8 * g + j] = int8_t((s >> j) & 1 ? -v : v);
        }
    }
}

void to_ints(const block_iq2_s& b, IqInts& o) {
    o.d = fp16_to_fp32(b.d) * 0.125f;
    for (int h = 0; h < 16; ++h) o.sc[h] = int16_t(2 * ((b.scales[h / 2] >> (4 * (h % 2))) & 15) + 1);
    for (int g = 0; g < 32; ++g) {
        const uint64_t gr = kIq2sGrid[b.qs[g] | (((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8)];
        for (int j = 0; j < 8; ++j) {
            const int v = grid_byte(gr, j);
            o.q[8 * g + j] = int8_t((b.signs[g] >> j) & 1 ? -v : v);
        }
    }
}

void to_ints(const block_iq3_xxs& b, IqInts& o) {
    o.d = fp16_to_fp32(b.d) * 0.25f;
    for (int ib = 0; ib < 8; ++ib) {
        const uint32_t a = u32_at(b.sas + 4 * ib);
        o.sc[2 * ib] = o.sc[2 * ib + 1] = int16_t(2 * (a >> 28) + 1);
        for (int l = 0; l < 4; ++l) {
            const uint8_t s = iq2_sign_byte(a >> (7 * l));
            for (int j = 0; j < 8; ++j) {
                const int e = 32 * ib + 8 * l + j;
                const int v = grid_byte(kIq3xxsGrid[b.qs[e / 4]], e % 4);
                o.q[e] = int8_t((s >> j) & 1 ? -v : v);
            }
        }
    }
}

void to_ints(const block_iq3_s& b, IqInts& o) {
    o.d = fp16_to_fp32(b.d);
    for (int h = 0; h < 16; ++h) o.sc[h] = int16_t(2 * ((b.scales[h / 4] >> (4 * ((h / 2) % 2))) & 15) + 1);
    for (int e = 0; e < QK_K; ++e) {
        const int qi = e / 4;
        const int idx = b.qs[qi] | (((b.qh[qi / 8] >> (qi % 8)) & 1) << 8);
        const int v = grid_byte(kIq3sGrid[idx], e % 4);
        o.q[e] = int8_t((b.signs[e / 8] >> (e % 8)) & 1 ? -v : v);
    }
}

void to_ints(const block_iq1_s& b, IqInts& o) {
    o.d = fp16_to_fp32(b.d) * 0.125f;
    for (int ib = 0; ib < 8; ++ib) {
        const int qh = b.qh[ib];
        o.sc[2 * ib] = o.sc[2 * ib + 1] = int16_t(2 * ((qh >> 12) & 7) + 1);
        const int delta = qh & 0x8000 ? -1 : 1;
        for (int l = 0; l < 4; ++l) {
            const uint64_t g = kIq1sGrid[b.qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
            for (int j = 0; j < 8; ++j) o.q[32 * ib + 8 * l + j] = int8_t(8 * grid_i8(g, j) + delta);
        }
    }
}

void to_ints(const block_iq1_m& b, IqInts& o) {
    o.d = fp16_to_fp32(iq1_m_d(b)) * 0.125f;
    for (int h = 0; h < 16; ++h) o.sc[h] = int16_t(2 * ((b.scales[h / 4] >> (3 * (h % 4))) & 7) + 1);
    for (int g = 0; g < 32; ++g) {
        const int nib = (b.qh[g / 2] >> (4 * (g % 2))) & 15;
        const uint64_t gr = kIq1sGrid[b.qs[g] | ((nib & 7) << 8)];
        const int delta = nib & 8 ? -1 : 1;
        for (int j = 0; j < 8; ++j) o.q[8 * g + j] = int8_t(8 * grid_i8(gr, j) + delta);
    }
}

void to_ints(const block_tq1_0& b, IqInts& o) {
    o.d = fp16_to_fp32(b.d);
    for (int h = 0; h < 16; ++h) o.sc[h] = 1;
    for (int e = 0; e < QK_K; ++e) o.q[e] = int8_t(tq1_value(b, e));
}

void to_ints(const block_tq2_0& b, IqInts& o) {
    o.d = fp16_to_fp32(b.d);
    for (int h = 0; h < 16; ++h) o.sc[h] = 1;
    for (int e = 0; e < QK_K; ++e) o.q[e] = int8_t(tq2_value(b, e));
}

// ---- dequantization (gguf.quants' float operations) ----

namespace {

void deq(const block_iq2_xxs& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int ib = 0; ib < 8; ++ib) {
        const uint32_t a0 = u32_at(b.qs + 4 * ib), a1 = u32_at(b.qs + 4 * ib + 2);
        const float db = d * (0.5f + float(a1 >> 28)) * 0.25f;
        for (int l = 0; l < 4; ++l) {
            const uint64_t g = kIq2xxsGrid[(a0 >> (8 * l)) & 0xff];
            const uint8_t s = iq2_sign_byte(a1 >> (7 * l));
            for (int j = 0; j < 8; ++j) y[32 * ib + 8 * l + j] = db * float(grid_byte(g, j)) * sign_of(s, j);
        }
    }
}

void deq(const block_iq2_xs& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int g = 0; g < 32; ++g) {
        const float db = d * (0.5f + float((b.scales[g / 4] >> (4 * ((g / 2) % 2))) & 15)) * 0.25f;
        const uint64_t gr = kIq2xsGrid[b.qs[g] & 511];
        const uint8_t s = iq2_sign_byte(b.qs[g] >> 9);
        for (int j = 0; j < 8; ++j) y[8 * g + j] = db * float(grid_byte(gr, j)) * sign_of(s, j);
    }
}

void deq(const block_iq2_s& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int g = 0; g < 32; ++g) {
        const float db = d * (0.5f + float((b.scales[g / 4] >> (4 * ((g / 2) % 2))) & 15)) * 0.25f;
        const uint64_t gr = kIq2sGrid[b.qs[g] | (((b.qh[g / 4] >> (2 * (g % 4))) & 3) << 8)];
        for (int j = 0; j < 8; ++j) y[8 * g + j] = db * float(grid_byte(gr, j)) * sign_of(b.signs[g], j);
    }
}

void deq(const block_iq3_xxs& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int ib = 0; ib < 8; ++ib) {
        const uint32_t a = u32_at(b.sas + 4 * ib);
        const float db = d * (0.5f + float(a >> 28)) * 0.5f;
        for (int l = 0; l < 4; ++l) {
            const uint8_t s = iq2_sign_byte(a >> (7 * l));
            for (int j = 0; j < 8; ++j) {
                const int e = 32 * ib + 8 * l + j;
                y[e] = db * float(grid_byte(kIq3xxsGrid[b.qs[e / 4]], e % 4)) * sign_of(s, j);
            }
        }
    }
}

void deq(const block_iq3_s& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int e = 0; e < QK_K; ++e) {
        const int ib = e / 32, qi = e / 4;
        const float db = d * float(1 + 2 * ((b.scales[ib / 2] >> (4 * (ib % 2))) & 15));
        const int idx = b.qs[qi] | (((b.qh[qi / 8] >> (qi % 8)) & 1) << 8);
        y[e] = db * float(grid_byte(kIq3sGrid[idx], e % 4)) * sign_of(b.signs[e / 8], e % 8);
    }
}

void deq(const block_iq1_s& b, float* y) {
    const float d = fp16_to_fp32(b.d);
    for (int ib = 0; ib < 8; ++ib) {
        const int qh = b.qh[ib];
        const float dl = d * float(2 * ((qh >> 12) & 7) + 1);
        const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
        for (int l = 0; l < 4; ++l) {
            const uint64_t g = kIq1sGrid[b.qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8)];
            for (int j = 0; j < 8; ++j) y[32 * ib + 8 * l + j] = dl * (float(grid_i8(g, j)) + delta);
        }
    }
}

void deq(const block_iq1_m& b, float* y) {
    const float d = fp16_to_fp32(iq1_m_d(b));
    for (int g = 0; g < 32; ++g) {
        const int h = g / 2;
        const float dl = d * float(2 * ((b.scales[h / 4] >> (3 * (h % 4))) & 7) + 1);
        const int nib = (b.qh[g / 2] >> (4 * (g % 2))) & 15;
        const uint64_t gr = kIq1sGrid[b.qs[g] | ((nib & 7) << 8)];
        const float delta = nib & 8 ? -kIq1Delta : kIq1Delta;
        for (int j = 0; j < 8; ++j) y[8 * g + j] = dl * (float(grid_i8(gr, j)) + delta);
    }
}

template <class Block>
void deq_row(const void* x, float* y, int64_t n) {
    const auto* b = static_cast<const Block*>(x);
    for (int64_t i = 0; i < n / QK_K; ++i) deq(b[i], y + i * QK_K);
}

template <class Block>
float dot_row(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const Block*>(vx);
    const auto* y = static_cast<const block_q8_K*>(vy);
    float sum = 0;
    IqInts w;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        to_ints(x[i], w);
        int32_t s = 0;
        for (int h = 0; h < QK_K / 16; ++h) {
            int32_t p = 0;
            for (int e = 16 * h; e < 16 * h + 16; ++e) p += int32_t(w.q[e]) * y[i].qs[e];
            s += w.sc[h] * p;
        }
        sum += (w.d * y[i].d) * float(s);
    }
    return sum;
}

// Ternary: S = sum (t - 1) x, one scale d * dx per super-block.
template <class Block, int (*Value)(const Block&, int)>
float dot_ternary(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const Block*>(vx);
    const auto* y = static_cast<const block_q8_K*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int32_t s = 0;
        for (int e = 0; e < QK_K; ++e) s += Value(x[i], e) * y[i].qs[e];
        sum += (fp16_to_fp32(x[i].d) * y[i].d) * float(s);
    }
    return sum;
}

}  // namespace

void dequantize_row_iq2_xxs(const void* x, float* y, int64_t n) { deq_row<block_iq2_xxs>(x, y, n); }
void dequantize_row_iq2_xs(const void* x, float* y, int64_t n) { deq_row<block_iq2_xs>(x, y, n); }
void dequantize_row_iq2_s(const void* x, float* y, int64_t n) { deq_row<block_iq2_s>(x, y, n); }
void dequantize_row_iq3_xxs(const void* x, float* y, int64_t n) { deq_row<block_iq3_xxs>(x, y, n); }
void dequantize_row_iq3_s(const void* x, float* y, int64_t n) { deq_row<block_iq3_s>(x, y, n); }
void dequantize_row_iq1_s(const void* x, float* y, int64_t n) { deq_row<block_iq1_s>(x, y, n); }
void dequantize_row_iq1_m(const void* x, float* y, int64_t n) { deq_row<block_iq1_m>(x, y, n); }
void dequantize_row_tq1_0(const void* x, float* y, int64_t n) { dequantize_blocks<block_tq1_0, QK_K>(x, y, n); }
void dequantize_row_tq2_0(const void* x, float* y, int64_t n) { dequantize_blocks<block_tq2_0, QK_K>(x, y, n); }

float vec_dot_iq2_xxs(int64_t n, const void* x, const void* y) { return dot_row<block_iq2_xxs>(n, x, y); }
float vec_dot_iq2_xs(int64_t n, const void* x, const void* y) { return dot_row<block_iq2_xs>(n, x, y); }
float vec_dot_iq2_s(int64_t n, const void* x, const void* y) { return dot_row<block_iq2_s>(n, x, y); }
float vec_dot_iq3_xxs(int64_t n, const void* x, const void* y) { return dot_row<block_iq3_xxs>(n, x, y); }
float vec_dot_iq3_s(int64_t n, const void* x, const void* y) { return dot_row<block_iq3_s>(n, x, y); }
float vec_dot_iq1_s(int64_t n, const void* x, const void* y) { return dot_row<block_iq1_s>(n, x, y); }
float vec_dot_iq1_m(int64_t n, const void* x, const void* y) { return dot_row<block_iq1_m>(n, x, y); }
float vec_dot_tq1_0(int64_t n, const void* x, const void* y) { return dot_ternary<block_tq1_0, tq1_value>(n, x, y); }
float vec_dot_tq2_0(int64_t n, const void* x, const void* y) { return dot_ternary<block_tq2_0, tq2_value>(n, x, y); }

}  // namespace qlm::fmt
