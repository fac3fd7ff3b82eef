// Small models of every architecture in the table, written with GgufWriter
// (random weights) from the table's row: the tensors and keys the row says the
// architecture has, experts included, for the model and engine tests.
#pragma once

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "qlm/gguf.h"
#include "qlm/model.h"

namespace qlm::test {

constexpr int64_t kEmbd = 64, kFf = 96, kVocab = 50, kHead = 4, kHeadKv = 2, kHd = 16;

struct Spec {
    std::string arch = "llama";
    int64_t layers = 2;
    int64_t embd = kEmbd, ff = kFf, vocab = kVocab, ctx = 64;
    uint32_t seed = 3;
    std::string skip;                       // tensor left out
    std::string wrong_shape;                // tensor given a wrong shape
    GgmlType mat_type = GgmlType::Q8_0;
    bool f16_norm = false;
    // Mixture of experts (rows with experts; llama: 0 keeps it dense).
    int n_expert = 4, n_used = 2, n_shared = 1;
    int64_t ff_exp = 32;
    GgmlType exp_type = GgmlType::Q4_K;  // K-quant experts: 256-element rows
    int64_t bad_expert_count = 0;        // expert_count written instead of n_expert (tensors stay)
};

inline const ArchInfo& info_of(const std::string& arch) {
    for (const ArchInfo& r : arch_table())
        if (arch == r.name) return r;
    return arch_table()[0];
}

inline std::vector<uint8_t> make_model(const Spec& s) {
    GgufWriter w;
    const std::string a = s.arch + ".";
    const ArchInfo& ai = info_of(s.arch);
    const bool moe = ai.moe == Need::Required || (ai.moe == Need::Optional && s.n_expert > 0 && s.arch != "llama");
    const int64_t nextn = ai.nextn ? 1 : 0, dense_lead = ai.leading_dense ? 1 : 0;
    const int n_shared = ai.shared_expert == Need::No ? 0 : s.n_shared;
    const int64_t exp_embd = moe ? std::max<int64_t>(s.embd, 256) : s.embd;  // K-quant rows
    const int64_t embd = exp_embd;
    w.add("general.architecture", GgufValue::of_string(s.arch));
    w.add(a + "context_length", GgufValue::of_u32(uint32_t(s.ctx)));
    w.add(a + "embedding_length", GgufValue::of_u32(uint32_t(embd)));
    w.add(a + "block_count", GgufValue::of_u32(uint32_t(s.layers + nextn)));
    w.add(a + "feed_forward_length", GgufValue::of_u32(uint32_t(s.ff)));
    w.add(a + "attention.head_count", GgufValue::of_u32(kHead));
    w.add(a + "attention.head_count_kv", GgufValue::of_u32(kHeadKv));
    w.add(a + "attention.key_length", GgufValue::of_u32(kHd));
    w.add(a + "attention.layer_norm_rms_epsilon", GgufValue::of_f32(1e-5f));
    if (ai.swa != SwaRule::None) w.add(a + "attention.sliding_window", GgufValue::of_u32(4));
    if (ai.attn_sinks) {  // gpt-oss: YaRN
        w.add(a + "rope.scaling.type", GgufValue::of_string("yarn"));
        w.add(a + "rope.scaling.factor", GgufValue::of_f32(4.0f));
        w.add(a + "rope.scaling.original_context_length", GgufValue::of_u32(16));
    }
    if (ai.granite_scales) {
        w.add(a + "embedding_scale", GgufValue::of_f32(4.0f));
        w.add(a + "residual_scale", GgufValue::of_f32(0.5f));
        w.add(a + "attention.scale", GgufValue::of_f32(0.125f));
        w.add(a + "logit_scale", GgufValue::of_f32(2.0f));
    }
    if (moe) {
        w.add(a + "expert_count", GgufValue::of_u32(uint32_t(s.bad_expert_count ? s.bad_expert_count : s.n_expert)));
        w.add(a + "expert_used_count", GgufValue::of_u32(uint32_t(s.n_used)));
        w.add(a + "expert_feed_forward_length", GgufValue::of_u32(uint32_t(s.ff_exp)));
        if (n_shared) w.add(a + "expert_shared_count", GgufValue::of_u32(uint32_t(n_shared)));
        if (dense_lead) w.add(a + "leading_dense_block_count", GgufValue::of_u32(uint32_t(dense_lead)));
        if (nextn) w.add(a + "nextn_predict_layers", GgufValue::of_u32(uint32_t(nextn)));
        if (ai.moe_keys) w.add(a + "expert_weights_norm", GgufValue::of_bool(true));
    }
    std::mt19937 rng(s.seed);
    std::normal_distribution<float> nd(0.0f, 0.2f);
    auto add_as = [&](GgmlType t, const std::string& name, std::vector<int64_t> shape, bool is_norm) {
        if (name == s.skip) return;
        if (name == s.wrong_shape) shape[0] += 32;
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        std::vector<float> v(static_cast<size_t>(n));
        for (auto& x : v) x = is_norm ? 1.0f + nd(rng) : nd(rng);
        std::vector<uint8_t> bytes(row_size(t, shape[0]) * size_t(n / shape[0]));
        quantize_row(t, v.data(), bytes.data(), n);
        w.add_tensor(name, t, shape, bytes);
    };
    auto add = [&](const std::string& name, std::vector<int64_t> shape, bool is_norm) {
        add_as(is_norm ? (s.f16_norm ? GgmlType::F16 : GgmlType::F32) : s.mat_type, name, std::move(shape), is_norm);
    };
    add("token_embd.weight", {embd, s.vocab}, false);
    add("output_norm.weight", {embd}, true);
    const int64_t dq = kHead * kHd, dkv = kHeadKv * kHd;
    for (int64_t l = 0; l < s.layers + nextn; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add(p + "attn_norm.weight", {embd}, true);
        if (ai.fused_qkv) {
            add(p + "attn_qkv.weight", {embd, dq + 2 * dkv}, false);
        } else {
            add(p + "attn_q.weight", {embd, dq}, false);
            add(p + "attn_k.weight", {embd, dkv}, false);
            add(p + "attn_v.weight", {embd, dkv}, false);
        }
        add(p + "attn_output.weight", {dq, embd}, false);
        if (ai.out_bias == Need::Required) add(p + "attn_output.bias", {embd}, true);
        if (ai.attn_sinks) add(p + "attn_sinks.weight", {kHead}, true);
        if (ai.qkv_bias == Need::Required) {
            add(p + "attn_q.bias", {dq}, true);
            add(p + "attn_k.bias", {dkv}, true);
            add(p + "attn_v.bias", {dkv}, true);
        }
        if (ai.qk_norm != Need::No) {
            add(p + "attn_q_norm.weight", {kHd}, true);
            add(p + "attn_k_norm.weight", {kHd}, true);
        }
        add(p + ai.ffn_norm + ".weight", {embd}, true);
        if (!moe || l < dense_lead) {
            if (ai.fused_gate_up) {
                add(p + "ffn_up.weight", {embd, 2 * s.ff}, false);
            } else {
                add(p + "ffn_gate.weight", {embd, s.ff}, false);
                add(p + "ffn_up.weight", {embd, s.ff}, false);
            }
            add(p + "ffn_down.weight", {s.ff, embd}, false);
        } else {
            add_as(GgmlType::F32, p + "ffn_gate_inp.weight", {embd, s.n_expert}, false);
            if (ai.selection_bias) add_as(GgmlType::F32, p + "exp_probs_b.bias", {s.n_expert}, false);
            if (ai.moe_biases) {
                add_as(GgmlType::F32, p + "ffn_gate_inp.bias", {s.n_expert}, false);
                add_as(GgmlType::F32, p + "ffn_gate_exps.bias", {s.ff_exp, s.n_expert}, false);
                add_as(GgmlType::F32, p + "ffn_up_exps.bias", {s.ff_exp, s.n_expert}, false);
                add_as(GgmlType::F32, p + "ffn_down_exps.bias", {embd, s.n_expert}, false);
            }
            add_as(s.exp_type, p + "ffn_gate_exps.weight", {embd, s.ff_exp, s.n_expert}, false);
            add_as(s.exp_type, p + "ffn_up_exps.weight", {embd, s.ff_exp, s.n_expert}, false);
            add_as(GgmlType::Q8_0, p + "ffn_down_exps.weight", {s.ff_exp, embd, s.n_expert}, false);
            if (n_shared) {
                add(p + "ffn_gate_shexp.weight", {embd, s.ff_exp * n_shared}, false);
                add(p + "ffn_up_shexp.weight", {embd, s.ff_exp * n_shared}, false);
                add(p + "ffn_down_shexp.weight", {s.ff_exp * n_shared, embd}, false);
            }
        }
        if (ai.post_norms) {
            add(p + "post_attention_norm.weight", {embd}, true);
            add(p + "post_ffw_norm.weight", {embd}, true);
        }
        if (l >= s.layers) add(p + "nextn.eh_proj.weight", {2 * embd, embd}, false);
    }
    return w.to_bytes();
}

}  // namespace qlm::test
