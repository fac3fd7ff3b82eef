// CPU instruction sets with their own kernels (src/cpu/<isa>/). The one the
// process uses is chosen once at start-up from CPUID (qlm/ops.h best_isa); a
// Context may force a lower one for debugging and benchmarks.
#pragma once

#include <optional>
#include <string_view>

namespace qlm {

enum class Isa { Scalar, Avx2, Avx512, Neon };
const char* isa_name(Isa isa) noexcept;
std::optional<Isa> isa_from_name(std::string_view name) noexcept;

}  // namespace qlm
