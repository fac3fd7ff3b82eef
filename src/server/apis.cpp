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

// ---------------------------------------------------------------- Responses

namespace qlm::server {

void ResponseStore::put(const std::string& id, ojson messages) {
    std::lock_guard lk(mu);
    if (!items.count(id)) order.push_back(id);
    items[id] = std::move(messages);
    while (order.size() > capacity) {
        items.erase(order.front());
        order.pop_front();
    }
}

bool ResponseStore::get(const std::string& id, ojson& messages) {
    std::lock_guard lk(mu);
    const auto it = items.find(id);
    if (it == items.end()) return false;
    messages = it->second;
    return true;
}

namespace {

std::string content_text(const ojson& c, const std::string& where) {
    if (c.is_string()) return c.get<std::string>();
    if (!c.is_array()) bad_request(where, "must be a string or a list of parts");
    std::string out;
    for (const auto& p : c) {
        const std::string t = p.is_object() ? p.value("type", "") : "";
        if ((t == "input_text" || t == "output_text" || t == "text") && p.contains("text") && p["text"].is_string())
            out += p["text"].get<std::string>();
        else
            bad_request(where, "only text parts (input_text, output_text) are supported");
    }
    return out;
}

}  // namespace

ojson responses_to_chat(const ojson& body, ResponseStore& store) {
    if (!body.is_object()) bad_request("", "the request body must be a JSON object");
    ojson msgs = ojson::array();
    if (body.contains("previous_response_id") && !body["previous_response_id"].is_null()) {
        if (!body["previous_response_id"].is_string() || !store.get(body["previous_response_id"].get<std::string>(), msgs))
            bad_request("previous_response_id", "is not a response this server keeps", "previous_response_not_found");
    }
    if (body.contains("instructions") && body["instructions"].is_string()) {
        if (!msgs.empty() && msgs[0].value("role", "") == "system") msgs.erase(0);
        msgs.insert(msgs.begin(), ojson{{"role", "system"}, {"content", body["instructions"]}});
    }
    if (!body.contains("input")) bad_request("input", "is required");
    const ojson& in = body["input"];
    if (in.is_string()) {
        msgs.push_back({{"role", "user"}, {"content", in}});
    } else if (in.is_array()) {
        for (size_t i = 0; i < in.size(); ++i) {
            const ojson& it = in[i];
            const std::string where = "input[" + std::to_string(i) + "]";
            if (!it.is_object()) bad_request(where, "must be an object");
            const std::string type = it.value("type", "message");
            if (type == "message") {
                const std::string role = it.value("role", "");
                if (role != "user" && role != "assistant" && role != "system" && role != "developer")
                    bad_request(where + ".role", "must be user, assistant, system or developer");
                msgs.push_back({{"role", role == "developer" ? "system" : role},
                                {"content", content_text(it.value("content", ojson("")), where + ".content")}});
            } else if (type == "function_call") {
                if (!it.contains("call_id") || !it.contains("name")) bad_request(where, "a function_call needs call_id and name");
                const ojson call = {{"id", it["call_id"]}, {"type", "function"},
                                    {"function", {{"name", it["name"]}, {"arguments", it.value("arguments", "{}")}}}};
                if (!msgs.empty() && msgs.back().value("role", "") == "assistant" && msgs.back().contains("tool_calls"))
                    msgs.back()["tool_calls"].push_back(call);
                else
                    msgs.push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", ojson::array({call})}});
            } else if (type == "function_call_output") {
                if (!it.contains("call_id")) bad_request(where + ".call_id", "is required");
                const ojson& o = it.value("output", ojson(""));
                msgs.push_back({{"role", "tool"}, {"tool_call_id", it["call_id"]},
                                {"content", o.is_string() ? o.get<std::string>() : o.dump()}});
            } else if (type == "reasoning") {
                continue;
            } else {
                bad_request(where + ".type", "'" + type + "' is not supported (message, function_call, function_call_output)");
            }
        }
    } else {
        bad_request("input", "must be a string or a list of items");
    }
    ojson out = {{"messages", msgs}};
    if (body.contains("max_output_tokens") && !body["max_output_tokens"].is_null()) out["max_tokens"] = body["max_output_tokens"];
    for (const char* k : {"temperature", "top_p", "stream", "parallel_tool_calls"})
        if (body.contains(k) && !body[k].is_null()) out[k] = body[k];
    if (body.contains("tools") && body["tools"].is_array()) {
        ojson tools = ojson::array();
        for (size_t i = 0; i < body["tools"].size(); ++i) {
            const ojson& t = body["tools"][i];
            if (!t.is_object() || t.value("type", "") != "function")
                bad_request("tools[" + std::to_string(i) + "].type", "only function tools are supported");
            tools.push_back({{"type", "function"},
                             {"function", {{"name", t.value("name", "")}, {"description", t.value("description", "")},
                                           {"parameters", t.value("parameters", ojson{{"type", "object"}})}}}});
        }
        out["tools"] = tools;
    }
    if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
        const ojson& tc = body["tool_choice"];
        if (tc.is_object() && tc.value("type", "") == "function")
            out["tool_choice"] = {{"type", "function"}, {"function", {{"name", tc.value("name", "")}}}};
        else
            out["tool_choice"] = tc;
    }
    if (body.contains("text") && body["text"].is_object() && body["text"].contains("format")) {
        const ojson& f = body["text"]["format"];
        const std::string type = f.is_object() ? f.value("type", "text") : "text";
        if (type == "json_schema")
            out["response_format"] = {{"type", "json_schema"},
                                      {"json_schema", {{"name", f.value("name", "schema")}, {"schema", f.value("schema", ojson::object())},
                                                       {"strict", f.value("strict", false)}}}};
        else if (type == "json_object")
            out["response_format"] = {{"type", "json_object"}};
        else if (type != "text")
            bad_request("text.format.type", "must be text, json_object or json_schema");
    }
    if (body.contains("reasoning") && body["reasoning"].is_object() && body["reasoning"].contains("effort"))
        out["reasoning_effort"] = body["reasoning"]["effort"];
    return out;
}

