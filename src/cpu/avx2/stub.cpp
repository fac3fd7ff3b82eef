// Non-x86 builds: no AVX2 kernels.
#include "cpu/kernels.h"

namespace qlm::cpu {

const KernelTable& avx2_kernels() {
    static const KernelTable empty;
    return empty;
}

}  // namespace qlm::cpu
