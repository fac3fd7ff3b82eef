// Transformer models from GGUF: hyper-parameters from metadata, weights as
// packed views into the file mapping (never copied or expanded to float), and
// the batched forward pass over a paged KV cache, and a Session (one sequence).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "qlm/backend.h"
#include "qlm/gguf.h"
#include "qlm/ops.h"

namespace qlm {

// Every architecture is a row of one table (src/model/arch.cpp): its name,
// the tensors it has, RoPE layout, activation, norms, biases, sliding-window
// rule, embedding scale and mixture-of-experts defaults. The loader and the
// forward pass read the row; they do not branch on the architecture.
enum class Arch { Llama, Qwen2, Qwen3, Gemma3, Granite, Phi3, Qwen3Moe, Glm4Moe, GptOss };
enum class FfnAct : uint8_t { Silu, GeluTanh, SwigluOai };
enum class Need : uint8_t { No, Optional, Required };
// Which layers attend through the sliding window: none; all but every
// `period`-th (gemma3: attention.sliding_window_pattern, default 6).
enum class SwaRule : uint8_t { None, Period };
// The scale of q·k: 1/sqrt(head size); gemma3's rule (27B: 1/sqrt(n_embd/n_head));
// granite's attention.scale key (1/sqrt(head size) when absent); phi3 scales
// the queries by 1/sqrt(head size) after RoPE and attends with scale 1 (the
// rounding differs from scaling q·k).
enum class AttnScaleRule : uint8_t { HeadDim, Gemma3, Key, QueryPreScaled };

struct ArchInfo {
    Arch arch;
    const char* name;                 // general.architecture
    RopeLayout rope;
    FfnAct act;
    Need qkv_bias;                    // attn_{q,k,v}.bias
    Need qk_norm;                     // attn_{q,k}_norm.weight, per head
    Need out_bias;                    // attn_output.bias
    bool attn_sinks;                  // attn_sinks.weight: one logit per head in the softmax (gpt-oss)
    bool post_norms;                  // post_attention_norm / post_ffw_norm after each block (gemma3)
    bool embd_scale_sqrt;             // embeddings times sqrt(n_embd) (gemma)
    SwaRule swa;
    int swa_period;                   // SwaRule::Period: default period
    bool swa_rope_global;             // local layers keep the global RoPE (base, scaling) unless freq_base_swa says
    AttnScaleRule attn_scale;
    bool granite_scales;              // embedding_scale, residual_scale, logit_scale keys
    bool fused_qkv;                   // attn_qkv.weight holds Q, K, V rows (phi3)
    bool fused_gate_up;               // ffn_up.weight holds gate rows then up rows (phi3)
    bool long_rope;                   // rope_factors_long / _short (LongRoPE, phi3)
    const char* ffn_norm;             // the pre-FFN norm tensor: "ffn_norm" or "post_attention_norm"
    // Mixture of experts: whether layers have experts; the defaults that apply
    // when expert_gating_func / expert_weights_norm are missing (as each
    // architecture's loader in llama.cpp does).
    Need moe;
    RouterGating gating;
    bool weights_norm;
    bool moe_keys;                    // expert_gating_func, _weights_norm, _weights_scale are read (else fixed)
    bool selection_bias;              // exp_probs_b.bias
    bool moe_biases;                  // ffn_gate_inp.bias and ffn_{gate,up,down}_exps.bias (gpt-oss)
    Need shared_expert;               // ffn_{gate,up,down}_shexp
    bool leading_dense;               // leading_dense_block_count dense layers first
    bool nextn;                       // nextn_predict_layers extra layers: loaded and ignored
};
std::span<const ArchInfo> arch_table() noexcept;
const ArchInfo& arch_info(Arch a) noexcept;
const char* arch_name(Arch a) noexcept;
// "llama, qwen2, ...": every row's name, for error messages and --help.
std::string supported_archs();

struct ModelConfig {
    Arch arch = Arch::Llama;
    const ArchInfo* info = nullptr;
    std::string arch_name;       // general.architecture as written in the file
    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;
    int64_t n_embd = 0;
    int64_t n_layer = 0;         // layers the forward pass runs (glm4moe: without the nextn layers)
    int64_t n_layer_file = 0;    // block_count
    int64_t n_ff = 0;
    int n_head = 0, n_head_kv = 0;
    int head_dim_k = 0, head_dim_v = 0;
    float norm_eps = 1e-5f;
    // RoPE: global layers; sliding-window layers (gemma3) use their own base.
    RopeLayout rope_layout = RopeLayout::Normal;
    int rope_dims = 0;
    float rope_base = 10000.0f, rope_scale = 1.0f;
    float rope_base_swa = 10000.0f, rope_scale_swa = 1.0f;
    int64_t rope_ctx_orig = 0;    // LongRoPE: original context (rope.scaling.original_context_length)
    float rope_attn_factor = 1.0f;  // rope.scaling.attn_factor (and YaRN's): cos/sin scaled by it
    float rope_ext_factor = 0.0f;   // YaRN: 1 (rope.scaling.type yarn), else 0
    float rope_beta_fast = 32.0f, rope_beta_slow = 1.0f;
    float attn_scale = 1.0f;      // applied to q·k
    float q_scale = 1.0f;         // applied to q after RoPE (phi3)
    float embd_scale = 1.0f;      // gemma: sqrt(n_embd); granite: embedding_scale
    float residual_scale = 1.0f;  // granite: each block's output before the residual add
    float logit_scale = 1.0f;     // granite: logits divided by this
    FfnAct act = FfnAct::Silu;
    int sliding_window = 0;       // 0: none
    std::vector<bool> layer_swa;  // per layer: uses the sliding window
    bool tied_output = false;     // output projection is token_embd
    // Mixture of experts (n_expert == 0: dense).
    int n_expert = 0, n_expert_used = 0, n_expert_shared = 0;
    int64_t n_ff_exp = 0, n_ff_shexp = 0;
    int n_layer_dense_lead = 0;   // the first layers are dense
    RouterGating gating = RouterGating::Softmax;
    bool expert_weights_norm = false;
    float expert_weights_scale = 1.0f;
    bool layer_moe(int64_t l) const noexcept { return n_expert > 0 && l >= n_layer_dense_lead; }
};

// Reads and checks the hyper-parameters. Throws qlm::Error naming the key;
// an unsupported architecture lists the supported ones.
ModelConfig read_model_config(const GgufReader& gguf);

// A dense gated FFN: act(h·W_gateᵀ) * h·W_upᵀ → ·W_downᵀ.
struct DenseFfn {
    WeightView gate, up, down;  // (n_ff, n_embd) (n_ff, n_embd) (n_embd, n_ff)
};
// A mixture-of-experts FFN: a router picks n_expert_used experts per token,
// each a gated FFN; their outputs combine with the routing weights, plus an
// always-on shared expert where the architecture has one.
struct MoeFfn {
    WeightView router;                       // (n_expert, n_embd)
    const float* selection_bias = nullptr;   // (n_expert): added for selection only (glm4moe)
    const float* router_bias = nullptr;      // (n_expert): added to the router logits (gpt-oss)
    const float* gate_bias = nullptr;        // per expert (n_expert, n_ff_exp) (n_expert, n_ff_exp) (n_expert, n_embd)
    const float* up_bias = nullptr;
    const float* down_bias = nullptr;
    ExpertsView gate, up, down;              // per expert (n_ff_exp, n_embd) (n_ff_exp, n_embd) (n_embd, n_ff_exp)
    bool has_shared = false;
    DenseFfn shared;                         // (n_ff_shexp, n_embd) ...
};

struct LayerWeights {
    const float* attn_norm = nullptr;    // (n_embd)
    WeightView wq, wk, wv, wo;           // (n_head·dk, n_embd) (n_kv·dk, n_embd) (n_kv·dv, n_embd) (n_embd, n_head·dv)
    const float* bq = nullptr;           // qwen2 biases: (n_head·dk) (n_kv·dk) (n_kv·dv)
    const float* bk = nullptr;
    const float* bv = nullptr;
    const float* bo = nullptr;           // (n_embd): attention output bias (gpt-oss)
    const float* sinks = nullptr;        // (n_head): attention sinks (gpt-oss)
    const float* q_norm = nullptr;       // qwen3, gemma3: (dk), per head
    const float* k_norm = nullptr;
    const float* post_attn_norm = nullptr;  // gemma3: (n_embd)
    const float* ffn_norm = nullptr;        // (n_embd)
    std::variant<DenseFfn, MoeFfn> ffn;
    const float* post_ffn_norm = nullptr;   // gemma3: (n_embd)
};

struct LoadOptions {
    bool progress = false;  // a progress bar on stderr while the weights are paged in
    bool prefault = true;   // touch every weight page at load time
};

class Model {
public:
    // Maps and checks the file: every tensor the architecture needs must be
    // present, F32 where the model reads it as float, and of the right shape.
    static std::unique_ptr<Model> load(const std::string& path, const LoadOptions& opts = {});
    static std::unique_ptr<Model> from_reader(GgufReader reader, const LoadOptions& opts = {});

