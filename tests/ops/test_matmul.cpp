// matmul on every instruction set this CPU runs, for every weight type:
//  - against the scalar kernel (the reference vec_dot): tight, since both sum
//    the same integers and differ only in float summation order;
//  - against a double-precision product of the dequantized weights and the
//    float activations, within DESIGN.md's bounds;
//  - identical results for any thread count; the transposed view; errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "formats/traits.h"
#include "qlm/error.h"
#include "qlm/ops.h"
#include "ops/backends.h"
#include "../formats/random_blocks.h"

namespace qlm {
namespace {

struct Weights {
    WeightView view;
    std::vector<uint8_t> bytes;
    std::vector<float> deq;  // n x k, dequantized
};

Weights make_weights(GgmlType type, int64_t n, int64_t k, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> w(size_t(n * k));
    for (auto& v : w) v = nd(rng);
    Weights out;
    const size_t rs = row_size(type, k);
    out.bytes.resize(rs * size_t(n));
    out.deq.resize(w.size());
    // types qlm does not quantize (low-bit IQ, TQ): random blocks of order-one values
    if (!can_quantize(type)) out.bytes = test::random_rows(type, n, k, seed);
    for (int64_t r = 0; r < n; ++r) {
        if (can_quantize(type)) quantize_row(type, w.data() + r * k, out.bytes.data() + r * rs, k);
        dequantize_row(type, out.bytes.data() + r * rs, out.deq.data() + r * k, k);
    }
    out.view = {type, n, k, rs, out.bytes.data(), std::string("test.") + type_name(type), false};
    return out;
}

std::vector<float> make_activations(int64_t m, int64_t k, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
    std::vector<float> x(size_t(m * k));
    for (auto& v : x) v = ud(rng);
    return x;
}

}  // namespace

// Readable parameters in test listings (instead of byte dumps); found by ADL, so in qlm itself.
void PrintTo(Isa i, std::ostream* os) { *os << isa_name(i); }
void PrintTo(GgmlType t, std::ostream* os) { *os << type_name(t); }

namespace {

bool low_bit(GgmlType t) {
    switch (t) {
        case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS:
        case GgmlType::IQ2_S: case GgmlType::IQ3_XXS: case GgmlType::IQ3_S: case GgmlType::IQ1_S:
        case GgmlType::IQ1_M: case GgmlType::TQ1_0: case GgmlType::TQ2_0: return true;
        default: return false;
    }
}

std::vector<GgmlType> weight_types() {
    std::vector<GgmlType> out;
    for (const auto& t : fmt::kTypeTraits)
        if (t.info.type != GgmlType::Q8_1 && t.info.type != GgmlType::Q8_K) out.push_back(t.info.type);
    return out;
}

std::string param_name(const testing::TestParamInfo<std::tuple<Backend, GgmlType>>& p) {
    return backend_name(std::get<0>(p.param)) + "_" + type_name(std::get<1>(p.param));
}

class MatmulTest : public testing::TestWithParam<std::tuple<Backend, GgmlType>> {
protected:
    void SetUp() override {
        be_ = std::get<0>(GetParam());
        type_ = std::get<1>(GetParam());
        if (const std::string why = backend_unavailable(be_); !why.empty()) GTEST_SKIP() << why;
        // several blocks per row; odd row count
        k_ = type_info(type_).block_size == 256 ? 768 : (type_info(type_).block_size == 1 ? 200 : 320);
    }
    Backend be_{};
    GgmlType type_{};
    int64_t k_ = 0;
    static constexpr int64_t n_ = 37;
};

TEST_P(MatmulTest, MatchesScalarAndDouble) {
    const Weights w = make_weights(type_, n_, k_, 11);
    BackendContext ctx(be_, 2);
    Context ref_ctx({Isa::Scalar, 1});
    std::vector<int64_t> ms;
    for (int64_t m = 1; m <= 17; ++m) ms.push_back(m);
    ms.push_back(64);
    ms.push_back(512);
    for (int64_t m : ms) {
        const auto x = make_activations(m, k_, uint32_t(m));
        std::vector<float> y(size_t(m * n_), NAN), yref(size_t(m * n_), NAN);
        matmul(ctx, x.data(), m, w.view, y.data());
        matmul(ref_ctx, x.data(), m, w.view, yref.data());
        double worst_vs_double = 0;
        for (int64_t i = 0; i < m; ++i)
            for (int64_t r = 0; r < n_; ++r) {
                double exact = 0, mag = 0;
                for (int64_t j = 0; j < k_; ++j) {
                    exact += double(w.deq[r * k_ + j]) * double(x[i * k_ + j]);
                    mag += std::fabs(double(w.deq[r * k_ + j]) * double(x[i * k_ + j]));
                }
                const float got = y[i * n_ + r], want = yref[i * n_ + r];
                ASSERT_TRUE(std::isfinite(got)) << "m=" << m << " i=" << i << " r=" << r;
                // same integer sums, different float order: within a few ulps of the magnitude
                ASSERT_LE(std::fabs(double(got) - double(want)), 2e-6 * mag + 1e-30)
                    << backend_name(be_) << " vs scalar, m=" << m << " i=" << i << " r=" << r;
                worst_vs_double = std::max(worst_vs_double, std::fabs(double(got) - exact) / double(k_));
            }
        // activation quantization error only; DESIGN.md: |err|/n <= 0.02 (low-bit 0.04)
        EXPECT_LE(worst_vs_double, low_bit(type_) ? 0.04 : 0.02) << "m=" << m;
    }
}

// The batch-invariance contract (src/cpu/kernels.h): an output row is the
// same bits whatever else shares the product, whichever path (m = 1, tile,
// GEMM) computes it. Each activation row is multiplied alone, then inside
// products of m = 2..17, 64, 512 rows (at several offsets), compared bitwise.
TEST_P(MatmulTest, BatchInvariant) {
    const Weights w = make_weights(type_, n_, k_, 23);
    BackendContext ctx(be_, 2);
    constexpr int64_t kRows = 512 + 3;
    const auto x = make_activations(kRows, k_, 5);
    std::vector<float> alone(size_t(kRows * n_));
    for (int64_t i = 0; i < kRows; ++i) matmul(ctx, x.data() + i * k_, 1, w.view, alone.data() + i * n_);
    std::vector<int64_t> ms;
    for (int64_t m = 2; m <= 17; ++m) ms.push_back(m);
    ms.push_back(64);
    ms.push_back(512);
    for (int64_t m : ms)
        for (int64_t off : {int64_t(0), int64_t(3)}) {
            std::vector<float> y(size_t(m * n_), NAN);
            matmul(ctx, x.data() + off * k_, m, w.view, y.data());
            for (int64_t i = 0; i < m; ++i)
                for (int64_t r = 0; r < n_; ++r) {
                    const float got = y[size_t(i * n_ + r)], want = alone[size_t((off + i) * n_ + r)];
                    ASSERT_EQ(std::memcmp(&got, &want, 4), 0)
                        << backend_name(be_) << " " << type_name(type_) << ": row " << i << " of an m = " << m
                        << " product gives " << got << ", alone " << want << " (output " << r << ")";
                }
        }
}

TEST_P(MatmulTest, SameResultForAnyThreadCount) {
    const Weights w = make_weights(type_, n_, k_, 5);
    for (int64_t m : {1, 7, 40}) {
        const auto x = make_activations(m, k_, 99);
        std::vector<float> y1(size_t(m * n_)), y;
        {
            BackendContext c1(be_, 1);
            matmul(c1, x.data(), m, w.view, y1.data());
        }
        for (int threads : {2, 3, 5}) {
            BackendContext c(be_, threads);
            y.assign(y1.size(), NAN);
            matmul(c, x.data(), m, w.view, y.data());
            ASSERT_EQ(0, std::memcmp(y.data(), y1.data(), y.size() * sizeof(float))) << threads << " threads, m=" << m;
        }
    }
}

TEST_P(MatmulTest, QuantizeOnceApplyToSeveralWeights) {
    const Weights a = make_weights(type_, n_, k_, 1), b = make_weights(type_, 9, k_, 2);
    BackendContext ctx(be_, 2);
    const int64_t m = 3;
    const auto x = make_activations(m, k_, 3);
    const QuantizedActivations xq = quantize_activations(ctx, x.data(), m, k_, activation_type(type_));
    for (const Weights* w : {&a, &b}) {
        std::vector<float> y1(size_t(m * w->view.n)), y2(y1.size());
        matmul(ctx, xq, w->view, y1.data());
        matmul(ctx, x.data(), m, w->view, y2.data());
        EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)));
    }
}

