// Tool calls: the format a chat template uses (decided once, at load, from
// its source), the grammar that constrains a call's arguments to the tool's
// JSON schema, and a streaming parser that splits model output into content
// and tool calls without ever letting a marker (even one split across
// tokens) leak into the content.
#pragma once

#include <string>
#include <vector>

#include "server/openai.h"

namespace qlm::server {

enum class ToolFormat { None, Hermes, QwenXml, Llama3, Mistral, Harmony, Generic };
ToolFormat detect_tool_format(const std::string& template_source);
const char* tool_format_name(ToolFormat f);

struct ToolCall {
    std::string id, name, arguments;  // arguments: a JSON object as text
};

// A streamed piece of a tool call: the first one of a call carries id and
// name (and arguments ""), later ones argument fragments.
struct ToolDelta {
    int index = 0;
    bool first = false;
    std::string id, name, arguments;
};

// The request's tools, checked: function names and parameter schemas.
struct ToolSpec {
    std::string name;
    ojson parameters;  // a JSON schema (object)
};
struct ToolRequest {
    std::vector<ToolSpec> tools;
    std::string choice = "auto";  // auto, none, required, or the name of a function
    bool parallel = true;
    bool enabled() const { return !tools.empty() && choice != "none"; }
};
ToolRequest parse_tools(const ojson& body);

// GBNF for the calls in `f`'s syntax, arguments constrained by each tool's
// schema; `triggers` gets the text that starts a call (the grammar applies
// from there when the model may also answer in text). Throws HttpError (400)
// naming the tool for a schema we cannot constrain.
std::string tool_call_grammar(ToolFormat f, const ToolRequest& t, std::vector<std::string>& triggers);

class ToolCallParser {
public:
    ToolCallParser(ToolFormat f, std::vector<std::string> known_tools, std::string id_prefix);
    // Feeds model text (final: no more will come). Appends what is safe to
    // show as content, and the tool-call deltas.
    void feed(const std::string& text, bool final, std::string& content, std::vector<ToolDelta>& deltas);
    const std::vector<ToolCall>& calls() const { return calls_; }

private:
    void parse_block(const std::string& body, std::vector<ToolDelta>& deltas);
    void add_call(std::string name, std::string args, std::vector<ToolDelta>& deltas);
    void stream_hermes(std::vector<ToolDelta>& deltas);
    bool harmony_content(bool final, std::string& content);

    ToolFormat f_;
    std::vector<std::string> known_;
    std::string prefix_;
    std::vector<std::string> starts_;
    std::string end_;
    std::string buf_;
    std::string block_start_;  // the start marker of the block being read
    bool in_call_ = false;
    bool at_start_ = true;  // nothing but white space has been content so far
    std::vector<ToolCall> calls_;
    // Hermes streaming of the call being generated
    bool header_sent_ = false;
    size_t args_begin_ = 0, args_sent_ = 0;
};

}  // namespace qlm::server

namespace qlm::server {

// <think>...</think> reasoning (Qwen3, DeepSeek-R1 distills): split from the
// answer, streamed apart; markers held back across tokens. `inside`: the
// prompt already opened the block (the template ends with "<think>").
class ReasoningSplitter {
public:
    explicit ReasoningSplitter(bool inside) : state_(inside ? In : Start) {}
    void feed(const std::string& text, bool final, std::string& reasoning, std::string& content);

private:
    enum State { Start, In, Out } state_;
    std::string buf_;
    bool strip_ = true;  // the blank line after </think> is not content
};

// Whether a template thinks in <think> blocks, and whether a rendered
// prompt leaves the model inside one.
bool template_thinks(const std::string& template_source);
bool prompt_opens_thinking(const std::string& rendered);

// The grammar applied to the answer after the reasoning: `gbnf` (root
// "root") wrapped so that an optional <think> block (or, when the prompt
// opened it, its end) comes first; returns the new start rule's name.
std::string grammar_after_reasoning(std::string& gbnf, bool inside);

}  // namespace qlm::server
