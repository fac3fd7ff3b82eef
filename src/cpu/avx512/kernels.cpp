// The AVX-512 (F, BW, DQ, VL + VNNI) kernel table. Native: chosen by CPUID
// (cpu_has(Isa::Avx512)) and only ever built and called after it said yes;
// the entries VNNI does not help (float rows, activations, the activation
// quantizers; attention where 512-bit vectors are not faster) are the AVX2
// ones. SIMDe build (tests on any x86): the same kernels, the rest left to
// the scalar ones.
#include "cpu/avx512/simd.h"
#include "cpu/avx512/simde_table.h"
#if !defined(QLM_AVX512_SIMDE)
#include "cpu/amx/amx.h"
#endif

namespace qlm::cpu {

namespace {
KernelTable make_table(KernelTable k, bool wide) {
    k.isa = Isa::Avx512;
    KernelTable own;
    QLM_AVX512_NS::register_legacy(own, wide);
    QLM_AVX512_NS::register_kquants(own);
    QLM_AVX512_NS::register_iquants(own);
    QLM_AVX512_NS::register_gemm(own, wide);
    // A type this table multiplies takes all its paths from here (an output
    // must not depend on which path computed it, cpu/kernels.h).
    for (uint32_t id = 0; id < fmt::kMaxTypeId; ++id)
        if (own.tile[id]) {
            k.tile[id] = own.tile[id];
            k.gemm[id] = own.gemm[id];
            k.gemm_min_m[id] = own.gemm_min_m[id];
        }
    if (wide) {
        QLM_AVX512_NS::register_attention(own);
        k.attn_scores = own.attn_scores, k.attn_wsum = own.attn_wsum;
    }
    return k;
}
}  // namespace

#if defined(QLM_AVX512_SIMDE)
const KernelTable& avx512_simde_kernels(bool wide) {
    // both widths, whichever the native table takes (a CPU without AVX-512
    // runs no native table, and either width ships to some CPU)
    static const KernelTable narrow_table = make_table(KernelTable{}, false), wide_table = make_table(KernelTable{}, true);
    return wide ? wide_table : narrow_table;
}
#else
const KernelTable& avx512_vnni_kernels() {
    static const KernelTable table = make_table(avx2_kernels(), cpu_prefers_512());
    return table;
}
// The AMX rung (src/cpu/amx/) on top, where this CPU and kernel allow it.
const KernelTable& avx512_kernels() {
    static const KernelTable table = amx::with_amx(avx512_vnni_kernels());
    return table;
}
#endif

}  // namespace qlm::cpu
