// Every CUDA kernel against the CPU reference. Without a CUDA device every
// test here reports itself SKIPPED ("no CUDA device"); it never passes silently.
//  - Q8_1 quantizer: byte-identical to quantize_row(Q8_1);
//  - matmul, every weight type, m = 1..17, odd n, several blocks per row:
//      m <= 8 (integer GEMV): legacy types exactly up to the float summation
//        order of the reference per-block terms; K-quants/IQ4_XS against the
//        exact product with the Q8_1-rounded activations; float types against
//        the double product;
//      all m: normalized MSE <= 5e-4 against the double product and against
//        the CPU backend (DESIGN.md);
//  - fused QKV and pre-quantized activations: identical to separate calls;
//  - rmsnorm, rope (normal/neox, partial, freq factors), SiLU/GELU, bias;
//  - a decode-like sequence captured in a CUDA graph replays identically.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "cuda_test_util.h"
#include "qlm/cuda.h"
#include "qlm/error.h"
#include "qlm/ops.h"

namespace qlm {

void PrintTo(GgmlType t, std::ostream* os);

namespace {

using namespace cudatest;

class CudaTest : public testing::Test {
protected:
    void SetUp() override {
        if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
        ctx_ = std::make_unique<CudaContext>();
    }

    template <typename T>
    CudaBuffer to_device(const std::vector<T>& v) {
        CudaBuffer b = ctx_->alloc(v.size() * sizeof(T));
        cuda_copy_to_device(*ctx_, b.data(), v.data(), v.size() * sizeof(T));
        return b;
    }
    template <typename T>
    std::vector<T> to_host(const CudaBuffer& b, size_t count) {
        std::vector<T> v(count);
        cuda_copy_to_host(*ctx_, v.data(), b.data(), count * sizeof(T));
        return v;
    }
    CudaBuffer device_floats(size_t count, float fill = NAN) { return to_device(std::vector<float>(count, fill)); }

    std::unique_ptr<CudaContext> ctx_;
};

// ---- Q8_1 quantizer ----------------------------------------------------------

TEST_F(CudaTest, QuantizeQ8_1IsByteExact) {
    for (int64_t m : {1, 3, 17})
        for (int64_t k : {32, 96, 4096}) {
            const std::vector<float> x = make_activations(m, k, uint32_t(m * 7 + k));
            std::vector<uint8_t> want(size_t(m) * row_size(GgmlType::Q8_1, k));
            for (int64_t i = 0; i < m; ++i)
                quantize_row(GgmlType::Q8_1, x.data() + i * k, want.data() + size_t(i) * row_size(GgmlType::Q8_1, k), k);
            CudaBuffer xd = to_device(x), q = ctx_->alloc(cuda_q8_1_bytes(m, k));
            cuda_quantize_q8_1(*ctx_, xd.as<float>(), m, k, q.data());
            const std::vector<uint8_t> got = to_host<uint8_t>(q, want.size());
            ASSERT_EQ(got.size(), cuda_q8_1_bytes(m, k));
            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size())) << "m=" << m << " k=" << k;
        }
}

// ---- matmul -------------------------------------------------------------------

class CudaMatmul : public CudaTest, public testing::WithParamInterface<GgmlType> {};

