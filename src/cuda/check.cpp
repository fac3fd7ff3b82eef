#include "cuda/check.h"

#include <cublas_v2.h>

#include <string>

#include "qlm/error.h"

namespace qlm::cuda {

void fail_cuda(cudaError_t e, const char* what, const char* file, int line) {
    fail("CUDA: ", what, " failed at ", file, ":", line, ": ", cudaGetErrorName(e), ": ", cudaGetErrorString(e));
}

void fail_cublas(int status, const char* what, const char* file, int line) {
    fail("cuBLAS: ", what, " failed at ", file, ":", line, ": ", cublasGetStatusString(cublasStatus_t(status)));
}

}  // namespace qlm::cuda

namespace qlm::cuda {

void fail_launch(const KernelSite& site, dim3 grid, dim3 block, cudaError_t e, bool at_sync) {
    std::string where = site.name;
    if (site.type || site.m) {
        where += "<";
        if (site.type) where += site.type;
        if (site.type && site.m) where += ", ";
        if (site.m) where += cat("m=", site.m);
        where += ">";
    }
    fail("CUDA kernel ", where, " (grid ", grid.x, "x", grid.y, "x", grid.z, ", block ", block.x, "x", block.y, "x",
         block.z, ")", at_sync ? " failed while running" : " failed to launch", ": ", cudaGetErrorName(e), ": ",
         cudaGetErrorString(e));
}

}  // namespace qlm::cuda
