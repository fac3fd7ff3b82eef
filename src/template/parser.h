// Tokens -> syntax tree, following jinja2's parser (jinja2/parser.py) rule
// for rule, so operator precedence and the odd corners (filters binding
// tighter than unary minus, `is` tests taking one bare argument) match.
#pragma once

#include <string>

#include "template/ast.h"

namespace qlm::tmpl {

// Throws qlm::TemplateError naming line and column.
std::shared_ptr<Program> parse_program(std::string source);

}  // namespace qlm::tmpl
