// Instruction sets this build has no kernels for yet (or cannot target): their
// tables stay empty, so isa_supported() says no and --isa names them unsupported.
#include "cpu/kernels.h"

namespace qlm::cpu {

// x86-64 builds get the AVX-512 table from src/cpu/avx512/.
#if !defined(__x86_64__)
const KernelTable& avx512_kernels() {
    static const KernelTable empty;
    return empty;
}
const KernelTable& avx512_vnni_kernels() { return avx512_kernels(); }
bool amx_usable() noexcept { return false; }
const char* amx_status() noexcept { return "amx: not an x86-64 build"; }
bool gemm_runs_amx(GemmFn, GgmlType, int64_t) noexcept { return false; }
double vnni_peak_probe(int64_t) noexcept { return 0; }
double amx_peak_probe(int64_t) noexcept { return 0; }
#endif

// AArch64 builds get the NEON table from src/cpu/neon/.
#if !defined(__aarch64__)
const KernelTable& neon_kernels() {
    static const KernelTable empty;
    return empty;
}
#endif

}  // namespace qlm::cpu
