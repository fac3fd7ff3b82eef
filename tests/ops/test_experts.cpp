// Mixture-of-experts ops:
//  - route_experts against a float64 reference written here (softmax, sigmoid,
//    softmax over the chosen; selection bias; normalisation with its clamp;
//    scale; ties);
//  - matmul_experts on every instruction set and weight type against a
//    double-precision product of the dequantized expert weights (DESIGN.md's
//    matmul bound), bit-identical to each slot run alone through the plain
//    matmul (batch invariance), for uneven routings: an expert with no rows,
//    one with all of them, every expert once;
//  - errors name the op and the problem.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "../formats/random_blocks.h"
#include "formats/traits.h"
#include "qlm/error.h"
#include "qlm/ops.h"
#include "ops/backends.h"

namespace qlm {
namespace {

// ---- routing ----

struct RefRoute {
    std::vector<int32_t> ids;
    std::vector<double> w;
};

RefRoute ref_route(const std::vector<float>& l, int64_t n_tok, int64_t n_exp, const RouterParams& p) {
    RefRoute out;
    for (int64_t t = 0; t < n_tok; ++t) {
        std::vector<double> prob(static_cast<size_t>(n_exp));
        const float* lt = l.data() + t * n_exp;
        if (p.gating == RouterGating::Softmax) {
            double mx = -INFINITY, sum = 0;
            for (int64_t e = 0; e < n_exp; ++e) mx = std::max(mx, double(lt[e]));
            for (int64_t e = 0; e < n_exp; ++e) sum += prob[size_t(e)] = std::exp(double(lt[e]) - mx);
            for (auto& v : prob) v /= sum;
        } else if (p.gating == RouterGating::Sigmoid) {
            for (int64_t e = 0; e < n_exp; ++e) prob[size_t(e)] = 1.0 / (1.0 + std::exp(-double(lt[e])));
        } else {
            for (int64_t e = 0; e < n_exp; ++e) prob[size_t(e)] = lt[e];
        }
        std::vector<int32_t> idx(static_cast<size_t>(n_exp));
        std::iota(idx.begin(), idx.end(), 0);
        auto score = [&](int32_t e) { return prob[size_t(e)] + (p.selection_bias ? p.selection_bias[e] : 0.0); };
        std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return score(a) > score(b); });
        std::vector<double> w;
        for (int j = 0; j < p.n_used; ++j) w.push_back(prob[size_t(idx[size_t(j)])]);
        if (p.gating == RouterGating::SoftmaxSelected) {
            const double mx = *std::max_element(w.begin(), w.end());
            double sum = 0;
            for (auto& v : w) sum += v = std::exp(v - mx);
            for (auto& v : w) v /= sum;
        }
        if (p.normalize) {
            const double sum = std::max(std::accumulate(w.begin(), w.end(), 0.0), 6.103515625e-5);
            for (auto& v : w) v /= sum;
        }
        for (int j = 0; j < p.n_used; ++j) {
            out.ids.push_back(idx[size_t(j)]);
            out.w.push_back(w[size_t(j)] * p.scale);
        }
    }
    return out;
}

void expect_route(const std::vector<float>& l, int64_t n_tok, int64_t n_exp, const RouterParams& p) {
    const RefRoute ref = ref_route(l, n_tok, n_exp, p);
    std::vector<int32_t> ids(size_t(n_tok * p.n_used));
    std::vector<float> w(ids.size());
    route_experts(l.data(), n_tok, n_exp, p, ids.data(), w.data());
    for (size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(ids[i], ref.ids[i]) << "slot " << i;
        EXPECT_NEAR(w[i], ref.w[i], 2e-6 * std::max(1.0, std::abs(ref.w[i]))) << "slot " << i;
    }
}

TEST(RouteExperts, AgainstFloat64Reference) {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    const int64_t T = 9, E = 16;
    std::vector<float> l(size_t(T * E)), bias(static_cast<size_t>(E));
    for (auto& v : l) v = nd(rng);
    for (auto& v : bias) v = 0.5f * nd(rng);
    for (RouterGating g : {RouterGating::Softmax, RouterGating::Sigmoid, RouterGating::SoftmaxSelected})
        for (int k : {1, 2, 4, 16})
            for (bool norm : {false, true})
                for (float scale : {1.0f, 2.5f})
                    for (const float* b : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
                        SCOPED_TRACE(testing::Message() << "gating " << int(g) << " k " << k << " norm " << norm
                                                        << " scale " << scale << " bias " << (b != nullptr));
                        RouterParams p;
                        p.gating = g, p.n_used = k, p.normalize = norm, p.scale = scale, p.selection_bias = b;
                        expect_route(l, T, E, p);
                    }
}

