// The low-bit IQ and ternary formats (read-only types): the reference vec_dot
// against the double-precision dot of the dequantized rows (dequantization
// itself is checked bit for bit against gguf.quants in tests/oracle), corrupt
// scales, and the refusal to quantize.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "format_test_util.h"
#include "formats/common.h"
#include "qlm/error.h"
#include "random_blocks.h"

namespace qlm::test {
namespace {

const GgmlType kReadOnly[] = {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S,
                              GgmlType::IQ3_XXS, GgmlType::IQ3_S,  GgmlType::IQ1_S,
                              GgmlType::IQ1_M,   GgmlType::TQ1_0,  GgmlType::TQ2_0};

class ReadOnlyTypeTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(ReadOnlyTypeTest, VecDotEqualsDotOfDequantizedRows) {
    const GgmlType t = GetParam();
    constexpr int64_t k = 256 * 6;
    for (uint32_t seed = 1; seed <= 8; ++seed) {
        const auto w = random_rows(t, 1, k, seed);
        const auto x = normal_data(k, seed + 100);
        const auto xq = quantize(GgmlType::Q8_K, x);
        const auto wd = dequantize(t, w, k), xd = dequantize(GgmlType::Q8_K, xq, k);
        double exact = 0, mag = 0;
        for (int64_t j = 0; j < k; ++j) {
            exact += double(wd[size_t(j)]) * xd[size_t(j)];
            mag += std::fabs(double(wd[size_t(j)]) * xd[size_t(j)]);
        }
        ASSERT_GT(mag, 1.0) << "test rows must not vanish";
        const float got = vec_dot(t, k, w.data(), xq.data());
        // integer sums are exact; only the per-block float scaling rounds
        EXPECT_NEAR(got, exact, 1e-6 * mag) << type_name(t) << " seed " << seed;
    }
}

// Every field but d takes any bit pattern (each index has a grid entry), so
// a corrupt block can only carry a bad d: NaN / Inf make that block's values
// NaN / Inf (or 0 where the code is 0) and leave the other blocks alone.
TEST_P(ReadOnlyTypeTest, NonFiniteScalesStayInTheirBlock) {
    const GgmlType t = GetParam();
    const size_t bs = type_info(t).type_size;
    constexpr int64_t k = 256 * 3;
    for (uint16_t bad : {uint16_t(0x7c00), uint16_t(0xfc00), uint16_t(0x7e00), uint16_t(0x7bff)}) {
        auto w = random_rows(t, 1, k, 7);
        set_block_d(t, w.data() + bs, bad);  // block 1 of 3
        const auto y = dequantize(t, w, k);
        for (int64_t j = 0; j < k; ++j) {
            const bool in_bad = j >= 256 && j < 512;
            if (!in_bad || bad == 0x7bff)
                ASSERT_TRUE(std::isfinite(y[size_t(j)])) << type_name(t) << " j=" << j;
            else
                ASSERT_TRUE(!std::isfinite(y[size_t(j)]) || y[size_t(j)] == 0.0f) << type_name(t) << " j=" << j;
        }
        const auto xq = quantize(GgmlType::Q8_K, normal_data(k, 3));
        const float d = vec_dot(t, k, w.data(), xq.data());
        if (bad == 0x7bff)
            EXPECT_TRUE(std::isfinite(d));
        else
            EXPECT_FALSE(std::isfinite(d)) << type_name(t);
    }
}

TEST_P(ReadOnlyTypeTest, QuantizingIsAClearError) {
    const GgmlType t = GetParam();
    EXPECT_FALSE(can_quantize(t));
    std::vector<float> x(256, 1.0f);
    std::vector<uint8_t> q(type_info(t).type_size);
    try {
        quantize_row(t, x.data(), q.data(), 256);
        FAIL() << "quantize_row(" << type_name(t) << ") did not throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(type_name(t)), std::string::npos) << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(LowBit, ReadOnlyTypeTest, ::testing::ValuesIn(kReadOnly), type_param_name);

}  // namespace
}  // namespace qlm::test
