// NEON (ARMv8.2 + dotprod) kernels: each family file registers its entries in
// the table. These files are compiled with -march=armv8.2-a+dotprod and only
// ever called after the auxiliary vector said yes (cpu_has(Isa::Neon)).
#pragma once

#include <cstddef>

#include "cpu/kernels.h"

namespace qlm::cpu::neon {

void register_kernels(KernelTable& k);

// Per-family registration (legacy.cpp, kquants.cpp, floats.cpp, quantize.cpp).
void register_legacy(KernelTable& k);
void register_kquants(KernelTable& k);
void register_floats(KernelTable& k);
void register_quantizers(KernelTable& k);

// Per-thread float scratch of at least n elements (scratch.cpp, built with the
// library's baseline flags so no container code is emitted for armv8.2 only).
float* scratch_floats(size_t n);

}  // namespace qlm::cpu::neon
