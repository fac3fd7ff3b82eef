// What the plain and the grouped-expert matmul share: weight checks, the
// kernel ladder and the split of weight rows into tasks.
#pragma once

#include <cstdint>
#include <string>

#include "ops/context_impl.h"

namespace qlm::detail {

std::string shape_of(const WeightView& w);
void check_weight(const WeightView& w, const char* op);
// The instruction set's tile kernel for w's type, else the scalar one, else an error.
cpu::MatmulTileFn pick_tile(const Context::Impl& c, const WeightView& w);
// Weight rows per task: a multiple of 8 (the GEMM's panel height).
int64_t rows_per_task(int64_t n, int threads);

// One weight's kernel for m activation rows: the GEMM from the table's
// threshold on, else the tile kernel (one is null).
struct KernelChoice {
    cpu::MatmulTileFn tile = nullptr;
    cpu::GemmFn gemm = nullptr;
};
KernelChoice choose_kernel(const Context::Impl& c, const WeightView& w, int64_t m);
// y rows [r0, r1) (ldy = w.n) of the m activation rows x · Wᵀ.
void run_rows(const KernelChoice& kc, const WeightView& w, const uint8_t* x, size_t x_stride, int64_t m, float* y,
              int64_t r0, int64_t r1);

}  // namespace qlm::detail
