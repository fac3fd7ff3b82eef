// The continuous-batching scheduler (see include/qlm/engine.h): a waiting
// queue (first come, first served), a running set in admission order, and
// one forward step at a time over the tokens of every running sequence.
#include "qlm/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <mutex>
#include <unordered_set>

#include "engine/block_pool.h"
#include "formats/common.h"
#include "qlm/error.h"

namespace qlm {

const char* finish_reason_name(FinishReason r) noexcept {
    switch (r) {
        case FinishReason::None: return "none";
        case FinishReason::Stop: return "stop";
        case FinishReason::Length: return "length";
        case FinishReason::Cancelled: return "cancelled";
        case FinishReason::Error: return "error";
    }
    return "?";
}

namespace {

struct Seq {
    uint64_t id = 0;
    Request req;
    std::vector<int32_t> tokens;  // prompt, then generated tokens (the last one not yet fed)
    int64_t n_prompt = 0;
    int64_t n_fed = 0;            // positions whose K/V are in the cache
    int64_t generated = 0;
    int64_t cached_tokens = 0;    // prompt tokens found in the prefix cache at first admission
    bool admitted_once = false;
    bool queue_reported = false;
    double queue_seconds = 0;     // submit to first admission
    std::chrono::steady_clock::time_point submitted;
    uint64_t admit_order = 0;
    std::vector<int32_t> blocks;
    std::vector<uint64_t> hashes;  // chain hash at the end of each full block in the cache
    Sampler sampler;
    explicit Seq(const SamplerOptions& o) : sampler(o) {}
    bool decoding() const { return n_fed == int64_t(tokens.size()) - 1; }
};

int64_t model_ctx(const Model& m, const EngineOptions& o) {
    if (o.n_ctx <= 0) fail("engine: context size must be positive, got ", o.n_ctx);
    return std::min(o.n_ctx, m.config().n_ctx_train);
}

KvCacheOptions pool_options(const Model& m, const EngineOptions& o) {
    const ModelConfig& c = m.config();
    if (o.block_size <= 0 || o.block_size > 4096) fail("engine: block size must be 1..4096, got ", o.block_size);
    if (o.kv_type != GgmlType::F16 && o.kv_type != GgmlType::F32)
        fail("engine: KV cache type ", type_name(o.kv_type), " is not supported (F16 or F32)");
    if (o.step_tokens <= 0) fail("engine: tokens per step must be positive, got ", o.step_tokens);
    if (!(o.decode_slowdown == 0 || o.decode_slowdown > 1))
        fail("engine: the decode slowdown must be 0 (off) or above 1, got ", o.decode_slowdown);
    if (o.min_prefill_chunk <= 0) fail("engine: the least prefill chunk must be positive, got ", o.min_prefill_chunk);
    if (o.max_running <= 0) fail("engine: the running set must hold at least one sequence, got ", o.max_running);
    if (o.kv_tokens < 0 || !(o.kv_mib >= 0)) fail("engine: the KV pool size must not be negative");
    int64_t n_blocks;
    if (o.kv_mib > 0) {
        const double per_block = double(o.block_size) * double(c.n_head_kv) *
                                 double(c.head_dim_k + c.head_dim_v) * double(type_info(o.kv_type).type_size) *
                                 double(c.n_layer);
        const double nb = std::floor(o.kv_mib * 1048576.0 / per_block);
        if (nb < 1) fail("engine: a KV pool of ", o.kv_mib, " MiB holds no block of ", per_block, " bytes");
        if (nb > 1e9) fail("engine: a KV pool of ", o.kv_mib, " MiB is too large");
        n_blocks = int64_t(nb);
    } else {
        const int64_t tokens = o.kv_tokens > 0 ? o.kv_tokens : model_ctx(m, o);
        n_blocks = (tokens + o.block_size - 1) / o.block_size;
    }
    return {n_blocks, o.block_size, o.kv_type};
}

}  // namespace

struct Engine::Impl {
    const Model& model;
    Context& ctx;
    EngineOptions opts;
    int64_t n_ctx;
    KvCache kv;
    engine::BlockPool pool;
    Forward fwd;

