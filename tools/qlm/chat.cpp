// qlm chat -m FILE — a conversation in the terminal through the model's chat
// template (or --chat-template FILE; ChatML when the model has none), on the
// batching engine: each turn's prompt starts with the previous turns, so
// their KV blocks come from the prefix cache and only the new turn is
// prefilled. A line "/exit" (or end of input) ends it; "/reset" forgets the
// conversation.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "commands.h"
#include "model_common.h"
#include "qlm/engine.h"
#include "qlm/template.h"
#include "qlm/tokenizer.h"

namespace qlm::cli {

namespace {

struct ChatOpts {
    std::string model, isa, kv_type = "f16", chat_template, system;
    std::string backend = "cpu";
    int64_t n_predict = 512, n_ctx = 4096;
    int threads = 0;
    SamplerOptions sampling;
    int64_t seed = -1;
};

int chat(ChatOpts& o) {
    StartupOptions start_opts = startup_options(o);
    start_opts.chat_template = true;
    start_opts.chat_template_file = o.chat_template;
    Started st = start(start_opts);
    auto& ctx = st.ctx;
    auto& model = st.model;
    const Tokenizer& tok = *st.tok;
    const ChatTemplate& tmpl = *st.chat;
    EngineOptions eo;
    eo.n_ctx = o.n_ctx;
    eo.kv_tokens = 2 * o.n_ctx;
    eo.kv_type = kv_type_from_name(o.kv_type);
    eo.max_running = 1;
    Engine engine(*model, *ctx, eo);
    const std::string bos = tok.bos() != Tokenizer::kNone ? tok.token_text(tok.bos()) : "";
    const std::string eos = tok.eos() != Tokenizer::kNone ? tok.token_text(tok.eos()) : "";
    o.sampling.seed = o.seed >= 0 ? uint64_t(o.seed) : std::random_device{}();
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (!o.system.empty()) messages.push_back({{"role", "system"}, {"content", o.system}});
    std::fprintf(stderr, "qlm chat: %s, context %lld; /reset forgets, /exit ends\n", o.model.c_str(),
                 (long long)engine.n_ctx());
    std::string line;
    while (true) {
        std::fprintf(stderr, "> ");
        if (!std::getline(std::cin, line) || line == "/exit") break;
        if (line == "/reset") {
            messages.erase(messages.begin() + (o.system.empty() ? 0 : 1), messages.end());
            continue;
        }
        if (line.empty()) continue;
        messages.push_back({{"role", "user"}, {"content", line}});
        const std::string text = apply_chat_template(tmpl, messages, true, bos, eos);
        const std::vector<int32_t> prompt = tok.encode_chat(text);
        if (int64_t(prompt.size()) >= engine.n_ctx()) {
            std::fprintf(stderr, "qlm chat: the conversation (%zu tokens) is over the context; /reset\n", prompt.size());
            messages.erase(messages.end() - 1);
            continue;
        }
        Request r;
        r.prompt = prompt;
        r.max_tokens = std::min<int64_t>(o.n_predict, engine.n_ctx() - int64_t(prompt.size()));
        r.sampling = o.sampling;
        r.sampling.seed += messages.size();
        r.stop_tokens = tok.eog_ids();
        Detokenizer detok(tok);
        std::string answer;
        int64_t cached = 0, n = 0;
        const auto t0 = std::chrono::steady_clock::now();
        r.on_event = [&](const EngineEvent& ev) {
            cached = ev.cached_tokens;
            if (ev.token >= 0) {
                ++n;
                const std::string piece = detok.push(ev.token);
                answer += piece;
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
            }
        };
        engine.submit(std::move(r));
        engine.run_until_idle();
        const std::string rest = detok.flush();
        answer += rest;
        std::printf("%s\n", rest.c_str());
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "qlm chat: prompt %zu tokens (%lld from the prefix cache), %lld generated, %.1f tokens/s\n",
                     prompt.size(), (long long)cached, (long long)n, s > 0 ? double(n) / s : 0.0);
        messages.push_back({{"role", "assistant"}, {"content", answer}});
    }
    return 0;
}

}  // namespace

Command add_chat(CLI::App& app) {
    auto o = std::make_shared<ChatOpts>();
    auto* sub = app.add_subcommand("chat", "Talk to a model in the terminal, through its chat template");
    sub->add_option("-m,--model", o->model, "GGUF model")->required();
    sub->add_option("--chat-template", o->chat_template, "Jinja chat template file (overrides the model's)");
    sub->add_option("--system", o->system, "a system message to start with");
    sub->add_option("-n,--n-predict", o->n_predict, "most tokens per answer")->capture_default_str();
    sub->add_option("-c,--ctx-size", o->n_ctx, "context size")->capture_default_str();
    sub->add_option("-t,--threads", o->threads, "threads (default: physical cores)");
    sub->add_option("--kv-type", o->kv_type, "KV cache type (f16, f32)")->capture_default_str();
    add_sampling_options(*sub, o->sampling);
    sub->add_option("--seed", o->seed, "random seed");
    sub->add_option("--isa", o->isa, "force an instruction set (scalar, avx2, avx512, neon)");
    add_backend_option(*sub, o->backend);
    return [o]() { return chat(*o); };
}

}  // namespace qlm::cli
