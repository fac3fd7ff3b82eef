// The backend seam: every op the forward pass runs, behind one interface,
// and the memory those ops work in. The model, the KV cache and the engine
// reach kernels only through a ComputeBackend (a Context's backend()); they
// never include a backend's header. CpuBackend is the CPU kernels of qlm/ops.h
// on the Context's threads; CudaBackend (make_cuda_backend) the CUDA ones.
//
// Memory: activations, scratch and the KV cache live in buffers the backend
// hands out (alloc); on the CPU that is host memory, on a GPU device memory.
// Model parameters (weights, norm and bias vectors, sinks, RoPE factors) are
// passed as host pointers into the model's mapping: a device backend makes
// them resident once, on first use. Small integer metadata of a step
// (positions, KV slots, token ids, block tables, expert routing, row lists)
// is host memory; a device backend uploads what it needs.
//
// (Named ComputeBackend, not Backend: tests/ops/backends.h already has a
// qlm::Backend, the instruction-set selector of the kernel tests.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "qlm/ops.h"

namespace qlm {

class ComputeBackend;

// Memory of a backend, returned to it on destruction. Zero-filled when made.
class BackendBuffer {
public:
    BackendBuffer() = default;
    BackendBuffer(ComputeBackend* owner, void* p, size_t bytes) : owner_(owner), ptr_(p), bytes_(bytes) {}
    BackendBuffer(BackendBuffer&& o) noexcept { swap(o); }
    BackendBuffer& operator=(BackendBuffer&& o) noexcept {
        BackendBuffer t(std::move(o));
        swap(t);
        return *this;
    }
    BackendBuffer(const BackendBuffer&) = delete;
    BackendBuffer& operator=(const BackendBuffer&) = delete;
    ~BackendBuffer();

    void* data() const noexcept { return ptr_; }
    size_t size() const noexcept { return bytes_; }
    template <typename T>
    T* as() const noexcept {
        return static_cast<T*>(ptr_);
    }

private:
    void swap(BackendBuffer& o) noexcept {
        std::swap(owner_, o.owner_), std::swap(ptr_, o.ptr_), std::swap(bytes_, o.bytes_);
    }
    ComputeBackend* owner_ = nullptr;
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

// Activations quantized (or converted) by a backend for the weights whose
// activation partner is `type`, in the backend's memory, reusable for every
// such weight (Q, K and V share one). Made by quantize_activations.
class BackendActivations {
public:
    virtual ~BackendActivations() = default;
    GgmlType type = GgmlType::F32;
    int64_t m = 0, k = 0;
};

// y (m × n) = x · Wᵀ: the job list form of matmul (one parallel run).
struct BackendMatmulJob {
    const BackendActivations* x = nullptr;
    WeightView w;
    float* y = nullptr;
};
// The grouped-expert form (ops.h ExpertJob): routing rows through experts.
struct BackendExpertJob {
    const BackendActivations* x = nullptr;
    bool per_slot = false;
    ExpertsView w;
    float* y = nullptr;
};

// Every op follows the contract of its namesake in qlm/ops.h; pointers to
// activations (float rows, outputs, KV pools) are the backend's memory.
class ComputeBackend {
public:
    virtual ~ComputeBackend() = default;
    virtual const char* name() const noexcept = 0;  // "cpu", "cuda"
    virtual std::string description() const = 0;    // for logs: "cpu avx512, 2 threads"

    // ---- memory ----
    virtual BackendBuffer alloc(size_t bytes) = 0;  // zero-filled
    virtual void free_buffer(void* p, size_t bytes) noexcept = 0;
    // True if alloc's memory is host memory (outputs can go straight to the caller).
    virtual bool host_memory() const noexcept = 0;
    virtual void upload(void* dst, const void* src, size_t bytes) = 0;    // host -> backend memory
    virtual void download(void* dst, const void* src, size_t bytes) = 0;  // backend memory -> host
    virtual void synchronize() {}

    // ---- matmul ----
    virtual std::unique_ptr<BackendActivations> quantize_activations(const float* x, int64_t m, int64_t k,
                                                                     GgmlType type) = 0;
    virtual void matmul(std::span<const BackendMatmulJob> jobs) = 0;
    virtual void matmul(const float* x, int64_t m, const WeightView& w, float* y) = 0;
    // Router logits (backend memory) -> ids and weights (host memory, n_tokens × n_used).
    virtual void route_experts(const float* logits, int64_t n_tokens, int64_t n_expert, const RouterParams& p,
                               int32_t* ids, float* weights) = 0;
    virtual void matmul_experts(const ExpertRouting& r, std::span<const BackendExpertJob> jobs) = 0;
    virtual void combine_experts(const ExpertRouting& r, const float* y, int64_t n, float* out) = 0;
    // Slot s's row of y (n floats) += row ids[s] of bias (n_expert × n, a parameter).
    virtual void add_expert_bias(const ExpertRouting& r, const float* bias, float* y, int64_t n) = 0;

    // ---- float ops ----
    virtual void rms_norm(const float* x, const float* weight, float* y, int64_t rows, int64_t n, float eps) = 0;
    virtual void rope(float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
                      const RopeParams& p) = 0;
    virtual void add_bias(float* x, const float* b, int64_t rows, int64_t n) = 0;
    virtual void add_inplace(float* y, const float* x, int64_t n) = 0;
    virtual void scale(float* x, int64_t n, float s) = 0;
    virtual void silu_mul(float* g, const float* u, int64_t n) = 0;
    virtual void gelu_tanh_mul(float* g, const float* u, int64_t n) = 0;
    virtual void swiglu_oai_mul(float* g, const float* u, int64_t n, float alpha, float limit) = 0;
    virtual void get_rows(const WeightView& table, const int32_t* ids, int64_t n_ids, float* out, float scale) = 0;
    virtual void gather_rows(const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out) = 0;
    // x (backend memory) -> exp(x - max) in place; the sum and max on the host.
    virtual double exp_sum(float* x, int64_t n, float* max_out) = 0;

    // ---- attention over the paged KV cache ----
    virtual void kv_store(const float* x, int64_t rows, int n_head, int64_t head_dim, const int32_t* slots,
                          const KvLayer& dst) = 0;
    virtual void attention(std::span<const AttnSeq> seqs, const AttentionShape& s) = 0;
};

inline BackendBuffer::~BackendBuffer() {
    if (owner_ && ptr_) owner_->free_buffer(ptr_, bytes_);
}

// The CPU kernels of qlm/ops.h on ctx's threads and kernel table (the
// default backend of every Context).
std::unique_ptr<ComputeBackend> make_cpu_backend(Context& ctx);

// Backends by name ("cpu", "cuda"). "cuda" throws a qlm::Error when this
// build has no CUDA or no device is present; host work (sampling, scoring)
// stays on ctx's threads.
std::unique_ptr<ComputeBackend> make_backend(const std::string& name, Context& ctx);

// Whether this build has the CUDA backend (configure with -DQLM_CUDA=ON; ops
// then runs the qlm_cuda kernels behind this interface).
bool cuda_compiled() noexcept;

}  // namespace qlm