    mutable std::mutex mu;                      // guards incoming, cancels, next_id, snap
    std::deque<std::unique_ptr<Seq>> incoming;
    std::vector<uint64_t> cancels;
    uint64_t next_id = 1;
    EngineStats snap;

    std::deque<std::unique_ptr<Seq>> waiting;   // the stepping thread's own
    std::vector<std::unique_ptr<Seq>> running;  // in admission order
    uint64_t admit_counter = 0;
    EngineStats totals;                          // counters kept by the stepping thread
    std::vector<float> logits, lse_scratch;
    std::vector<KvEvent> kv_events;             // the prefix cache's changes since the last flush

    Impl(const Model& m, Context& ctx, const EngineOptions& o)
        : model(m),
          ctx(ctx),
          opts(o),
          n_ctx(model_ctx(m, o)),
          kv(m.config(), pool_options(m, o), ctx.backend()),
          pool(kv.n_blocks(), kv.block_size()),
          fwd(m, ctx) {
        if (opts.on_kv_events) {
            kv_events.push_back({KvEvent::Kind::Cleared, 0, 0, {}});
            pool.record_events(&kv_events);
        }
        publish_stats();
    }

    int64_t bs() const { return kv.block_size(); }
    int64_t blocks_for(int64_t positions) const { return (positions + bs() - 1) / bs(); }

    void emit(Seq& s, EngineEvent& ev) {
        ev.id = s.id;
        ev.prompt_tokens = s.n_prompt;
        ev.cached_tokens = s.cached_tokens;
        ev.generated = s.generated;
        if (s.admitted_once && !s.queue_reported) {
            ev.queue_seconds = s.queue_seconds;
            s.queue_reported = true;
        }
        if (!s.req.on_event) return;
        try {
            s.req.on_event(ev);
        } catch (...) {
            // a consumer that throws is treated as gone: the sequence is cancelled
            if (ev.finish == FinishReason::None) {
                std::lock_guard lk(mu);
                cancels.push_back(s.id);
            }
        }
    }

    void release_blocks(Seq& s) {
        for (int32_t b : s.blocks) pool.release(b);
        s.blocks.clear();
        s.hashes.clear();
        s.n_fed = 0;
    }

    void finish(Seq& s, FinishReason why, std::string error = {}) {
        release_blocks(s);
        EngineEvent ev;
        ev.finish = why;
        ev.error = std::move(error);
        if (why == FinishReason::Cancelled) ++totals.cancelled;
        ++totals.finished;
        emit(s, ev);
    }

    // Full blocks newly in the cache enter the prefix cache.
    void publish_blocks(Seq& s) {
        const int64_t full = s.n_fed / bs();
        while (int64_t(s.hashes.size()) < full) {
            const int64_t b = int64_t(s.hashes.size());
            const uint64_t parent = b > 0 ? s.hashes[size_t(b - 1)] : 0;
            const std::span<const int32_t> toks(s.tokens.data() + b * bs(), size_t(bs()));
            if (opts.prefix_cache) pool.publish(s.blocks[size_t(b)], parent, toks);
            s.hashes.push_back(engine::chain_hash(parent, toks));
        }
    }

