// GGUF (v2, v3) reader and writer.
//
// The reader maps the file and validates everything before use: every count,
// length, dimension, type id, offset and size is checked with overflow-safe
// arithmetic; tensor data must lie inside the file, be aligned and not
// overlap. Errors are qlm::Error naming the file, the byte offset and the
// field, e.g. "model.gguf: offset 1234: tensor 'blk.0.attn_q.weight' dim 1: ...".
// Tensor views point into the mapping (zero copy) and live as long as the reader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qlm/formats.h"

namespace qlm {

enum class GgufValueType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};
const char* gguf_value_type_name(GgufValueType t) noexcept;

// A metadata value: a scalar, a string, or an array of values (arrays may nest).
struct GgufValue {
    GgufValueType type = GgufValueType::UINT8;
    // Scalars: integers are kept exactly in the field that fits their signedness.
    uint64_t u = 0;   // UINT8/16/32/64, BOOL (0/1)
    int64_t i = 0;    // INT8/16/32/64
    double f = 0;     // FLOAT32/64
    std::string str;  // STRING
    // ARRAY: element type, and the elements themselves.
    GgufValueType elem_type = GgufValueType::UINT8;
    std::vector<GgufValue> items;

    bool is_integer() const noexcept;
    bool is_float() const noexcept;
    // Checked conversions; throw qlm::Error if the value's type does not fit
    // (e.g. a negative INT32 read as unsigned, a STRING read as a number).
    uint64_t to_u64() const;
    int64_t to_i64() const;
    double to_f64() const;
    bool to_bool() const;

    // Constructors for the writer and tests.
    static GgufValue of_u8(uint8_t v);
    static GgufValue of_i8(int8_t v);
    static GgufValue of_u16(uint16_t v);
    static GgufValue of_i16(int16_t v);
    static GgufValue of_u32(uint32_t v);
    static GgufValue of_i32(int32_t v);
    static GgufValue of_f32(float v);
    static GgufValue of_bool(bool v);
    static GgufValue of_string(std::string v);
    static GgufValue of_u64(uint64_t v);
    static GgufValue of_i64(int64_t v);
    static GgufValue of_f64(double v);
    static GgufValue of_array(GgufValueType elem_type, std::vector<GgufValue> items);
};

struct GgufKV {
    std::string key;
    GgufValue value;
    uint64_t offset = 0;  // byte offset of the key in the file, for error messages
};

struct GgufTensor {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<int64_t> shape;  // ggml order: shape[0] is the row length (contiguous)
    int64_t n_elements = 0;
    uint64_t offset = 0;         // absolute byte offset of the data in the file
    uint64_t size = 0;           // bytes of data
    const uint8_t* data = nullptr;  // points into the mapping
    uint64_t info_offset = 0;    // byte offset of the tensor info record, for errors

    int64_t rows() const noexcept;  // product of shape[1..]
    std::span<const uint8_t> bytes() const noexcept { return {data, size_t(size)}; }
};

class GgufReader {
public:
    // Map and validate a file. Throws qlm::Error on any problem.
    static GgufReader open(const std::string& path);
    // Validate bytes in memory (not copied: they must outlive the reader).
    // `name` stands in for the path in error messages.
    static GgufReader from_memory(std::span<const uint8_t> bytes, std::string name = "<memory>");

    GgufReader(GgufReader&&) noexcept;
    GgufReader& operator=(GgufReader&&) noexcept;
    ~GgufReader();

    const std::string& path() const noexcept;
    uint32_t version() const noexcept;
    uint64_t alignment() const noexcept;
    uint64_t data_offset() const noexcept;  // start of the tensor data section
    uint64_t file_size() const noexcept;

    const std::vector<GgufKV>& metadata() const noexcept;  // in file order
    const GgufValue* find(std::string_view key) const noexcept;
    // Typed getters: throw qlm::Error naming the file and key if the key is
    // missing or of an incompatible type. *_or return the fallback if missing.
    std::string get_string(std::string_view key) const;
    uint64_t get_u64(std::string_view key) const;
    int64_t get_i64(std::string_view key) const;
    double get_f64(std::string_view key) const;
    bool get_bool(std::string_view key) const;
    std::string get_string_or(std::string_view key, std::string fallback) const;
    uint64_t get_u64_or(std::string_view key, uint64_t fallback) const;
    double get_f64_or(std::string_view key, double fallback) const;
    bool get_bool_or(std::string_view key, bool fallback) const;
    // Array getters: throw if missing, not an array, or of the wrong element type.
    std::vector<std::string> get_string_array(std::string_view key) const;
    std::vector<int64_t> get_int_array(std::string_view key) const;
    std::vector<double> get_float_array(std::string_view key) const;

    const std::vector<GgufTensor>& tensors() const noexcept;  // in file order
    const GgufTensor* find_tensor(std::string_view name) const noexcept;
    const GgufTensor& tensor(std::string_view name) const;  // throws naming file and tensor

private:
    struct Impl;
    explicit GgufReader(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Builds GGUF files. Used by tests (valid and deliberately broken files) and
// tools. It writes what it is told: the "raw" fields exist so tests can craft
// corrupt files (bad type ids, impossible dims, wrong offsets).
class GgufWriter {
public:
    explicit GgufWriter(uint32_t version = 3);

    // Alignment of the data section and of each tensor (default 32). Also
    // writes the general.alignment key when it is not 32.
    void set_alignment(uint32_t alignment);
    void add(std::string key, GgufValue value);

    // A well-formed tensor: data size must equal row_size(type, shape[0]) * rows.
    void add_tensor(std::string name, GgmlType type, std::vector<int64_t> shape, std::vector<uint8_t> data);

    // Raw tensor info, written exactly as given (no validation): type id, dims
    // and, if set, the offset relative to the data section. `data` is appended
    // to the data section at the next aligned position when offset is unset.
    struct RawTensor {
        std::string name;
        uint32_t type_id = 0;
        std::vector<uint64_t> dims;
        std::optional<uint64_t> offset;
        std::vector<uint8_t> data;
    };
    void add_raw_tensor(RawTensor t);

    std::vector<uint8_t> to_bytes() const;
    void write(const std::string& path) const;  // throws qlm::Error on I/O failure

private:
    uint32_t version_;
    uint32_t alignment_ = 32;
    std::vector<std::pair<std::string, GgufValue>> kvs_;
    std::vector<RawTensor> tensors_;
};

}  // namespace qlm
