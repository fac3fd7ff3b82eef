// CUDA and cuBLAS status checks that turn failures into qlm::Error naming the
// call (or kernel), the source location and the driver's error string
// (llm.c's cudaCheck, with qlm's exception instead of exit).
#pragma once

#include <cuda_runtime_api.h>

namespace qlm::cuda {

[[noreturn]] void fail_cuda(cudaError_t e, const char* what, const char* file, int line);
inline void check_cuda(cudaError_t e, const char* what, const char* file, int line) {
    if (e != cudaSuccess) fail_cuda(e, what, file, line);
}

// cublasStatus_t is an int-sized enum; taken as int so this header does not pull in cublas_v2.h.
[[noreturn]] void fail_cublas(int status, const char* what, const char* file, int line);
inline void check_cublas(int status, const char* what, const char* file, int line) {
    if (status != 0) fail_cublas(status, what, file, line);
}

}  // namespace qlm::cuda

#define QLM_CUDA_CHECK(call) ::qlm::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define QLM_CUBLAS_CHECK(call) ::qlm::cuda::check_cublas(int(call), #call, __FILE__, __LINE__)

namespace qlm::cuda {

// Where a kernel launch happened, for error messages: kernel name, and the
// weight type and batch size when the kernel has them.
struct KernelSite {
    const char* name;
    const char* type = nullptr;
    int m = 0;
};

// A launch failed (at_sync: the debug synchronization after it failed).
[[noreturn]] void fail_launch(const KernelSite& site, dim3 grid, dim3 block, cudaError_t e, bool at_sync);

}  // namespace qlm::cuda
