// Public type queries and the checked entry points to the reference rows.
#include <array>
#include <limits>

#include "formats/traits.h"
#include "qlm/error.h"

namespace qlm {

using fmt::kTypeTraits;
using fmt::traits_of;

const TypeInfo* all_types(size_t* count) noexcept {
    static const auto infos = [] {
        std::array<TypeInfo, fmt::kTypeCount> a{};
        for (size_t i = 0; i < fmt::kTypeCount; ++i) a[i] = kTypeTraits[i].info;
        return a;
    }();
    *count = infos.size();
    return infos.data();
}

const TypeInfo* find_type(uint32_t id) noexcept {
    const auto* t = traits_of(id);
    return t ? &t->info : nullptr;
}

const TypeInfo& type_info(GgmlType t) noexcept { return traits_of(t)->info; }

std::optional<GgmlType> type_from_name(std::string_view name) noexcept {
    for (const auto& t : kTypeTraits) {
        std::string_view n = t.info.name;
        if (n.size() != name.size()) continue;
        bool eq = true;
        for (size_t i = 0; i < n.size() && eq; ++i) eq = (n[i] | 0x20) == (name[i] | 0x20);
        if (eq) return t.info.type;
    }
    return std::nullopt;
}

const char* ggml_type_name(uint32_t id) noexcept {
    // Every id ggml has defined; empty slots were removed from ggml.
    static constexpr const char* kNames[] = {
        "F32",     "F16",   "Q4_0",    "Q4_1",   "",       "",       "Q5_0",   "Q5_1",  "Q8_0",   "Q8_1",
        "Q2_K",    "Q3_K",  "Q4_K",    "Q5_K",   "Q6_K",   "Q8_K",   "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
        "IQ4_NL",  "IQ3_S", "IQ2_S",   "IQ4_XS", "I8",     "I16",    "I32",    "I64",   "F64",    "IQ1_M",
        "BF16",    "",      "",        "",       "TQ1_0",  "TQ2_0",  "",       "",      "",       "MXFP4"};
    if (id >= sizeof(kNames) / sizeof(kNames[0]) || kNames[id][0] == '\0') return nullptr;
    return kNames[id];
}

size_t row_size(GgmlType t, int64_t n) {
    const TypeInfo& ti = type_info(t);
    if (n < 0) fail("row of ", ti.name, ": negative length ", n);
    if (n % ti.block_size != 0)
        fail("row of ", ti.name, ": length ", n, " is not a multiple of the block size ", ti.block_size);
    const uint64_t blocks = uint64_t(n) / ti.block_size;
    if (blocks > std::numeric_limits<uint64_t>::max() / ti.type_size)
        fail("row of ", ti.name, ": ", n, " elements overflow the byte size");
    return size_t(blocks * ti.type_size);
}

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
    row_size(t, n);
    traits_of(t)->dequantize_row(src, dst, n);
}

bool can_quantize(GgmlType t) noexcept { return traits_of(t)->quantize_row != nullptr; }

void quantize_row(GgmlType t, const float* src, void* dst, int64_t n) {
    row_size(t, n);
    if (!can_quantize(t))
        fail("quantize_row: quantizing to ", type_info(t).name, " is not supported (it is read from files only)");
    traits_of(t)->quantize_row(src, dst, n);
}

float vec_dot(GgmlType t, int64_t n, const void* x, const void* y) {
    row_size(t, n);
    row_size(type_info(t).vec_dot_type, n);
    return traits_of(t)->vec_dot(n, x, y);
}

}  // namespace qlm
