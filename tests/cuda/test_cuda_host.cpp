// CUDA backend checks that run on any machine, GPU or not:
//  - the GEMV's per-slice integer math (src/cuda/slice_dot.h, host-and-device
//    code) run on the CPU against the reference vec_dot and dequantize_row;
//  - argument validation and the kernel-choice ladder (errors name op, weight,
//    type, shape);
//  - the buffer pool's bookkeeping with a fake allocator;
//  - cuda_available() and the context's error without a device.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <stdexcept>

#include "cuda/buffer_pool.h"
#include "cuda/check.h"
#include "cuda/config.h"
#include "cuda/slice_dot.h"
#include "cuda/validate.h"
#include "cuda_test_util.h"
#include "qlm/cuda.h"
#include "qlm/error.h"

namespace qlm {

void PrintTo(GgmlType t, std::ostream* os) { *os << type_name(t); }

namespace {

using namespace cudatest;

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "<no error>";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// ---- Per-slice math on the CPU ----------------------------------------------

// Runs SliceDot<T> over row r of w against Q8_1 activations xq: the slice terms
// (what one GPU thread computes) and the dequantized slices.
struct Emulated {
    std::vector<float> terms;  // one per 32-element slice
    std::vector<float> deq;    // k floats
};

template <GgmlType T>
Emulated emulate_row(const uint8_t* row, const fmt::block_q8_1* xq, int64_t k) {
    using S = cuda::SliceDot<T>;
    using Block = typename S::Block;
    Emulated e;
    const auto* blocks = reinterpret_cast<const Block*>(row);
    for (int64_t q = 0; q < k / 32; ++q) {
        const Block& b = blocks[q / S::kSlices];
        const int s = int(q % S::kSlices);
        e.terms.push_back(cuda::slice_term<T>(b, s, xq[q]));
        cuda::WeightSlice w{};
        S::load(b, s, w);
        float v[32];
        S::dequantize(w, v);
        e.deq.insert(e.deq.end(), v, v + 32);
    }
    return e;
}

Emulated emulate(GgmlType t, const uint8_t* row, const fmt::block_q8_1* xq, int64_t k) {
    using T = GgmlType;
    switch (t) {
        case T::Q4_0: return emulate_row<T::Q4_0>(row, xq, k);
        case T::Q4_1: return emulate_row<T::Q4_1>(row, xq, k);
        case T::Q5_0: return emulate_row<T::Q5_0>(row, xq, k);
        case T::Q5_1: return emulate_row<T::Q5_1>(row, xq, k);
        case T::Q8_0: return emulate_row<T::Q8_0>(row, xq, k);
        case T::Q2_K: return emulate_row<T::Q2_K>(row, xq, k);
        case T::Q3_K: return emulate_row<T::Q3_K>(row, xq, k);
        case T::Q4_K: return emulate_row<T::Q4_K>(row, xq, k);
        case T::Q5_K: return emulate_row<T::Q5_K>(row, xq, k);
        case T::Q6_K: return emulate_row<T::Q6_K>(row, xq, k);
        case T::IQ4_NL: return emulate_row<T::IQ4_NL>(row, xq, k);
        case T::IQ4_XS: return emulate_row<T::IQ4_XS>(row, xq, k);
        case T::MXFP4: return emulate_row<T::MXFP4>(row, xq, k);
        default: break;
    }
    ADD_FAILURE() << "no SliceDot for " << type_name(t);
    return {};
}

std::vector<GgmlType> quant_types() {
    std::vector<GgmlType> out;
    for (GgmlType t : weight_types())
        if (!is_float_type(t)) out.push_back(t);
    return out;
}

class SliceDotHost : public testing::TestWithParam<GgmlType> {};

// The decoded slices expand to exactly the reference dequantization.
TEST_P(SliceDotHost, DequantizeIsBitExact) {
    const GgmlType t = GetParam();
    const int64_t k = 768, n = 7;  // several super-blocks / 24 blocks per row
    const Weights w = make_weights(t, n, k, 21);
    const std::vector<float> x = make_activations(1, k, 5);
    std::vector<fmt::block_q8_1> xq(size_t(k / 32));
    quantize_row(GgmlType::Q8_1, x.data(), xq.data(), k);
    for (int64_t r = 0; r < n; ++r) {
        const Emulated e = emulate(t, w.bytes.data() + r * w.view.row_stride, xq.data(), k);
        ASSERT_EQ(e.deq.size(), size_t(k));
        ASSERT_EQ(0, std::memcmp(e.deq.data(), w.deq.data() + r * k, size_t(k) * sizeof(float)))
            << type_name(t) << " row " << r;
    }
}

// Legacy partners: every slice term equals the reference vec_dot of that
// block bit for bit. K-quants/IQ4_XS (CPU partner Q8_K): each slice term
// equals the exact dot of the dequantized weights with the dequantized Q8_1
// activations up to float rounding.
TEST_P(SliceDotHost, TermsMatchReference) {
    const GgmlType t = GetParam();
    const int64_t k = 768, n = 9;
    const Weights w = make_weights(t, n, k, 3);
    for (uint32_t seed : {1u, 2u, 3u}) {
        const std::vector<float> x = make_activations(1, k, seed);
        std::vector<fmt::block_q8_1> xq(size_t(k / 32));
        quantize_row(GgmlType::Q8_1, x.data(), xq.data(), k);
        std::vector<float> xd(static_cast<size_t>(k));
        dequantize_row(GgmlType::Q8_1, xq.data(), xd.data(), k);
        for (int64_t r = 0; r < n; ++r) {
            const uint8_t* row = w.bytes.data() + r * w.view.row_stride;
            const Emulated e = emulate(t, row, xq.data(), k);
            if (legacy_partner(t)) {
                const std::vector<float> ref = block_terms(t, row, xq.data(), k);
                ASSERT_EQ(ref.size(), e.terms.size());
                for (size_t b = 0; b < ref.size(); ++b)
                    ASSERT_EQ(e.terms[b], ref[b]) << type_name(t) << " row " << r << " block " << b;
            } else {
                float wmax = 0;
                for (int64_t j = 0; j < k; ++j) wmax = std::max(wmax, std::fabs(w.deq[size_t(r * k + j)]));
                for (size_t q = 0; q < e.terms.size(); ++q) {
                    double exact = 0, xabs = 0;
                    for (int j = 0; j < 32; ++j) {
                        exact += double(w.deq[size_t(r * k) + 32 * q + j]) * double(xd[32 * q + j]);
                        xabs += std::fabs(double(xd[32 * q + j]));
                    }
                    // a wrong element would be off by ~|w_j x_j|; rounding is ~1e-7 of the magnitude
                    ASSERT_NEAR(double(e.terms[q]), exact, 1e-5 * xabs * wmax + 1e-30)
                        << type_name(t) << " row " << r << " slice " << q;
                }
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllQuantTypes, SliceDotHost, testing::ValuesIn(quant_types()),
                         [](const testing::TestParamInfo<GgmlType>& p) { return std::string(type_name(p.param)); });

TEST(SliceDotIntrinsics, HostEmulation) {
    // dp4a: signed bytes
    EXPECT_EQ(cuda::dp4a(int(0xff7f0180u), int(0x02ff7f80u), 10), 10 + (-128) * (-128) + 1 * 127 + 127 * (-1) + (-1) * 2);
    EXPECT_EQ(cuda::vsub4(0x00100805u, 0x01080808u), 0xff0800fdu);
    // byte_perm selects bytes of {y, x}
    EXPECT_EQ(cuda::byte_perm(0x03020100u, 0x07060504u, 0x7531u), 0x07050301u);
    // the 16-entry table lookups
    for (int i = 0; i < 16; ++i) {
        const uint32_t idx = uint32_t(i) | (uint32_t(15 - i) << 8) | (uint32_t((i * 7) & 15) << 16) | (uint32_t(i ^ 9) << 24);
        const uint32_t nl = cuda::lookup_iq4nl(idx), mx = cuda::lookup_mxfp4(idx);
        for (int b = 0; b < 4; ++b) {
            const int j = int((idx >> (8 * b)) & 15);
            EXPECT_EQ(int8_t(nl >> (8 * b)), fmt::iq4nl_value(j));
            EXPECT_EQ(int8_t(mx >> (8 * b)), fmt::mxfp4_value(j));
        }
    }
}

// ---- Validation and the kernel ladder ---------------------------------------

DeviceWeight device_weight(GgmlType t, int64_t n, int64_t k) {
    static const uint8_t dummy[1] = {};
    return {t, n, k, row_size(t, k), dummy, "blk.3.attn_q.weight"};
}

TEST(CudaValidation, MatmulLadder) {
    using cuda::MatmulPath;
    for (GgmlType t : weight_types()) {
        const int64_t k = type_info(t).block_size == 256 ? 256 : 64;
        const DeviceWeight w = device_weight(t, 5, k);
        for (int64_t m = 1; m <= 17; ++m) {
            const MatmulPath p = cuda::choose_matmul_path("test", w, m);
            if (m <= cuda::kGemvMaxM)
                EXPECT_EQ(p, is_float_type(t) ? MatmulPath::GemvFloat : MatmulPath::GemvQ8_1) << type_name(t);
            else
                EXPECT_EQ(p, t == GgmlType::F32 ? MatmulPath::GemmF32 : MatmulPath::GemmBf16) << type_name(t);
        }
    }
    // activation-only types are not weights
    const std::string e = error_of([] { cuda::choose_matmul_path("cuda_matmul", device_weight(GgmlType::Q8_K, 2, 256), 1); });
    EXPECT_TRUE(contains(e, "cuda_matmul") && contains(e, "Q8_K") && contains(e, "blk.3.attn_q.weight") && contains(e, "2 x 256"))
        << e;
}

TEST(CudaValidation, UploadErrorsNameTheWeight) {
    std::vector<uint8_t> bytes(4096);
    const WeightView good{GgmlType::Q4_K, 2, 512, row_size(GgmlType::Q4_K, 512), bytes.data(), "blk.0.ffn_up.weight", false};
    EXPECT_NO_THROW(cuda::check_upload(good));

    WeightView v = good;
    v.k = 384;  // not whole K-quant super-blocks
    std::string e = error_of([&] { cuda::check_upload(v); });
    EXPECT_TRUE(contains(e, "blk.0.ffn_up.weight") && contains(e, "Q4_K") && contains(e, "256") && contains(e, "384")) << e;

    v = good;
    v.transposed = true;
    e = error_of([&] { cuda::check_upload(v); });
    EXPECT_TRUE(contains(e, "transposed") && contains(e, "blk.0.ffn_up.weight")) << e;

    v = good;
    v.data = nullptr;
    EXPECT_TRUE(contains(error_of([&] { cuda::check_upload(v); }), "no data"));

    v = good;
    v.row_stride = 10;
    EXPECT_TRUE(contains(error_of([&] { cuda::check_upload(v); }), "row stride"));

    v = good;
    v.n = 0;
    EXPECT_TRUE(contains(error_of([&] { cuda::check_upload(v); }), "empty"));

    v = good;
    v.type = GgmlType::Q8_K;
    v.row_stride = row_size(GgmlType::Q8_K, 512);
    EXPECT_TRUE(contains(error_of([&] { cuda::check_upload(v); }), "not a weight type"));
}

TEST(CudaValidation, MatmulArguments) {
    const DeviceWeight w = device_weight(GgmlType::Q6_K, 8, 512);
    float buf[1];
    EXPECT_NO_THROW(cuda::check_matmul("cuda_matmul", w, 3, buf, buf));
    std::string e = error_of([&] { cuda::check_matmul("cuda_matmul", w, 0, buf, buf); });
    EXPECT_TRUE(contains(e, "cuda_matmul") && contains(e, "Q6_K") && contains(e, "8 x 512") && contains(e, "got 0")) << e;
    EXPECT_TRUE(contains(error_of([&] { cuda::check_matmul("op", w, 1, nullptr, buf); }), "null"));
    DeviceWeight strided = w;
    strided.row_bytes += 2;
    EXPECT_TRUE(contains(error_of([&] { cuda::check_matmul("op", strided, 1, buf, buf); }), "contiguous"));
    DeviceWeight absent = w;
    absent.data = nullptr;
    EXPECT_TRUE(contains(error_of([&] { cuda::check_matmul("op", absent, 1, buf, buf); }), "not on the device"));
}

TEST(CudaValidation, OtherOps) {
    EXPECT_TRUE(contains(error_of([] { cuda::check_q8_1_shape("cuda_quantize_q8_1", 2, 48); }), "multiple of the Q8_1 block size"));
    EXPECT_TRUE(contains(error_of([] { (void)cuda_q8_1_bytes(1, 40); }), "40"));
    EXPECT_EQ(cuda_q8_1_bytes(3, 4096), size_t(3) * 128 * 36);

    float x[1];
    int32_t pos[1];
    RopeParams p;
    p.n_dims = 7;
    EXPECT_TRUE(contains(error_of([&] { cuda::check_rope(1, 2, 64, pos, p, x); }), "must be even"));
    p.n_dims = 128;
    EXPECT_TRUE(contains(error_of([&] { cuda::check_rope(1, 2, 64, pos, p, x); }), "within the head size 64"));
    p.n_dims = 64;
    EXPECT_NO_THROW(cuda::check_rope(1, 2, 64, pos, p, x));
    EXPECT_TRUE(contains(error_of([&] { cuda::check_rope(1, 2, 64, nullptr, p, x); }), "null"));

    EXPECT_TRUE(contains(error_of([&] { cuda::check_rms_norm(0, 5, x, x); }), "empty"));
    EXPECT_TRUE(contains(error_of([&] { cuda::check_elementwise("cuda_silu_mul", -1, x, x); }), "cuda_silu_mul"));
    EXPECT_NO_THROW(cuda::check_elementwise("cuda_silu_mul", 0, nullptr, nullptr));
    EXPECT_TRUE(contains(error_of([&] { cuda::check_add_bias(2, 3, nullptr, x); }), "null"));
}

TEST(CudaValidation, GemmTileRows) {
    EXPECT_EQ(cuda::gemm_tile_rows(4096, 4096, size_t(64) << 20), 4096);        // 32 MiB: whole
    EXPECT_EQ(cuda::gemm_tile_rows(262144, 640, size_t(64) << 20), 52416);      // 64 MiB / 1280 B, multiple of 64
    EXPECT_EQ(cuda::gemm_tile_rows(100, 1 << 20, size_t(64) << 20), 32);        // fewer than 64 fit
    EXPECT_EQ(cuda::gemm_tile_rows(100, int64_t(1) << 30, size_t(64) << 20), 1);  // not even one: one
    for (int64_t n : {1, 63, 64, 65, 1000, 99999}) {
        const int64_t t = cuda::gemm_tile_rows(n, 3000, size_t(1) << 20);
        EXPECT_GE(t, 1);
        EXPECT_LE(t, n);
        EXPECT_LE(size_t(t) * 3000 * 2, size_t(1) << 20);
    }
}

TEST(CudaValidation, GemvShapesFitTheKernel) {
    for (int m = 1; m <= cuda::kGemvMaxM; ++m) {
        const cuda::GemvShape s = cuda::gemv_shape(m);
        EXPECT_GE(s.warps, 1);
        EXPECT_LE(s.warps, 8) << "gemv.cuh reduces over at most kGemvMaxWarps = 8 warps";
        EXPECT_GE(s.rows, 1);
        EXPECT_LE(s.rows * m, 32 * s.warps) << "one thread stores each (row, m) output";
    }
}

// ---- Buffer pool ------------------------------------------------------------

struct FakeDevice {
    size_t limit = size_t(1) << 30, used = 0;
    std::set<void*> live;
    std::map<void*, size_t> sizes;
    static void* alloc(size_t bytes, void* user) {
        auto* d = static_cast<FakeDevice*>(user);
        if (d->used + bytes > d->limit) return nullptr;
        void* p = std::malloc(bytes);
        d->used += bytes;
        d->live.insert(p);
        d->sizes[p] = bytes;
        return p;
    }
    static void free(void* p, void* user) {
        auto* d = static_cast<FakeDevice*>(user);
        EXPECT_EQ(d->live.erase(p), 1u) << "freed a pointer that is not live";
        d->used -= d->sizes[p];
        d->sizes.erase(p);
        std::free(p);
    }
};

TEST(BufferPool, RoundsSizes) {
    using cuda::BufferPool;
    EXPECT_EQ(BufferPool::round_size(0), 256u);
    EXPECT_EQ(BufferPool::round_size(1), 256u);
    EXPECT_EQ(BufferPool::round_size(256), 256u);
    EXPECT_EQ(BufferPool::round_size(257), 512u);
    EXPECT_EQ(BufferPool::round_size(1000), 1024u);
    EXPECT_EQ(BufferPool::round_size(3000), 3072u);
    EXPECT_EQ(BufferPool::round_size((size_t(100) << 20) + 1), size_t(104) << 20);
    for (size_t b = 1; b < (size_t(1) << 26); b = b * 3 + 7) {
        const size_t r = BufferPool::round_size(b);
        EXPECT_GE(r, b);
        EXPECT_LE(double(r), std::max(256.0, double(b) * 1.125 + 256)) << b;
    }
}

TEST(BufferPool, ReusesReleasedBuffers) {
    FakeDevice dev;
    {
        cuda::BufferPool pool({FakeDevice::alloc, FakeDevice::free, &dev});
        size_t cap = 0;
        void* a = pool.acquire(1000, &cap);
        EXPECT_EQ(cap, 1024u);
        void* b = pool.acquire(5000);
        EXPECT_NE(a, b);
        auto s = pool.stats();
        EXPECT_EQ(s.allocations, 2u);
        EXPECT_EQ(s.buffers_in_use, 2u);
        EXPECT_EQ(s.in_use_bytes, 1024u + cuda::BufferPool::round_size(5000));
        pool.release(a);
        s = pool.stats();
        EXPECT_EQ(s.buffers_free, 1u);
        EXPECT_EQ(s.in_use_bytes, cuda::BufferPool::round_size(5000));
        // same size class: the same buffer, no new allocation
        EXPECT_EQ(pool.acquire(900), a);
        EXPECT_EQ(pool.stats().allocations, 2u);
        // a much smaller request does not take a big buffer
        pool.release(b);
        void* c = pool.acquire(100);
        EXPECT_NE(c, b);
        EXPECT_EQ(pool.stats().allocations, 3u);
        // nullptr is ignored; a foreign pointer is a programmer error
        pool.release(nullptr);
        int foreign = 0;
        EXPECT_THROW(pool.release(&foreign), std::logic_error);
        pool.release(c);
        pool.trim();
        s = pool.stats();
        EXPECT_EQ(s.buffers_free, 0u);
        EXPECT_EQ(s.reserved_bytes, s.in_use_bytes);
        EXPECT_EQ(dev.live.size(), 1u);  // a is still handed out
    }
    EXPECT_TRUE(dev.live.empty()) << "the pool frees everything when destroyed";
}

TEST(BufferPool, TrimsAndRetriesWhenOutOfMemory) {
    FakeDevice dev;
    dev.limit = 8192;
    cuda::BufferPool pool({FakeDevice::alloc, FakeDevice::free, &dev});
    void* a = pool.acquire(4096);
    void* b = pool.acquire(2048);
    pool.release(a);  // 4096 free, 2048 in use
    // 6144 fits only after the free 4096 goes back to the device
    void* c = pool.acquire(6144);
    EXPECT_NE(c, nullptr);
    EXPECT_EQ(pool.stats().buffers_free, 0u);
    const std::string e = error_of([&] { pool.acquire(100000); });
    EXPECT_TRUE(contains(e, "cannot allocate")) << e;
    pool.release(b);
    pool.release(c);
}

// ---- Without a device -------------------------------------------------------

TEST(CudaHost, AvailabilityNeverThrows) {
    bool available = true;
    EXPECT_NO_THROW(available = cuda_available());
    EXPECT_EQ(available, cuda_device_count() > 0);
}

TEST(CudaHost, ContextWithoutDeviceIsAnError) {
    if (cuda_available()) {
        CudaOptions o;
        o.device = cuda_device_count();  // one past the last
        const std::string e = error_of([&] { CudaContext ctx(o); });
        EXPECT_TRUE(contains(e, "does not exist")) << e;
        return;
    }
    const std::string e = error_of([] { CudaContext ctx; });
    EXPECT_TRUE(contains(e, "no CUDA device")) << e;
}

TEST(CudaHost, ErrorsNameTheKernelAndCall) {
    std::string e = error_of([] {
        cuda::fail_launch({"gemv_q8_1", "Q4_K", 3}, dim3(7), dim3(32, 4), cudaErrorInvalidConfiguration, false);
    });
    EXPECT_TRUE(contains(e, "gemv_q8_1<Q4_K, m=3>") && contains(e, "grid 7x1x1") && contains(e, "block 32x4x1") &&
                contains(e, "cudaErrorInvalidConfiguration"))
        << e;
    e = error_of([] { QLM_CUDA_CHECK(cudaErrorMemoryAllocation); });
    EXPECT_TRUE(contains(e, "cudaErrorMemoryAllocation") && contains(e, "test_cuda_host.cpp")) << e;
}

}  // namespace
}  // namespace qlm
