// The traits table: one constexpr row per supported type, keyed by the GGUF
// ggml_type id. Everything that needs "how big / how to convert" asks here.
#pragma once

#include <cstddef>

#include "formats/fp.h"
#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/legacy.h"
#include "formats/reference.h"
#include "formats/ternary.h"
#include "qlm/formats.h"

namespace qlm::fmt {

struct TypeTraits {
    TypeInfo info;
    DequantizeRowFn dequantize_row;
    QuantizeRowFn quantize_row;  // null: read from files only (low-bit IQ, TQ)
    VecDotFn vec_dot;
};

using T = GgmlType;
// clang-format off
inline constexpr TypeTraits kTypeTraits[] = {
    // type       name      block   bytes                   partner   quant  dequantize            quantize            vec_dot
    {{T::F32,    "F32",    1,      4,                      T::F32,   false}, dequantize_row_f32,    quantize_row_f32,    vec_dot_f32},
    {{T::F16,    "F16",    1,      2,                      T::F16,   false}, dequantize_row_f16,    quantize_row_f16,    vec_dot_f16},
    {{T::Q4_0,   "Q4_0",   QK4_0,  sizeof(block_q4_0),     T::Q8_0,  true},  dequantize_row_q4_0,   quantize_row_q4_0,   vec_dot_q4_0},
    {{T::Q4_1,   "Q4_1",   QK4_1,  sizeof(block_q4_1),     T::Q8_1,  true},  dequantize_row_q4_1,   quantize_row_q4_1,   vec_dot_q4_1},
    {{T::Q5_0,   "Q5_0",   QK5_0,  sizeof(block_q5_0),     T::Q8_0,  true},  dequantize_row_q5_0,   quantize_row_q5_0,   vec_dot_q5_0},
    {{T::Q5_1,   "Q5_1",   QK5_1,  sizeof(block_q5_1),     T::Q8_1,  true},  dequantize_row_q5_1,   quantize_row_q5_1,   vec_dot_q5_1},
    {{T::Q8_0,   "Q8_0",   QK8_0,  sizeof(block_q8_0),     T::Q8_0,  true},  dequantize_row_q8_0,   quantize_row_q8_0,   vec_dot_q8_0},
    {{T::Q8_1,   "Q8_1",   QK8_1,  sizeof(block_q8_1),     T::Q8_1,  true},  dequantize_row_q8_1,   quantize_row_q8_1,   vec_dot_q8_1},
    {{T::Q2_K,   "Q2_K",   QK_K,   sizeof(block_q2_K),     T::Q8_K,  true},  dequantize_row_q2_K,   quantize_row_q2_K,   vec_dot_q2_K},
    {{T::Q3_K,   "Q3_K",   QK_K,   sizeof(block_q3_K),     T::Q8_K,  true},  dequantize_row_q3_K,   quantize_row_q3_K,   vec_dot_q3_K},
    {{T::Q4_K,   "Q4_K",   QK_K,   sizeof(block_q4_K),     T::Q8_K,  true},  dequantize_row_q4_K,   quantize_row_q4_K,   vec_dot_q4_K},
    {{T::Q5_K,   "Q5_K",   QK_K,   sizeof(block_q5_K),     T::Q8_K,  true},  dequantize_row_q5_K,   quantize_row_q5_K,   vec_dot_q5_K},
    {{T::Q6_K,   "Q6_K",   QK_K,   sizeof(block_q6_K),     T::Q8_K,  true},  dequantize_row_q6_K,   quantize_row_q6_K,   vec_dot_q6_K},
    {{T::Q8_K,   "Q8_K",   QK_K,   sizeof(block_q8_K),     T::Q8_K,  true},  dequantize_row_q8_K,   quantize_row_q8_K,   vec_dot_q8_K},
    {{T::IQ2_XXS, "IQ2_XXS", QK_K, sizeof(block_iq2_xxs),  T::Q8_K,  true},  dequantize_row_iq2_xxs, nullptr,           vec_dot_iq2_xxs},
    {{T::IQ2_XS, "IQ2_XS", QK_K,   sizeof(block_iq2_xs),   T::Q8_K,  true},  dequantize_row_iq2_xs, nullptr,             vec_dot_iq2_xs},
    {{T::IQ3_XXS, "IQ3_XXS", QK_K, sizeof(block_iq3_xxs),  T::Q8_K,  true},  dequantize_row_iq3_xxs, nullptr,           vec_dot_iq3_xxs},
    {{T::IQ1_S,  "IQ1_S",  QK_K,   sizeof(block_iq1_s),    T::Q8_K,  true},  dequantize_row_iq1_s,  nullptr,             vec_dot_iq1_s},
    {{T::IQ4_NL, "IQ4_NL", QK4_NL, sizeof(block_iq4_nl),   T::Q8_0,  true},  dequantize_row_iq4_nl, quantize_row_iq4_nl, vec_dot_iq4_nl},
    {{T::IQ3_S,  "IQ3_S",  QK_K,   sizeof(block_iq3_s),    T::Q8_K,  true},  dequantize_row_iq3_s,  nullptr,             vec_dot_iq3_s},
    {{T::IQ2_S,  "IQ2_S",  QK_K,   sizeof(block_iq2_s),    T::Q8_K,  true},  dequantize_row_iq2_s,  nullptr,             vec_dot_iq2_s},
    {{T::IQ4_XS, "IQ4_XS", QK_K,   sizeof(block_iq4_xs),   T::Q8_K,  true},  dequantize_row_iq4_xs, quantize_row_iq4_xs, vec_dot_iq4_xs},
    {{T::IQ1_M,  "IQ1_M",  QK_K,   sizeof(block_iq1_m),    T::Q8_K,  true},  dequantize_row_iq1_m,  nullptr,             vec_dot_iq1_m},
    {{T::BF16,   "BF16",   1,      2,                      T::BF16,  false}, dequantize_row_bf16,   quantize_row_bf16,   vec_dot_bf16},
    {{T::TQ1_0,  "TQ1_0",  QK_K,   sizeof(block_tq1_0),    T::Q8_K,  true},  dequantize_row_tq1_0,  nullptr,             vec_dot_tq1_0},
    {{T::TQ2_0,  "TQ2_0",  QK_K,   sizeof(block_tq2_0),    T::Q8_K,  true},  dequantize_row_tq2_0,  nullptr,             vec_dot_tq2_0},
    {{T::MXFP4,  "MXFP4",  QK_MXFP4, sizeof(block_mxfp4),  T::Q8_0,  true},  dequantize_row_mxfp4,  quantize_row_mxfp4,  vec_dot_mxfp4},
};
// clang-format on

inline constexpr size_t kTypeCount = sizeof(kTypeTraits) / sizeof(kTypeTraits[0]);

// The largest id plus one; ids are sparse (removed ggml types leave gaps).
inline constexpr uint32_t kMaxTypeId = 40;

// Row index of a type id, or -1. Index-based so the static_assert below stays a
// constant expression under -fsanitize=undefined (GCC rejects pointer checks there).
constexpr int traits_index(uint32_t id) {
    for (size_t i = 0; i < kTypeCount; ++i)
        if (uint32_t(kTypeTraits[i].info.type) == id) return int(i);
    return -1;
}
constexpr const TypeTraits* traits_of(uint32_t id) {
    const int i = traits_index(id);
    return i < 0 ? nullptr : &kTypeTraits[i];
}
constexpr const TypeTraits* traits_of(GgmlType t) { return traits_of(uint32_t(t)); }

// Every enumerator has a row, rows are in id order, and each partner has a row.
constexpr bool traits_complete() {
    constexpr GgmlType all[] = {T::F32,  T::F16,  T::Q4_0, T::Q4_1,   T::Q5_0,   T::Q5_1,
                                T::Q8_0, T::Q8_1, T::Q2_K, T::Q3_K,   T::Q4_K,   T::Q5_K,
                                T::Q6_K, T::Q8_K, T::IQ2_XXS, T::IQ2_XS, T::IQ3_XXS, T::IQ1_S,
                                T::IQ4_NL, T::IQ3_S, T::IQ2_S, T::IQ4_XS, T::IQ1_M, T::BF16,
                                T::TQ1_0, T::TQ2_0, T::MXFP4};
    if (sizeof(all) / sizeof(all[0]) != kTypeCount) return false;
    for (GgmlType t : all) {
        const int i = traits_index(uint32_t(t));
        if (i < 0 || traits_index(uint32_t(kTypeTraits[i].info.vec_dot_type)) < 0) return false;
        if (uint32_t(t) >= kMaxTypeId) return false;
    }
    for (size_t i = 1; i < kTypeCount; ++i)
        if (uint32_t(kTypeTraits[i - 1].info.type) >= uint32_t(kTypeTraits[i].info.type)) return false;
    return true;
}
static_assert(traits_complete(), "every GgmlType needs exactly one traits row, in id order");

}  // namespace qlm::fmt
