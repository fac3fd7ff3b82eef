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
#include <thread>
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
    int64_t n_ctx = 512, n_chunks = -1, n_batch = 512;
    int threads = 0, top_k = 1024;
    bool json = false, ctx_given = false, top_k_given = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string read_text(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(path, ": is a directory, not a text file (-f)");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, ": cannot open the text file (-f)");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs fn(i) for i in [0, n) on `threads` threads (rows are independent).
template <typename F>
void parallel_rows(int64_t n, int threads, F&& fn) {
    const int t = int(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
    if (t == 1) {
        for (int64_t i = 0; i < n; ++i) fn(i);
        return;
    }
    std::vector<std::thread> pool;
    for (int w = 0; w < t; ++w)
        pool.emplace_back([&, w] {
            for (int64_t i = w; i < n; i += t) fn(i);
        });
    for (auto& th : pool) th.join();
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
    if (o.n_ctx < 4) fail("-c must be at least 4 (half of each chunk is context, half is scored), got ", o.n_ctx);
    if (o.n_batch < 1) fail("-b must be at least 1, got ", o.n_batch);
    const std::string text_all = read_text(o.text_file);
    const std::string_view text = ppl::strip_trailing_newline(text_all);

    // The base file first: a bad one is reported before the model loads.
    std::unique_ptr<ppl::KlBaseReader> base;
    if (!o.kl_base.empty()) {
        base = std::make_unique<ppl::KlBaseReader>(o.kl_base);
        if (!o.ctx_given) o.n_ctx = base->header().n_ctx;
    }

    auto ctx = make_context(o.threads, o.isa);
    LoadOptions lo;
    lo.progress = !o.json;
    auto model = Model::load(o.model, lo);
    const Tokenizer tok = Tokenizer::from_gguf(model->gguf());
    const int64_t n_vocab = model->config().n_vocab;
    if (tok.n_vocab() != n_vocab)
        fail(o.model, ": the tokenizer has ", tok.n_vocab(), " tokens but token_embd.weight has ", n_vocab, " rows");
    if (!o.top_k_given) o.top_k = int(std::min<int64_t>(o.top_k, n_vocab));  // the default, for small vocabularies
    if (o.top_k < 1 || o.top_k > n_vocab) fail("--kl-top-k must be in 1..", n_vocab, ", got ", o.top_k);
    if (o.n_ctx > model->config().n_ctx_train)
        fail("-c ", o.n_ctx, " exceeds the context the model was trained for (", model->config().n_ctx_train,
             " tokens)");

    const auto t_tok = std::chrono::steady_clock::now();
    std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
    const double tokenize_s = seconds_since(t_tok);
    const int64_t c = o.n_ctx;
    const int64_t n_chunk_max = int64_t(tokens.size()) / c;
    if (n_chunk_max == 0)
        fail(o.text_file, ": the text has ", tokens.size(), " tokens, fewer than one chunk of -c ", c,
             " needs: use a longer text or a smaller -c");
    int64_t n_chunks = o.n_chunks > 0 ? std::min(o.n_chunks, n_chunk_max) : n_chunk_max;

    ppl::KlBaseHeader now;
    now.n_ctx = uint32_t(c);
    now.n_vocab = uint32_t(n_vocab);
    now.n_scored = uint32_t(ppl::scored_per_chunk(c));
    now.text_bytes = text.size();
    now.text_hash = ppl::fnv1a64(text.data(), text.size());
    now.tokenizer_hash = ppl::tokenizer_fingerprint(tok);
    now.top_k = uint32_t(o.top_k);
    now.model = std::filesystem::path(o.model).filename().string();
    if (base) {
        const auto& bh = base->header();
        now.n_chunks = bh.n_chunks;
        now.tokens_hash = int64_t(tokens.size()) >= int64_t(bh.n_chunks) * c
                              ? ppl::tokens_hash({tokens.data(), size_t(bh.n_chunks) * size_t(c)})
                              : ~bh.tokens_hash;
        ppl::check_kl_base(bh, now, o.kl_base);
        n_chunks = std::min<int64_t>(n_chunks, bh.n_chunks);
        if (o.n_chunks > int64_t(bh.n_chunks))
            std::fprintf(stderr, "qlm: %s holds %u chunks; --chunks %lld lowered to it\n", o.kl_base.c_str(),
                         bh.n_chunks, (long long)o.n_chunks);
    }
    std::unique_ptr<ppl::KlBaseWriter> writer;
    if (!o.save_logits.empty()) {
        now.n_chunks = uint32_t(n_chunks);
        now.tokens_hash = ppl::tokens_hash({tokens.data(), size_t(n_chunks) * size_t(c)});
        writer = std::make_unique<ppl::KlBaseWriter>(o.save_logits, now,
                                                     std::span<const int32_t>(tokens.data(), size_t(n_chunks * c)));
    }

    SessionOptions so;
    so.n_ctx = c;
    so.n_batch = o.n_batch;
    so.kv_type = kv_type_from_name(o.kv_type);
    Session session(*model, *ctx, so);
    if (session.n_ctx() < c)
        fail("-c ", c, " exceeds the context the model was trained for (", session.n_ctx(), " tokens)");
    const int threads = ctx->threads();
    const int64_t first = c / 2, n_scored = ppl::scored_per_chunk(c);
    const int32_t bos = tok.add_bos() ? tok.bos() : Tokenizer::kNone;
    if (!o.json) {
        std::fprintf(stderr,
                     "qlm: %s (%s), %s: %zu bytes, %zu tokens (tokenized in %.2f s); %lld chunks of %lld tokens, "
                     "%lld scored per chunk, batch %lld, %d threads, %s\n",
                     o.model.c_str(), model->config().arch_name.c_str(), o.text_file.c_str(), text.size(),
                     tokens.size(), tokenize_s, (long long)n_chunks, (long long)c, (long long)n_scored,
                     (long long)o.n_batch, threads, isa_name(ctx->isa()));
        if (writer)
            std::fprintf(stderr, "qlm: saving the base's top-%d log-probs to %s (%.1f MiB)\n", o.top_k,
                         o.save_logits.c_str(), mib(double(ppl::kl_base_file_size(now))));
        if (base)
            std::fprintf(stderr, "qlm: KL divergence against %s (base model %s, top-%u + rest)\n", o.kl_base.c_str(),
                         base->header().model.c_str(), base->header().top_k);
    }

    const int64_t piece = std::min(o.n_batch, c - first);
    std::vector<float> logits(size_t(piece) * size_t(n_vocab));
    std::vector<int32_t> chunk(static_cast<size_t>(c));
    std::vector<double> nll(static_cast<size_t>(piece));
    std::vector<ppl::BaseRow> rows(static_cast<size_t>(piece));
    std::vector<ppl::KlPosition> kl_rows(static_cast<size_t>(piece));
    ppl::PplAccumulator acc;
    ppl::KlAccumulator kl;
    std::vector<double> chunk_ppl;
    double eval_s = 0, score_s = 0;
    const auto t_all = std::chrono::steady_clock::now();
    for (int64_t ci = 0; ci < n_chunks; ++ci) {
        std::copy(tokens.begin() + ci * c, tokens.begin() + (ci + 1) * c, chunk.begin());
        if (bos != Tokenizer::kNone) chunk[0] = bos;
        session.reset();
        auto t0 = std::chrono::steady_clock::now();
        session.eval({chunk.data(), size_t(first)}, logits.data(), false);  // context half: no logits kept
        eval_s += seconds_since(t0);
        for (int64_t p0 = first; p0 < c; p0 += piece) {
            const int64_t m = std::min(piece, c - p0);
            t0 = std::chrono::steady_clock::now();
            session.eval({chunk.data() + p0, size_t(m)}, logits.data(), true);
            eval_s += seconds_since(t0);
            t0 = std::chrono::steady_clock::now();
            const int64_t ms = std::min(m, c - 1 - p0);  // the chunk's last position predicts nothing
            if (base)
                for (int64_t i = 0; i < ms; ++i) base->read_row(rows[size_t(i)]);
            parallel_rows(ms, threads, [&](int64_t i) {
                const float* x = logits.data() + size_t(i) * size_t(n_vocab);
                const int32_t next = tokens[size_t(ci * c + p0 + i + 1)];
                thread_local std::vector<float> scratch;
                scratch.resize(size_t(n_vocab));
                const ppl::RowStats st = ppl::row_stats(*ctx, x, n_vocab, scratch.data());
                nll[size_t(i)] = -ppl::log_prob(x, st, next);
                if (writer) ppl::make_base_row(x, n_vocab, st, o.top_k, next, rows[size_t(i)]);
                if (base) kl_rows[size_t(i)] = ppl::kl_position(rows[size_t(i)], x, n_vocab, st, next);
            });
            for (int64_t i = 0; i < ms; ++i) {
                acc.add(nll[size_t(i)]);
                if (writer) writer->write_row(rows[size_t(i)]);
                if (base) kl.add(kl_rows[size_t(i)]);
            }
            score_s += seconds_since(t0);
        }
        chunk_ppl.push_back(acc.ppl());
        if (!o.json) {
            const double el = seconds_since(t_all);
            std::fprintf(stderr, "[%lld/%lld] PPL %.4f ± %.4f", (long long)(ci + 1), (long long)n_chunks, acc.ppl(),
                         acc.ppl_err());
            if (base) {
                const auto s = kl.summary();
                std::fprintf(stderr, " | KLD %.6f ± %.6f | same top %.2f%%", s.kld.mean, s.kld.err,
                             100 * s.same_top.mean);
            }
            std::fprintf(stderr, " | %.1f tokens/s\n", double((ci + 1) * c) / el);
        }
    }
    const double total_s = seconds_since(t_all);
    if (writer) writer->close();
    const double tps = total_s > 0 ? double(n_chunks * c) / total_s : 0.0;

    if (o.json) {
        nlohmann::json j;
        j["model"] = o.model;
        j["text_file"] = o.text_file;
        j["text_bytes"] = text.size();
        j["text_fnv1a64"] = cat(std::hex, now.text_hash);
        j["n_tokens"] = tokens.size();
        j["n_ctx"] = c;
        j["n_batch"] = o.n_batch;
        j["chunks"] = n_chunks;
        j["scored_tokens"] = acc.count;
        j["ppl"] = acc.ppl();
        j["ppl_err"] = acc.ppl_err();
        j["mean_nll"] = acc.count ? acc.nll / double(acc.count) : 0.0;
        j["chunk_ppl"] = chunk_ppl;
        j["stats"] = {{"load_s", model->load_seconds()}, {"tokenize_s", tokenize_s}, {"seconds", total_s},
                      {"eval_s", eval_s}, {"score_s", score_s}, {"tokens_per_s", tps},
                      {"threads", threads}, {"isa", isa_name(ctx->isa())}};
        if (writer) j["saved_logits"] = {{"file", o.save_logits}, {"top_k", o.top_k}};
        if (base) j["kl"] = kl_json(kl.summary());
        if (base) j["kl"]["base_top_k"] = base->header().top_k;
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        return 0;
    }
    std::fprintf(stderr, "qlm: %lld chunks, %llu scored tokens in %.2f s: %.1f tokens/s (forward %.2f s, scoring %.2f s)\n",
                 (long long)n_chunks, (unsigned long long)acc.count, total_s, tps, eval_s, score_s);
    if (base) print_kl(kl.summary(), int(base->header().top_k));
    std::printf("Final estimate: PPL = %.4f +/- %.5f\n", acc.ppl(), acc.ppl_err());
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
