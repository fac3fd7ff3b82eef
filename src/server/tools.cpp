// Tool-call formats, their grammar and the streaming parser (tools.h).
#include "server/tools.h"

#include <cstring>
#include <map>
#include <regex>
#include <sstream>

#include "qlm/grammar.h"

namespace qlm::server {

ToolFormat detect_tool_format(const std::string& src) {
    auto has = [&](const char* s) { return src.find(s) != std::string::npos; };
    if (has("<|channel|>") && has("functions")) return ToolFormat::Harmony;
    if (has("<function=") && has("<parameter=")) return ToolFormat::QwenXml;
    if (has("<tool_call>")) return ToolFormat::Hermes;
    if (has("[TOOL_CALLS]")) return ToolFormat::Mistral;
    if (has("<|python_tag|>") || (has("<|start_header_id|>") && has("\"parameters\""))) return ToolFormat::Llama3;
    if (has("tools")) return ToolFormat::Generic;
    return ToolFormat::None;
}

const char* tool_format_name(ToolFormat f) {
    switch (f) {
        case ToolFormat::None: return "none";
        case ToolFormat::Hermes: return "hermes (<tool_call>{json}</tool_call>)";
        case ToolFormat::QwenXml: return "qwen3-coder xml (<function=...><parameter=...>)";
        case ToolFormat::Llama3: return "llama 3.x json (<|python_tag|>)";
        case ToolFormat::Mistral: return "mistral ([TOOL_CALLS])";
        case ToolFormat::Harmony: return "harmony (to=functions.NAME)";
        case ToolFormat::Generic: return "generic json ({\"tool_calls\": [...]})";
    }
    return "?";
}

ToolRequest parse_tools(const ojson& body) {
    ToolRequest t;
    const auto tools = body.find("tools");
    if (tools == body.end() || tools->is_null()) {
        if (body.contains("tool_choice") && body["tool_choice"].is_object())
            bad_request("tool_choice", "names a function but the request has no 'tools'");
        return t;
    }
    if (!tools->is_array()) bad_request("tools", "must be a list of tools");
    for (size_t i = 0; i < tools->size(); ++i) {
        const ojson& x = (*tools)[i];
        const std::string where = "tools[" + std::to_string(i) + "]";
        if (!x.is_object() || !x.contains("type") || x["type"] != "function")
            bad_request(where + ".type", "must be \"function\"");
        if (!x.contains("function") || !x["function"].is_object()) bad_request(where + ".function", "must be an object");
        const ojson& fn = x["function"];
        if (!fn.contains("name") || !fn["name"].is_string() || fn["name"].get<std::string>().empty())
            bad_request(where + ".function.name", "must be a non-empty string");
        const std::string name = fn["name"].get<std::string>();
        for (char c : name)
            if (!std::isalnum(uint8_t(c)) && c != '_' && c != '-' && c != '.')
                bad_request(where + ".function.name", "'" + name + "' may hold only letters, digits, _ - and .");
        for (const ToolSpec& s : t.tools)
            if (s.name == name) bad_request(where + ".function.name", "'" + name + "' is given twice");
        ToolSpec s;
        s.name = name;
        s.parameters = fn.contains("parameters") && !fn["parameters"].is_null() ? fn["parameters"]
                                                                                  : ojson{{"type", "object"}};
        if (!s.parameters.is_object()) bad_request(where + ".function.parameters", "must be a JSON schema object");
        t.tools.push_back(std::move(s));
    }
    const auto ch = body.find("tool_choice");
    if (ch != body.end() && !ch->is_null()) {
        if (ch->is_string()) {
            t.choice = ch->get<std::string>();
            if (t.choice != "auto" && t.choice != "none" && t.choice != "required")
                bad_request("tool_choice", "must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}");
        } else if (ch->is_object() && ch->contains("function") && (*ch)["function"].is_object() &&
                   (*ch)["function"].contains("name") && (*ch)["function"]["name"].is_string()) {
            t.choice = (*ch)["function"]["name"].get<std::string>();
            bool found = false;
            for (const ToolSpec& s : t.tools) found = found || s.name == t.choice;
            if (!found) bad_request("tool_choice", "names '" + t.choice + "', which is not among the tools");
        } else {
            bad_request("tool_choice", "must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}");
        }
    }
    const auto par = body.find("parallel_tool_calls");
    if (par != body.end() && !par->is_null()) {
        if (!par->is_boolean()) bad_request("parallel_tool_calls", "must be a boolean");
        t.parallel = par->get<bool>();
    }
    return t;
}

namespace {

// "name ::= body" lines into a map (the primitives repeat between tools: kept once)
void merge_rules(const std::string& gbnf, std::map<std::string, std::string>& rules) {
    std::istringstream in(gbnf);
    std::string line;
    while (std::getline(in, line)) {
        const size_t p = line.find(" ::= ");
        if (p == std::string::npos) continue;
        rules.emplace(line.substr(0, p), line.substr(p + 5));
    }
}

}  // namespace

std::string tool_call_grammar(ToolFormat f, const ToolRequest& t, std::vector<std::string>& triggers) {
    if (f != ToolFormat::Hermes) return {};
    std::map<std::string, std::string> rules;
    std::vector<std::string> alts;
    for (size_t i = 0; i < t.tools.size(); ++i) {
        const ToolSpec& s = t.tools[i];
        if (t.choice != "auto" && t.choice != "required" && t.choice != s.name) continue;
        const std::string prefix = "tool" + std::to_string(i) + "-";
        try {
            merge_rules(json_schema_to_gbnf(s.parameters, prefix), rules);
        } catch (const GrammarError& e) {
            bad_request("tools[" + std::to_string(i) + "].function.parameters", e.what(),
                        e.kind() == GrammarError::Kind::UnsupportedSchema ? "unsupported_schema_keyword" : "invalid_schema");
        }
        const std::string lit = ojson(s.name).dump();
        std::string esc;
        for (char c : lit) esc += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
        alts.push_back("\"" + esc + "\" tc-ws \",\" tc-ws \"\\\"arguments\\\"\" tc-ws \":\" tc-ws " + prefix + "root");
    }
    std::string call_alts;
    for (const std::string& a : alts) call_alts += (call_alts.empty() ? "" : " | ") + a;
    rules["tc-ws"] = "[ \\n]{0,3}";
    rules["tc-call"] = "\"<tool_call>\" tc-ws \"{\" tc-ws \"\\\"name\\\"\" tc-ws \":\" tc-ws (" + call_alts +
                       ") tc-ws \"}\" tc-ws \"</tool_call>\"";
    rules["root"] = t.parallel ? "tc-call (tc-ws tc-call)*" : "tc-call";
    std::string out;
    for (const auto& [k, v] : rules) out += k + " ::= " + v + "\n";
    triggers = {"<tool_call>"};
    return out;
}

ToolCallParser::ToolCallParser(ToolFormat f, std::vector<std::string> known, std::string id_prefix)
    : f_(f), known_(std::move(known)), prefix_(std::move(id_prefix)) {
    switch (f) {
        case ToolFormat::Hermes: case ToolFormat::QwenXml: starts_ = {"<tool_call>"}, end_ = "</tool_call>"; break;
        case ToolFormat::Mistral: starts_ = {"[TOOL_CALLS]"}; break;
        case ToolFormat::Llama3: starts_ = {"<|python_tag|>"}; break;
        case ToolFormat::Harmony: starts_ = {"to=functions."}, end_ = "<|call|>"; break;
        default: break;
    }
}

namespace {

std::string trim(const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) return {};
    const size_t b = s.find_last_not_of(" \t\r\n");
    return s.substr(a, b - a + 1);
}

// Length of the longest suffix of `text` that is a proper prefix of one of `marks`.
size_t partial_suffix(const std::string& text, const std::vector<std::string>& marks) {
    size_t best = 0;
    for (const std::string& m : marks)
        for (size_t k = std::min(m.size() - 1, text.size()); k > best; --k)
            if (text.compare(text.size() - k, k, m, 0, k) == 0) {
                best = k;
                break;
            }
    return best;
}

bool parse_json(const std::string& s, ojson& out) {
    try {
        out = ojson::parse(s);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

const std::regex& hermes_header() {
    static const std::regex re(R"re(^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*)re");
    return re;
}

}  // namespace

void ToolCallParser::add_call(std::string name, std::string args, std::vector<ToolDelta>& deltas) {
    ToolCall c;
    c.id = prefix_ + std::to_string(calls_.size());
    c.name = std::move(name);
    c.arguments = std::move(args);
    ToolDelta d;
    d.index = int(calls_.size());
    d.first = true;
    d.id = c.id;
    d.name = c.name;
    deltas.push_back(d);
    ToolDelta a;
    a.index = d.index;
    a.arguments = c.arguments;
    deltas.push_back(a);
    calls_.push_back(std::move(c));
}

// The call being generated: its name as soon as it is known, then its
// arguments as they come, holding back what may be the wrapper's closing
// brace or the start of the end marker.
void ToolCallParser::stream_hermes(std::vector<ToolDelta>& deltas) {
    if (!header_sent_) {
        std::smatch m;
        if (!std::regex_search(buf_, m, hermes_header())) return;
        // decide where the arguments start only once a character follows the white space
        if (size_t(m.length(0)) >= buf_.size()) return;
        ojson name;
        if (!parse_json("\"" + m[1].str() + "\"", name)) return;
        ToolCall c;
        c.id = prefix_ + std::to_string(calls_.size());
        c.name = name.get<std::string>();
        ToolDelta d;
        d.index = int(calls_.size());
        d.first = true;
        d.id = c.id;
        d.name = c.name;
        deltas.push_back(d);
        calls_.push_back(std::move(c));
        header_sent_ = true;
        args_begin_ = size_t(m.length(0));
        args_sent_ = 0;
    }
    std::string avail = buf_.substr(args_begin_);
    avail.resize(avail.size() - partial_suffix(avail, {end_}));
    const size_t keep = avail.find_last_not_of("} \t\r\n");
    const size_t safe = keep == std::string::npos ? 0 : keep + 1;
    if (safe > args_sent_) {
        ToolDelta a;
        a.index = int(calls_.size()) - 1;
        a.arguments = avail.substr(args_sent_, safe - args_sent_);
        calls_.back().arguments += a.arguments;
        deltas.push_back(a);
        args_sent_ = safe;
    }
}

void ToolCallParser::parse_block(const std::string& body, std::vector<ToolDelta>& deltas) {
    if (f_ == ToolFormat::Hermes) {
        ojson j;
        if (header_sent_) {
            // the wrapper's closing brace ends the arguments
            std::string rest = trim(body.substr(std::min(args_begin_, body.size())));
            if (!rest.empty() && rest.back() == '}') rest.pop_back();
            rest = trim(rest);
            ToolCall& c = calls_.back();
            if (rest.compare(0, args_sent_, c.arguments) == 0 && rest.size() >= args_sent_) {
                ToolDelta a;
                a.index = int(calls_.size()) - 1;
                a.arguments = rest.substr(args_sent_);
                c.arguments = rest;
                if (!a.arguments.empty()) deltas.push_back(a);
            }
            if (!parse_json(c.arguments, j) || !j.is_object()) {
                // not JSON after all: keep what parses of the whole block
                ojson whole;
                if (parse_json(body, whole) && whole.is_object() && whole.contains("arguments"))
                    c.arguments = whole["arguments"].dump();
            }
            header_sent_ = false;
            return;
        }
        if (parse_json(body, j) && j.is_object() && j.contains("name") && j["name"].is_string()) {
            const ojson args = j.contains("arguments") ? j["arguments"] : j.value("parameters", ojson::object());
            add_call(j["name"].get<std::string>(), args.is_string() ? args.get<std::string>() : args.dump(), deltas);
        }
        return;
    }
    if (f_ == ToolFormat::QwenXml) {
        static const std::regex fn(R"re(<function=([^>\s]+)>([\s\S]*?)</function>)re");
        static const std::regex par(R"re(<parameter=([^>\s]+)>\n?([\s\S]*?)\n?</parameter>)re");
        for (std::sregex_iterator it(body.begin(), body.end(), fn), e; it != e; ++it) {
            ojson args = ojson::object();
            const std::string inner = (*it)[2].str();
            for (std::sregex_iterator p(inner.begin(), inner.end(), par); p != e; ++p) {
                ojson v;
                const std::string raw = (*p)[2].str();
                args[(*p)[1].str()] = parse_json(raw, v) ? v : ojson(raw);
            }
            add_call((*it)[1].str(), args.dump(), deltas);
        }
        return;
    }
    if (f_ == ToolFormat::Harmony) {
        const size_t sp = body.find_first_of(" <");
        const std::string name = trim(body.substr(0, sp));
        const size_t m = body.find("<|message|>");
        ojson args;
        if (m != std::string::npos && parse_json(body.substr(m + 11), args)) add_call(name, args.dump(), deltas);
        return;
    }
    // Mistral, Llama 3.x, generic: JSON (an object or a list of objects)
    std::string b = trim(body);
    if (f_ == ToolFormat::Mistral) {  // [TOOL_CALLS]name[ARGS]{...} (newer) or [TOOL_CALLS][{...}]
        const size_t a = b.find("[ARGS]");
        ojson args;
        if (a != std::string::npos && parse_json(b.substr(a + 6), args)) return add_call(trim(b.substr(0, a)), args.dump(), deltas);
    }
    ojson j;
    if (!parse_json(b, j)) {
        // Llama 3.x may separate several calls with ';'
        std::vector<ojson> parts;
        std::stringstream ss(b);
        std::string piece;
        while (std::getline(ss, piece, ';')) {
            ojson x;
            if (!parse_json(piece, x)) return;
            parts.push_back(x);
        }
        j = parts;
    }
    if (j.is_object() && j.contains("tool_calls")) j = j["tool_calls"];
    else if (j.is_object() && j.contains("tool_call")) j = ojson::array({j["tool_call"]});
    if (j.is_object()) j = ojson::array({j});
    if (!j.is_array()) return;
    for (const auto& c : j) {
        if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) continue;
        const ojson args = c.contains("arguments") ? c["arguments"] : c.value("parameters", ojson::object());
        add_call(c["name"].get<std::string>(), args.is_string() ? args.get<std::string>() : args.dump(), deltas);
    }
}

// Harmony: message headers (<|start|>ROLE<|channel|>NAME ...<|message|>)
// and <|end|> are markup, not content; a header that addresses functions
// starts a call. Returns true when it has to wait for more text.
bool ToolCallParser::harmony_content(bool final, std::string& content) {
    for (;;) {
        for (const char* tok : {"<|end|>", "<|return|>"})
            for (size_t p; (p = buf_.find(tok)) != std::string::npos;) buf_.erase(p, std::strlen(tok));
        const size_t h = std::min(buf_.find("<|start|>"), buf_.find("<|channel|>"));
        if (h == std::string::npos) return false;  // the usual path (holds back a partial marker)
        content += buf_.substr(0, h);
        buf_.erase(0, h);
        const size_t m = buf_.find("<|message|>");
        if (m == std::string::npos) {
            if (!final) return true;
            buf_.clear();
            return true;
        }
        const size_t r = buf_.find("to=functions.");
        if (r != std::string::npos && r < m) {
            buf_.erase(0, r);  // the call's block starts at its recipient
            return false;
        }
        buf_.erase(0, m + 11);
    }
}

void ToolCallParser::feed(const std::string& text, bool final, std::string& content, std::vector<ToolDelta>& deltas) {
    buf_ += text;
    // Llama 3.x / generic / Mistral calls may come as bare JSON; small Hermes
    // models sometimes write the call JSON in a ```json fence instead of the
    // tags. Such an answer is held back and decided at the end: a call only
    // if it parses and names a known tool.
    const bool bare_json = f_ == ToolFormat::Llama3 || f_ == ToolFormat::Generic || f_ == ToolFormat::Mistral ||
                           f_ == ToolFormat::Hermes;
    static const std::string fence = "```json";
    for (;;) {
        if (!in_call_) {
            if (bare_json && at_start_) {
                std::string t = trim(buf_);
                const bool maybe_fence = !t.empty() && (t.rfind(fence, 0) == 0 || fence.rfind(t, 0) == 0);
                if (!t.empty() && (t[0] == '{' || maybe_fence)) {
                    if (!final) return;
                    if (t.rfind(fence, 0) == 0) {
                        t = trim(t.substr(fence.size()));
                        if (t.size() >= 3 && t.compare(t.size() - 3, 3, "```") == 0) t = trim(t.substr(0, t.size() - 3));
                    }
                    const size_t before = calls_.size();
                    std::vector<ToolDelta> d;
                    const ToolFormat saved = f_;
                    if (f_ == ToolFormat::Hermes) f_ = ToolFormat::Generic;  // no streamed header here
                    parse_block(t, d);
                    f_ = saved;
                    bool known = calls_.size() > before;
                    for (size_t i = before; i < calls_.size(); ++i)
                        known = known && (known_.empty() || std::find(known_.begin(), known_.end(), calls_[i].name) != known_.end());
                    if (known) {
                        deltas.insert(deltas.end(), d.begin(), d.end());
                        buf_.clear();
                        return;
                    }
                    calls_.resize(before);
                    at_start_ = false;
                    continue;
                }
                if (!t.empty()) at_start_ = false;
            }
            if (f_ == ToolFormat::Harmony && harmony_content(final, content)) return;
            size_t at = std::string::npos, len = 0;
            for (const std::string& s : starts_) {
                const size_t p = buf_.find(s);
                if (p < at) at = p, len = s.size();
            }
            if (at == std::string::npos) {
                std::vector<std::string> holds = starts_;
                if (f_ == ToolFormat::Harmony) holds.insert(holds.end(), {"<|start|>", "<|channel|>", "<|end|>", "<|return|>"});
                const size_t hold = final ? 0 : partial_suffix(buf_, holds);
                content += buf_.substr(0, buf_.size() - hold);
                buf_.erase(0, buf_.size() - hold);
                return;
            }
            std::string before = buf_.substr(0, at);
            if (f_ == ToolFormat::Harmony) {  // the message header around the recipient is not content
                const size_t h = std::min(before.rfind("<|start|>"), before.rfind("<|channel|>"));
                if (h != std::string::npos) before.erase(h);
            }
            content += before;
            block_start_ = buf_.substr(at, len);
            buf_.erase(0, at + len);
            in_call_ = true;
            header_sent_ = false;
        }
        if (!end_.empty()) {
            const size_t e = buf_.find(end_);
            if (e == std::string::npos) {
                if (f_ == ToolFormat::Hermes) stream_hermes(deltas);
                if (!final) return;
                // unterminated: parse what there is; if nothing parses it stays content
                const size_t before = calls_.size();
                parse_block(buf_, deltas);
                if (calls_.size() == before && !header_sent_) content += block_start_ + buf_;
                buf_.clear();
                in_call_ = false;
                return;
            }
            const std::string body = buf_.substr(0, e);
            const std::string after = buf_.substr(e + end_.size());
            buf_ = body;
            if (f_ == ToolFormat::Hermes) stream_hermes(deltas);
            const size_t before = calls_.size();
            const bool streamed = header_sent_;
            parse_block(body, deltas);
            if (calls_.size() == before && !streamed) content += block_start_ + body + end_;
            buf_ = after;
            in_call_ = false;
            continue;
        }
        if (!final) return;
        const size_t before = calls_.size();
        parse_block(buf_, deltas);
        if (calls_.size() == before) content += block_start_ + buf_;
        buf_.clear();
        in_call_ = false;
        return;
    }
}

}  // namespace qlm::server

