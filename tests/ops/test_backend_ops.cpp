// Every op of the backend interface (qlm/backend.h) × every backend compiled
// (the CPU on each instruction set this machine runs; CUDA where built, skipped
// visibly without a device), against float64 versions of the textbook
// formulas, on shapes from real models: Gemma 3 270M (640, 4 heads × 256,
// 1 kv head, sliding window), Qwen2.5 0.5B (896, 14 × 64, 2 kv heads, 4864),
// a 4096 × 14336 FFN projection, a MoE layer's routing. In the spirit of
// ggml's test-backend-ops. Tolerances (DESIGN.md): matmul normalized MSE
// ≤ 5e-4 against the exact product of the dequantized weights (the
// activations are quantized by the backend); the float ops from their
// rounding (F16 KV cache and probabilities, F16 GELU table, float RoPE angles).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "formats/common.h"
#include "model/tiny_model.h"
#include "qlm/backend.h"
#include "qlm/error.h"
#include "qlm/model.h"
#include "qlm/ops.h"
#include "randn.h"
#if defined(QLM_HAVE_CUDA)
#include "ops/cuda_backend.h"
#include "qlm/cuda.h"
#endif

namespace qlm {
namespace {

// ---- backends ----

struct BackendParam {
    std::string name;  // cpu_scalar, cpu_avx2, cpu_avx512, cpu_neon, cuda
    Isa isa = Isa::Scalar;
    bool cuda = false;
};
void PrintTo(const BackendParam& p, std::ostream* os) {
    *os << p.name;
}

std::vector<BackendParam> backend_params() {
    std::vector<BackendParam> v;
    for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon}) v.push_back({cat("cpu_", isa_name(i)), i, false});
    v.push_back({"cuda", Isa::Scalar, true});
    return v;
}

class BackendOps : public ::testing::TestWithParam<BackendParam> {
protected:
    void SetUp() override {
        const BackendParam& p = GetParam();
        if (p.cuda) {
#if defined(QLM_HAVE_CUDA)
            if (!cuda_available()) GTEST_SKIP() << "no CUDA device: the CUDA backend's ops are not run";
            ctx_ = std::make_unique<Context>(ContextOptions{std::nullopt, 2});
            ctx_->set_backend(make_cuda_backend(*ctx_));
#else
            GTEST_SKIP() << "this build has no CUDA (QLM_CUDA off)";
#endif
        } else {
            if (!isa_supported(p.isa)) GTEST_SKIP() << "instruction set " << isa_name(p.isa) << " not supported here";
            ctx_ = std::make_unique<Context>(ContextOptions{p.isa, 2});
        }
        be_ = &ctx_->backend();
    }

    // Backend memory holding v (uploaded), and back.
    template <typename T>
    BackendBuffer up(const std::vector<T>& v) {
        BackendBuffer b = be_->alloc(std::max<size_t>(v.size() * sizeof(T), 4));
        be_->upload(b.data(), v.data(), v.size() * sizeof(T));
        return b;
    }
    template <typename T>
    std::vector<T> down(const BackendBuffer& b, size_t n) {
        std::vector<T> v(n);
        be_->synchronize();
        be_->download(v.data(), b.data(), n * sizeof(T));
        return v;
    }

    std::unique_ptr<Context> ctx_;
    ComputeBackend* be_ = nullptr;
};

// Σ(y - ref)² / Σ ref²
double nmse(const std::vector<float>& y, const std::vector<double>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i)
        num += (double(y[i]) - ref[i]) * (double(y[i]) - ref[i]), den += ref[i] * ref[i];
    return den > 0 ? num / den : num;
}

// A weight (n rows of k) in `type`: random normal rows quantized by the
// reference quantizer, 61 distinct rows repeated (a prime, so a kernel that
// reads the wrong row still shows; and the big shapes stay cheap to make),
// with the dequantized rows (exact floats) as the reference.
struct Weight {
    std::vector<uint8_t> bytes;
    int64_t unique = 0;
    std::vector<float> deq;  // unique × k
    WeightView view;
    const float* row(int64_t r) const { return deq.data() + (r % unique) * view.k; }
};
Weight make_weight(GgmlType type, int64_t n, int64_t k, uint32_t seed, const std::string& name) {
    Weight w;
    const size_t rs = row_size(type, k);
    w.unique = std::min<int64_t>(n, 61);
    const std::vector<float> x = randn(size_t(w.unique * k), seed, 0.05f);
    std::vector<uint8_t> uq(size_t(w.unique) * rs);
    for (int64_t r = 0; r < w.unique; ++r) quantize_row(type, x.data() + r * k, uq.data() + size_t(r) * rs, k);
    w.bytes.resize(size_t(n) * rs);
    for (int64_t r = 0; r < n; ++r)
        std::memcpy(w.bytes.data() + size_t(r) * rs, uq.data() + size_t(r % w.unique) * rs, rs);
    w.deq.resize(size_t(w.unique * k));
    for (int64_t r = 0; r < w.unique; ++r) dequantize_row(type, uq.data() + size_t(r) * rs, w.deq.data() + r * k, k);
    w.view.type = type, w.view.n = n, w.view.k = k, w.view.row_stride = rs, w.view.data = w.bytes.data();
    w.view.name = name;
    return w;
}

