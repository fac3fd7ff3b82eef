// The CUDA backend (cuda_backend.cpp), compiled into ops when the build has
// CUDA (QLM_CUDA, macro QLM_HAVE_CUDA): make_backend("cuda", ...) and the
// tests use it. Private to ops and the tests.
#pragma once

#include <memory>

#include "qlm/backend.h"
#include "qlm/cuda.h"

namespace qlm {

// The ComputeBackend on a device; host work (exp_sum's scoring, routing)
// uses host's threads. Throws qlm::Error if no CUDA device is present.
std::unique_ptr<ComputeBackend> make_cuda_backend(Context& host, const CudaOptions& opts = {});

}  // namespace qlm
