// qlm bench model -m FILE — prompt processing (pp: one batch of n_prompt
// tokens from an empty cache) and generation (tg: n_gen single-token steps),
// tokens/s averaged over repetitions, like llama-bench's pp512 / tg128.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "commands.h"
#include "model_common.h"
#include "qlm/model.h"
#include "bench_profile.h"

namespace qlm::cli {

namespace {

struct BenchModelOpts {
    std::string model, isa, kv_type = "f16";
    std::string backend = "cpu";
    int64_t n_prompt = 512, n_gen = 128;
    int reps = 3, threads = 0;
    bool json = false, profile = false;
};

struct Stat {
    double mean = 0, sd = 0;
};
Stat stats(const std::vector<double>& v) {
    Stat s;
    for (double x : v) s.mean += x;
    s.mean /= double(v.size());
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0;
    return s;
}

int bench_model(const BenchModelOpts& o) {
    if (o.reps < 1) fail("--reps must be >= 1");
    if (o.n_prompt < 0 || o.n_gen < 0) fail("-p and -n must be >= 0");
    StartupOptions start_opts = startup_options(o);
    start_opts.tokenizer = false;  // random tokens
    Started st = start(start_opts);
    auto& ctx = st.ctx;
    auto& model = st.model;
    const int64_t n_vocab = model->config().n_vocab;
    SessionOptions so;
    so.n_ctx = std::max<int64_t>(o.n_prompt + o.n_gen, 1);
    so.n_batch = std::max<int64_t>(o.n_prompt, 1);
    so.kv_type = kv_type_from_name(o.kv_type);
    Session session(*model, *ctx, so);
    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> pick(0, int32_t(n_vocab - 1));
    std::vector<float> logits(static_cast<size_t>(n_vocab));
    auto now = [] { return std::chrono::steady_clock::now(); };
    auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };

    std::vector<double> pp, tg;
    PhaseProfile pp_prof, tg_prof;
    // One untimed warm-up of each kind, then the timed repetitions.
    for (int r = -1; r < o.reps; ++r) {
        if (o.n_prompt > 0) {
            std::vector<int32_t> ids(static_cast<size_t>(o.n_prompt));
            for (auto& t : ids) t = pick(rng);
            session.reset();
            set_profiling(*ctx, o.profile && r >= 0);
            const auto t0 = now();
            session.eval(ids, logits.data());
            const double s = secs(t0, now());
            if (r >= 0) pp.push_back(double(o.n_prompt) / s);
            if (o.profile && r >= 0) pp_prof.take(*ctx, s);
        }
        if (o.n_gen > 0) {
            session.reset();
            set_profiling(*ctx, o.profile && r >= 0);
            int32_t id = pick(rng);
            const auto t0 = now();
            for (int64_t i = 0; i < o.n_gen; ++i) {
                session.eval({&id, 1}, logits.data());
                id = pick(rng);
            }
            const double s = secs(t0, now());
            if (r >= 0) tg.push_back(double(o.n_gen) / s);
            if (o.profile && r >= 0) tg_prof.take(*ctx, s);
        }
    }
    const ModelConfig& c = model->config();
    const double size_mib = mib(double(model->weight_bytes()));
    if (o.json) {
        nlohmann::json j = {{"model", o.model},
                            {"arch", c.arch_name},
                            {"weights_mib", size_mib},
                            {"threads", ctx->threads()},
                            {"isa", isa_name(ctx->isa())},
                            {"reps", o.reps}};
        if (!pp.empty()) j["pp"] = {{"tokens", o.n_prompt}, {"tokens_per_s", stats(pp).mean}, {"sd", stats(pp).sd}, {"runs", pp}};
        if (!tg.empty()) j["tg"] = {{"tokens", o.n_gen}, {"tokens_per_s", stats(tg).mean}, {"sd", stats(tg).sd}, {"runs", tg}};
        if (pp_prof.runs) j["pp"]["profile"] = profile_json(pp_prof);
        if (tg_prof.runs) j["tg"]["profile"] = profile_json(tg_prof);
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("| model | arch | size (MiB) | threads | isa | test | tokens/s |\n|---|---|---|---|---|---|---|\n");
    auto row = [&](const char* test, int64_t n, const std::vector<double>& v) {
        const Stat s = stats(v);
        std::printf("| %s | %s | %.1f | %d | %s | %s%lld | %.2f ± %.2f |\n", o.model.c_str(), c.arch_name.c_str(),
                    size_mib, ctx->threads(), isa_name(ctx->isa()), test, (long long)n, s.mean, s.sd);
    };
    if (!pp.empty()) row("pp", o.n_prompt, pp);
    if (!tg.empty()) row("tg", o.n_gen, tg);
    print_profile(cat("pp", o.n_prompt), pp_prof);
    print_profile(cat("tg", o.n_gen), tg_prof);
    return 0;
}

}  // namespace

Command add_bench_model(CLI::App& bench) {
    auto o = std::make_shared<BenchModelOpts>();
    auto* sub = bench.add_subcommand("model", "prompt processing and generation tokens/s of a model (like llama-bench)");
    sub->add_option("-m,--model", o->model, "GGUF model")->required();
    sub->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens (0: skip)")->capture_default_str();
    sub->add_option("-n,--n-gen", o->n_gen, "generated tokens (0: skip)")->capture_default_str();
    sub->add_option("-r,--reps", o->reps, "timed repetitions")->capture_default_str();
    sub->add_option("-t,--threads", o->threads, "threads (default: physical cores)");
    sub->add_option("--kv-type", o->kv_type, "KV cache type (f16, f32)")->capture_default_str();
    sub->add_option("--isa", o->isa, "force an instruction set (scalar, avx2, avx512, neon)");
    add_backend_option(*sub, o->backend);
    sub->add_flag("--json", o->json, "print one JSON document");
    sub->add_flag("--profile", o->profile,
                  "per-op time table of the timed runs (each matmul by weight, type, shape and path; attention, "
                  "norms, RoPE, activations, quantization, KV store; the rest)");
    return [o]() { return bench_model(*o); };
}

}  // namespace qlm::cli
