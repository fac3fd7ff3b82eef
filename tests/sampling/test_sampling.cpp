// src/sampling: the log-sum-exp of a logits row on each ISA's vectorised
// exp-sum against a long-double formula, the k best tokens against a full
// sort, and the logit-bias stage of the chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "qlm/error.h"
#include "qlm/ops.h"
#include "qlm/sampler.h"

namespace qlm {
namespace {

long double lse_reference(const std::vector<float>& row) {
    long double mx = row[0];
    for (float v : row) mx = std::max<long double>(mx, v);
    long double sum = 0;
    for (float v : row) sum += std::exp(static_cast<long double>(v) - mx);
    return mx + std::log(sum);
}

class SamplingIsa : public testing::TestWithParam<Isa> {};

TEST_P(SamplingIsa, LogSumExpMatchesLongDouble) {
    const Isa isa = GetParam();
    if (!isa_supported(isa)) GTEST_SKIP() << isa_name(isa) << " not supported here";
    Context ctx(ContextOptions{isa, 1});
    std::mt19937 rng(7);
    std::vector<float> scratch;
    for (int64_t n : {1, 7, 64, 1000, 262144}) {
        for (float scale : {0.1f, 5.0f, 40.0f}) {
            std::normal_distribution<float> d(0.0f, scale);
            std::vector<float> row(static_cast<size_t>(n));
            for (float& v : row) v = d(rng);
            const double got = log_sum_exp(ctx, row.data(), n, scratch);
            const long double want = lse_reference(row);
            EXPECT_NEAR(got, double(want), 2e-5 * std::max(1.0, std::fabs(double(want))))
                << "n " << n << " scale " << scale;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Isas, SamplingIsa, testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon),
                         [](const testing::TestParamInfo<Isa>& p) { return std::string(isa_name(p.param)); });

TEST(Sampling, TopLogprobsAreTheKBestInOrder) {
    std::mt19937 rng(3);
    std::vector<TokenLogprob> out;
    for (int trial = 0; trial < 200; ++trial) {
        const int64_t n = 1 + int64_t(rng() % 300);
        std::vector<float> row(static_cast<size_t>(n));
        for (float& v : row) v = float(int(rng() % 9)) * 0.5f;  // many ties
        const int k = int(rng() % 25);
        const double lse = 3.25;
        top_logprobs(row.data(), n, k, lse, out);
        std::vector<int32_t> ids(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = int32_t(i);
        std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
        const size_t want = std::min<size_t>(size_t(k), size_t(n));
        ASSERT_EQ(out.size(), want) << "trial " << trial;
        for (size_t j = 0; j < want; ++j) {
            EXPECT_EQ(out[j].token, ids[j]) << "trial " << trial << " rank " << j;
            EXPECT_FLOAT_EQ(out[j].logprob, float(double(row[size_t(ids[j])]) - lse));
        }
    }
}

TEST(Sampling, LogitBiasComesFirstInTheChain) {
    const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f};
    SamplerOptions o;
    o.temp = 0;
    Sampler plain(o);
    EXPECT_EQ(plain.biased(logits.data(), 4), logits.data());  // no bias: the row itself
    EXPECT_EQ(plain.sample(logits.data(), 4), 1);
    o.logit_bias = {{1, -100.0f}, {3, 2.0f}};
    Sampler s(o);
    const float* b = s.biased(logits.data(), 4);
    ASSERT_NE(b, logits.data());
    EXPECT_FLOAT_EQ(b[0], 1.0f);
    EXPECT_FLOAT_EQ(b[1], -97.0f);
    EXPECT_FLOAT_EQ(b[3], 2.5f);
    EXPECT_EQ(s.sample(b, 4), 3);
    EXPECT_EQ(logits[1], 3.0f);  // the input row is untouched
    o.logit_bias = {{-1, 1.0f}};
    EXPECT_THROW(Sampler{o}, Error);
    o.logit_bias = {{0, NAN}};
    EXPECT_THROW(Sampler{o}, Error);
}

}  // namespace
}  // namespace qlm
