// Python str methods on UTF-8 strings (indices in code points, Unicode
// whitespace; case mapping for ASCII, Latin-1, Latin Extended-A, Greek and
// Cyrillic).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qlm::tmpl {

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);       // str.title()
std::string py_capitalize(std::string_view s);  // str.capitalize()
// chars: nullopt = whitespace
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
std::string py_replace(std::string_view s, std::string_view old, std::string_view with, int64_t count);
int64_t py_find(std::string_view s, std::string_view sub, bool reverse);  // code point index or -1
int64_t py_count(std::string_view s, std::string_view sub);
bool is_cased_upper(uint32_t cp);
bool is_cased_lower(uint32_t cp);

}  // namespace qlm::tmpl