    // The front of the queue into the running set while it fits (first
    // come, first served: a request that does not fit yet holds the others).
    void admit() {
        while (!waiting.empty() && int64_t(running.size()) < opts.max_running) {
            Seq& s = *waiting.front();
            // prefix-cache blocks, leaving at least the last token to compute
            const int64_t to_feed = int64_t(s.tokens.size());
            std::vector<int32_t> matched;
            std::vector<uint64_t> hashes;
            if (opts.prefix_cache)
                for (int64_t b = 0; (b + 1) * bs() <= to_feed - 1; ++b) {
                    const uint64_t parent = b > 0 ? hashes.back() : 0;
                    const std::span<const int32_t> toks(s.tokens.data() + b * bs(), size_t(bs()));
                    const int32_t blk = pool.lookup(parent, toks);
                    if (blk < 0) break;
                    matched.push_back(blk);
                    hashes.push_back(engine::chain_hash(parent, toks));
                }
            const int64_t need = blocks_for(to_feed) - int64_t(matched.size());
            // one spare block per running sequence, so the streams can grow
            if (pool.available() < need + int64_t(running.size())) {
                for (int32_t b : matched) pool.release(b);
                return;
            }
            s.blocks = std::move(matched);
            s.hashes = std::move(hashes);
            for (int64_t i = 0; i < need; ++i) s.blocks.push_back(pool.allocate());
            s.n_fed = int64_t(s.hashes.size()) * bs();
            if (!s.admitted_once) {
                s.cached_tokens = s.n_fed;
                totals.cached_prompt_tokens += s.n_fed;
                totals.prompt_tokens_queried += s.n_prompt;
                s.queue_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.submitted).count();
                s.admitted_once = true;
            }
            s.admit_order = ++admit_counter;
            running.push_back(std::move(waiting.front()));
            waiting.pop_front();
        }
    }

    // Back to the front of the queue, its blocks returned (the full ones stay
    // in the prefix cache): recomputed when it is admitted again.
    void preempt(size_t idx) {
        std::unique_ptr<Seq> s = std::move(running[idx]);
        running.erase(running.begin() + std::ptrdiff_t(idx));
        release_blocks(*s);
        ++totals.preemptions;
        waiting.push_front(std::move(s));
    }

    // A block for each decoding sequence's next position; preempts the
    // youngest sequences when the pool is out of blocks.
    void grow_blocks() {
        for (size_t i = 0; i < running.size();) {
            Seq& s = *running[i];
            if (!s.decoding() || int64_t(s.blocks.size()) > s.n_fed / bs()) {
                ++i;
                continue;
            }
            const int32_t b = pool.allocate();
            if (b >= 0) {
                s.blocks.push_back(b);
                ++i;
                continue;
            }
            size_t youngest = 0;
            for (size_t j = 1; j < running.size(); ++j)
                if (running[j]->admit_order > running[youngest]->admit_order) youngest = j;
            if (running.size() == 1) {  // alone and still no room: the pool is its limit
                std::unique_ptr<Seq> done = std::move(running[0]);
                running.clear();
                finish(*done, FinishReason::Length);
                return;
            }
            preempt(youngest);
            if (youngest < i) --i;
            // retry i (or, if it was the one preempted, what moved into its place)
        }
    }

    // Ends (with `why`) every sequence of `list` that `pick` selects.
    template <class List, class Pick>
    void finish_if(List& list, Pick&& pick, FinishReason why, const std::string& error = {}) {
        for (size_t i = 0; i < list.size();) {
            if (!pick(*list[i])) {
                ++i;
                continue;
            }
            std::unique_ptr<Seq> s = std::move(list[i]);
            list.erase(list.begin() + std::ptrdiff_t(i));
            finish(*s, why, error);
        }
    }

    void apply_cancels(const std::vector<uint64_t>& ids) {
        if (ids.empty()) return;
        const std::unordered_set<uint64_t> set(ids.begin(), ids.end());
        auto picked = [&](const Seq& s) { return set.count(s.id) > 0; };
        finish_if(running, picked, FinishReason::Cancelled);
        finish_if(waiting, picked, FinishReason::Cancelled);
    }

