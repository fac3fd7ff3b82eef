// The int8 compute peak of tdpbssd (16 x 16 x 64 per instruction, tiles in
// registers): what the AMX GEMM could reach at best, for `bench kernels`.
#include <immintrin.h>

#include "cpu/amx/gemm.h"

namespace qlm::cpu {

double amx_peak_probe(int64_t iters) noexcept {
    if (!amx_usable()) return 0;
    amx::configure(16, 64);
    alignas(64) static const int8_t a[16 * 64] = {1, 2, 3}, b[16 * 64] = {3, 2, 1};
    _tile_loadd(4, a, 64);
    _tile_loadd(5, a, 64);
    _tile_loadd(6, b, 64);
    _tile_loadd(7, b, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int64_t i = 0; i < iters; ++i) {
        _tile_dpbssd(0, 4, 6);
        _tile_dpbssd(1, 4, 7);
        _tile_dpbssd(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
    }
    alignas(64) int32_t c[256];
    _tile_stored(0, c, 64);
    _tile_release();
    __asm__ volatile("" ::"r"(c[0]));
    return double(iters) * 4 * 16 * 16 * 64;
}

}  // namespace qlm::cpu