std::vector<double> ref_matmul(const std::vector<float>& x, int64_t m, const Weight& w) {
    const int64_t n = w.view.n, k = w.view.k;
    std::vector<double> dots(size_t(m * w.unique)), y(size_t(m * n));
    for (int64_t i = 0; i < m; ++i)
        for (int64_t u = 0; u < w.unique; ++u) {
            double s = 0;
            for (int64_t j = 0; j < k; ++j) s += double(x[size_t(i * k + j)]) * double(w.row(u)[j]);
            dots[size_t(i * w.unique + u)] = s;
        }
    for (int64_t i = 0; i < m; ++i)
        for (int64_t r = 0; r < n; ++r) y[size_t(i * n + r)] = dots[size_t(i * w.unique + r % w.unique)];
    return y;
}

// ---- matmul: job lists (Q, K, V of one input) and single products ----

struct MatmulCase {
    const char* what;
    GgmlType type;
    int64_t n, k;
    std::vector<int64_t> ms;
};

TEST_P(BackendOps, MatmulRealShapes) {
    const std::vector<MatmulCase> cases = {
        {"gemma-3-270m ffn_gate", GgmlType::Q5_0, 2048, 640, {1, 3, 17}},
        {"gemma-3-270m ffn_down", GgmlType::Q6_K, 640, 2048, {1, 5}},
        {"qwen2.5-0.5b ffn_down", GgmlType::Q4_K, 896, 4864, {1, 20}},
        {"qwen2.5-0.5b attn_q", GgmlType::Q8_0, 896, 896, {1, 9}},
        {"qwen2.5-0.5b attn_k", GgmlType::Q5_0, 128, 896, {2, 33}},
        {"qwen2.5-0.5b ffn_up", GgmlType::Q4_0, 4864, 896, {1, 4}},
        {"tiny f16 weight", GgmlType::F16, 64, 256, {1, 7}},
        {"4096x14336 ffn_down", GgmlType::Q4_K, 4096, 14336, {2}},
    };
    uint32_t seed = 1;
    for (const MatmulCase& c : cases) {
        // The scalar kernels are the reference code itself (test_matmul checks
        // them); the 58 M-weight shapes and the larger batches are for the
        // fast paths, and too slow for scalar code under the sanitizers and qemu.
        if (GetParam().name == "cpu_scalar" && c.n * c.k > (int64_t(1) << 24)) continue;
        const Weight w = make_weight(c.type, c.n, c.k, seed++, c.what);
        for (int64_t m : c.ms) {
            if (GetParam().name == "cpu_scalar" && m != c.ms.front()) continue;  // as above: time
            SCOPED_TRACE(cat(c.what, " (", type_name(c.type), ", ", c.n, " x ", c.k, "), m = ", m));
            const std::vector<float> x = randn(size_t(m * c.k), seed++);
            const std::vector<double> ref = ref_matmul(x, m, w);
            BackendBuffer xb = up(x), yb = be_->alloc(size_t(m * c.n) * sizeof(float));
            be_->matmul(xb.as<float>(), m, w.view, yb.as<float>());
            EXPECT_LE(nmse(down<float>(yb, size_t(m * c.n)), ref), 5e-4);
            // The job-list form: one quantization shared by two weights.
            BackendBuffer y2 = be_->alloc(size_t(m * c.n) * sizeof(float));
            auto acts = be_->quantize_activations(xb.as<float>(), m, c.k, activation_type(c.type));
            const BackendMatmulJob jobs[] = {{acts.get(), w.view, yb.as<float>()},
                                             {acts.get(), w.view, y2.as<float>()}};
            be_->matmul(jobs);
            const std::vector<float> a = down<float>(yb, size_t(m * c.n)), b = down<float>(y2, size_t(m * c.n));
            EXPECT_LE(nmse(a, ref), 5e-4);
            EXPECT_EQ(a, b) << "the same job twice gave different bits";
        }
    }
}

