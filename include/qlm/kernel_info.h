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

// The int8 compute peak of ctx's threads together, in G multiply-adds per
// second, from probes that keep their operands in registers: vpdpbusd zmm
// (AVX-512 VNNI) and tdpbssd (AMX-INT8); 0 where this CPU or process lacks it.
struct Int8Peak {
    double vnni = 0, amx = 0;
};
Int8Peak measure_int8_peak(Context& ctx, double seconds = 0.25);

}  // namespace qlm
