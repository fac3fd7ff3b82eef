#include <string>

#include "ops/context_impl.h"
#include "ops/profile.h"
#include "qlm/backend.h"
#include "qlm/error.h"

namespace qlm {

static const cpu::KernelTable& table_for(Isa isa) {
    switch (isa) {
        case Isa::Avx2: return cpu::avx2_kernels();
        case Isa::Avx512: return cpu::avx512_kernels();
        case Isa::Neon: return cpu::neon_kernels();
        default: return cpu::scalar_kernels();
    }
}

// Supported means: the CPU runs it and this build compiled its kernels.
bool isa_supported(Isa isa) noexcept { return cpu::cpu_has(isa) && table_for(isa).isa == isa; }

Isa best_isa() noexcept {
    for (Isa i : {Isa::Avx512, Isa::Avx2, Isa::Neon})
        if (isa_supported(i)) return i;
    return Isa::Scalar;
}

Context::Context(ContextOptions opts) : impl_(std::make_unique<Impl>()) {
    const Isa isa = opts.isa.value_or(best_isa());
    if (!isa_supported(isa)) fail("instruction set '", isa_name(isa), "' is not supported by this CPU or build");
    if (opts.threads < 0) fail("threads must be >= 0, got ", opts.threads);
    impl_->isa = isa;
    impl_->table = &table_for(isa);
    impl_->pool = std::make_unique<cpu::ThreadPool>(opts.threads ? opts.threads : cpu::physical_cores());
    if (opts.profile) impl_->profile = std::make_unique<Profile>();
}

Context::Impl::~Impl() = default;

ComputeBackend& Context::backend() {
    if (!impl_->backend) impl_->backend = make_cpu_backend(*this);
    return *impl_->backend;
}

void Context::set_backend(std::unique_ptr<ComputeBackend> b) {
    if (!b) fail("set_backend: no backend given");
    impl_->backend = std::move(b);
}

Context::~Context() = default;
Isa Context::isa() const noexcept { return impl_->isa; }
int Context::threads() const noexcept { return impl_->pool->size(); }

void Context::parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
    if (n <= 0) return;
    impl_->pool->run(n, fn);
}

}  // namespace qlm
