// GGUF on-disk constants and the reader's sanity limits (private to src/gguf
// and its tests).
//
// Layout (little-endian):
//   u32 magic "GGUF", u32 version, u64 tensor_count, u64 kv_count
//   kv_count x { string key, u32 value_type, value }
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to the alignment, then the data section
// string = u64 length + bytes (no NUL); ARRAY = u32 elem_type, u64 count, elements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qlm::gguf {

inline constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
inline constexpr uint64_t kHeaderSize = 4 + 4 + 8 + 8;
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr std::string_view kAlignmentKey = "general.alignment";
inline constexpr uint32_t kMaxValueType = 12;  // FLOAT64

// Smallest possible encodings, used to bound counts against the bytes left
// before anything is allocated.
inline constexpr uint64_t kMinKvBytes = 8 + 4 + 1;               // key length, type, 1-byte value
inline constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, 1 dim, type, offset

// Limits qlm imposes beyond the format itself.
inline constexpr uint32_t kMaxDims = 4;          // GGML_MAX_DIMS
inline constexpr uint32_t kMaxArrayDepth = 8;    // arrays of arrays; real files use 1
// Keys and tensor names. ggml caps tensor names at 63 bytes; qlm accepts
// longer ones (nothing here depends on the cap) but not absurd ones.
inline constexpr uint64_t kMaxNameBytes = 4096;
// Caps on what a file may make the reader allocate. On disk a value can be a
// single byte but in memory each costs ~100 bytes (a tensor ~300), so these
// bound the worst case to a few hundred MB. Real files stay far below: the
// largest vocabularies (256k tokens + scores + types, or 150k tokens + merges)
// total ~1M values, and the largest models have a few thousand tensors.
inline constexpr uint64_t kMaxMetadataValues = uint64_t(1) << 22;  // arrays' elements included
inline constexpr uint64_t kMaxKvs = uint64_t(1) << 16;
inline constexpr uint64_t kMaxTensors = uint64_t(1) << 20;

// Size in bytes of one encoded element of a scalar type, or the minimum for
// STRING (its length field) and ARRAY (elem type + count). 0 if unknown.
constexpr uint64_t min_value_bytes(uint32_t type) {
    switch (type) {
        case 0: case 1: case 7: return 1;    // UINT8 INT8 BOOL
        case 2: case 3: return 2;            // UINT16 INT16
        case 4: case 5: case 6: return 4;    // UINT32 INT32 FLOAT32
        case 10: case 11: case 12: return 8; // UINT64 INT64 FLOAT64
        case 8: return 8;                    // STRING
        case 9: return 4 + 8;                // ARRAY
        default: return 0;
    }
}

enum class Utf8Problem { none, invalid_byte, truncated, overlong, surrogate, too_large };

inline const char* utf8_problem_name(Utf8Problem p) {
    switch (p) {
        case Utf8Problem::none: return "valid";
        case Utf8Problem::invalid_byte: return "invalid byte";
        case Utf8Problem::truncated: return "truncated sequence";
        case Utf8Problem::overlong: return "overlong encoding";
        case Utf8Problem::surrogate: return "UTF-16 surrogate";
        case Utf8Problem::too_large: return "code point beyond U+10FFFF";
    }
    return "?";
}

// Strict UTF-8 check (RFC 3629). On failure *where is the index of the first
// byte of the offending sequence.
inline Utf8Problem check_utf8(std::string_view s, size_t* where) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned c = p[i];
        *where = i;
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07;
        } else {
            return Utf8Problem::invalid_byte;  // continuation byte or 0xF8..0xFF
        }
        for (size_t k = 1; k < len; ++k) {
            if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return Utf8Problem::truncated;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        static constexpr uint32_t kMinForLen[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMinForLen[len]) return Utf8Problem::overlong;
        if (cp >= 0xD800 && cp <= 0xDFFF) return Utf8Problem::surrogate;
        if (cp > 0x10FFFF) return Utf8Problem::too_large;
        i += len;
    }
    return Utf8Problem::none;
}

}  // namespace qlm::gguf
