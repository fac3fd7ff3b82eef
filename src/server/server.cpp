// HTTP (cpp-httplib) <-> the batching engine. Each request's choices are
// engine sequences; the engine thread pushes their events into a per-choice
// queue, the HTTP worker pops and writes them. A client that goes away is
// noticed by the next write (a token, or a keep-alive probe every 100 ms while
// nothing is produced: an SSE comment, or a space before a JSON body) and its
// sequences are cancelled.
#include "qlm/server.h"

#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "server/apis.h"
#include "server/kv_events.h"
#include "server/metrics.h"
#include "server/openai.h"
#include "server/tools.h"
#include "qlm/startup.h"
#include "qlm/error.h"
#include "qlm/grammar.h"
#include "qlm/template.h"
#include "qlm/tokenizer.h"

namespace qlm::server {

extern const char* const kOpenApiSpec;

namespace {

using clock_type = std::chrono::steady_clock;


// One engine sequence's events, from the engine thread to the HTTP worker.
struct Choice {
    uint64_t id = 0;
    int index = 0;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<EngineEvent> events;
};

struct State {
    ServerOptions opts;
    std::atomic<bool> ready{false}, stopping{false};
    // Drain (first SIGTERM/SIGINT): /ready is 503 and new generation requests
    // get 503 + Retry-After; requests in flight finish, or end with an error
    // once drain_expired (--drain-timeout) is set.
    std::atomic<bool> draining{false}, drain_expired{false};
    std::atomic<int> in_flight{0};  // generation requests whose response is not yet fully written
    std::atomic<bool> http_stopped{false};  // listen_after_bind returned
    std::unique_ptr<KvEventPublisher> kv_events;
    std::string load_error;
    std::unique_ptr<Context> ctx;
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<Engine> engine;
    std::unique_ptr<ChatTemplate> chat;
    std::shared_ptr<const TokenVocab> vocab;  // for grammars
    ToolFormat tool_format = ToolFormat::None;
    bool thinks = false;  // the template has <think> blocks
    ResponseStore responses;  // for previous_response_id
    std::string bos_text, eos_text;
    std::mutex wake_mu;
    std::condition_variable wake;
    bool work = false;
    std::atomic<uint64_t> next_request{1};
    Metrics metrics;
    int64_t created = 0;

    void kick() {
        std::lock_guard lk(wake_mu);
        work = true;
        wake.notify_one();
    }
    void engine_loop() {
        while (!stopping.load()) {
            if (engine->step()) continue;
            std::unique_lock lk(wake_mu);
            wake.wait_for(lk, std::chrono::milliseconds(50), [&] { return work || stopping.load(); });
            work = false;
        }
    }
};

void send_json(httplib::Response& res, int status, const ojson& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, ojson::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const HttpError& e) { send_json(res, e.status, error_body(e)); }

HttpError make_error(int status, std::string message, std::string type, std::string code = {}) {
    HttpError e;
    e.status = status, e.message = std::move(message), e.type = std::move(type), e.code = std::move(code);
    return e;
}

ojson parse_body(const httplib::Request& req) {
    try {
        return ojson::parse(req.body);
    } catch (const std::exception& ex) {
        bad_request("", std::string("the body is not valid JSON: ") + ex.what());
    }
}


// What a choice has produced, and its stop-sequence hold-back.
struct ChoiceText {
    std::unique_ptr<Detokenizer> detok;
    std::string pending;  // decoded, not yet sent (may still become a stop sequence)
    std::string sent;
    std::vector<int32_t> tokens;
    std::vector<float> logprobs;
    std::vector<std::vector<TokenLogprob>> tops;
    std::string finish;
    bool done = false;
    int64_t prompt_tokens = 0, cached = 0;
    std::unique_ptr<ToolCallParser> tools;   // when the request has tools
    std::unique_ptr<ReasoningSplitter> think;  // when the template thinks
    std::string reasoning, reasoning_delta;
    std::vector<ToolDelta> tool_pending;     // tool-call deltas not yet streamed
};

class Job {
public:
    Job(State& st, bool chat, Generation g, std::vector<std::vector<int32_t>> prompts)
        : st_(st), chat_(chat), g_(std::move(g)), prompts_(std::move(prompts)) {
        id_ = std::string(chat ? "chatcmpl-" : "cmpl-") + std::to_string(st.next_request.fetch_add(1));
        t0_ = clock_type::now();
    }
    ~Job() { cancel_all(); }

