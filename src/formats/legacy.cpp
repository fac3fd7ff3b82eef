// Reference rows for the legacy formats. The quantizers follow ggml's
// reference rounding exactly (truncation after +offset, roundf for Q8), so the
// bytes match the gguf package's quantizers.
#include <algorithm>
#include <cmath>

#include "formats/legacy.h"
#include "formats/reference.h"

namespace qlm::fmt {

namespace {

// Value of largest magnitude, keeping its sign (first one on ties).
float signed_absmax(const float* x, int n) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; ++j)
        if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
    return max;
}

// Symmetric 4/5-bit: d = max / -2^(bits-1) so the extreme maps to q = 0;
// q = trunc(x/d + 2^(bits-1) + 0.5), clamped to the top code.
template <int Levels>
void quantize_symmetric(const float* x, uint16_t* d_out, uint8_t* q) {
    const float max = signed_absmax(x, 32);
    const float d = max / -float(Levels / 2);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
        const float v = x[j] * id + (float(Levels / 2) + 0.5f);
        q[j] = uint8_t(std::min(Levels - 1, int(int8_t(v))));
    }
    *d_out = fp32_to_fp16(d);
}

// Asymmetric 4/5-bit: d = (max - min) / (levels-1), q = trunc((x - min)/d + 0.5).
template <int Levels>
void quantize_asymmetric(const float* x, uint16_t* d_out, uint16_t* m_out, uint8_t* q) {
    float min = x[0], max = x[0];
    for (int j = 1; j < 32; ++j) min = std::min(min, x[j]), max = std::max(max, x[j]);
    const float d = (max - min) / float(Levels - 1);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
        const float v = (x[j] - min) * id + 0.5f;
        q[j] = uint8_t(std::min(Levels - 1, int(uint8_t(v))));
    }
    *d_out = fp32_to_fp16(d);
    *m_out = fp32_to_fp16(min);
}

void pack_nibbles(const uint8_t* q, uint8_t* qs) {
    for (int j = 0; j < 16; ++j) qs[j] = uint8_t((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
}

void pack_high_bits(const uint8_t* q, uint8_t* qh) {
    uint32_t h = 0;
    for (int j = 0; j < 32; ++j) h |= uint32_t((q[j] >> 4) & 1) << j;
    for (int b = 0; b < 4; ++b) qh[b] = uint8_t(h >> (8 * b));
}

// d = amax/127, q = roundf(x/d) (half away from zero); returns sum of q.
int quantize_q8(const float* x, uint16_t* d_out, int8_t* qs, float* d_f32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
        qs[j] = int8_t(std::round(x[j] * id));
        sum += qs[j];
    }
    *d_out = fp32_to_fp16(d);
    *d_f32 = d;
    return sum;
}

}  // namespace

void dequantize_row_q4_0(const void* x, float* y, int64_t n) { dequantize_blocks<block_q4_0, QK4_0>(x, y, n); }
void dequantize_row_q4_1(const void* x, float* y, int64_t n) { dequantize_blocks<block_q4_1, QK4_1>(x, y, n); }
void dequantize_row_q5_0(const void* x, float* y, int64_t n) { dequantize_blocks<block_q5_0, QK5_0>(x, y, n); }
void dequantize_row_q5_1(const void* x, float* y, int64_t n) { dequantize_blocks<block_q5_1, QK5_1>(x, y, n); }
void dequantize_row_q8_0(const void* x, float* y, int64_t n) { dequantize_blocks<block_q8_0, QK8_0>(x, y, n); }
void dequantize_row_q8_1(const void* x, float* y, int64_t n) { dequantize_blocks<block_q8_1, QK8_1>(x, y, n); }

void quantize_row_q4_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q4_0*>(vy);
    for (int64_t i = 0; i < n / QK4_0; ++i) {
        uint8_t q[32];
        quantize_symmetric<16>(x + i * 32, &y[i].d, q);
        pack_nibbles(q, y[i].qs);
    }
}

