// The perplexity / KL run (qlm/perplexity.h): chunking as llama-perplexity
// does, each chunk a fresh Session sequence, its second half scored on the
// context's threads.
#include <algorithm>
#include <chrono>
#include <memory>

#include "qlm/error.h"
#include "qlm/model.h"
#include "qlm/ops.h"
#include "qlm/perplexity.h"
#include "qlm/tokenizer.h"

namespace qlm::ppl {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

RunResult run(const Model& model, Context& ctx, const Tokenizer& tok, std::string_view text, const RunOptions& o,
              KlBaseReader* base, const std::function<void(const RunInfo&)>& on_start,
              const std::function<void(const ChunkProgress&)>& on_chunk) {
    if (!o.save_logits.empty() && base)
        fail("--save-logits and --kl-base exclude each other: save a base with one model, compare with another");
    if (o.n_ctx < 4) fail("-c must be at least 4 (half of each chunk is context, half is scored), got ", o.n_ctx);
    if (o.n_batch < 1) fail("-b must be at least 1, got ", o.n_batch);
    const int64_t n_vocab = model.config().n_vocab;
    if (tok.n_vocab() != n_vocab)
        fail(o.model_name, ": the tokenizer has ", tok.n_vocab(), " tokens but token_embd.weight has ", n_vocab, " rows");
    const int top_k = o.top_k < 0 ? int(std::min<int64_t>(1024, n_vocab)) : o.top_k;
    if (top_k < 1 || top_k > n_vocab) fail("--kl-top-k must be in 1..", n_vocab, ", got ", top_k);
    if (o.n_ctx > model.config().n_ctx_train)
        fail("-c ", o.n_ctx, " exceeds the context the model was trained for (", model.config().n_ctx_train,
             " tokens)");

    RunResult r;
    RunInfo& info = r.info;
    const auto t_tok = std::chrono::steady_clock::now();
    const std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
    info.tokenize_s = seconds_since(t_tok);
    const int64_t c = o.n_ctx;
    const int64_t n_chunk_max = int64_t(tokens.size()) / c;
    if (n_chunk_max == 0)
        fail(o.text_name, ": the text has ", tokens.size(), " tokens, fewer than one chunk of -c ", c,
             " needs: use a longer text or a smaller -c");
    int64_t n_chunks = o.n_chunks > 0 ? std::min(o.n_chunks, n_chunk_max) : n_chunk_max;

    KlBaseHeader now;
    now.n_ctx = uint32_t(c);
    now.n_vocab = uint32_t(n_vocab);
    now.n_scored = uint32_t(scored_per_chunk(c));
    now.text_bytes = text.size();
    now.text_hash = fnv1a64(text.data(), text.size());
    now.tokenizer_hash = tokenizer_fingerprint(tok);
    now.top_k = uint32_t(top_k);
    now.model = o.model_name;
    if (base) {
        const auto& bh = base->header();
        now.n_chunks = bh.n_chunks;
        now.tokens_hash = int64_t(tokens.size()) >= int64_t(bh.n_chunks) * c
                              ? tokens_hash({tokens.data(), size_t(bh.n_chunks) * size_t(c)})
                              : ~bh.tokens_hash;
        check_kl_base(bh, now, o.kl_base_path);
        n_chunks = std::min<int64_t>(n_chunks, bh.n_chunks);
        if (o.n_chunks > int64_t(bh.n_chunks)) info.chunks_lowered_from = o.n_chunks;
    }
    std::unique_ptr<KlBaseWriter> writer;
    if (!o.save_logits.empty()) {
        now.n_chunks = uint32_t(n_chunks);
        now.tokens_hash = tokens_hash({tokens.data(), size_t(n_chunks) * size_t(c)});
        writer = std::make_unique<KlBaseWriter>(o.save_logits, now,
                                                std::span<const int32_t>(tokens.data(), size_t(n_chunks * c)));
        info.base_file_bytes = kl_base_file_size(now);
    }

    SessionOptions so;
    so.n_ctx = c;
    so.n_batch = o.n_batch;
    so.kv_type = GgmlType(o.kv_type);
    Session session(model, ctx, so);
    if (session.n_ctx() < c) fail("-c ", c, " exceeds the context the model was trained for (", session.n_ctx(), " tokens)");
    const int64_t first = c / 2;
    const int32_t bos = tok.add_bos() ? tok.bos() : Tokenizer::kNone;
    info.text_bytes = text.size();
    info.n_tokens = tokens.size();
    info.text_hash = now.text_hash;
    info.n_chunks = n_chunks;
    info.n_ctx = c;
    info.n_scored = scored_per_chunk(c);
    info.n_batch = o.n_batch;
    info.top_k = top_k;
    info.threads = ctx.threads();
    if (on_start) on_start(info);

    const int64_t piece = std::min(o.n_batch, c - first);
    std::vector<float> logits(size_t(piece) * size_t(n_vocab));
    std::vector<int32_t> chunk(static_cast<size_t>(c));
    std::vector<double> nll(static_cast<size_t>(piece));
    std::vector<BaseRow> rows(static_cast<size_t>(piece));
    std::vector<KlPosition> kl_rows(static_cast<size_t>(piece));
    KlAccumulator kl;
    const auto t_all = std::chrono::steady_clock::now();
    for (int64_t ci = 0; ci < n_chunks; ++ci) {
        std::copy(tokens.begin() + ci * c, tokens.begin() + (ci + 1) * c, chunk.begin());
        if (bos != Tokenizer::kNone) chunk[0] = bos;
        session.reset();
        auto t0 = std::chrono::steady_clock::now();
        session.eval({chunk.data(), size_t(first)}, logits.data(), false);  // context half: no logits kept
        r.eval_s += seconds_since(t0);
        for (int64_t p0 = first; p0 < c; p0 += piece) {
            const int64_t m = std::min(piece, c - p0);
            t0 = std::chrono::steady_clock::now();
            session.eval({chunk.data() + p0, size_t(m)}, logits.data(), true);
            r.eval_s += seconds_since(t0);
            t0 = std::chrono::steady_clock::now();
            const int64_t ms = std::min(m, c - 1 - p0);  // the chunk's last position predicts nothing
            if (base)
                for (int64_t i = 0; i < ms; ++i) base->read_row(rows[size_t(i)]);
            ctx.parallel_for(ms, [&](int64_t i) {
                const float* x = logits.data() + size_t(i) * size_t(n_vocab);
                const int32_t next = tokens[size_t(ci * c + p0 + i + 1)];
                thread_local std::vector<float> sc;  // one row per scoring thread
                sc.resize(size_t(n_vocab));
                const RowStats st = row_stats(ctx, x, n_vocab, sc.data());
                nll[size_t(i)] = -log_prob(x, st, next);
                if (writer) make_base_row(x, n_vocab, st, top_k, next, rows[size_t(i)]);
                if (base) kl_rows[size_t(i)] = kl_position(rows[size_t(i)], x, n_vocab, st, next);
            });
            for (int64_t i = 0; i < ms; ++i) {
                r.acc.add(nll[size_t(i)]);
                if (writer) writer->write_row(rows[size_t(i)]);
                if (base) kl.add(kl_rows[size_t(i)]);
            }
            r.score_s += seconds_since(t0);
        }
        r.chunk_ppl.push_back(r.acc.ppl());
        if (on_chunk) on_chunk({ci + 1, n_chunks, &r.acc, base ? &kl : nullptr, seconds_since(t_all)});
    }
    r.total_s = seconds_since(t_all);
    if (writer) writer->close();
    if (base) {
        r.has_kl = true;
        r.kl = kl.summary();
    }
    return r;
}

}  // namespace qlm::ppl
