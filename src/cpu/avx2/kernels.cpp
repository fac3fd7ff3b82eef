// AVX2 (+FMA, F16C) kernels. This file is compiled with -mavx2 -mfma -mf16c
// and only ever called after CPUID said yes (cpu_has(Isa::Avx2)).
#include "cpu/avx2/avx2.h"

namespace qlm::cpu {

const KernelTable& avx2_kernels() {
    static const KernelTable table = [] {
        KernelTable k;
        k.isa = Isa::Avx2;
        avx2::register_kernels(k);
        return k;
    }();
    return table;
}

}  // namespace qlm::cpu