TEST_P(CudaMatmul, MatchesReference) {
    const GgmlType t = GetParam();
    const uint32_t bs = type_info(t).block_size;
    const int64_t k = bs == 256 ? 768 : (bs == 1 ? 200 : 320), n = 67;  // several blocks per row, odd n
    const Weights w = make_weights(t, n, k, 11);
    Context cpu({std::nullopt, 2});
    for (int64_t m = 1; m <= 17; ++m) {
        const std::vector<float> x = make_activations(m, k, uint32_t(100 + m));
        CudaBuffer xd = to_device(x), yd = device_floats(size_t(m * n));
        cuda_matmul(*ctx_, xd.as<float>(), m, w.view, yd.as<float>());
        const std::vector<float> y = to_host<float>(yd, size_t(m * n));
        for (float v : y) ASSERT_TRUE(std::isfinite(v)) << type_name(t) << " m=" << m;

        const std::vector<double> exact = product_double(w, x, m);
        EXPECT_LE(nmse(y, exact), 5e-4) << type_name(t) << " m=" << m << " vs double";
        std::vector<float> ycpu(size_t(m * n));
        matmul(cpu, x.data(), m, w.view, ycpu.data());
        std::vector<double> ycpu_d(ycpu.begin(), ycpu.end());
        EXPECT_LE(nmse(y, ycpu_d), 5e-4) << type_name(t) << " m=" << m << " vs CPU backend";

        if (m > 8) continue;  // GEMM path: BF16 tiles, normalized MSE only
        std::vector<fmt::block_q8_1> xq(size_t(m * k / 32));
        for (int64_t i = 0; i < m; ++i) quantize_row(GgmlType::Q8_1, x.data() + i * k, xq.data() + i * (k / 32), k);
        std::vector<float> xd8(size_t(m * k));
        dequantize_row(GgmlType::Q8_1, xq.data(), xd8.data(), m * k);
        for (int64_t i = 0; i < m; ++i)
            for (int64_t r = 0; r < n; ++r) {
                const double got = y[size_t(i * n + r)];
                const uint8_t* row = w.bytes.data() + r * w.view.row_stride;
                if (is_float_type(t)) {
                    double ref = 0, mag = 0;
                    for (int64_t j = 0; j < k; ++j) {
                        ref += double(w.deq[size_t(r * k + j)]) * double(x[size_t(i * k + j)]);
                        mag += std::fabs(double(w.deq[size_t(r * k + j)]) * double(x[size_t(i * k + j)]));
                    }
                    ASSERT_NEAR(got, ref, 2.0 * double(k) * 0x1p-24 * mag + 1e-30) << type_name(t) << " m=" << m;
                } else if (legacy_partner(t)) {
                    // the same per-block floats as the reference; only their summation order differs
                    const std::vector<float> terms = block_terms(t, row, xq.data() + i * (k / 32), k);
                    double ref = 0, mag = 0;
                    for (float v : terms) ref += v, mag += std::fabs(v);
                    ASSERT_NEAR(got, ref, 2.0 * double(terms.size()) * 0x1p-24 * mag + 1e-30)
                        << type_name(t) << " m=" << m << " i=" << i << " r=" << r;
                } else {
                    double ref = 0, xabs = 0;
                    float wmax = 0;
                    for (int64_t j = 0; j < k; ++j) {
                        ref += double(w.deq[size_t(r * k + j)]) * double(xd8[size_t(i * k + j)]);
                        xabs += std::fabs(double(xd8[size_t(i * k + j)]));
                        wmax = std::max(wmax, std::fabs(w.deq[size_t(r * k + j)]));
                    }
                    ASSERT_NEAR(got, ref, 1e-5 * xabs * wmax + 1e-30)
                        << type_name(t) << " m=" << m << " i=" << i << " r=" << r;
                }
            }
    }
}

// Rows stored with padding upload to the same result as packed rows.
TEST_P(CudaMatmul, StridedHostRows) {
    const GgmlType t = GetParam();
    const int64_t k = type_info(t).block_size == 256 ? 512 : 64, n = 5, m = 2;
    const Weights w = make_weights(t, n, k, 4);
    const size_t rs = w.view.row_stride, stride = rs + 6;
    std::vector<uint8_t> padded(stride * size_t(n), 0xee);
    for (int64_t r = 0; r < n; ++r) std::memcpy(padded.data() + size_t(r) * stride, w.bytes.data() + size_t(r) * rs, rs);
    WeightView pv = w.view;
    pv.data = padded.data(), pv.row_stride = stride, pv.name = "padded";
    const std::vector<float> x = make_activations(m, k, 8);
    CudaBuffer xd = to_device(x), y1 = device_floats(size_t(m * n)), y2 = device_floats(size_t(m * n));
    cuda_matmul(*ctx_, xd.as<float>(), m, w.view, y1.as<float>());
    cuda_matmul(*ctx_, xd.as<float>(), m, pv, y2.as<float>());
    EXPECT_EQ(to_host<float>(y1, size_t(m * n)), to_host<float>(y2, size_t(m * n)));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, CudaMatmul, testing::ValuesIn(weight_types()),
                         [](const testing::TestParamInfo<GgmlType>& p) { return std::string(type_name(p.param)); });