    void sample_and_emit(Seq& s, const float* row) {
        const int64_t n_vocab = model.config().n_vocab;
        row = s.sampler.biased(row, n_vocab);
        int32_t tok;
        try {
            tok = s.sampler.sample(row, n_vocab, s.req.grammar.get());
            const bool eog = std::find(s.req.stop_tokens.begin(), s.req.stop_tokens.end(), tok) != s.req.stop_tokens.end();
            if (s.req.grammar && !eog) s.req.grammar->accept(tok);
        } catch (const std::exception& e) {
            release_blocks(s);
            ++totals.finished;
            EngineEvent ev;
            ev.finish = FinishReason::Error;
            ev.error = e.what();
            emit(s, ev);
            return;
        }
        EngineEvent ev;
        if (s.req.return_logits) ev.logits = std::span<const float>(row, size_t(n_vocab));
        const bool stop = std::find(s.req.stop_tokens.begin(), s.req.stop_tokens.end(), tok) != s.req.stop_tokens.end();
        if (stop) {
            ev.finish = FinishReason::Stop;
            release_blocks(s);
            ++totals.finished;
            emit(s, ev);
            return;
        }
        if (s.req.top_logprobs >= 0) {
            const double lse = log_sum_exp(ctx, row, n_vocab, lse_scratch);
            ev.logprob = float(double(row[tok]) - lse);
            top_logprobs(row, n_vocab, s.req.top_logprobs, lse, ev.top);
        }
        s.sampler.accept(tok);
        s.tokens.push_back(tok);
        ++s.generated;
        ++totals.generated_tokens;
        ev.token = tok;
        if (s.req.grammar && s.req.grammar->done()) {
            ev.finish = FinishReason::Stop;
            release_blocks(s);
            ++totals.finished;
        } else if (s.generated >= s.req.max_tokens || int64_t(s.tokens.size()) >= n_ctx) {
            ev.finish = FinishReason::Length;
            release_blocks(s);
            ++totals.finished;
        }
        emit(s, ev);
    }

