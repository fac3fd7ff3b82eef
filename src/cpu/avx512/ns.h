// The namespace of the AVX-512 kernels: native, or the SIMDe build of the
// same sources (QLM_AVX512_SIMDE), so both link into one binary.
#pragma once

#if defined(QLM_AVX512_SIMDE)
#define QLM_AVX512_NS avx512_simde
#else
#define QLM_AVX512_NS avx512
#endif
// ... and of the shared x86 headers (cpu/x86/) in these translation units
#define QLM_X86_NS QLM_AVX512_NS

#include <cstddef>

namespace qlm::cpu::QLM_AVX512_NS {

// Per-thread scratch of at least `bytes` bytes, 64-byte aligned; slots 0..4
// are independent buffers (scratch.cpp, baseline flags).
void* scratch(int slot, size_t bytes);

}  // namespace qlm::cpu::QLM_AVX512_NS
