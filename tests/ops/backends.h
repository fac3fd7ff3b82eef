// The kernel tables the op tests run: every instruction set (natively, where
// this CPU and build have it) and the AVX-512 kernels once more through SIMDe
// (where the build has libsimde-dev), so they are checked on any x86-64.
// Test names say which: avx512 (native, the width cpu_prefers_512 picks) or
// avx512_simde256 / avx512_simde512 (both widths on any CPU).
#pragma once

#include <string>
#include <vector>

#include "cpu/kernels.h"
#include "ops/context_impl.h"
#include "qlm/ops.h"
#if defined(QLM_HAVE_AVX512_SIMDE)
#include "cpu/avx512/simde_table.h"
#endif

namespace qlm {

struct Backend {
    Isa isa = Isa::Scalar;
    bool simde = false;
    bool wide = false;  // simde: the 512-bit kernels
};

inline std::string backend_name(Backend b) {
    return std::string(isa_name(b.isa)) + (b.simde ? (b.wide ? "_simde512" : "_simde256") : "");
}
inline void PrintTo(Backend b, std::ostream* os) { *os << backend_name(b); }

inline std::vector<Backend> all_backends() {
    return {{Isa::Scalar}, {Isa::Avx2}, {Isa::Avx512}, {Isa::Neon}, {Isa::Avx512, true, false}, {Isa::Avx512, true, true}};
}

// Empty when b runs here, else why not (for GTEST_SKIP).
inline std::string backend_unavailable(Backend b) {
    if (!b.simde) return isa_supported(b.isa) ? "" : "instruction set " + backend_name(b) + " not supported here";
#if defined(QLM_HAVE_AVX512_SIMDE)
    // built with -mavx2 -mfma -mf16c: SIMDe runs the 256-bit operations natively
    return isa_supported(Isa::Avx2) ? "" : "avx512_simde needs AVX2, which this CPU lacks";
#else
    return "avx512_simde not built (x86-64 builds with libsimde-dev only)";
#endif
}

// A Context on b's kernel table.
class BackendContext : public Context {
public:
    BackendContext(Backend b, int threads) : Context(ContextOptions{b.simde ? Isa::Scalar : b.isa, threads}) {
#if defined(QLM_HAVE_AVX512_SIMDE)
        if (b.simde) {
            impl().table = &cpu::avx512_simde_kernels(b.wide);
            impl().isa = Isa::Avx512;
        }
#endif
    }
};

}  // namespace qlm
