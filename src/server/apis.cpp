// Anthropic Messages and OpenAI Responses over chat completions (apis.h).
#include "server/apis.h"

#include <atomic>
#include <chrono>

namespace qlm::server {

std::string ApiAdapter::chunk(const ojson& c) {
    return "data: " + c.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n\n";
}

namespace {

std::string event(const std::string& name, const ojson& data) {
    return "event: " + name + "\ndata: " + data.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n\n";
}

std::string text_of(const ojson& content, const std::string& where) {
    if (content.is_string()) return content.get<std::string>();
    if (!content.is_array()) bad_request(where, "must be a string or a list of content blocks");
    std::string out;
    for (const auto& b : content) {
        if (b.is_object() && b.value("type", "") == "text" && b.contains("text") && b["text"].is_string())
            out += b["text"].get<std::string>();
        else if (!(b.is_object() && b.value("type", "") == "thinking"))
            bad_request(where, "holds a block that is not text");
    }
    return out;
}

std::atomic<uint64_t> g_counter{1};
std::string new_id(const char* prefix) {
    return std::string(prefix) + std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 100000000) +
           "_" + std::to_string(g_counter++);
}

}  // namespace

// ---------------------------------------------------------------- Anthropic

ojson anthropic_error(const HttpError& e) {
    const char* type = e.status == 401 ? "authentication_error" : e.status == 404 ? "not_found_error"
                       : e.status >= 500 ? "api_error" : "invalid_request_error";
    return {{"type", "error"}, {"error", {{"type", type}, {"message", e.message}}}};
}

ojson anthropic_to_chat(const ojson& body) {
    if (!body.is_object()) bad_request("", "the request body must be a JSON object");
    if (!body.contains("max_tokens") || !body["max_tokens"].is_number_integer())
        bad_request("max_tokens", "is required (an integer)");
    if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
        bad_request("messages", "must be a non-empty list");
    ojson out = ojson::object();
    ojson msgs = ojson::array();
    if (body.contains("system") && !body["system"].is_null()) msgs.push_back({{"role", "system"}, {"content", text_of(body["system"], "system")}});
    for (size_t i = 0; i < body["messages"].size(); ++i) {
        const ojson& m = body["messages"][i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) bad_request(where + ".role", "must be user or assistant");
        const std::string role = m["role"].get<std::string>();
        if (role != "user" && role != "assistant") bad_request(where + ".role", "must be user or assistant");
        if (!m.contains("content")) bad_request(where + ".content", "is required");
        const ojson& c = m["content"];
        if (c.is_string()) {
            msgs.push_back({{"role", role}, {"content", c}});
            continue;
        }
        if (!c.is_array()) bad_request(where + ".content", "must be a string or a list of content blocks");
        std::string text;
        ojson calls = ojson::array();
        std::vector<ojson> results;
        for (size_t k = 0; k < c.size(); ++k) {
            const ojson& b = c[k];
            const std::string bw = where + ".content[" + std::to_string(k) + "]";
            const std::string type = b.is_object() ? b.value("type", "") : "";
            if (type == "text" && b.contains("text") && b["text"].is_string()) {
                text += b["text"].get<std::string>();
            } else if (type == "tool_use" && role == "assistant") {
                if (!b.contains("id") || !b["id"].is_string() || !b.contains("name") || !b["name"].is_string())
                    bad_request(bw, "a tool_use block needs id and name");
                calls.push_back({{"id", b["id"]}, {"type", "function"},
                                 {"function", {{"name", b["name"]}, {"arguments", b.value("input", ojson::object()).dump()}}}});
            } else if (type == "tool_result" && role == "user") {
                if (!b.contains("tool_use_id") || !b["tool_use_id"].is_string()) bad_request(bw + ".tool_use_id", "is required");
                std::string r = b.contains("content") ? text_of(b["content"], bw + ".content") : "";
                results.push_back({{"role", "tool"}, {"tool_call_id", b["tool_use_id"]}, {"content", r}});
            } else if (type == "thinking" || type == "redacted_thinking") {
                continue;
            } else {
                bad_request(bw + ".type", "'" + type + "' is not supported here (text, tool_use, tool_result, thinking)");
            }
        }
        for (auto& r : results) msgs.push_back(std::move(r));
        if (role == "assistant") {
            ojson a = {{"role", "assistant"}, {"content", text}};
            if (!calls.empty()) a["tool_calls"] = calls;
            msgs.push_back(a);
        } else if (!text.empty() || results.empty()) {
            msgs.push_back({{"role", "user"}, {"content", text}});
        }
    }
    out["messages"] = msgs;
    out["max_tokens"] = body["max_tokens"];
    for (const char* k : {"temperature", "top_p", "top_k", "stream"})
        if (body.contains(k)) out[k] = body[k];
    if (body.contains("stop_sequences")) out["stop"] = body["stop_sequences"];
    if (body.contains("tools") && body["tools"].is_array()) {
        ojson tools = ojson::array();
        for (size_t i = 0; i < body["tools"].size(); ++i) {
            const ojson& t = body["tools"][i];
            if (!t.is_object() || !t.contains("name")) bad_request("tools[" + std::to_string(i) + "].name", "is required");
            tools.push_back({{"type", "function"},
                             {"function", {{"name", t["name"]}, {"description", t.value("description", "")},
                                           {"parameters", t.value("input_schema", ojson{{"type", "object"}})}}}});
        }
        out["tools"] = tools;
    }
    if (body.contains("tool_choice") && body["tool_choice"].is_object()) {
        const std::string type = body["tool_choice"].value("type", "auto");
        if (type == "any") out["tool_choice"] = "required";
        else if (type == "none") out["tool_choice"] = "none";
        else if (type == "tool") out["tool_choice"] = {{"type", "function"}, {"function", {{"name", body["tool_choice"].value("name", "")}}}};
        else if (type != "auto") bad_request("tool_choice.type", "must be auto, any, tool or none");
        if (body["tool_choice"].value("disable_parallel_tool_use", false)) out["parallel_tool_calls"] = false;
    }
    if (body.contains("thinking") && body["thinking"].is_object())
        out["chat_template_kwargs"] = {{"enable_thinking", body["thinking"].value("type", "") == "enabled"}};
    return out;
}

