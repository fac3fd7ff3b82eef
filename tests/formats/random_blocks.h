// Random rows of the types qlm reads but does not quantize (the low-bit IQ
// and ternary formats): every index, sign and scale field random (every bit
// pattern is valid there), the fp16 d set so the values are of order one.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "formats/common.h"
#include "formats/iquants.h"
#include "qlm/formats.h"

namespace qlm::test {

// Byte offset of the fp16 d in a block, or -1 for IQ1_M (packed in the scales).
inline int fp16_d_offset(GgmlType t) {
    switch (t) {
        case GgmlType::TQ1_0: return 52;
        case GgmlType::TQ2_0: return 64;
        case GgmlType::IQ1_M: return -1;
        default: return 0;
    }
}

// A typical d: about 1 / (scale * grid magnitude) of the type.
inline float typical_d(GgmlType t) {
    switch (t) {
        case GgmlType::IQ2_XXS:
        case GgmlType::IQ2_XS:
        case GgmlType::IQ2_S: return 0.02f;
        case GgmlType::IQ3_XXS: return 0.01f;
        case GgmlType::IQ3_S: return 0.01f;
        case GgmlType::IQ1_S:
        case GgmlType::IQ1_M: return 0.1f;
        default: return 1.0f;
    }
}

inline void set_block_d(GgmlType t, uint8_t* block, uint16_t h) {
    const int off = fp16_d_offset(t);
    if (off >= 0) {
        block[off] = uint8_t(h & 0xff), block[off + 1] = uint8_t(h >> 8);
        return;
    }
    for (int i = 0; i < 4; ++i) {  // IQ1_M: nibble i of d = top nibble of scales[i] (bytes 48 + 2i)
        uint8_t& hi = block[48 + 2 * i + 1];
        hi = uint8_t((hi & 0x0f) | (((h >> (4 * i)) & 0xf) << 4));
    }
}

// n rows of k elements (k a multiple of 256), row-major blocks.
inline std::vector<uint8_t> random_rows(GgmlType t, int64_t n, int64_t k, uint32_t seed) {
    const TypeInfo& ti = type_info(t);
    const int64_t nb = n * (k / ti.block_size);
    std::vector<uint8_t> out(size_t(nb) * ti.type_size);
    std::mt19937 rng(seed);
    for (auto& b : out) b = uint8_t(rng() >> 24);
    std::uniform_real_distribution<float> ud(0.5f, 1.5f);
    for (int64_t b = 0; b < nb; ++b) {
        const float d = typical_d(t) * ud(rng) * (rng() & 1 ? -1.0f : 1.0f);
        set_block_d(t, out.data() + size_t(b) * ti.type_size, fmt::fp32_to_fp16(d));
    }
    return out;
}

}  // namespace qlm::test
