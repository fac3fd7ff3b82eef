// libFuzzer target for the chat-template engine. The input is a template: it
// must either fail to parse with a TemplateError naming line and column, or
// parse, and then render a fixed conversation either to text or to a
// TemplateError. Anything else (a crash, a hang past -timeout, a sanitizer
// report, another exception type) is a finding. Limits are small so a
// hostile loop ends quickly.
#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "qlm/template.h"

namespace {

volatile size_t g_sink;

const nlohmann::ordered_json& context() {
    static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "Hi \u00e9 \ud83d\ude42"},
            {"role": "assistant", "content": "Hello", "tool_calls": [
                {"type": "function", "function": {"name": "f", "arguments": {"a": 1, "b": [true, null, 2.5]}}}]},
            {"role": "tool", "content": "{\"r\": 1}"},
            {"role": "user", "content": ""}
        ],
        "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                   "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "n": 3, "x": 1.5
    })");
    return ctx;
}

bool positioned(const char* what) { return std::strncmp(what, "line ", 5) == 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string source(reinterpret_cast<const char*>(data), size);
    qlm::TemplateOptions opt;
    opt.max_output_bytes = 1 << 16;
    opt.max_iterations = 20000;
    opt.max_depth = 200;
    opt.now = 0;
    try {
        const auto t = qlm::ChatTemplate::parse(source);
        if (t.source() != source) __builtin_trap();
        g_sink = g_sink + t.render(context(), opt).size();
    } catch (const qlm::TemplateError& e) {
        // Every error names where, except the template's own raise_exception.
        if (!e.raised() && (!positioned(e.what()) || e.line() < 1 || e.column() < 1)) __builtin_trap();
        g_sink = g_sink + std::strlen(e.what());
    }
    return 0;
}
