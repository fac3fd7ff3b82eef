#include "cpu/avx2/avx2.h"

namespace qlm::cpu::avx2 {

void register_kernels(KernelTable& k) {
    register_legacy(k);
    register_kquants(k);
    register_iquants(k);
    register_floats(k);
    register_quantizers(k);
    register_activations(k);
    register_gemm(k);
}

}  // namespace qlm::cpu::avx2
