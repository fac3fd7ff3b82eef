// AVX-512 GEMM (many activation rows): not yet; the tiles serve every m.
#include "cpu/avx512/simd.h"

namespace qlm::cpu::QLM_AVX512_NS {

void register_gemm(KernelTable&) {}

}  // namespace qlm::cpu::QLM_AVX512_NS
