// qlm::Error — the one exception type for bad input (corrupt files, wrong
// shapes, malformed requests). Messages name where: file + byte offset + field,
// or op + type + shape. Programmer bugs use assert, never this.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace qlm {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Concatenate anything streamable into one string: cat("tensor '", name, "' has ", n, " dims").
template <typename... Args>
std::string cat(Args&&... args) {
    std::ostringstream os;
    (os << ... << std::forward<Args>(args));
    return os.str();
}

template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
    throw Error(cat(std::forward<Args>(args)...));
}

}  // namespace qlm
