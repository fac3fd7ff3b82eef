// The forward pass over a batch of tokens from many sequences, as blocks:
//   embed → per layer [attention block → FFN block (dense or mixture of
//   experts)] → output norm and projection of the rows that need logits.
// Attention block: h = norm(x); q,k,v = h·Wqᵀ,h·Wkᵀ,h·Wvᵀ (+bias) [per-head
//   q/k norm] → rope → KV cache → attention (per sequence) → ·Woᵀ [post-norm]
//   → x += ...
// FFN block: h = norm(x); act(h·W_gateᵀ) * h·W_upᵀ → ·W_downᵀ, or the same
//   per routed expert, combined with the routing weights (+ a shared expert)
//   [post-norm] → x += ...
// Every projection runs once over all T tokens of the step; each active expert
// runs once over all the tokens routed to it. Which optional step runs is
// decided by the weights the model bound (the architecture table), never by
// the architecture's name.
#include <algorithm>
#include <map>

#include "qlm/backend.h"
#include "qlm/error.h"
#include "qlm/model.h"

namespace qlm {

namespace {

// A growable array in the backend's memory (activations, scratch). Growing
// drops the old contents: every op writes its output before it is read.
template <typename T>
struct DevArray {
    BackendBuffer buf;
    size_t cap = 0;
    T* fit(ComputeBackend& be, int64_t n) {
        if (size_t(n) > cap) {
            buf = BackendBuffer();
            buf = be.alloc(size_t(n) * sizeof(T));
            cap = size_t(n);
        }
        return buf.as<T>();
    }
    T* data() const noexcept { return buf.as<T>(); }
};

}  // namespace

// Float activations live in the backend's memory; the step's integer
// metadata (positions, tokens, slots, rows, routing) stays on the host.
struct Forward::Scratch {
    DevArray<float> x, h, q, k, v, att, o, g, u;
    DevArray<float> router, eg, eu, ed;  // MoE: logits, per-slot gate/up/down rows
    DevArray<float> logits;              // a device backend's logits before the download
    std::vector<float> ew;               // MoE routing weights (host)
    std::vector<int32_t> eid;
    std::vector<int32_t> pos, tok, slots;  // per row: position, token, KV slot (block · block_size + offset)
    std::vector<int64_t> first;  // per sequence: its first row in the step
    std::vector<int64_t> out_rows;
    std::vector<AttnSeq> attn;
};

namespace {

// Projections of one input through several weights, quantizing the input once
// per activation type (Q, K and V, or gate and up, usually share one).
class Projector {
public:
    Projector(ComputeBackend& be, const float* x, int64_t m, int64_t k) : be_(be), x_(x), m_(m), k_(k) {}
    const BackendActivations& activations(GgmlType weight_type) {
        const GgmlType at = activation_type(weight_type);
        auto it = cache_.find(at);
        if (it == cache_.end()) it = cache_.emplace(at, be_.quantize_activations(x_, m_, k_, at)).first;
        return *it->second;
    }
    // Queues y = x · Wᵀ; run() does all queued products in one parallel run.
    void operator()(const WeightView& w, float* y) { jobs_.push_back({&activations(w.type), w, y}); }
    void run() {
        be_.matmul(jobs_);
        jobs_.clear();
    }

private:
    ComputeBackend& be_;
    const float* x_;
    int64_t m_, k_;
    std::map<GgmlType, std::unique_ptr<BackendActivations>> cache_;
    std::vector<BackendMatmulJob> jobs_;
};

void act_mul(ComputeBackend& be, FfnAct act, float* g, const float* u, int64_t n) {
    switch (act) {
        case FfnAct::Silu: be.silu_mul(g, u, n); break;
        case FfnAct::GeluTanh: be.gelu_tanh_mul(g, u, n); break;
        case FfnAct::SwigluOai: be.swiglu_oai_mul(g, u, n, 1.702f, 7.0f); break;
    }
}

}  // namespace

Forward::Forward(const Model& model, Context& ctx)
    : model_(model), ctx_(ctx), be_(ctx.backend()), s_(std::make_unique<Scratch>()) {}
Forward::~Forward() = default;

void Forward::run(KvCache& kv, std::span<const SeqStep> seqs, float* logits) {
    const ModelConfig& c = model_.config();
    Scratch& s = *s_;
    int64_t B = 0;
    s.first.clear(), s.out_rows.clear();
    for (size_t si = 0; si < seqs.size(); ++si) {
        const SeqStep& sq = seqs[si];
        if (sq.tokens.empty()) fail("forward: sequence ", si, " of the step has no tokens");
        if (!sq.blocks) fail("forward: sequence ", si, " has no block table");
        if (sq.pos < 0) fail("forward: sequence ", si, " starts at position ", sq.pos);
        s.first.push_back(B);
        for (size_t i = 0; i < sq.tokens.size(); ++i) {
            if (sq.tokens[i] < 0 || sq.tokens[i] >= c.n_vocab)
                fail("forward: token ", i, " of sequence ", si, " has id ", sq.tokens[i], ", outside the vocabulary of ",
                     c.n_vocab);
            if (int64_t(i) >= sq.logits_from) s.out_rows.push_back(B + int64_t(i));
        }
        B += int64_t(sq.tokens.size());
    }
    if (B == 0) fail("forward: empty step");
    s.pos.resize(size_t(B)), s.tok.resize(size_t(B)), s.slots.resize(size_t(B));
    const int64_t bs = kv.block_size();
    for (size_t si = 0; si < seqs.size(); ++si)
        for (size_t i = 0; i < seqs[si].tokens.size(); ++i) {
            const int64_t p = seqs[si].pos + int64_t(i);
            s.pos[size_t(s.first[si]) + i] = int32_t(p);
            s.tok[size_t(s.first[si]) + i] = seqs[si].tokens[i];
            s.slots[size_t(s.first[si]) + i] = int32_t(int64_t(seqs[si].blocks[p / bs]) * bs + p % bs);
        }

    embed(B);
    for (int64_t l = 0; l < c.n_layer; ++l) {
        attention_block(l, kv, seqs, B);
        ffn_block(l, B);
    }
    output(logits);
}

void Forward::embed(int64_t B) {
    const ModelConfig& c = model_.config();
    Scratch& s = *s_;
    const int64_t d = c.n_embd;
    float* x = s.x.fit(be_, B * d);
    be_.get_rows(model_.token_embd(), s.tok.data(), B, x, c.embd_scale);  // (n_vocab, n_embd) rows
}

void Forward::attention_block(int64_t l, KvCache& kv, std::span<const SeqStep> seqs, int64_t B) {
    const ModelConfig& c = model_.config();
    Scratch& s = *s_;
    const LayerWeights& L = model_.layer(l);
    const int64_t d = c.n_embd;
    const int64_t dq = int64_t(c.n_head) * c.head_dim_k, dkv = int64_t(c.n_head_kv) * c.head_dim_k,
                  dvv = int64_t(c.n_head_kv) * c.head_dim_v, dov = int64_t(c.n_head) * c.head_dim_v;
    float* x = s.x.data();
    float* h = s.h.fit(be_, B * d);
    float* q = s.q.fit(be_, B * dq);
    float* k = s.k.fit(be_, B * dkv);
    float* v = s.v.fit(be_, B * dvv);
    float* att = s.att.fit(be_, B * dov);
    float* o = s.o.fit(be_, B * d);
    const bool swa = c.layer_swa[size_t(l)];
    be_.rms_norm(x, L.attn_norm, h, B, d, c.norm_eps);
    {
        Projector proj(be_, h, B, d);
        proj(L.wq, q);  // (B, n_head·dk)
        proj(L.wk, k);  // (B, n_kv·dk)
        proj(L.wv, v);  // (B, n_kv·dv)
        proj.run();
    }
    if (L.bq) be_.add_bias(q, L.bq, B, dq);
    if (L.bk) be_.add_bias(k, L.bk, B, dkv);
    if (L.bv) be_.add_bias(v, L.bv, B, dvv);
    if (L.q_norm) be_.rms_norm(q, L.q_norm, q, B * c.n_head, c.head_dim_k, c.norm_eps);
    if (L.k_norm) be_.rms_norm(k, L.k_norm, k, B * c.n_head_kv, c.head_dim_k, c.norm_eps);
    RopeParams rp;
    rp.layout = c.rope_layout;
    rp.n_dims = c.rope_dims;
    rp.freq_base = swa ? c.rope_base_swa : c.rope_base;
    rp.freq_scale = swa ? c.rope_scale_swa : c.rope_scale;
    rp.freq_factors = swa ? nullptr : model_.rope_freqs(kv.n_blocks() * kv.block_size());
    rp.attn_factor = c.rope_attn_factor;
    rp.ext_factor = c.rope_ext_factor;
    rp.beta_fast = c.rope_beta_fast, rp.beta_slow = c.rope_beta_slow;
    rp.n_ctx_orig = c.rope_ctx_orig;
    be_.rope(q, B, c.n_head, c.head_dim_k, s.pos.data(), rp);
    be_.rope(k, B, c.n_head_kv, c.head_dim_k, s.pos.data(), rp);
    be_.scale(q, B * dq, c.q_scale);
    // each token's K and V rows into its sequence's blocks
    be_.kv_store(k, B, c.n_head_kv, c.head_dim_k, s.slots.data(), kv.k_layer(l));
    be_.kv_store(v, B, c.n_head_kv, c.head_dim_v, s.slots.data(), kv.v_layer(l));
    s.attn.clear();
    for (size_t si = 0; si < seqs.size(); ++si) {
        const SeqStep& sq = seqs[si];
        const int64_t n_pos = sq.pos + int64_t(sq.tokens.size());
        s.attn.push_back({q + s.first[si] * dq, att + s.first[si] * dov, int64_t(sq.tokens.size()),
                          s.pos.data() + s.first[si], kv.k_pages(l, sq.blocks, n_pos), kv.v_pages(l, sq.blocks, n_pos)});
    }
    AttentionShape as{c.n_head, c.n_head_kv, c.head_dim_k, c.head_dim_v, c.attn_scale, swa ? c.sliding_window : 0,
                      L.sinks};
    be_.attention(s.attn, as);    // (B, n_head·dv)
    be_.matmul(att, B, L.wo, o);  // (B, n_embd)
    if (L.bo) be_.add_bias(o, L.bo, B, d);
    if (L.post_attn_norm) be_.rms_norm(o, L.post_attn_norm, o, B, d, c.norm_eps);
    be_.scale(o, B * d, c.residual_scale);
    be_.add_inplace(x, o, B * d);
}

void Forward::dense_ffn(const DenseFfn& f, const float* h, int64_t B, float* out) {
    const ModelConfig& c = model_.config();
    Scratch& s = *s_;
    const int64_t n_ff = f.gate.n;
    float* g = s.g.fit(be_, B * n_ff);
    float* u = s.u.fit(be_, B * n_ff);
    {
        Projector proj(be_, h, B, c.n_embd);
        proj(f.gate, g);  // (B, n_ff)
        proj(f.up, u);    // (B, n_ff)
        proj.run();
    }
    act_mul(be_, c.act, g, u, B * n_ff);
    be_.matmul(g, B, f.down, out);  // (B, n_embd)
}

void Forward::moe_ffn(const MoeFfn& m, const float* h, int64_t B, float* out) {
    const ModelConfig& c = model_.config();
    Scratch& s = *s_;
    const int64_t d = c.n_embd, n_ff = m.gate.n, slots = B * c.n_expert_used;
    float* logits = s.router.fit(be_, B * c.n_expert);
    float* w = (s.ew.resize(size_t(slots)), s.ew.data());
    s.eid.resize(size_t(slots));
    float* eg = s.eg.fit(be_, slots * n_ff);
    float* eu = s.eu.fit(be_, slots * n_ff);
    float* ed = s.ed.fit(be_, slots * d);
    Projector proj(be_, h, B, d);
    proj(m.router, logits);  // (B, n_expert)
    proj.run();
    if (m.router_bias) be_.add_bias(logits, m.router_bias, B, c.n_expert);
    RouterParams rp;
    rp.gating = c.gating;
    rp.n_used = c.n_expert_used;
    rp.normalize = c.expert_weights_norm;
    rp.scale = c.expert_weights_scale;
    rp.selection_bias = m.selection_bias;
    be_.route_experts(logits, B, c.n_expert, rp, s.eid.data(), w);
    const ExpertRouting r{s.eid.data(), w, B, c.n_expert_used, c.n_expert};
    const BackendExpertJob gate_up[] = {{&proj.activations(m.gate.type), false, m.gate, eg},  // (slots, n_ff_exp)
                                        {&proj.activations(m.up.type), false, m.up, eu}};
    be_.matmul_experts(r, gate_up);
    if (m.gate_bias) be_.add_expert_bias(r, m.gate_bias, eg, n_ff);
    if (m.up_bias) be_.add_expert_bias(r, m.up_bias, eu, n_ff);
    act_mul(be_, c.act, eg, eu, slots * n_ff);
    const std::unique_ptr<BackendActivations> gq =
        be_.quantize_activations(eg, slots, n_ff, activation_type(m.down.type));
    const BackendExpertJob down[] = {{gq.get(), true, m.down, ed}};
    be_.matmul_experts(r, down);  // (slots, n_embd)
    if (m.down_bias) be_.add_expert_bias(r, m.down_bias, ed, d);
    be_.combine_experts(r, ed, d, out);
    if (m.has_shared) {
        float* sh = s.ed.fit(be_, B * d);  // the per-slot rows are combined already
        dense_ffn(m.shared, h, B, sh);
        be_.add_inplace(out, sh, B * d);
    }
}

void Forward::ffn_block(int64_t l, int64_t B) {
    const ModelConfig& c = model_.config();
    Scratch& s = *s_;
    const LayerWeights& L = model_.layer(l);
    const int64_t d = c.n_embd;
    float* x = s.x.data();
    float* h = s.h.fit(be_, B * d);
    float* o = s.o.fit(be_, B * d);
    be_.rms_norm(x, L.ffn_norm, h, B, d, c.norm_eps);
    if (const auto* dense = std::get_if<DenseFfn>(&L.ffn))
        dense_ffn(*dense, h, B, o);
    else
        moe_ffn(std::get<MoeFfn>(L.ffn), h, B, o);
    if (L.post_ffn_norm) be_.rms_norm(o, L.post_ffn_norm, o, B, d, c.norm_eps);
    be_.scale(o, B * d, c.residual_scale);
    be_.add_inplace(x, o, B * d);
}

void Forward::output(float* logits) {
    const ModelConfig& c = model_.config();
    Scratch& s = *s_;
    const int64_t rows = int64_t(s.out_rows.size()), d = c.n_embd;
    if (rows == 0) return;
    // Output norm and projection of the rows that need logits, gathered.
    float* o = s.o.fit(be_, rows * d);
    float* h = s.h.fit(be_, rows * d);
    be_.gather_rows(s.x.data(), s.out_rows.data(), rows, d, o);
    be_.rms_norm(o, model_.output_norm(), h, rows, d, c.norm_eps);
    // The logits go straight to the caller where the backend's memory is the host's.
    float* y = be_.host_memory() ? logits : s.logits.fit(be_, rows * c.n_vocab);
    be_.matmul(h, rows, model_.output(), y);  // (rows, n_vocab)
    be_.scale(y, rows * c.n_vocab, 1.0f / c.logit_scale);
    if (y != logits) be_.download(logits, y, size_t(rows * c.n_vocab) * sizeof(float));
}

}  // namespace qlm
