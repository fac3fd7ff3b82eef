#include "server/openai.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "qlm/error.h"
#include "qlm/grammar.h"

namespace qlm::server {

ojson error_body(const HttpError& e) {
    ojson err = {{"message", e.message},
                 {"type", e.type},
                 {"param", e.param.empty() ? ojson(nullptr) : ojson(e.param)},
                 {"code", e.code.empty() ? ojson(nullptr) : ojson(e.code)}};
    return {{"error", err}};
}

void bad_request(const std::string& param, const std::string& message, const std::string& code) {
    HttpError e;
    e.status = 400;
    e.param = param;
    e.message = param.empty() ? message : "'" + param + "': " + message;
    e.code = code;
    throw e;
}

namespace {

double number(const ojson& body, const char* key, double lo, double hi, double def) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return def;
    if (!it->is_number()) bad_request(key, "must be a number");
    const double v = it->get<double>();
    if (!(v >= lo && v <= hi)) bad_request(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
}

int64_t integer(const ojson& body, const char* key, int64_t lo, int64_t hi, int64_t def) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return def;
    if (!it->is_number_integer()) bad_request(key, "must be an integer");
    if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        bad_request(key, "is too large");
    const int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) bad_request(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return v;
}

bool boolean(const ojson& body, const char* key, bool def) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) return def;
    if (!it->is_boolean()) bad_request(key, "must be a boolean");
    return it->get<bool>();
}

}  // namespace

Generation parse_generation(const ojson& body, int64_t n_vocab, bool chat) {
    if (!body.is_object()) bad_request("", "the request body must be a JSON object");
    Generation g;
    const int64_t big = int64_t(1) << 30;
    g.max_tokens = integer(body, "max_tokens", 0, big, -1);
    if (chat) g.max_tokens = integer(body, "max_completion_tokens", 0, big, g.max_tokens);
    if (!chat && g.max_tokens < 0) g.max_tokens = 16;  // OpenAI's completions default
    SamplerOptions& s = g.sampling;
    s.temp = float(number(body, "temperature", 0, 2, 1.0));
    s.top_p = float(number(body, "top_p", 0, 1, 1.0));
    if (s.top_p <= 0) bad_request("top_p", "must be > 0");
    s.top_k = int(integer(body, "top_k", 0, n_vocab, 0));
    s.min_p = float(number(body, "min_p", 0, 1, 0.0));
    s.frequency_penalty = float(number(body, "frequency_penalty", -2, 2, 0.0));
    s.presence_penalty = float(number(body, "presence_penalty", -2, 2, 0.0));
    s.repeat_penalty = float(number(body, "repeat_penalty", 0.01, 10, 1.0));
    s.repeat_last_n = 64;
    const auto seed = body.find("seed");
    if (seed != body.end() && !seed->is_null()) {
        if (!seed->is_number_integer()) bad_request("seed", "must be an integer");
        s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : uint64_t(seed->get<int64_t>());
        g.seeded = true;
    }
    g.n = int(integer(body, "n", 1, 16, 1));
    g.stream = boolean(body, "stream", false);
    const auto so = body.find("stream_options");
    if (so != body.end() && !so->is_null()) {
        if (!so->is_object()) bad_request("stream_options", "must be an object");
        g.include_usage = boolean(*so, "include_usage", false);
    }
    const auto stop = body.find("stop");
    if (stop != body.end() && !stop->is_null()) {
        if (stop->is_string()) {
            g.stop.push_back(stop->get<std::string>());
        } else if (stop->is_array()) {
            if (stop->size() > 4) bad_request("stop", "at most 4 stop sequences");
            for (const auto& v : *stop) {
                if (!v.is_string()) bad_request("stop", "must be a string or a list of strings");
                g.stop.push_back(v.get<std::string>());
            }
        } else {
            bad_request("stop", "must be a string or a list of strings");
        }
        for (const auto& t : g.stop)
            if (t.empty()) bad_request("stop", "stop sequences must not be empty");
    }
    if (chat) {
        g.logprobs = boolean(body, "logprobs", false);
        g.top_logprobs = int(integer(body, "top_logprobs", 0, 20, 0));
        if (g.top_logprobs > 0 && !g.logprobs) bad_request("top_logprobs", "needs 'logprobs': true");
    } else {
        const auto lp = body.find("logprobs");
        if (lp != body.end() && !lp->is_null()) {
            if (!lp->is_number_integer()) bad_request("logprobs", "must be an integer (0..5) for completions");
            g.top_logprobs = int(integer(body, "logprobs", 0, 5, 0));
            g.logprobs = true;
        }
    }
    const auto lb = body.find("logit_bias");
    if (lb != body.end() && !lb->is_null()) {
        if (!lb->is_object()) bad_request("logit_bias", "must be an object of token id -> bias");
        for (const auto& [k, v] : lb->items()) {
            int64_t id = -1;
            try {
                size_t used = 0;
                id = std::stoll(k, &used);
                if (used != k.size()) id = -1;
            } catch (const std::exception&) {
                id = -1;
            }
            if (id < 0 || id >= n_vocab) bad_request("logit_bias", "'" + k + "' is not a token id of this model");
            if (!v.is_number() || !(std::fabs(v.get<double>()) <= 100)) bad_request("logit_bias", "biases must be numbers in [-100, 100]");
            g.logit_bias.push_back({int32_t(id), float(v.get<double>())});
        }
    }
    parse_structured_output(body, g);
    const auto user = body.find("user");
    if (user != body.end() && !user->is_null() && !user->is_string()) bad_request("user", "must be a string");
    return g;
}

