// Small llama/qwen3/gemma3 models written with GgufWriter (random weights),
// for the model and engine tests.
#pragma once

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
};

inline std::vector<uint8_t> make_model(const Spec& s) {
    GgufWriter w;
    const std::string a = s.arch + ".";
    w.add("general.architecture", GgufValue::of_string(s.arch));
    w.add(a + "context_length", GgufValue::of_u32(uint32_t(s.ctx)));
    w.add(a + "embedding_length", GgufValue::of_u32(uint32_t(s.embd)));
    w.add(a + "block_count", GgufValue::of_u32(uint32_t(s.layers)));
    w.add(a + "feed_forward_length", GgufValue::of_u32(uint32_t(s.ff)));
    w.add(a + "attention.head_count", GgufValue::of_u32(kHead));
    w.add(a + "attention.head_count_kv", GgufValue::of_u32(kHeadKv));
    w.add(a + "attention.layer_norm_rms_epsilon", GgufValue::of_f32(1e-5f));
    if (s.arch == "gemma3") w.add(a + "attention.sliding_window", GgufValue::of_u32(4));
    std::mt19937 rng(s.seed);
    std::normal_distribution<float> nd(0.0f, 0.2f);
    auto add = [&](const std::string& name, std::vector<int64_t> shape, bool is_norm) {
        if (name == s.skip) return;
        if (name == s.wrong_shape) shape[0] += 32;
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        std::vector<float> v(static_cast<size_t>(n));
        for (auto& x : v) x = is_norm ? 1.0f + nd(rng) : nd(rng);
        const GgmlType t = is_norm ? (s.f16_norm ? GgmlType::F16 : GgmlType::F32) : s.mat_type;
        std::vector<uint8_t> bytes(row_size(t, shape[0]) * size_t(n / shape[0]));
        quantize_row(t, v.data(), bytes.data(), n);
        w.add_tensor(name, t, shape, bytes);
    };
    add("token_embd.weight", {s.embd, s.vocab}, false);
    add("output_norm.weight", {s.embd}, true);
    for (int64_t l = 0; l < s.layers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add(p + "attn_norm.weight", {s.embd}, true);
        add(p + "attn_q.weight", {s.embd, kHead * kHd}, false);
        add(p + "attn_k.weight", {s.embd, kHeadKv * kHd}, false);
        add(p + "attn_v.weight", {s.embd, kHeadKv * kHd}, false);
        add(p + "attn_output.weight", {kHead * kHd, s.embd}, false);
        if (s.arch != "llama") {
            add(p + "attn_q_norm.weight", {kHd}, true);
            add(p + "attn_k_norm.weight", {kHd}, true);
        }
        add(p + "ffn_norm.weight", {s.embd}, true);
        add(p + "ffn_gate.weight", {s.embd, s.ff}, false);
        add(p + "ffn_up.weight", {s.embd, s.ff}, false);
        add(p + "ffn_down.weight", {s.ff, s.embd}, false);
        if (s.arch == "gemma3") {
            add(p + "post_attention_norm.weight", {s.embd}, true);
            add(p + "post_ffw_norm.weight", {s.embd}, true);
        }
    }
    return w.to_bytes();
}


}  // namespace qlm::test
