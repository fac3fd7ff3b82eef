// GEMV against Q8_1 activations: K-quants (Q2_K .. Q6_K), every batch size 1..kGemvMaxM.
// One file per family so the instantiations compile in parallel.
#include "cuda/gemv.cuh"

namespace qlm::cuda {

bool launch_gemv_kquants(const Stream& s, const GemvArgs& a) {
    return dispatch_type<GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K>(a.type, [&](auto t) { launch_gemv_q8_1<decltype(t)::value>(s, a); });
}

}  // namespace qlm::cuda
