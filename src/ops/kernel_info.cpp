// matmul_kernel_name: the same choice as matmul (ops/matmul.cpp), then the
// table the chosen function pointer comes from.
#include "qlm/kernel_info.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "cpu/kernels.h"
#include "cpu/thread_pool.h"
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

namespace {

// All of ctx's threads run probe at once for about `seconds` (calibrated on
// this thread); G multiply-adds per second.
double run_peak(Context& ctx, double (*probe)(int64_t) noexcept, double seconds) {
    using clock = std::chrono::steady_clock;
    int64_t iters = 1 << 16;
    double s = 0;
    for (; iters < (int64_t(1) << 40); iters *= 4) {
        const auto t0 = clock::now();
        if (probe(iters) == 0) return 0;
        s = std::chrono::duration<double>(clock::now() - t0).count();
        if (s > 0.01) break;
    }
    iters = std::max<int64_t>(1, int64_t(double(iters) * seconds / s));
    auto& pool = *ctx.impl().pool;
    std::vector<double> macs(size_t(pool.size()), 0);
    const auto t0 = clock::now();
    pool.run(pool.size(), [&](int64_t t) { macs[size_t(t)] = probe(iters); });
    s = std::chrono::duration<double>(clock::now() - t0).count();
    double total = 0;
    for (double v : macs) total += v;
    return total / s / 1e9;
}

}  // namespace

Int8Peak measure_int8_peak(Context& ctx, double seconds) {
    Int8Peak p;
    if (!isa_supported(Isa::Avx512)) return p;
    p.vnni = run_peak(ctx, cpu::vnni_peak_probe, seconds);
    if (cpu::amx_usable()) p.amx = run_peak(ctx, cpu::amx_peak_probe, seconds);
    return p;
}

}  // namespace qlm
