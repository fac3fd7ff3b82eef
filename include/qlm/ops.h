// Backend-neutral op API. For now: y = x · Wᵀ over packed GGUF weights on the
// CPU backend (GEMV for m = 1, batched GEMV for m <= 16, tiled GEMM above).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qlm/formats.h"
#include "qlm/isa.h"
#include "qlm/rope.h"
#include "qlm/weight_view.h"

namespace qlm {

struct GgufTensor;
class ComputeBackend;  // qlm/backend.h

// The best instruction set this CPU runs and this build compiled, and whether
// one is supported (qlm/isa.h).
Isa best_isa() noexcept;
bool isa_supported(Isa isa) noexcept;  // by this CPU and this build

// Throws qlm::Error naming the tensor if it is not 1-D/2-D, its rows are not
// whole blocks, or its data is not at its blocks' natural alignment.
WeightView weight_view(const GgufTensor& t);
// Throws qlm::Error naming the tensor if its data is misaligned for its type.
void check_tensor_alignment(const GgufTensor& t);

struct ContextOptions {
    std::optional<Isa> isa;  // default: best_isa()
    int threads = 0;         // 0: physical cores
    bool profile = false;    // per-op timers (qlm/profile.h)
};

// Holds the chosen kernels and the worker threads. Not thread-safe: one caller at a time.
class Context {
public:
    explicit Context(ContextOptions opts = {});
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    Isa isa() const noexcept;
    int threads() const noexcept;

    // Runs fn(i) for i in [0, n) on the context's threads (the caller's
    // included) and returns when all are done; tasks must own disjoint outputs.
    void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

    // The backend the forward pass runs on (qlm/backend.h): the CPU kernels
    // of this context unless set_backend chose another. Replace it only while
    // nothing (a Forward, a KV cache) holds memory of the old one.
    ComputeBackend& backend();
    void set_backend(std::unique_ptr<ComputeBackend> b);

