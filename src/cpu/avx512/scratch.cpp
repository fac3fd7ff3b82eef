// Per-thread scratch for the AVX-512 kernels. Compiled with the baseline
// flags: the std::vector code here may be shared (COMDAT) with the rest of
// the library, which must run on CPUs without AVX-512.
#include <vector>

#include "cpu/avx512/ns.h"

namespace qlm::cpu::QLM_AVX512_NS {

void* scratch(int slot, size_t bytes) {
    struct alignas(64) Line {
        unsigned char b[64];
    };
    static thread_local std::vector<Line> buf[5];
    std::vector<Line>& v = buf[slot];
    const size_t lines = (bytes + 63) / 64;
    if (v.size() < lines) v.resize(lines);
    return v.data();
}

}  // namespace qlm::cpu::QLM_AVX512_NS
