// Reference rows for IQ4_NL and IQ4_XS.
#include "formats/iquants.h"
#include "formats/reference.h"

namespace qlm::fmt {

void dequantize_row_iq4_nl(const void* x, float* y, int64_t n) { dequantize_blocks<block_iq4_nl, QK4_NL>(x, y, n); }
void dequantize_row_iq4_xs(const void* x, float* y, int64_t n) { dequantize_blocks<block_iq4_xs, QK_K>(x, y, n); }

// PLACEHOLDER: quantize_row_iq4_nl/xs and vec_dot_iq4_nl/xs go here.

}  // namespace qlm::fmt