// ---- mixture of experts: routing, grouped matmul, combine, expert biases ----

TEST_P(BackendOps, ExpertsRouteMatmulCombine) {
    // A small qwen3moe-like layer: 16 experts, 4 per token, softmax router, renormalised.
    const int64_t n_expert = 16, n_used = 4, d = 256, ff = 128, T = 5;
    const Weight gate = make_weight(GgmlType::Q4_K, n_expert * ff, d, 71, "gate_exps");
    const Weight downw = make_weight(GgmlType::Q8_0, n_expert * d, ff, 72, "down_exps");
    ExpertsView gv{GgmlType::Q4_K,    n_expert,   ff, d, gate.view.row_stride, size_t(ff) * gate.view.row_stride,
                   gate.bytes.data(), "gate_exps"};
    ExpertsView dv{GgmlType::Q8_0,     n_expert,   d, ff, downw.view.row_stride, size_t(d) * downw.view.row_stride,
                   downw.bytes.data(), "down_exps"};
    const std::vector<float> logits = randn(size_t(T * n_expert), 73, 2.0f);
    const std::vector<float> x = randn(size_t(T * d), 74);
    const std::vector<float> bias = randn(size_t(n_expert * ff), 75, 0.1f);

    // Reference routing in double: softmax, the n_used largest, renormalised.
    std::vector<int32_t> rid(size_t(T * n_used));
    std::vector<double> rw(size_t(T * n_used));
    for (int64_t t = 0; t < T; ++t) {
        const float* l = logits.data() + t * n_expert;
        const double mx = *std::max_element(l, l + n_expert);
        std::vector<double> p(static_cast<size_t>(n_expert));
        double sum = 0;
        for (int64_t e = 0; e < n_expert; ++e) sum += p[size_t(e)] = std::exp(double(l[e]) - mx);
        std::vector<int32_t> order(static_cast<size_t>(n_expert));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[size_t(a)] > p[size_t(b)]; });
        double s = 0;
        for (int64_t j = 0; j < n_used; ++j) s += p[size_t(order[size_t(j)])] / sum;
        for (int64_t j = 0; j < n_used; ++j) {
            rid[size_t(t * n_used + j)] = order[size_t(j)];
            rw[size_t(t * n_used + j)] = p[size_t(order[size_t(j)])] / sum / s;
        }
    }
    BackendBuffer lb = up(logits);
    std::vector<int32_t> ids(size_t(T * n_used));
    std::vector<float> wts(size_t(T * n_used));
    RouterParams rp;
    rp.gating = RouterGating::Softmax, rp.n_used = int(n_used), rp.normalize = true;
    be_->route_experts(lb.as<float>(), T, n_expert, rp, ids.data(), wts.data());
    ASSERT_EQ(ids, rid);
    for (size_t i = 0; i < wts.size(); ++i) EXPECT_NEAR(wts[i], rw[i], 1e-6);

    // gate: per slot, x_t · W_eᵀ (+ bias row e); then down per slot; combine.
    const ExpertRouting r{ids.data(), wts.data(), T, int(n_used), n_expert};
    const int64_t slots = T * n_used;
    BackendBuffer xb = up(x), gb = be_->alloc(size_t(slots * ff) * 4), db = be_->alloc(size_t(slots * d) * 4),
                  ob = be_->alloc(size_t(T * d) * 4);
    auto xa = be_->quantize_activations(xb.as<float>(), T, d, activation_type(gv.type));
    const BackendExpertJob gj[] = {{xa.get(), false, gv, gb.as<float>()}};
    be_->matmul_experts(r, gj);
    be_->add_expert_bias(r, bias.data(), gb.as<float>(), ff);
    std::vector<double> gref(size_t(slots * ff));
    for (int64_t s = 0; s < slots; ++s)
        for (int64_t o = 0; o < ff; ++o) {
            const int64_t e = ids[size_t(s)], t = s / n_used;
            double acc = 0;
            for (int64_t j = 0; j < d; ++j) acc += double(x[size_t(t * d + j)]) * gate.row(e * ff + o)[j];
            gref[size_t(s * ff + o)] = acc + bias[size_t(e * ff + o)];
        }
    const std::vector<float> g = down<float>(gb, size_t(slots * ff));
    EXPECT_LE(nmse(g, gref), 5e-4);

    auto ga = be_->quantize_activations(gb.as<float>(), slots, ff, activation_type(dv.type));
    const BackendExpertJob dj[] = {{ga.get(), true, dv, db.as<float>()}};
    be_->matmul_experts(r, dj);
    be_->combine_experts(r, db.as<float>(), d, ob.as<float>());
    std::vector<double> oref(size_t(T * d), 0.0);
    for (int64_t s = 0; s < slots; ++s)
        for (int64_t o = 0; o < d; ++o) {
            const int64_t e = ids[size_t(s)];
            double acc = 0;
            for (int64_t j = 0; j < ff; ++j) acc += double(g[size_t(s * ff + j)]) * downw.row(e * d + o)[j];
            oref[size_t((s / n_used) * d + o)] += double(wts[size_t(s)]) * acc;
        }
    EXPECT_LE(nmse(down<float>(ob, size_t(T * d)), oref), 5e-4);
}