    // Submits every choice; a request the engine refuses is a 400.
    void submit() {
        const EngineStats es = st_.engine->stats();
        if (es.waiting >= st_.opts.max_queue)
            throw make_error(503, "the server is busy: " + std::to_string(es.waiting) + " requests are waiting",
                             "server_busy", "queue_full");
        std::random_device rd;
        std::shared_ptr<GrammarAutomaton> automaton;
        if (grammar_) automaton = std::make_shared<GrammarAutomaton>(grammar_, st_.vocab);
        for (size_t p = 0; p < prompts_.size(); ++p)
            for (int i = 0; i < g_.n; ++i) {
                auto c = std::make_shared<Choice>();
                c->index = int(p) * g_.n + i;
                Request r;
                r.prompt = prompts_[p];
                r.max_tokens = g_.max_tokens >= 0 ? g_.max_tokens
                                                  : std::max<int64_t>(0, st_.engine->n_ctx() - int64_t(r.prompt.size()));
                if (st_.opts.max_tokens >= 0) r.max_tokens = std::min(r.max_tokens, st_.opts.max_tokens);
                r.sampling = g_.sampling;
                r.sampling.seed = g_.seeded ? g_.sampling.seed + uint64_t(c->index) : (uint64_t(rd()) << 32 | rd());
                r.stop_tokens = st_.tok->eog_ids();
                r.top_logprobs = g_.logprobs ? g_.top_logprobs : -1;
                r.sampling.logit_bias = g_.logit_bias;
                if (automaton) {
                    r.grammar = std::make_shared<GrammarMatcher>(automaton);
                    if (!triggers_.empty()) {
                        // a marker written while reasoning does not start the grammar
                        if (reasoning_) r.grammar->set_triggers(triggers_, "<think>", "</think>", reasoning_inside_);
                        else r.grammar->set_triggers(triggers_);
                    }
                }
                std::weak_ptr<Choice> wc = c;
                r.on_event = [wc](const EngineEvent& ev) {
                    auto ch = wc.lock();
                    if (!ch) return;
                    EngineEvent copy = ev;
                    copy.logits = {};
                    std::lock_guard lk(ch->mu);
                    ch->events.push_back(std::move(copy));
                    ch->cv.notify_one();
                };
                const int64_t n_prompt = int64_t(r.prompt.size());
                try {
                    c->id = st_.engine->submit(std::move(r));
                } catch (const Error& e) {
                    if (e.code() == ErrorCode::ContextLengthExceeded)
                        throw make_error(400, e.what(), "invalid_request_error", "context_length_exceeded");
                    throw make_error(400, e.what(), "invalid_request_error");
                }
                choices_.push_back(c);
                texts_.emplace_back();
                // Mistral's [TOOL_CALLS], Llama's <|python_tag|> and Harmony's headers are control
                // tokens: their text must reach the tool-call parser
                const bool markers_are_special = tools_.enabled() && (tool_format_ == ToolFormat::Mistral ||
                                                                      tool_format_ == ToolFormat::Llama3 ||
                                                                      tool_format_ == ToolFormat::Harmony);
                texts_.back().detok = std::make_unique<Detokenizer>(*st_.tok, markers_are_special);
                texts_.back().prompt_tokens = n_prompt;
                if (reasoning_) texts_.back().think = std::make_unique<ReasoningSplitter>(reasoning_inside_);
                if (tools_.enabled() && tool_format_ != ToolFormat::None) {
                    std::vector<std::string> names;
                    for (const ToolSpec& ts : tools_.tools) names.push_back(ts.name);
                    texts_.back().tools = std::make_unique<ToolCallParser>(
                        tool_format_, names, "call_" + id_.substr(id_.find('-') + 1) + "_" + std::to_string(c->index) + "_");
                }
            }
        st_.metrics.request_started();
        st_.kick();
    }

    // Waits up to `wait` for events; applies them. Returns the new text per choice (streaming).
    void pump(std::chrono::milliseconds wait, std::vector<std::string>* deltas, std::vector<size_t>* new_tokens) {
        if (deltas) deltas->assign(choices_.size(), std::string());
        if (new_tokens) new_tokens->assign(choices_.size(), 0);
        const auto deadline = clock_type::now() + wait;
        bool any = false;
        for (size_t i = 0; i < choices_.size(); ++i) {
            Choice& c = *choices_[i];
            std::deque<EngineEvent> evs;
            {
                std::unique_lock lk(c.mu);
                if (!any && !texts_[i].done) c.cv.wait_until(lk, deadline, [&] { return !c.events.empty(); });
                evs.swap(c.events);
            }
            for (const EngineEvent& ev : evs) {
                any = true;
                apply(i, ev, deltas ? &(*deltas)[i] : nullptr, new_tokens ? &(*new_tokens)[i] : nullptr);
            }
        }
    }

    bool all_done() const {
        for (const ChoiceText& t : texts_)
            if (!t.done) return false;
        return true;
    }

    void cancel_all() {
        for (size_t i = 0; i < choices_.size(); ++i)
            if (!texts_[i].done) st_.engine->cancel(choices_[i]->id);
        if (!choices_.empty()) st_.kick();
    }

    ojson usage() const {
        int64_t prompt = 0, completion = 0, cached = 0;
        for (size_t i = 0; i < texts_.size(); ++i) {
            if (i % size_t(g_.n) == 0) prompt += texts_[i].prompt_tokens, cached += texts_[i].cached;
            completion += int64_t(texts_[i].tokens.size());
        }
        return {{"prompt_tokens", prompt},
                {"completion_tokens", completion},
                {"total_tokens", prompt + completion},
                {"prompt_tokens_details", {{"cached_tokens", cached}}}};
    }

    ojson logprobs_json(size_t i, size_t from, size_t to) const {
        const ChoiceText& t = texts_[i];
        auto piece = [&](int32_t id) { return st_.tok->token_to_piece(id, false); };
        auto bytes = [&](const std::string& s) {
            ojson b = ojson::array();
            for (unsigned char ch : s) b.push_back(int(ch));
            return b;
        };
        if (chat_) {
            ojson content = ojson::array();
            for (size_t k = from; k < to && k < t.tokens.size(); ++k) {
                const std::string p = piece(t.tokens[k]);
                ojson tops = ojson::array();
                for (const TokenLogprob& tl : t.tops[k]) {
                    const std::string q = piece(tl.token);
                    tops.push_back({{"token", q}, {"logprob", tl.logprob}, {"bytes", bytes(q)}});
                }
                content.push_back({{"token", p}, {"logprob", t.logprobs[k]}, {"bytes", bytes(p)}, {"top_logprobs", tops}});
            }
            return {{"content", content}};
        }
        ojson toks = ojson::array(), lps = ojson::array(), tops = ojson::array(), offs = ojson::array();
        size_t off = 0;
        for (size_t k = 0; k < from && k < t.tokens.size(); ++k) off += piece(t.tokens[k]).size();
        for (size_t k = from; k < to && k < t.tokens.size(); ++k) {
            const std::string p = piece(t.tokens[k]);
            toks.push_back(p), lps.push_back(t.logprobs[k]), offs.push_back(off);
            off += p.size();
            ojson m = ojson::object();
            for (const TokenLogprob& tl : t.tops[k]) m[piece(tl.token)] = tl.logprob;
            tops.push_back(m);
        }
        return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
    }

