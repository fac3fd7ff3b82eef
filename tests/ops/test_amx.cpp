// The AMX rung (src/cpu/amx/): its GEMM gives the same bits as the AVX-512
// VNNI GEMM and tiles for every type it takes (cpu/kernels.h, batch
// invariance across rungs), on shapes with partial panels (n % 16 != 0),
// several slabs and k chunks, and partial activation-row groups. Skipped,
// saying why, where this CPU or kernel gives no AMX.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "cpu/kernels.h"
#include "formats/traits.h"
#include "ops/context_impl.h"
#include "qlm/ops.h"

namespace qlm {

void PrintTo(GgmlType t, std::ostream* os) { *os << type_name(t); }  // readable test parameters (ADL)

namespace {

class TableContext : public Context {
public:
    TableContext(const cpu::KernelTable& t, int threads) : Context(ContextOptions{Isa::Avx512, threads}) {
        impl().table = &t;
    }
};

std::vector<GgmlType> amx_types() {
    using T = GgmlType;
    return {T::Q4_0, T::Q4_1, T::Q5_0, T::Q5_1, T::Q8_0, T::IQ4_NL, T::MXFP4,
            T::Q2_K, T::Q3_K, T::Q4_K, T::Q5_K, T::Q6_K, T::IQ4_XS};
}

class AmxTest : public testing::TestWithParam<GgmlType> {
protected:
    void SetUp() override {
        if (!isa_supported(Isa::Avx512)) GTEST_SKIP() << "no AVX-512 VNNI on this CPU: no AMX rung";
        if (!cpu::amx_usable()) GTEST_SKIP() << cpu::amx_status();
    }
};

TEST_P(AmxTest, SameBitsAsVnni) {
    const GgmlType type = GetParam();
    const bool k_quant = type_info(type).block_size == 256;
    const uint32_t id = uint32_t(type);
    const cpu::KernelTable& amx = cpu::avx512_kernels();
    const cpu::KernelTable& vnni = cpu::avx512_vnni_kernels();
    ASSERT_NE(amx.gemm[id], nullptr);
    // k: several k chunks (16 super-blocks, 64 blocks) with a partial one; n:
    // several 128-row slabs, a partial 16-row panel; and small shapes
    struct Shape {
        int64_t n, k;
    };
    const std::vector<Shape> shapes = k_quant ? std::vector<Shape>{{37, 768}, {200, 256 * 18}}
                                              : std::vector<Shape>{{37, 320}, {200, 32 * 150}};
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (const Shape& sh : shapes) {
        const size_t rs = row_size(type, sh.k);
        // 16 distinct quantized rows (the reference quantizers are slow), cycled
        std::vector<uint8_t> bytes(rs * size_t(sh.n));
        std::vector<float> row(size_t(sh.k));
        for (int64_t r = 0; r < sh.n; ++r) {
            if (r < 16) {
                for (auto& v : row) v = nd(rng);
                quantize_row(type, row.data(), bytes.data() + size_t(r) * rs, sh.k);
            } else {
                std::memcpy(bytes.data() + size_t(r) * rs, bytes.data() + size_t(r % 16) * rs, rs);
            }
        }
        const WeightView w{type, sh.n, sh.k, rs, bytes.data(), "amx.test", false};
        // partial row groups; the K-quants' blocks of activation rows and
        // chunks of k (m = 390 at k = 4608: two of each) and the legacy panels
        for (int64_t m : {4, 9, 16, 23, 64, 65, 100, 390}) {
            if (!cpu::gemm_runs_amx(amx.gemm[id], type, m)) {
                ASSERT_LT(m, 64) << "m = " << m << " does not run AMX";
                continue;
            }
            std::vector<float> x(size_t(m * sh.k));
            std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
            for (auto& v : x) v = ud(rng);
            std::vector<float> ya(size_t(m * sh.n), NAN), yv(ya.size(), NAN), y1(size_t(sh.n), NAN);
            TableContext ca(amx, 2), cv(vnni, 2);
            matmul(ca, x.data(), m, w, ya.data());
            matmul(cv, x.data(), m, w, yv.data());
            for (int64_t i = 0; i < m; ++i) {
                for (int64_t r = 0; r < sh.n; ++r)
                    ASSERT_EQ(std::memcmp(&ya[size_t(i * sh.n + r)], &yv[size_t(i * sh.n + r)], 4), 0)
                        << type_name(type) << " " << sh.n << " x " << sh.k << " m = " << m << ": row " << i
                        << " output " << r << ": amx " << ya[size_t(i * sh.n + r)] << ", vnni "
                        << yv[size_t(i * sh.n + r)];
            }
            // and the m = 1 path (tiles) of one row
            const int64_t i = m - 1;
            matmul(ca, x.data() + i * sh.k, 1, w, y1.data());
            ASSERT_EQ(std::memcmp(y1.data(), ya.data() + i * sh.n, size_t(sh.n) * 4), 0)
                << type_name(type) << " m = " << m << ": last row alone differs";
        }
    }
}

std::string name(const testing::TestParamInfo<GgmlType>& p) { return type_name(p.param); }

INSTANTIATE_TEST_SUITE_P(Types, AmxTest, testing::ValuesIn(amx_types()), name);

TEST(AmxStatus, SaysWhichPath) {
    const std::string s = cpu::amx_status();
    EXPECT_FALSE(s.empty());
    if (cpu::amx_usable())
        EXPECT_NE(s.find("amx-int8"), std::string::npos) << s;
    else if (s.find("not an x86-64 build") == std::string::npos)  // arm64: no x86 rungs at all
        EXPECT_NE(s.find("VNNI"), std::string::npos) << s;
}

}  // namespace
}  // namespace qlm