namespace {

std::string schema_grammar(const ojson& schema, const std::string& param) {
    try {
        return json_schema_to_gbnf(schema);
    } catch (const GrammarError& e) {
        bad_request(param, e.what(),
                    e.kind() == GrammarError::Kind::UnsupportedSchema ? "unsupported_schema_keyword" : "invalid_schema");
    }
}

}  // namespace

void parse_structured_output(const ojson& body, Generation& g) {
    const auto gr = body.find("grammar");
    if (gr != body.end() && !gr->is_null()) {
        if (!gr->is_string() || gr->get<std::string>().empty()) bad_request("grammar", "must be a GBNF grammar (a string)");
        g.grammar = gr->get<std::string>();
        g.grammar_param = "grammar";
    }
    const auto js = body.find("json_schema");  // llama.cpp's field
    if (js != body.end() && !js->is_null()) {
        if (!g.grammar.empty()) bad_request("json_schema", "give either 'grammar' or a schema, not both");
        g.grammar = schema_grammar(*js, "json_schema");
        g.grammar_param = "json_schema";
    }
    const auto rf = body.find("response_format");
    if (rf == body.end() || rf->is_null()) return;
    if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string())
        bad_request("response_format", "must be an object with a 'type'");
    const std::string type = (*rf)["type"].get<std::string>();
    if (type == "text") return;
    if (!g.grammar.empty()) bad_request("response_format", "give either 'grammar' or 'response_format', not both");
    if (type == "json_object") {
        if (rf->contains("schema")) {  // llama.cpp accepts a schema here too
            g.grammar = schema_grammar((*rf)["schema"], "response_format.schema");
        } else {
            g.grammar = json_object_gbnf();
        }
    } else if (type == "json_schema") {
        const auto j = rf->find("json_schema");
        if (j == rf->end() || !j->is_object()) bad_request("response_format.json_schema", "must be an object with a 'schema'");
        if (j->contains("name") && !(*j)["name"].is_string()) bad_request("response_format.json_schema.name", "must be a string");
        if (j->contains("strict") && !(*j)["strict"].is_null() && !(*j)["strict"].is_boolean())
            bad_request("response_format.json_schema.strict", "must be a boolean");
        const auto sc = j->find("schema");
        g.grammar = schema_grammar(sc == j->end() || sc->is_null() ? ojson::object() : *sc,
                                   "response_format.json_schema.schema");
    } else {
        bad_request("response_format.type", "'" + type + "' is not one of text, json_object, json_schema");
    }
    g.grammar_param = "response_format";
}

std::vector<std::vector<int32_t>> parse_prompts(const ojson& body, const Tokenizer& tok) {
    const auto it = body.find("prompt");
    if (it == body.end() || it->is_null()) bad_request("prompt", "is required");
    const ojson& p = *it;
    auto ids_of = [&](const ojson& arr) {
        std::vector<int32_t> ids;
        for (const auto& v : arr) {
            if (!v.is_number_integer()) bad_request("prompt", "a token list must hold integers");
            const int64_t id = v.get<int64_t>();
            if (id < 0 || id >= tok.n_vocab()) bad_request("prompt", "token id " + std::to_string(id) + " is outside the vocabulary");
            ids.push_back(int32_t(id));
        }
        if (ids.empty()) bad_request("prompt", "a token list must not be empty");
        return ids;
    };
    auto text_of = [&](const std::string& s) {
        std::vector<int32_t> ids = tok.encode(s, true, true);
        if (ids.empty()) bad_request("prompt", "the prompt is empty");
        return ids;
    };
    std::vector<std::vector<int32_t>> out;
    if (p.is_string()) {
        out.push_back(text_of(p.get<std::string>()));
    } else if (p.is_array()) {
        if (p.empty()) bad_request("prompt", "must not be an empty list");
        if (p[0].is_number()) {
            out.push_back(ids_of(p));
        } else {
            if (p.size() > 16) bad_request("prompt", "at most 16 prompts per request");
            for (const auto& e : p) {
                if (e.is_string())
                    out.push_back(text_of(e.get<std::string>()));
                else if (e.is_array())
                    out.push_back(ids_of(e));
                else
                    bad_request("prompt", "must be a string, a list of strings or a list of token ids");
            }
        }
    } else {
        bad_request("prompt", "must be a string, a list of strings or a list of token ids");
    }
    return out;
}