// ---- norms, RoPE, element-wise ops ----

TEST_P(BackendOps, RmsNorm) {
    for (auto [rows, n] : {std::pair<int64_t, int64_t>{3, 640}, {17, 896}, {8, 256}}) {
        const std::vector<float> x = randn(size_t(rows * n), uint32_t(n), 3.0f), w = randn(size_t(n), 9);
        BackendBuffer xb = up(x), yb = be_->alloc(size_t(rows * n) * 4);
        be_->rms_norm(xb.as<float>(), w.data(), yb.as<float>(), rows, n, 1e-6f);
        const std::vector<float> y = down<float>(yb, size_t(rows * n));
        for (int64_t r = 0; r < rows; ++r) {
            double ss = 0;
            for (int64_t j = 0; j < n; ++j) ss += double(x[size_t(r * n + j)]) * x[size_t(r * n + j)];
            const double sc = 1.0 / std::sqrt(ss / double(n) + 1e-6);
            for (int64_t j = 0; j < n; ++j) {
                const double ref = double(x[size_t(r * n + j)]) * sc * w[size_t(j)];
                ASSERT_NEAR(y[size_t(r * n + j)], ref, 1e-5 * (1 + std::fabs(ref))) << "rows " << rows << " n " << n;
            }
        }
    }
}

// ggml's rope in double: angle of pair i at position p = p · base^(-2i/n_dims),
// divided by the frequency factor; YaRN blends it with the interpolated angle.
double yarn_ramp(double lo, double hi, int i) {
    const double y = (double(i) - lo) / std::max(0.001, hi - lo);
    return 1.0 - std::min(1.0, std::max(0.0, y));
}

