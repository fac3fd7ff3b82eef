#include "cuda/validate.h"

#include <limits>

#include "cuda/config.h"
#include "qlm/error.h"

namespace qlm::cuda {

namespace {
constexpr int64_t kIntMax = std::numeric_limits<int>::max();
}

const char* matmul_path_name(MatmulPath p) noexcept {
    switch (p) {
        case MatmulPath::GemvQ8_1: return "gemv_q8_1";
        case MatmulPath::GemvFloat: return "gemv_float";
        case MatmulPath::GemmBf16: return "gemm_bf16 (cuBLAS)";
        case MatmulPath::GemmF32: return "gemm_f32 (cuBLAS)";
    }
    return "?";
}

bool supports_gemv_q8_1(GgmlType t) noexcept {
    using T = GgmlType;
    switch (t) {
        case T::Q4_0: case T::Q4_1: case T::Q5_0: case T::Q5_1: case T::Q8_0:
        case T::Q2_K: case T::Q3_K: case T::Q4_K: case T::Q5_K: case T::Q6_K:
        case T::IQ4_NL: case T::IQ4_XS: case T::MXFP4:
            return true;
        default: return false;
    }
}

bool supports_gemv_float(GgmlType t) noexcept {
    return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16;
}

bool supports_gemm(GgmlType t) noexcept { return supports_gemv_q8_1(t) || supports_gemv_float(t); }

std::string describe(const DeviceWeight& w) {
    return cat(w.name.empty() ? std::string("<unnamed>") : w.name, " (", type_name(w.type), ", ", w.n, " x ", w.k, ")");
}

MatmulPath choose_matmul_path(const char* op, const DeviceWeight& w, int64_t m) {
    if (m <= kGemvMaxM && supports_gemv_q8_1(w.type)) return MatmulPath::GemvQ8_1;
    if (m <= kGemvMaxM && supports_gemv_float(w.type)) return MatmulPath::GemvFloat;
    if (m > kGemvMaxM && w.type == GgmlType::F32) return MatmulPath::GemmF32;
    if (m > kGemvMaxM && supports_gemm(w.type)) return MatmulPath::GemmBf16;
    fail(op, ": no CUDA kernel for weight ", describe(w), " with ", m, " activation rows");
}

void check_upload(const WeightView& w) {
    const std::string name = w.name.empty() ? std::string("<unnamed>") : w.name;
    const auto where = [&] { return cat("cuda upload: weight ", name, " (", type_name(w.type), ", ", w.n, " x ", w.k, ")"); };
    if (w.transposed) fail(where(), ": transposed weight views are not supported on CUDA");
    if (!w.data) fail(where(), " has no data");
    if (w.n <= 0 || w.k <= 0) fail(where(), " is empty");
    if (!supports_gemm(w.type)) fail(where(), ": ", type_name(w.type), " is not a weight type of the CUDA backend");
    const uint32_t bs = type_info(w.type).block_size;
    if (w.k % bs != 0)
        fail(where(), ": row length ", w.k, " is not a multiple of the ", type_name(w.type), " block size ", bs,
             bs == 256 ? " (K-quant rows must be whole 256-element super-blocks)" : "");
    if (w.k > kIntMax || w.n > kIntMax) fail(where(), ": more than ", kIntMax, " rows or columns");
    const size_t rs = row_size(w.type, w.k);
    if (w.row_stride < rs) fail(where(), ": row stride ", w.row_stride, " is smaller than the row size ", rs);
    if (size_t(w.n) > std::numeric_limits<size_t>::max() / rs) fail(where(), ": byte size overflows");
}

void check_matmul(const char* op, const DeviceWeight& w, int64_t m, const void* x, const void* y) {
    if (!w.data) fail(op, ": weight ", describe(w), " is not on the device");
    if (w.n <= 0 || w.k <= 0 || w.n > kIntMax || w.k > kIntMax) fail(op, ": weight ", describe(w), " has a bad shape");
    const uint32_t bs = type_info(w.type).block_size;
    if (w.k % bs != 0)
        fail(op, ": weight ", describe(w), ": row length ", w.k, " is not a multiple of the ", type_name(w.type),
             " block size ", bs);
    if (w.row_bytes != row_size(w.type, w.k))
        fail(op, ": weight ", describe(w), ": device rows must be contiguous (row_bytes ", w.row_bytes, ")");
    if (m <= 0 || m > kIntMax) fail(op, ": weight ", describe(w), ": activation rows must be in 1..", kIntMax, ", got ", m);
    if (!x || !y) fail(op, ": weight ", describe(w), ": null activation or output pointer");
}

void check_q8_1_shape(const char* op, int64_t m, int64_t k) {
    if (m <= 0 || k <= 0) fail(op, ": empty shape ", m, " x ", k);
    if (k % 32 != 0) fail(op, ": row length ", k, " is not a multiple of the Q8_1 block size 32");
    if (k > kIntMax || m > kIntMax) fail(op, ": shape ", m, " x ", k, " is too large");
}

void check_rms_norm(int64_t rows, int64_t n, const void* x, const void* y) {
    if (rows <= 0 || n <= 0) fail("cuda_rms_norm: empty shape ", rows, " x ", n);
    if (rows > kIntMax) fail("cuda_rms_norm: ", rows, " rows is more than one launch takes (", kIntMax, ")");
    if (!x || !y) fail("cuda_rms_norm: null input or output pointer");
}

void check_rope(int64_t rows, int n_heads, int head_dim, const int32_t* positions, const RopeParams& p,
                const void* x) {
    if (rows <= 0 || n_heads <= 0 || head_dim <= 0)
        fail("cuda_rope: empty shape ", rows, " rows x ", n_heads, " heads x ", head_dim);
    if (p.n_dims <= 0 || p.n_dims > head_dim || p.n_dims % 2 != 0)
        fail("cuda_rope: rotary dimensions ", p.n_dims, " must be even and within the head size ", head_dim);
    if (!positions || !x) fail("cuda_rope: null positions or input pointer");
    if (p.ext_factor != 0.0f && p.n_ctx_orig <= 0)
        fail("cuda_rope: YaRN needs the original context length, got ", p.n_ctx_orig);
}

void check_elementwise(const char* op, int64_t n, const void* a, const void* b) {
    if (n < 0) fail(op, ": negative length ", n);
    if (n > 0 && (!a || !b)) fail(op, ": null pointer");
}

void check_add_bias(int64_t rows, int64_t n, const void* x, const void* b) {
    if (rows < 0 || n < 0) fail("cuda_add_bias: negative shape ", rows, " x ", n);
    if (rows > 0 && n > 0 && (!x || !b)) fail("cuda_add_bias: null pointer");
    if (n > 0 && rows > std::numeric_limits<int64_t>::max() / n) fail("cuda_add_bias: shape ", rows, " x ", n, " overflows");
}

int64_t gemm_tile_rows(int64_t n, int64_t k, size_t tile_bytes) noexcept {
    if (n <= 0 || k <= 0) return 1;
    const int64_t fit = int64_t(tile_bytes / (size_t(k) * 2));
    if (fit >= n) return n;
    if (fit >= 64) return fit / 64 * 64;
    return fit > 0 ? fit : 1;
}

}  // namespace qlm::cuda
