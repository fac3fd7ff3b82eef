// qlm run -m FILE -p PROMPT — generates text through the batching engine (one
// sequence): streams it to stdout, then a
// stats line (load time, prompt and generation tokens/s) to stderr. With
// --json, prints one JSON object instead (token ids, text, stats).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "model_common.h"
#include "qlm/engine.h"
#include "qlm/model.h"
#include "qlm/sampler.h"
#include "qlm/tokenizer.h"

namespace qlm::cli {

namespace {

struct RunOpts {
    std::string model, prompt, prompt_file, isa, kv_type = "f16";
    std::string backend = "cpu";
    int64_t n_predict = 128, n_ctx = 4096, n_batch = 512;
    int threads = 0;
    SamplerOptions sampling;
    int64_t seed = -1;
    bool json = false, no_warm = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run(RunOpts& o) {
    if (!o.prompt_file.empty()) {
        std::ifstream in(o.prompt_file, std::ios::binary);
        if (!in) fail(o.prompt_file, ": cannot open");
        std::ostringstream ss;
        ss << in.rdbuf();
        o.prompt = ss.str();
    }
    if (o.n_predict < 0) fail("-n must be >= 0, got ", o.n_predict);
    StartupOptions start_opts = startup_options(o);
    start_opts.load.progress = !o.json;
    start_opts.load.prefault = !o.no_warm;
    Started st = start(start_opts);
    auto& ctx = st.ctx;
    auto& model = st.model;
    const Tokenizer& tok = *st.tok;
    // One sequence through the batching engine (the server's code path).
    EngineOptions eo;
    eo.n_ctx = o.n_ctx;
    eo.step_tokens = o.n_batch;
    eo.kv_type = kv_type_from_name(o.kv_type);
    eo.max_running = 1;
    Engine engine(*model, *ctx, eo);
    if (!o.json)
        std::fprintf(stderr, "qlm: %s (%s, %lld layers), weights %.1f MiB mapped, KV cache %.1f MiB (%lld positions), "
                             "load %.2f s, %d threads, %s\n",
                     o.model.c_str(), model->config().arch_name.c_str(), (long long)model->config().n_layer,
                     mib(double(model->weight_bytes())), mib(double(engine.kv_bytes())), (long long)engine.n_ctx(),
                     model->load_seconds(), ctx->threads(), isa_name(ctx->isa()));

    const std::vector<int32_t> prompt = tok.encode(o.prompt, true, true);
    if (prompt.empty()) fail("the prompt is empty and the model adds no BOS token: nothing to continue from");
    if (int64_t(prompt.size()) >= engine.n_ctx())
        fail("the prompt has ", prompt.size(), " tokens, more than the context size ", engine.n_ctx(), " allows (-c)");
    o.sampling.seed = o.seed >= 0 ? uint64_t(o.seed) : std::random_device{}();

    Detokenizer detok(tok);
    if (!o.json) {
        std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
        std::fflush(stdout);
    }
    std::vector<int32_t> generated;
    std::string text;
    std::string stop = "length";
    auto t0 = std::chrono::steady_clock::now();
    double t_prompt = 0;
    Request req;
    req.prompt = prompt;
    req.max_tokens = o.n_predict;
    req.sampling = o.sampling;
    req.stop_tokens = tok.eog_ids();
    req.on_event = [&](const EngineEvent& ev) {
        if (ev.token >= 0) {
            if (generated.empty()) {
                t_prompt = seconds_since(t0);
                t0 = std::chrono::steady_clock::now();
            }
            generated.push_back(ev.token);
            const std::string piece = detok.push(ev.token);
            text += piece;
            if (!o.json) {
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
            }
        }
        if (ev.finish == FinishReason::Stop) stop = "eog";
        if (ev.finish == FinishReason::Length && int64_t(generated.size()) < o.n_predict) stop = "context";
    };
    engine.submit(std::move(req));
    engine.run_until_idle();
    if (generated.empty()) {
        t_prompt = seconds_since(t0);
        t0 = std::chrono::steady_clock::now();
    }
    const double t_gen = seconds_since(t0);
    const std::string rest = detok.flush();
    text += rest;
    // Tokens evaluated during generation: every generated token except the last.
    const int64_t n_gen_eval = generated.empty() ? 0 : int64_t(generated.size()) - (stop == "eog" ? 0 : 1);
    const double gen_tps = n_gen_eval > 0 && t_gen > 0 ? double(n_gen_eval) / t_gen : 0.0;
    const double prompt_tps = t_prompt > 0 ? double(prompt.size()) / t_prompt : 0.0;
    if (o.json) {
        nlohmann::json j;
        j["prompt_tokens"] = prompt;
        j["tokens"] = generated;
        j["text"] = text;
        j["stop"] = stop;
        j["stats"] = {{"load_s", model->load_seconds()},
                      {"prompt_tokens", prompt.size()},
                      {"prompt_s", t_prompt},
                      {"prompt_tokens_per_s", prompt_tps},
                      {"generated_tokens", generated.size()},
                      {"generation_s", t_gen},
                      {"generation_tokens_per_s", gen_tps},
                      {"seed", o.sampling.seed},
                      {"threads", ctx->threads()},
                      {"isa", isa_name(ctx->isa())}};
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        std::fwrite(rest.data(), 1, rest.size(), stdout);
        std::printf("\n");
        std::fflush(stdout);
        std::fprintf(stderr,
                     "qlm: load %.2f s | prompt %zu tokens, %.1f tokens/s | generation %zu tokens, %.1f tokens/s | "
                     "stop: %s | seed %llu\n",
                     model->load_seconds(), prompt.size(), prompt_tps, generated.size(), gen_tps, stop.c_str(),
                     (unsigned long long)o.sampling.seed);
    }
    return 0;
}

}  // namespace

Command add_run(CLI::App& app) {
    auto o = std::make_shared<RunOpts>();
    auto* sub = app.add_subcommand("run", "Generate text from a prompt");
    sub->add_option("-m,--model", o->model, "GGUF model")->required();
    auto* p = sub->add_option("-p,--prompt", o->prompt, "prompt text (special tokens like <start_of_turn> are parsed)");
    auto* f = sub->add_option("-f,--file", o->prompt_file, "read the prompt from a file");
    p->excludes(f);
    sub->add_option("-n,--n-predict", o->n_predict, "tokens to generate")->capture_default_str();
    sub->add_option("-c,--ctx-size", o->n_ctx, "context size (KV cache positions)")->capture_default_str();
    sub->add_option("-b,--batch-size", o->n_batch, "prompt tokens per forward chunk")->capture_default_str();
    sub->add_option("-t,--threads", o->threads, "threads (default: physical cores)");
    sub->add_option("--kv-type", o->kv_type, "KV cache type (f16, f32)")->capture_default_str();
    add_sampling_options(*sub, o->sampling);
    sub->add_option("--repeat-penalty", o->sampling.repeat_penalty, "repetition penalty (1: off)")->capture_default_str();
    sub->add_option("--repeat-last-n", o->sampling.repeat_last_n, "tokens the penalty looks back")->capture_default_str();
    sub->add_option("--seed", o->seed, "random seed (default: random, printed in the stats)");
    sub->add_option("--isa", o->isa, "force an instruction set (scalar, avx2, avx512, neon)");
    add_backend_option(*sub, o->backend);
    sub->add_flag("--json", o->json, "print one JSON object (token ids, text, stats) instead of streaming");
    sub->add_flag("--no-warm", o->no_warm, "do not page the weights in at load time");
    return [o]() { return run(*o); };
}

}  // namespace qlm::cli