ojson parse_messages(const ojson& body) {
    const auto it = body.find("messages");
    if (it == body.end() || it->is_null()) bad_request("messages", "is required");
    if (!it->is_array() || it->empty()) bad_request("messages", "must be a non-empty list of messages");
    ojson out = ojson::array();
    std::vector<std::string> call_ids;
    for (size_t i = 0; i < it->size(); ++i) {
        const ojson& m = (*it)[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) bad_request(where, "must be an object");
        const auto role = m.find("role");
        if (role == m.end() || !role->is_string()) bad_request(where + ".role", "must be a string");
        const std::string r = role->get<std::string>();
        if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer")
            bad_request(where + ".role", "'" + r + "' is not one of system, developer, user, assistant, tool");
        ojson msg = m;
        const auto content = m.find("content");
        if (content == m.end() || content->is_null()) {
            if (r != "assistant") bad_request(where + ".content", "is required");
            msg["content"] = "";
        } else if (content->is_array()) {
            std::string text;
            for (const auto& part : *content) {
                const bool text_part = part.is_object() && part.contains("type") && part["type"].is_string() &&
                                       part["type"].get<std::string>() == "text" && part.contains("text") &&
                                       part["text"].is_string();
                if (!text_part)
                    bad_request(where + ".content", "only text parts ({\"type\": \"text\", \"text\": ...}) are supported");
                text += part["text"].get<std::string>();
            }
            msg["content"] = text;
        } else if (!content->is_string()) {
            bad_request(where + ".content", "must be a string or a list of text parts");
        }
        if (r == "assistant" && m.contains("tool_calls") && !m["tool_calls"].is_null()) {
            const ojson& calls = m["tool_calls"];
            if (!calls.is_array()) bad_request(where + ".tool_calls", "must be a list");
            ojson fixed = ojson::array();
            for (size_t k = 0; k < calls.size(); ++k) {
                const std::string cw = where + ".tool_calls[" + std::to_string(k) + "]";
                ojson c = calls[k];
                if (!c.is_object() || !c.contains("function") || !c["function"].is_object() ||
                    !c["function"].contains("name") || !c["function"]["name"].is_string())
                    bad_request(cw, "must be {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}");
                if (c.contains("id") && c["id"].is_string()) call_ids.push_back(c["id"].get<std::string>());
                // templates expect the arguments as an object (they print it with tojson)
                ojson& args = c["function"]["arguments"];
                if (args.is_string()) {
                    try {
                        args = ojson::parse(args.get<std::string>());
                    } catch (const std::exception&) {
                        bad_request(cw + ".function.arguments", "must be JSON (an object, as a string)");
                    }
                } else if (args.is_null()) {
                    args = ojson::object();
                }
                fixed.push_back(std::move(c));
            }
            msg["tool_calls"] = std::move(fixed);
        }
        if (r == "tool") {
            const auto id = m.find("tool_call_id");
            if (id != m.end() && !id->is_null()) {
                if (!id->is_string()) bad_request(where + ".tool_call_id", "must be a string");
                if (std::find(call_ids.begin(), call_ids.end(), id->get<std::string>()) == call_ids.end())
                    bad_request(where + ".tool_call_id", "'" + id->get<std::string>() + "' matches no earlier tool call");
            }
        }
        out.push_back(std::move(msg));
    }
    return out;
}

size_t stop_safe_prefix(const std::string& text, const std::vector<std::string>& stops, size_t& hit) {
    hit = std::string::npos;
    for (const auto& s : stops) {
        const size_t p = text.find(s);
        if (p != std::string::npos && p < hit) hit = p;
    }
    if (hit != std::string::npos) return hit;
    // hold back a tail that is a prefix of some stop sequence
    size_t safe = text.size();
    for (const auto& s : stops)
        for (size_t k = std::min(s.size() - 1, text.size()); k > 0; --k)
            if (text.compare(text.size() - k, k, s, 0, k) == 0) {
                safe = std::min(safe, text.size() - k);
                break;
            }
    return safe;
}

}  // namespace qlm::server
