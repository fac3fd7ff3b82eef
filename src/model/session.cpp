// The forward pass of one sequence: embeddings, then per layer
//   h = norm(x); q,k,v = h·Wqᵀ,h·Wkᵀ,h·Wvᵀ (+bias) [per-head q/k norm] → rope →
//   KV cache → attention → ·Woᵀ [post-norm] → x += ...;
//   h = norm(x); act(h·W_gateᵀ) * h·W_upᵀ → ·W_downᵀ [post-norm] → x += ...
// and the output norm and projection. Prefill runs chunks of up to n_batch
// tokens through the batched matmul; decode is the same code with one token.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "formats/common.h"
#include "qlm/error.h"
#include "qlm/model.h"

namespace qlm {

struct Session::Scratch {
    std::vector<float> x, h, q, k, v, att, o, g, u, last;
    std::vector<int32_t> pos;
};

namespace {

size_t kv_elem(GgmlType t) { return type_info(t).type_size; }

// Projections of one input through several weights, quantizing the input once
// per activation type (Q, K and V, or gate and up, usually share one).
class Projector {
public:
    Projector(Context& ctx, const float* x, int64_t m, int64_t k) : ctx_(ctx), x_(x), m_(m), k_(k) {}
    // Queues y = x · Wᵀ; run() does all queued products in one parallel run.
    void operator()(const WeightView& w, float* y) {
        const GgmlType at = activation_type(w.type);
        auto it = cache_.find(at);
        if (it == cache_.end()) it = cache_.emplace(at, quantize_activations(ctx_, x_, m_, k_, at)).first;
        jobs_.push_back({&it->second, w, y});
    }
    void run() {
        matmul(ctx_, jobs_);
        jobs_.clear();
    }

private:
    Context& ctx_;
    const float* x_;
    int64_t m_, k_;
    std::map<GgmlType, QuantizedActivations> cache_;  // node-based: the jobs' pointers stay valid
    std::vector<MatmulJob> jobs_;
};

}  // namespace

Session::Session(const Model& model, Context& ctx, const SessionOptions& opts)
    : model_(model), ctx_(ctx), opts_(opts), s_(std::make_unique<Scratch>()) {
    const ModelConfig& c = model.config();
    if (opts.kv_type != GgmlType::F16 && opts.kv_type != GgmlType::F32)
        fail("session: KV cache type ", type_name(opts.kv_type), " is not supported (F16 or F32)");
    if (opts.n_ctx <= 0) fail("session: context size must be positive, got ", opts.n_ctx);
    if (opts.n_batch <= 0) fail("session: batch size must be positive, got ", opts.n_batch);
    n_ctx_ = std::min(opts.n_ctx, c.n_ctx_train);
    const size_t per_layer_k = size_t(n_ctx_) * size_t(c.n_head_kv) * size_t(c.head_dim_k) * kv_elem(opts.kv_type);
    const size_t per_layer_v = size_t(n_ctx_) * size_t(c.n_head_kv) * size_t(c.head_dim_v) * kv_elem(opts.kv_type);
    k_cache_.assign(size_t(c.n_layer), std::vector<uint8_t>(per_layer_k));
    v_cache_.assign(size_t(c.n_layer), std::vector<uint8_t>(per_layer_v));
}

Session::~Session() = default;

uint64_t Session::kv_bytes() const noexcept {
    uint64_t b = 0;
    for (size_t l = 0; l < k_cache_.size(); ++l) b += k_cache_[l].size() + v_cache_[l].size();
    return b;
}

void Session::eval(std::span<const int32_t> tokens, float* logits, bool all_logits) {
    const int64_t n = int64_t(tokens.size());
    if (n == 0) fail("session: eval of an empty token list");
    if (pos_ + n > n_ctx_)
        fail("session: context is full: ", pos_, " + ", n, " tokens exceed the context size ", n_ctx_);
    const int64_t n_vocab = model_.config().n_vocab;
    for (int64_t i = 0; i < n; ++i)
        if (tokens[size_t(i)] < 0 || tokens[size_t(i)] >= n_vocab)
            fail("session: token ", i, " has id ", tokens[size_t(i)], ", outside the vocabulary of ", n_vocab);
    for (int64_t i0 = 0; i0 < n; i0 += opts_.n_batch) {
        const int64_t b = std::min(opts_.n_batch, n - i0);
        const bool last = i0 + b == n;
        float* out = all_logits ? logits + i0 * n_vocab : (last ? logits : nullptr);
        forward_chunk(tokens.subspan(size_t(i0), size_t(b)), out, all_logits);
    }
}

void Session::forward_chunk(std::span<const int32_t> tokens, float* logits, bool all_logits) {
    const ModelConfig& c = model_.config();
    Scratch& s = *s_;
    const int64_t B = int64_t(tokens.size()), d = c.n_embd;
    const int64_t dq = int64_t(c.n_head) * c.head_dim_k, dkv = int64_t(c.n_head_kv) * c.head_dim_k,
                  dvv = int64_t(c.n_head_kv) * c.head_dim_v, dov = int64_t(c.n_head) * c.head_dim_v;
    auto fit = [](std::vector<float>& v, int64_t n) { v.resize(size_t(n)); return v.data(); };
    float* x = fit(s.x, B * d);
    float* h = fit(s.h, B * d);
    float* q = fit(s.q, B * dq);
    float* k = fit(s.k, B * dkv);
    float* v = fit(s.v, B * dvv);
    float* att = fit(s.att, B * dov);
    float* o = fit(s.o, B * d);
    float* g = fit(s.g, B * c.n_ff);
    float* u = fit(s.u, B * c.n_ff);
    s.pos.resize(size_t(B));
    for (int64_t i = 0; i < B; ++i) s.pos[size_t(i)] = int32_t(pos_ + i);

    // (n_vocab, n_embd) embedding rows, dequantized one row per token.
    const WeightView& E = model_.token_embd();
    for (int64_t i = 0; i < B; ++i) {
        dequantize_row(E.type, E.data + size_t(tokens[size_t(i)]) * E.row_stride, x + i * d, d);
        if (c.embd_scale != 1.0f)
            for (int64_t j = 0; j < d; ++j) x[i * d + j] *= c.embd_scale;
    }

    const size_t es = kv_elem(opts_.kv_type);
    for (int64_t l = 0; l < c.n_layer; ++l) {
        const LayerWeights& L = model_.layer(l);
        const bool swa = c.layer_swa[size_t(l)];
        rms_norm(ctx_, x, L.attn_norm, h, B, d, c.norm_eps);
        {
            Projector proj(ctx_, h, B, d);
            proj(L.wq, q);  // (B, n_head·dk)
            proj(L.wk, k);  // (B, n_kv·dk)
            proj(L.wv, v);  // (B, n_kv·dv)
            proj.run();
        }
        if (L.bq) add_bias(q, L.bq, B, dq);
        if (L.bk) add_bias(k, L.bk, B, dkv);
        if (L.bv) add_bias(v, L.bv, B, dvv);
        if (L.q_norm) rms_norm(ctx_, q, L.q_norm, q, B * c.n_head, c.head_dim_k, c.norm_eps);
        if (L.k_norm) rms_norm(ctx_, k, L.k_norm, k, B * c.n_head_kv, c.head_dim_k, c.norm_eps);
        RopeParams rp;
        rp.layout = c.rope_layout;
        rp.n_dims = c.rope_dims;
        rp.freq_base = swa ? c.rope_base_swa : c.rope_base;
        rp.freq_scale = swa ? c.rope_scale_swa : c.rope_scale;
        rp.freq_factors = swa ? nullptr : model_.rope_freqs();
        rope(ctx_, q, B, c.n_head, c.head_dim_k, s.pos.data(), rp);
        rope(ctx_, k, B, c.n_head_kv, c.head_dim_k, s.pos.data(), rp);

        // Cache layout per layer: [kv head][position][dim].
        KvView kv_k{opts_.kv_type, k_cache_[size_t(l)].data(), size_t(c.head_dim_k) * es,
                    size_t(n_ctx_) * size_t(c.head_dim_k) * es, pos_ + B};
        KvView kv_v{opts_.kv_type, v_cache_[size_t(l)].data(), size_t(c.head_dim_v) * es,
                    size_t(n_ctx_) * size_t(c.head_dim_v) * es, pos_ + B};
        auto store = [&](const KvView& kv, const float* src, int dim) {
            for (int64_t i = 0; i < B; ++i)
                for (int hh = 0; hh < c.n_head_kv; ++hh) {
                    uint8_t* dst = const_cast<uint8_t*>(kv.data) + size_t(hh) * kv.head_stride +
                                   size_t(pos_ + i) * kv.pos_stride;
                    const float* row = src + i * int64_t(c.n_head_kv) * dim + int64_t(hh) * dim;
                    if (opts_.kv_type == GgmlType::F32) {
                        std::memcpy(dst, row, size_t(dim) * 4);
                    } else {
                        to_f16(ctx_, row, reinterpret_cast<uint16_t*>(dst), dim);  // rows are 2-byte aligned
                    }
                }
        };
        store(kv_k, k, c.head_dim_k);
        store(kv_v, v, c.head_dim_v);
        AttentionShape as{c.n_head, c.n_head_kv, c.head_dim_k, c.head_dim_v, c.attn_scale,
                          swa ? c.sliding_window : 0};
        attention(ctx_, q, B, s.pos.data(), kv_k, kv_v, as, att);  // (B, n_head·dv)
        matmul(ctx_, att, B, L.wo, o);                             // (B, n_embd)
        if (L.post_attn_norm) rms_norm(ctx_, o, L.post_attn_norm, o, B, d, c.norm_eps);
        add_inplace(x, o, B * d);

        rms_norm(ctx_, x, L.ffn_norm, h, B, d, c.norm_eps);
        {
            Projector proj(ctx_, h, B, d);
            proj(L.w_gate, g);  // (B, n_ff)
            proj(L.w_up, u);    // (B, n_ff)
            proj.run();
        }
        if (c.arch == Arch::Gemma3)
            gelu_tanh_mul(ctx_, g, u, B * c.n_ff);
        else
            silu_mul(ctx_, g, u, B * c.n_ff);
        matmul(ctx_, g, B, L.w_down, o);  // (B, n_embd)
        if (L.post_ffn_norm) rms_norm(ctx_, o, L.post_ffn_norm, o, B, d, c.norm_eps);
        add_inplace(x, o, B * d);
    }
    pos_ += B;
    if (!logits) return;
    // Output norm and projection: every row, or the last one only.
    const int64_t first = all_logits ? 0 : B - 1, rows = B - first;
    rms_norm(ctx_, x + first * d, model_.output_norm(), h, rows, d, c.norm_eps);
    matmul(ctx_, h, rows, model_.output(), logits);  // (rows, n_vocab)
}

}  // namespace qlm
