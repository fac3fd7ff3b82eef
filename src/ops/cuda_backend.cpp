// CudaBackend: the ComputeBackend interface on a CudaContext (the kernels of
// src/cuda, library qlm_cuda; compiled into ops when QLM_CUDA is on). Activations,
// scratch and the KV cache are device memory from the context's pool; model
// parameters (weights by name, float vectors by host address) are uploaded
// once, on first use. Integer metadata of a step (positions, slots, tables,
// ids, routing) is copied to the device per call.
//
// Staging buffers are reused without waits: the copies into them are ordered
// on the one stream after the kernels that read them (cuda_copy_to_device
// enqueues, then waits for the stream).
//
// First version, simple and correct before fast: each call's metadata goes up
// with a synchronous copy, the expert routing comes down to the host, and the
// grouped-expert matmul is a loop over the active experts (gather, matmul,
// scatter), so a decode step cannot be captured in a CUDA graph yet.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <unordered_map>
#include <vector>

#include "cuda/backend_kernels.h"
#include "cuda/check.h"
#include "cuda/config.h"
#include "cuda/context_impl.h"
#include "cuda/validate.h"
#include "ops/cuda_backend.h"
#include "qlm/backend.h"
#include "qlm/cuda.h"
#include "qlm/error.h"

namespace qlm {

namespace {

struct CudaActivations final : BackendActivations {
    CudaBuffer x;           // m × k floats (the GEMM path converts them per weight itself)
    mutable CudaBuffer q8;  // Q8_1 rows for the integer GEMV, made once on first use by a job list
};

// The device cache knows weights by name; row ranges of one tensor (phi3's
// fused attn_qkv, [gate; up]) and the experts of a 3-D tensor share a name,
// so the key also holds where the view starts in the mapping.
WeightView keyed(WeightView w) {
    w.name = cat(w.name, "@", static_cast<const void*>(w.data));
    return w;
}

const CudaActivations& cuda_acts(const BackendActivations* a, const char* op) {
    const auto* c = dynamic_cast<const CudaActivations*>(a);
    if (!c) fail(op, ": activations were not made by the CUDA backend");
    return *c;
}

class CudaBackend final : public ComputeBackend {
public:
    CudaBackend(Context& host, const CudaOptions& opts) : host_(host), cu_(opts) {}
    ~CudaBackend() override {
        try {
            cu_.synchronize();
        } catch (...) {
        }
    }

    const char* name() const noexcept override { return "cuda"; }
    std::string description() const override {
        return cat("cuda ", cu_.device_name(), " (sm_", cu_.compute_capability(), ")");
    }

    BackendBuffer alloc(size_t bytes) override {
        if (bytes == 0) return {};
        CudaBuffer b = cu_.alloc(bytes);
        QLM_CUDA_CHECK(cudaMemsetAsync(b.data(), 0, bytes, stream()));
        void* p = b.data();
        live_.emplace(p, std::move(b));
        return BackendBuffer(this, p, bytes);
    }
    void free_buffer(void* p, size_t) noexcept override { live_.erase(p); }
    bool host_memory() const noexcept override { return false; }
    void upload(void* dst, const void* src, size_t bytes) override {
        if (bytes) cuda_copy_to_device(cu_, dst, src, bytes);
    }
    void download(void* dst, const void* src, size_t bytes) override {
        if (bytes) cuda_copy_to_host(cu_, dst, src, bytes);
    }
    void synchronize() override { cu_.synchronize(); }

