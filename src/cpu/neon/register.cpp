#include "cpu/neon/neon.h"

namespace qlm::cpu::neon {

void register_kernels(KernelTable& k) {
    register_legacy(k);
    register_kquants(k);
    register_floats(k);
    register_quantizers(k);
}

}  // namespace qlm::cpu::neon
