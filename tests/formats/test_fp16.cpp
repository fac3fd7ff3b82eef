// Half-precision conversions in formats/common.h: fp16 exhaustively, with
// hand-checked rounding cases, and bf16 spot checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "formats/common.h"

namespace qlm::fmt {
namespace {

bool is_fp16_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }

// Independent decoding from the IEEE definition.
double fp16_value(uint16_t h) {
    const int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    const double sign = (h & 0x8000u) ? -1.0 : 1.0;
    if (exp == 0) return sign * std::ldexp(double(man), -24);
    if (exp == 31) return man ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
    return sign * std::ldexp(1.0 + double(man) / 1024.0, exp - 15);
}

TEST(Fp16Test, EveryHalfDecodesAndRoundTrips) {
    for (uint32_t i = 0; i < 65536; ++i) {
        const auto h = uint16_t(i);
        const float f = fp16_to_fp32(h);
        if (is_fp16_nan(h)) {
            ASSERT_TRUE(std::isnan(f)) << std::hex << i;
            ASSERT_TRUE(is_fp16_nan(fp32_to_fp16(f))) << std::hex << i;  // NaN stays NaN, not inf
            continue;
        }
        ASSERT_EQ(double(f), fp16_value(h)) << std::hex << i;
        ASSERT_EQ(std::signbit(f), bool(h & 0x8000u)) << std::hex << i;  // -0 stays -0
        ASSERT_EQ(fp32_to_fp16(f), h) << std::hex << i;
    }
}

TEST(Fp16Test, RoundsToNearestEven) {
    struct Case {
        float f;
        uint16_t h;
    };
    const Case cases[] = {
        {1.0f, 0x3c00},
        {-2.0f, 0xc000},
        {0.333333343f, 0x3555},                 // 0.33325195 (below) is nearer than 0.33349609
        {1.0f + 0x1p-11f, 0x3c00},              // tie between 0x3c00 and 0x3c01: even
        {1.0f + 3 * 0x1p-11f, 0x3c02},          // tie between 0x3c01 and 0x3c02: even
        {std::nextafter(1.0f + 0x1p-11f, 2.0f), 0x3c01},  // just past the tie: up
        {65504.0f, 0x7bff},                     // largest half
        {65519.0f, 0x7bff},                     // below the 65520 midpoint
        {65520.0f, 0x7c00},                     // tie with 65536 (even): overflows to inf
        {1e6f, 0x7c00},
        {-1e6f, 0xfc00},
        {0x1p-14f, 0x0400},                     // smallest normal
        {0x1p-24f, 0x0001},                     // smallest subnormal
        {0x1p-25f, 0x0000},                     // tie between 0 and 2^-24: even (0)
        {std::nextafter(0x1p-25f, 1.0f), 0x0001},
        {3 * 0x1p-25f, 0x0002},                 // 1.5 * 2^-24: tie, even (2)
        {1023.5f * 0x1p-24f, 0x0400},           // largest subnormal + half: rounds up into the normals
        {1e-10f, 0x0000},
        {-1e-10f, 0x8000},
        {-0.0f, 0x8000},
    };
    for (const Case& c : cases) EXPECT_EQ(fp32_to_fp16(c.f), c.h) << c.f;
    EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7c00);
    EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
    EXPECT_TRUE(is_fp16_nan(fp32_to_fp16(std::numeric_limits<float>::quiet_NaN())));
    EXPECT_TRUE(is_fp16_nan(fp32_to_fp16(f32_from_bits(0x7f800001u))));  // signalling NaN with a low payload
}

// Against the compiler's own float -> _Float16 conversion (correctly rounded,
// independent code), on random bit patterns and on every tie point.
TEST(Fp16Test, MatchesCompilerConversion) {
#if defined(__FLT16_MAX__) && defined(__x86_64__)  // GCC 12 has no C++ _Float16 on AArch64
    std::mt19937 rng(42);
    for (int i = 0; i < 2000000; ++i) {
        const float f = f32_from_bits(rng());
        if (std::isnan(f)) continue;
        const _Float16 h = static_cast<_Float16>(f);
        uint16_t bits;
        std::memcpy(&bits, &h, 2);
        ASSERT_EQ(fp32_to_fp16(f), bits) << f;
    }
    for (uint32_t i = 0; i < 0x7c00; ++i) {  // midpoints between consecutive positive halves
        const float mid = float((fp16_value(uint16_t(i)) + fp16_value(uint16_t(i + 1))) / 2);
        for (const float f : {mid, -mid}) {
            const _Float16 h = static_cast<_Float16>(f);
            uint16_t bits;
            std::memcpy(&bits, &h, 2);
            ASSERT_EQ(fp32_to_fp16(f), bits) << f;
        }
    }
#else
    GTEST_SKIP() << "this compiler has no _Float16 to compare against";
#endif
}

TEST(Bf16Test, RoundsToNearestEvenAndKeepsNaN) {
    EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x3f808000u)), 0x3f80);  // tie: even
    EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x3f818000u)), 0x3f82);  // tie: even (up)
    EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x3f808001u)), 0x3f81);
    EXPECT_EQ(fp32_to_bf16(-2.0f), 0xc000);
    EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
    const uint16_t nan = fp32_to_bf16(f32_from_bits(0x7f800001u));  // payload below bf16's mantissa
    EXPECT_TRUE(std::isnan(bf16_to_fp32(nan)));
    for (uint32_t i = 0; i < 65536; ++i) {
        const float f = bf16_to_fp32(uint16_t(i));
        if (std::isnan(f)) continue;
        ASSERT_EQ(fp32_to_bf16(f), uint16_t(i)) << std::hex << i;
    }
}

}  // namespace
}  // namespace qlm::fmt
