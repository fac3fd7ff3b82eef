// The transformer-block ops against straightforward double-precision versions
// of their textbook formulas (RMSNorm, RoPE in both layouts, GELU-tanh, SiLU,
// causal / sliding-window grouped-query attention), on every thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/kernels.h"
#include "formats/common.h"
#include "ops/context_impl.h"
#include "qlm/error.h"
#include "qlm/ops.h"
#include "qlm/sampler.h"
#include "randn.h"

namespace qlm {
namespace {

// Every instruction set this CPU runs, on 1..3 threads.
using LayerParam = std::pair<Isa, int>;
class Layers : public ::testing::TestWithParam<LayerParam> {
protected:
    Context ctx{ContextOptions{GetParam().first, GetParam().second}};
};

std::vector<LayerParam> layer_params() {
    std::vector<LayerParam> v;
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon})
        if (isa_supported(isa))
            for (int t : {1, 2, 3}) v.push_back({isa, t});
    return v;
}

TEST_P(Layers, RmsNorm) {
    const int64_t rows = 37, n = 640;
    auto x = randn(size_t(rows * n), 1, 3.0f), w = randn(size_t(n), 2);
    std::vector<float> y(x.size());
    rms_norm(ctx, x.data(), w.data(), y.data(), rows, n, 1e-6f);
    for (int64_t r = 0; r < rows; ++r) {
        double ss = 0;
        for (int64_t j = 0; j < n; ++j) ss += double(x[size_t(r * n + j)]) * x[size_t(r * n + j)];
        const double s = 1.0 / std::sqrt(ss / n + 1e-6);
        for (int64_t j = 0; j < n; ++j)
            ASSERT_NEAR(y[size_t(r * n + j)], x[size_t(r * n + j)] * s * w[size_t(j)],
                        1e-5 * std::abs(x[size_t(r * n + j)] * s * w[size_t(j)]) + 1e-6);
    }
    // In place gives the same.
    rms_norm(ctx, x.data(), w.data(), x.data(), rows, n, 1e-6f);
    EXPECT_EQ(x, y);
}

void rope_reference(std::vector<double>& x, int64_t rows, int heads, int hd, const std::vector<int32_t>& pos,
                    RopeLayout layout, int n_dims, double base, double scale) {
    for (int64_t r = 0; r < rows; ++r)
        for (int h = 0; h < heads; ++h) {
            double* v = &x[size_t((r * heads + h) * hd)];
            for (int i = 0; i < n_dims / 2; ++i) {
                const double th = pos[size_t(r)] * scale * std::pow(base, -2.0 * i / n_dims);
                const int a = layout == RopeLayout::Normal ? 2 * i : i;
                const int b = layout == RopeLayout::Normal ? 2 * i + 1 : i + n_dims / 2;
                const double x0 = v[a], x1 = v[b];
                v[a] = x0 * std::cos(th) - x1 * std::sin(th);
                v[b] = x0 * std::sin(th) + x1 * std::cos(th);
            }
        }
}

TEST_P(Layers, RopeBothLayouts) {
    const int64_t rows = 9;
    const int heads = 3, hd = 64;
    std::vector<int32_t> pos = {0, 1, 2, 7, 100, 511, 4095, 30000, 131071};
    for (RopeLayout layout : {RopeLayout::Normal, RopeLayout::Neox})
        for (int n_dims : {64, 32}) {
            auto x = randn(size_t(rows * heads * hd), 3);
            std::vector<double> ref(x.begin(), x.end());
            RopeParams p;
            p.layout = layout, p.n_dims = n_dims, p.freq_base = 1e6f, p.freq_scale = 0.25f;
            rope(ctx, x.data(), rows, heads, hd, pos.data(), p);
            rope_reference(ref, rows, heads, hd, pos, layout, n_dims, 1e6, 0.25);
            // The angles are evaluated in float like llama.cpp (pos · s^i by
            // repeated multiplication): pair i's angle carries a relative
            // error of about (i + 2) float roundings, so the bound grows with
            // the angle; small positions must be nearly exact.
            for (int64_t r = 0; r < rows; ++r)
                for (int h = 0; h < heads; ++h)
                    for (int i = 0; i < n_dims / 2; ++i) {
                        const double angle = pos[size_t(r)] * 0.25 * std::pow(1e6, -2.0 * i / n_dims);
                        const double tol = (angle * (i + 3) * 1.2e-7 + 2e-6) * 8;
                        const int a = layout == RopeLayout::Normal ? 2 * i : i;
                        const int b = layout == RopeLayout::Normal ? 2 * i + 1 : i + n_dims / 2;
                        for (int e : {a, b}) {
                            const size_t at = size_t((r * heads + h) * hd + e);
                            ASSERT_NEAR(x[at], ref[at], tol) << "pos " << pos[size_t(r)] << " pair " << i;
                        }
                    }
            // Dimensions past n_dims are untouched.
            if (n_dims < hd) {
                auto y = randn(size_t(rows * heads * hd), 3);
                for (int64_t r = 0; r < rows; ++r)
                    for (int h = 0; h < heads; ++h)
                        for (int e = n_dims; e < hd; ++e)
                            ASSERT_EQ(x[size_t((r * heads + h) * hd + e)], y[size_t((r * heads + h) * hd + e)]);
            }
        }
}

