// GEMV against Q8_1 activations: Table formats (IQ4_NL, IQ4_XS, MXFP4), every batch size 1..kGemvMaxM.
// One file per family so the instantiations compile in parallel.
#include "cuda/gemv.cuh"

namespace qlm::cuda {

bool launch_gemv_iquants(const Stream& s, const GemvArgs& a) {
    return dispatch_type<GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::MXFP4>(a.type, [&](auto t) { launch_gemv_q8_1<decltype(t)::value>(s, a); });
}

}  // namespace qlm::cuda
