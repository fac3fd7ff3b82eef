// RMSNorm and the element-wise ops of the transformer blocks. Plain C++ with
// fixed-order partial sums, so results are the same on every backend thread
// split; the compiler vectorizes the inner loops.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/context_impl.h"
#include "ops/profile.h"
#include "qlm/error.h"

namespace qlm {

void rms_norm(Context& ctx, const float* x, const float* weight, float* y, int64_t rows, int64_t n, float eps) {
    ProfileScope scope(ctx.impl(), "rms_norm", rows, [n] { return cat("n = ", n); });
    auto one = [&](int64_t r) {
        const float* xr = x + r * n;
        float* yr = y + r * n;
        // As llama.cpp: float squares summed in double, the mean and the
        // scale in float. Eight partial sums in a fixed order (the compiler
        // vectorizes them; one serial chain of double adds was 4-5 % of a
        // prefill): a double sum of at most a few thousand float squares
        // differs from the serial one far below float resolution.
        double part[8] = {};
        int64_t j0 = 0;
        for (; j0 + 8 <= n; j0 += 8)
            for (int l = 0; l < 8; ++l) part[l] += double(xr[j0 + l] * xr[j0 + l]);
        double ss = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
        for (int64_t j = j0; j < n; ++j) ss += double(xr[j] * xr[j]);
        const float mean = float(ss / double(n));
        const float scale = 1.0f / std::sqrt(mean + eps);
        if (weight)
            for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] * scale * weight[j];
        else
            for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] * scale;
    };
    if (rows * n < 16384) {
        for (int64_t r = 0; r < rows; ++r) one(r);
        return;
    }
    ctx.impl().pool->run_ranges(rows, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) one(r);
    });
}

void to_f16(Context& ctx, const float* x, uint16_t* y, int64_t n) {
    ProfileScope scope(ctx.impl(), "kv_store", 0, [] { return std::string("f32 -> f16"); });
    cpu::kernel_or_scalar(*ctx.impl().table, &cpu::KernelTable::f32_to_f16)(x, y, n);
}

void add_bias(Context& ctx, float* x, const float* b, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; ++r) add_inplace(ctx, x + r * n, b, n);
}

void add_inplace(Context&, float* y, const float* x, int64_t n) {
    for (int64_t j = 0; j < n; ++j) y[j] += x[j];
}

void scale(Context&, float* x, int64_t n, float s) {
    if (s != 1.0f)
        for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void get_rows(Context& ctx, const WeightView& table, const int32_t* ids, int64_t n_ids, float* out, float s) {
    ProfileScope scope(ctx.impl(), "get_rows", 0, [&] { return std::string(type_name(table.type)); });
    const int64_t n = table.k;
    for (int64_t i = 0; i < n_ids; ++i) {
        dequantize_row(table.type, table.data + size_t(ids[i]) * table.row_stride, out + i * n, n);
        scale(ctx, out + i * n, n, s);
    }
}

void gather_rows(Context&, const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out) {
    for (int64_t r = 0; r < n_rows; ++r) std::memcpy(out + r * n, x + rows[r] * n, size_t(n) * sizeof(float));
}

void kv_store(Context& ctx, const float* x, int64_t rows, int n_head, int64_t head_dim, const int32_t* slots,
              const KvLayer& dst) {
    ProfileScope scope(ctx.impl(), "kv_store", 0, [&] { return std::string("f32 -> ") + type_name(dst.type); });
    const auto f16 = cpu::kernel_or_scalar(*ctx.impl().table, &cpu::KernelTable::f32_to_f16);
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t blk = slots[r] / dst.block_size, off = slots[r] % dst.block_size;
        for (int h = 0; h < n_head; ++h) {
            const float* src = x + (r * n_head + h) * head_dim;
            uint8_t* d = dst.base + size_t(blk) * dst.block_stride + size_t(h) * dst.head_stride + size_t(off) * dst.pos_stride;
            if (dst.type == GgmlType::F32) std::memcpy(d, src, size_t(head_dim) * sizeof(float));
            else f16(src, reinterpret_cast<uint16_t*>(d), head_dim);  // rows are 2-byte aligned
        }
    }
}

float silu(float x) noexcept { return x / (1.0f + std::exp(-x)); }

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))).
float gelu_tanh(float x) noexcept {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + 0.044715f * x * x)));
}

namespace {
// Chunks of the vector across threads through the backend's activation loop.
void act_mul(Context& ctx, cpu::ActMulFn cpu::KernelTable::*fn, float* g, const float* u, int64_t n) {
    ProfileScope scope(ctx.impl(), "activation", 0,
                       [fn] { return std::string(fn == &cpu::KernelTable::silu_mul ? "silu * up" : "gelu_tanh * up"); });
    auto& c = ctx.impl();
    const cpu::ActMulFn f = cpu::kernel_or_scalar(*c.table, fn);
    constexpr int64_t kChunk = 4096;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    auto one = [&](int64_t ch) { f(g + ch * kChunk, u + ch * kChunk, std::min(n, (ch + 1) * kChunk) - ch * kChunk); };
    if (chunks < 4) {
        for (int64_t ch = 0; ch < chunks; ++ch) one(ch);
        return;
    }
    c.pool->run(chunks, one);
}
}  // namespace

double exp_sum(const Context& ctx, float* x, int64_t n, float* max_out) {
    return cpu::kernel_or_scalar(*ctx.impl().table, &cpu::KernelTable::exp_sum)(x, n, max_out);
}

void swiglu_oai_mul(Context& ctx, float* g, const float* u, int64_t n, float alpha, float limit) {
    ProfileScope scope(ctx.impl(), "activation", 0, [] { return std::string("swiglu_oai * up"); });
    const cpu::SwigluOaiFn f = cpu::kernel_or_scalar(*ctx.impl().table, &cpu::KernelTable::swiglu_oai_mul);
    constexpr int64_t kChunk = 4096;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    ctx.impl().pool->run(chunks, [&](int64_t ch) {
        const int64_t j = ch * kChunk;
        f(g + j, u + j, std::min(n, j + kChunk) - j, alpha, limit);
    });
}

void silu_mul(Context& ctx, float* g, const float* u, int64_t n) { act_mul(ctx, &cpu::KernelTable::silu_mul, g, u, n); }
void gelu_tanh_mul(Context& ctx, float* g, const float* u, int64_t n) {
    act_mul(ctx, &cpu::KernelTable::gelu_tanh_mul, g, u, n);
}

}  // namespace qlm
