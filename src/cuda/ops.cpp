// The float ops of the transformer blocks on the device: validate, enqueue.
#include <algorithm>
#include <cmath>

#include "cuda/context_impl.h"
#include "cuda/kernels.h"
#include "cuda/validate.h"

namespace qlm {

void cuda_rms_norm(CudaContext& ctx, const float* x_dev, const float* weight_dev, float* y_dev, int64_t rows,
                   int64_t n, float eps) {
    cuda::check_rms_norm(rows, n, x_dev, y_dev);
    auto& c = ctx.impl();
    c.activate();
    cuda::launch_rms_norm(c.launch_stream(), x_dev, weight_dev, y_dev, rows, n, eps);
}

void cuda_rope(CudaContext& ctx, float* x_dev, int64_t rows, int n_heads, int head_dim, const int32_t* positions_dev,
               const RopeParams& p) {
    cuda::check_rope(rows, n_heads, head_dim, positions_dev, p, x_dev);
    cuda::RopeArgs a{};
    a.x = x_dev, a.rows = rows, a.n_heads = n_heads, a.head_dim = head_dim;
    a.positions = positions_dev;
    a.neox = p.layout == RopeLayout::Neox;
    a.n_dims = p.n_dims;
    a.theta_scale = std::pow(p.freq_base, -2.0f / float(p.n_dims));
    a.freq_scale = p.freq_scale;
    a.freq_factors = p.freq_factors;
    a.ext_factor = p.ext_factor;
    a.mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {  // as the CPU op (src/ops/rope.cpp)
        auto corr_dim = [&](float n_rot) {
            return float(p.n_dims) * std::log(float(p.n_ctx_orig) / (n_rot * 2.0f * float(M_PI))) /
                   (2.0f * std::log(p.freq_base));
        };
        a.corr_lo = std::max(0.0f, std::floor(corr_dim(p.beta_fast)));
        a.corr_hi = std::min(float(p.n_dims - 1), std::ceil(corr_dim(p.beta_slow)));
        a.mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    }
    auto& c = ctx.impl();
    c.activate();
    cuda::launch_rope(c.launch_stream(), a);
}

void cuda_silu_mul(CudaContext& ctx, float* g_dev, const float* u_dev, int64_t n) {
    cuda::check_elementwise("cuda_silu_mul", n, g_dev, u_dev);
    if (n == 0) return;
    auto& c = ctx.impl();
    c.activate();
    cuda::launch_silu_mul(c.launch_stream(), g_dev, u_dev, n);
}

void cuda_gelu_tanh_mul(CudaContext& ctx, float* g_dev, const float* u_dev, int64_t n) {
    cuda::check_elementwise("cuda_gelu_tanh_mul", n, g_dev, u_dev);
    if (n == 0) return;
    auto& c = ctx.impl();
    c.activate();
    cuda::launch_gelu_tanh_mul(c.launch_stream(), g_dev, u_dev, n);
}

void cuda_add_bias(CudaContext& ctx, float* x_dev, const float* b_dev, int64_t rows, int64_t n) {
    cuda::check_add_bias(rows, n, x_dev, b_dev);
    if (rows == 0 || n == 0) return;
    auto& c = ctx.impl();
    c.activate();
    cuda::launch_add_bias(c.launch_stream(), x_dev, b_dev, rows, n);
}

}  // namespace qlm
