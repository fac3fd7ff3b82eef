// The float weight rows (F32, F16, BF16 weights against activations of the
// same type) as tiles, the ISA-neutral part: the element types, the tail past
// the last whole vector (summed in double, as the reference does) and the
// registration. The ISA gives the row decoder, template <class E> Row, a
// TileDecoder (cpu/common/tile.h) whose loads convert E exactly.
//
// Include it from the ISA's own header, after its intrinsics, with
// QLM_CPU_NS naming the ISA's namespace (see cpu/common/quantize.h).
// Private to src/cpu/<isa>/.
#pragma once

#ifndef QLM_CPU_NS
#error "include cpu/common/floats.h through an ISA header that defines QLM_CPU_NS"
#endif

#include <cstddef>
#include <cstdint>

#include "cpu/common/tile.h"
#include "formats/common.h"

namespace qlm::cpu::QLM_CPU_NS {
namespace drivers {

// An element type: its id, bytes per element and one element as a float.
struct ElemF32 {
    static constexpr GgmlType kType = GgmlType::F32;
    static constexpr size_t kSize = 4;
    static float one(const uint8_t* p) { return fmt::f32_from_bits(fmt::load_u32(p)); }
};
struct ElemF16 {
    static constexpr GgmlType kType = GgmlType::F16;
    static constexpr size_t kSize = 2;
    static float one(const uint8_t* p) { return fmt::fp16_to_fp32(fmt::load_u16(p)); }
};
struct ElemBF16 {
    static constexpr GgmlType kType = GgmlType::BF16;
    static constexpr size_t kSize = 2;
    static float one(const uint8_t* p) { return fmt::bf16_to_fp32(fmt::load_u16(p)); }
};

// The tail of a float row (TileDecoder's tail): a row decoder derives from it.
template <class E>
struct FloatTail {
    static float tail(const uint8_t* w, const uint8_t* x, int64_t j0, int64_t k) {
        double s = 0;
        for (int64_t j = j0; j < k; ++j) s += double(E::one(w + j * E::kSize)) * double(E::one(x + j * E::kSize));
        return float(s);
    }
};

template <TileLanes V, template <class> class Row>
void register_float_rows(KernelTable& k) {
    static_assert(TileDecoder<Row<ElemF32>, V> && TileDecoder<Row<ElemF16>, V> && TileDecoder<Row<ElemBF16>, V>);
    k.tile[uint32_t(GgmlType::F32)] = tile<V, Row<ElemF32>>;
    k.tile[uint32_t(GgmlType::F16)] = tile<V, Row<ElemF16>>;
    k.tile[uint32_t(GgmlType::BF16)] = tile<V, Row<ElemBF16>>;
}

}  // namespace drivers
}  // namespace qlm::cpu::QLM_CPU_NS
