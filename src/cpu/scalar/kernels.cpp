// Scalar kernels: the reference vec_dot applied over the tile. Every weight
// type has one, so it is the last rung of the dispatch ladder.
#include "cpu/kernels.h"
#include "formats/common.h"

namespace qlm::cpu {
namespace {

template <GgmlType T>
void tile_scalar(const MatmulTile& t) {
    constexpr auto vec_dot = fmt::kTypeTraits[fmt::traits_index(uint32_t(T))].vec_dot;
    for (int64_t r = t.r0; r < t.r1; ++r)
        for (int i = 0; i < t.m; ++i) t.y[i * t.ldy + r] = vec_dot(t.k, t.w + r * t.w_stride, t.x + i * t.x_stride);
}

void f16_to_f32_scalar(const uint16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = fmt::fp16_to_fp32(x[i]);
}

}  // namespace

const KernelTable& scalar_kernels() {
    static const KernelTable table = [] {
        KernelTable k;
        k.isa = Isa::Scalar;
        k.f16_to_f32 = f16_to_f32_scalar;
        for (const auto& tr : fmt::kTypeTraits) {
            dispatch_type(tr.info.type, [&]<GgmlType T>() { k.tile[uint32_t(T)] = tile_scalar<T>; });
            k.quantize[uint32_t(tr.info.type)] = tr.quantize_row;
        }
        return k;
    }();
    return table;
}

}  // namespace qlm::cpu