    bool step() {
        std::vector<uint64_t> cancel_ids;
        bool had_work = false;
        {
            std::lock_guard lk(mu);
            had_work = !incoming.empty() || !cancels.empty();
            while (!incoming.empty()) {
                waiting.push_back(std::move(incoming.front()));
                incoming.pop_front();
            }
            cancel_ids.swap(cancels);
        }
        apply_cancels(cancel_ids);
        admit();
        if (running.empty() && !waiting.empty()) {
            // cannot happen for requests submit() accepted (they fit an empty pool)
            std::unique_ptr<Seq> s = std::move(waiting.front());
            waiting.pop_front();
            finish(*s, FinishReason::Error, "engine: the request does not fit the KV pool");
        }
        grow_blocks();
        if (running.empty()) {
            publish_stats();
            return had_work;
        }

        // The step: every decoding sequence's next token, then prompt chunks.
        struct Part {
            Seq* s;
            int64_t n;
        };
        std::vector<Part> parts;
        int64_t budget = opts.step_tokens;
        int64_t n_decode = 0;
        for (auto& sp : running)
            if (sp->decoding() && budget > 0) parts.push_back({sp.get(), 1}), --budget, ++n_decode;
        if (n_decode > 0) budget = std::min(budget, prefill_cap());
        const int64_t budget_prefill = budget;
        for (auto& sp : running)
            if (!sp->decoding() && budget > 0) {
                const int64_t n = std::min(budget, int64_t(sp->tokens.size()) - sp->n_fed);
                parts.push_back({sp.get(), n});
                budget -= n;
            }
        std::vector<SeqStep> steps;
        int64_t rows = 0;
        for (const Part& p : parts) {
            const bool last = p.s->n_fed + p.n == int64_t(p.s->tokens.size());
            steps.push_back({std::span<const int32_t>(p.s->tokens.data() + p.s->n_fed, size_t(p.n)), p.s->n_fed,
                             p.s->blocks.data(), last ? p.n - 1 : p.n});
            rows += last ? 1 : 0;
        }
        const int64_t n_vocab = model.config().n_vocab;
        logits.resize(size_t(std::max<int64_t>(rows, 1) * n_vocab));
        const auto t_step = std::chrono::steady_clock::now();
        try {
            fwd.run(kv, steps, logits.data());
            learn_step_time(n_decode, budget_prefill - budget,
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - t_step).count());
        } catch (const std::exception& e) {
            // nothing here should throw for accepted requests; if it does, the
            // step's sequences end with the error and the engine goes on
            std::unordered_set<const Seq*> failed;
            for (const Part& p : parts) failed.insert(p.s);
            finish_if(running, [&](const Seq& s) { return failed.count(&s) > 0; }, FinishReason::Error, e.what());
            publish_stats();
            return true;
        }
        ++totals.steps;
        int64_t row = 0;
        for (const Part& p : parts) {
            Seq& s = *p.s;
            const bool last = s.n_fed + p.n == int64_t(s.tokens.size());
            if (s.n_fed < s.n_prompt) totals.prompt_tokens += std::min(p.n, s.n_prompt - s.n_fed);
            s.n_fed += p.n;
            publish_blocks(s);
            if (!last) continue;
            const float* r = logits.data() + row++ * n_vocab;
            if (s.req.max_tokens == 0) {  // prefill only
                release_blocks(s);
                ++totals.finished;
                EngineEvent ev;
                ev.finish = FinishReason::Length;
                emit(s, ev);
                continue;
            }
            sample_and_emit(s, r);
        }
        // sequences whose blocks were released have finished
        running.erase(std::remove_if(running.begin(), running.end(), [](const std::unique_ptr<Seq>& s) {
                          return s->blocks.empty();
                      }),
                      running.end());
        publish_stats();
        return true;
    }

    // Step-time model for decode_slowdown: t = T_decode + c * prompt tokens,
    // T_decode the mean decode-only step, c the mean cost of a prompt token
    // (from steps with at least 8: prompt-only steps count their whole time,
    // which overstates c a little and errs on the side of short chunks).
    double t_decode = 0, c_prompt = 0;
    int n_decode_steps = 0, n_prompt_steps = 0;
    void learn_step_time(int64_t n_decode, int64_t n_prompt, double t) {
        if (opts.decode_slowdown == 0) return;
        auto mean = [](double& m, int& n, double x) {  // running mean, then an exponential one (recent steps)
            n = std::min(n + 1, 32);
            m += (x - m) / n;
        };
        if (n_prompt == 0 && n_decode > 0) mean(t_decode, n_decode_steps, t);
        else if (n_prompt >= 8 && n_decode == 0) mean(c_prompt, n_prompt_steps, t / double(n_prompt));
        else if (n_prompt >= 8 && n_decode_steps > 0 && t > t_decode)
            mean(c_prompt, n_prompt_steps, (t - t_decode) / double(n_prompt));
    }
    int64_t prefill_cap() const {
        if (opts.decode_slowdown == 0) return opts.step_tokens;
        if (n_decode_steps == 0 || n_prompt_steps == 0 || c_prompt <= 0) return opts.min_prefill_chunk;
        const double n = (opts.decode_slowdown - 1) * t_decode / c_prompt;
        return std::max(opts.min_prefill_chunk, int64_t(std::min(n, double(opts.step_tokens))));
    }

    void publish_stats() {
        // (a lone Cleared waits for the first block: a subscriber that connects
        // after start-up still sees that the new process starts empty)
        const bool lone_clear = kv_events.size() == 1 && kv_events[0].kind == KvEvent::Kind::Cleared;
        if (!kv_events.empty() && !lone_clear && opts.on_kv_events) {
            std::vector<KvEvent> out;
            out.swap(kv_events);
            opts.on_kv_events(std::move(out));
        }
        std::lock_guard lk(mu);
        EngineStats st = totals;
        st.running = int64_t(running.size());
        st.waiting = int64_t(waiting.size() + incoming.size());
        st.blocks_total = pool.total();
        st.blocks_used = pool.used();
        st.blocks_cached = pool.cached();
        st.blocks_free = pool.available();
        st.block_size = bs();
        snap = st;
    }
};

