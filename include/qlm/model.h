// Transformer models from GGUF: hyper-parameters from metadata, weights as
// packed views into the file mapping (never copied or expanded to float), and
// the batched forward pass over a paged KV cache, and a Session (one sequence).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qlm/gguf.h"
#include "qlm/ops.h"

namespace qlm {

enum class Arch { Llama, Qwen2, Qwen3, Gemma3 };
const char* arch_name(Arch a) noexcept;
// "llama, qwen2, qwen3, gemma3": for error messages and --help.
std::string supported_archs();

struct ModelConfig {
    Arch arch = Arch::Llama;
    std::string arch_name;       // general.architecture as written in the file
    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_ff = 0;
    int n_head = 0, n_head_kv = 0;
    int head_dim_k = 0, head_dim_v = 0;
    float norm_eps = 1e-5f;
    // RoPE: global layers; sliding-window layers (gemma3) use their own base.
    RopeLayout rope_layout = RopeLayout::Normal;
    int rope_dims = 0;
    float rope_base = 10000.0f, rope_scale = 1.0f;
    float rope_base_swa = 10000.0f, rope_scale_swa = 1.0f;
    float attn_scale = 1.0f;      // applied to q·k
    float embd_scale = 1.0f;      // gemma: sqrt(n_embd)
    int sliding_window = 0;       // 0: none
    std::vector<bool> layer_swa;  // per layer: uses the sliding window
    bool tied_output = false;     // output projection is token_embd
};

// Reads and checks the hyper-parameters. Throws qlm::Error naming the key;
// an unsupported architecture lists the supported ones.
ModelConfig read_model_config(const GgufReader& gguf);

struct LayerWeights {
    const float* attn_norm = nullptr;    // (n_embd)
    WeightView wq, wk, wv, wo;           // (n_head·dk, n_embd) (n_kv·dk, n_embd) (n_kv·dv, n_embd) (n_embd, n_head·dv)
    const float* bq = nullptr;           // qwen2 biases: (n_head·dk) (n_kv·dk) (n_kv·dv)
    const float* bk = nullptr;
    const float* bv = nullptr;
    const float* q_norm = nullptr;       // qwen3, gemma3: (dk), per head
    const float* k_norm = nullptr;
    const float* post_attn_norm = nullptr;  // gemma3: (n_embd)
    const float* ffn_norm = nullptr;        // (n_embd)
    WeightView w_gate, w_up, w_down;        // (n_ff, n_embd) (n_ff, n_embd) (n_embd, n_ff)
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
    const float* rope_freqs() const noexcept { return rope_freqs_; }
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

class KvCache {
public:
    KvCache(const ModelConfig& cfg, const KvCacheOptions& opts);
    int64_t n_blocks() const noexcept { return opts_.n_blocks; }
    int64_t block_size() const noexcept { return opts_.block_size; }
    GgmlType type() const noexcept { return opts_.type; }
    uint64_t bytes() const noexcept;
    uint64_t bytes_per_block() const noexcept;
    // One layer's K or V pages for a block table covering n_pos positions.
    KvPages k_pages(int64_t layer, const int32_t* table, int64_t n_pos) const;
    KvPages v_pages(int64_t layer, const int32_t* table, int64_t n_pos) const;
    // Where position `row` of block `block` of one layer and kv head lives.
    uint8_t* k_row(int64_t layer, int32_t block, int head, int64_t row) noexcept;
    uint8_t* v_row(int64_t layer, int32_t block, int head, int64_t row) noexcept;

private:
    KvCacheOptions opts_;
    int n_head_kv_ = 0;
    size_t k_row_ = 0, v_row_ = 0;  // bytes per row
    std::vector<std::vector<uint8_t>> k_, v_;  // per layer: [block][kv head][row][dim]
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
// invariance, src/cpu/kernels.h). Not thread-safe; one per caller.
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
    const Model& model_;
    Context& ctx_;
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
