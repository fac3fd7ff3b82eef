// AMX tile permission (asked once, at start-up: the first kernel table build)
// and the AMX rung of the AVX-512 table. Baseline flags: runs on any x86-64.
#include <cerrno>
#include <cstring>
#include <string>

#include "cpu/amx/amx.h"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace qlm::cpu {

namespace {

struct State {
    bool usable = false;
    std::string why;
};

State ask() {
    State s;
#if defined(QLM_NO_AMX_BUILD)
    s.why = "amx: this build's compiler has no AMX support: AVX-512 VNNI GEMM";
    return s;
#endif
    if (!cpu_has_amx_int8()) {
        s.why = "amx: no AMX-INT8 on this CPU (or the OS does not save tile state): AVX-512 VNNI GEMM";
        return s;
    }
#if defined(__linux__) && defined(SYS_arch_prctl)
    // Linux 5.16+: a process must ask before it touches tile data
    // (arch/x86/include/uapi/asm/prctl.h ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA).
    constexpr int kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
        s.why = std::string("amx: tile permission refused by the kernel (arch_prctl: ") + std::strerror(errno) +
                "): AVX-512 VNNI GEMM";
        return s;
    }
    s.usable = true;
    s.why = "amx-int8 tiles (tdpbssd) for the prefill GEMM";
#else
    s.why = "amx: no way to ask this OS for tile permission: AVX-512 VNNI GEMM";
#endif
    return s;
}

const State& state() {
    static const State s = ask();
    return s;
}

amx::Entry g_entries[fmt::kMaxTypeId];

}  // namespace

bool amx_usable() noexcept { return state().usable; }
const char* amx_status() noexcept { return state().why.c_str(); }

bool gemm_runs_amx(GemmFn fn, GgmlType t, int64_t m) noexcept {
    const uint32_t id = uint32_t(t);
    return id < fmt::kMaxTypeId && fn && fn == g_entries[id].fn && m >= g_entries[id].min_m;
}

namespace amx {

GemmFn g_fallback[fmt::kMaxTypeId] = {};

KernelTable with_amx(KernelTable k) {
    if (!amx_usable()) return k;
    Entry e[fmt::kMaxTypeId] = {};
#if !defined(QLM_NO_AMX_BUILD)
    register_legacy(e);
    register_kquants(e);
#endif
    for (uint32_t id = 0; id < fmt::kMaxTypeId; ++id) {
        // only where this table's own kernels multiply the type (one float order per type)
        if (!e[id].fn || !k.gemm[id]) continue;
        g_fallback[id] = k.gemm[id];
        if (e[id].min_m < k.gemm_min_m[id]) k.gemm_min_m[id] = e[id].min_m;
        k.gemm[id] = e[id].fn;
        g_entries[id] = e[id];
    }
    return k;
}

}  // namespace amx

#if defined(QLM_NO_AMX_BUILD)
double amx_peak_probe(int64_t) noexcept { return 0; }
#endif

}  // namespace qlm::cpu
