// Helpers shared by the JSON Schema converter and its regex subset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "qlm/grammar.h"

namespace qlm::grammar {

// A GBNF literal ("...") of the text, escaped for GBNF.
std::string gbnf_literal(std::string_view text);
// One character inside a GBNF class, escaped.
std::string gbnf_class_char(uint32_t cp);
// A GBNF literal of the JSON-escaped form of one character (inside a string).
std::string json_char_literal(uint32_t cp);
// A pattern -> a GBNF expression over a JSON string's inside (needs the
// rules json-char and json-char-plain).
std::string pattern_to_gbnf(std::string_view pattern);

}  // namespace qlm::grammar
