// GEMV entry: the family whose file instantiates the weight type launches it.
#include "cuda/kernels.h"
#include "qlm/error.h"

namespace qlm::cuda {

void launch_gemv(const Stream& s, const GemvArgs& a) {
    if (launch_gemv_legacy(s, a) || launch_gemv_kquants(s, a) || launch_gemv_iquants(s, a) || launch_gemv_float(s, a))
        return;
    fail("CUDA gemv: no kernel for weight type ", type_name(a.type));
}

}  // namespace qlm::cuda
