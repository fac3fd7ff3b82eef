// Which instruction sets this CPU runs, read once from CPUID (x86) or the
// auxiliary vector (AArch64 Linux: the NEON kernels need the dot-product
// instructions, HWCAP_ASIMDDP).
#include "cpu/kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)  // Linux uapi asm/hwcap.h
#endif
#endif

namespace qlm::cpu {
namespace {

struct Features {
    bool avx2 = false, avx512 = false, neon = false, prefer_512 = false;
    bool amx_int8 = false;  // AMX-TILE + AMX-INT8 and the OS saves tile state (XCR0 bits 17, 18)
};

#if defined(__x86_64__)
uint64_t xgetbv0() {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t(hi) << 32) | lo;
}
#endif

Features detect() {
    Features f;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
    const bool intel = b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e;  // "GenuineIntel"
    const bool amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;    // "AuthenticAMD"
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const unsigned family = ((a >> 8) & 0xf) == 0xf ? 0xf + ((a >> 20) & 0xff) : (a >> 8) & 0xf;
    f.prefer_512 = intel || (amd && family >= 0x1a);
    const bool osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    const bool ymm_os = (xcr0 & 0x6) == 0x6, zmm_os = (xcr0 & 0xe6) == 0xe6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
    const bool avx2 = (b >> 5) & 1;
    const bool avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
               avx512vl = (b >> 31) & 1, avx512vnni = (c >> 11) & 1;
    f.avx2 = ymm_os && avx2 && fma && f16c;
    // The avx512 kernels use VNNI (vpdpbusd); CPUs without it run the AVX2 ones.
    f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl && avx512vnni;
    const bool amx_tile = (d >> 24) & 1, amx_int8 = (d >> 25) & 1, tile_os = (xcr0 & 0x60000) == 0x60000;
    f.amx_int8 = f.avx512 && amx_tile && amx_int8 && tile_os;
#elif defined(__aarch64__) && defined(__linux__)
    f.neon = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
    f.neon = true;  // no auxiliary vector: trust the build target
#endif
    return f;
}

const Features& features() {
    static const Features f = detect();
    return f;
}

}  // namespace

bool cpu_prefers_512() noexcept { return features().prefer_512; }

bool cpu_has_amx_int8() noexcept { return features().amx_int8; }

bool cpu_has(Isa isa) noexcept {
    switch (isa) {
        case Isa::Scalar: return true;
        case Isa::Avx2: return features().avx2;
        case Isa::Avx512: return features().avx512;
        case Isa::Neon: return features().neon;
    }
    return false;
}

}  // namespace qlm::cpu

namespace qlm {

const char* isa_name(Isa isa) noexcept {
    switch (isa) {
        case Isa::Scalar: return "scalar";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
        case Isa::Neon: return "neon";
    }
    return "?";
}

std::optional<Isa> isa_from_name(std::string_view name) noexcept {
    for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon})
        if (name == isa_name(i)) return i;
    return std::nullopt;
}

}  // namespace qlm