    ojson final_body() const {
        ojson choices = ojson::array();
        for (size_t i = 0; i < texts_.size(); ++i) {
            const ChoiceText& t = texts_[i];
            ojson c = {{"index", int(i)}};
            if (chat_) {
                c["message"] = {{"role", "assistant"}, {"content", t.sent}};
                if (!t.reasoning.empty()) c["message"]["reasoning_content"] = t.reasoning;
                if (t.tools && !t.tools->calls().empty()) {
                    ojson calls = ojson::array();
                    for (const ToolCall& tc : t.tools->calls())
                        calls.push_back({{"id", tc.id}, {"type", "function"},
                                         {"function", {{"name", tc.name}, {"arguments", tc.arguments}}}});
                    c["message"]["tool_calls"] = calls;
                    if (t.sent.empty()) c["message"]["content"] = nullptr;
                }
            } else
                c["text"] = t.sent;
            c["logprobs"] = g_.logprobs ? logprobs_json(i, 0, t.tokens.size()) : ojson(nullptr);
            c["finish_reason"] = t.finish;
            choices.push_back(c);
        }
        return {{"id", id_},
                {"object", chat_ ? "chat.completion" : "text_completion"},
                {"created", st_.created},
                {"model", st_.opts.model_id},
                {"choices", choices},
                {"usage", usage()}};
    }

    ojson chunk(size_t i, const std::string& delta, bool first, const std::string& finish, size_t tok_from,
                size_t tok_to) const {
        ojson c = {{"index", int(i)}};
        if (chat_) {
            ojson d = ojson::object();
            if (first) d["role"] = "assistant";
            if (!delta.empty() || (first && finish.empty())) d["content"] = delta;
            c["delta"] = d;
        } else {
            c["text"] = delta;
        }
        c["logprobs"] = g_.logprobs && tok_to > tok_from ? logprobs_json(i, tok_from, tok_to) : ojson(nullptr);
        c["finish_reason"] = finish.empty() ? ojson(nullptr) : ojson(finish);
        return {{"id", id_},
                {"object", chat_ ? "chat.completion.chunk" : "text_completion"},
                {"created", st_.created},
                {"model", st_.opts.model_id},
                {"choices", ojson::array({c})}};
    }

    ojson usage_chunk() const {
        return {{"id", id_},
                {"object", chat_ ? "chat.completion.chunk" : "text_completion"},
                {"created", st_.created},
                {"model", st_.opts.model_id},
                {"choices", ojson::array()},
                {"usage", usage()}};
    }

    void log_line() const {
        const double secs = std::chrono::duration<double>(clock_type::now() - t0_).count();
        int64_t in = 0, out = 0;
        for (const ChoiceText& t : texts_) in += t.prompt_tokens, out += int64_t(t.tokens.size());
        const double ttft = first_token_ ? std::chrono::duration<double>(*first_token_ - t0_).count() : secs;
        const double gen = secs - ttft;
        std::fprintf(stderr, "qlm serve: %s tokens in %lld out %lld ttft %.3f s %.1f tok/s\n", id_.c_str(),
                     (long long)in, (long long)out, ttft, gen > 0 && out > 1 ? double(out - 1) / gen : 0.0);
        if (!error_.empty()) std::fprintf(stderr, "qlm serve: %s ended with an error: %s\n", id_.c_str(), error_.c_str());
    }

