// Rotary position embedding, in place, Normal (adjacent pairs) or NeoX (pairs
// half a rotation apart). One thread per (row, pair): the angle is computed in
// double from the position and the pair's inverse frequency exactly as the CPU
// op does (pow, then cos/sin rounded to float), then applied to every head.
#include "cuda/config.h"
#include "cuda/launch.cuh"

namespace qlm::cuda {

namespace {

__global__ void rope_kernel(RopeArgs a) {
    const int half = a.n_dims / 2;
    const int64_t total = a.rows * half;
    const int64_t width = int64_t(a.n_heads) * a.head_dim;
    for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < total; t += int64_t(gridDim.x) * blockDim.x) {
        const int64_t r = t / half;
        const int i = int(t % half);
        double inv_freq = pow(double(a.freq_base), -2.0 * i / a.n_dims) * double(a.freq_scale);
        if (a.freq_factors) inv_freq /= double(a.freq_factors[i]);
        const double theta = double(a.positions[r]) * inv_freq;
        const float c = float(cos(theta)), s = float(sin(theta));
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
    launch(s, {"rope"}, rope_kernel, blocks_for(a.rows * (a.n_dims / 2), kElementwiseThreads),
           dim3(kElementwiseThreads), 0, a);
}

}  // namespace qlm::cuda
