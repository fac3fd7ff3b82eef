// NEON (ARMv8.2 + dotprod) kernels. This file is compiled with
// -march=armv8.2-a+dotprod and only ever called after the auxiliary vector
// said yes (cpu_has(Isa::Neon)).
#include "cpu/neon/common.h"
#include "cpu/common/table.h"

namespace qlm::cpu {

const KernelTable& neon_kernels() { return neon::drivers::isa_table<Isa::Neon, neon::register_kernels>(); }

}  // namespace qlm::cpu
