// matmul_kernel_name: the same choice as matmul (ops/matmul.cpp), then the
// table the chosen function pointer comes from.
#include "qlm/kernel_info.h"

#include "cpu/kernels.h"
#include "ops/context_impl.h"

namespace qlm {

namespace {

// The instruction set whose table holds fn as its tile (or gemm) for type id
// (scalar, then the others: a table that copies another's entry names the
// original).
const char* owner(uint32_t id, bool gemm, const void* fn) {
    auto has = [&](const cpu::KernelTable& t) {
        return reinterpret_cast<const void*>(gemm ? t.gemm[id] : t.tile[id]) == fn;
    };
    if (has(cpu::scalar_kernels())) return "scalar";
    for (Isa isa : {Isa::Avx2, Isa::Neon, Isa::Avx512}) {
        if (!isa_supported(isa)) continue;
        const cpu::KernelTable& t = isa == Isa::Avx2 ? cpu::avx2_kernels()
                                    : isa == Isa::Neon ? cpu::neon_kernels()
                                                       : cpu::avx512_kernels();
        if (has(t)) return isa_name(isa);
    }
    return "?";
}

}  // namespace

std::string matmul_kernel_name(Context& ctx, GgmlType type, int64_t m) {
    const auto& c = ctx.impl();
    const uint32_t id = uint32_t(type);
    if (c.table->gemm[id] && m >= c.table->gemm_min_m[id]) {
        // the AMX rung of the AVX-512 table (below its own threshold it runs the VNNI GEMM)
        if (cpu::gemm_runs_amx(c.table->gemm[id], type, m)) return "amx gemm";
        return std::string(owner(id, true, reinterpret_cast<const void*>(c.table->gemm[id]))) + " gemm";
    }
    const cpu::MatmulTileFn t = c.table->tile[id] ? c.table->tile[id] : cpu::scalar_kernels().tile[id];
    if (!t) return "none";
    return std::string(owner(id, false, reinterpret_cast<const void*>(t))) + " tile";
}

std::string amx_status() { return cpu::amx_status(); }

}  // namespace qlm
