// Rotary position embedding, in place, Normal (adjacent pairs) or NeoX (pairs
// half a rotation apart), in the CPU op's float evaluation: the angle of pair
// i is the position times theta_scale^i by repeated multiplication, divided
// by the frequency factor, blended with the interpolated angle by YaRN's ramp;
// cos and sin scaled by mscale. One thread per (row, pair), applied to every
// head. Device cosf/sinf are within 2 ulp of the C library's: close, not
// bit-exact.
#include "cuda/config.h"
#include "cuda/launch.cuh"

namespace qlm::cuda {

namespace {

__global__ void rope_kernel(RopeArgs a) {
    const int half = a.n_dims / 2;
    const int64_t width = int64_t(a.n_heads) * a.head_dim;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < a.rows * half;
         t += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = t / half;
        const int i = int(t % half);
        float theta = float(a.positions[r]);
        for (int j = 0; j < i; ++j) theta *= a.theta_scale;  // as the CPU: repeated multiplication
        const float ff = a.freq_factors ? a.freq_factors[i] : 1.0f;
        const float extrap = theta / ff;
        float th = a.freq_scale * extrap;
        if (a.ext_factor != 0.0f) {
            const float y = (float(i) - a.corr_lo) / fmaxf(0.001f, a.corr_hi - a.corr_lo);
            const float ramp = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * a.ext_factor;
            th = th * (1.0f - ramp) + extrap * ramp;
        }
        const float c = cosf(th) * a.mscale, s = sinf(th) * a.mscale;
        const int i0 = a.neox ? i : 2 * i, i1 = a.neox ? i + half : 2 * i + 1;
        for (int h = 0; h < a.n_heads; ++h) {
            float* v = a.x + r * width + int64_t(h) * a.head_dim;
            const float x0 = v[i0], x1 = v[i1];
            v[i0] = x0 * c - x1 * s;
            v[i1] = x0 * s + x1 * c;
        }
    }
}

}  // namespace

void launch_rope(const Stream& s, const RopeArgs& a) {
    const int64_t total = a.rows * (a.n_dims / 2);
    if (total > 0)
        launch(s, {"rope"}, rope_kernel, blocks_for(total, kElementwiseThreads), dim3(kElementwiseThreads), 0, a);
}

}  // namespace qlm::cuda