namespace qlm::server {

bool template_thinks(const std::string& src) { return src.find("<think>") != std::string::npos; }

bool prompt_opens_thinking(const std::string& r) {
    const size_t p = r.rfind("<think>");
    return p != std::string::npos && r.find("</think>", p) == std::string::npos &&
           r.find_first_not_of(" \n", p + 7) == std::string::npos;
}

std::string grammar_after_reasoning(std::string& gbnf, bool inside) {
    // text without "</think>" (a '<' followed by another '<' is taken as text: a rare miss, never a wrong end)
    gbnf += "think-text ::= ([^<] | \"<\" ([^/] | \"/\" ([^t] | \"t\" ([^h] | \"h\" ([^i] | \"i\" ([^n] | \"n\" ([^k] | "
            "\"k\" [^>])))))))*\n";
    if (inside) gbnf += "think-root ::= think-text \"</think>\" [ \\n]{0,4} root\n";
    else gbnf += "think-root ::= [ \\n]{0,2} (\"<think>\" think-text \"</think>\" [ \\n]{0,4})? root\n";
    return "think-root";
}

void ReasoningSplitter::feed(const std::string& text, bool final, std::string& reasoning, std::string& content) {
    static const std::string open = "<think>", close = "</think>";
    buf_ += text;
    for (;;) {
        if (state_ == Out) {
            if (strip_) {
                const size_t a = buf_.find_first_not_of("\r\n");
                buf_ = a == std::string::npos ? std::string() : buf_.substr(a);
                if (!buf_.empty()) strip_ = false;
            }
            content += buf_;
            buf_.clear();
            return;
        }
        if (state_ == Start) {
            const size_t a = buf_.find_first_not_of(" \t\r\n");
            if (a == std::string::npos) {
                if (final) content += buf_, buf_.clear();
                return;
            }
            const std::string rest = buf_.substr(a);
            if (rest.compare(0, open.size(), open) == 0) {
                buf_ = rest.substr(open.size());
                state_ = In;
                continue;
            }
            if (!final && open.compare(0, rest.size(), rest) == 0) return;  // maybe "<think" so far
            state_ = Out;
            strip_ = false;
            continue;
        }
        const size_t e = buf_.find(close);
        if (e != std::string::npos) {
            reasoning += buf_.substr(0, e);
            buf_ = buf_.substr(e + close.size());
            state_ = Out;
            continue;
        }
        size_t hold = 0;
        if (!final)
            for (size_t k = std::min(close.size() - 1, buf_.size()); k > 0; --k)
                if (buf_.compare(buf_.size() - k, k, close, 0, k) == 0) {
                    hold = k;
                    break;
                }
        reasoning += buf_.substr(0, buf_.size() - hold);
        buf_.erase(0, buf_.size() - hold);
        return;
    }
}

}  // namespace qlm::server