TEST_P(BackendOps, Rope) {
    struct Case {
        const char* what;
        RopeLayout layout;
        int heads, head_dim, n_dims;
        float base, freq_scale, ext_factor, attn_factor;
        bool factors;
    };
    const Case cases[] = {
        {"gemma-3-270m q (neox)", RopeLayout::Neox, 4, 256, 256, 1e6f, 1.0f, 0, 1, false},
        {"qwen2.5-0.5b k (neox)", RopeLayout::Neox, 2, 64, 64, 1e6f, 1.0f, 0, 1, false},
        {"llama3 (normal, freq factors)", RopeLayout::Normal, 4, 128, 128, 5e5f, 1.0f, 0, 1, true},
        {"partial rotary (glm4)", RopeLayout::Neox, 2, 128, 64, 1e4f, 1.0f, 0, 1, false},
        {"gpt-oss (yarn)", RopeLayout::Neox, 4, 64, 64, 1.5e5f, 1.0f / 32, 1.0f, 1.0f, false},
        {"phi3 (attn_factor)", RopeLayout::Neox, 2, 96, 96, 1e4f, 1.0f, 0, 1.19f, true},
    };
    const std::vector<int32_t> pos = {0, 1, 7, 31, 100, 40};
    const int64_t rows = int64_t(pos.size());
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        const int64_t width = int64_t(c.heads) * c.head_dim;
        const std::vector<float> x = randn(size_t(rows * width), 11);
        std::vector<float> ff(size_t(c.n_dims / 2));
        for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + float(i % 5) * 0.75f;
        RopeParams p;
        p.layout = c.layout, p.n_dims = c.n_dims, p.freq_base = c.base, p.freq_scale = c.freq_scale;
        p.freq_factors = c.factors ? ff.data() : nullptr;
        p.ext_factor = c.ext_factor, p.attn_factor = c.attn_factor, p.n_ctx_orig = 4096;
        BackendBuffer xb = up(x);
        be_->rope(xb.as<float>(), rows, c.heads, c.head_dim, pos.data(), p);
        const std::vector<float> y = down<float>(xb, size_t(rows * width));
        const int half = c.n_dims / 2;
        double lo = 0, hi = 0, mscale = c.attn_factor;
        if (c.ext_factor != 0) {
            auto corr = [&](double n_rot) {
                return c.n_dims * std::log(4096.0 / (n_rot * 2 * M_PI)) / (2 * std::log(double(c.base)));
            };
            lo = std::max(0.0, std::floor(corr(32.0))), hi = std::min(double(c.n_dims - 1), std::ceil(corr(1.0)));
            mscale *= 1.0 + 0.1 * std::log(1.0 / c.freq_scale);
        }
        for (int64_t r = 0; r < rows; ++r)
            for (int h = 0; h < c.heads; ++h)
                for (int i = 0; i < c.head_dim; ++i) {
                    const float* xr = x.data() + r * width + int64_t(h) * c.head_dim;
                    double ref = xr[i];
                    if (i < c.n_dims) {
                        const int pi = c.layout == RopeLayout::Neox ? i % half : i / 2;
                        const int i0 = c.layout == RopeLayout::Neox ? pi : 2 * pi;
                        const int i1 = c.layout == RopeLayout::Neox ? pi + half : 2 * pi + 1;
                        const double extrap = double(pos[size_t(r)]) * std::pow(double(c.base), -2.0 * pi / c.n_dims) /
                                              (c.factors ? double(ff[size_t(pi)]) : 1.0);
                        double th = c.freq_scale * extrap;
                        if (c.ext_factor != 0) {
                            const double ramp = yarn_ramp(lo, hi, pi) * c.ext_factor;
                            th = th * (1 - ramp) + extrap * ramp;
                        }
                        const double cs = std::cos(th) * mscale, sn = std::sin(th) * mscale;
                        ref = i == i0 ? xr[i0] * cs - xr[i1] * sn : xr[i0] * sn + xr[i1] * cs;
                    }
                    // float angles (repeated multiplication, ~1e-5 relative) err ~1e-5·p radians
                    const double tol =
                        1e-4 * double(1 + pos[size_t(r)]) * (1 + std::fabs(xr[i]) + std::fabs(xr[i ^ 1]));
                    ASSERT_NEAR(y[size_t(r * width + int64_t(h) * c.head_dim + i)], ref, tol)
                        << "row " << r << " head " << h << " dim " << i;
                }
    }
}

TEST_P(BackendOps, ElementwiseAndActivations) {
    const int64_t rows = 5, n = 896;
    const std::vector<float> x = randn(size_t(rows * n), 21, 2.0f), b = randn(size_t(n), 22),
                             u = randn(size_t(rows * n), 23);
    auto check = [&](const char* what, const BackendBuffer& buf, const std::vector<double>& ref, double tol_nmse) {
        const std::vector<float> y = down<float>(buf, ref.size());
        EXPECT_LE(nmse(y, ref), tol_nmse) << what;
    };
    {
        BackendBuffer xb = up(x);
        be_->add_bias(xb.as<float>(), b.data(), rows, n);
        std::vector<double> ref(x.size());
        for (size_t i = 0; i < x.size(); ++i) ref[i] = double(x[i]) + b[i % size_t(n)];
        check("add_bias", xb, ref, 1e-12);
        BackendBuffer ub = up(u);
        be_->add_inplace(xb.as<float>(), ub.as<float>(), rows * n);
        for (size_t i = 0; i < x.size(); ++i) ref[i] += u[i];
        check("add_inplace", xb, ref, 1e-12);
        be_->scale(xb.as<float>(), rows * n, 0.125f);
        for (auto& v : ref) v *= 0.125;
        check("scale", xb, ref, 1e-12);
    }
    auto silu = [](double v) { return v / (1 + std::exp(-v)); };
    auto gelu = [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); };
    for (int act = 0; act < 3; ++act) {
        BackendBuffer gb = up(x), ub = up(u);
        std::vector<double> ref(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
            if (act == 0) ref[i] = silu(x[i]) * u[i];
            if (act == 1) ref[i] = gelu(x[i]) * u[i];
            if (act == 2) {
                const double g = std::min(double(x[i]), 7.0), v = std::min(std::max(double(u[i]), -7.0), 7.0);
                ref[i] = g / (1 + std::exp(-1.702 * g)) * (v + 1);
            }
        }
        if (act == 0) be_->silu_mul(gb.as<float>(), ub.as<float>(), rows * n);
        if (act == 1) be_->gelu_tanh_mul(gb.as<float>(), ub.as<float>(), rows * n);
        if (act == 2) be_->swiglu_oai_mul(gb.as<float>(), ub.as<float>(), rows * n, 1.702f, 7.0f);
        // GELU goes through an F16 table on the CPU (llama.cpp's): ~1e-3 relative.
        check(act == 0 ? "silu_mul" : act == 1 ? "gelu_tanh_mul" : "swiglu_oai_mul", gb, ref, act == 1 ? 1e-5 : 1e-10);
    }
}

