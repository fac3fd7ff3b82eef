// Per-thread scratch for the NEON tiles (activation block scales). Compiled
// with the baseline flags: the std::vector code here may be shared (COMDAT)
// with the rest of the library, which must run on CPUs without dotprod.
#include <vector>

#include "cpu/neon/neon.h"

namespace qlm::cpu::neon {

float* scratch_floats(size_t n) {
    static thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

}  // namespace qlm::cpu::neon
