// Hyper-parameters from GGUF metadata, with the defaults llama.cpp applies for
// each architecture where a key is optional.
#include <cmath>

#include "qlm/error.h"
#include "qlm/model.h"

namespace qlm {

const char* arch_name(Arch a) noexcept {
    switch (a) {
        case Arch::Llama: return "llama";
        case Arch::Qwen2: return "qwen2";
        case Arch::Qwen3: return "qwen3";
        case Arch::Gemma3: return "gemma3";
    }
    return "?";
}

std::string supported_archs() { return "llama, qwen2, qwen3, gemma3"; }

namespace {

int64_t positive(const GgufReader& g, const std::string& key, int64_t v, int64_t max = int64_t(1) << 40) {
    if (v <= 0 || v > max) fail(g.path(), ": metadata '", key, "' = ", v, " is out of range (1..", max, ")");
    return v;
}

}  // namespace

ModelConfig read_model_config(const GgufReader& g) {
    ModelConfig c;
    c.arch_name = g.get_string("general.architecture");
    if (c.arch_name == "llama") c.arch = Arch::Llama;
    else if (c.arch_name == "qwen2") c.arch = Arch::Qwen2;
    else if (c.arch_name == "qwen3") c.arch = Arch::Qwen3;
    else if (c.arch_name == "gemma3") c.arch = Arch::Gemma3;
    else fail(g.path(), ": architecture '", c.arch_name, "' is not supported (supported: ", supported_archs(), ")");

    const std::string a = c.arch_name + ".";
    auto u = [&](const std::string& key) { return positive(g, a + key, int64_t(g.get_u64(a + key))); };
    auto u_or = [&](const std::string& key, int64_t fallback) {
        return g.find(a + key) ? positive(g, a + key, int64_t(g.get_u64(a + key))) : fallback;
    };
    c.n_ctx_train = u("context_length");
    c.n_embd = u("embedding_length");
    c.n_layer = positive(g, a + "block_count", int64_t(g.get_u64(a + "block_count")), 4096);
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

    c.rope_layout = c.arch == Arch::Llama ? RopeLayout::Normal : RopeLayout::Neox;
    c.rope_dims = int(u_or("rope.dimension_count", c.head_dim_k));
    if (c.rope_dims > c.head_dim_k || c.rope_dims % 2)
        fail(g.path(), ": ", a, "rope.dimension_count = ", c.rope_dims, " must be even and at most the head size ",
             c.head_dim_k);
    c.rope_base = float(g.get_f64_or(a + "rope.freq_base", 10000.0));
    if (!(c.rope_base > 1)) fail(g.path(), ": ", a, "rope.freq_base = ", c.rope_base, " is out of range");
    const std::string scaling = g.get_string_or(a + "rope.scaling.type", "none");
    if (scaling == "linear") {
        const double f = g.get_f64(a + "rope.scaling.factor");
        if (!(f >= 1 && f < 1e6)) fail(g.path(), ": ", a, "rope.scaling.factor = ", f, " is out of range");
        c.rope_scale = float(1.0 / f);
    } else if (scaling != "none") {
        fail(g.path(), ": ", a, "rope.scaling.type '", scaling, "' is not supported (none, linear)");
    } else if (const GgufValue* f = g.find(a + "rope.scaling.factor"); f && f->to_f64() != 1.0 && f->to_f64() != 0.0) {
        fail(g.path(), ": ", a, "rope.scaling.factor is ", f->to_f64(), " but ", a, "rope.scaling.type is missing");
    }

    c.attn_scale = float(1.0 / std::sqrt(double(c.head_dim_k)));
    c.layer_swa.assign(size_t(c.n_layer), false);
    if (c.arch == Arch::Gemma3) {
        c.embd_scale = std::sqrt(float(c.n_embd));
        c.sliding_window = int(u_or("attention.sliding_window", 0));
        // Local layers: their own rope base (10000 unless the file says) and no
        // scaling; by default every 6th layer is global. The pattern may also
        // be given per layer (an array of bools) or as a period.
        c.rope_base_swa = float(g.get_f64_or(a + "rope.freq_base_swa", 10000.0));
        c.rope_scale_swa = 1.0f;
        if (c.sliding_window > 0) {
            const GgufValue* pat = g.find(a + "attention.sliding_window_pattern");
            if (pat && pat->type == GgufValueType::ARRAY) {
                if (int64_t(pat->items.size()) != c.n_layer)
                    fail(g.path(), ": ", a, "attention.sliding_window_pattern has ", pat->items.size(),
                         " entries for ", c.n_layer, " layers");
                for (int64_t l = 0; l < c.n_layer; ++l) c.layer_swa[size_t(l)] = pat->items[size_t(l)].to_bool();
            } else {
                const int64_t period = u_or("attention.sliding_window_pattern", 6);
                for (int64_t l = 0; l < c.n_layer; ++l) c.layer_swa[size_t(l)] = l % period < period - 1;
            }
        }
        // 27B scales queries by 1/sqrt(n_embd / n_head); the others by 1/sqrt(head size).
        if (c.n_layer == 62) c.attn_scale = float(1.0 / std::sqrt(double(c.n_embd / c.n_head)));
    }
    return c;
}

}  // namespace qlm
