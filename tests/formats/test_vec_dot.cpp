// Reference vec_dot of every type against its activation partner.
#include <gtest/gtest.h>

#include <cmath>

#include "format_test_util.h"

namespace qlm::test {
namespace {

struct DotCase {
    std::vector<float> w, a;      // the original floats
    std::vector<uint8_t> qw, qa;  // w quantized to the type, a to its partner
};

DotCase make_case(GgmlType t, std::vector<float> w, std::vector<float> a) {
    DotCase c{std::move(w), std::move(a), {}, {}};
    c.qw = quantize(t, c.w);
    c.qa = quantize(type_info(t).vec_dot_type, c.a);
    return c;
}

// Rows with different means and spreads, so the min/offset terms of the
// affine types (Q4_1, Q2_K, Q4_K, ...) carry real weight.
std::vector<float> varied_row(int64_t n, uint32_t seed) {
    const double mean = 0.3 * double(int(seed % 5) - 2), stddev = 0.25 + 0.5 * double(seed % 4);
    return normal_data(n, seed, mean, stddev);
}

class VecDotTest : public ::testing::TestWithParam<GgmlType> {};

// Q8_1 stores s = d * sum(q) in fp16, from the unrounded d, and vec_dot of
// Q4_1/Q5_1 folds the weight's min in as m * s. Two fp16 roundings (of s and
// of the stored d) let that differ from the dequantized block's sum by up to
// 2^-10 of it, so the result may move by |m| * |sum| * 2^-10 per block.
double q8_1_sum_slack(GgmlType partner, const std::vector<float>& w1, const std::vector<float>& a1) {
    if (partner != GgmlType::Q8_1) return 0.0;
    double wmax = 0, slack = 0;
    for (float v : w1) wmax = std::fmax(wmax, std::fabs(v));  // bounds |m|
    for (size_t b = 0; b < a1.size(); b += 32) {
        double s = 0;
        for (size_t i = b; i < b + 32; ++i) s += a1[i];
        slack += wmax * std::fabs(s) * 0x1p-10;
    }
    return slack;
}

// (c) vec_dot on the packed rows against a double-precision dot of the same
// rows dequantized: it must compute exactly what the bytes mean. llama.cpp's
// bound |err|/n is loose for this (it allows whole-percent errors), so each
// result is also held to 1e-5 of sum |w' a'|, far above float rounding of the
// per-block sums yet far below any misread element, scale or min.
TEST_P(VecDotTest, MatchesDotOfDequantizedRows) {
    const GgmlType t = GetParam();
    const GgmlType partner = type_info(t).vec_dot_type;
    for (const int64_t n : {int64_t(4096), int64_t(256 * 3)}) {
        for (uint32_t row = 0; row < 6; ++row) {
            const DotCase c = make_case(t, varied_row(n, 100 + row), varied_row(n, 200 + row));
            const auto w1 = dequantize(t, c.qw, n), a1 = dequantize(partner, c.qa, n);
            double ref = 0, mag = 0;
            for (int64_t i = 0; i < n; ++i) {
                ref += double(w1[size_t(i)]) * a1[size_t(i)];
                mag += std::fabs(double(w1[size_t(i)]) * a1[size_t(i)]);
            }
            const double got = vec_dot(t, n, c.qw.data(), c.qa.data());
            EXPECT_LE(std::fabs(got - ref) / double(n), dot_bound(t)) << type_name(t) << " n " << n << " row " << row;
            EXPECT_LE(std::fabs(got - ref), 1e-5 * mag + q8_1_sum_slack(partner, w1, a1))
                << type_name(t) << " n " << n << " row " << row;
        }
    }
}

// (d) llama.cpp's end-to-end check: quantize both operands (weight to the
// type, activation to the partner), dot, and compare with the float dot of the
// original data. The weight's and the partner's quantization errors both count.
TEST_P(VecDotTest, CloseToDotOfOriginalFloats) {
    const GgmlType t = GetParam();
    const int64_t n = 4096;
    std::vector<DotCase> cases;
    for (const float offset : {0.0f, 0.5f, 2.0f})
        cases.push_back(make_case(t, cos_data(n, offset), cos_data(n, offset + 1.0f)));
    // N(0, 1) rows: the error is then ~rel_rmse / sqrt(n) (Q2_K ~0.004), far
    // enough below the bound that another seed cannot fail by chance.
    for (uint32_t row = 0; row < 3; ++row)
        cases.push_back(make_case(t, normal_data(n, 300 + row), normal_data(n, 400 + row)));
    for (size_t k = 0; k < cases.size(); ++k) {
        const DotCase& c = cases[k];
        double ref = 0;
        for (int64_t i = 0; i < n; ++i) ref += double(c.w[size_t(i)]) * c.a[size_t(i)];
        const double got = vec_dot(t, n, c.qw.data(), c.qa.data());
        EXPECT_LE(std::fabs(got - ref) / double(n), dot_bound(t)) << type_name(t) << " case " << k;
    }
}

// A dot is linear in the activation: negating it negates the result exactly
// (the partner quantizers are sign-symmetric), and a one-hot activation picks
// out the dequantized weight times the partner's value (this pins the
// element order: a vec_dot reading element j from the wrong nibble fails).
TEST_P(VecDotTest, SignSymmetricAndPicksSingleElements) {
    const GgmlType t = GetParam();
    const GgmlType partner = type_info(t).vec_dot_type;
    const int64_t n = 512;
    const auto w = varied_row(n, 7);
    auto a = varied_row(n, 8);
    const auto qw = quantize(t, w);
    const float pos = vec_dot(t, n, qw.data(), quantize(partner, a).data());
    for (float& v : a) v = -v;
    const float neg = vec_dot(t, n, qw.data(), quantize(partner, a).data());
    EXPECT_EQ(pos, -neg) << type_name(t);

    const auto w1 = dequantize(t, qw, n);
    double wmax = 0;  // tolerance scale: w' = d*sc*q - dmin*m may cancel to ~0
    for (float v : w1) wmax = std::fmax(wmax, std::fabs(v));
    for (const int64_t i : {0, 15, 16, 33, 130, 255, 300, 511}) {
        std::vector<float> hot(size_t(n), 0.0f);
        hot[size_t(i)] = 1.0f;
        const auto qa = quantize(partner, hot);
        const auto a1 = dequantize(partner, qa, n);
        EXPECT_NEAR(vec_dot(t, n, qw.data(), qa.data()), double(w1[size_t(i)]) * a1[size_t(i)],
                    1e-5 * wmax + q8_1_sum_slack(partner, w1, a1))
            << type_name(t) << " element " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, VecDotTest, ::testing::ValuesIn(quantizable_types()), type_param_name);

}  // namespace
}  // namespace qlm::test
