// SHA-256 of a file (FIPS 180-4), for checking that a test GGUF is the one
// the fixtures were recorded from.
#pragma once

#include <string>

namespace qlm::test {

// Hex SHA-256 of a file, or "" if it cannot be read. Built without sanitizers
// and optimized (see CMakeLists.txt): it hashes the 250 MB default model.
std::string sha256_file(const std::string& path);

}  // namespace qlm::test
