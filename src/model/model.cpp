// Model loading: binds every tensor the architecture needs as a view into the
// file mapping and checks its type and shape against the hyper-parameters.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "qlm/error.h"
#include "qlm/model.h"

namespace qlm {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

class Binder {
public:
    Binder(const GgufReader& g, uint64_t& bytes) : g_(g), bytes_(bytes) {}

    const GgufTensor* find(const std::string& name) const { return g_.find_tensor(name); }

    const GgufTensor& need(const std::string& name, std::vector<int64_t> shape) {
        const GgufTensor* t = g_.find_tensor(name);
        if (!t) fail(g_.path(), ": tensor '", name, "' is missing (needed by ", g_.get_string("general.architecture"), ")");
        if (t->shape != shape)
            fail(g_.path(), ": tensor '", name, "' has shape ", shape_str(t->shape), ", expected ", shape_str(shape));
        bytes_ += t->size;
        return *t;
    }
    const float* vec(const std::string& name, int64_t n) {
        const GgufTensor& t = need(name, {n});
        if (t.type != GgmlType::F32)
            fail(g_.path(), ": tensor '", name, "' is ", type_name(t.type), ", expected F32");
        return reinterpret_cast<const float*>(t.data);
    }
    const float* opt_vec(const std::string& name, int64_t n) { return find(name) ? vec(name, n) : nullptr; }
    // A matmul weight of n rows × k columns (GGUF shape [k, n]).
    WeightView mat(const std::string& name, int64_t n, int64_t k) { return weight_view(need(name, {k, n})); }

private:
    const GgufReader& g_;
    uint64_t& bytes_;
};

// Touches one byte per page of every tensor so the first tokens do not pay
// for page faults; draws a bar on a terminal.
void prefault(const GgufReader& g, bool progress) {
    const bool bar = progress && isatty(2);
    uint64_t total = 0, done = 0;
    for (const auto& t : g.tensors()) total += t.size;
    volatile uint8_t sink = 0;
    int shown = -1;
    for (const auto& t : g.tensors()) {
        for (uint64_t o = 0; o < t.size; o += 4096) sink = sink + t.data[o];
        done += t.size;
        const int pct = total ? int(done * 100 / total) : 100;
        if (bar && pct != shown) {
            shown = pct;
            std::fprintf(stderr, "\rloading [%-40.*s] %3d%%", pct * 40 / 100, "========================================", pct);
        }
    }
    if (bar) std::fprintf(stderr, "\r%70s\r", "");
}

}  // namespace

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& opts) {
    return from_reader(GgufReader::open(path), opts);
}

std::unique_ptr<Model> Model::from_reader(GgufReader reader, const LoadOptions& opts) {
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Model> m(new Model(std::move(reader)));
    m->bind(opts);
    m->load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return m;
}

void Model::bind(const LoadOptions& opts) {
    cfg_ = read_model_config(gguf_);
    ModelConfig& c = cfg_;
    Binder b(gguf_, weight_bytes_);
    const GgufTensor* embd = gguf_.find_tensor("token_embd.weight");
    if (!embd) fail(gguf_.path(), ": tensor 'token_embd.weight' is missing");
    if (embd->shape.size() != 2 || embd->shape[0] != c.n_embd)
        fail(gguf_.path(), ": tensor 'token_embd.weight' has shape ", shape_str(embd->shape), ", expected [",
             c.n_embd, ", n_vocab]");
    c.n_vocab = embd->shape[1];
    token_embd_ = b.mat("token_embd.weight", c.n_vocab, c.n_embd);
    output_norm_ = b.vec("output_norm.weight", c.n_embd);
    c.tied_output = !b.find("output.weight");
    output_ = c.tied_output ? token_embd_ : b.mat("output.weight", c.n_vocab, c.n_embd);
    rope_freqs_ = b.opt_vec("rope_freqs.weight", c.rope_dims / 2);

    const int64_t dq = int64_t(c.n_head) * c.head_dim_k, dkv = int64_t(c.n_head_kv) * c.head_dim_k,
                  dvv = int64_t(c.n_head_kv) * c.head_dim_v, dov = int64_t(c.n_head) * c.head_dim_v;
    layers_.resize(size_t(c.n_layer));
    for (int64_t l = 0; l < c.n_layer; ++l) {
        LayerWeights& L = layers_[size_t(l)];
        const std::string p = "blk." + std::to_string(l) + ".";
        L.attn_norm = b.vec(p + "attn_norm.weight", c.n_embd);
        L.wq = b.mat(p + "attn_q.weight", dq, c.n_embd);
        L.wk = b.mat(p + "attn_k.weight", dkv, c.n_embd);
        L.wv = b.mat(p + "attn_v.weight", dvv, c.n_embd);
        L.wo = b.mat(p + "attn_output.weight", c.n_embd, dov);
        if (c.arch == Arch::Qwen2) {
            L.bq = b.vec(p + "attn_q.bias", dq);
            L.bk = b.vec(p + "attn_k.bias", dkv);
            L.bv = b.vec(p + "attn_v.bias", dvv);
        } else {
            // llama-family files may carry biases too (e.g. some fine-tunes); use them when present.
            L.bq = b.opt_vec(p + "attn_q.bias", dq);
            L.bk = b.opt_vec(p + "attn_k.bias", dkv);
            L.bv = b.opt_vec(p + "attn_v.bias", dvv);
        }
        if (c.arch == Arch::Qwen3 || c.arch == Arch::Gemma3) {
            L.q_norm = b.vec(p + "attn_q_norm.weight", c.head_dim_k);
            L.k_norm = b.vec(p + "attn_k_norm.weight", c.head_dim_k);
        }
        L.ffn_norm = b.vec(p + "ffn_norm.weight", c.n_embd);
        L.w_gate = b.mat(p + "ffn_gate.weight", c.n_ff, c.n_embd);
        L.w_up = b.mat(p + "ffn_up.weight", c.n_ff, c.n_embd);
        L.w_down = b.mat(p + "ffn_down.weight", c.n_embd, c.n_ff);
        if (c.arch == Arch::Gemma3) {
            L.post_attn_norm = b.vec(p + "post_attention_norm.weight", c.n_embd);
            L.post_ffn_norm = b.vec(p + "post_ffw_norm.weight", c.n_embd);
        }
    }
    if (opts.prefault) prefault(gguf_, opts.progress);
}

}  // namespace qlm