// YaRN (gpt-oss): per pair the angle blends the interpolated and the original
// angle by a ramp between the correction dimensions, and cos/sin gain
// 1 + 0.1 ln(1/scale), against the formula evaluated in double.
TEST_P(Layers, RopeYarn) {
    const int64_t rows = 5;
    const int heads = 2, hd = 64, n_dims = 64;
    std::vector<int32_t> pos = {0, 3, 40, 1000, 20000};
    for (int64_t orig : {4096, 256}) {
        auto x = randn(size_t(rows * heads * hd), 4);
        const std::vector<float> x0 = x;
        RopeParams p;
        p.layout = RopeLayout::Neox, p.n_dims = n_dims, p.freq_base = 150000.0f, p.freq_scale = 1.0f / 32;
        p.ext_factor = 1.0f, p.n_ctx_orig = orig, p.attn_factor = 0.9f;
        rope(ctx, x.data(), rows, heads, hd, pos.data(), p);
        auto corr = [&](double n_rot) { return n_dims * std::log(orig / (n_rot * 2 * M_PI)) / (2 * std::log(150000.0)); };
        const double lo = std::max(0.0, std::floor(corr(32))), hi = std::min(double(n_dims - 1), std::ceil(corr(1)));
        const double mscale = 0.9 * (1 + 0.1 * std::log(32.0));
        for (int64_t r = 0; r < rows; ++r)
            for (int h = 0; h < heads; ++h)
                for (int i = 0; i < n_dims / 2; ++i) {
                    const double extrap = pos[size_t(r)] * std::pow(150000.0, -2.0 * i / n_dims);
                    const double ramp = 1 - std::min(1.0, std::max(0.0, (i - lo) / std::max(0.001, hi - lo)));
                    const double th = extrap / 32 * (1 - ramp) + extrap * ramp;
                    const size_t a = size_t((r * heads + h) * hd + i), b = a + n_dims / 2;
                    const double ra = (x0[a] * std::cos(th) - x0[b] * std::sin(th)) * mscale;
                    const double rb = (x0[a] * std::sin(th) + x0[b] * std::cos(th)) * mscale;
                    const double tol = (extrap * (i + 3) * 1.2e-7 + 2e-6) * 8;
                    ASSERT_NEAR(x[a], ra, tol) << "orig " << orig << " pos " << pos[size_t(r)] << " pair " << i;
                    ASSERT_NEAR(x[b], rb, tol) << "orig " << orig << " pos " << pos[size_t(r)] << " pair " << i;
                }
    }
}

TEST_P(Layers, SwigluOai) {
    auto g = randn(1000, 5), u = randn(1000, 6);
    for (size_t i = 0; i < g.size(); ++i) g[i] *= 6.0f, u[i] *= 6.0f;  // reach the clamps
    std::vector<float> out = g;
    swiglu_oai_mul(ctx, out.data(), u.data(), int64_t(out.size()), 1.702f, 7.0f);
    for (size_t i = 0; i < g.size(); ++i) {
        const double x = std::min(double(g[i]), 7.0), y = std::clamp(double(u[i]), -7.0, 7.0);
        const double ref = x / (1 + std::exp(-1.702 * x)) * (y + 1);
        ASSERT_NEAR(out[i], ref, 1e-5 * std::max(1.0, std::abs(ref))) << "g " << g[i] << " u " << u[i];
    }
}