    // ---- matmul ----
    std::unique_ptr<BackendActivations> quantize_activations(const float* x, int64_t m, int64_t k,
                                                             GgmlType type) override {
        auto a = std::make_unique<CudaActivations>();
        a->type = type, a->m = m, a->k = k;
        const size_t bytes = size_t(m) * size_t(k) * sizeof(float);
        a->x = cu_.alloc(std::max<size_t>(bytes, 4));
        if (bytes) QLM_CUDA_CHECK(cudaMemcpyAsync(a->x.data(), x, bytes, cudaMemcpyDeviceToDevice, stream()));
        return a;
    }
    void matmul(std::span<const BackendMatmulJob> jobs) override {
        // Q, K and V (gate and up) share one quantization of their input, as on the CPU.
        for (const BackendMatmulJob& j : jobs) {
            const CudaActivations& a = cuda_acts(j.x, "matmul");
            const DeviceWeight& w = cu_.upload(keyed(j.w));
            if (cuda::choose_matmul_path("matmul", w, a.m) != cuda::MatmulPath::GemvQ8_1) {
                cuda_matmul(cu_, a.x.as<float>(), a.m, w, j.y);
                continue;
            }
            if (!a.q8.data()) {
                a.q8 = cu_.alloc(cuda_q8_1_bytes(a.m, a.k));
                cuda_quantize_q8_1(cu_, a.x.as<float>(), a.m, a.k, a.q8.data());
            }
            cuda_matmul_q8_1(cu_, a.q8.data(), a.m, w, j.y);
        }
    }
    void matmul(const float* x, int64_t m, const WeightView& w, float* y) override {
        cuda_matmul(cu_, x, m, keyed(w), y);
    }
    void route_experts(const float* logits, int64_t n_tokens, int64_t n_expert, const RouterParams& p, int32_t* ids,
                       float* weights) override {
        host_f_.resize(size_t(n_tokens * n_expert));
        download(host_f_.data(), logits, host_f_.size() * sizeof(float));
        qlm::route_experts(host_f_.data(), n_tokens, n_expert, p, ids, weights);
    }
    void matmul_experts(const ExpertRouting& r, std::span<const BackendExpertJob> jobs) override {
        const int64_t slots = r.n_tokens * r.n_used;
        // Per expert, its slots in slot order (the same grouping as the CPU's).
        std::vector<std::vector<int64_t>> by_expert(size_t(r.n_expert));
        for (int64_t s = 0; s < slots; ++s) {
            const int32_t e = r.ids[s];
            if (e < 0 || e >= r.n_expert) fail("matmul_experts (cuda): slot ", s, " routes to expert ", e);
            by_expert[size_t(e)].push_back(s);
        }
        for (const BackendExpertJob& j : jobs) {
            const CudaActivations& a = cuda_acts(j.x, "matmul_experts");
            if (a.k != j.w.k || a.m != (j.per_slot ? slots : r.n_tokens))
                fail("matmul_experts (cuda): activations ", a.m, " x ", a.k, " do not fit experts ", j.w.name);
            for (int64_t e = 0; e < r.n_expert; ++e) {
                const auto& sl = by_expert[size_t(e)];
                if (sl.empty()) continue;
                const int64_t me = int64_t(sl.size());
                std::vector<int64_t> src(sl.size());
                for (size_t i = 0; i < sl.size(); ++i) src[i] = j.per_slot ? sl[i] : sl[i] / r.n_used;
                int64_t* d_src = stage_i64(src, 0);
                int64_t* d_dst = stage_i64(sl, 1);
                float* xg = scratch(xg_, size_t(me * a.k));
                float* yg = scratch(yg_, size_t(me * j.w.n));
                cuda::launch_gather_rows(ls(), a.x.as<float>(), d_src, me, a.k, xg);
                cuda_matmul(cu_, xg, me, keyed(j.w.expert(e)), yg);
                cuda::launch_scatter_rows(ls(), yg, d_dst, me, j.w.n, j.y);
            }
        }
    }
    void combine_experts(const ExpertRouting& r, const float* y, int64_t n, float* out) override {
        const size_t slots = size_t(r.n_tokens * r.n_used);
        float* w = scratch(w_, slots);
        upload(w, r.weights, slots * sizeof(float));
        cuda::launch_combine_experts(ls(), w, r.n_tokens, r.n_used, y, n, out);
    }
    void add_expert_bias(const ExpertRouting& r, const float* bias, float* y, int64_t n) override {
        const int64_t slots = r.n_tokens * r.n_used;
        const float* b = param(bias, size_t(r.n_expert * n));
        int32_t* ids = stage_i32(r.ids, size_t(slots), 0);
        cuda::launch_add_rows_bias(ls(), y, b, ids, slots, n);
    }