    struct Impl;
    Impl& impl() noexcept { return *impl_; }
    const Impl& impl() const noexcept { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

// Activations quantized once to a weight type's partner (Q8_0, Q8_1, Q8_K, or
// F32/F16/BF16 for float weights) and reusable for every weight with that
// partner: a QKV projection quantizes its normalized input once for Q, K and V.
struct QuantizedActivations {
    GgmlType type = GgmlType::F32;
    int64_t m = 0, k = 0;
    size_t row_stride = 0;
    std::vector<uint8_t> data;
};
GgmlType activation_type(GgmlType weight_type) noexcept;
QuantizedActivations quantize_activations(Context& ctx, const float* x, int64_t m, int64_t k, GgmlType type);

// y (m × n, row-major) = x (m × k) · Wᵀ. For a transposed view: y (m × k) = x (m × n) · W.
// Shape errors name the op, the weight, its type and the shapes.
void matmul(Context& ctx, const float* x, int64_t m, const WeightView& w, float* y);
void matmul(Context& ctx, const QuantizedActivations& xq, const WeightView& w, float* y);

// Several products in one parallel run (one hand-off to the threads instead
// of one per weight): y_i = xq_i · W_iᵀ, as matmul(ctx, *xq, w, y) for each.
struct MatmulJob {
    const QuantizedActivations* xq = nullptr;
    WeightView w;
    float* y = nullptr;
};
void matmul(Context& ctx, const std::vector<MatmulJob>& jobs);

// ---- Mixture of experts ----

// The experts of one layer: a 3-D GGUF tensor [k, n, n_expert], n_expert
// matrices of n rows × k columns one after the other in the mapping. Each
// expert is a zero-copy WeightView of its own bytes.
struct ExpertsView {
    GgmlType type = GgmlType::F32;
    int64_t n_expert = 0, n = 0, k = 0;
    size_t row_stride = 0, expert_stride = 0;
    const uint8_t* data = nullptr;
    std::string name;
    WeightView expert(int64_t e) const;
};
// Throws qlm::Error naming the tensor if it is not 3-D.
ExpertsView experts_view(const GgufTensor& t);

// The routing of a step of n_tokens tokens: token t uses the experts
// ids[t·n_used + j] (j < n_used, each < n_expert) with weights[t·n_used + j].
// Slot s = t·n_used + j is that pair's row in the grouped matmul's output.
struct ExpertRouting {
    const int32_t* ids = nullptr;
    const float* weights = nullptr;
    int64_t n_tokens = 0;
    int n_used = 0;
    int64_t n_expert = 0;
};

// How router logits become a routing (the MoE gating), per token:
//   p = softmax(logits) | sigmoid(logits) | logits (SoftmaxSelected);
//   choose the n_used experts of largest p + selection_bias (the bias only
//   chooses; ties go to the lower expert id); weights = p of the chosen
//   (SoftmaxSelected: softmax over the chosen logits), divided by their sum
//   (clamped below at 6.103515625e-5) if normalize, times scale.
enum class RouterGating : uint8_t { Softmax, Sigmoid, SoftmaxSelected };
struct RouterParams {
    RouterGating gating = RouterGating::Softmax;
    int n_used = 0;
    bool normalize = false;
    float scale = 1.0f;
    const float* selection_bias = nullptr;  // n_expert, or null
};
// logits: n_tokens × n_expert. Writes ids and weights (n_tokens × n_used),
// chosen experts in order of decreasing selection score.
void route_experts(const float* logits, int64_t n_tokens, int64_t n_expert, const RouterParams& p, int32_t* ids,
                   float* weights);

// One grouped-expert product: for every slot s of the routing, y row s
// (w.n floats) = x_row · W_eᵀ with e the slot's expert, where x_row is
// activation row s / n_used (per_slot false: one input per token, the gate
// and up projections) or row s (per_slot true: the down projection).
struct ExpertJob {
    const QuantizedActivations* xq = nullptr;
    bool per_slot = false;
    ExpertsView w;
    float* y = nullptr;  // (n_tokens · n_used) × w.n
};
// Runs the jobs in one parallel run: the rows routed to each expert are
// gathered, every active expert runs once over all its rows through the usual
// matmul paths (m = 1, tiles, GEMM), and the results are scattered back. Each
// output is the same bits whatever else the step holds (batch invariance).
void matmul_experts(Context& ctx, const ExpertRouting& r, const std::vector<ExpertJob>& jobs);

// out[t] = Σ_j weights[t·n_used + j] · y[t·n_used + j] over j in order (n floats each).
void combine_experts(const ExpertRouting& r, const float* y, int64_t n, float* out);

// ---- Float ops of the transformer blocks (rows × n, row-major, float32) ----
// Each is split over the context's threads by rows; results never depend on the
// thread count.

// y[j] = x[j] as IEEE binary16 (nearest, ties to even), n values: the F16 KV cache store.
void to_f16(Context& ctx, const float* x, uint16_t* y, int64_t n);

// y = x / sqrt(mean(x²) + eps) * weight, per row of n (weight may be null: no
// scaling). y may alias x.
void rms_norm(Context& ctx, const float* x, const float* weight, float* y, int64_t rows, int64_t n, float eps);

// Rotary position embedding, in place, on rows of n_heads × head_dim. Normal
// rotates adjacent pairs (x[2i], x[2i+1]) (llama); Neox rotates (x[i], x[i+d/2])
// (qwen2, qwen3, gemma3). Only the first n_dims of each head rotate. Angle of
// pair i at position p: p · freq_scale · base^(-2i/n_dims) / freq_factors[i].
void rope(Context& ctx, float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
          const RopeParams& p);

// x[r][j] += b[j]  (bias broadcast over rows)
void add_bias(Context& ctx, float* x, const float* b, int64_t rows, int64_t n);
// y[j] += x[j]
void add_inplace(Context& ctx, float* y, const float* x, int64_t n);
// x[j] *= s (nothing when s == 1)
void scale(Context& ctx, float* x, int64_t n, float s);

// Embedding rows: out row i = row ids[i] of `table` (n_rows × n, any weight
// type), dequantized, times `scale`. ids are checked by the caller.
void get_rows(Context& ctx, const WeightView& table, const int32_t* ids, int64_t n_ids, float* out, float scale = 1.0f);
// out row r = x row rows[r] (n floats each): the rows that need logits.
void gather_rows(Context& ctx, const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out);
// g[j] = act(g[j]) * u[j]: the gated FFN's activation.
void silu_mul(Context& ctx, float* g, const float* u, int64_t n);
void gelu_tanh_mul(Context& ctx, float* g, const float* u, int64_t n);
// gpt-oss's clamped SwiGLU: x = min(g, limit), y = clamp(u, -limit, limit),
// g = x / (1 + exp(-alpha·x)) · (y + 1).
void swiglu_oai_mul(Context& ctx, float* g, const float* u, int64_t n, float alpha, float limit);
float gelu_tanh(float x) noexcept;
float silu(float x) noexcept;
// Softmax numerator on the calling thread with the backend's kernel (n >= 1):
// x[j] = exp(x[j] - max x) (within a few ulp), returns their sum in double
// and max x in *max_out (if not null). Safe to call from several threads.
double exp_sum(const Context& ctx, float* x, int64_t n, float* max_out);

// Causal grouped-query attention of a batch of queries over a KV cache.
//   q:   n_tokens × (n_head · head_dim_k), positions[i] the query's position
//   k/v: n_kv_head heads of n_pos positions each, F16 or F32 rows of
//        head_dim_k / head_dim_v, row j holding position j
//   out: n_tokens × (n_head · head_dim_v)
// Query i of head h attends to positions j <= positions[i] of kv head
// h / (n_head / n_kv_head), and with window > 0 only to those with
// positions[i] - j < window (sliding-window layers).
struct KvView {
    GgmlType type = GgmlType::F16;  // F16 or F32
    const uint8_t* data = nullptr;
    size_t pos_stride = 0;   // bytes from one position to the next
    size_t head_stride = 0;  // bytes from one kv head to the next
    int64_t n_pos = 0;       // positions written (0..n_pos-1)
};
struct AttentionShape {
    int n_head = 0, n_kv_head = 0, head_dim_k = 0, head_dim_v = 0;
    float scale = 1.0f;  // applied to q·k
    int window = 0;      // 0: full causal
    // One learned logit per query head that joins each softmax's denominator
    // (exp(sink) beside the scores) and attends to nothing (gpt-oss), or null.
    const float* sinks = nullptr;
};
void attention(Context& ctx, const float* q, int64_t n_tokens, const int32_t* positions, const KvView& k,
               const KvView& v, const AttentionShape& s, float* out);

// A sequence's cache in fixed-size blocks of a shared pool (paged): position
// p is row p % block_size of block table[p / block_size]. Within a block:
// [kv head][row][dim], rows pos_stride bytes apart, heads head_stride apart.
struct KvPages {
    GgmlType type = GgmlType::F16;  // F16 or F32
    const uint8_t* base = nullptr;  // block 0 of the pool (one layer)
    size_t block_stride = 0;        // bytes from one block to the next
    size_t head_stride = 0;
    size_t pos_stride = 0;
    int64_t block_size = 0;         // positions per block
    const int32_t* table = nullptr; // block ids, one per block_size positions
    int64_t n_pos = 0;              // positions written (0..n_pos-1)
};
// One layer's K (or V) pool, writable, with the geometry of KvPages.
struct KvLayer {
    GgmlType type = GgmlType::F16;  // F16 or F32
    uint8_t* base = nullptr;        // block 0 of the pool
    size_t block_stride = 0, head_stride = 0, pos_stride = 0;
    int64_t block_size = 0;
};
// The KV store: x row r (n_head heads of head_dim floats) goes to slot
// slots[r] = block · block_size + offset of the pool, converted to its type.
void kv_store(Context& ctx, const float* x, int64_t rows, int n_head, int64_t head_dim, const int32_t* slots,
              const KvLayer& dst);

// One sequence of a batch: its queries (rows q_stride floats apart, out
// rows out_stride apart, laid out as above) over its own cache.
struct AttnSeq {
    const float* q = nullptr;
    float* out = nullptr;
    int64_t n_tokens = 0;
    const int32_t* positions = nullptr;
    KvPages k, v;
};
// Attention of every sequence of a batch in one parallel run. A query's
// result is the same bits whatever else is in the batch, however its cache is
// split into blocks and however many queries of its sequence come with it.
void attention(Context& ctx, const std::vector<AttnSeq>& seqs, const AttentionShape& s);

// For benchmarks: the largest cache level's size (sysfs; 32 MiB if unknown),
// and the best read bandwidth in GB/s over `reps` streaming passes of `bytes`
// split across the context's threads.
size_t last_level_cache_bytes() noexcept;
double measure_read_bandwidth(Context& ctx, size_t bytes, int reps = 5);

}  // namespace qlm