    const ModelConfig& config() const noexcept { return cfg_; }
    const GgufReader& gguf() const noexcept { return gguf_; }
    const WeightView& token_embd() const noexcept { return token_embd_; }
    const WeightView& output() const noexcept { return output_; }
    const float* output_norm() const noexcept { return output_norm_; }
    // RoPE frequency divisors (llama3's rope_freqs; LongRoPE's long or short
    // factors for a context of n_ctx positions), or null.
    const float* rope_freqs(int64_t n_ctx = 0) const noexcept {
        return rope_long_ && n_ctx > cfg_.rope_ctx_orig ? rope_long_ : rope_freqs_;
    }
    const LayerWeights& layer(int64_t i) const { return layers_.at(size_t(i)); }
    uint64_t weight_bytes() const noexcept { return weight_bytes_; }
    double load_seconds() const noexcept { return load_seconds_; }

private:
    explicit Model(GgufReader r) : gguf_(std::move(r)) {}
    void bind(const LoadOptions& opts);

    GgufReader gguf_;
    ModelConfig cfg_;
    WeightView token_embd_, output_;
    const float* output_norm_ = nullptr;
    const float* rope_freqs_ = nullptr;
    const float* rope_long_ = nullptr;
    std::vector<LayerWeights> layers_;
    uint64_t weight_bytes_ = 0;
    double load_seconds_ = 0;
};

// The KV cache of every sequence, in fixed-size blocks of positions (paged):
// a sequence owns a block table, and block b of layer l holds, per kv head,
// block_size rows of K (head_dim_k) and V (head_dim_v) values, F16 or F32.
struct KvCacheOptions {
    int64_t n_blocks = 0;
    int64_t block_size = 16;          // positions per block
    GgmlType type = GgmlType::F16;    // F16 or F32
};

// The pools are the backend's memory (device memory on a GPU backend).
class KvCache {
public:
    KvCache(const ModelConfig& cfg, const KvCacheOptions& opts, ComputeBackend& backend);
    int64_t n_blocks() const noexcept { return opts_.n_blocks; }
    int64_t block_size() const noexcept { return opts_.block_size; }
    GgmlType type() const noexcept { return opts_.type; }
    uint64_t bytes() const noexcept;
    uint64_t bytes_per_block() const noexcept;
    // One layer's K or V pages for a block table covering n_pos positions.
    KvPages k_pages(int64_t layer, const int32_t* table, int64_t n_pos) const;
    KvPages v_pages(int64_t layer, const int32_t* table, int64_t n_pos) const;
    // One layer's K or V pool, writable (the KV store's destination).
    KvLayer k_layer(int64_t layer) noexcept;
    KvLayer v_layer(int64_t layer) noexcept;

private:
    KvCacheOptions opts_;
    int n_head_kv_ = 0;
    size_t k_row_ = 0, v_row_ = 0;  // bytes per row
    std::vector<BackendBuffer> k_, v_;  // per layer: [block][kv head][row][dim]
};

// One sequence's share of a forward step: its next tokens at positions
// pos.., written to the cache through its block table (which must cover
// pos + tokens.size() positions), and which of them need logits.
struct SeqStep {
    std::span<const int32_t> tokens;
    int64_t pos = 0;
    const int32_t* blocks = nullptr;
    int64_t logits_from = 0;  // logits of tokens[logits_from..]; tokens.size(): none
};

// The forward pass over a batch of tokens from many sequences: every
// projection runs once over all the step's tokens (each weight is read once
// per step), attention per sequence over its own cache. A sequence's logits
// are the same bits whatever else is in the step (the kernels' batch
// invariance, src/cpu/kernels.h). Runs on ctx.backend(), which must not
// change while the Forward lives. Not thread-safe; one per caller.
class Forward {
public:
    Forward(const Model& model, Context& ctx);
    ~Forward();
    Forward(const Forward&) = delete;
    Forward& operator=(const Forward&) = delete;
    // Logits rows (n_vocab floats each) in sequence order, then token order.
    // Throws on a token outside the vocabulary or an empty step.
    void run(KvCache& kv, std::span<const SeqStep> seqs, float* logits);
    const Model& model() const noexcept { return model_; }
    Context& context() noexcept { return ctx_; }

private:
    struct Scratch;
    // The blocks of a step of B token rows (in Scratch: ids, positions, x).
    void embed(int64_t B);
    void attention_block(int64_t l, KvCache& kv, std::span<const SeqStep> seqs, int64_t B);
    void ffn_block(int64_t l, int64_t B);
    void dense_ffn(const DenseFfn& f, const float* h, int64_t B, float* out);
    void moe_ffn(const MoeFfn& m, const float* h, int64_t B, float* out);
    void output(float* logits);

