// The AVX-512 kernels compiled a second time against SIMDe (the portable
// implementation of the same intrinsics), for the test binaries: they run
// every AVX-512 kernel against the scalar reference on any x86-64 with AVX2.
// Defined only in the qlm_avx512_simde library (tests link it).
#pragma once

#include "cpu/kernels.h"

namespace qlm::cpu {

// Its isa field says Isa::Avx512; the entries it does not provide are null
// (the scalar kernels through the usual ladder). wide: the 512-bit kernels
// where there are both widths (cpu_prefers_512 picks one natively).
const KernelTable& avx512_simde_kernels(bool wide);

}  // namespace qlm::cpu
