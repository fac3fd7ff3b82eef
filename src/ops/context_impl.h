// What a Context holds: the chosen kernel table and the worker threads.
#pragma once

#include <memory>

#include "cpu/kernels.h"
#include "cpu/thread_pool.h"
#include "qlm/ops.h"

namespace qlm {

struct Profile;  // ops/profile.h

struct Context::Impl {
    Isa isa = Isa::Scalar;
    const cpu::KernelTable* table = nullptr;
    std::unique_ptr<cpu::ThreadPool> pool;
    std::unique_ptr<Profile> profile;  // per-op timers, when profiling is on
    std::unique_ptr<ComputeBackend> backend;  // made on first use: the CPU backend
    ~Impl();
};

}  // namespace qlm
