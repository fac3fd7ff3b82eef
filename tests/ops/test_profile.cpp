// Per-op profile (qlm/profile.h): off by default, on through ContextOptions or
// set_profiling; each op is one entry keyed by its detail, matmuls by weight
// (layers folded), type, shape and path; reset clears.
#include <gtest/gtest.h>

#include <vector>

#include "qlm/ops.h"
#include "qlm/profile.h"

namespace qlm {
namespace {

const ProfileEntry* find(const std::vector<ProfileEntry>& v, const std::string& op, const std::string& detail) {
    for (const auto& e : v)
        if (e.op == op && e.detail == detail) return &e;
    return nullptr;
}

TEST(Profile, CountsOpsByDetail) {
    Context ctx({Isa::Scalar, 2});
    std::vector<float> x(64 * 3, 0.5f), y(64 * 3), wf(64 * 8, 0.25f), out(3 * 8);
    std::vector<uint8_t> wq(row_size(GgmlType::Q8_0, 64) * 8);
    for (int r = 0; r < 8; ++r) quantize_row(GgmlType::Q8_0, wf.data() + r * 64, wq.data() + r * row_size(GgmlType::Q8_0, 64), 64);
    const WeightView w{GgmlType::Q8_0, 8, 64, row_size(GgmlType::Q8_0, 64), wq.data(), "blk.17.ffn_up.weight", false};

    rms_norm(ctx, x.data(), nullptr, y.data(), 3, 64, 1e-6f);
    EXPECT_TRUE(profile_entries(ctx).empty()) << "profiling is off by default";

    set_profiling(ctx, true);
    for (int i = 0; i < 2; ++i) {
        rms_norm(ctx, x.data(), nullptr, y.data(), 3, 64, 1e-6f);
        matmul(ctx, x.data(), 3, w, out.data());
    }
    matmul(ctx, x.data(), 1, w, out.data());
    const auto v = profile_entries(ctx);
    const ProfileEntry* norm = find(v, "rms_norm", "n = 64");
    ASSERT_NE(norm, nullptr);
    EXPECT_EQ(norm->calls, 2);
    EXPECT_EQ(norm->rows, 6);
    const ProfileEntry* mm = find(v, "matmul", "blk.*.ffn_up.weight Q8_0 8x64 tile");
    ASSERT_NE(mm, nullptr) << "matmul entries are keyed by folded weight name, type, shape, path";
    EXPECT_EQ(mm->calls, 2);
    const ProfileEntry* m1 = find(v, "matmul", "blk.*.ffn_up.weight Q8_0 8x64 m=1");
    ASSERT_NE(m1, nullptr);
    EXPECT_EQ(m1->calls, 1);
    EXPECT_NE(find(v, "quantize", "to Q8_0, k = 64"), nullptr);
    for (const auto& e : v) EXPECT_GE(e.seconds, 0.0) << e.op;
    for (size_t i = 1; i < v.size(); ++i) EXPECT_GE(v[i - 1].seconds, v[i].seconds) << "sorted by time";

    reset_profile(ctx);
    EXPECT_TRUE(profile_entries(ctx).empty());
    set_profiling(ctx, false);
    rms_norm(ctx, x.data(), nullptr, y.data(), 3, 64, 1e-6f);
    EXPECT_TRUE(profile_entries(ctx).empty());

    Context on({Isa::Scalar, 1, true});
    rms_norm(on, x.data(), nullptr, y.data(), 3, 64, 1e-6f);
    EXPECT_EQ(profile_entries(on).size(), 1u) << "ContextOptions::profile turns it on";
}

}  // namespace
}  // namespace qlm
