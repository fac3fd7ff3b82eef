// Per-op timing of a Context: where a prefill chunk or a decode step spends
// its time, op by op (each matmul by weight, type, shape and path; attention,
// norms, RoPE, activations, activation quantization, the F16 KV store).
// Off by default (ContextOptions::profile or set_profiling); when off an op
// pays one branch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qlm/ops.h"

namespace qlm {

struct ProfileEntry {
    std::string op;      // "matmul", "attention", "rms_norm", "rope", "quantize", "activation", "kv_store"
    std::string detail;  // matmul: weight (layers folded as blk.*), type, n x k, path; others: shape facts
    int64_t calls = 0;
    int64_t rows = 0;    // activation rows (tokens) summed over the calls
    double seconds = 0;  // wall time (a multi-job matmul run split by its jobs' thread time)
};

void set_profiling(Context& ctx, bool on);
void reset_profile(Context& ctx);
// Entries so far, most time first.
std::vector<ProfileEntry> profile_entries(const Context& ctx);

}  // namespace qlm