// Several jobs in one run (QKV, gate/up) give exactly the single products,
// whatever the mix of weight types, activation types and batch paths.
TEST_P(MatmulTest, JobsInOneRunEqualSingleProducts) {
    const GgmlType other = k_ % 32 == 0 ? GgmlType::Q8_0 : GgmlType::F16;  // another activation type
    const Weights a = make_weights(type_, n_, k_, 4), b = make_weights(other, 24, k_, 5),
                  c = make_weights(type_, 11, k_, 6);
    BackendContext ctx(be_, 2);
    for (const int64_t m : {1, 5, 40}) {
        const auto x = make_activations(m, k_, 7);
        std::vector<QuantizedActivations> xq;
        for (const Weights* w : {&a, &b, &c})
            xq.push_back(quantize_activations(ctx, x.data(), m, k_, activation_type(w->view.type)));
        std::vector<std::vector<float>> y1, y2;
        std::vector<MatmulJob> jobs;
        for (const Weights* w : {&a, &b, &c}) {
            y1.emplace_back(size_t(m * w->view.n), NAN);
            y2.emplace_back(size_t(m * w->view.n), NAN);
        }
        int i = 0;
        for (const Weights* w : {&a, &b, &c}) {
            jobs.push_back({&xq[size_t(i)], w->view, y1[size_t(i)].data()});
            matmul(ctx, xq[size_t(i)], w->view, y2[size_t(i)].data());
            ++i;
        }
        matmul(ctx, jobs);
        for (size_t j = 0; j < 3; ++j)
            EXPECT_EQ(0, std::memcmp(y1[j].data(), y2[j].data(), y1[j].size() * sizeof(float))) << "job " << j << " m=" << m;
    }
    // a bad job is named, whichever position it has
    std::vector<float> y(size_t(n_) * 2);
    const auto x = make_activations(2, k_, 8);
    const QuantizedActivations wrong = quantize_activations(ctx, x.data(), 2, k_, GgmlType::F32);
    const QuantizedActivations right = quantize_activations(ctx, x.data(), 2, k_, activation_type(type_));
    if (activation_type(type_) != GgmlType::F32) {
        try {
            matmul(ctx, {{&right, a.view, y.data()}, {&wrong, a.view, y.data()}});
            ADD_FAILURE() << "no error for mismatched activations";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(a.view.name), std::string::npos) << e.what();
        }
    }
}

