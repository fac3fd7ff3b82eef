// The template lexer: jinja2's, with the settings transformers uses
// (trim_blocks, lstrip_blocks, keep_trailing_newline off). Newlines are
// normalized to \n first, as jinja2 does, so lines and columns refer to it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qlm::tmpl {

enum class Tok : uint8_t { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok type;
    std::string text;  // Data text, name, decoded string, operator
    int line = 1, col = 1;
    int64_t ival = 0;
    double fval = 0;
};

// Throws qlm::TemplateError naming line and column.
std::vector<Token> lex(std::string_view source);

[[noreturn]] void syntax_error(int line, int col, const std::string& message);

}  // namespace qlm::tmpl
