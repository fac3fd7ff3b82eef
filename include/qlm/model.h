// Transformer models from GGUF: hyper-parameters from metadata, weights as
// packed views into the file mapping (never copied or expanded to float), and
// a Session that runs the forward pass over a KV cache.
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

struct SessionOptions {
    int64_t n_ctx = 4096;               // KV cache positions (clamped to the model's training context)
    GgmlType kv_type = GgmlType::F16;   // F16 or F32
    int64_t n_batch = 512;              // tokens per forward chunk
};

// One sequence: its KV cache and scratch buffers. Not thread-safe.
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
    struct Scratch;
    void forward_chunk(std::span<const int32_t> tokens, float* logits, bool all_logits);

    const Model& model_;
    Context& ctx_;
    SessionOptions opts_;
    int64_t n_ctx_ = 0, pos_ = 0;
    std::vector<std::vector<uint8_t>> k_cache_, v_cache_;  // per layer: [kv head][pos][dim]
    std::unique_ptr<Scratch> s_;
};

}  // namespace qlm