    const Generation& gen() const { return g_; }
    double elapsed() const { return std::chrono::duration<double>(clock_type::now() - t0_).count(); }
    const std::string& finish_reason() const { return texts_.front().finish; }
    void set_tools(const ToolRequest& tr, ToolFormat f) {
        tools_ = tr;
        tool_format_ = f;
    }
    std::vector<ToolDelta> take_tool_deltas(size_t i) { return std::exchange(texts_[i].tool_pending, {}); }
    std::string take_reasoning_delta(size_t i) { return std::exchange(texts_[i].reasoning_delta, {}); }
    void set_reasoning(bool on, bool inside) {
        reasoning_ = on;
        reasoning_inside_ = inside;
    }
    ojson reasoning_chunk(size_t i, const std::string& text) const {
        ojson ch = {{"index", int(i)}, {"delta", {{"reasoning_content", text}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
        return {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", st_.created}, {"model", st_.opts.model_id},
                {"choices", ojson::array({ch})}};
    }
    ojson tool_chunk(size_t i, const std::vector<ToolDelta>& ds) const {
        ojson calls = ojson::array();
        for (const ToolDelta& d : ds) {
            ojson c = {{"index", d.index}};
            if (d.first) {
                c["id"] = d.id;
                c["type"] = "function";
                c["function"] = {{"name", d.name}, {"arguments", ""}};
            } else {
                c["function"] = {{"arguments", d.arguments}};
            }
            calls.push_back(c);
        }
        ojson ch = {{"index", int(i)}, {"delta", {{"tool_calls", calls}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
        return {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", st_.created}, {"model", st_.opts.model_id},
                {"choices", ojson::array({ch})}};
    }
    void set_grammar(std::shared_ptr<const Grammar> g, std::vector<std::string> triggers = {}) {
        grammar_ = std::move(g);
        triggers_ = std::move(triggers);
    }
    size_t n_choices() const { return choices_.size(); }
    const ChoiceText& text(size_t i) const { return texts_[i]; }

private:
    void apply(size_t i, const EngineEvent& ev, std::string* delta, size_t* new_tokens) {
        ChoiceText& t = texts_[i];
        if (t.done) return;
        t.cached = ev.cached_tokens;
        if (ev.queue_seconds >= 0 && i == 0) st_.metrics.queued(ev.queue_seconds);
        if (ev.token >= 0) {
            const auto now = clock_type::now();
            if (!first_token_) {
                first_token_ = now;
                st_.metrics.first_token(std::chrono::duration<double>(now - t0_).count());
            } else if (last_token_) {
                st_.metrics.inter_token(std::chrono::duration<double>(now - *last_token_).count());
            }
            last_token_ = now;
            t.tokens.push_back(ev.token);
            t.logprobs.push_back(ev.logprob);
            t.tops.push_back(ev.top);
            if (new_tokens) ++*new_tokens;
            t.pending += t.detok->push(ev.token);
        }
        if (ev.finish != FinishReason::None) t.pending += t.detok->flush();
        size_t hit = std::string::npos;
        size_t safe = ev.finish != FinishReason::None && g_.stop.empty() ? t.pending.size()
                                                                          : stop_safe_prefix(t.pending, g_.stop, hit);
        if (ev.finish != FinishReason::None && hit == std::string::npos) safe = t.pending.size();
        std::string out = t.pending.substr(0, safe);
        t.pending.erase(0, safe);
        const bool final = hit != std::string::npos || ev.finish != FinishReason::None;
        if (t.think) {
            std::string reasoning, content;
            t.think->feed(out, final, reasoning, content);
            t.reasoning += reasoning;
            t.reasoning_delta += reasoning;
            out = std::move(content);
        }
        if (t.tools) {
            std::string content;
            t.tools->feed(out, final, content, t.tool_pending);
            out = std::move(content);
        }
        t.sent += out;
        if (delta) *delta += out;
        if (hit != std::string::npos) {
            t.pending.clear();
            t.done = true;
            t.finish = "stop";
            if (ev.finish == FinishReason::None) st_.engine->cancel(choices_[i]->id);
            st_.kick();
            return;
        }
        if (ev.finish != FinishReason::None) {
            t.done = true;
            t.finish = ev.finish == FinishReason::Length ? "length" : ev.finish == FinishReason::Error ? "error" : "stop";
            if (t.finish == "stop" && t.tools && !t.tools->calls().empty()) t.finish = "tool_calls";
            if (ev.finish == FinishReason::Error) error_ = ev.error;
        }
    }

    State& st_;
    bool chat_;
    Generation g_;
    std::shared_ptr<const Grammar> grammar_;
    std::vector<std::string> triggers_;
    ToolRequest tools_;
    ToolFormat tool_format_ = ToolFormat::None;
    bool reasoning_ = false, reasoning_inside_ = false;
    std::vector<std::vector<int32_t>> prompts_;
    std::vector<std::shared_ptr<Choice>> choices_;
    std::vector<ChoiceText> texts_;
    std::string id_, error_;
    clock_type::time_point t0_;
    std::optional<clock_type::time_point> first_token_, last_token_;
};


using MakeApi = std::function<std::shared_ptr<ApiAdapter>(int64_t prompt_tokens)>;

// A chat request's rendered prompt and its tokens (count_tokens, the render route).
struct ChatPrompt {
    std::string text;
    std::vector<int32_t> ids;
};
ChatPrompt chat_prompt(State& st, const ojson& body);

// What the chat template sees besides the messages: chat_template_kwargs,
// reasoning_effort, and the tools with tool_choice and parallel_tool_calls.
ojson chat_template_extra(const ojson& body, const ToolRequest& tools) {
    ojson extra = ojson::object();
    if (body.contains("chat_template_kwargs") && body["chat_template_kwargs"].is_object())
        extra = body["chat_template_kwargs"];
    if (body.contains("reasoning_effort") && body["reasoning_effort"].is_string())
        extra["reasoning_effort"] = body["reasoning_effort"];
    if (tools.enabled()) {
        extra["tools"] = body["tools"];
        extra["tool_choice"] = body.contains("tool_choice") ? body["tool_choice"] : ojson("auto");
        extra["parallel_tool_calls"] = tools.parallel;
    }
    return extra;
}

// add_generation_prompt: the request's (vLLM's extension), true when absent.
bool add_generation_prompt(const ojson& body) {
    if (!body.contains("add_generation_prompt")) return true;
    if (!body["add_generation_prompt"].is_boolean()) bad_request("add_generation_prompt", "must be a boolean");
    return body["add_generation_prompt"].get<bool>();
}

std::string render_chat(State& st, const ojson& messages, const ojson& extra, bool add_gen = true) {
    try {
        return apply_chat_template(*st.chat, messages, add_gen, st.bos_text, st.eos_text, extra);
    } catch (const TemplateError& e) {
        bad_request("messages", std::string("the chat template failed: ") + e.what());
    }
}

// Counts a generation request in flight from before the drain check until its
// response is written (held by the response's content provider).
class InFlight {
public:
    explicit InFlight(State& st) : st_(st) { ++st_.in_flight; }
    ~InFlight() { --st_.in_flight; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

private:
    State& st_;
};

const char* const kDrainError =
    "the server is shutting down and its drain timeout ended this request before it finished; retry it";

void handle_generate(State& st, const ojson& body, httplib::Response& res, bool chat, MakeApi make_api = {}) {
    auto in_flight = std::make_shared<InFlight>(st);
    if (st.draining.load()) {
        res.set_header("Retry-After", "1");
        res.set_header("Connection", "close");
        throw make_error(503, "the server is draining (shutting down): send the request to another replica",
                         "unavailable_error", "draining");
    }
    if (!body.is_object()) bad_request("", "the request body must be a JSON object");
    Generation g = parse_generation(body, st.model->config().n_vocab, chat);
    std::vector<std::vector<int32_t>> prompts;
    ToolRequest tools;
    std::vector<std::string> triggers;
    bool reasoning = false, reasoning_inside = false;
    std::string grammar_root = "root";
    if (chat) {
        const ojson messages = parse_messages(body);
        tools = parse_tools(body);
        const ojson extra = chat_template_extra(body, tools);
        reasoning = st.thinks;
        if (body.contains("reasoning_format") && !body["reasoning_format"].is_null()) {
            if (!body["reasoning_format"].is_string()) bad_request("reasoning_format", "must be a string (auto, none)");
            const std::string rf = body["reasoning_format"].get<std::string>();
            if (rf == "none") reasoning = false;
            else if (rf != "auto" && rf != "deepseek") bad_request("reasoning_format", "must be auto or none");
        }
        if (tools.enabled()) {
            const std::string tg = tool_call_grammar(st.tool_format, tools, triggers);
            if (!tg.empty()) {
                if (!g.grammar.empty()) bad_request("response_format", "cannot be combined with tools");
                g.grammar = tg;
                g.grammar_param = "tools";
                if (tools.choice != "auto") triggers.clear();  // required / named: constrained from the first token
            }
        }
        const std::string text = render_chat(st, messages, extra, add_generation_prompt(body));
        if (reasoning) {
            reasoning_inside = prompt_opens_thinking(text);
            // the answer's grammar starts after the reasoning (tool grammars start at their own marker)
            if (!g.grammar.empty() && g.grammar_param != "tools")
                grammar_root = grammar_after_reasoning(g.grammar, reasoning_inside);
        }
        std::vector<int32_t> ids = st.tok->encode_chat(text);
        if (ids.empty()) bad_request("messages", "the rendered conversation is empty");
        prompts.push_back(std::move(ids));
    } else {
        prompts = parse_prompts(body, *st.tok);
    }
    std::shared_ptr<const Grammar> grammar;
    if (!g.grammar.empty()) {
        try {
            grammar = Grammar::parse_gbnf(g.grammar, grammar_root);
        } catch (const GrammarError& e) {
            bad_request(g.grammar_param, e.what(), "invalid_grammar");
        }
    }
    auto job = std::make_shared<Job>(st, chat, std::move(g), std::move(prompts));
    job->set_grammar(std::move(grammar), std::move(triggers));
    job->set_tools(tools, st.tool_format);
    job->set_reasoning(reasoning, reasoning_inside);
    job->submit();
    std::shared_ptr<ApiAdapter> api =
        make_api ? make_api(job->text(0).prompt_tokens) : std::make_shared<ApiAdapter>();
    const auto probe = std::chrono::milliseconds(100);
    if (!job->gen().stream) {
        res.status = 200;
        res.set_chunked_content_provider("application/json", [job, api, &st, probe, in_flight](size_t, httplib::DataSink& sink) {
            while (!job->all_done()) {
                job->pump(probe, nullptr, nullptr);
                if (job->all_done()) break;
                if (st.drain_expired.load()) {  // shutting down: a clean error, the blocks freed
                    job->cancel_all();
                    st.metrics.request_finished(false);
                    const std::string out = error_body(make_error(503, kDrainError, "unavailable_error", "drain_timeout")).dump();
                    sink.write(out.data(), out.size());
                    sink.done();
                    return true;
                }
                if (!sink.write(" ", 1)) {  // the client is gone
                    job->cancel_all();
                    st.metrics.request_finished(false);
                    return false;
                }
            }
            const std::string out = api->final_body(job->final_body()).dump(-1, ' ', false, ojson::error_handler_t::replace);
            const bool ok = sink.write(out.data(), out.size());
            job->log_line();
            st.metrics.request_finished(ok, job->finish_reason(), job->elapsed());
            sink.done();
            return ok;
        });
        return;
    }
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [job, api, &st, probe, in_flight](size_t, httplib::DataSink& sink) {
        const size_t n = job->n_choices();
        std::vector<bool> started(n, false), ended(n, false);
        std::vector<size_t> tok_sent(n, 0);
        auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
        auto gone = [&] {
            job->cancel_all();
            st.metrics.request_finished(false);
            return false;
        };
        while (true) {
            std::vector<std::string> deltas;
            std::vector<size_t> new_tokens;
            job->pump(probe, &deltas, &new_tokens);
            bool wrote = false;
            for (size_t i = 0; i < n; ++i) {
                if (ended[i]) continue;
                const ChoiceText& t = job->text(i);
                const bool fin = t.done;
                if (!started[i] && (fin || !deltas[i].empty() || new_tokens[i] > 0)) {
                    // the role alone in the first delta
                    if (!write(api->chunk(job->chunk(i, "", true, "", 0, 0)))) return gone();
                    started[i] = true;
                }
                if (!deltas[i].empty() || (job->gen().logprobs && t.tokens.size() > tok_sent[i])) {
                    const size_t to = t.tokens.size();
                    if (!write(api->chunk(job->chunk(i, deltas[i], false, "", tok_sent[i], to)))) return gone();
                    tok_sent[i] = to;
                    wrote = true;
                }
                const std::string rd = job->take_reasoning_delta(i);
                if (!rd.empty()) {
                    if (!write(api->chunk(job->reasoning_chunk(i, rd)))) return gone();
                    wrote = true;
                }
                const std::vector<ToolDelta> td = job->take_tool_deltas(i);
                if (!td.empty()) {
                    if (!write(api->chunk(job->tool_chunk(i, td)))) return gone();
                    wrote = true;
                }
                if (fin) {
                    if (!write(api->chunk(job->chunk(i, "", false, t.finish, 0, 0)))) return gone();
                    ended[i] = true;
                    wrote = true;
                }
            }
            if (job->all_done()) break;
            if (st.drain_expired.load()) {  // shutting down: an error event, no [DONE], the blocks freed
                job->cancel_all();
                st.metrics.request_finished(false);
                write("data: " + error_body(make_error(503, kDrainError, "unavailable_error", "drain_timeout")).dump() + "\n\n");
                sink.done();
                return true;
            }
            if (!wrote && !write(": keep-alive\n\n")) return gone();
        }
        if ((job->gen().include_usage || api->wants_usage()) && !write(api->chunk(job->usage_chunk()))) return gone();
        if (!api->done().empty() && !write(api->done())) return gone();
        job->log_line();
        st.metrics.request_finished(true, job->finish_reason(), job->elapsed());
        sink.done();
        return true;
    });
}

void route(httplib::Server& svr, State& st, const std::string& path, const std::string& method,
           std::function<void(const httplib::Request&, httplib::Response&)> fn) {
    auto guarded = [&st, fn, path](const httplib::Request& req, httplib::Response& res) {
        if (!st.ready.load() && path != "/health" && path != "/ready") {
            send_error(res, make_error(503, st.load_error.empty() ? "the model is loading" : st.load_error,
                                       "unavailable_error", "loading"));
            return;
        }
        try {
            fn(req, res);
        } catch (const HttpError& e) {
            send_error(res, e);
        } catch (const TemplateError& e) {
            send_error(res, make_error(400, e.what(), "invalid_request_error"));
        } catch (const Error& e) {
            send_error(res, make_error(400, e.what(), "invalid_request_error"));
        } catch (const nlohmann::json::exception& e) {  // a field of an unexpected JSON type deep in a request
            send_error(res, make_error(400, std::string("a field has the wrong type: ") + e.what(), "invalid_request_error"));
        } catch (const std::exception& e) {
            send_error(res, make_error(500, std::string("internal error: ") + e.what(), "server_error"));
        }
    };
    auto not_allowed = [path, method](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Allow", method);
        send_error(res, make_error(405, req.method + " is not allowed on " + path + " (use " + method + ")",
                                   "invalid_request_error", "method_not_allowed"));
    };
    const std::string m[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
    for (const std::string& x : m) {
        auto h = x == method ? httplib::Server::Handler(guarded) : httplib::Server::Handler(not_allowed);
        if (x == "GET") svr.Get(path, h);
        if (x == "POST") svr.Post(path, h);
        if (x == "PUT") svr.Put(path, h);
        if (x == "DELETE") svr.Delete(path, h);
        if (x == "PATCH") svr.Patch(path, h);
    }
}

ChatPrompt chat_prompt(State& st, const ojson& body) {
    const ojson messages = parse_messages(body);
    ChatPrompt p;
    p.text = render_chat(st, messages, chat_template_extra(body, parse_tools(body)), add_generation_prompt(body));
    p.ids = st.tok->encode_chat(p.text);
    return p;
}

void load(State& st) {
    try {
        const ServerOptions& o = st.opts;
        StartupOptions so;
        so.model_path = o.model_path, so.threads = o.threads, so.isa = o.isa, so.backend = o.backend;
        so.chat_template = true;
        so.chat_template_file = o.chat_template_file;
        Started started = start(so);
        st.ctx = std::move(started.ctx);
        st.model = std::move(started.model);
        st.tok = std::move(started.tok);
        st.chat = std::move(started.chat);
        const std::string& source = st.chat->source();
        st.tool_format = detect_tool_format(source);
        st.thinks = template_thinks(source);
        std::fprintf(stderr, "qlm serve: tool-call format: %s\n", tool_format_name(st.tool_format));
        std::vector<std::string> pieces;
        for (int32_t i = 0; i < st.tok->n_vocab(); ++i)
            pieces.push_back(st.tok->is_control(i) ? std::string() : st.tok->token_to_piece(i, false));
        st.vocab = TokenVocab::build(std::move(pieces), st.tok->eog_ids());
        if (st.tok->bos() != Tokenizer::kNone) st.bos_text = st.tok->token_text(st.tok->bos());
        if (st.tok->eos() != Tokenizer::kNone) st.eos_text = st.tok->token_text(st.tok->eos());
        EngineOptions eo = o.engine;
        if (!o.kv_events_endpoint.empty()) {
            st.kv_events = std::make_unique<KvEventPublisher>(o.kv_events_endpoint, o.kv_events_topic, eo.block_size,
                                                              o.kv_events_map);
            KvEventPublisher* pub = st.kv_events.get();
            eo.on_kv_events = [pub](std::vector<KvEvent>&& ev) { pub->publish(std::move(ev)); };
            std::fprintf(stderr, "qlm serve: KV events on %s (ZeroMQ PUB, topic '%s', events as %s)\n",
                         o.kv_events_endpoint.c_str(), o.kv_events_topic.c_str(), o.kv_events_map ? "maps" : "arrays");
        }
        st.engine = std::make_unique<Engine>(*st.model, *st.ctx, eo);
        const EngineStats es = st.engine->stats();
        std::fprintf(stderr,
                     "qlm serve: %s (%s, %lld layers, %.1f MiB), KV pool %lld blocks x %lld positions (%.1f MiB), "
                     "context %lld, up to %d sequences per step, %d threads %s, chat template: %s\n",
                     o.model_path.c_str(), st.model->config().arch_name.c_str(), (long long)st.model->config().n_layer,
                     double(st.model->weight_bytes()) / 1048576.0, (long long)es.blocks_total, (long long)es.block_size,
                     double(st.engine->kv_bytes()) / 1048576.0, (long long)st.engine->n_ctx(), o.engine.max_running,
                     st.ctx->threads(), isa_name(st.ctx->isa()),
                     !o.chat_template_file.empty() ? o.chat_template_file.c_str()
                     : source == chatml_template_source() ? "ChatML (the model has none)"
                                                   : "the model's");
        st.ready = true;
        std::fprintf(stderr, "qlm serve: listening on http://%s:%d\n", o.host.c_str(), o.port);
    } catch (const std::exception& e) {
        st.load_error = std::string("the model failed to load: ") + e.what();
        std::fprintf(stderr, "qlm serve: %s\n", st.load_error.c_str());
    }
}

}  // namespace

int serve(const ServerOptions& opts_in) {
    State st;
    st.opts = opts_in;
    if (st.opts.model_id.empty()) {
        const size_t slash = st.opts.model_path.find_last_of('/');
        st.opts.model_id = slash == std::string::npos ? st.opts.model_path : st.opts.model_path.substr(slash + 1);
    }
    st.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const ServerOptions& o = st.opts;

    // SIGINT / SIGTERM: handled by a thread of their own (sigwait), which stops the server.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    httplib::Server svr;
    svr.new_task_queue = [n = o.http_threads] { return new httplib::ThreadPool(size_t(std::max(2, n))); };
    svr.set_payload_max_length(o.max_body);
    svr.set_read_timeout(o.read_timeout_s, 0);
    svr.set_write_timeout(o.write_timeout_s, 0);
    svr.set_keep_alive_timeout(30);
    svr.set_pre_routing_handler([&st](const httplib::Request& req, httplib::Response& res) {
        const ServerOptions& so = st.opts;
        if (!so.cors_origins.empty()) {
            const std::string origin = req.get_header_value("Origin");
            for (const std::string& allowed : so.cors_origins)
                if (allowed == "*" || allowed == origin) {
                    res.set_header("Access-Control-Allow-Origin", allowed == "*" ? "*" : origin);
                    res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
                    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
                    if (req.method == "OPTIONS") {
                        res.status = 204;
                        return httplib::Server::HandlerResponse::Handled;
                    }
                }
        }
        // probes and scrapers carry no key: /health, /ready and /metrics are open
        if (!so.api_key.empty() && req.path != "/health" && req.path != "/ready" && req.path != "/metrics" &&
            req.get_header_value("Authorization") != "Bearer " + so.api_key) {
            send_error(res, make_error(401, "a valid API key is needed: 'Authorization: Bearer KEY'",
                                       "authentication_error", "invalid_api_key"));
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    // while draining, every connection closes after its response (a router
    // then opens its next one to a replica that is ready)
    svr.set_post_routing_handler([&st](const httplib::Request&, httplib::Response& res) {
        if (st.draining.load()) res.set_header("Connection", "close");
    });
    svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;
        if (res.status == 404)
            send_error(res, make_error(404, "no route " + req.method + " " + req.path, "not_found_error", "not_found"));
        else if (res.status == 413)
            send_error(res, make_error(413, "the request body is too large", "invalid_request_error", "body_too_large"));
        else
            send_error(res, make_error(res.status, "HTTP error " + std::to_string(res.status), "invalid_request_error"));
    });

    // Liveness: 200 while the process serves (draining included); 503 while the model loads.
    route(svr, st, "/health", "GET", [&st](const httplib::Request&, httplib::Response& res) {
        if (st.ready)
            send_json(res, 200, {{"status", st.draining ? "draining" : "ok"}});
        else
            send_error(res, make_error(503, st.load_error.empty() ? "the model is loading" : st.load_error,
                                       "unavailable_error", "loading"));
    });
    // Readiness: 200 only when the model is loaded and the server is not draining.
    route(svr, st, "/ready", "GET", [&st](const httplib::Request&, httplib::Response& res) {
        if (st.ready && !st.draining)
            send_json(res, 200, {{"status", "ready"}});
        else if (st.ready)
            send_error(res, make_error(503, "the server is draining (shutting down)", "unavailable_error", "draining"));
        else
            send_error(res, make_error(503, st.load_error.empty() ? "the model is loading" : st.load_error,
                                       "unavailable_error", "loading"));
    });
    route(svr, st, "/v1/models", "GET", [&st](const httplib::Request&, httplib::Response& res) {
        const ModelConfig& c = st.model->config();
        ojson m = {{"id", st.opts.model_id},
                   {"object", "model"},
                   {"created", st.created},
                   {"owned_by", "qlm"},
                   {"meta", {{"arch", c.arch_name}, {"n_ctx", st.engine->n_ctx()}, {"n_vocab", c.n_vocab},
                             {"n_params_bytes", st.model->weight_bytes()}}}};
        send_json(res, 200, {{"object", "list"}, {"data", ojson::array({m})}});
    });
    route(svr, st, "/v1/completions", "POST",
          [&st](const httplib::Request& req, httplib::Response& res) { handle_generate(st, parse_body(req), res, false); });
    route(svr, st, "/v1/chat/completions", "POST",
          [&st](const httplib::Request& req, httplib::Response& res) { handle_generate(st, parse_body(req), res, true); });
    // Anthropic Messages: its own error envelope
    auto anthropic = [&st](const httplib::Request& req, httplib::Response& res, bool count) {
        try {
            ojson body = parse_body(req);
            if (count && body.is_object() && !body.contains("max_tokens")) body["max_tokens"] = 1;
            const ojson chat = anthropic_to_chat(body);
            if (count) {
                send_json(res, 200, {{"input_tokens", int64_t(chat_prompt(st, chat).ids.size())}});
                return;
            }
            const std::string model = st.opts.model_id;
            handle_generate(st, chat, res, true, [model](int64_t n) { return make_anthropic_adapter(model, n); });
        } catch (const HttpError& e) {
            send_json(res, e.status, anthropic_error(e));
        } catch (const Error& e) {
            HttpError h;
            h.message = e.what();
            send_json(res, 400, anthropic_error(h));
        } catch (const nlohmann::json::exception& e) {
            HttpError h;
            h.message = std::string("a field has the wrong type: ") + e.what();
            send_json(res, 400, anthropic_error(h));
        }
    };
    auto responses = [&st](const httplib::Request& req, httplib::Response& res) {
        const ojson chat = responses_to_chat(parse_body(req), st.responses);
        const std::string model = st.opts.model_id;
        const int64_t created = st.created;
        const ojson msgs = chat["messages"];
        ResponseStore* store = &st.responses;
        handle_generate(st, chat, res, true,
                        [model, created, msgs, store](int64_t) { return make_responses_adapter(model, created, msgs, *store); });
    };
    for (const char* path : {"/v1/responses", "/responses"}) route(svr, st, path, "POST", responses);
    for (const char* path : {"/v1/messages", "/messages"})
        route(svr, st, path, "POST", [anthropic](const httplib::Request& q, httplib::Response& r) { anthropic(q, r, false); });
    for (const char* path : {"/v1/messages/count_tokens", "/messages/count_tokens"})
        route(svr, st, path, "POST", [anthropic](const httplib::Request& q, httplib::Response& r) { anthropic(q, r, true); });
    route(svr, st, "/tokenize", "POST", [&st](const httplib::Request& req, httplib::Response& res) {
        const ojson body = parse_body(req);
        if (!body.is_object() || !body.contains("content") || !body["content"].is_string())
            bad_request("content", "must be a string");
        bool add_special = true;
        if (body.contains("add_special")) {
            if (!body["add_special"].is_boolean()) bad_request("add_special", "must be a boolean");
            add_special = body["add_special"].get<bool>();
        }
        send_json(res, 200, {{"tokens", st.tok->encode(body["content"].get<std::string>(), add_special, true)}});
    });
    route(svr, st, "/detokenize", "POST", [&st](const httplib::Request& req, httplib::Response& res) {
        const ojson body = parse_body(req);
        if (!body.is_object() || !body.contains("tokens") || !body["tokens"].is_array())
            bad_request("tokens", "must be a list of token ids");
        std::vector<int32_t> ids;
        for (const auto& v : body["tokens"]) {
            if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= st.tok->n_vocab())
                bad_request("tokens", "must hold token ids of this model (0.." + std::to_string(st.tok->n_vocab() - 1) + ")");
            ids.push_back(int32_t(v.get<int64_t>()));
        }
        send_json(res, 200, {{"content", st.tok->decode(ids)}});
    });
    // The prompt's token ids as the engine would prefill them (vLLM's render
    // routes), for routers that hash prompts into KV blocks themselves.
    route(svr, st, "/v1/completions/render", "POST", [&st](const httplib::Request& req, httplib::Response& res) {
        const ojson body = parse_body(req);
        if (!body.is_object()) bad_request("", "the request body must be a JSON object");
        ojson out = ojson::array();
        for (const std::vector<int32_t>& ids : parse_prompts(body, *st.tok))
            out.push_back({{"token_ids", ids}, {"prompt", st.tok->decode(ids)}});
        send_json(res, 200, out);
    });
    route(svr, st, "/v1/chat/completions/render", "POST", [&st](const httplib::Request& req, httplib::Response& res) {
        const ojson body = parse_body(req);
        if (!body.is_object()) bad_request("", "the request body must be a JSON object");
        const ChatPrompt p = chat_prompt(st, body);
        if (p.ids.empty()) bad_request("messages", "the rendered conversation is empty");
        send_json(res, 200, {{"token_ids", p.ids}, {"prompt", p.text}, {"model", st.opts.model_id}});
    });
    route(svr, st, "/metrics", "GET", [&st](const httplib::Request&, httplib::Response& res) {
        res.set_content(st.metrics.render(st.engine->stats(), st.opts.model_id), "text/plain; version=0.0.4");
    });
    route(svr, st, "/openapi.json", "GET", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(kOpenApiSpec, "application/json");
    });

    if (!svr.bind_to_port(o.host, o.port)) {
        std::fprintf(stderr, "qlm serve: cannot listen on %s:%d (in use, or not an address of this machine)\n",
                     o.host.c_str(), o.port);
        return 1;
    }
    // The first signal drains: /ready turns 503, new generation requests get
    // 503 + Retry-After, the requests in flight finish (or, after
    // --drain-timeout seconds, end with an error and free their blocks), then
    // the server stops and serve() returns 0. A second signal exits at once.
    std::thread signals([&] {
        int sig = 0;
        sigwait(&sigs, &sig);
        if (st.stopping.load()) return;  // the server stopped on its own
        using sclock = std::chrono::steady_clock;
        if (st.ready.load()) {
            st.draining = true;
            std::fprintf(stderr, "qlm serve: signal %d: draining %d requests in flight (at most %d s)\n", sig,
                         st.in_flight.load(), o.drain_timeout_s);
            const auto deadline = sclock::now() + std::chrono::seconds(o.drain_timeout_s);
            sclock::time_point hard{};
            for (;;) {
                const timespec poll = {0, 20 * 1000 * 1000};
                const int again = sigtimedwait(&sigs, nullptr, &poll);
                if (again > 0) {
                    std::fprintf(stderr, "qlm serve: signal %d again: exiting now\n", again);
                    std::fflush(stderr);
                    std::_Exit(128 + again);
                }
                if (st.in_flight.load() == 0) break;
                if (!st.drain_expired.load() && sclock::now() >= deadline) {
                    std::fprintf(stderr, "qlm serve: drain timeout: ending %d requests with an error\n",
                                 st.in_flight.load());
                    st.drain_expired = true;
                    hard = sclock::now() + std::chrono::seconds(5);
                }
                if (st.drain_expired.load() && sclock::now() >= hard) break;  // writes that never end
            }
            std::fprintf(stderr, "qlm serve: drained, stopping\n");
        } else {
            std::fprintf(stderr, "qlm serve: signal %d while loading, stopping\n", sig);
        }
        st.stopping = true;
        svr.stop();
        // An idle keep-alive connection holds its HTTP worker until its
        // keep-alive timeout; every response is written by now, so such
        // connections are closed by exiting (after the KV events are sent).
        const auto until = sclock::now() + std::chrono::seconds(1);
        while (!st.http_stopped.load() && sclock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (st.http_stopped.load()) return;
        std::fprintf(stderr, "qlm serve: closing idle keep-alive connections, exit 0\n");
        if (st.kv_events) st.kv_events->flush(std::chrono::seconds(2));
        std::fflush(stderr);
        std::_Exit(st.ready.load() ? 0 : 1);
    });
    std::thread engine_thread([&] {
        load(st);
        if (st.ready) st.engine_loop();
    });
    svr.listen_after_bind();
    st.http_stopped = true;
    st.stopping = true;
    st.kick();
    engine_thread.join();
    if (signals.joinable()) {
        pthread_kill(signals.native_handle(), SIGTERM);
        signals.join();
    }
    st.engine.reset();
    st.kv_events.reset();  // sends what is queued
    return st.ready ? 0 : 1;
}

}  // namespace qlm::server
