// Reference rows for F32, F16, BF16 and MXFP4.
#include <cmath>
#include <cstring>

#include "formats/fp.h"
#include "formats/legacy.h"
#include "formats/reference.h"

namespace qlm::fmt {

void dequantize_row_f32(const void* x, float* y, int64_t n) { std::memcpy(y, x, size_t(n) * 4); }
void quantize_row_f32(const float* x, void* y, int64_t n) { std::memcpy(y, x, size_t(n) * 4); }
float vec_dot_f32(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const float*>(vx);
    const auto* y = static_cast<const float*>(vy);
    double sum = 0;  // double accumulator: the reference should not be the error source
    for (int64_t i = 0; i < n; ++i) sum += double(x[i]) * double(y[i]);
    return float(sum);
}

void dequantize_row_f16(const void* vx, float* y, int64_t n) {
    const auto* x = static_cast<const uint16_t*>(vx);
    for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_fp32(x[i]);
}
void quantize_row_f16(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(x[i]);
}
float vec_dot_f16(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const uint16_t*>(vx);
    const auto* y = static_cast<const uint16_t*>(vy);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(fp16_to_fp32(x[i])) * double(fp16_to_fp32(y[i]));
    return float(sum);
}

void dequantize_row_bf16(const void* vx, float* y, int64_t n) {
    const auto* x = static_cast<const uint16_t*>(vx);
    for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(x[i]);
}
void quantize_row_bf16(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_bf16(x[i]);
}
float vec_dot_bf16(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const uint16_t*>(vx);
    const auto* y = static_cast<const uint16_t*>(vy);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(bf16_to_fp32(x[i])) * double(bf16_to_fp32(y[i]));
    return float(sum);
}

void dequantize_row_mxfp4(const void* x, float* y, int64_t n) {
    dequantize_blocks<block_mxfp4, QK_MXFP4>(x, y, n);
}

// Shared exponent: the largest magnitude maps into the top binade of E2M1
// (4..6, i.e. doubled 8..12), so e = floor(log2(amax)) - 2 + 127. Each element
// then takes the table entry nearest to it (first one on ties).
void quantize_row_mxfp4(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_mxfp4*>(vy);
    for (int64_t i = 0; i < n / QK_MXFP4; ++i) {
        const float* xb = x + i * QK_MXFP4;
        float amax = 0;
        for (int j = 0; j < QK_MXFP4; ++j) amax = std::fmax(amax, std::fabs(xb[j]));
        const uint8_t e = amax > 0 ? uint8_t(int(std::floor(std::log2(amax))) - 2 + 127) : 0;
        const float d = e8m0_to_fp32_half(e);
        uint8_t q[QK_MXFP4];
        for (int j = 0; j < QK_MXFP4; ++j) {
            int best = 0;
            float best_err = std::fabs(d * float(mxfp4_value(0)) - xb[j]);
            for (int k = 1; k < 16; ++k) {
                const float err = std::fabs(d * float(mxfp4_value(k)) - xb[j]);
                if (err < best_err) best_err = err, best = k;
            }
            q[j] = uint8_t(best);
        }
        y[i].e = e;
        for (int j = 0; j < QK_MXFP4 / 2; ++j) y[i].qs[j] = uint8_t(q[j] | (q[j + QK_MXFP4 / 2] << 4));
    }
}

float vec_dot_mxfp4(int64_t n, const void* vx, const void* vy) {
    const auto* x = static_cast<const block_mxfp4*>(vx);
    const auto* y = static_cast<const block_q8_0*>(vy);
    float sum = 0;
    for (int64_t i = 0; i < n / QK_MXFP4; ++i) {
        const int32_t acc = nibble_table_dot32(x[i].qs, y[i].qs, mxfp4_value);
        sum += e8m0_to_fp32_half(x[i].e) * fp16_to_fp32(y[i].d) * float(acc);
    }
    return sum;
}

}  // namespace qlm::fmt