namespace {

const char* stop_reason(const std::string& finish) {
    return finish == "length" ? "max_tokens" : finish == "tool_calls" ? "tool_use" : "end_turn";
}

class AnthropicAdapter : public ApiAdapter {
public:
    AnthropicAdapter(std::string model, int64_t input) : model_(std::move(model)), input_(input) { id_ = new_id("msg_"); }

    ojson final_body(const ojson& c) override {
        const ojson& ch = c["choices"][0];
        const ojson& m = ch["message"];
        ojson content = ojson::array();
        if (m.contains("reasoning_content")) content.push_back({{"type", "thinking"}, {"thinking", m["reasoning_content"]}, {"signature", ""}});
        if (m["content"].is_string() && !m["content"].get<std::string>().empty()) content.push_back({{"type", "text"}, {"text", m["content"]}});
        if (m.contains("tool_calls"))
            for (const auto& tc : m["tool_calls"]) {
                ojson input = ojson::object();
                try {
                    input = ojson::parse(tc["function"]["arguments"].get<std::string>());
                } catch (const std::exception&) {
                }
                content.push_back({{"type", "tool_use"}, {"id", tc["id"]}, {"name", tc["function"]["name"]}, {"input", input}});
            }
        return {{"id", id_}, {"type", "message"}, {"role", "assistant"}, {"model", model_}, {"content", content},
                {"stop_reason", stop_reason(ch["finish_reason"].get<std::string>())}, {"stop_sequence", nullptr},
                {"usage", {{"input_tokens", c["usage"]["prompt_tokens"]}, {"output_tokens", c["usage"]["completion_tokens"]}}}};
    }

    std::string chunk(const ojson& c) override {
        std::string out;
        if (c.contains("usage") && c["choices"].empty()) {
            output_ = c["usage"]["completion_tokens"].get<int64_t>();
            return finish_events();
        }
        const ojson& ch = c["choices"][0];
        const ojson& d = ch["delta"];
        if (!started_) {
            started_ = true;
            out += event("message_start", {{"type", "message_start"},
                                           {"message", {{"id", id_}, {"type", "message"}, {"role", "assistant"}, {"model", model_},
                                                        {"content", ojson::array()}, {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                                                        {"usage", {{"input_tokens", input_}, {"output_tokens", 0}}}}}});
        }
        if (d.contains("reasoning_content")) {
            out += open("thinking", {{"type", "thinking"}, {"thinking", ""}});
            out += event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_},
                                                 {"delta", {{"type", "thinking_delta"}, {"thinking", d["reasoning_content"]}}}});
        }
        if (d.contains("content") && d["content"].is_string() && !d["content"].get<std::string>().empty()) {
            out += open("text", {{"type", "text"}, {"text", ""}});
            out += event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_},
                                                 {"delta", {{"type", "text_delta"}, {"text", d["content"]}}}});
        }
        if (d.contains("tool_calls"))
            for (const auto& tc : d["tool_calls"]) {
                if (tc.contains("id")) {
                    out += close();
                    out += open("tool_use", {{"type", "tool_use"}, {"id", tc["id"]}, {"name", tc["function"]["name"]}, {"input", ojson::object()}}, true);
                } else if (tc.contains("function") && tc["function"].contains("arguments")) {
                    out += event("content_block_delta", {{"type", "content_block_delta"}, {"index", index_},
                                                         {"delta", {{"type", "input_json_delta"}, {"partial_json", tc["function"]["arguments"]}}}});
                }
            }
        if (!ch["finish_reason"].is_null()) finish_ = ch["finish_reason"].get<std::string>();
        return out;
    }

    std::string done() override { return {}; }
    bool wants_usage() const override { return true; }

private:
    std::string open(const std::string& kind, const ojson& block, bool force = false) {
        if (kind_ == kind && !force) return {};
        std::string out = close();
        kind_ = kind;
        ++index_;
        return out + event("content_block_start", {{"type", "content_block_start"}, {"index", index_}, {"content_block", block}});
    }
    std::string close() {
        if (kind_.empty()) return {};
        kind_.clear();
        return event("content_block_stop", {{"type", "content_block_stop"}, {"index", index_}});
    }
    std::string finish_events() {
        std::string out = close();
        out += event("message_delta", {{"type", "message_delta"},
                                       {"delta", {{"stop_reason", stop_reason(finish_)}, {"stop_sequence", nullptr}}},
                                       {"usage", {{"output_tokens", output_}}}});
        out += event("message_stop", {{"type", "message_stop"}});
        return out;
    }

    std::string model_, id_, kind_, finish_ = "stop";
    int64_t input_ = 0, output_ = 0;
    int index_ = -1;
    bool started_ = false;
};

}  // namespace

std::unique_ptr<ApiAdapter> make_anthropic_adapter(const std::string& model_id, int64_t input_tokens) {
    return std::make_unique<AnthropicAdapter>(model_id, input_tokens);
}

}  // namespace qlm::server
