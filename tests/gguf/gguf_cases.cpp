// Sample and crafted GGUF files; see gguf_cases.h.
#include "gguf/gguf_cases.h"

#include <cstring>
#include <limits>

#include "qlm/formats.h"
#include "qlm/gguf.h"

namespace qlm::test {

RawGguf& RawGguf::u8(uint8_t v) {
    b.push_back(v);
    return *this;
}
RawGguf& RawGguf::u32(uint32_t v) {
    for (int k = 0; k < 4; ++k) b.push_back(uint8_t(v >> (8 * k)));
    return *this;
}
RawGguf& RawGguf::u64(uint64_t v) {
    for (int k = 0; k < 8; ++k) b.push_back(uint8_t(v >> (8 * k)));
    return *this;
}
RawGguf& RawGguf::bytes(std::string_view s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
}
RawGguf& RawGguf::str(std::string_view s) { return u64(s.size()).bytes(s); }
RawGguf& RawGguf::header(uint64_t n_tensors, uint64_t n_kv, uint32_t version) {
    return bytes("GGUF").u32(version).u64(n_tensors).u64(n_kv);
}
RawGguf& RawGguf::kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
RawGguf& RawGguf::tensor_info(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).u32(uint32_t(dims.size()));
    for (uint64_t d : dims) u64(d);
    return u32(type).u64(offset);
}
RawGguf& RawGguf::pad_to(uint64_t alignment) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
}
RawGguf& RawGguf::zeros(uint64_t n) {
    b.resize(b.size() + n, 0);
    return *this;
}

namespace {

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t k = 0; k < n; ++k) v[k] = uint8_t(seed + k * 7);
    return v;
}

std::vector<uint8_t> tensor_bytes(GgmlType t, std::vector<int64_t> shape, uint8_t seed) {
    int64_t rows = 1;
    for (size_t d = 1; d < shape.size(); ++d) rows *= shape[d];
    return pattern(row_size(t, shape[0]) * size_t(rows), seed);
}

using V = GgufValue;
using VT = GgufValueType;

}  // namespace

std::vector<uint8_t> small_valid_file() {
    GgufWriter w;
    w.add("general.architecture", V::of_string("llama"));
    w.add("llama.block_count", V::of_u32(1));
    w.add("tokenizer.ggml.tokens", V::of_array(VT::STRING, {V::of_string("<s>"), V::of_string("a")}));
    w.add_tensor("q", GgmlType::Q8_0, {32}, tensor_bytes(GgmlType::Q8_0, {32}, 1));    // 34 bytes, padded to 64
    w.add_tensor("f", GgmlType::F32, {4, 2}, tensor_bytes(GgmlType::F32, {4, 2}, 2));  // 32 bytes, ends aligned
    return w.to_bytes();
}

std::vector<NamedFile> valid_samples() {
    std::vector<NamedFile> out;
    out.push_back({"small", small_valid_file()});
    {
        GgufWriter w;
        out.push_back({"empty", w.to_bytes()});
    }
    {
        GgufWriter w(2);
        w.add("general.name", V::of_string("v2 file"));
        w.add_tensor("w", GgmlType::F16, {8, 3}, tensor_bytes(GgmlType::F16, {8, 3}, 3));
        out.push_back({"v2", w.to_bytes()});
    }
    {
        GgufWriter w;
        w.set_alignment(1);
        w.add("x", V::of_i8(-5));
        w.add_tensor("a", GgmlType::Q4_0, {32}, tensor_bytes(GgmlType::Q4_0, {32}, 4));
        w.add_tensor("b", GgmlType::F32, {3}, tensor_bytes(GgmlType::F32, {3}, 5));
        out.push_back({"align1", w.to_bytes()});
    }
    {
        GgufWriter w;
        w.set_alignment(64);
        w.add("nested", V::of_array(VT::ARRAY, {V::of_array(VT::UINT32, {V::of_u32(1), V::of_u32(2)}),
                                                 V::of_array(VT::UINT32, {})}));
        w.add("flags", V::of_array(VT::BOOL, {V::of_bool(true), V::of_bool(false)}));
        w.add("f", V::of_f64(3.25));
        w.add_tensor("k", GgmlType::Q4_K, {256, 2}, tensor_bytes(GgmlType::Q4_K, {256, 2}, 6));
        out.push_back({"align64", w.to_bytes()});
    }
    {
        GgufWriter w;
        const GgmlType types[] = {GgmlType::F32,  GgmlType::Q4_1, GgmlType::Q5_0,   GgmlType::Q5_1,
                                  GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,   GgmlType::Q5_K,
                                  GgmlType::Q6_K, GgmlType::BF16, GgmlType::IQ4_NL, GgmlType::IQ4_XS,
                                  GgmlType::MXFP4, GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S,
                                  GgmlType::IQ3_XXS, GgmlType::IQ3_S, GgmlType::IQ1_S, GgmlType::IQ1_M,
                                  GgmlType::TQ1_0, GgmlType::TQ2_0};
        uint8_t seed = 10;
        for (GgmlType t : types) {
            const int64_t n = int64_t(type_info(t).block_size) * (t == GgmlType::F32 || t == GgmlType::BF16 ? 5 : 1);
            w.add_tensor(std::string("t.") + type_name(t), t, {n, 1, 2, 1}, tensor_bytes(t, {n, 1, 2, 1}, seed++));
        }
        out.push_back({"types", w.to_bytes()});
    }
    return out;
}

