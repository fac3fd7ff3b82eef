// NEON (ARMv8.2 + dotprod) kernels. This file is compiled with
// -march=armv8.2-a+dotprod and only ever called after the auxiliary vector
// said yes (cpu_has(Isa::Neon)).
#include "cpu/neon/neon.h"

namespace qlm::cpu {

const KernelTable& neon_kernels() {
    static const KernelTable table = [] {
        KernelTable k;
        k.isa = Isa::Neon;
        neon::register_kernels(k);
        return k;
    }();
    return table;
}

}  // namespace qlm::cpu
