// GEMV against Q8_1 activations: Legacy formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), every batch size 1..kGemvMaxM.
// One file per family so the instantiations compile in parallel.
#include "cuda/gemv.cuh"

namespace qlm::cuda {

bool launch_gemv_legacy(const Stream& s, const GemvArgs& a) {
    return dispatch_type<GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0>(a.type, [&](auto t) { launch_gemv_q8_1<decltype(t)::value>(s, a); });
}

}  // namespace qlm::cuda