TEST_P(MatmulTest, TransposedViewUsesSamePackedBytes) {
    const Weights w = make_weights(type_, n_, k_, 8);
    BackendContext ctx(be_, 2);
    const int64_t m = 5;
    const auto x = make_activations(m, n_, 4);  // m x n
    std::vector<float> y(size_t(m * k_), NAN);
    matmul(ctx, x.data(), m, transpose(w.view), y.data());
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < k_; ++j) {
            double exact = 0, mag = 0;
            for (int64_t r = 0; r < n_; ++r) {
                exact += double(x[i * n_ + r]) * double(w.deq[r * k_ + j]);
                mag += std::fabs(double(x[i * n_ + r]) * double(w.deq[r * k_ + j]));
            }
            ASSERT_NEAR(y[i * k_ + j], exact, 1e-5 * mag + 1e-30) << "i=" << i << " j=" << j;
        }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, MatmulTest,
                         testing::Combine(testing::ValuesIn(all_backends()),
                                          testing::ValuesIn(weight_types())),
                         param_name);

TEST(MatmulErrors, ClearMessages) {
    Context ctx({Isa::Scalar, 1});
    std::vector<uint8_t> bytes(row_size(GgmlType::Q4_0, 64) * 2);
    WeightView w{GgmlType::Q4_0, 2, 64, row_size(GgmlType::Q4_0, 64), bytes.data(), "blk.0.ffn_up.weight", false};
    std::vector<float> x(64 * 3), y(16);
    // wrong activation type
    const auto xq = quantize_activations(ctx, x.data(), 1, 64, GgmlType::Q8_1);
    try {
        matmul(ctx, xq, w, y.data());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("Q8_0"), std::string::npos) << e.what();
    }
    // k not a multiple of the block size
    WeightView bad = w;
    bad.k = 48;
    try {
        matmul(ctx, x.data(), 1, bad, y.data());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a multiple"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up.weight"), std::string::npos) << e.what();
    }
    // activation width mismatch
    const auto xq2 = quantize_activations(ctx, x.data(), 1, 96, GgmlType::Q8_0);
    EXPECT_THROW(matmul(ctx, xq2, w, y.data()), Error);
    EXPECT_THROW(matmul(ctx, x.data(), 0, w, y.data()), Error);
}

TEST(MatmulErrors, UnsupportedIsaIsAnError) {
    for (Isa i : {Isa::Avx2, Isa::Avx512, Isa::Neon})
        if (!isa_supported(i)) {
            EXPECT_THROW(Context({i, 1}), Error) << isa_name(i);
        }
    EXPECT_NO_THROW(Context({Isa::Scalar, 1}));
    EXPECT_TRUE(isa_supported(best_isa()));
}

}  // namespace
}  // namespace qlm