TEST_P(BackendOps, GetRowsAndGatherRows) {
    // Embedding table slices: Gemma 3's n_embd 640 (32-element blocks), Qwen3-30B-A3B's 2048 (K-quants).
    const int64_t vocab = 300;
    const std::vector<int32_t> ids = {0, 299, 17, 17, 150, 3, 298};
    for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::F16, GgmlType::F32}) {
        SCOPED_TRACE(type_name(t));
        const int64_t n = type_info(t).block_size == 256 ? 2048 : 640;
        const Weight w = make_weight(t, vocab, n, 31, cat("token_embd_", type_name(t)));
        BackendBuffer ob = be_->alloc(ids.size() * size_t(n) * 4);
        const float s = std::sqrt(640.0f);
        be_->get_rows(w.view, ids.data(), int64_t(ids.size()), ob.as<float>(), s);
        const std::vector<float> y = down<float>(ob, ids.size() * size_t(n));
        for (size_t i = 0; i < ids.size(); ++i)
            for (int64_t j = 0; j < n; ++j) {
                const double ref = double(w.row(ids[i])[j]) * double(s);
                ASSERT_NEAR(y[i * size_t(n) + size_t(j)], ref, 1e-6 * (1 + std::fabs(ref)));
            }
    }
    const int64_t n = 640;
    const std::vector<float> x = randn(size_t(9 * n), 32);
    const std::vector<int64_t> rows = {8, 0, 4};
    BackendBuffer xb = up(x), ob = be_->alloc(rows.size() * size_t(n) * 4);
    be_->gather_rows(xb.as<float>(), rows.data(), int64_t(rows.size()), n, ob.as<float>());
    const std::vector<float> y = down<float>(ob, rows.size() * size_t(n));
    for (size_t r = 0; r < rows.size(); ++r)
        for (int64_t j = 0; j < n; ++j) ASSERT_EQ(y[r * size_t(n) + size_t(j)], x[size_t(rows[r] * n + j)]);
}

TEST_P(BackendOps, ExpSum) {
    for (int64_t n : {1, 31, 1000, 151936}) {
        const std::vector<float> x = randn(size_t(n), uint32_t(n), 4.0f);
        BackendBuffer xb = up(x);
        float mx = 0;
        const double sum = be_->exp_sum(xb.as<float>(), n, &mx);
        const double rmx = *std::max_element(x.begin(), x.end());
        double rsum = 0;
        for (float v : x) rsum += std::exp(double(v) - rmx);
        EXPECT_EQ(double(mx), rmx);
        EXPECT_NEAR(sum, rsum, 1e-5 * rsum) << "n = " << n;
        const std::vector<float> e = down<float>(xb, size_t(n));
        for (int64_t i = 0; i < n; i += 97) ASSERT_NEAR(e[size_t(i)], std::exp(double(x[size_t(i)]) - rmx), 1e-6);
    }
}

// ---- KV store and attention over the paged cache ----

struct AttnCase {
    const char* what;
    int n_head, n_kv_head, head_dim;
    int window;
    bool sinks;
    GgmlType kv_type;
};

