// Chat templates: a Jinja engine of our own for the GGUF's
// tokenizer.chat_template, rendering byte for byte as Hugging Face transformers
// does with Python's jinja2 (an ImmutableSandboxedEnvironment with
// trim_blocks, lstrip_blocks and loop controls; raise_exception, strftime_now
// and a json.dumps-based tojson).
//
//   ChatTemplate t = ChatTemplate::parse(source);          // throws TemplateError
//   std::string prompt = apply_chat_template(t, request["messages"],
//                                            /*add_generation_prompt=*/true, bos, eos);
//
// Contexts are nlohmann::ordered_json, so dicts keep their keys in the
// client's order as Python does (a tool schema printed by tojson reads as
// sent); parse requests with nlohmann::ordered_json::parse. A plain
// nlohmann::json converts implicitly, with its keys sorted.
//
// Bad templates and bad data never crash: every failure is a TemplateError
// (a qlm::Error) naming line and column; output size, loop iterations and
// call depth are bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "qlm/error.h"

namespace qlm {

class GgufReader;

namespace tmpl {
struct Program;
}

class TemplateError : public Error {
public:
    // raised: the template called raise_exception(message); what() is then
    // exactly the template's message, otherwise "line L, column C: ...".
    TemplateError(const std::string& what, int line, int column, bool raised)
        : Error(what), line_(line), column_(column), raised_(raised) {}
    int line() const { return line_; }
    int column() const { return column_; }
    bool raised() const { return raised_; }

private:
    int line_, column_;
    bool raised_;
};

struct TemplateOptions {
    size_t max_output_bytes = size_t(16) << 20;  // also bounds every string built
    uint64_t max_iterations = 1000000;          // loop iterations and list sizes, in total
    int max_depth = 400;                        // nested evaluation (macro recursion)
    std::optional<std::time_t> now;             // strftime_now's clock (local time); unset: the real time
};

class ChatTemplate {
public:
    // Throws TemplateError (line, column) for syntax errors.
    static ChatTemplate parse(std::string source);

    // The model's tokenizer.chat_template, or ChatML when it has none (as
    // llama.cpp falls back). Errors name the key: "tokenizer.chat_template: line L, ...".
    static ChatTemplate from_gguf(const GgufReader& reader);
    // What run, chat and serve use: the template file `override_file` when
    // it is not empty (errors name the file), else from_gguf.
    static ChatTemplate load(const GgufReader& reader, const std::string& override_file);

    // Renders with the context's top-level keys as variables.
    std::string render(const nlohmann::ordered_json& context, const TemplateOptions& options = {}) const;

    const std::string& source() const;

private:
    std::shared_ptr<const tmpl::Program> program_;
};

// As transformers' apply_chat_template(messages, tokenize=False): the
// variables are messages, tools (None), documents (None),
// add_generation_prompt, bos_token, eos_token, then every key of extra
// (an object: tools, enable_thinking, ...; these override).
std::string apply_chat_template(const ChatTemplate& tmpl, const nlohmann::ordered_json& messages,
                                bool add_generation_prompt, const std::string& bos_token,
                                const std::string& eos_token,
                                const nlohmann::ordered_json& extra = nlohmann::ordered_json::object(),
                                const TemplateOptions& options = {});

// ChatML, the template llama.cpp falls back to when a model has none.
const std::string& chatml_template_source();

}  // namespace qlm
