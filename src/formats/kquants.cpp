// Reference rows for the K-quants and Q8_K.
#include "formats/kquants.h"
#include "formats/reference.h"

namespace qlm::fmt {

void dequantize_row_q2_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q2_K, QK_K>(x, y, n); }
void dequantize_row_q3_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q3_K, QK_K>(x, y, n); }
void dequantize_row_q4_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q4_K, QK_K>(x, y, n); }
void dequantize_row_q5_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q5_K, QK_K>(x, y, n); }
void dequantize_row_q6_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q6_K, QK_K>(x, y, n); }
void dequantize_row_q8_K(const void* x, float* y, int64_t n) { dequantize_blocks<block_q8_K, QK_K>(x, y, n); }

// PLACEHOLDER: quantize_row_* and vec_dot_* for Q2_K..Q6_K, Q8_K go here.

}  // namespace qlm::fmt