TEST(RouteExperts, SelectionBiasChoosesButDoesNotWeigh) {
    // Expert 2 has the lower probability, the bias makes it the choice; its
    // weight stays its own sigmoid.
    const std::vector<float> l = {0.0f, 1.0f, 0.5f, -3.0f};
    const std::vector<float> bias = {0.0f, 0.0f, 1.0f, 0.0f};
    RouterParams p;
    p.gating = RouterGating::Sigmoid, p.n_used = 1, p.selection_bias = bias.data();
    int32_t id = -1;
    float w = 0;
    route_experts(l.data(), 1, 4, p, &id, &w);
    EXPECT_EQ(id, 2);
    EXPECT_FLOAT_EQ(w, 1.0f / (1.0f + std::exp(-0.5f)));
}

TEST(RouteExperts, TiesGoToTheLowerExpertAndNormIsClamped) {
    const std::vector<float> l = {1.0f, 3.0f, 3.0f, 1.0f, 3.0f};
    RouterParams p;
    p.gating = RouterGating::Softmax, p.n_used = 3;
    std::vector<int32_t> ids(3);
    std::vector<float> w(3);
    route_experts(l.data(), 1, 5, p, ids.data(), w.data());
    EXPECT_EQ(ids, (std::vector<int32_t>{1, 2, 4}));
    // Sigmoid of very negative logits: the weights' sum is below the clamp.
    const std::vector<float> neg = {-30.0f, -31.0f, -32.0f};
    p.gating = RouterGating::Sigmoid, p.n_used = 2, p.normalize = true;
    route_experts(neg.data(), 1, 3, p, ids.data(), w.data());
    EXPECT_EQ(ids[0], 0);
    EXPECT_NEAR(w[0], (1.0 / (1.0 + std::exp(30.0))) / 6.103515625e-5, 1e-12);
}

TEST(RouteExperts, BadShapesAreErrors) {
    const std::vector<float> l(4, 0.0f);
    std::vector<int32_t> ids(8);
    std::vector<float> w(8);
    RouterParams p;
    p.n_used = 5;
    try {
        route_experts(l.data(), 1, 4, p, ids.data(), w.data());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("5 experts per token out of 4"), std::string::npos) << e.what();
    }
}

// ---- grouped-expert matmul ----

constexpr int64_t kExperts = 5, kRows = 40, kCols = 512;

struct Experts {
    ExpertsView view;
    std::vector<uint8_t> bytes;
    std::vector<float> deq;  // n_expert x n x k
};

Experts make_experts(GgmlType type, int64_t n, int64_t k, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    Experts out;
    const size_t rs = row_size(type, k);
    const int64_t rows = kExperts * n;
    std::vector<float> w(size_t(rows * k));
    for (auto& v : w) v = nd(rng);
    out.bytes.resize(rs * size_t(rows));
    out.deq.resize(w.size());
    // types qlm does not quantize (low-bit IQ, TQ): random blocks of order-one values
    if (!can_quantize(type)) out.bytes = test::random_rows(type, rows, k, seed);
    for (int64_t r = 0; r < rows; ++r) {
        if (can_quantize(type)) quantize_row(type, w.data() + r * k, out.bytes.data() + r * rs, k);
        dequantize_row(type, out.bytes.data() + r * rs, out.deq.data() + r * k, k);
    }
    out.view.type = type, out.view.n_expert = kExperts, out.view.n = n, out.view.k = k;
    out.view.row_stride = rs, out.view.expert_stride = rs * size_t(n);
    out.view.data = out.bytes.data();
    out.view.name = std::string("test_exps.") + type_name(type);
    return out;
}

std::vector<GgmlType> expert_types() {
    std::vector<GgmlType> out;
    for (const auto& t : fmt::kTypeTraits)
        if (t.info.type != GgmlType::Q8_1 && t.info.type != GgmlType::Q8_K) out.push_back(t.info.type);
    return out;
}

// Routings of T tokens with 2 experts each (ids), named for the failure message.
struct Routing {
    const char* name;
    int64_t tokens;
    std::vector<int32_t> ids;
};

std::vector<Routing> routings() {
    std::vector<Routing> out;
    out.push_back({"one token", 1, {3, 1}});
    {
        Routing r{"all rows to expert 2, none to 0", 40, {}};
        for (int t = 0; t < 40; ++t) r.ids.insert(r.ids.end(), {2, int32_t(1 + (t % 2) * 2 + (t % 3 == 0))});
        out.push_back(r);
    }
    {
        Routing r{"random, 17 tokens", 17, {}};
        std::mt19937 rng(11);
        for (int t = 0; t < 17; ++t) {
            const int32_t a = int32_t(rng() % kExperts);
            r.ids.insert(r.ids.end(), {a, int32_t((a + 1 + rng() % (kExperts - 1)) % kExperts)});
        }
        out.push_back(r);
    }
    return out;
}

class ExpertsTest : public testing::TestWithParam<std::tuple<Backend, GgmlType>> {
protected:
    void SetUp() override {
        be_ = std::get<0>(GetParam());
        type_ = std::get<1>(GetParam());
        if (const std::string why = backend_unavailable(be_); !why.empty()) GTEST_SKIP() << why;
    }
    Backend be_;
    GgmlType type_;
};

