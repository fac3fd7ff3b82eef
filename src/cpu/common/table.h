// The kernel table of one instruction set, filled once on first use: the
// same start-up for every ISA folder (avx2/register.cpp, neon/register.cpp).
//
// Include it from the ISA's own header with QLM_CPU_NS naming the ISA's
// namespace (see cpu/common/quantize.h). Private to src/cpu/<isa>/.
#pragma once

#ifndef QLM_CPU_NS
#error "include cpu/common/table.h through an ISA header that defines QLM_CPU_NS"
#endif

#include "cpu/kernels.h"

namespace qlm::cpu::QLM_CPU_NS {
namespace drivers {

// Fill: the ISA's register_kernels, which sets the entries it provides.
template <Isa I, void (*Fill)(KernelTable&)>
const KernelTable& isa_table() {
    static const KernelTable table = [] {
        KernelTable k;
        k.isa = I;
        Fill(k);
        return k;
    }();
    return table;
}

}  // namespace drivers
}  // namespace qlm::cpu::QLM_CPU_NS
