// AVX2 (+FMA, F16C) kernels. This file is compiled with -mavx2 -mfma -mf16c
// and only ever called after CPUID said yes (cpu_has(Isa::Avx2)).
#include "cpu/avx2/common.h"
#include "cpu/common/table.h"

namespace qlm::cpu {

const KernelTable& avx2_kernels() { return avx2::drivers::isa_table<Isa::Avx2, avx2::register_kernels>(); }

}  // namespace qlm::cpu
