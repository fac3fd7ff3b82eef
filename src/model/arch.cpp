// The architecture table: one row per supported `general.architecture`.
// What differs between dense decoders is data here, not branches in the
// loader or the forward pass (test_model_load checks every row).
#include <array>

#include "qlm/model.h"

namespace qlm {

namespace {

using enum Need;
constexpr ArchInfo row(Arch a, const char* name) {
    ArchInfo r{};
    r.arch = a, r.name = name;
    r.rope = RopeLayout::Neox, r.act = FfnAct::Silu;
    r.qkv_bias = Optional, r.qk_norm = No, r.out_bias = No;
    r.swa = SwaRule::None, r.swa_period = 0;
    r.attn_scale = AttnScaleRule::HeadDim;
    r.ffn_norm = "ffn_norm";
    r.moe = No, r.gating = RouterGating::Softmax, r.weights_norm = false;
    r.shared_expert = No;
    return r;
}

constexpr std::array kArchs = [] {
    std::array<ArchInfo, 9> t{};
    // llama: adjacent-pair RoPE; with expert tensors it is Mixtral (softmax
    // gating, the top-k weights renormalised).
    t[0] = row(Arch::Llama, "llama");
    t[0].rope = RopeLayout::Normal;
    t[0].moe = Optional, t[0].weights_norm = true;
    // qwen2: Q/K/V biases always.
    t[1] = row(Arch::Qwen2, "qwen2");
    t[1].qkv_bias = Required;
    // qwen3: per-head Q/K RMS norms, no biases.
    t[2] = row(Arch::Qwen3, "qwen3");
    t[2].qkv_bias = No, t[2].qk_norm = Required;
    // gemma3: GELU-tanh, post-norms, embeddings scaled by sqrt(n_embd), 5 of
    // every 6 layers local (sliding window, their own RoPE base).
    t[3] = row(Arch::Gemma3, "gemma3");
    t[3].act = FfnAct::GeluTanh, t[3].qkv_bias = No, t[3].qk_norm = Required;
    t[3].post_norms = true, t[3].embd_scale_sqrt = true;
    t[3].swa = SwaRule::Period, t[3].swa_period = 6;
    t[3].attn_scale = AttnScaleRule::Gemma3;
    // granite: llama with four scalars from the file (embedding, residual,
    // attention and logit scales).
    t[4] = row(Arch::Granite, "granite");
    t[4].rope = RopeLayout::Normal, t[4].attn_scale = AttnScaleRule::Key, t[4].granite_scales = true;
    // phi3: fused QKV and gate/up tensors, LongRoPE factors for long contexts.
    t[5] = row(Arch::Phi3, "phi3");
    t[5].qkv_bias = No, t[5].fused_qkv = true, t[5].fused_gate_up = true, t[5].long_rope = true;
    t[5].attn_scale = AttnScaleRule::QueryPreScaled;
    // qwen3moe: qwen3 attention, 128 experts of which 8 per token, softmax
    // gating with the chosen weights renormalised.
    t[6] = row(Arch::Qwen3Moe, "qwen3moe");
    t[6].qkv_bias = No, t[6].qk_norm = Required;
    t[6].moe = Required, t[6].weights_norm = true;
    // glm4moe: Q/K/V biases, partial rotary, sigmoid gating with a selection
    // bias, a shared expert, leading dense layers, a next-token-prediction
    // layer at the end (loaded, not run).
    t[7] = row(Arch::Glm4Moe, "glm4moe");
    t[7].qkv_bias = Required, t[7].qk_norm = Optional, t[7].ffn_norm = "post_attention_norm";
    t[7].moe = Required, t[7].gating = RouterGating::Sigmoid, t[7].weights_norm = false, t[7].moe_keys = true;
    t[7].selection_bias = true, t[7].shared_expert = Optional, t[7].leading_dense = true, t[7].nextn = true;
    // gpt-oss: Q/K/V and output biases, attention sinks, every other layer
    // local (128-token window) with the global RoPE, YaRN, clamped SwiGLU
    // experts with biases, softmax over the chosen router logits.
    t[8] = row(Arch::GptOss, "gpt-oss");
    t[8].act = FfnAct::SwigluOai, t[8].qkv_bias = Required, t[8].out_bias = Required, t[8].attn_sinks = true;
    t[8].swa = SwaRule::Period, t[8].swa_period = 2, t[8].swa_rope_global = true;
    t[8].ffn_norm = "post_attention_norm";
    t[8].moe = Required, t[8].gating = RouterGating::SoftmaxSelected, t[8].weights_norm = false, t[8].moe_biases = true;
    return t;
}();

// Every enum value has exactly its own row, in enum order.
constexpr bool table_complete() {
    for (size_t i = 0; i < kArchs.size(); ++i) {
        const ArchInfo& r = kArchs[i];
        if (size_t(r.arch) != i || !r.name || !r.name[0] || !r.ffn_norm) return false;
        if (r.swa == SwaRule::Period && r.swa_period < 2) return false;
        if (r.moe == No && (r.shared_expert != No || r.selection_bias || r.leading_dense || r.moe_biases)) return false;
    }
    return true;
}
static_assert(table_complete(), "every Arch needs a complete row in kArchs, in enum order");
static_assert(size_t(Arch::GptOss) + 1 == kArchs.size(), "a new Arch needs a row");

}  // namespace

std::span<const ArchInfo> arch_table() noexcept { return kArchs; }
const ArchInfo& arch_info(Arch a) noexcept { return kArchs[size_t(a)]; }
const char* arch_name(Arch a) noexcept { return kArchs[size_t(a)].name; }

std::string supported_archs() {
    std::string s;
    for (const ArchInfo& r : kArchs) s += (s.empty() ? "" : ", ") + std::string(r.name);
    return s;
}

}  // namespace qlm
