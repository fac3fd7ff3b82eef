// Reference rows for IQ4_NL and IQ4_XS.
//
// Quantizers: the same scale search as the K-quants (scale_search.h), on the
// non-linear grid: each element takes the table entry nearest to x/d, then d is
// refit by weighted least squares. IQ4_XS searches each 32-element sub-block and rounds
// the sub-block scales to 6 signed bits relative to the fp16 super-block d.
#include <cmath>

#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/legacy.h"
#include "formats/reference.h"
#include "formats/scale_search.h"

namespace qlm::fmt {

void dequantize_row_iq4_nl(const void* x, float* y, int64_t n) { dequantize_blocks<block_iq4_nl, QK4_NL>(x, y, n); }
void dequantize_row_iq4_xs(const void* x, float* y, int64_t n) { dequantize_blocks<block_iq4_xs, QK_K>(x, y, n); }

namespace {

// The 16 iq4nl_value entries as a grid for the scale search.
struct Iq4nlGrid {
    // Index of the entry nearest to t, the lower one on ties. The table is
    // sorted, so that is the number of midpoints between entries below t;
    // halving the range finds it in 4 steps (this runs for every candidate scale).
    int nearest(float t) const {
        int lo = 0, hi = 15;
        while (lo < hi) {
            const int mid = (lo + hi) / 2;
            if (t > 0.5f * float(iq4nl_value(mid) + iq4nl_value(mid + 1)))
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }
    int value(int k) const { return iq4nl_value(k); }
    int min_value() const { return iq4nl_value(0); }
    int max_value() const { return iq4nl_value(15); }
};

// Element j of a 32-element group: low nibble of qs[j] (j < 16), else high nibble of qs[j-16].
void pack_nibbles_32(const int* q, uint8_t* qs) {
    for (int j = 0; j < 16; ++j) qs[j] = uint8_t(q[j] | (q[j + 16] << 4));
}

}  // namespace

void quantize_row_iq4_nl(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_iq4_nl*>(vy);
    const Iq4nlGrid grid;
    for (int64_t i = 0; i < n / QK4_NL; ++i) {
        const float* xb = x + i * QK4_NL;
        int q[QK4_NL];
        float w[QK4_NL];
        importance_weights(xb, QK4_NL, w);
        y[i].d = fp32_to_fp16(search_symmetric_scale(xb, w, QK4_NL, grid, q));
        // re-round with the scale as stored
        round_to_grid(xb, QK4_NL, fp16_to_fp32(y[i].d), grid, q);
        pack_nibbles_32(q, y[i].qs);
    }
}

void quantize_row_iq4_xs(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_iq4_xs*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        block_iq4_xs& b = y[i];
        int q[QK_K], sc[QK_K / 32];
        b.d = quantize_scaled_superblock(x + i * QK_K, QK_K / 32, 32, Iq4nlGrid{}, -32, 31, sc, q);
        b.scales_h = 0;
        for (int ib = 0; ib < QK_K / 64; ++ib) b.scales_l[ib] = 0;
        for (int ib = 0; ib < QK_K / 32; ++ib) {
            const int v = sc[ib] + 32;  // stored biased, 0..63
            b.scales_l[ib / 2] |= uint8_t((v & 0x0f) << (4 * (ib % 2)));
            b.scales_h |= uint16_t((v >> 4) << (2 * ib));
            pack_nibbles_32(q + 32 * ib, b.qs + 16 * ib);
        }
    }
}

float vec_dot_iq4_nl(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_iq4_nl*>(vx);
    const auto* y = static_cast<const block_q8_0*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK4_NL; ++i) {
        const int32_t acc = nibble_table_dot32(x[i].qs, y[i].qs, iq4nl_value);
        sum += fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d) * float(acc);
    }
    return sum;
}

// Integer sums per super-block (sub-block scales are integers), one float scaling.
float vec_dot_iq4_xs(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_iq4_xs*>(vx);
    const auto* y = static_cast<const block_q8_K*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int32_t sum_q = 0;
        for (int ib = 0; ib < QK_K / 32; ++ib) {
            const int32_t acc = nibble_table_dot32(x[i].qs + 16 * ib, y[i].qs + 32 * ib, iq4nl_value);
            sum_q += unpack_scale_iq4_xs(ib, x[i]) * acc;
        }
        sum += fp16_to_fp32(x[i].d) * y[i].d * float(sum_q);
    }
    return sum;
}

}  // namespace qlm::fmt
