// Public view of the GGML block formats qlm understands: type ids (the GGUF
// ggml_type ids, so files map 1:1), sizes, and the scalar reference row
// conversions. The layouts themselves live in src/formats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace qlm {

enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
};

struct TypeInfo {
    GgmlType type;
    const char* name;        // upper case as GGUF tools print it: "Q4_K", "IQ4_NL"
    uint32_t block_size;     // elements per block (1 for F32/F16/BF16)
    uint32_t type_size;      // bytes per block
    GgmlType vec_dot_type;   // activation partner for the reference vec_dot
    bool quantized;
};

// Every supported type, in id order.
const TypeInfo* all_types(size_t* count) noexcept;

// nullptr if the id is not one qlm supports.
const TypeInfo* find_type(uint32_t id) noexcept;
const TypeInfo& type_info(GgmlType t) noexcept;
inline const char* type_name(GgmlType t) noexcept { return type_info(t).name; }
std::optional<GgmlType> type_from_name(std::string_view name) noexcept;

// ggml's name for any id it has ever defined (e.g. 16 -> "IQ2_XXS"), for error
// messages about types qlm does not support; nullptr for ids ggml never used.
const char* ggml_type_name(uint32_t id) noexcept;

// Bytes of a row of n elements. Throws qlm::Error if n < 0, n is not a
// multiple of the block size, or the size overflows.
size_t row_size(GgmlType t, int64_t n);

// Scalar reference conversions (the specification; fast paths are checked
// against these). n must be a multiple of the block size (throws otherwise).
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);
// Whether quantize_row supports t (the low-bit IQ1/IQ2/IQ3 and ternary TQ
// types are read from files only: quantizing them needs an importance matrix).
bool can_quantize(GgmlType t) noexcept;

// Reference dot product of a row of type t with a row of type_info(t).vec_dot_type.
float vec_dot(GgmlType t, int64_t n, const void* x, const void* y);

}  // namespace qlm