std::vector<CorruptCase> corrupt_cases() {
    std::vector<CorruptCase> cases;
    auto add = [&](std::string name, const RawGguf& r, std::string expect, uint64_t offset) {
        cases.push_back({std::move(name), r.b, std::move(expect), offset});
    };
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

    // --- header ---
    add("empty_file", RawGguf{}, "magic: truncated: needs 4 bytes but only 0 are left", 0);
    add("bad_magic", RawGguf{}.bytes("GGML").u32(3).u64(0).u64(0), "bad magic: bytes 47 47 4d 4c", 0);
    add("version_1", RawGguf{}.header(0, 0, 1), "GGUF v1 is not supported", 4);
    add("version_big_endian", RawGguf{}.bytes("GGUF").u32(0x03000000).u64(0).u64(0), "looks byte-swapped", 4);
    add("version_big_endian_v2", RawGguf{}.bytes("GGUF").u32(0x02000000).u64(0).u64(0), "big-endian GGUF files (v2)", 4);
    add("version_4", RawGguf{}.header(0, 0, 4), "unsupported GGUF version 4", 4);
    add("truncated_tensor_count", RawGguf{}.bytes("GGUF").u32(3).u8(0).u8(0),
        "tensor count: truncated: needs 8 bytes but only 2 are left", 8);
    add("huge_tensor_count", RawGguf{}.header(kMax, 0).zeros(100),
        "tensor count 18446744073709551615 is impossible", 8);
    add("huge_kv_count", RawGguf{}.header(0, 1000000000).zeros(100), "metadata count 1000000000 is impossible", 16);

    // --- metadata ---
    add("huge_key_length", RawGguf{}.header(0, 1).u64(kMax).zeros(100),
        "metadata key #0: string length 18446744073709551615 exceeds the 100 bytes left", 24);
    add("huge_string_value", RawGguf{}.header(0, 1).str("s").u32(8).u64(uint64_t(1) << 62).zeros(16),
        "metadata 's': string length 4611686018427387904 exceeds the 16 bytes left", 37);
    add("huge_array_count", RawGguf{}.header(0, 1).str("a").u32(9).u32(4).u64(uint64_t(1) << 40).zeros(64),
        "metadata 'a': array count 1099511627776 is impossible", 41);
    add("array_count_bytes_overflow", RawGguf{}.header(0, 1).str("a").u32(9).u32(8).u64((uint64_t(1) << 61) + 1).zeros(64),
        "array count 2305843009213693953 is impossible", 41);
    {
        RawGguf r;
        r.header(0, 1).str("d").u32(9);
        for (int k = 0; k < 100; ++k) r.u32(9).u64(1);
        add("array_depth_bomb", r, "metadata 'd'[0][0][0][0][0][0][0][0]: arrays nested deeper than 8 levels",
            37 + 12 * 8);
    }
    add("unknown_value_type", RawGguf{}.header(0, 1).str("x").u32(13).u32(0), "metadata 'x': unknown value type 13", 33);
    add("unknown_array_elem_type", RawGguf{}.header(0, 1).str("x").u32(9).u32(99).u64(0),
        "metadata 'x': unknown array element type 99", 37);
    add("bool_not_0_or_1", RawGguf{}.header(0, 1).str("b").u32(7).u8(2), "BOOL value 2 is neither 0 nor 1", 37);
    add("truncated_u64_value", RawGguf{}.header(0, 1).str("n").u32(10).u32(0),
        "metadata 'n': truncated: needs 8 bytes but only 4 are left", 37);
    add("duplicate_key", RawGguf{}.header(0, 2).kv_u32("k", 1).kv_u32("k", 2),
        "metadata key #1 'k': duplicate key (first at offset 24)", 41);
    add("empty_key", RawGguf{}.header(0, 1).kv_u32("", 1), "metadata key #0: empty", 24);
    add("key_with_nul", RawGguf{}.header(0, 1).kv_u32(std::string_view("a\0b", 3), 1), "NUL byte at byte 1", 24);
    const struct {
        const char* name;
        std::string_view key;
        const char* expect;
    } bad_utf8[] = {
        {"utf8_invalid_byte", "a\xff", "invalid UTF-8 (invalid byte) at byte 1"},
        {"utf8_lone_continuation", "\x80", "invalid UTF-8 (invalid byte) at byte 0"},
        {"utf8_overlong_2", "x\xc0\xaf", "invalid UTF-8 (overlong encoding) at byte 1"},
        {"utf8_overlong_3", "\xe0\x80\xaf", "invalid UTF-8 (overlong encoding) at byte 0"},
        {"utf8_overlong_4", "\xf0\x80\x80\xaf", "invalid UTF-8 (overlong encoding) at byte 0"},
        {"utf8_surrogate", "ab\xed\xa0\x80", "invalid UTF-8 (UTF-16 surrogate) at byte 2"},
        {"utf8_too_large", "\xf4\x90\x80\x80", "invalid UTF-8 (code point beyond U+10FFFF) at byte 0"},
        {"utf8_truncated", "\xe2\x82", "invalid UTF-8 (truncated sequence) at byte 0"},
        {"utf8_f8", "\xf8\x88\x80\x80\x80", "invalid UTF-8 (invalid byte) at byte 0"},
    };
    for (const auto& u : bad_utf8)
        add(std::string("key_") + u.name, RawGguf{}.header(0, 1).kv_u32(u.key, 1), u.expect, 24);
    add("alignment_wrong_type", RawGguf{}.header(0, 1).str("general.alignment").u32(10).u64(32),
        "metadata 'general.alignment': must be UINT32, got UINT64", 24);
    add("alignment_zero", RawGguf{}.header(0, 1).kv_u32("general.alignment", 0),
        "alignment 0 is not a non-zero power of two", 24);
    add("alignment_48", RawGguf{}.header(0, 1).kv_u32("general.alignment", 48),
        "alignment 48 is not a non-zero power of two", 24);

    // --- tensor infos: header(1, 0) puts the info at 24, n_dims at 33 (one-byte name),
    // dims at 37, and with one dim the type at 45 and the offset at 49. ---
    auto one = [](std::vector<uint64_t> dims, uint32_t type, uint64_t offset, uint64_t data = 64) {
        RawGguf r;
        r.header(1, 0).tensor_info("t", std::move(dims), type, offset).pad_to(32).zeros(data);
        return r;
    };
    add("unknown_ggml_type", one({32}, 77, 0), "tensor 't': type 77 is not a known ggml type", 45);
    add("unsupported_ggml_type", one({256}, 28, 0), "tensor 't': type 28 (F64) is not supported", 45);
    add("unsupported_ggml_type_i32", one({4}, 26, 0), "type 26 (I32) is not supported", 45);
    add("n_dims_0", one({}, 0, 0), "tensor 't': n_dims 0 is outside 1..4", 33);
    add("n_dims_5", one({1, 1, 1, 1, 1}, 0, 0), "tensor 't': n_dims 5 is outside 1..4", 33);
    add("dim_zero", one({4, 0}, 0, 0), "tensor 't': dim 1 is 0", 45);
    add("dim_over_int64", one({uint64_t(1) << 63}, 0, 0), "dim 0 = 9223372036854775808 does not fit in int64", 37);
    add("dims_overflow_int64", one({uint64_t(1) << 32, uint64_t(1) << 32}, 0, 0),
        "element count of dims [4294967296, 4294967296] overflows int64", 37);
    add("size_overflow_bytes", one({uint64_t(1) << 62}, 0, 0), "data size of 4611686018427387904 F32 elements overflows", 37);
    add("row_not_block_multiple", one({100}, uint32_t(GgmlType::Q4_K), 0),
        "row length 100 (dim 0) is not a multiple of Q4_K's block size 256", 37);
    add("offset_misaligned", one({8}, 0, 4), "tensor 't': data offset 4 is not a multiple of the alignment 32", 49);
    add("offset_past_eof", one({8}, 0, uint64_t(1) << 20), "data offset 1048576 (file offset 64 + 1048576) is past the end", 49);
    add("offset_huge", one({8}, 0, kMax - 31), "is past the end of the file", 49);
    add("data_past_eof", one({64}, 0, 0, 32), "data of 256 bytes at file offset 64 extends 224 bytes past the end", 49);
    add("padding_missing", RawGguf{}.header(1, 0).tensor_info("t", {8}, 0, 0),
        "padding before the data section: truncated", 57);
    add("empty_tensor_name", RawGguf{}.header(1, 0).tensor_info("", {8}, 0, 0).pad_to(32).zeros(32),
        "tensor #0 name: empty", 24);
    add("tensor_name_bad_utf8", RawGguf{}.header(1, 0).tensor_info("w\xc1\x81", {8}, 0, 0).pad_to(32).zeros(32),
        "tensor #0 name 'w\\xc1\\x81': invalid UTF-8 (overlong encoding) at byte 1", 24);
    add("tensor_name_too_long", RawGguf{}.header(1, 0).tensor_info(std::string(5000, 'n'), {8}, 0, 0).pad_to(32).zeros(32),
        "tensor #0 name: 5000 bytes long, more than the 4096 allowed", 24);
    // Two tensors: the second info starts at 57, its offset field at 82.
    add("duplicate_tensor_name",
        RawGguf{}.header(2, 0).tensor_info("a", {8}, 0, 0).tensor_info("a", {8}, 0, 32).pad_to(32).zeros(64),
        "tensor #1 'a': duplicate tensor name (first at offset 24)", 57);
    add("overlapping_tensors",
        RawGguf{}.header(2, 0).tensor_info("a", {16}, 0, 0).tensor_info("b", {16}, 0, 32).pad_to(32).zeros(96),
        "tensor 'b': data [128, 192) overlaps tensor 'a' data [96, 160)", 82);
    add("overlapping_tensors_reversed",
        RawGguf{}.header(2, 0).tensor_info("a", {16}, 0, 32).tensor_info("b", {16}, 0, 0).pad_to(32).zeros(96),
        "tensor 'b': data [96, 160) overlaps tensor 'a' data [128, 192)", 82);
    add("same_offset_tensors",
        RawGguf{}.header(2, 0).tensor_info("a", {8}, 0, 0).tensor_info("b", {8}, 0, 0).pad_to(32).zeros(64),
        "tensor 'b': data [96, 128) overlaps tensor 'a'", 82);
    // Alignment from the metadata applies to the offsets: header 24, KV 17+8+4+4 = 33 -> info at 57,
    // its offset field at 57 + 9 + 4 + 8 + 4 = 82.
    add("offset_misaligned_custom_alignment",
        RawGguf{}.header(1, 1).kv_u32("general.alignment", 64).tensor_info("t", {8}, 0, 32).pad_to(64).zeros(96),
        "data offset 32 is not a multiple of the alignment 64", 82);
    return cases;
}

}  // namespace qlm::test
