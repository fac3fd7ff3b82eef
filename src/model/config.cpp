// Hyper-parameters from GGUF metadata, with the defaults llama.cpp applies for
// each architecture where a key is optional. What an architecture has comes
// from its row of the table (arch.cpp); nothing here names an architecture.
#include <cmath>

#include "qlm/error.h"
#include "qlm/model.h"

namespace qlm {

namespace {

int64_t positive(const GgufReader& g, const std::string& key, int64_t v, int64_t max = int64_t(1) << 40) {
    if (v <= 0 || v > max) fail(g.path(), ": metadata '", key, "' = ", v, " is out of range (1..", max, ")");
    return v;
}

// RoPE base, scaling and LongRoPE's original context and attention factor.
void read_rope(const GgufReader& g, const std::string& a, ModelConfig& c) {
    c.rope_dims = int(g.find(a + "rope.dimension_count")
                          ? positive(g, a + "rope.dimension_count", int64_t(g.get_u64(a + "rope.dimension_count")))
                          : c.head_dim_k);
    if (c.rope_dims > c.head_dim_k || c.rope_dims % 2)
        fail(g.path(), ": ", a, "rope.dimension_count = ", c.rope_dims, " must be even and at most the head size ",
             c.head_dim_k);
    c.rope_base = float(g.get_f64_or(a + "rope.freq_base", 10000.0));
    if (!(c.rope_base > 1)) fail(g.path(), ": ", a, "rope.freq_base = ", c.rope_base, " is out of range");
    c.rope_ctx_orig = int64_t(g.get_u64_or(a + "rope.scaling.original_context_length", uint64_t(c.n_ctx_train)));
    const std::string scaling = g.get_string_or(a + "rope.scaling.type", "none");
    const GgufValue* factor = g.find(a + "rope.scaling.factor");
    if (scaling == "linear") {
        const double f = g.get_f64(a + "rope.scaling.factor");
        if (!(f >= 1 && f < 1e6)) fail(g.path(), ": ", a, "rope.scaling.factor = ", f, " is out of range");
        c.rope_scale = float(1.0 / f);
    } else if (scaling == "yarn") {
        const double f = g.get_f64(a + "rope.scaling.factor");
        if (!(f >= 1 && f < 1e6)) fail(g.path(), ": ", a, "rope.scaling.factor = ", f, " is out of range");
        c.rope_scale = float(1.0 / f);
        // ext factor 1, beta 32 / 1: llama.cpp reads no yarn_* keys for these architectures.
        c.rope_ext_factor = 1.0f;
    } else if (scaling == "longrope" && c.info->long_rope) {
        // The factors are tensors (rope_factors_long/short); no frequency scale.
    } else if (scaling != "none") {
        fail(g.path(), ": ", a, "rope.scaling.type '", scaling, "' is not supported for ", c.arch_name,
             " (none, linear", c.info->long_rope ? ", longrope" : "", ")");
    } else if (factor && factor->to_f64() != 1.0 && factor->to_f64() != 0.0) {
        fail(g.path(), ": ", a, "rope.scaling.factor is ", factor->to_f64(), " but ", a, "rope.scaling.type is missing");
    }
    if (const GgufValue* af = g.find(a + "rope.scaling.attn_factor")) {
        const double f = af->to_f64();
        if (!(f > 0 && f < 100)) fail(g.path(), ": ", a, "rope.scaling.attn_factor = ", f, " is out of range");
        c.rope_attn_factor = float(f);
    }
    if (c.rope_ext_factor != 0.0f) {
        // YaRN's magnitude: llama.cpp sets 0.1·ln(s) + 1 and divides the same
        // back out, since the rope kernel multiplies it in again (float ops as there).
        const float s = 1.0f / c.rope_scale;
        float yarn = s <= 1.0f ? 1.0f : 0.1f * std::log(s) + 1.0f;
        yarn *= 1.0f / (1.0f + 0.1f * std::log(s));
        c.rope_attn_factor = yarn * c.rope_attn_factor;
    }
}

// Which layers use the sliding window, and their RoPE.
void read_swa(const GgufReader& g, const std::string& a, ModelConfig& c) {
    c.layer_swa.assign(size_t(c.n_layer), false);
    if (c.info->swa == SwaRule::None) return;
    c.sliding_window = int(g.get_u64_or(a + "attention.sliding_window", 0));
    if (c.sliding_window < 0 || c.sliding_window > (1 << 24))
        fail(g.path(), ": ", a, "attention.sliding_window = ", c.sliding_window, " is out of range");
    // Local layers: their own rope base (10000, or the global one, unless the
    // file says) and no scaling unless they keep the global RoPE.
    c.rope_base_swa = float(g.get_f64_or(a + "rope.freq_base_swa", c.info->swa_rope_global ? c.rope_base : 10000.0));
    c.rope_scale_swa = c.info->swa_rope_global ? c.rope_scale : 1.0f;
    if (c.sliding_window == 0) return;
    // The pattern may be given per layer (an array of bools) or as a period.
    const GgufValue* pat = g.find(a + "attention.sliding_window_pattern");
    if (pat && pat->type == GgufValueType::ARRAY) {
        if (int64_t(pat->items.size()) != c.n_layer)
            fail(g.path(), ": ", a, "attention.sliding_window_pattern has ", pat->items.size(), " entries for ",
                 c.n_layer, " layers");
        for (int64_t l = 0; l < c.n_layer; ++l) c.layer_swa[size_t(l)] = pat->items[size_t(l)].to_bool();
        return;
    }
    const int64_t period =
        pat ? positive(g, a + "attention.sliding_window_pattern", int64_t(pat->to_u64()), 1 << 20) : c.info->swa_period;
    for (int64_t l = 0; l < c.n_layer; ++l) c.layer_swa[size_t(l)] = l % period < period - 1;
}

// Mixture-of-experts keys, checked against each other (the tensors are
// checked against them when they are bound).
void read_moe(const GgufReader& g, const std::string& a, ModelConfig& c) {
    const ArchInfo& ai = *c.info;
    const GgufValue* count = g.find(a + "expert_count");
    const int64_t n_expert = count ? int64_t(count->to_u64()) : 0;
    if (ai.moe == Need::No) {
        if (n_expert > 1) fail(g.path(), ": ", a, "expert_count = ", n_expert, ", but ", c.arch_name, " has no experts");
        return;
    }
    if (n_expert <= 1) {  // llama.cpp treats a single expert as a dense model
        if (ai.moe == Need::Required)
            fail(g.path(), ": ", a, "expert_count is ", count ? std::to_string(n_expert) : std::string("missing"),
                 "; ", c.arch_name, " needs at least 2 experts");
        return;
    }
    if (n_expert > 4096) fail(g.path(), ": ", a, "expert_count = ", n_expert, " is out of range (2..4096)");
    c.n_expert = int(n_expert);
    c.n_expert_used = int(positive(g, a + "expert_used_count", int64_t(g.get_u64(a + "expert_used_count")), 4096));
    if (c.n_expert_used > c.n_expert)
        fail(g.path(), ": ", a, "expert_used_count = ", c.n_expert_used, " exceeds ", a, "expert_count = ", c.n_expert);
    c.n_ff_exp = g.find(a + "expert_feed_forward_length")
                     ? positive(g, a + "expert_feed_forward_length", int64_t(g.get_u64(a + "expert_feed_forward_length")))
                     : c.n_ff / c.n_expert_used;
    if (c.n_ff_exp <= 0) fail(g.path(), ": ", a, "expert_feed_forward_length is missing and ", a, "feed_forward_length / ",
                              a, "expert_used_count is 0");
    if (ai.shared_expert != Need::No) {
        c.n_expert_shared = int(g.get_u64_or(a + "expert_shared_count", 0));
        if (c.n_expert_shared < 0 || c.n_expert_shared > 64)
            fail(g.path(), ": ", a, "expert_shared_count = ", c.n_expert_shared, " is out of range (0..64)");
        c.n_ff_shexp = int64_t(g.get_u64_or(a + "expert_shared_feed_forward_length", uint64_t(c.n_ff_exp * c.n_expert_shared)));
        if (c.n_expert_shared > 0 && c.n_ff_shexp <= 0)
            fail(g.path(), ": ", a, "expert_shared_feed_forward_length = ", c.n_ff_shexp, " is out of range");
    }
    if (ai.leading_dense) {
        c.n_layer_dense_lead = int(g.get_u64_or(a + "leading_dense_block_count", 0));
        if (c.n_layer_dense_lead < 0 || c.n_layer_dense_lead > c.n_layer)
            fail(g.path(), ": ", a, "leading_dense_block_count = ", c.n_layer_dense_lead, " exceeds the ", c.n_layer,
                 " layers");
    }
    c.gating = ai.gating;
    c.expert_weights_norm = ai.weights_norm;
    c.expert_weights_scale = 1.0f;
    if (!ai.moe_keys) return;
    if (const GgufValue* f = g.find(a + "expert_gating_func")) {
        switch (f->to_u64()) {
            case 0: break;  // none: the architecture's default
            case 1: c.gating = RouterGating::Softmax; break;
            case 2: c.gating = RouterGating::Sigmoid; break;
            case 3: c.gating = RouterGating::SoftmaxSelected; break;
            default:
                fail(g.path(), ": ", a, "expert_gating_func = ", f->to_u64(),
                     " is not supported (1 softmax, 2 sigmoid, 3 softmax over the selected)");
        }
    }
    c.expert_weights_norm = g.get_bool_or(a + "expert_weights_norm", ai.weights_norm);
    const double scale = g.get_f64_or(a + "expert_weights_scale", 0.0);
    if (!(scale >= 0 && scale < 1e6)) fail(g.path(), ": ", a, "expert_weights_scale = ", scale, " is out of range");
    c.expert_weights_scale = scale == 0.0 ? 1.0f : float(scale);
}

}  // namespace

ModelConfig read_model_config(const GgufReader& g) {
    ModelConfig c;
    c.arch_name = g.get_string("general.architecture");
    for (const ArchInfo& r : arch_table())
        if (c.arch_name == r.name) c.info = &r;
    if (!c.info)
        fail(g.path(), ": architecture '", c.arch_name, "' is not supported (supported: ", supported_archs(), ")");
    const ArchInfo& ai = *c.info;
    c.arch = ai.arch;
    c.act = ai.act;
    c.rope_layout = ai.rope;

    const std::string a = c.arch_name + ".";
    auto u = [&](const std::string& key) { return positive(g, a + key, int64_t(g.get_u64(a + key))); };
    auto u_or = [&](const std::string& key, int64_t fallback) {
        return g.find(a + key) ? positive(g, a + key, int64_t(g.get_u64(a + key))) : fallback;
    };
    c.n_ctx_train = u("context_length");
    c.n_embd = u("embedding_length");
    c.n_layer_file = positive(g, a + "block_count", int64_t(g.get_u64(a + "block_count")), 4096);
    c.n_layer = c.n_layer_file;
    if (ai.nextn) {
        const int64_t nextn = int64_t(g.get_u64_or(a + "nextn_predict_layers", 0));
        if (nextn < 0 || nextn >= c.n_layer_file)
            fail(g.path(), ": ", a, "nextn_predict_layers = ", nextn, " leaves no layer of the ", c.n_layer_file);
        c.n_layer = c.n_layer_file - nextn;
    }
    c.n_ff = u("feed_forward_length");
    c.n_head = int(positive(g, a + "attention.head_count", int64_t(g.get_u64(a + "attention.head_count")), 4096));
    c.n_head_kv = int(u_or("attention.head_count_kv", c.n_head));
    if (c.n_head % c.n_head_kv != 0)
        fail(g.path(), ": ", c.n_head, " attention heads cannot be grouped over ", c.n_head_kv, " kv heads (",
             a, "attention.head_count_kv)");
    if (c.n_embd % c.n_head != 0 && !g.find(a + "attention.key_length"))
        fail(g.path(), ": embedding length ", c.n_embd, " is not a multiple of ", c.n_head,
             " heads and ", a, "attention.key_length is missing");
    c.head_dim_k = int(u_or("attention.key_length", c.n_embd / c.n_head));
    c.head_dim_v = int(u_or("attention.value_length", c.head_dim_k));
    if (c.head_dim_k > 4096 || c.head_dim_v > 4096)
        fail(g.path(), ": head size ", c.head_dim_k, "/", c.head_dim_v, " is out of range");
    const double eps = g.get_f64(a + "attention.layer_norm_rms_epsilon");
    if (!(eps > 0 && eps < 1)) fail(g.path(), ": metadata '", a, "attention.layer_norm_rms_epsilon' = ", eps, " is out of range");
    c.norm_eps = float(eps);
    read_rope(g, a, c);

    switch (ai.attn_scale) {
        case AttnScaleRule::HeadDim: c.attn_scale = float(1.0 / std::sqrt(double(c.head_dim_k))); break;
        case AttnScaleRule::Gemma3:
            // 27B (62 layers) scales queries by 1/sqrt(n_embd / n_head), the others by 1/sqrt(head size).
            c.attn_scale = float(1.0 / std::sqrt(double(c.n_layer == 62 ? c.n_embd / c.n_head : c.head_dim_k)));
            break;
        case AttnScaleRule::QueryPreScaled:
            c.q_scale = 1.0f / std::sqrt(float(c.head_dim_k));
            c.attn_scale = 1.0f;
            break;
        case AttnScaleRule::Key: {
            const double s = g.get_f64_or(a + "attention.scale", 0.0);
            if (!(s >= 0 && s < 1e6)) fail(g.path(), ": ", a, "attention.scale = ", s, " is out of range");
            c.attn_scale = s == 0.0 ? float(1.0 / std::sqrt(double(c.head_dim_k))) : float(s);
            break;
        }
    }
    if (ai.embd_scale_sqrt) c.embd_scale = std::sqrt(float(c.n_embd));
    if (ai.granite_scales) {
        auto scalar = [&](const char* key, double fallback, bool required) {
            const double v = required ? g.get_f64(a + key) : g.get_f64_or(a + key, fallback);
            if (!(v > 0 && v < 1e6)) fail(g.path(), ": ", a, key, " = ", v, " is out of range");
            return float(v);
        };
        c.embd_scale = scalar("embedding_scale", 1.0, false);
        c.residual_scale = scalar("residual_scale", 1.0, false);
        c.logit_scale = scalar("logit_scale", 1.0, true);
    }
    read_swa(g, a, c);
    read_moe(g, a, c);
    return c;
}

}  // namespace qlm
