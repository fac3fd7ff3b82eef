#include "cpu/gelu_table.h"

#include <cmath>
#include <vector>

#include "formats/common.h"

namespace qlm::cpu {

const uint16_t* gelu_f16_table() {
    static const std::vector<uint16_t> table = [] {
        std::vector<uint16_t> t(65537);
        for (uint32_t h = 0; h < 65536; ++h) {
            const float x = fmt::fp16_to_fp32(uint16_t(h));
            const float y = 0.5f * x * (1.0f + std::tanh(0.79788456080286535588f * x * (1.0f + 0.044715f * x * x)));
            t[h] = fmt::fp32_to_fp16(y);
        }
        return t;
    }();
    return table.data();
}

}  // namespace qlm::cpu