Engine::Engine(const Model& model, Context& ctx, const EngineOptions& opts)
    : impl_(std::make_unique<Impl>(model, ctx, opts)) {}
Engine::~Engine() = default;

uint64_t Engine::submit(Request req) {
    Impl& m = *impl_;
    const int64_t n_vocab = m.model.config().n_vocab;
    if (req.prompt.empty()) fail_code(ErrorCode::BadRequest, "request: prompt: the prompt has no tokens");
    for (size_t i = 0; i < req.prompt.size(); ++i)
        if (req.prompt[i] < 0 || req.prompt[i] >= n_vocab)
            fail_code(ErrorCode::BadRequest, "request: prompt: token ", i, " has id ", req.prompt[i], ", outside the vocabulary of ", n_vocab);
    if (int64_t(req.prompt.size()) >= m.n_ctx)
        fail_code(ErrorCode::ContextLengthExceeded, "request: prompt: ", req.prompt.size(),
                  " tokens do not fit the context of ", m.n_ctx, " positions");
    if (m.blocks_for(int64_t(req.prompt.size()) + 1) > m.pool.total())
        fail_code(ErrorCode::DoesNotFit, "request: prompt: ", req.prompt.size(), " tokens can never fit the KV pool of ",
             m.pool.total() * m.bs(), " positions");
    if (req.max_tokens < 0) fail_code(ErrorCode::BadRequest, "request: max_tokens must be >= 0, got ", req.max_tokens);
    if (req.top_logprobs > 20) fail_code(ErrorCode::BadRequest, "request: top_logprobs must be <= 20, got ", req.top_logprobs);
    for (const auto& [t, b] : req.sampling.logit_bias)
        if (t < 0 || t >= n_vocab || !std::isfinite(b))
            fail_code(ErrorCode::BadRequest, "request: logit_bias: token ", t, " is outside the vocabulary of ", n_vocab, " or its bias is not finite");
    for (int32_t t : req.stop_tokens)
        if (t < 0 || t >= n_vocab) fail_code(ErrorCode::BadRequest, "request: stop token ", t, " is outside the vocabulary of ", n_vocab);
    auto s = std::make_unique<Seq>(req.sampling);  // the sampler checks its options
    for (int32_t t : req.prompt) s->sampler.accept(t);
    s->tokens = req.prompt;
    s->n_prompt = int64_t(req.prompt.size());
    s->submitted = std::chrono::steady_clock::now();
    s->req = std::move(req);
    std::lock_guard lk(m.mu);
    s->id = m.next_id++;
    const uint64_t id = s->id;
    m.incoming.push_back(std::move(s));
    ++m.snap.waiting;
    return id;
}

void Engine::cancel(uint64_t id) {
    std::lock_guard lk(impl_->mu);
    impl_->cancels.push_back(id);
}

bool Engine::step() { return impl_->step(); }

void Engine::run_until_idle() {
    while (!idle()) impl_->step();
}

bool Engine::idle() const {
    std::lock_guard lk(impl_->mu);
    return impl_->incoming.empty() && impl_->cancels.empty() && impl_->waiting.empty() && impl_->running.empty();
}

EngineStats Engine::stats() const {
    std::lock_guard lk(impl_->mu);
    return impl_->snap;
}

int64_t Engine::n_ctx() const noexcept { return impl_->n_ctx; }
int64_t Engine::block_size() const noexcept { return impl_->bs(); }
uint64_t Engine::kv_bytes() const noexcept { return impl_->kv.bytes(); }
const Model& Engine::model() const noexcept { return impl_->model; }

}  // namespace qlm