TEST_P(ExpertsTest, GroupedEqualsEachSlotAloneAndTheDoubleProduct) {
    const Experts ex = make_experts(type_, kRows, kCols, 5);
    BackendContext ctx(be_, 2);
    for (const Routing& rt : routings()) {
        SCOPED_TRACE(rt.name);
        const int n_used = 2;
        const int64_t T = rt.tokens, slots = T * n_used;
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
        std::vector<float> x(size_t(T * kCols)), xs(size_t(slots * kCols));
        for (auto& v : x) v = ud(rng);
        for (auto& v : xs) v = ud(rng);
        const GgmlType at = activation_type(type_);
        const QuantizedActivations xq = quantize_activations(ctx, x.data(), T, kCols, at);
        const QuantizedActivations xsq = quantize_activations(ctx, xs.data(), slots, kCols, at);
        std::vector<float> w(static_cast<size_t>(slots), 1.0f);
        const ExpertRouting r{rt.ids.data(), w.data(), T, n_used, kExperts};
        std::vector<float> y(size_t(slots * kRows)), ys(y.size());
        matmul_experts(ctx, r, {{&xq, false, ex.view, y.data()}, {&xsq, true, ex.view, ys.data()}});
        double err = 0, ref2 = 0;
        for (int64_t s = 0; s < slots; ++s) {
            const int32_t e = rt.ids[size_t(s)];
            // Alone: the slot's row through the plain matmul of its expert.
            std::vector<float> alone(static_cast<size_t>(kRows)), alone_s(static_cast<size_t>(kRows));
            matmul(ctx, x.data() + (s / n_used) * kCols, 1, ex.view.expert(e), alone.data());
            matmul(ctx, xs.data() + s * kCols, 1, ex.view.expert(e), alone_s.data());
            for (int64_t i = 0; i < kRows; ++i) {
                ASSERT_EQ(y[size_t(s * kRows + i)], alone[size_t(i)]) << "slot " << s << " row " << i;
                ASSERT_EQ(ys[size_t(s * kRows + i)], alone_s[size_t(i)]) << "slot " << s << " row " << i;
                double d = 0;
                for (int64_t c = 0; c < kCols; ++c)
                    d += double(ex.deq[size_t((e * kRows + i) * kCols + c)]) * x[size_t((s / n_used) * kCols + c)];
                err += (y[size_t(s * kRows + i)] - d) * (y[size_t(s * kRows + i)] - d);
                ref2 += d * d;
            }
        }
        EXPECT_LE(err / ref2, 5e-4) << "normalized MSE against the double product";
    }
}

TEST(CombineExperts, WeightedSumInSlotOrder) {
    const int64_t T = 3, n = 4;
    const std::vector<int32_t> ids = {0, 1, 2, 3, 4, 0};
    const std::vector<float> w = {0.25f, 0.75f, 1.5f, -0.5f, 0.1f, 0.2f};
    std::vector<float> y(size_t(T * 2 * n));
    for (size_t i = 0; i < y.size(); ++i) y[i] = float(i) * 0.37f - 1.0f;
    std::vector<float> out(size_t(T * n));
    combine_experts({ids.data(), w.data(), T, 2, 5}, y.data(), n, out.data());
    for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < n; ++i) {
            const float a = w[size_t(t * 2)] * y[size_t((t * 2) * n + i)];
            const float b = w[size_t(t * 2 + 1)] * y[size_t((t * 2 + 1) * n + i)];
            EXPECT_EQ(out[size_t(t * n + i)], a + b);
        }
}

TEST(MatmulExperts, BadRoutingAndShapesAreErrors) {
    const Experts ex = make_experts(GgmlType::Q4_0, 8, 64, 1);
    Context ctx(ContextOptions{std::nullopt, 2});
    const std::vector<float> x(64, 0.5f);
    const QuantizedActivations xq = quantize_activations(ctx, x.data(), 1, 64, GgmlType::Q8_0);
    std::vector<float> y(16), w(2, 1.0f);
    const std::vector<int32_t> bad = {1, 7};
    auto message = [&](const ExpertRouting& r, const ExpertJob& j) -> std::string {
        try {
            matmul_experts(ctx, r, {j});
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    };
    std::string e = message({bad.data(), w.data(), 1, 2, kExperts}, {&xq, false, ex.view, y.data()});
    EXPECT_NE(e.find("routed to expert 7 of 5"), std::string::npos) << e;
    const std::vector<int32_t> ok = {1, 2};
    e = message({ok.data(), w.data(), 1, 2, kExperts}, {&xq, true, ex.view, y.data()});  // per slot needs 2 rows
    EXPECT_NE(e.find("do not fit weight test_exps.Q4_0"), std::string::npos) << e;
}

std::string param_name(const testing::TestParamInfo<std::tuple<Backend, GgmlType>>& p) {
    return backend_name(std::get<0>(p.param)) + "_" + type_name(std::get<1>(p.param));
}

INSTANTIATE_TEST_SUITE_P(All, ExpertsTest, testing::Combine(testing::ValuesIn(all_backends()), testing::ValuesIn(expert_types())),
                         param_name);

}  // namespace
}  // namespace qlm
