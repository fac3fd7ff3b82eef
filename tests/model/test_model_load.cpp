// Model loading errors (each names the key or tensor at fault) and Session
// behaviour (context overflow, bad token ids, chunked prefill = one batch,
// reset), on small llama/qwen3/gemma3 files written with GgufWriter.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "qlm/error.h"
#include "qlm/model.h"
#include "model/tiny_model.h"

namespace qlm {
namespace {

using test::kEmbd;
using test::kVocab;
using test::make_model;
using test::Spec;

std::string load_error(const Spec& s) {
    const auto bytes = make_model(s);
    try {
        Model::from_reader(GgufReader::from_memory(bytes, "m.gguf"), LoadOptions{false, false});
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(ModelLoad, ErrorsNameTheProblem) {
    Spec s;
    s.arch = "mamba";
    {
        const std::string e = load_error(s);
        EXPECT_NE(e.find("'mamba' is not supported"), std::string::npos) << e;
        EXPECT_NE(e.find("llama, qwen2, qwen3, gemma3"), std::string::npos) << e;
    }
    s = Spec{};
    s.skip = "blk.1.ffn_up.weight";
    EXPECT_NE(load_error(s).find("tensor 'blk.1.ffn_up.weight' is missing"), std::string::npos) << load_error(s);
    s = Spec{};
    s.wrong_shape = "blk.0.attn_k.weight";
    EXPECT_NE(load_error(s).find("'blk.0.attn_k.weight' has shape [96, 32], expected [64, 32]"), std::string::npos)
        << load_error(s);
    s = Spec{};
    s.f16_norm = true;
    EXPECT_NE(load_error(s).find("is F16, expected F32"), std::string::npos) << load_error(s);
    s = Spec{};
    s.arch = "qwen3";
    s.skip = "blk.0.attn_q_norm.weight";
    EXPECT_NE(load_error(s).find("attn_q_norm.weight' is missing"), std::string::npos) << load_error(s);
    s = Spec{};
    s.arch = "qwen2";  // qwen2 needs q/k/v biases
    s.skip = "blk.0.attn_q.bias";
    EXPECT_NE(load_error(s).find("attn_q.bias' is missing"), std::string::npos) << load_error(s);
}

TEST(ModelLoad, MissingKeyIsNamed) {
    GgufWriter w;
    w.add("general.architecture", GgufValue::of_string("llama"));
    const auto bytes = w.to_bytes();
    try {
        Model::from_reader(GgufReader::from_memory(bytes, "m.gguf"), LoadOptions{false, false});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("llama.context_length"), std::string::npos) << e.what();
    }
}

class SessionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SessionTest, ChunkedPrefillEqualsOneBatchAndDecode) {
    Spec s;
    s.arch = GetParam();
    const auto bytes = make_model(s);
    auto model = Model::from_reader(GgufReader::from_memory(bytes, "m.gguf"), LoadOptions{false, false});
    Context ctx(ContextOptions{std::nullopt, 2});
    const std::vector<int32_t> ids = {1, 5, 9, 13, 2, 44, 7, 7, 30, 12, 0, 49};
    const int64_t n = int64_t(ids.size());
    std::vector<float> all(size_t(n * kVocab)), step(static_cast<size_t>(kVocab));
    Session one(*model, ctx, SessionOptions{32, GgmlType::F16, 512});
    one.eval(ids, all.data(), true);
    // Token by token (the decode path) gives the same bits: the kernels are
    // batch invariant (src/cpu/kernels.h).
    Session inc(*model, ctx, SessionOptions{32, GgmlType::F16, 5});
    for (int64_t i = 0; i < n; ++i) {
        inc.eval({&ids[size_t(i)], 1}, step.data());
        for (int64_t v = 0; v < kVocab; ++v)
            ASSERT_EQ(step[size_t(v)], all[size_t(i * kVocab + v)]) << "pos " << i << " token " << v;
    }
    EXPECT_EQ(inc.pos(), n);
    // Reset and replay gives identical bits.
    inc.reset();
    std::vector<float> again(size_t(n * kVocab));
    inc.eval(ids, again.data(), true);
    Session chunked(*model, ctx, SessionOptions{32, GgmlType::F16, 5});
    std::vector<float> chunk(size_t(n * kVocab));
    chunked.eval(ids, chunk.data(), true);
    EXPECT_EQ(again, chunk);
    // Finite and not constant.
    bool varied = false;
    for (size_t i = 1; i < all.size(); ++i) {
        ASSERT_TRUE(std::isfinite(all[i]));
        varied |= all[i] != all[0];
    }
    EXPECT_TRUE(varied);
}

TEST_P(SessionTest, Errors) {
    Spec s;
    s.arch = GetParam();
    const auto bytes = make_model(s);
    auto model = Model::from_reader(GgufReader::from_memory(bytes, "m.gguf"), LoadOptions{false, false});
    Context ctx(ContextOptions{std::nullopt, 1});
    Session sess(*model, ctx, SessionOptions{8, GgmlType::F32, 512});
    std::vector<float> logits(static_cast<size_t>(kVocab));
    const std::vector<int32_t> bad = {1, kVocab};
    EXPECT_THROW(sess.eval(bad, logits.data()), Error);
    EXPECT_EQ(sess.pos(), 0);
    const std::vector<int32_t> nine(9, 1);
    try {
        sess.eval(nine, logits.data());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("context is full"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Session(*model, ctx, SessionOptions{8, GgmlType::Q8_0, 512}), Error);
}

std::vector<std::string> table_names() {
    std::vector<std::string> v;
    for (const ArchInfo& r : arch_table()) v.push_back(r.name);
    return v;
}
INSTANTIATE_TEST_SUITE_P(Archs, SessionTest, ::testing::ValuesIn(table_names()));

// Every row of the architecture table: a model written from the row loads,
// its configuration says what the row says, and it runs.
TEST(ArchTable, EveryRowLoadsAndRuns) {
    for (const ArchInfo& ai : arch_table()) {
        SCOPED_TRACE(ai.name);
        Spec s;
        s.arch = ai.name;
        const auto bytes = make_model(s);
        auto model = Model::from_reader(GgufReader::from_memory(bytes, "m.gguf"), LoadOptions{false, false});
        const ModelConfig& c = model->config();
        EXPECT_EQ(c.info, &ai);
        EXPECT_EQ(std::string(arch_name(c.arch)), ai.name);
        EXPECT_EQ(c.rope_layout, ai.rope);
        EXPECT_EQ(c.n_layer, s.layers);
        EXPECT_EQ(c.n_expert > 0, ai.moe == Need::Required) << "tiny llama stays dense";
        for (int64_t l = 0; l < c.n_layer; ++l) {
            const LayerWeights& L = model->layer(l);
            EXPECT_EQ(std::holds_alternative<MoeFfn>(L.ffn), c.layer_moe(l)) << "layer " << l;
            EXPECT_EQ(L.bq != nullptr, ai.qkv_bias == Need::Required);
            EXPECT_EQ(L.q_norm != nullptr, ai.qk_norm != Need::No);
            EXPECT_EQ(L.post_ffn_norm != nullptr, ai.post_norms);
            if (const auto* m = std::get_if<MoeFfn>(&L.ffn)) {
                EXPECT_EQ(m->has_shared, ai.shared_expert != Need::No);
                EXPECT_EQ(m->selection_bias != nullptr, ai.selection_bias);
                EXPECT_EQ(m->gate.n_expert, c.n_expert);
            }
        }
        if (ai.leading_dense) EXPECT_EQ(c.n_layer_dense_lead, 1);
        if (ai.nextn) EXPECT_EQ(c.n_layer_file, c.n_layer + 1);
        Context ctx(ContextOptions{std::nullopt, 2});
        Session sess(*model, ctx, SessionOptions{32, GgmlType::F16, 8});
        std::vector<float> logits(size_t(c.n_vocab));
        const std::vector<int32_t> ids = {1, 5, 9, 13, 2};
        sess.eval(ids, logits.data());
        for (float v : logits) ASSERT_TRUE(std::isfinite(v));
    }
}

TEST(ModelLoad, MoeKeysCheckedAgainstTensors) {
    Spec s;
    s.arch = "qwen3moe";
    s.bad_expert_count = 6;  // the tensors hold 4 experts
    std::string e = load_error(s);
    EXPECT_NE(e.find("qwen3moe.expert_count = 6"), std::string::npos) << e;
    EXPECT_NE(e.find("ffn_gate_inp.weight"), std::string::npos) << e;
    s = Spec{};
    s.arch = "qwen3moe";
    s.n_used = 5;  // more than the 4 experts
    e = load_error(s);
    EXPECT_NE(e.find("expert_used_count = 5 exceeds qwen3moe.expert_count = 4"), std::string::npos) << e;
    s = Spec{};
    s.arch = "glm4moe";
    s.skip = "blk.1.exp_probs_b.bias";
    e = load_error(s);
    EXPECT_NE(e.find("exp_probs_b.bias' is missing"), std::string::npos) << e;
    s = Spec{};
    s.arch = "qwen3moe";
    s.skip = "blk.0.ffn_down_exps.weight";
    e = load_error(s);
    EXPECT_NE(e.find("ffn_down_exps.weight' is missing"), std::string::npos) << e;
}

}  // namespace
}  // namespace qlm
