// GELU (tanh approximation) as llama.cpp evaluates it on the CPU: the input
// rounded to F16, looked up in a 65536-entry table of F16 results, with
// x <= -10 -> 0 and x >= 10 -> x. Shared by every CPU backend so all of them
// give the reference engine's numbers.
#pragma once

#include <cstdint>

namespace qlm::cpu {

// table[h] = fp16(gelu_tanh(fp16_to_fp32(h))), gelu in float; one spare
// entry at the end so 32-bit gathers of the last index stay inside.
const uint16_t* gelu_f16_table();

}  // namespace qlm::cpu
