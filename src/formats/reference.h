// Scalar reference row functions, one triple per type. They are the
// specification that every fast path is checked against: keep them plain and
// never "optimize" them. n (elements) is a multiple of the type's block size;
// the public wrappers in traits.cpp check that before calling.
// vec_dot_X takes a row of X and a row of X's activation partner (see traits.h).
#pragma once

#include <cstdint>

namespace qlm::fmt {

using DequantizeRowFn = void (*)(const void* x, float* y, int64_t n);
using QuantizeRowFn = void (*)(const float* x, void* y, int64_t n);
using VecDotFn = float (*)(int64_t n, const void* x, const void* y);

// fp.cpp
void dequantize_row_f32(const void*, float*, int64_t);
void quantize_row_f32(const float*, void*, int64_t);
float vec_dot_f32(int64_t, const void*, const void*);
void dequantize_row_f16(const void*, float*, int64_t);
void quantize_row_f16(const float*, void*, int64_t);
float vec_dot_f16(int64_t, const void*, const void*);
void dequantize_row_bf16(const void*, float*, int64_t);
void quantize_row_bf16(const float*, void*, int64_t);
float vec_dot_bf16(int64_t, const void*, const void*);
void dequantize_row_mxfp4(const void*, float*, int64_t);
void quantize_row_mxfp4(const float*, void*, int64_t);
float vec_dot_mxfp4(int64_t, const void*, const void*);  // partner Q8_0

// legacy.cpp
void dequantize_row_q4_0(const void*, float*, int64_t);
void quantize_row_q4_0(const float*, void*, int64_t);
float vec_dot_q4_0(int64_t, const void*, const void*);  // partner Q8_0
void dequantize_row_q4_1(const void*, float*, int64_t);
void quantize_row_q4_1(const float*, void*, int64_t);
float vec_dot_q4_1(int64_t, const void*, const void*);  // partner Q8_1
void dequantize_row_q5_0(const void*, float*, int64_t);
void quantize_row_q5_0(const float*, void*, int64_t);
float vec_dot_q5_0(int64_t, const void*, const void*);  // partner Q8_0
void dequantize_row_q5_1(const void*, float*, int64_t);
void quantize_row_q5_1(const float*, void*, int64_t);
float vec_dot_q5_1(int64_t, const void*, const void*);  // partner Q8_1
void dequantize_row_q8_0(const void*, float*, int64_t);
void quantize_row_q8_0(const float*, void*, int64_t);
float vec_dot_q8_0(int64_t, const void*, const void*);  // partner Q8_0
void dequantize_row_q8_1(const void*, float*, int64_t);
void quantize_row_q8_1(const float*, void*, int64_t);
float vec_dot_q8_1(int64_t, const void*, const void*);  // partner Q8_1

// kquants.cpp (partner Q8_K)
void dequantize_row_q2_K(const void*, float*, int64_t);
void quantize_row_q2_K(const float*, void*, int64_t);
float vec_dot_q2_K(int64_t, const void*, const void*);
void dequantize_row_q3_K(const void*, float*, int64_t);
void quantize_row_q3_K(const float*, void*, int64_t);
float vec_dot_q3_K(int64_t, const void*, const void*);
void dequantize_row_q4_K(const void*, float*, int64_t);
void quantize_row_q4_K(const float*, void*, int64_t);
float vec_dot_q4_K(int64_t, const void*, const void*);
void dequantize_row_q5_K(const void*, float*, int64_t);
void quantize_row_q5_K(const float*, void*, int64_t);
float vec_dot_q5_K(int64_t, const void*, const void*);
void dequantize_row_q6_K(const void*, float*, int64_t);
void quantize_row_q6_K(const float*, void*, int64_t);
float vec_dot_q6_K(int64_t, const void*, const void*);
void dequantize_row_q8_K(const void*, float*, int64_t);
void quantize_row_q8_K(const float*, void*, int64_t);
float vec_dot_q8_K(int64_t, const void*, const void*);

// iquants.cpp
void dequantize_row_iq4_nl(const void*, float*, int64_t);
void quantize_row_iq4_nl(const float*, void*, int64_t);
float vec_dot_iq4_nl(int64_t, const void*, const void*);  // partner Q8_0
void dequantize_row_iq4_xs(const void*, float*, int64_t);
void quantize_row_iq4_xs(const float*, void*, int64_t);
float vec_dot_iq4_xs(int64_t, const void*, const void*);  // partner Q8_K

// iquants_lowbit.cpp (partner Q8_K; no quantizer)
void dequantize_row_iq2_xxs(const void*, float*, int64_t);
float vec_dot_iq2_xxs(int64_t, const void*, const void*);
void dequantize_row_iq2_xs(const void*, float*, int64_t);
float vec_dot_iq2_xs(int64_t, const void*, const void*);
void dequantize_row_iq2_s(const void*, float*, int64_t);
float vec_dot_iq2_s(int64_t, const void*, const void*);
void dequantize_row_iq3_xxs(const void*, float*, int64_t);
float vec_dot_iq3_xxs(int64_t, const void*, const void*);
void dequantize_row_iq3_s(const void*, float*, int64_t);
float vec_dot_iq3_s(int64_t, const void*, const void*);
void dequantize_row_iq1_s(const void*, float*, int64_t);
float vec_dot_iq1_s(int64_t, const void*, const void*);
void dequantize_row_iq1_m(const void*, float*, int64_t);
float vec_dot_iq1_m(int64_t, const void*, const void*);
void dequantize_row_tq1_0(const void*, float*, int64_t);
float vec_dot_tq1_0(int64_t, const void*, const void*);
void dequantize_row_tq2_0(const void*, float*, int64_t);
float vec_dot_tq2_0(int64_t, const void*, const void*);

// Dequantize a row block by block with the per-block function of the layout header.
template <typename Block, int QK>
void dequantize_blocks(const void* x, float* y, int64_t n) {
    const auto* b = static_cast<const Block*>(x);
    for (int64_t i = 0; i < n / QK; ++i) dequantize_block(b[i], y + i * QK);
}

}  // namespace qlm::fmt
