// AVX2 kernels: each family file registers its entries in the table.
#pragma once

#include "cpu/kernels.h"

namespace qlm::cpu::avx2 {

void register_kernels(KernelTable& k);

// Per-family registration (legacy.cpp, kquants.cpp, floats.cpp, quantize.cpp).
void register_legacy(KernelTable& k);
void register_kquants(KernelTable& k);
void register_iquants(KernelTable& k);
void register_floats(KernelTable& k);
void register_quantizers(KernelTable& k);
void register_activations(KernelTable& k);
void register_gemm(KernelTable& k);

}  // namespace qlm::cpu::avx2