TEST_P(Layers, RopeRejectsBadDims) {
    std::vector<float> x(64);
    std::vector<int32_t> pos = {0};
    RopeParams p;
    p.n_dims = 65;
    EXPECT_THROW(rope(ctx, x.data(), 1, 1, 64, pos.data(), p), Error);
}

TEST_P(Layers, Activations) {
    auto g = randn(10000, 4, 4.0f), u = randn(10000, 5);
    g[0] = -10.0f, g[1] = 10.0f, g[2] = -30.0f, g[3] = 25.0f, g[4] = 0.0f;
    auto x0 = g, g2 = g;
    gelu_tanh_mul(ctx, g.data(), u.data(), int64_t(g.size()));
    silu_mul(ctx, g2.data(), u.data(), int64_t(g2.size()));
    for (size_t i = 0; i < g.size(); ++i) {
        const double x = x0[i];
        const double gelu = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        const double silu = x / (1 + std::exp(-x));
        // GELU goes through an F16 table (input and result rounded to F16,
        // as llama.cpp does): two half-precision roundings, 2^-11 each.
        if (std::abs(x) >= 10)
            ASSERT_EQ(g[i], float(x >= 10 ? x0[i] * u[i] : 0.0f)) << x;
        else
            ASSERT_NEAR(g[i], gelu * u[i], (2.5e-3 * (std::abs(x) + std::abs(gelu)) + 1e-7) * std::abs(u[i])) << x;
        ASSERT_NEAR(g2[i], silu * u[i], 1e-5 * (1 + std::abs(silu * u[i]))) << x;
    }
}

struct AttnCase {
    int n_head, n_kv, dk, dv, window;
    GgmlType kv;
};