TEST_F(CudaTest, FusedQkvAndPrequantizedMatchSeparateCalls) {
    const int64_t k = 512;
    const Weights wq = make_weights(GgmlType::Q4_K, 64, k, 1), wk = make_weights(GgmlType::Q6_K, 32, k, 2),
                  wv = make_weights(GgmlType::Q8_0, 32, k, 3);
    const DeviceWeight &dq = ctx_->upload(wq.view), &dk = ctx_->upload(wk.view), &dv = ctx_->upload(wv.view);
    for (int64_t m : {1, 5, 12}) {
        const std::vector<float> x = make_activations(m, k, uint32_t(m));
        CudaBuffer xd = to_device(x);
        CudaBuffer a[3] = {device_floats(size_t(m * 64)), device_floats(size_t(m * 32)), device_floats(size_t(m * 32))};
        CudaBuffer b[3] = {device_floats(size_t(m * 64)), device_floats(size_t(m * 32)), device_floats(size_t(m * 32))};
        cuda_matmul_qkv(*ctx_, xd.as<float>(), m, dq, dk, dv, a[0].as<float>(), a[1].as<float>(), a[2].as<float>());
        const DeviceWeight* ws[3] = {&dq, &dk, &dv};
        for (int j = 0; j < 3; ++j) cuda_matmul(*ctx_, xd.as<float>(), m, *ws[j], b[j].as<float>());
        for (int j = 0; j < 3; ++j) {
            const size_t cnt = size_t(m * ws[j]->n);
            EXPECT_EQ(to_host<float>(a[j], cnt), to_host<float>(b[j], cnt)) << "m=" << m << " weight " << j;
        }
        if (m <= 8) {
            CudaBuffer q = ctx_->alloc(cuda_q8_1_bytes(m, k)), c = device_floats(size_t(m * 64));
            cuda_quantize_q8_1(*ctx_, xd.as<float>(), m, k, q.data());
            cuda_matmul_q8_1(*ctx_, q.data(), m, dq, c.as<float>());
            EXPECT_EQ(to_host<float>(c, size_t(m * 64)), to_host<float>(b[0], size_t(m * 64))) << "m=" << m;
        }
    }
}

TEST_F(CudaTest, WeightCacheUploadsOnce) {
    const Weights w = make_weights(GgmlType::Q5_K, 16, 256, 9);
    const DeviceWeight& a = ctx_->upload(w.view);
    const size_t bytes = ctx_->weight_bytes();
    const DeviceWeight& b = ctx_->upload(w.view);
    EXPECT_EQ(&a, &b);
    EXPECT_EQ(ctx_->weight_bytes(), bytes);
    EXPECT_EQ(bytes, w.bytes.size());
    EXPECT_EQ(ctx_->find_weight(w.view.name), &a);
    WeightView other = w.view;
    other.n = 8;
    EXPECT_THROW(ctx_->upload(other), Error);
}