TEST_P(BackendOps, KvStoreAndPagedAttention) {
    const AttnCase cases[] = {
        {"gemma-3-270m global", 4, 1, 256, 0, false, GgmlType::F16},
        {"gemma-3-270m local (window 8)", 4, 1, 256, 8, false, GgmlType::F16},
        {"qwen2.5-0.5b", 14, 2, 64, 0, false, GgmlType::F16},
        {"qwen2.5-0.5b f32 cache", 14, 2, 64, 0, false, GgmlType::F32},
        {"gpt-oss (sinks, window 5)", 8, 2, 64, 5, true, GgmlType::F16},
    };
    const int64_t block_size = 4, n_blocks = 12;
    const std::vector<int32_t> table = {7, 2, 10, 0, 5, 11, 3, 1, 9, 4, 6, 8};  // scrambled
    for (const AttnCase& c : cases) {
        SCOPED_TRACE(c.what);
        const size_t es = c.kv_type == GgmlType::F16 ? 2 : 4, row = size_t(c.head_dim) * es;
        const size_t hs = size_t(block_size) * row, bstride = hs * size_t(c.n_kv_head);
        BackendBuffer kpool = be_->alloc(bstride * n_blocks), vpool = be_->alloc(bstride * n_blocks);
        const KvLayer kl{c.kv_type, kpool.as<uint8_t>(), bstride, hs, row, block_size};
        const KvLayer vl{c.kv_type, vpool.as<uint8_t>(), bstride, hs, row, block_size};
        // Two steps as the engine runs them: a prompt of 30, then 3 more tokens.
        const int64_t n_pos = 33, kvw = int64_t(c.n_kv_head) * c.head_dim;
        const std::vector<float> K = randn(size_t(n_pos * kvw), 41), V = randn(size_t(n_pos * kvw), 42);
        for (auto [p0, cnt] : {std::pair<int64_t, int64_t>{0, 30}, {30, 3}}) {
            std::vector<int32_t> slots;
            for (int64_t p = p0; p < p0 + cnt; ++p)
                slots.push_back(int32_t(table[size_t(p / block_size)] * block_size + p % block_size));
            const std::vector<float> ks(K.begin() + p0 * kvw, K.begin() + (p0 + cnt) * kvw);
            const std::vector<float> vs(V.begin() + p0 * kvw, V.begin() + (p0 + cnt) * kvw);
            BackendBuffer kb = up(ks), vb = up(vs);
            be_->kv_store(kb.as<float>(), cnt, c.n_kv_head, c.head_dim, slots.data(), kl);
            be_->kv_store(vb.as<float>(), cnt, c.n_kv_head, c.head_dim, slots.data(), vl);
        }
        // The stored bytes: each position's row where its block table says, F16 rounded to nearest even.
        auto stored = [&](const std::vector<uint8_t>& pool, const std::vector<float>& src, int64_t p, int h, int d) {
            const size_t off =
                size_t(table[size_t(p / block_size)]) * bstride + size_t(h) * hs + size_t(p % block_size) * row;
            float v;
            if (es == 2) {
                uint16_t b;
                std::memcpy(&b, pool.data() + off + size_t(d) * 2, 2);
                EXPECT_EQ(b, fmt::fp32_to_fp16(src[size_t(p * kvw + h * c.head_dim + d)]));
                v = fmt::fp16_to_fp32(b);
            } else {
                std::memcpy(&v, pool.data() + off + size_t(d) * 4, 4);
                EXPECT_EQ(v, src[size_t(p * kvw + h * c.head_dim + d)]);
            }
            return double(v);
        };
        const std::vector<uint8_t> kp = down<uint8_t>(kpool, bstride * n_blocks),
                                   vp = down<uint8_t>(vpool, bstride * n_blocks);

        // Queries: the last 3 positions (a decode-like step) and 2 early ones.
        const std::vector<int32_t> qpos = {2, 13, 30, 31, 32};
        const int64_t nq = int64_t(qpos.size()), qw = int64_t(c.n_head) * c.head_dim;
        const std::vector<float> q = randn(size_t(nq * qw), 43);
        const std::vector<float> sinks = randn(size_t(c.n_head), 44);
        const float scale = 1.0f / std::sqrt(float(c.head_dim));
        BackendBuffer qb = up(q), ob = be_->alloc(size_t(nq * qw) * 4);
        const AttnSeq seq{qb.as<float>(),
                          ob.as<float>(),
                          nq,
                          qpos.data(),
                          {c.kv_type, kpool.as<uint8_t>(), bstride, hs, row, block_size, table.data(), n_pos},
                          {c.kv_type, vpool.as<uint8_t>(), bstride, hs, row, block_size, table.data(), n_pos}};
        const AttentionShape shape{
            c.n_head, c.n_kv_head, c.head_dim, c.head_dim, scale, c.window, c.sinks ? sinks.data() : nullptr};
        be_->attention({&seq, 1}, shape);
        const std::vector<float> out = down<float>(ob, size_t(nq * qw));
        std::vector<double> ref(size_t(nq * qw));
        for (int64_t i = 0; i < nq; ++i)
            for (int h = 0; h < c.n_head; ++h) {
                const int kvh = h / (c.n_head / c.n_kv_head);
                const int64_t hi = qpos[size_t(i)], lo = c.window > 0 ? std::max<int64_t>(0, hi - c.window + 1) : 0;
                std::vector<double> sc;
                for (int64_t p = lo; p <= hi; ++p) {
                    double s = 0;
                    for (int d = 0; d < c.head_dim; ++d)
                        s += double(q[size_t(i * qw + h * c.head_dim + d)]) * stored(kp, K, p, kvh, d);
                    sc.push_back(s * scale);
                }
                double mx = *std::max_element(sc.begin(), sc.end());
                if (c.sinks) mx = std::max(mx, double(sinks[size_t(h)]));
                double den = c.sinks ? std::exp(double(sinks[size_t(h)]) - mx) : 0.0;
                for (double& s : sc) den += s = std::exp(s - mx);
                for (int d = 0; d < c.head_dim; ++d) {
                    double acc = 0;
                    for (int64_t p = lo; p <= hi; ++p) acc += sc[size_t(p - lo)] * stored(vp, V, p, kvh, d);
                    ref[size_t(i * qw + h * c.head_dim + d)] = acc / den;
                }
            }
        // The CPU takes q and the probabilities in F16 with an F16 cache (as llama.cpp).
        EXPECT_LE(nmse(out, ref), c.kv_type == GgmlType::F16 ? 2e-5 : 1e-10);
    }
}

