// Sample GGUF files shared by the GoogleTest suite and the fuzz seed
// generator: valid files of several shapes, and a table of crafted corrupt
// files, each with the error it must produce.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace qlm::test {

// Little-endian byte builder for hand-crafted files; pos() is the offset the
// next field will start at, for the expected error offsets.
struct RawGguf {
    std::vector<uint8_t> b;

    uint64_t pos() const { return b.size(); }
    RawGguf& u8(uint8_t v);
    RawGguf& u32(uint32_t v);
    RawGguf& u64(uint64_t v);
    RawGguf& bytes(std::string_view s);           // no length prefix
    RawGguf& str(std::string_view s);             // gguf string: u64 length + bytes
    RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3);
    RawGguf& kv_u32(std::string_view key, uint32_t v);
    RawGguf& tensor_info(std::string_view name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset);
    RawGguf& pad_to(uint64_t alignment);
    RawGguf& zeros(uint64_t n);
};

struct NamedFile {
    std::string name;
    std::vector<uint8_t> bytes;
};

// A small valid file: three KVs and two tensors (Q8_0 [32], F32 [4, 2]),
// laid out so that it ends exactly at the end of the last tensor: every
// proper prefix is invalid.
std::vector<uint8_t> small_valid_file();

// Valid files of several shapes (no tensors, v2, alignment 1 and 64, many
// tensor types, nested arrays) for seeds and round trips.
std::vector<NamedFile> valid_samples();

struct CorruptCase {
    std::string name;
    std::vector<uint8_t> bytes;
    std::string expect;   // distinctive substring of the message
    uint64_t offset;      // the byte offset the message must name
};

std::vector<CorruptCase> corrupt_cases();

// GoogleTest prints a parameter with this (instead of a byte dump in every test name).
inline void PrintTo(const CorruptCase& c, std::ostream* os) { *os << c.name; }

}  // namespace qlm::test
