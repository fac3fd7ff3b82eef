#include "npy.h"

#include <cerrno>
#include <cstring>

#include "qlm/error.h"

namespace qlm::cli {

NpyWriter::NpyWriter(const std::string& path, const std::vector<int64_t>& shape) : path_(path) {
    std::string dims;
    for (int64_t d : shape) {
        dims += std::to_string(d) + ",";
        if (shape.size() > 1) dims += " ";
        expected_ *= uint64_t(d);
    }
    if (shape.size() > 1) dims.pop_back(), dims.pop_back();
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    // magic(6) + version(2) + header length(2) + header, padded with spaces to
    // a multiple of 64 and ended by a newline, as the format asks.
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) fail(path, ": cannot create: ", std::strerror(errno));
    const uint16_t len = uint16_t(header.size());
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(len & 0xff), uint8_t(len >> 8)};
    if (std::fwrite(pre, 1, 10, f_) != 10 || std::fwrite(header.data(), 1, header.size(), f_) != header.size())
        fail(path, ": write failed: ", std::strerror(errno));
}

NpyWriter::~NpyWriter() {
    if (f_) std::fclose(f_);
}

void NpyWriter::write(const float* values, size_t count) {
    if (std::fwrite(values, sizeof(float), count, f_) != count) fail(path_, ": write failed: ", std::strerror(errno));
    written_ += count;
}

void NpyWriter::close() {
    if (written_ != expected_) fail(path_, ": wrote ", written_, " values, shape needs ", expected_);
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) fail(path_, ": close failed: ", std::strerror(errno));
}

}  // namespace qlm::cli
