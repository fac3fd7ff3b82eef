// qlm perplexity -m FILE -f TEXT [-c 512] [--chunks N] — perplexity over a
// text with llama-perplexity's conventions (qlm/perplexity.h): a progress line
// per chunk with the running estimate on stderr, the final estimate on stdout
// (or one JSON object with --json). --save-logits FILE writes the base file of
// KL-divergence mode; --kl-base FILE compares this model against one.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "model_common.h"
#include "qlm/model.h"
#include "qlm/perplexity.h"
#include "qlm/tokenizer.h"

namespace qlm::cli {

namespace {

struct PplOpts {
    std::string model, text_file, isa, kv_type = "f16", save_logits, kl_base;
    std::string backend = "cpu";
    int64_t n_ctx = 512, n_chunks = -1, n_batch = 512;
    int threads = 0, top_k = 1024;
    bool json = false, ctx_given = false, top_k_given = false;
};

std::string read_text(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(path, ": is a directory, not a text file (-f)");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, ": cannot open the text file (-f)");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

nlohmann::json kl_json(const ppl::KlSummary& s) {
    auto me = [](const ppl::MeanErr& m) { return nlohmann::json{{"mean", m.mean}, {"err", m.err}}; };
    return {{"positions", s.count},
            {"ppl", me(s.ppl)},
            {"ppl_base", me(s.ppl_base)},
            {"log_ppl_cor", s.log_ppl_cor},
            {"log_ppl_ratio", me(s.log_ppl_ratio)},
            {"ppl_ratio", {{"mean", s.ppl_ratio}, {"err", s.ppl_ratio_err}}},
            {"ppl_diff", {{"mean", s.ppl_diff}, {"err", s.ppl_diff_err}}},
            {"kld", me(s.kld)},
            {"kld_percentiles",
             {{"max", s.kld_max}, {"99.9", s.kld_p999}, {"99", s.kld_p99}, {"95", s.kld_p95}, {"90", s.kld_p90},
              {"50", s.kld_median}, {"10", s.kld_p10}, {"5", s.kld_p05}, {"1", s.kld_p01}, {"min", s.kld_min}}},
            {"p_diff", me(s.p_diff)},
            {"p_diff_percentiles",
             {{"max", s.p_diff_max}, {"99", s.p_diff_p99}, {"95", s.p_diff_p95}, {"90", s.p_diff_p90},
              {"50", s.p_diff_median}, {"10", s.p_diff_p10}, {"5", s.p_diff_p05}, {"1", s.p_diff_p01},
              {"min", s.p_diff_min}}},
            {"p_diff_rms", me(s.p_diff_rms)},
            {"same_top", me(s.same_top)}};
}

void print_kl(const ppl::KlSummary& s, int top_k) {
    std::printf("====== Perplexity statistics ======\n");
    std::printf("Mean PPL(Q)                   : %10.6f ± %10.6f\n", s.ppl.mean, s.ppl.err);
    std::printf("Mean PPL(base)                : %10.6f ± %10.6f\n", s.ppl_base.mean, s.ppl_base.err);
    std::printf("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", 100.0 * s.log_ppl_cor);
    std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", s.log_ppl_ratio.mean, s.log_ppl_ratio.err);
    std::printf("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", s.ppl_ratio, s.ppl_ratio_err);
    std::printf("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n\n", s.ppl_diff, s.ppl_diff_err);
    std::printf("====== KL divergence statistics (base's top %d + rest) ======\n", top_k);
    std::printf("Mean    KLD: %10.6f ± %10.6f\n", s.kld.mean, s.kld.err);
    std::printf("Maximum KLD: %10.6f\n", s.kld_max);
    std::printf("99.9%%   KLD: %10.6f\n", s.kld_p999);
    std::printf("99.0%%   KLD: %10.6f\n", s.kld_p99);
    std::printf("95.0%%   KLD: %10.6f\n", s.kld_p95);
    std::printf("90.0%%   KLD: %10.6f\n", s.kld_p90);
    std::printf("Median  KLD: %10.6f\n", s.kld_median);
    std::printf("10.0%%   KLD: %10.6f\n", s.kld_p10);
    std::printf(" 5.0%%   KLD: %10.6f\n", s.kld_p05);
    std::printf(" 1.0%%   KLD: %10.6f\n", s.kld_p01);
    std::printf("Minimum KLD: %10.6f\n\n", s.kld_min);
    std::printf("====== Token probability statistics ======\n");
    std::printf("Mean    Δp: %6.3f ± %5.3f %%\n", 100 * s.p_diff.mean, 100 * s.p_diff.err);
    std::printf("Maximum Δp: %6.3f%%\n", 100 * s.p_diff_max);
    std::printf("99.0%%   Δp: %6.3f%%\n", 100 * s.p_diff_p99);
    std::printf("95.0%%   Δp: %6.3f%%\n", 100 * s.p_diff_p95);
    std::printf("90.0%%   Δp: %6.3f%%\n", 100 * s.p_diff_p90);
    std::printf("Median  Δp: %6.3f%%\n", 100 * s.p_diff_median);
    std::printf("10.0%%   Δp: %6.3f%%\n", 100 * s.p_diff_p10);
    std::printf(" 5.0%%   Δp: %6.3f%%\n", 100 * s.p_diff_p05);
    std::printf(" 1.0%%   Δp: %6.3f%%\n", 100 * s.p_diff_p01);
    std::printf("Minimum Δp: %6.3f%%\n", 100 * s.p_diff_min);
    std::printf("RMS Δp    : %6.3f ± %5.3f %%\n", 100 * s.p_diff_rms.mean, 100 * s.p_diff_rms.err);
    std::printf("Same top p: %6.3f ± %5.3f %%\n", 100 * s.same_top.mean, 100 * s.same_top.err);
}

int run(PplOpts& o) {
    if (!o.save_logits.empty() && !o.kl_base.empty())
        fail("--save-logits and --kl-base exclude each other: save a base with one model, compare with another");
    const std::string text_all = read_text(o.text_file);
    const std::string_view text = ppl::strip_trailing_newline(text_all);

    // The base file first: a bad one is reported before the model loads.
    std::unique_ptr<ppl::KlBaseReader> base;
    if (!o.kl_base.empty()) {
        base = std::make_unique<ppl::KlBaseReader>(o.kl_base);
        if (!o.ctx_given) o.n_ctx = base->header().n_ctx;
    }

    StartupOptions start_opts = startup_options(o);
    start_opts.load.progress = !o.json;
    Started st = start(start_opts);
    auto& ctx = st.ctx;
    auto& model = st.model;
    const Tokenizer& tok = *st.tok;

    ppl::RunOptions ro;
    ro.n_ctx = o.n_ctx;
    ro.n_batch = o.n_batch;
    ro.n_chunks = o.n_chunks;
    ro.top_k = o.top_k_given ? o.top_k : -1;
    ro.save_logits = o.save_logits;
    ro.model_name = std::filesystem::path(o.model).filename().string();
    ro.text_name = o.text_file;
    ro.kl_base_path = o.kl_base;
    ro.kv_type = int(kv_type_from_name(o.kv_type));
    auto on_start = [&](const ppl::RunInfo& i) {
        if (o.json) return;
        if (i.chunks_lowered_from > 0)
            std::fprintf(stderr, "qlm: %s holds %u chunks; --chunks %lld lowered to it\n", o.kl_base.c_str(),
                         base->header().n_chunks, (long long)i.chunks_lowered_from);
        std::fprintf(stderr,
                     "qlm: %s (%s), %s: %zu bytes, %zu tokens (tokenized in %.2f s); %lld chunks of %lld tokens, "
                     "%lld scored per chunk, batch %lld, %d threads, %s\n",
                     o.model.c_str(), model->config().arch_name.c_str(), o.text_file.c_str(), i.text_bytes,
                     i.n_tokens, i.tokenize_s, (long long)i.n_chunks, (long long)i.n_ctx, (long long)i.n_scored,
                     (long long)i.n_batch, i.threads, isa_name(ctx->isa()));
        if (!o.save_logits.empty())
            std::fprintf(stderr, "qlm: saving the base's top-%d log-probs to %s (%.1f MiB)\n", i.top_k,
                         o.save_logits.c_str(), mib(double(i.base_file_bytes)));
        if (base)
            std::fprintf(stderr, "qlm: KL divergence against %s (base model %s, top-%u + rest)\n", o.kl_base.c_str(),
                         base->header().model.c_str(), base->header().top_k);
    };
    auto on_chunk = [&](const ppl::ChunkProgress& p) {
        if (o.json) return;
        std::fprintf(stderr, "[%lld/%lld] PPL %.4f ± %.4f", (long long)p.chunk, (long long)p.n_chunks, p.ppl->ppl(),
                     p.ppl->ppl_err());
        if (p.kl) {
            const auto s = p.kl->summary();
            std::fprintf(stderr, " | KLD %.6f ± %.6f | same top %.2f%%", s.kld.mean, s.kld.err, 100 * s.same_top.mean);
        }
        std::fprintf(stderr, " | %.1f tokens/s\n", double(p.chunk * o.n_ctx) / p.elapsed_s);
    };
    const ppl::RunResult r = ppl::run(*model, *ctx, tok, text, ro, base.get(), on_start, on_chunk);
    const ppl::RunInfo& info = r.info;
    const double tps = r.total_s > 0 ? double(info.n_chunks * info.n_ctx) / r.total_s : 0.0;

    if (o.json) {
        nlohmann::json j;
        j["model"] = o.model;
        j["text_file"] = o.text_file;
        j["text_bytes"] = info.text_bytes;
        j["text_fnv1a64"] = cat(std::hex, info.text_hash);
        j["n_tokens"] = info.n_tokens;
        j["n_ctx"] = info.n_ctx;
        j["n_batch"] = info.n_batch;
        j["chunks"] = info.n_chunks;
        j["scored_tokens"] = r.acc.count;
        j["ppl"] = r.acc.ppl();
        j["ppl_err"] = r.acc.ppl_err();
        j["mean_nll"] = r.acc.count ? r.acc.nll / double(r.acc.count) : 0.0;
        j["chunk_ppl"] = r.chunk_ppl;
        j["stats"] = {{"load_s", model->load_seconds()}, {"tokenize_s", info.tokenize_s}, {"seconds", r.total_s},
                      {"eval_s", r.eval_s}, {"score_s", r.score_s}, {"tokens_per_s", tps},
                      {"threads", info.threads}, {"isa", isa_name(ctx->isa())}};
        if (!o.save_logits.empty()) j["saved_logits"] = {{"file", o.save_logits}, {"top_k", info.top_k}};
        if (r.has_kl) j["kl"] = kl_json(r.kl);
        if (r.has_kl) j["kl"]["base_top_k"] = base->header().top_k;
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return 0;
    }
    std::fprintf(stderr, "qlm: %lld chunks, %llu scored tokens in %.2f s: %.1f tokens/s (forward %.2f s, scoring %.2f s)\n",
                 (long long)info.n_chunks, (unsigned long long)r.acc.count, r.total_s, tps, r.eval_s, r.score_s);
    if (r.has_kl) print_kl(r.kl, int(base->header().top_k));
    std::printf("Final estimate: PPL = %.4f +/- %.5f\n", r.acc.ppl(), r.acc.ppl_err());
    return 0;
}

}  // namespace

Command add_perplexity(CLI::App& app) {
    auto o = std::make_shared<PplOpts>();
    auto* sub = app.add_subcommand("perplexity", "Perplexity and KL divergence over a text (llama-perplexity's conventions)");
    sub->add_option("-m,--model", o->model, "GGUF model")->required();
    sub->add_option("-f,--file", o->text_file, "UTF-8 text file")->required();
    auto* c = sub->add_option("-c,--ctx-size", o->n_ctx, "tokens per chunk (the second half is scored)")
                  ->capture_default_str();
    sub->add_option("--chunks", o->n_chunks, "chunks to evaluate (default: all)");
    sub->add_option("-b,--batch-size", o->n_batch, "tokens per forward chunk")->capture_default_str();
    sub->add_option("-t,--threads", o->threads, "threads (default: physical cores)");
    sub->add_option("--kv-type", o->kv_type, "KV cache type (f16, f32)")->capture_default_str();
    sub->add_option("--isa", o->isa, "force an instruction set (scalar, avx2, avx512, neon)");
    add_backend_option(*sub, o->backend);
    sub->add_option("--save-logits", o->save_logits, "write the base file of KL-divergence mode");
    sub->add_option("--kl-base", o->kl_base, "compare against a base file (KL divergence, top-1 agreement, Δp)");
    auto* k = sub->add_option("--kl-top-k", o->top_k, "log-probs kept per position by --save-logits")
                  ->capture_default_str();
    sub->add_flag("--json", o->json, "print one JSON object instead of the report");
    return [o, c, k]() {
        o->ctx_given = c->count() > 0;
        o->top_k_given = k->count() > 0;
        return run(*o);
    };
}

}  // namespace qlm::cli
