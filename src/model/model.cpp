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

    // keys: the metadata the expected shape comes from, named in the error.
    const GgufTensor& need(const std::string& name, std::vector<int64_t> shape, const std::string& keys = "") {
        const GgufTensor* t = g_.find_tensor(name);
        if (!t) fail(g_.path(), ": tensor '", name, "' is missing (needed by ", g_.get_string("general.architecture"), ")");
        if (t->shape != shape)
            fail(g_.path(), ": tensor '", name, "' has shape ", shape_str(t->shape), ", expected ", shape_str(shape),
                 keys.empty() ? "" : " (from " + keys + ")");
        bytes_ += t->size;
        return *t;
    }
    const float* vec(const std::string& name, int64_t n) {
        const GgufTensor& t = need(name, {n});
        if (t.type != GgmlType::F32)
            fail(g_.path(), ": tensor '", name, "' is ", type_name(t.type), ", expected F32");
        check_tensor_alignment(t);
        return reinterpret_cast<const float*>(t.data);
    }
    const float* opt_vec(const std::string& name, int64_t n) { return find(name) ? vec(name, n) : nullptr; }
    // An F32 matrix of n rows × k (GGUF shape [k, n]), read as floats.
    const float* mat_f32(const std::string& name, int64_t n, int64_t k) {
        const GgufTensor& t = need(name, {k, n});
        if (t.type != GgmlType::F32)
            fail(g_.path(), ": tensor '", name, "' is ", type_name(t.type), ", expected F32");
        check_tensor_alignment(t);
        return reinterpret_cast<const float*>(t.data);
    }
    // A matmul weight of n rows × k columns (GGUF shape [k, n]).
    WeightView mat(const std::string& name, int64_t n, int64_t k, const std::string& keys = "") {
        return weight_view(need(name, {k, n}, keys));
    }
    // n_expert matrices of n rows × k columns (GGUF shape [k, n, n_expert]).
    // A shape that disagrees with the MoE keys names them.
    ExpertsView experts(const std::string& name, int64_t n_expert, int64_t n, int64_t k, const std::string& keys) {
        return experts_view(need(name, {k, n, n_expert}, keys));
    }

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

namespace {

// Rows [r0, r0 + n) of a weight: a zero-copy view of part of a fused tensor.
WeightView row_range(WeightView w, int64_t r0, int64_t n, const std::string& what) {
    w.data += size_t(r0) * w.row_stride;
    w.n = n;
    w.name += " (" + what + ")";
    return w;
}

}  // namespace

