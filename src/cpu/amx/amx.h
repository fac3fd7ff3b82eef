// The AMX-INT8 rung of the AVX-512 ladder: tdpbssd GEMMs for the formats
// whose blocks decode to int8, each block's int32 sum exact, then the float
// step of cpu/kernels.h lane for lane, so an output is the same bits as the
// AVX-512 tiles and VNNI GEMM give (batch invariance holds across rungs).
// Private to src/cpu/.
#pragma once

#include "cpu/kernels.h"

namespace qlm::cpu::amx {

// One type's AMX GEMM and the m from which it runs (below: the fallback).
struct Entry {
    GemmFn fn = nullptr;
    int min_m = 0;
};
// The AMX GEMMs by weight type id (files compiled with -mamx-tile -mamx-int8).
void register_legacy(Entry* e);
void register_kquants(Entry* e);

// The GEMM an AMX entry runs below its min_m (the table's previous entry),
// by weight type id; set once before the table is published.
extern GemmFn g_fallback[fmt::kMaxTypeId];

// k with the AMX GEMMs where amx_usable(), else k unchanged.
KernelTable with_amx(KernelTable k);

}  // namespace qlm::cpu::amx