TEST_F(CudaTest, ErrorsBeforeAnyLaunch) {
    const Weights w = make_weights(GgmlType::F16, 4, 64, 1), q = make_weights(GgmlType::Q4_0, 4, 64, 2),
                  q2 = make_weights(GgmlType::Q4_0, 4, 96, 3);
    const DeviceWeight &fw = ctx_->upload(w.view), &qw = ctx_->upload(q.view), &qw2 = ctx_->upload(q2.view);
    CudaBuffer x = device_floats(64 * 16), y = device_floats(64 * 16);
    EXPECT_THROW(cuda_matmul(*ctx_, x.as<float>(), 0, qw, y.as<float>()), Error);
    EXPECT_THROW(cuda_matmul(*ctx_, x.as<float>(), 1, transpose(q.view), y.as<float>()), Error);
    EXPECT_THROW(cuda_matmul_q8_1(*ctx_, x.data(), 1, fw, y.as<float>()), Error);   // float weight
    EXPECT_THROW(cuda_matmul_q8_1(*ctx_, x.data(), 9, qw, y.as<float>()), Error);   // m > 8
    EXPECT_THROW(cuda_matmul_qkv(*ctx_, x.as<float>(), 1, qw, qw, qw2, y.as<float>(), y.as<float>(), y.as<float>()),
                 Error);
    ctx_->synchronize();  // nothing bad was enqueued
}

// ---- float ops -------------------------------------------------------------------

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel, double abs,
                  const char* what) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], rel * std::fabs(want[i]) + abs) << what << " at " << i;
}

TEST_F(CudaTest, RmsNorm) {
    Context cpu({std::nullopt, 1});
    const int64_t rows = 5, n = 1001;
    const std::vector<float> x = make_activations(rows, n, 1), wt = make_activations(1, n, 2);
    std::vector<float> want(x.size()), want_nw(x.size());
    rms_norm(cpu, x.data(), wt.data(), want.data(), rows, n, 1e-6f);
    rms_norm(cpu, x.data(), nullptr, want_nw.data(), rows, n, 1e-6f);
    CudaBuffer xd = to_device(x), wd = to_device(wt), yd = device_floats(x.size());
    cuda_rms_norm(*ctx_, xd.as<float>(), wd.as<float>(), yd.as<float>(), rows, n, 1e-6f);
    expect_close(to_host<float>(yd, x.size()), want, 1e-6, 1e-7, "rms_norm");
    cuda_rms_norm(*ctx_, xd.as<float>(), nullptr, xd.as<float>(), rows, n, 1e-6f);  // in place, no weight
    expect_close(to_host<float>(xd, x.size()), want_nw, 1e-6, 1e-7, "rms_norm in place");
}

TEST_F(CudaTest, Rope) {
    Context cpu({std::nullopt, 1});
    const int64_t rows = 6;
    const int heads = 3, head_dim = 64;
    const std::vector<int32_t> pos = {0, 1, 7, 100, 4095, 31999};
    std::vector<float> ff(16);
    for (size_t i = 0; i < ff.size(); ++i) ff[i] = 1.0f + 0.5f * float(i);
    CudaBuffer posd = to_device(pos), ffd = to_device(ff);
    for (RopeLayout layout : {RopeLayout::Normal, RopeLayout::Neox})
        for (int n_dims : {64, 32})
            for (bool factors : {false, true}) {
                RopeParams p;
                p.layout = layout, p.n_dims = n_dims, p.freq_base = 10000.0f, p.freq_scale = 0.5f;
                std::vector<float> x = make_activations(rows, heads * head_dim, uint32_t(n_dims));
                CudaBuffer xd = to_device(x);
                p.freq_factors = factors && n_dims == 32 ? ffd.as<float>() : nullptr;
                cuda_rope(*ctx_, xd.as<float>(), rows, heads, head_dim, posd.as<int32_t>(), p);
                p.freq_factors = factors && n_dims == 32 ? ff.data() : nullptr;
                rope(cpu, x.data(), rows, heads, head_dim, pos.data(), p);
                expect_close(to_host<float>(xd, x.size()), x, 1e-6, 1e-6, "rope");
            }
}

