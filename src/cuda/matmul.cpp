// matmul on the device: validate, pick the path from the ladder in
// validate.cpp, prepare the activations once (Q8_1 for the integer GEMV, BF16
// for the GEMM), enqueue. The GEMM path is the simplest correct one: weight
// tiles dequantized to BF16 in a scratch buffer (the reference per-block
// dequantizer), then cuBLAS GemmEx with BF16 inputs and F32 accumulation.
// BF16 rather than F16 so that activations can never overflow; its 8-bit
// mantissa costs ~1e-5 normalized MSE, far inside DESIGN.md's 5e-4.
#include <cublas_v2.h>

#include <algorithm>

#include "cuda/check.h"
#include "cuda/config.h"
#include "cuda/context_impl.h"
#include "cuda/kernels.h"
#include "cuda/validate.h"
#include "qlm/error.h"

namespace qlm {

using cuda::MatmulPath;

namespace {

// Activations prepared at most once per call, shared by the weights of a fused call.
struct Prepared {
    const float* x;
    int64_t m, k;
    const void* q8_1 = nullptr;
    const uint16_t* bf16 = nullptr;
};

const void* prepared_q8_1(CudaContext::Impl& c, Prepared& p) {
    if (!p.q8_1) {
        void* out = c.scratch(c.q8_1, cuda_q8_1_bytes(p.m, p.k));
        cuda::launch_quantize_q8_1(c.launch_stream(), p.x, p.m, p.k, out);
        p.q8_1 = out;
    }
    return p.q8_1;
}

const uint16_t* prepared_bf16(CudaContext::Impl& c, Prepared& p) {
    if (!p.bf16) {
        auto* out = static_cast<uint16_t*>(c.scratch(c.x_bf16, size_t(p.m) * size_t(p.k) * 2));
        cuda::launch_f32_to_bf16(c.launch_stream(), p.x, p.m * p.k, out);
        p.bf16 = out;
    }
    return p.bf16;
}

void gemv(CudaContext::Impl& c, const DeviceWeight& w, const void* x, int64_t m, float* y) {
    cuda::launch_gemv(c.launch_stream(), {w.type, w.data, w.row_bytes, w.n, w.k, x, int(m), y, w.n});
}

// y (m × n, row-major) is column-major n × m with leading dimension n, so
// cuBLAS computes Yᶜ = Wᵀᶜ · Xᶜ: op(A) = transpose of the column-major k × rows tile.
void gemm_f32(CudaContext::Impl& c, const DeviceWeight& w, const float* x, int64_t m, float* y) {
    const float alpha = 1.0f, beta = 0.0f;
    QLM_CUBLAS_CHECK(cublasSgemm(c.cublas, CUBLAS_OP_T, CUBLAS_OP_N, int(w.n), int(m), int(w.k), &alpha,
                                 reinterpret_cast<const float*>(w.data), int(w.k), x, int(w.k), &beta, y, int(w.n)));
}

void gemm_bf16(CudaContext::Impl& c, const DeviceWeight& w, const uint16_t* xb, int64_t m, float* y) {
    const float alpha = 1.0f, beta = 0.0f;
    const int64_t tile = cuda::gemm_tile_rows(w.n, w.k, cuda::kGemmTileBytes);
    uint16_t* wt = nullptr;
    if (w.type != GgmlType::BF16) wt = static_cast<uint16_t*>(c.scratch(c.w_tile, size_t(tile) * size_t(w.k) * 2));
    for (int64_t r0 = 0; r0 < w.n; r0 += tile) {
        const int64_t rows = std::min(tile, w.n - r0);
        const uint8_t* src = w.data + size_t(r0) * w.row_bytes;
        const void* a = src;  // BF16 weights are used in place
        if (wt) {
            cuda::launch_dequantize_bf16(c.launch_stream(), w.type, src, w.row_bytes, rows, w.k, wt);
            a = wt;
        }
        QLM_CUBLAS_CHECK(cublasGemmEx(c.cublas, CUBLAS_OP_T, CUBLAS_OP_N, int(rows), int(m), int(w.k), &alpha, a,
                                      CUDA_R_16BF, int(w.k), xb, CUDA_R_16BF, int(w.k), &beta, y + r0, CUDA_R_32F,
                                      int(w.n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
}

void run_matmul(CudaContext::Impl& c, const char* op, Prepared& p, const DeviceWeight& w, float* y) {
    switch (cuda::choose_matmul_path(op, w, p.m)) {
        case MatmulPath::GemvQ8_1: return gemv(c, w, prepared_q8_1(c, p), p.m, y);
        case MatmulPath::GemvFloat: return gemv(c, w, p.x, p.m, y);
        case MatmulPath::GemmF32: return gemm_f32(c, w, p.x, p.m, y);
        case MatmulPath::GemmBf16: return gemm_bf16(c, w, prepared_bf16(c, p), p.m, y);
    }
}

}  // namespace

size_t cuda_q8_1_bytes(int64_t m, int64_t k) {
    cuda::check_q8_1_shape("cuda_q8_1_bytes", m, k);
    return size_t(m) * row_size(GgmlType::Q8_1, k);
}

void cuda_quantize_q8_1(CudaContext& ctx, const float* x_dev, int64_t m, int64_t k, void* out_dev) {
    cuda::check_q8_1_shape("cuda_quantize_q8_1", m, k);
    if (!x_dev || !out_dev) fail("cuda_quantize_q8_1: null input or output pointer");
    auto& c = ctx.impl();
    c.activate();
    cuda::launch_quantize_q8_1(c.launch_stream(), x_dev, m, k, out_dev);
}

void cuda_matmul(CudaContext& ctx, const float* x_dev, int64_t m, const DeviceWeight& w, float* y_dev) {
    cuda::check_matmul("cuda_matmul", w, m, x_dev, y_dev);
    auto& c = ctx.impl();
    c.activate();
    Prepared p{x_dev, m, w.k};
    run_matmul(c, "cuda_matmul", p, w, y_dev);
}

void cuda_matmul(CudaContext& ctx, const float* x_dev, int64_t m, const WeightView& w, float* y_dev) {
    cuda_matmul(ctx, x_dev, m, ctx.upload(w), y_dev);
}

void cuda_matmul_q8_1(CudaContext& ctx, const void* xq_dev, int64_t m, const DeviceWeight& w, float* y_dev) {
    const char* op = "cuda_matmul_q8_1";
    cuda::check_matmul(op, w, m, xq_dev, y_dev);
    if (cuda::choose_matmul_path(op, w, m) != MatmulPath::GemvQ8_1)
        fail(op, ": weight ", cuda::describe(w), " with ", m, " rows does not take Q8_1 activations (",
             "quantized weights and at most ", cuda::kGemvMaxM, " rows do)");
    auto& c = ctx.impl();
    c.activate();
    gemv(c, w, xq_dev, m, y_dev);
}

void cuda_matmul_qkv(CudaContext& ctx, const float* x_dev, int64_t m, const DeviceWeight& wq, const DeviceWeight& wk,
                     const DeviceWeight& wv, float* yq_dev, float* yk_dev, float* yv_dev) {
    const char* op = "cuda_matmul_qkv";
    cuda::check_matmul(op, wq, m, x_dev, yq_dev);
    cuda::check_matmul(op, wk, m, x_dev, yk_dev);
    cuda::check_matmul(op, wv, m, x_dev, yv_dev);
    if (wk.k != wq.k || wv.k != wq.k)
        fail(op, ": weights ", cuda::describe(wq), ", ", cuda::describe(wk), ", ", cuda::describe(wv),
             " do not share a row length");
    for (const DeviceWeight* w : {&wq, &wk, &wv}) cuda::choose_matmul_path(op, *w, m);  // all errors before any launch
    auto& c = ctx.impl();
    c.activate();
    Prepared p{x_dev, m, wq.k};
    run_matmul(c, op, p, wq, yq_dev);
    run_matmul(c, op, p, wk, yk_dev);
    run_matmul(c, op, p, wv, yv_dev);
}

}  // namespace qlm
