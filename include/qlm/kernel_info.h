// Which kernel a matmul runs, for benchmarks and diagnostics.
#pragma once

#include <cstdint>
#include <string>

#include "qlm/ops.h"

namespace qlm {

// "<isa> <path>", e.g. "avx512 gemm", "avx2 tile", "scalar tile": the
// instruction set whose code multiplies `type` weights by m activation rows
// on ctx (a table takes another's entry where its own would not help, as the
// AVX-512 table does for float weights) and the path: "tile" (m = 1 and small
// batches), "gemm", or "amx gemm" (the AMX rung of the AVX-512 table).
std::string matmul_kernel_name(Context& ctx, GgmlType type, int64_t m);

// Whether this process multiplies with AMX tiles, and why (not): the CPU,
// the kernel's tile permission (asked once, at start-up).
std::string amx_status();

}  // namespace qlm
