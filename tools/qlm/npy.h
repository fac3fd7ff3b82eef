// Minimal NumPy .npy (format 1.0) writer for little-endian float32 arrays,
// streamed row by row so large tensors never sit in memory whole.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace qlm::cli {

class NpyWriter {
public:
    // shape in NumPy order (slowest dimension first). Throws qlm::Error on I/O failure.
    NpyWriter(const std::string& path, const std::vector<int64_t>& shape);
    ~NpyWriter();
    NpyWriter(const NpyWriter&) = delete;
    NpyWriter& operator=(const NpyWriter&) = delete;

    void write(const float* values, size_t count);
    void close();  // flushes; throws if the element count does not match the shape

private:
    std::string path_;
    std::FILE* f_ = nullptr;
    uint64_t expected_ = 1, written_ = 0;
};

}  // namespace qlm::cli