TEST_P(Layers, AttentionMatchesDouble) {
    for (AttnCase c : {AttnCase{4, 1, 256, 256, 0, GgmlType::F16}, AttnCase{8, 2, 64, 32, 0, GgmlType::F32},
                       AttnCase{4, 4, 32, 32, 5, GgmlType::F16}, AttnCase{6, 3, 16, 48, 1, GgmlType::F32},
                       AttnCase{16, 2, 32, 32, 0, GgmlType::F16}, AttnCase{7, 1, 32, 16, 3, GgmlType::F16}})
    // 11 queries make tasks of 4, 4 and 3; 6 of 4 and 2; 1 a decode step (its
    // query heads in tasks of up to 4 per kv head: groups of 8 and 7 split)
    for (const int64_t n_tok : {11, 6, 1})
    for (const bool with_sinks : {false, true}) {
        const int64_t n_pos = 23;  // queries at the last n_tok positions
        const size_t es = c.kv == GgmlType::F16 ? 2 : 4;
        auto kf = randn(size_t(c.n_kv * n_pos * c.dk), 6), vf = randn(size_t(c.n_kv * n_pos * c.dv), 7);
        auto q = randn(size_t(n_tok * c.n_head * c.dk), 8);
        std::vector<uint8_t> kb(kf.size() * es), vb(vf.size() * es);
        // Stored values, as the cache holds them.
        for (size_t i = 0; i < kf.size(); ++i) {
            if (es == 2) {
                const uint16_t h = fmt::fp32_to_fp16(kf[i]);
                std::memcpy(&kb[i * 2], &h, 2), kf[i] = fmt::fp16_to_fp32(h);
            } else {
                std::memcpy(&kb[i * 4], &kf[i], 4);
            }
        }
        for (size_t i = 0; i < vf.size(); ++i) {
            if (es == 2) {
                const uint16_t h = fmt::fp32_to_fp16(vf[i]);
                std::memcpy(&vb[i * 2], &h, 2), vf[i] = fmt::fp16_to_fp32(h);
            } else {
                std::memcpy(&vb[i * 4], &vf[i], 4);
            }
        }
        KvView k{c.kv, kb.data(), size_t(c.dk) * es, size_t(n_pos * c.dk) * es, n_pos};
        KvView v{c.kv, vb.data(), size_t(c.dv) * es, size_t(n_pos * c.dv) * es, n_pos};
        std::vector<int32_t> pos(static_cast<size_t>(n_tok));
        for (int64_t i = 0; i < n_tok; ++i) pos[size_t(i)] = int32_t(n_pos - n_tok + i);
        const float scale = 1.0f / std::sqrt(float(c.dk));
        // Sinks (gpt-oss): one logit per head beside the scores in each softmax.
        auto sinks = randn(size_t(c.n_head), 9);
        for (auto& x : sinks) x *= 2.0f;
        AttentionShape s{c.n_head, c.n_kv, c.dk, c.dv, scale, c.window, with_sinks ? sinks.data() : nullptr};
        std::vector<float> out(size_t(n_tok * c.n_head * c.dv));
        attention(ctx, q.data(), n_tok, pos.data(), k, v, s, out.data());
        for (int64_t i = 0; i < n_tok; ++i)
            for (int h = 0; h < c.n_head; ++h) {
                const int kvh = h / (c.n_head / c.n_kv);
                std::vector<double> sc;
                const int64_t lo = c.window ? std::max<int64_t>(0, pos[size_t(i)] - c.window + 1) : 0;
                double mx = -1e300;
                for (int64_t j = lo; j <= pos[size_t(i)]; ++j) {
                    double d = 0;
                    for (int e = 0; e < c.dk; ++e)
                        d += double(q[size_t((i * c.n_head + h) * c.dk + e)]) * kf[size_t((kvh * n_pos + j) * c.dk + e)];
                    sc.push_back(d * scale);
                    mx = std::max(mx, sc.back());
                }
                if (with_sinks) mx = std::max(mx, double(sinks[size_t(h)]));
                double sum = with_sinks ? std::exp(double(sinks[size_t(h)]) - mx) : 0.0;
                for (double& x : sc) sum += x = std::exp(x - mx);
                for (int e = 0; e < c.dv; ++e) {
                    double o = 0;
                    for (size_t j = 0; j < sc.size(); ++j) o += sc[j] / sum * vf[size_t((kvh * n_pos + lo + int64_t(j)) * c.dv + e)];
                    // F16 cache: q and the probabilities are rounded to F16
                    // (llama.cpp's numbers), ~2^-11 relative.
                    ASSERT_NEAR(out[size_t((i * c.n_head + h) * c.dv + e)], o, c.kv == GgmlType::F16 ? 3e-3 : 1e-5)
                        << "head " << h << " query " << i << " dim " << e << " window " << c.window << " sinks "
                        << with_sinks;
                }
            }
    }
}

// The attention kernels' contract (cpu/kernels.h): a query's scores and
// weighted sums are the same bits whether it runs alone or with others.
TEST_P(Layers, AttentionKernelsDoNotDependOnQueryCount) {
    const cpu::KernelTable& t = *ctx.impl().table;
    if (!t.attn_scores || !t.attn_wsum) GTEST_SKIP() << "no attention kernels in this table";
    for (const int d : {256, 40, 20}) {
        const int64_t n = 29;  // not a multiple of any key block
        auto q = randn(size_t(cpu::kAttnQ * d), 41), kf = randn(size_t(n * d), 42), p = randn(size_t(cpu::kAttnQ * n), 43);
        std::vector<uint16_t> kh(kf.size());
        for (size_t i = 0; i < kf.size(); ++i) kh[i] = fmt::fp32_to_fp16(kf[i]);
        for (const bool f16 : {true, false}) {
            const cpu::KvRows rows{f16 ? static_cast<const void*>(kh.data()) : kf.data(), d, f16};
            for (int nq = 1; nq <= cpu::kAttnQ; ++nq) {
                std::vector<float> s(size_t(nq * n)), o(size_t(nq * d), 0.5f);
                t.attn_scores(q.data(), nq, d, rows, n, d, 0.125f, s.data(), n);
                t.attn_wsum(p.data(), nq, n, rows, n, d, o.data(), d);
                for (int i = 0; i < nq; ++i) {
                    std::vector<float> s1(static_cast<size_t>(n)), o1(static_cast<size_t>(d), 0.5f);
                    t.attn_scores(q.data() + i * d, 1, d, rows, n, d, 0.125f, s1.data(), n);
                    t.attn_wsum(p.data() + i * n, 1, n, rows, n, d, o1.data(), d);
                    for (int64_t j = 0; j < n; ++j)
                        ASSERT_EQ(s[size_t(i * n + j)], s1[size_t(j)]) << "d " << d << " nq " << nq << " query " << i << " key " << j;
                    for (int e = 0; e < d; ++e)
                        ASSERT_EQ(o[size_t(i * d + e)], o1[size_t(e)]) << "d " << d << " nq " << nq << " query " << i << " dim " << e;
                }
            }
        }
    }
}