void quantize_row_q4_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q4_1*>(vy);
    for (int64_t i = 0; i < n / QK4_1; ++i) {
        uint8_t q[32];
        quantize_asymmetric<16>(x + i * 32, &y[i].d, &y[i].m, q);
        pack_nibbles(q, y[i].qs);
    }
}

void quantize_row_q5_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q5_0*>(vy);
    for (int64_t i = 0; i < n / QK5_0; ++i) {
        uint8_t q[32];
        quantize_symmetric<32>(x + i * 32, &y[i].d, q);
        pack_nibbles(q, y[i].qs);
        pack_high_bits(q, y[i].qh);
    }
}

void quantize_row_q5_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q5_1*>(vy);
    for (int64_t i = 0; i < n / QK5_1; ++i) {
        uint8_t q[32];
        quantize_asymmetric<32>(x + i * 32, &y[i].d, &y[i].m, q);
        pack_nibbles(q, y[i].qs);
        pack_high_bits(q, y[i].qh);
    }
}

void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_0*>(vy);
    float d;
    for (int64_t i = 0; i < n / QK8_0; ++i) quantize_q8(x + i * 32, &y[i].d, y[i].qs, &d);
}

void quantize_row_q8_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < n / QK8_1; ++i) {
        float d;
        const int sum = quantize_q8(x + i * 32, &y[i].d, y[i].qs, &d);
        y[i].s = fp32_to_fp16(d * float(sum));
    }
}

// Dot products: integer sums per block, scaled once per block in float.
float vec_dot_q4_0(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q4_0*>(vx);
    const auto* y = static_cast<const block_q8_0*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK4_0; ++i) {
        int32_t acc = 0;
        for (int j = 0; j < 16; ++j)
            acc += (int(x[i].qs[j] & 0x0f) - 8) * y[i].qs[j] + (int(x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        sum += float(acc) * fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d);
    }
    return sum;
}

// sum_j (d_x q_j + m_x) d_y p_j = d_x d_y sum q p + m_x s_y
float vec_dot_q4_1(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q4_1*>(vx);
    const auto* y = static_cast<const block_q8_1*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK4_1; ++i) {
        int32_t acc = 0;
        for (int j = 0; j < 16; ++j) acc += int(x[i].qs[j] & 0x0f) * y[i].qs[j] + int(x[i].qs[j] >> 4) * y[i].qs[j + 16];
        sum += fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d) * float(acc) + fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
    }
    return sum;
}

float vec_dot_q5_0(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q5_0*>(vx);
    const auto* y = static_cast<const block_q8_0*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK5_0; ++i) {
        const uint32_t qh = load_u32(x[i].qh);
        int32_t acc = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = int((x[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4)) - 16;
            const int hi = int((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
            acc += lo * y[i].qs[j] + hi * y[i].qs[j + 16];
        }
        sum += float(acc) * fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d);
    }
    return sum;
}

float vec_dot_q5_1(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q5_1*>(vx);
    const auto* y = static_cast<const block_q8_1*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK5_1; ++i) {
        const uint32_t qh = load_u32(x[i].qh);
        int32_t acc = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = int((x[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4));
            const int hi = int((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
            acc += lo * y[i].qs[j] + hi * y[i].qs[j + 16];
        }
        sum += fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d) * float(acc) + fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
    }
    return sum;
}

float vec_dot_q8_0(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q8_0*>(vx);
    const auto* y = static_cast<const block_q8_0*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK8_0; ++i) {
        int32_t acc = 0;
        for (int j = 0; j < 32; ++j) acc += x[i].qs[j] * y[i].qs[j];
        sum += float(acc) * fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d);
    }
    return sum;
}

float vec_dot_q8_1(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_q8_1*>(vx);
    const auto* y = static_cast<const block_q8_1*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK8_1; ++i) {
        int32_t acc = 0;
        for (int j = 0; j < 32; ++j) acc += x[i].qs[j] * y[i].qs[j];
        sum += float(acc) * fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d);
    }
    return sum;
}

}  // namespace qlm::fmt