namespace {

class ResponsesAdapter : public ApiAdapter {
public:
    ResponsesAdapter(std::string model, int64_t created, ojson messages, ResponseStore& store)
        : model_(std::move(model)), created_(created), messages_(std::move(messages)), store_(store) {
        id_ = new_id("resp_");
    }

    ojson final_body(const ojson& c) override {
        const ojson& ch = c["choices"][0];
        const ojson& m = ch["message"];
        ojson output = ojson::array();
        if (m.contains("reasoning_content")) output.push_back(reasoning_item(m["reasoning_content"].get<std::string>()));
        if (m["content"].is_string() && !m["content"].get<std::string>().empty())
            output.push_back(message_item(m["content"].get<std::string>()));
        if (m.contains("tool_calls"))
            for (const auto& tc : m["tool_calls"])
                output.push_back(call_item(tc["id"].get<std::string>(), tc["function"]["name"].get<std::string>(),
                                           tc["function"]["arguments"].get<std::string>()));
        remember(m);
        return response("completed", ch["finish_reason"] == "length", output, c["usage"]);
    }

    std::string chunk(const ojson& c) override {
        std::string out;
        if (!started_) {
            started_ = true;
            out += ev("response.created", {{"response", response("in_progress", false, ojson::array(), nullptr)}});
            out += ev("response.in_progress", {{"response", response("in_progress", false, ojson::array(), nullptr)}});
        }
        if (c.contains("usage") && c["choices"].empty()) {
            out += close();
            ojson msg = {{"role", "assistant"}, {"content", text_}};
            if (!calls_.empty()) {
                ojson tcs = ojson::array();
                for (const auto& f : calls_)
                    tcs.push_back({{"id", f["call_id"]}, {"type", "function"}, {"function", {{"name", f["name"]}, {"arguments", f["arguments"]}}}});
                msg["tool_calls"] = tcs;
            }
            remember(msg);
            out += ev("response.completed", {{"response", response("completed", finish_ == "length", done_items_, c["usage"])}});
            return out;
        }
        const ojson& ch = c["choices"][0];
        const ojson& d = ch["delta"];
        if (d.contains("content") && d["content"].is_string() && !d["content"].get<std::string>().empty()) {
            if (kind_ != "message") {
                out += close();
                kind_ = "message";
                item_id_ = new_id("msg_");
                ojson item = message_item("");
                item["id"] = item_id_;
                item["status"] = "in_progress";
                item["content"] = ojson::array();
                out += ev("response.output_item.added", {{"output_index", index()}, {"item", item}});
                out += ev("response.content_part.added", {{"item_id", item_id_}, {"output_index", index()}, {"content_index", 0},
                                                          {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", ojson::array()}}}});
            }
            text_ += d["content"].get<std::string>();
            cur_text_ += d["content"].get<std::string>();
            out += ev("response.output_text.delta", {{"item_id", item_id_}, {"output_index", index()}, {"content_index", 0},
                                                     {"delta", d["content"]}, {"logprobs", ojson::array()}});
        }
        if (d.contains("tool_calls"))
            for (const auto& tc : d["tool_calls"]) {
                if (tc.contains("id")) {
                    out += close();
                    kind_ = "call";
                    item_id_ = new_id("fc_");
                    ojson item = call_item(tc["id"].get<std::string>(), tc["function"]["name"].get<std::string>(), "");
                    item["id"] = item_id_;
                    item["status"] = "in_progress";
                    cur_call_ = item;
                    out += ev("response.output_item.added", {{"output_index", index()}, {"item", item}});
                } else if (kind_ == "call" && tc.contains("function") && tc["function"].contains("arguments")) {
                    const std::string a = tc["function"]["arguments"].get<std::string>();
                    cur_call_["arguments"] = cur_call_["arguments"].get<std::string>() + a;
                    out += ev("response.function_call_arguments.delta", {{"item_id", item_id_}, {"output_index", index()}, {"delta", a}});
                }
            }
        if (!ch["finish_reason"].is_null()) finish_ = ch["finish_reason"].get<std::string>();
        return out;
    }

    std::string done() override { return {}; }
    bool wants_usage() const override { return true; }

private:
    int index() const { return int(done_items_.size()); }
    std::string close() {
        std::string out;
        if (kind_ == "message") {
            ojson item = message_item(cur_text_);
            item["id"] = item_id_;
            out += ev("response.output_text.done", {{"item_id", item_id_}, {"output_index", index()}, {"content_index", 0},
                                                    {"text", cur_text_}, {"logprobs", ojson::array()}});
            out += ev("response.content_part.done", {{"item_id", item_id_}, {"output_index", index()}, {"content_index", 0},
                                                     {"part", item["content"][0]}});
            out += ev("response.output_item.done", {{"output_index", index()}, {"item", item}});
            done_items_.push_back(item);
            cur_text_.clear();
        } else if (kind_ == "call") {
            cur_call_["status"] = "completed";
            out += ev("response.function_call_arguments.done", {{"item_id", item_id_}, {"output_index", index()},
                                                                {"arguments", cur_call_["arguments"]}});
            out += ev("response.output_item.done", {{"output_index", index()}, {"item", cur_call_}});
            calls_.push_back(cur_call_);
            done_items_.push_back(cur_call_);
        }
        kind_.clear();
        return out;
    }
    std::string ev(const std::string& type, ojson data) {
        ojson e = {{"type", type}, {"sequence_number", seq_++}};
        for (auto& [k, v] : data.items()) e[k] = v;
        return event(type, e);
    }
    static ojson message_item(const std::string& text) {
        return {{"type", "message"}, {"id", new_id("msg_")}, {"status", "completed"}, {"role", "assistant"},
                {"content", ojson::array({{{"type", "output_text"}, {"text", text}, {"annotations", ojson::array()}}})}};
    }
    static ojson reasoning_item(const std::string& text) {
        return {{"type", "reasoning"}, {"id", new_id("rs_")}, {"summary", ojson::array()},
                {"content", ojson::array({{{"type", "reasoning_text"}, {"text", text}}})}};
    }
    static ojson call_item(const std::string& call_id, const std::string& name, const std::string& args) {
        return {{"type", "function_call"}, {"id", new_id("fc_")}, {"call_id", call_id}, {"name", name},
                {"arguments", args}, {"status", "completed"}};
    }
    ojson response(const char* status, bool cut, const ojson& output, const ojson& usage) const {
        ojson u = nullptr;
        if (usage.is_object())
            u = {{"input_tokens", usage["prompt_tokens"]}, {"input_tokens_details", {{"cached_tokens", 0}}},
                 {"output_tokens", usage["completion_tokens"]}, {"output_tokens_details", {{"reasoning_tokens", 0}}},
                 {"total_tokens", usage["total_tokens"]}};
        return {{"id", id_}, {"object", "response"}, {"created_at", created_}, {"status", cut ? "incomplete" : status},
                {"incomplete_details", cut ? ojson{{"reason", "max_output_tokens"}} : ojson(nullptr)}, {"error", nullptr},
                {"model", model_}, {"output", output}, {"parallel_tool_calls", true}, {"tool_choice", "auto"},
                {"tools", ojson::array()}, {"usage", u}, {"metadata", ojson::object()}};
    }
    void remember(const ojson& assistant) {
        ojson all = messages_;
        ojson a = assistant;
        a.erase("reasoning_content");
        all.push_back(a);
        store_.put(id_, all);
    }

    std::string model_, id_, kind_, item_id_, text_, cur_text_, finish_ = "stop";
    int64_t created_;
    ojson messages_;
    ResponseStore& store_;
    ojson done_items_ = ojson::array(), calls_ = ojson::array(), cur_call_;
    int64_t seq_ = 0;
    bool started_ = false;
};

}  // namespace

std::unique_ptr<ApiAdapter> make_responses_adapter(const std::string& model_id, int64_t created, ojson request_messages,
                                                   ResponseStore& store) {
    return std::make_unique<ResponsesAdapter>(model_id, created, std::move(request_messages), store);
}

}  // namespace qlm::server