INSTANTIATE_TEST_SUITE_P(All, BackendOps, ::testing::ValuesIn(backend_params()),
                         [](const ::testing::TestParamInfo<BackendParam>& i) { return i.param.name; });

// The whole forward pass on the CUDA backend against the CPU's, on a tiny
// random model of every architecture: teacher-forced logits close (the CUDA
// matmul quantizes activations to Q8_1 where the CPU uses Q8_0/Q8_K, and its
// GEMM runs in BF16) and the same greedy token wherever the CPU's choice is
// not a near tie.
TEST(BackendModel, CudaLogitsMatchCpuOnTinyModels) {
#if !defined(QLM_HAVE_CUDA)
    GTEST_SKIP() << "this build has no CUDA (QLM_CUDA off)";
#else
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device: the CUDA forward pass is not run";
    for (const ArchInfo& ai : arch_table()) {
        SCOPED_TRACE(ai.name);
        test::Spec spec;
        spec.arch = ai.name;
        const std::vector<uint8_t> bytes = test::make_model(spec);
        auto model = Model::from_reader(GgufReader::from_memory(bytes, "tiny.gguf"), LoadOptions{false, false});
        const int64_t nv = model->config().n_vocab;
        std::vector<int32_t> toks;
        for (int i = 0; i < 12; ++i) toks.push_back(int32_t((i * 7 + 3) % nv));
        std::vector<float> cpu_l(toks.size() * size_t(nv)), gpu_l(cpu_l.size());
        Context cpu{ContextOptions{std::nullopt, 2}}, gpu{ContextOptions{std::nullopt, 2}};
        gpu.set_backend(make_cuda_backend(gpu));
        {
            Session a(*model, cpu, SessionOptions{64, GgmlType::F16, 5});
            a.eval(toks, cpu_l.data(), true);
            Session b(*model, gpu, SessionOptions{64, GgmlType::F16, 5});
            b.eval(toks, gpu_l.data(), true);
        }
        std::vector<double> ref(cpu_l.begin(), cpu_l.end());
        EXPECT_LE(nmse(gpu_l, ref), 5e-3);
        for (size_t t = 0; t < toks.size(); ++t) {
            const float* c = cpu_l.data() + t * size_t(nv);
            const float* g = gpu_l.data() + t * size_t(nv);
            std::vector<int> order(static_cast<size_t>(nv));
            std::iota(order.begin(), order.end(), 0);
            std::partial_sort(order.begin(), order.begin() + 2, order.end(), [&](int x, int y) { return c[x] > c[y]; });
            if (c[order[0]] - c[order[1]] < 0.05f) continue;  // a near tie
            EXPECT_EQ(std::max_element(g, g + nv) - g, order[0]) << "position " << t;
        }
    }
#endif
}

TEST(BackendRegistry, NamesAndErrors) {
    Context ctx{ContextOptions{std::nullopt, 1}};
    EXPECT_STREQ(make_backend("cpu", ctx)->name(), "cpu");
    EXPECT_STREQ(ctx.backend().name(), "cpu");
    try {
        make_backend("tpu", ctx);
        FAIL() << "no error for an unknown backend";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown backend 'tpu'"), std::string::npos) << e.what();
    }
#if !defined(QLM_HAVE_CUDA)
    EXPECT_THROW(make_backend("cuda", ctx), Error);  // this build has no CUDA backend
#else
    EXPECT_TRUE(cuda_compiled());
    if (!cuda_available()) {
        try {
            make_backend("cuda", ctx);
            FAIL() << "no error without a CUDA device";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
        }
    }
#endif
}

}  // namespace
}  // namespace qlm
