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

// --kv-type: the KV cache's element type (f16, the default, or f32).
inline GgmlType kv_type_from_name(const std::string& name) {
    if (name == "f16" || name == "F16") return GgmlType::F16;
    if (name == "f32" || name == "F32") return GgmlType::F32;
    fail("--kv-type: unknown KV cache type '", name, "' (f16, f32)");
}

inline double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

}  // namespace qlm::cli