TEST_F(CudaTest, GatedActivationsAndBias) {
    Context cpu({std::nullopt, 1});
    const int64_t n = 1001;
    std::vector<float> g = make_activations(1, n, 1), u = make_activations(1, n, 2);
    for (auto& v : g) v *= 6.0f;
    for (bool gelu : {false, true}) {
        std::vector<float> want = g;
        CudaBuffer gd = to_device(g), ud = to_device(u);
        if (gelu) {
            gelu_tanh_mul(cpu, want.data(), u.data(), n);
            cuda_gelu_tanh_mul(*ctx_, gd.as<float>(), ud.as<float>(), n);
        } else {
            silu_mul(cpu, want.data(), u.data(), n);
            cuda_silu_mul(*ctx_, gd.as<float>(), ud.as<float>(), n);
        }
        expect_close(to_host<float>(gd, size_t(n)), want, 1e-5, 1e-6, gelu ? "gelu_tanh_mul" : "silu_mul");
    }
    const int64_t rows = 3, cols = 333;
    std::vector<float> x = make_activations(rows, cols, 5), b = make_activations(1, cols, 6);
    CudaBuffer xd = to_device(x), bd = to_device(b);
    cuda_add_bias(*ctx_, xd.as<float>(), bd.as<float>(), rows, cols);
    add_bias(cpu, x.data(), b.data(), rows, cols);
    EXPECT_EQ(to_host<float>(xd, x.size()), x);  // one float add: exact
}

// ---- CUDA graph capture --------------------------------------------------------------

// A decode-like step (rmsnorm, fused QKV GEMV, rope, GEMV, SiLU) must enqueue
// nothing that breaks stream capture (no sync, no allocation, no H2D copy) once
// warmed up, and the replayed graph must give the same bytes as eager runs.
TEST_F(CudaTest, DecodeStepCapturesIntoAGraph) {
    const int64_t k = 512, m = 1;
    const Weights wq = make_weights(GgmlType::Q4_K, 512, k, 1), wk = make_weights(GgmlType::Q4_K, 128, k, 2),
                  wv = make_weights(GgmlType::Q6_K, 128, k, 3), wu = make_weights(GgmlType::Q8_0, 1024, k, 4);
    const DeviceWeight &q = ctx_->upload(wq.view), &kk = ctx_->upload(wk.view), &v = ctx_->upload(wv.view),
                       &u = ctx_->upload(wu.view);
    const std::vector<float> x = make_activations(m, k, 3), norm_w = make_activations(1, k, 4);
    CudaBuffer xd = to_device(x), nwd = to_device(norm_w), h = device_floats(size_t(k)), yq = device_floats(512),
               yk = device_floats(128), yv = device_floats(128), yu = device_floats(1024), pos = to_device(std::vector<int32_t>{42});
    RopeParams rp;
    rp.layout = RopeLayout::Neox, rp.n_dims = 64;
    auto step = [&] {
        cuda_rms_norm(*ctx_, xd.as<float>(), nwd.as<float>(), h.as<float>(), m, k, 1e-6f);
        cuda_matmul_qkv(*ctx_, h.as<float>(), m, q, kk, v, yq.as<float>(), yk.as<float>(), yv.as<float>());
        cuda_rope(*ctx_, yq.as<float>(), m, 8, 64, pos.as<int32_t>(), rp);
        cuda_matmul(*ctx_, h.as<float>(), m, u, yu.as<float>());
        cuda_silu_mul(*ctx_, yu.as<float>(), yu.as<float>() + 512, 512);
    };
    step();  // warm-up: scratch buffers grow here
    const std::vector<float> eager_q = to_host<float>(yq, 512), eager_u = to_host<float>(yu, 1024);

    auto stream = static_cast<cudaStream_t>(ctx_->stream());
    cudaGraph_t graph = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
    step();
    ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    ctx_->synchronize();
    EXPECT_EQ(to_host<float>(yq, 512), eager_q);
    EXPECT_EQ(to_host<float>(yu, 1024), eager_u);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
}

TEST_F(CudaTest, PoolReusesBuffers) {
    void* first = nullptr;
    {
        CudaBuffer a = ctx_->alloc(1 << 20);
        first = a.data();
    }
    CudaBuffer b = ctx_->alloc(1 << 20);
    EXPECT_EQ(b.data(), first);
}

}  // namespace
}  // namespace qlm
