// Pieces shared by the commands that run a model (run, logits, bench model).
#pragma once

#include <memory>
#include <string>

#include "qlm/error.h"
#include "qlm/ops.h"

namespace qlm::cli {

inline std::unique_ptr<Context> make_context(int threads, const std::string& isa) {
    ContextOptions co;
    co.threads = threads;
    if (!isa.empty()) {
        co.isa = isa_from_name(isa);
        if (!co.isa) fail("--isa: unknown instruction set '", isa, "' (scalar, avx2, avx512, neon)");
    }
    return std::make_unique<Context>(co);
}

inline double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

}  // namespace qlm::cli