    // ---- float ops ----
    void rms_norm(const float* x, const float* weight, float* y, int64_t rows, int64_t n, float eps) override {
        cuda_rms_norm(cu_, x, param(weight, size_t(n)), y, rows, n, eps);
    }
    void rope(float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
              const RopeParams& p) override {
        if (rows == 0) return;
        RopeParams q = p;
        if (q.n_dims > 0 && q.n_dims <= head_dim && q.n_dims % 2 == 0)
            q.freq_factors = param(p.freq_factors, size_t(p.n_dims / 2));
        cuda_rope(cu_, x, rows, n_heads, head_dim, stage_i32(positions, size_t(rows), 0), q);
    }
    void add_bias(float* x, const float* b, int64_t rows, int64_t n) override {
        cuda_add_bias(cu_, x, param(b, size_t(n)), rows, n);
    }
    void add_inplace(float* y, const float* x, int64_t n) override { cuda::launch_add_inplace(ls(), y, x, n); }
    void scale(float* x, int64_t n, float s) override {
        if (s != 1.0f) cuda::launch_scale(ls(), x, n, s);
    }
    void silu_mul(float* g, const float* u, int64_t n) override { cuda_silu_mul(cu_, g, u, n); }
    void gelu_tanh_mul(float* g, const float* u, int64_t n) override { cuda_gelu_tanh_mul(cu_, g, u, n); }
    void swiglu_oai_mul(float* g, const float* u, int64_t n, float alpha, float limit) override {
        cuda::launch_swiglu_oai_mul(ls(), g, u, n, alpha, limit);
    }
    void get_rows(const WeightView& table, const int32_t* ids, int64_t n_ids, float* out, float s) override {
        const DeviceWeight& w = cu_.upload(keyed(table));
        int32_t* d_ids = stage_i32(ids, size_t(n_ids), 0);
        cuda::launch_get_rows(ls(), w.type, w.data, w.row_bytes, w.k, d_ids, n_ids, s, out);
    }
    void gather_rows(const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out) override {
        std::vector<int64_t> r(rows, rows + n_rows);
        cuda::launch_gather_rows(ls(), x, stage_i64(r, 0), n_rows, n, out);
    }
    double exp_sum(float* x, int64_t n, float* max_out) override {
        host_f_.resize(size_t(n));
        download(host_f_.data(), x, size_t(n) * sizeof(float));
        const double sum = qlm::exp_sum(host_, host_f_.data(), n, max_out);
        upload(x, host_f_.data(), size_t(n) * sizeof(float));
        return sum;
    }