void Model::bind(const LoadOptions& opts) {
    cfg_ = read_model_config(gguf_);
    ModelConfig& c = cfg_;
    const ArchInfo& ai = *c.info;
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
    if (ai.long_rope && !rope_freqs_) {
        // LongRoPE: the short factors below the original context, the long ones above.
        rope_freqs_ = b.opt_vec("rope_factors_short.weight", c.rope_dims / 2);
        rope_long_ = b.opt_vec("rope_factors_long.weight", c.rope_dims / 2);
    }

    const int64_t dq = int64_t(c.n_head) * c.head_dim_k, dkv = int64_t(c.n_head_kv) * c.head_dim_k,
                  dvv = int64_t(c.n_head_kv) * c.head_dim_v, dov = int64_t(c.n_head) * c.head_dim_v;
    auto bias = [&](Need need, const std::string& name, int64_t n) {
        return need == Need::Required ? b.vec(name, n) : need == Need::Optional ? b.opt_vec(name, n) : nullptr;
    };
    auto dense = [&](const std::string& p, const std::string& suffix, int64_t n_ff) {
        DenseFfn f;
        if (ai.fused_gate_up && !b.find(p + "ffn_gate" + suffix + ".weight")) {
            const WeightView gu = b.mat(p + "ffn_up" + suffix + ".weight", 2 * n_ff, c.n_embd);
            f.gate = row_range(gu, 0, n_ff, "gate rows");
            f.up = row_range(gu, n_ff, n_ff, "up rows");
        } else {
            f.gate = b.mat(p + "ffn_gate" + suffix + ".weight", n_ff, c.n_embd);
            f.up = b.mat(p + "ffn_up" + suffix + ".weight", n_ff, c.n_embd);
        }
        f.down = b.mat(p + "ffn_down" + suffix + ".weight", c.n_embd, n_ff);
        return f;
    };
    layers_.resize(size_t(c.n_layer));
    for (int64_t l = 0; l < c.n_layer; ++l) {
        LayerWeights& L = layers_[size_t(l)];
        const std::string p = "blk." + std::to_string(l) + ".";
        L.attn_norm = b.vec(p + "attn_norm.weight", c.n_embd);
        if (ai.fused_qkv && b.find(p + "attn_qkv.weight")) {
            const WeightView qkv = b.mat(p + "attn_qkv.weight", dq + dkv + dvv, c.n_embd);
            L.wq = row_range(qkv, 0, dq, "Q rows");
            L.wk = row_range(qkv, dq, dkv, "K rows");
            L.wv = row_range(qkv, dq + dkv, dvv, "V rows");
        } else {
            L.wq = b.mat(p + "attn_q.weight", dq, c.n_embd);
            L.wk = b.mat(p + "attn_k.weight", dkv, c.n_embd);
            L.wv = b.mat(p + "attn_v.weight", dvv, c.n_embd);
        }
        L.wo = b.mat(p + "attn_output.weight", c.n_embd, dov);
        L.bo = bias(ai.out_bias, p + "attn_output.bias", c.n_embd);
        if (ai.attn_sinks) L.sinks = b.vec(p + "attn_sinks.weight", c.n_head);
        L.bq = bias(ai.qkv_bias, p + "attn_q.bias", dq);
        L.bk = bias(ai.qkv_bias, p + "attn_k.bias", dkv);
        L.bv = bias(ai.qkv_bias, p + "attn_v.bias", dvv);
        L.q_norm = bias(ai.qk_norm, p + "attn_q_norm.weight", c.head_dim_k);
        L.k_norm = bias(ai.qk_norm, p + "attn_k_norm.weight", c.head_dim_k);
        if (!L.q_norm != !L.k_norm)
            fail(gguf_.path(), ": layer ", l, " has only one of attn_q_norm.weight and attn_k_norm.weight");
        L.ffn_norm = b.vec(p + ai.ffn_norm + ".weight", c.n_embd);
        if (!c.layer_moe(l)) {
            L.ffn = dense(p, "", c.n_ff);
        } else {
            MoeFfn m;
            const std::string keys = cat(c.arch_name, ".expert_count = ", c.n_expert, ", ", c.arch_name,
                                         ".expert_feed_forward_length = ", c.n_ff_exp);
            m.router = b.mat(p + "ffn_gate_inp.weight", c.n_expert, c.n_embd, keys);
            if (ai.selection_bias) m.selection_bias = b.vec(p + "exp_probs_b.bias", c.n_expert);
            if (ai.moe_biases) {
                m.router_bias = b.vec(p + "ffn_gate_inp.bias", c.n_expert);
                m.gate_bias = b.mat_f32(p + "ffn_gate_exps.bias", c.n_expert, c.n_ff_exp);
                m.up_bias = b.mat_f32(p + "ffn_up_exps.bias", c.n_expert, c.n_ff_exp);
                m.down_bias = b.mat_f32(p + "ffn_down_exps.bias", c.n_expert, c.n_embd);
            }
            m.gate = b.experts(p + "ffn_gate_exps.weight", c.n_expert, c.n_ff_exp, c.n_embd, keys);
            m.up = b.experts(p + "ffn_up_exps.weight", c.n_expert, c.n_ff_exp, c.n_embd, keys);
            m.down = b.experts(p + "ffn_down_exps.weight", c.n_expert, c.n_embd, c.n_ff_exp, keys);
            if (c.n_expert_shared > 0) {
                m.has_shared = true;
                m.shared = dense(p, "_shexp", c.n_ff_shexp);
            } else if (b.find(p + "ffn_gate_shexp.weight")) {
                fail(gguf_.path(), ": tensor '", p, "ffn_gate_shexp.weight' is present but ", c.arch_name,
                     ".expert_shared_count is ", c.n_expert_shared);
            }
            L.ffn = std::move(m);
        }
        if (ai.post_norms) {
            L.post_attn_norm = b.vec(p + "post_attention_norm.weight", c.n_embd);
            L.post_ffn_norm = b.vec(p + "post_ffw_norm.weight", c.n_embd);
        }
    }
    // Layers past n_layer (glm4moe's next-token-prediction layers) are not run.
    if (opts.prefault) prefault(gguf_, opts.progress);
}

}  // namespace qlm