// The softmax numerator kernel: exp(x - max) within a few ulp of the double
// formula, the sum in double.
TEST_P(Layers, ExpSumMatchesDouble) {
    const cpu::KernelTable& t = *ctx.impl().table;
    const cpu::ExpSumFn f = t.exp_sum ? t.exp_sum : cpu::scalar_kernels().exp_sum;
    for (const int64_t n : {1, 7, 8, 37, 512}) {
        std::vector<float> x = randn(size_t(n), uint32_t(50 + n), 12.0f), y = x;
        float got_max = 0;
        const double sum = f(y.data(), n, &got_max);
        float mx = -INFINITY;
        double want = 0;
        for (float v : x) mx = std::max(mx, v);
        ASSERT_EQ(got_max, mx) << "n " << n;
        for (int64_t j = 0; j < n; ++j) {
            const double e = std::exp(double(x[size_t(j)] - mx));  // the difference in float, as the op takes it
            want += e;
            ASSERT_NEAR(y[size_t(j)], e, 1e-6 * e + 1e-37) << "n " << n << " j " << j << " x " << x[size_t(j)];
        }
        ASSERT_NEAR(sum, want, 1e-6 * want) << "n " << n;
    }
}

// The F16 rounding of attention's inputs and the F16 KV cache store are the
// reference rounding (nearest, ties to even) on every instruction set: normal values, ties, subnormals,
// overflow to infinity, signed zeros, infinities and NaN.
TEST_P(Layers, RoundF16IsTheReferenceRounding) {
    const cpu::RoundF16Fn f = ctx.impl().table->round_f16;
    if (!f) GTEST_SKIP() << "no round_f16 kernel: the scalar one is used";
    std::vector<float> x = randn(4000, 31, 3.0f);
    std::mt19937 rng(5);
    for (int i = 0; i < 2000; ++i) {  // exact halfway points between binary16 neighbours, normal and subnormal
        const uint16_t h = uint16_t(rng() & 0x7bff);
        const float a = fmt::fp16_to_fp32(h), b = fmt::fp16_to_fp32(uint16_t(h + 1));
        x.push_back((i % 2 ? -0.5f : 0.5f) * (a + b));
    }
    for (float e = -30; e <= 17; e += 0.25f) x.push_back(std::ldexp(1.337f, int(e)));
    for (float v : {0.0f, -0.0f, 65504.0f, 65519.0f, 65520.0f, 1e30f, -1e30f, 5.96e-8f, 2.98e-8f, 2.99e-8f,
                    INFINITY, -INFINITY, NAN})
        x.push_back(v);
    std::vector<uint16_t> h(x.size());
    to_f16(ctx, x.data(), h.data(), int64_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
        const uint16_t want = fmt::fp32_to_fp16(x[i]);
        if ((want & 0x7c00) == 0x7c00 && (want & 0x3ff)) {  // NaN: any NaN
            EXPECT_TRUE((h[i] & 0x7c00) == 0x7c00 && (h[i] & 0x3ff)) << x[i];
            continue;
        }
        ASSERT_EQ(h[i], want) << "to_f16 x=" << x[i];
    }
    std::vector<float> y = x;
    f(y.data(), int64_t(y.size()));
    for (size_t i = 0; i < x.size(); ++i) {
        const float want = fmt::fp16_to_fp32(fmt::fp32_to_fp16(x[i]));
        if (std::isnan(want)) {
            EXPECT_TRUE(std::isnan(y[i])) << x[i];
            continue;
        }
        uint32_t a, b;
        std::memcpy(&a, &y[i], 4), std::memcpy(&b, &want, 4);
        ASSERT_EQ(a, b) << "x=" << x[i] << " got " << y[i] << " want " << want;
    }
}

