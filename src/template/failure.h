// Failure: an error raised while evaluating, before the evaluator knows where;
// the evaluator turns it into a qlm::TemplateError naming line and column.
#pragma once

#include <stdexcept>
#include <string>

#include "qlm/error.h"

namespace qlm::tmpl {

struct Failure : std::runtime_error {
    explicit Failure(const std::string& what, bool raised = false) : std::runtime_error(what), raised(raised) {}
    bool raised;  // raise_exception(): the message is the template's own
};

}  // namespace qlm::tmpl