    // ---- attention ----
    void kv_store(const float* x, int64_t rows, int n_head, int64_t head_dim, const int32_t* slots,
                  const KvLayer& dst) override {
        if (dst.type != GgmlType::F16 && dst.type != GgmlType::F32)
            fail("kv_store (cuda): cache type ", type_name(dst.type), " is not supported (F16 or F32)");
        cuda::KvStoreArgs a{};
        a.x = x, a.rows = rows, a.n_head = n_head, a.head_dim = head_dim;
        a.slots = stage_i32(slots, size_t(rows), 0);
        a.base = dst.base, a.block_stride = dst.block_stride, a.head_stride = dst.head_stride;
        a.pos_stride = dst.pos_stride, a.block_size = dst.block_size, a.f16 = dst.type == GgmlType::F16;
        cuda::launch_kv_store(ls(), a);
    }
    void attention(std::span<const AttnSeq> seqs, const AttentionShape& s) override {
        for (const AttnSeq& sq : seqs) {
            if (sq.n_tokens == 0) continue;
            if (sq.k.type != sq.v.type) fail("attention (cuda): K and V caches differ in type");
            const int64_t n_blocks = (sq.k.n_pos + sq.k.block_size - 1) / sq.k.block_size;
            for (int64_t i = 0; i < sq.n_tokens; ++i)
                if (sq.positions[i] < 0 || sq.positions[i] >= sq.k.n_pos)
                    fail("attention (cuda): query ", i, " at position ", sq.positions[i], " outside the cache's ",
                         sq.k.n_pos, " positions");
            cuda::PagedAttentionArgs a{};
            a.q = sq.q, a.out = sq.out, a.n_tokens = sq.n_tokens;
            a.q_stride = int64_t(s.n_head) * s.head_dim_k, a.out_stride = int64_t(s.n_head) * s.head_dim_v;
            a.positions = stage_i32(sq.positions, size_t(sq.n_tokens), 0);
            a.table = stage_i32(sq.k.table, size_t(n_blocks), 1);
            a.k = sq.k.base, a.v = sq.v.base;
            a.k_block_stride = sq.k.block_stride, a.k_head_stride = sq.k.head_stride, a.k_pos_stride = sq.k.pos_stride;
            a.v_block_stride = sq.v.block_stride, a.v_head_stride = sq.v.head_stride, a.v_pos_stride = sq.v.pos_stride;
            a.block_size = sq.k.block_size;
            a.n_head = s.n_head, a.n_kv_head = s.n_kv_head, a.head_dim_k = s.head_dim_k, a.head_dim_v = s.head_dim_v;
            a.scale = s.scale, a.window = s.window;
            a.sinks = param(s.sinks, size_t(s.n_head));
            a.f16 = sq.k.type == GgmlType::F16;
            cuda::launch_paged_attention(ls(), a);
        }
    }

private:
    cudaStream_t stream() const noexcept { return static_cast<cudaStream_t>(cu_.stream()); }
    cuda::Stream ls() { return cu_.impl().launch_stream(); }

    struct Grow {
        CudaBuffer b;
        size_t cap = 0;
    };
    template <typename T>
    T* grow(Grow& g, size_t n) {
        const size_t bytes = std::max<size_t>(n, 1) * sizeof(T);
        if (bytes > g.cap) {
            g.b = cu_.alloc(bytes);
            g.cap = bytes;
        }
        return g.b.as<T>();
    }
    float* scratch(Grow& g, size_t n) { return grow<float>(g, n); }
    // Host metadata -> a device staging slot (synchronous copy).
    int32_t* stage_i32(const int32_t* src, size_t n, int slot) {
        int32_t* d = grow<int32_t>(stage_[slot], n);
        if (n) upload(d, src, n * sizeof(int32_t));
        return d;
    }
    int64_t* stage_i64(const std::vector<int64_t>& src, int slot) {
        int64_t* d = grow<int64_t>(stage64_[slot], src.size());
        if (!src.empty()) upload(d, src.data(), src.size() * sizeof(int64_t));
        return d;
    }
    // A model parameter (host, count floats) resident on the device, uploaded on first use.
    const float* param(const float* host, size_t count) {
        if (!host) return nullptr;
        auto it = params_.find(host);
        if (it != params_.end()) {
            if (it->second.size() < count * sizeof(float))
                fail("cuda backend: parameter at ", static_cast<const void*>(host), " used with ", count,
                     " floats, uploaded with ", it->second.size() / sizeof(float));
            return it->second.as<float>();
        }
        CudaBuffer b = cu_.alloc(count * sizeof(float));
        cuda_copy_to_device(cu_, b.data(), host, count * sizeof(float));
        const float* d = b.as<float>();
        params_.emplace(host, std::move(b));
        return d;
    }

    Context& host_;
    CudaContext cu_;
    std::unordered_map<void*, CudaBuffer> live_;
    std::unordered_map<const float*, CudaBuffer> params_;
    Grow stage_[2], stage64_[2], xg_, yg_, w_;
    std::vector<float> host_f_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_cuda_backend(Context& host, const CudaOptions& opts) {
    if (!cuda_available()) fail("--backend cuda: no CUDA device is present (or the driver is missing)");
    return std::make_unique<CudaBackend>(host, opts);
}

}  // namespace qlm