    const Model& model_;
    Context& ctx_;
    ComputeBackend& be_;  // ctx_.backend(): every op of the step goes through it
    std::unique_ptr<Scratch> s_;
};

struct SessionOptions {
    int64_t n_ctx = 4096;               // KV cache positions (clamped to the model's training context)
    GgmlType kv_type = GgmlType::F16;   // F16 or F32
    int64_t n_batch = 512;              // tokens per forward chunk
};

// One sequence with a cache of its own: the forward pass of the batching
// engine with a single sequence (teacher forcing, benchmarks). Not thread-safe.
class Session {
public:
    Session(const Model& model, Context& ctx, const SessionOptions& opts = {});
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Runs tokens at positions pos() .. pos()+n-1 and advances pos(). Writes
    // the logits of the last token to `logits` (n_vocab floats), or of every
    // token (n × n_vocab) when all_logits. Throws if the context would overflow.
    void eval(std::span<const int32_t> tokens, float* logits, bool all_logits = false);
    int64_t pos() const noexcept { return pos_; }
    int64_t n_ctx() const noexcept { return n_ctx_; }
    void reset() noexcept { pos_ = 0; }
    uint64_t kv_bytes() const noexcept;

private:
    const Model& model_;
    SessionOptions opts_;
    int64_t n_ctx_ = 0, pos_ = 0;
    KvCache kv_;                   // blocks of the whole context, in order
    std::vector<int32_t> blocks_;  // 0, 1, 2, ...
    Forward fwd_;
};

}  // namespace qlm
