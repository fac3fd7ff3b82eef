// qlm::Error — the one exception type for bad input (corrupt files, wrong
// shapes, malformed requests). Messages name where: file + byte offset + field,
// or op + type + shape. Programmer bugs use assert, never this. An error
// carries a code for callers that map errors (the server to HTTP statuses and
// error codes): nothing parses message text.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace qlm {

enum class ErrorCode {
    Invalid,                // bad input in general (a file, a shape, an option)
    BadRequest,             // a request's field (engine requests)
    ContextLengthExceeded,  // a prompt longer than the context
    DoesNotFit,             // a request that could never fit the KV pool
};

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what, ErrorCode code = ErrorCode::Invalid)
        : std::runtime_error(what), code_(code) {}
    ErrorCode code() const noexcept { return code_; }

private:
    ErrorCode code_;
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

template <typename... Args>
[[noreturn]] void fail_code(ErrorCode code, Args&&... args) {
    throw Error(cat(std::forward<Args>(args)...), code);
}

}  // namespace qlm
