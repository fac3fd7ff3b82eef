// GgufValue: checked conversions and constructors.
#include <cstdint>
#include <limits>

#include "qlm/error.h"
#include "qlm/gguf.h"

namespace qlm {

const char* gguf_value_type_name(GgufValueType t) noexcept {
    switch (t) {
        case GgufValueType::UINT8: return "UINT8";
        case GgufValueType::INT8: return "INT8";
        case GgufValueType::UINT16: return "UINT16";
        case GgufValueType::INT16: return "INT16";
        case GgufValueType::UINT32: return "UINT32";
        case GgufValueType::INT32: return "INT32";
        case GgufValueType::FLOAT32: return "FLOAT32";
        case GgufValueType::BOOL: return "BOOL";
        case GgufValueType::STRING: return "STRING";
        case GgufValueType::ARRAY: return "ARRAY";
        case GgufValueType::UINT64: return "UINT64";
        case GgufValueType::INT64: return "INT64";
        case GgufValueType::FLOAT64: return "FLOAT64";
    }
    return "unknown";
}

namespace {

bool is_unsigned(GgufValueType t) {
    return t == GgufValueType::UINT8 || t == GgufValueType::UINT16 || t == GgufValueType::UINT32 ||
           t == GgufValueType::UINT64;
}
bool is_signed(GgufValueType t) {
    return t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 ||
           t == GgufValueType::INT64;
}

}  // namespace

bool GgufValue::is_integer() const noexcept { return is_unsigned(type) || is_signed(type); }

bool GgufValue::is_float() const noexcept {
    return type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64;
}

uint64_t GgufValue::to_u64() const {
    if (is_unsigned(type)) return u;
    if (is_signed(type)) {
        if (i < 0) fail(gguf_value_type_name(type), " value ", i, " is negative, expected an unsigned integer");
        return uint64_t(i);
    }
    fail("expected an unsigned integer, got ", gguf_value_type_name(type));
}

int64_t GgufValue::to_i64() const {
    if (is_signed(type)) return i;
    if (is_unsigned(type)) {
        if (u > uint64_t(std::numeric_limits<int64_t>::max()))
            fail(gguf_value_type_name(type), " value ", u, " does not fit in INT64");
        return int64_t(u);
    }
    fail("expected an integer, got ", gguf_value_type_name(type));
}

double GgufValue::to_f64() const {
    if (is_float()) return f;
    if (is_unsigned(type)) return double(u);
    if (is_signed(type)) return double(i);
    fail("expected a number, got ", gguf_value_type_name(type));
}

bool GgufValue::to_bool() const {
    if (type != GgufValueType::BOOL) fail("expected BOOL, got ", gguf_value_type_name(type));
    return u != 0;
}

namespace {

GgufValue make_unsigned(GgufValueType t, uint64_t v) {
    GgufValue out;
    out.type = t;
    out.u = v;
    return out;
}
GgufValue make_signed(GgufValueType t, int64_t v) {
    GgufValue out;
    out.type = t;
    out.i = v;
    return out;
}

}  // namespace

GgufValue GgufValue::of_u8(uint8_t v) { return make_unsigned(GgufValueType::UINT8, v); }
GgufValue GgufValue::of_i8(int8_t v) { return make_signed(GgufValueType::INT8, v); }
GgufValue GgufValue::of_u16(uint16_t v) { return make_unsigned(GgufValueType::UINT16, v); }
GgufValue GgufValue::of_i16(int16_t v) { return make_signed(GgufValueType::INT16, v); }
GgufValue GgufValue::of_u32(uint32_t v) { return make_unsigned(GgufValueType::UINT32, v); }
GgufValue GgufValue::of_i32(int32_t v) { return make_signed(GgufValueType::INT32, v); }
GgufValue GgufValue::of_u64(uint64_t v) { return make_unsigned(GgufValueType::UINT64, v); }
GgufValue GgufValue::of_i64(int64_t v) { return make_signed(GgufValueType::INT64, v); }
GgufValue GgufValue::of_bool(bool v) { return make_unsigned(GgufValueType::BOOL, v ? 1 : 0); }

GgufValue GgufValue::of_f32(float v) {
    GgufValue out;
    out.type = GgufValueType::FLOAT32;
    out.f = v;
    return out;
}

GgufValue GgufValue::of_f64(double v) {
    GgufValue out;
    out.type = GgufValueType::FLOAT64;
    out.f = v;
    return out;
}

GgufValue GgufValue::of_string(std::string v) {
    GgufValue out;
    out.type = GgufValueType::STRING;
    out.str = std::move(v);
    return out;
}

GgufValue GgufValue::of_array(GgufValueType elem_type, std::vector<GgufValue> items) {
    GgufValue out;
    out.type = GgufValueType::ARRAY;
    out.elem_type = elem_type;
    out.items = std::move(items);
    return out;
}

}  // namespace qlm
