// CpuBackend: the CPU kernels of qlm/ops.h (free functions on a Context's
// kernel table and threads) behind the ComputeBackend interface, and
// make_backend, which constructs a backend by name (cpu; cuda where this
// build has it).
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "ops/context_impl.h"
#if defined(QLM_HAVE_CUDA)
#include "ops/cuda_backend.h"
#endif
#include "qlm/backend.h"
#include "qlm/error.h"

namespace qlm {

namespace {

struct CpuActivations final : BackendActivations {
    QuantizedActivations q;
};

const QuantizedActivations& cpu_acts(const BackendActivations* a, const char* op) {
    const auto* c = dynamic_cast<const CpuActivations*>(a);
    if (!c) fail(op, ": activations were not made by the CPU backend");
    return c->q;
}

class CpuBackend final : public ComputeBackend {
public:
    explicit CpuBackend(Context& ctx) : ctx_(ctx) {}
    const char* name() const noexcept override { return "cpu"; }
    std::string description() const override {
        return cat("cpu ", isa_name(ctx_.isa()), ", ", ctx_.threads(), " threads");
    }

    BackendBuffer alloc(size_t bytes) override {
        if (bytes == 0) return {};
        // 64-byte aligned (a cache line), zero-filled like the vectors it replaces.
        const size_t rounded = (bytes + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, rounded);
        if (!p) fail("cpu backend: out of memory allocating ", bytes, " bytes");
        std::memset(p, 0, rounded);
        return BackendBuffer(this, p, bytes);
    }
    void free_buffer(void* p, size_t) noexcept override { std::free(p); }
    bool host_memory() const noexcept override { return true; }
    void upload(void* dst, const void* src, size_t bytes) override {
        if (bytes) std::memcpy(dst, src, bytes);
    }
    void download(void* dst, const void* src, size_t bytes) override {
        if (bytes) std::memcpy(dst, src, bytes);
    }

    std::unique_ptr<BackendActivations> quantize_activations(const float* x, int64_t m, int64_t k,
                                                             GgmlType type) override {
        auto a = std::make_unique<CpuActivations>();
        a->q = qlm::quantize_activations(ctx_, x, m, k, type);
        a->type = type, a->m = m, a->k = k;
        return a;
    }
    void matmul(std::span<const BackendMatmulJob> jobs) override {
        jobs_.clear();
        for (const BackendMatmulJob& j : jobs) jobs_.push_back({&cpu_acts(j.x, "matmul"), j.w, j.y});
        qlm::matmul(ctx_, jobs_);
    }
    void matmul(const float* x, int64_t m, const WeightView& w, float* y) override { qlm::matmul(ctx_, x, m, w, y); }
    void route_experts(const float* logits, int64_t n_tokens, int64_t n_expert, const RouterParams& p, int32_t* ids,
                       float* weights) override {
        qlm::route_experts(logits, n_tokens, n_expert, p, ids, weights);
    }
    void matmul_experts(const ExpertRouting& r, std::span<const BackendExpertJob> jobs) override {
        std::vector<ExpertJob> ej;
        ej.reserve(jobs.size());
        for (const BackendExpertJob& j : jobs) ej.push_back({&cpu_acts(j.x, "matmul_experts"), j.per_slot, j.w, j.y});
        qlm::matmul_experts(ctx_, r, ej);
    }
    void combine_experts(const ExpertRouting& r, const float* y, int64_t n, float* out) override {
        qlm::combine_experts(r, y, n, out);
    }
    void add_expert_bias(const ExpertRouting& r, const float* bias, float* y, int64_t n) override {
        for (int64_t s = 0; s < r.n_tokens * r.n_used; ++s)
            qlm::add_bias(ctx_, y + s * n, bias + int64_t(r.ids[s]) * n, 1, n);
    }

    void rms_norm(const float* x, const float* weight, float* y, int64_t rows, int64_t n, float eps) override {
        qlm::rms_norm(ctx_, x, weight, y, rows, n, eps);
    }
    void rope(float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
              const RopeParams& p) override {
        qlm::rope(ctx_, x, rows, n_heads, head_dim, positions, p);
    }
    void add_bias(float* x, const float* b, int64_t rows, int64_t n) override { qlm::add_bias(ctx_, x, b, rows, n); }
    void add_inplace(float* y, const float* x, int64_t n) override { qlm::add_inplace(ctx_, y, x, n); }
    void scale(float* x, int64_t n, float s) override { qlm::scale(ctx_, x, n, s); }
    void silu_mul(float* g, const float* u, int64_t n) override { qlm::silu_mul(ctx_, g, u, n); }
    void gelu_tanh_mul(float* g, const float* u, int64_t n) override { qlm::gelu_tanh_mul(ctx_, g, u, n); }
    void swiglu_oai_mul(float* g, const float* u, int64_t n, float alpha, float limit) override {
        qlm::swiglu_oai_mul(ctx_, g, u, n, alpha, limit);
    }
    void get_rows(const WeightView& table, const int32_t* ids, int64_t n_ids, float* out, float s) override {
        qlm::get_rows(ctx_, table, ids, n_ids, out, s);
    }
    void gather_rows(const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out) override {
        qlm::gather_rows(ctx_, x, rows, n_rows, n, out);
    }
    double exp_sum(float* x, int64_t n, float* max_out) override { return qlm::exp_sum(ctx_, x, n, max_out); }

    void kv_store(const float* x, int64_t rows, int n_head, int64_t head_dim, const int32_t* slots,
                  const KvLayer& dst) override {
        qlm::kv_store(ctx_, x, rows, n_head, head_dim, slots, dst);
    }
    void attention(std::span<const AttnSeq> seqs, const AttentionShape& s) override {
        seqs_.assign(seqs.begin(), seqs.end());
        qlm::attention(ctx_, seqs_, s);
    }

private:
    Context& ctx_;
    std::vector<MatmulJob> jobs_;  // reused: no allocation per step once grown
    std::vector<AttnSeq> seqs_;
};


}  // namespace

std::unique_ptr<ComputeBackend> make_cpu_backend(Context& ctx) {
    return std::make_unique<CpuBackend>(ctx);
}

bool cuda_compiled() noexcept {
#if defined(QLM_HAVE_CUDA)
    return true;
#else
    return false;
#endif
}

std::unique_ptr<ComputeBackend> make_backend(const std::string& name, Context& ctx) {
    if (name.empty() || name == "cpu") return make_cpu_backend(ctx);
    if (name == "cuda") {
#if defined(QLM_HAVE_CUDA)
        return make_cuda_backend(ctx);
#else
        fail("--backend cuda: this build has no CUDA backend (configure with -DQLM_CUDA=ON)");
#endif
    }
    fail("--backend: unknown backend '", name, "' (cpu, cuda)");
}

}  // namespace qlm