TEST_P(Layers, AttentionErrors) {
    std::vector<uint8_t> kb(64 * 4);
    KvView k{GgmlType::F32, kb.data(), 64, 64, 1};
    std::vector<float> q(16), out(16);
    std::vector<int32_t> pos = {1};  // only position 0 is cached
    EXPECT_THROW(attention(ctx, q.data(), 1, pos.data(), k, k, AttentionShape{1, 1, 16, 16, 1, 0}, out.data()), Error);
    pos[0] = 0;
    EXPECT_THROW(attention(ctx, q.data(), 1, pos.data(), k, k, AttentionShape{3, 2, 16, 16, 1, 0}, out.data()), Error);
    KvView bad = k;
    bad.type = GgmlType::Q8_0;
    EXPECT_THROW(attention(ctx, q.data(), 1, pos.data(), bad, k, AttentionShape{1, 1, 16, 16, 1, 0}, out.data()), Error);
}

INSTANTIATE_TEST_SUITE_P(IsaThreads, Layers, ::testing::ValuesIn(layer_params()), [](const auto& i) {
    return std::string(isa_name(i.param.first)) + "_t" + std::to_string(i.param.second);
});

TEST(Sampler, GreedyAndSeeded) {
    std::vector<float> logits = {0.1f, 2.0f, 2.0f, -1.0f, 1.5f};
    Sampler greedy(SamplerOptions{0.0f});
    EXPECT_EQ(greedy.sample(logits.data(), 5), 1);  // lowest id on ties
    SamplerOptions o;
    o.temp = 1.0f, o.top_k = 0, o.top_p = 1.0f, o.min_p = 0.0f, o.seed = 1234;
    Sampler a(o), b(o);
    std::vector<int> counts(5);
    for (int i = 0; i < 20000; ++i) {
        const int32_t t = a.sample(logits.data(), 5);
        ASSERT_EQ(t, b.sample(logits.data(), 5));
        ++counts[size_t(t)];
    }
    // Frequencies follow softmax(logits) within 4 sigma.
    double z = 0;
    for (float l : logits) z += std::exp(double(l));
    for (int i = 0; i < 5; ++i) {
        const double p = std::exp(double(logits[size_t(i)])) / z, sd = std::sqrt(20000 * p * (1 - p));
        EXPECT_NEAR(counts[size_t(i)], 20000 * p, 4 * sd + 1) << i;
    }
}

TEST(Sampler, FiltersAndPenalty) {
    std::vector<float> logits = {5.0f, 4.0f, 1.0f, 0.0f, -3.0f};
    SamplerOptions o;
    o.temp = 1.0f, o.top_k = 2, o.top_p = 1.0f, o.min_p = 0.0f, o.seed = 7;
    Sampler topk(o);
    for (int i = 0; i < 2000; ++i) EXPECT_LT(topk.sample(logits.data(), 5), 2);
    o.top_k = 0, o.min_p = 0.5f;  // p(1)/p(0) = e^-1 < 0.5: only token 0 survives
    Sampler minp(o);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(minp.sample(logits.data(), 5), 0);
    o.min_p = 0, o.top_p = 0.5f;  // token 0 alone has p > 0.5
    Sampler topp(o);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(topp.sample(logits.data(), 5), 0);
    SamplerOptions g;
    g.temp = 0, g.repeat_penalty = 10.0f;
    Sampler pen(g);
    pen.accept(0);  // 5 / 10 = 0.5 < 4: token 1 wins
    EXPECT_EQ(pen.sample(logits.data(), 5), 1);
    EXPECT_THROW(Sampler(SamplerOptions{1.0f, 40, 0.0f}), Error);
}

}  // namespace
}  // namespace qlm
