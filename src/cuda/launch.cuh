// The one way kernels are launched (DESIGN.md): launch, then check the launch
// and name the kernel in the error. No host synchronization unless the context
// asked for it (CudaOptions::debug_sync), so a decode step can be captured in
// a CUDA graph.
#pragma once

#include <cuda_runtime.h>

#include "cuda/check.h"
#include "cuda/kernels.h"

namespace qlm::cuda {

template <typename... KArgs, typename... Args>
inline void launch(const Stream& st, const KernelSite& site, void (*kernel)(KArgs...), dim3 grid, dim3 block,
                   size_t smem, Args... args) {
    kernel<<<grid, block, smem, st.stream>>>(args...);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail_launch(site, grid, block, e, false);
    if (st.debug_sync) {
        e = cudaStreamSynchronize(st.stream);
        if (e != cudaSuccess) fail_launch(site, grid, block, e, true);
    }
}

// Thread blocks for `count` independent items of `threads` each; grid-stride
// loops cover anything beyond the cap.
inline dim3 blocks_for(long long count, int threads) {
    const long long b = (count + threads - 1) / threads;
    return dim3(unsigned(b < 1 ? 1 : b > 0x7fffffffLL ? 0x7fffffffLL : b));
}

__device__ inline float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ inline double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ inline int warp_sum(int v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ inline float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

}  // namespace qlm::cuda
