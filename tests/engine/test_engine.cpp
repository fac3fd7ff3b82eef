// The continuous-batching engine: batch invariance (sequences run inside a
// batch give the tokens and logit bits they give alone, whatever arrives,
// leaves or is preempted around them), prefix-cache hits equal recomputing,
// a randomized stress run that returns every block, threads submitting and
// cancelling while another steps, and request errors that name the field.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "model/tiny_model.h"
#include "qlm/engine.h"
#include "qlm/error.h"

namespace qlm {

void PrintTo(Isa i, std::ostream* os) { *os << isa_name(i); }

namespace {

struct Result {
    std::vector<int32_t> tokens;
    std::vector<std::vector<float>> logits;  // per generated token
    FinishReason finish = FinishReason::None;
    int64_t cached = 0;
    int events = 0;
};

// Collects the events of many requests (on the stepping thread).
struct Collector {
    std::mutex mu;
    std::map<uint64_t, Result> results;
    std::function<void(const EngineEvent&)> sink() {
        return [this](const EngineEvent& ev) {
            std::lock_guard lk(mu);
            Result& r = results[ev.id];
            ++r.events;
            if (ev.token >= 0) {
                r.tokens.push_back(ev.token);
                if (!ev.logits.empty()) r.logits.emplace_back(ev.logits.begin(), ev.logits.end());
            }
            if (ev.finish != FinishReason::None) {
                EXPECT_EQ(r.finish, FinishReason::None) << "two final events for " << ev.id;
                r.finish = ev.finish;
                r.cached = ev.cached_tokens;
            }
        };
    }
};

Request greedy(std::vector<int32_t> prompt, int64_t n, Collector& c) {
    Request r;
    r.prompt = std::move(prompt);
    r.max_tokens = n;
    r.sampling.temp = 0;
    r.return_logits = true;
    r.on_event = c.sink();
    return r;
}

std::vector<int32_t> random_prompt(std::mt19937& rng, int64_t len, int64_t vocab) {
    std::uniform_int_distribution<int32_t> d(0, int32_t(vocab - 1));
    std::vector<int32_t> p(static_cast<size_t>(len));
    for (auto& t : p) t = d(rng);
    return p;
}

// A request run alone in a fresh engine.
Result run_alone(const Model& model, Context& ctx, const EngineOptions& eo, Request req) {
    Engine e(model, ctx, eo);
    Collector c;
    req.on_event = c.sink();
    const uint64_t id = e.submit(std::move(req));
    e.run_until_idle();
    return c.results[id];
}

void expect_same(const Result& alone, const Result& batch, const std::string& what) {
    ASSERT_EQ(alone.tokens, batch.tokens) << what;
    ASSERT_EQ(alone.logits.size(), batch.logits.size()) << what;
    for (size_t i = 0; i < alone.logits.size(); ++i)
        ASSERT_EQ(std::memcmp(alone.logits[i].data(), batch.logits[i].data(), alone.logits[i].size() * 4), 0)
            << what << ": logits of generated token " << i << " differ in their bits";
}

class EngineTest : public testing::TestWithParam<std::tuple<Isa, std::string>> {
protected:
    void SetUp() override {
        isa_ = std::get<0>(GetParam());
        if (!isa_supported(isa_)) GTEST_SKIP() << "instruction set " << isa_name(isa_) << " not supported here";
        test::Spec s;
        s.arch = std::get<1>(GetParam());
        s.ctx = 128;
        bytes_ = test::make_model(s);
        model_ = Model::from_reader(GgufReader::from_memory(bytes_, "tiny.gguf"), LoadOptions{false, false});
        ctx_ = std::make_unique<Context>(ContextOptions{isa_, 2});
    }
    Isa isa_{};
    std::vector<uint8_t> bytes_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<Context> ctx_;
};

// 14 sequences of prompt lengths 1..45 arriving over the first steps, two
// cancelled mid-stream, a step budget of 7 tokens (prompts cut into chunks
// mixed with decode tokens) and a pool too small for all of them at once
// (sequences wait, and running ones are preempted and recomputed).
TEST_P(EngineTest, BatchedEqualsAlone) {
    EngineOptions eo;
    eo.n_ctx = 128;
    eo.block_size = 4;
    eo.kv_tokens = 160;
    eo.step_tokens = 7;
    std::mt19937 rng(7);
    std::vector<Request> reqs;
    for (int i = 0; i < 14; ++i) {
        Collector dummy;
        reqs.push_back(greedy(random_prompt(rng, 1 + (i * 13) % 45, test::kVocab), 6 + i % 9, dummy));
        reqs.back().on_event = nullptr;
    }
    std::vector<Result> alone;
    for (const Request& r : reqs) alone.push_back(run_alone(*model_, *ctx_, eo, r));

    Engine e(*model_, *ctx_, eo);
    Collector c;
    std::vector<uint64_t> ids;
    size_t next = 0;
    int steps = 0;
    std::set<uint64_t> cancelled;
    while (next < reqs.size() || !e.idle()) {
        // two new requests every other step
        if (steps % 2 == 0)
            for (int k = 0; k < 2 && next < reqs.size(); ++k, ++next) {
                Request r = reqs[next];
                r.on_event = c.sink();
                ids.push_back(e.submit(std::move(r)));
            }
        if (steps == 9) {
            e.cancel(ids[1]), e.cancel(ids[4]);
            cancelled = {ids[1], ids[4]};
        }
        e.step();
        ASSERT_LT(++steps, 2000) << "the engine does not finish";
    }
    for (size_t i = 0; i < reqs.size(); ++i) {
        const Result& r = c.results[ids[i]];
        if (cancelled.count(ids[i])) {
            EXPECT_TRUE(r.finish == FinishReason::Cancelled || r.finish == FinishReason::Length) << i;
            // what it produced before the cancel is what it produces alone
            ASSERT_LE(r.tokens.size(), alone[i].tokens.size());
            for (size_t t = 0; t < r.tokens.size(); ++t) ASSERT_EQ(r.tokens[t], alone[i].tokens[t]);
            continue;
        }
        EXPECT_EQ(r.finish, FinishReason::Length) << i;
        expect_same(alone[i], r, "sequence " + std::to_string(i));
    }
    const EngineStats st = e.stats();
    EXPECT_EQ(st.blocks_used, 0);
    EXPECT_GT(st.preemptions, 0) << "the pool was meant to be too small for every sequence at once";
}

// decode_slowdown: while a sequence decodes, a newcomer's 60-token prompt goes
// in chunks of min_prefill_chunk when the allowed slowdown is tiny, in one step
// when it is huge (the cost model is learnt from the first prompt's step) or
// off; the newcomer's tokens and logits are those it gets alone either way.
TEST_P(EngineTest, PrefillChunksHeldBackWhileDecoding) {
    std::mt19937 rng(3);
    const auto first = random_prompt(rng, 20, test::kVocab), second = random_prompt(rng, 60, test::kVocab);
    for (const double slowdown : {1.001, 1000.0, 0.0}) {
        EngineOptions eo;
        eo.n_ctx = 128;
        eo.block_size = 4;
        eo.step_tokens = 64;
        eo.decode_slowdown = slowdown;
        eo.min_prefill_chunk = 3;
        Collector dummy;
        Request b = greedy(second, 4, dummy);
        b.on_event = nullptr;
        const Result alone = run_alone(*model_, *ctx_, eo, b);
        Engine e(*model_, *ctx_, eo);
        Collector c;
        e.submit(greedy(first, 40, c));
        for (int i = 0; i < 3; ++i) e.step();  // the prompt, then two decode steps
        const uint64_t id = e.submit(greedy(second, 4, c));
        std::vector<int64_t> chunks;
        while (c.results[id].tokens.empty()) {
            const int64_t before = e.stats().prompt_tokens;
            e.step();
            chunks.push_back(e.stats().prompt_tokens - before);
            ASSERT_LT(chunks.size(), 100u);
        }
        if (slowdown == 1.001) {
            ASSERT_EQ(chunks.size(), 20u) << "60 prompt tokens in chunks of 3";
            for (int64_t n : chunks) EXPECT_EQ(n, 3);
        } else {
            ASSERT_EQ(chunks.size(), 1u) << "slowdown " << slowdown;
            EXPECT_EQ(chunks[0], 60);
        }
        while (!e.idle()) e.step();
        expect_same(alone, c.results[id], "slowdown " + std::to_string(slowdown));
    }
}

// A second request that starts with the first one's prompt takes its blocks
// from the prefix cache and gets the logits of a full recompute.
TEST_P(EngineTest, PrefixCacheHitEqualsRecompute) {
    EngineOptions eo;
    eo.n_ctx = 128;
    eo.block_size = 4;
    std::mt19937 rng(11);
    const std::vector<int32_t> system = random_prompt(rng, 23, test::kVocab);
    std::vector<int32_t> second = system;
    for (int32_t t : random_prompt(rng, 9, test::kVocab)) second.push_back(t);
    Collector dummy;
    EngineOptions off = eo;
    off.prefix_cache = false;
    const Result fresh = run_alone(*model_, *ctx_, off, greedy(second, 8, dummy));
    EXPECT_EQ(fresh.cached, 0);

    Engine e(*model_, *ctx_, eo);
    Collector c;
    const uint64_t a = e.submit(greedy(system, 5, c));
    e.run_until_idle();
    const uint64_t b = e.submit(greedy(second, 8, c));
    e.run_until_idle();
    EXPECT_EQ(c.results[a].cached, 0);
    EXPECT_EQ(c.results[b].cached, 20) << "the 5 full blocks of the shared 23 tokens";
    expect_same(fresh, c.results[b], "prefix-cache hit");
    EXPECT_EQ(e.stats().blocks_used, 0);
    EXPECT_GT(e.stats().blocks_cached, 0);
    // the same prompt again: all but its last block from the cache
    const uint64_t b2 = e.submit(greedy(second, 8, c));
    e.run_until_idle();
    EXPECT_EQ(c.results[b2].cached, 28);
    expect_same(fresh, c.results[b2], "second hit");
}

// Seeded sampling: a sequence's draws do not depend on the batch.
TEST_P(EngineTest, SeededSamplingIndependentOfBatch) {
    EngineOptions eo;
    eo.n_ctx = 128;
    std::mt19937 rng(5);
    std::vector<Request> reqs;
    Collector dummy;
    for (int i = 0; i < 6; ++i) {
        Request r = greedy(random_prompt(rng, 3 + 5 * i, test::kVocab), 12, dummy);
        r.sampling.temp = 1.0f;
        r.sampling.top_k = 20;
        r.sampling.top_p = 0.9f;
        r.sampling.seed = 1000 + uint64_t(i);
        reqs.push_back(r);
    }
    Engine e(*model_, *ctx_, eo);
    Collector c;
    std::vector<uint64_t> ids;
    for (const Request& r : reqs) {
        Request q = r;
        q.on_event = c.sink();
        ids.push_back(e.submit(std::move(q)));
    }
    e.run_until_idle();
    for (size_t i = 0; i < reqs.size(); ++i)
        expect_same(run_alone(*model_, *ctx_, eo, reqs[i]), c.results[ids[i]], "seeded " + std::to_string(i));
}

// A grammar constrains what sequences sample (temperature 1, several seeds,
// batched): every output matches the same language written as a std::regex,
// and ends (Stop) as soon as the grammar is complete with nothing to follow.
TEST_P(EngineTest, GrammarConstrainsSampledTokens) {
    std::vector<std::string> pieces;
    for (int i = 0; i < test::kVocab - 1; ++i) {
        if (i < 26) pieces.push_back(std::string(1, char('a' + i)));
        else if (i < 36) pieces.push_back(std::string(1, char('0' + i - 26)));
        else pieces.push_back(std::vector<std::string>{"ab", "bc", "cb", "d1", "\xc3\xa9", "\xc3", "\xa9", "12", ".",
                                                       "7.", "bb", "x", "cd"}[size_t(i - 36)]);
    }
    pieces.push_back("");  // end of generation
    auto vocab = TokenVocab::build(pieces, {test::kVocab - 1});
    auto g = Grammar::parse_gbnf("root ::= \"a\" [bc]{2,4} (\"d\" | \"\u00e9\") [0-9]{1,3} \".\"\n");
    const std::regex oracle("a[bc]{2,4}(d|\xc3\xa9)[0-9]{1,3}\\.");
    EngineOptions eo;
    eo.n_ctx = 128;
    Engine e(*model_, *ctx_, eo);
    Collector c;
    std::mt19937 rng(9);
    std::vector<uint64_t> ids;
    for (int i = 0; i < 6; ++i) {
        Request r = greedy(random_prompt(rng, 4 + i, test::kVocab), 60, c);
        r.sampling.temp = 1.0f;
        r.sampling.top_k = i % 2 ? 0 : 5;  // the unmasked-first path and the masked one
        r.sampling.top_p = 1.0f;
        r.sampling.min_p = 0;
        r.sampling.seed = 77 + uint64_t(i);
        r.stop_tokens = {test::kVocab - 1};
        r.grammar = std::make_shared<GrammarMatcher>(std::make_shared<GrammarAutomaton>(g, vocab));
        ids.push_back(e.submit(std::move(r)));
    }
    e.run_until_idle();
    for (uint64_t id : ids) {
        const Result& r = c.results[id];
        std::string text;
        for (int32_t t : r.tokens) text += pieces[size_t(t)];
        EXPECT_EQ(r.finish, FinishReason::Stop) << text;
        EXPECT_TRUE(std::regex_match(text, oracle)) << text;
    }
}

// Hundreds of sequences of random lengths through a small pool, with random
// cancellations (running, waiting, finished and unknown ids): no deadlock,
// every block back, every sequence ends exactly once.
TEST_P(EngineTest, RandomizedStressReturnsEveryBlock) {
    EngineOptions eo;
    eo.n_ctx = 128;
    eo.block_size = 4;
    eo.kv_tokens = 96;
    eo.step_tokens = 24;
    eo.max_running = 9;
    Engine e(*model_, *ctx_, eo);
    Collector c;
    std::mt19937 rng(1234);
    std::vector<uint64_t> ids;
    std::map<uint64_t, int64_t> max_tokens;
    std::set<uint64_t> cancelled;
    int steps = 0;
    const int n_req = 300;
    while (int(ids.size()) < n_req || !e.idle()) {
        for (int k = int(rng() % 4); k > 0 && int(ids.size()) < n_req; --k) {
            Request r;
            r.prompt = random_prompt(rng, 1 + int64_t(rng() % 40), test::kVocab);
            r.max_tokens = int64_t(rng() % 12);
            r.sampling.temp = (rng() % 2) ? 0.0f : 0.9f;
            r.sampling.seed = rng();
            r.stop_tokens = {int32_t(rng() % test::kVocab)};
            r.on_event = c.sink();
            const int64_t mt = r.max_tokens;
            const uint64_t id = e.submit(std::move(r));
            ids.push_back(id);
            max_tokens[id] = mt;
        }
        if (!ids.empty() && rng() % 5 == 0) {
            const uint64_t id = ids[rng() % ids.size()];
            e.cancel(id);
            cancelled.insert(id);
        }
        if (rng() % 17 == 0) e.cancel(999999);  // unknown: ignored
        e.step();
        ASSERT_LT(++steps, 20000) << "no progress: deadlock?";
        ASSERT_LE(e.stats().blocks_used, e.stats().blocks_total);
    }
    for (uint64_t id : ids) {
        const Result& r = c.results[id];
        ASSERT_NE(r.finish, FinishReason::None) << "sequence " << id << " never ended";
        ASSERT_NE(r.finish, FinishReason::Error) << id;
        if (r.finish == FinishReason::Cancelled) ASSERT_TRUE(cancelled.count(id));
        ASSERT_LE(int64_t(r.tokens.size()), max_tokens[id]);
        if (r.finish == FinishReason::Length && max_tokens[id] > 0) ASSERT_EQ(int64_t(r.tokens.size()), max_tokens[id]);
    }
    const EngineStats st = e.stats();
    EXPECT_EQ(st.blocks_used, 0);
    EXPECT_EQ(st.blocks_free, st.blocks_total);
    EXPECT_EQ(st.running + st.waiting, 0);
    EXPECT_EQ(st.finished, n_req);
}

// The prefix cache's event stream (what a KV-event publisher sends): it
// starts with Cleared; every Stored block extends a chain whose tokens, from
// its first block on, are a prefix of some sequence's tokens; a Removed block
// was stored and not yet removed; replaying the stream gives the cache's size.
// Each admitted sequence reports its queue time once.
TEST(EngineKvEvents, ReplayTheCacheOfAStressRun) {
    test::Spec spec;
    spec.arch = "llama";
    spec.ctx = 128;
    const std::vector<uint8_t> bytes = test::make_model(spec);
    auto model = Model::from_reader(GgufReader::from_memory(bytes, "tiny.gguf"), LoadOptions{false, false});
    Context ctx(ContextOptions{Isa::Scalar, 1});
    std::vector<KvEvent> events;
    int calls = 0;
    EngineOptions eo;
    eo.n_ctx = 128;
    eo.block_size = 4;
    eo.kv_tokens = 64;
    eo.step_tokens = 16;
    eo.max_running = 6;
    eo.on_kv_events = [&](std::vector<KvEvent>&& ev) {
        ASSERT_FALSE(ev.empty()) << "an empty call";
        ++calls;
        for (KvEvent& e : ev) events.push_back(std::move(e));
    };
    Engine e(*model, ctx, eo);
    std::mt19937 rng(99);
    std::vector<std::vector<int32_t>> families;
    for (int f = 0; f < 4; ++f) families.push_back(random_prompt(rng, 12, test::kVocab));
    std::map<uint64_t, std::vector<int32_t>> seq_tokens;  // prompt + generated
    std::map<uint64_t, int> queue_reports;
    std::map<uint64_t, int64_t> prompt_len;
    std::mutex mu;
    int64_t queried_expected = 0;
    std::set<uint64_t> admitted;
    std::vector<uint64_t> ids;
    for (int i = 0; i < 60 || !e.idle(); ++i) {
        if (i < 60) {
            Request r;
            r.prompt = families[size_t(rng() % families.size())];
            r.prompt.resize(size_t(4 + rng() % 12));
            const std::vector<int32_t> tail = random_prompt(rng, int64_t(rng() % 9), test::kVocab);
            r.prompt.insert(r.prompt.end(), tail.begin(), tail.end());
            r.max_tokens = int64_t(rng() % 10);
            r.sampling.temp = 0;
            const std::vector<int32_t> prompt = r.prompt;
            r.on_event = [&, prompt](const EngineEvent& ev) {
                std::lock_guard lk(mu);
                auto& t = seq_tokens[ev.id];
                if (t.empty()) t = prompt;
                if (ev.token >= 0) t.push_back(ev.token);
                if (ev.queue_seconds >= 0) {
                    ++queue_reports[ev.id];
                    EXPECT_LT(ev.queue_seconds, 60.0);
                }
            };
            const int64_t n = int64_t(r.prompt.size());
            const uint64_t id = e.submit(std::move(r));
            prompt_len[id] = n;
            ids.push_back(id);
            if (rng() % 9 == 0) e.cancel(ids[rng() % ids.size()]);
        }
        e.step();
        ASSERT_LT(i, 5000);
    }
    ASSERT_GE(calls, 1);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events[0].kind, KvEvent::Kind::Cleared);
    std::map<uint64_t, std::vector<int32_t>> chain;  // every hash ever stored -> the tokens from the first block on
    std::set<uint64_t> live;
    size_t stored = 0, removed = 0;
    for (size_t k = 1; k < events.size(); ++k) {
        const KvEvent& ev = events[k];
        ASSERT_NE(ev.kind, KvEvent::Kind::Cleared) << "event " << k;
        if (ev.kind == KvEvent::Kind::Removed) {
            ASSERT_EQ(live.erase(ev.hash), 1u) << "event " << k << " removes a block that is not cached";
            ++removed;
            continue;
        }
        ++stored;
        ASSERT_EQ(int64_t(ev.tokens.size()), eo.block_size) << "event " << k;
        ASSERT_TRUE(live.insert(ev.hash).second) << "event " << k << " stores a cached hash again";
        std::vector<int32_t> full;
        if (ev.parent != 0) {
            ASSERT_TRUE(chain.count(ev.parent)) << "event " << k << ": parent never stored";
            full = chain[ev.parent];
        }
        full.insert(full.end(), ev.tokens.begin(), ev.tokens.end());
        bool found = false;
        for (const auto& [id, t] : seq_tokens)
            if (t.size() >= full.size() && std::equal(full.begin(), full.end(), t.begin())) found = true;
        ASSERT_TRUE(found) << "event " << k << ": the chain's tokens are no sequence's prefix";
        chain[ev.hash] = std::move(full);
    }
    EXPECT_GT(stored, 20u);
    EXPECT_GT(removed, 0u) << "the pool was meant to be small enough to evict";
    const EngineStats st = e.stats();
    EXPECT_EQ(int64_t(live.size()), st.blocks_cached);
    for (const auto& [id, n] : queue_reports) {
        EXPECT_EQ(n, 1) << "sequence " << id;
        queried_expected += prompt_len[id];
    }
    EXPECT_EQ(st.prompt_tokens_queried, queried_expected);
    EXPECT_GT(st.cached_prompt_tokens, 0);
}

// Client threads submit and cancel while one thread steps (run under
// ThreadSanitizer by `make test-tsan`).
TEST_P(EngineTest, ThreadsSubmitAndCancelWhileStepping) {
    EngineOptions eo;
    eo.n_ctx = 128;
    eo.block_size = 8;
    eo.kv_tokens = 256;
    Engine e(*model_, *ctx_, eo);
    std::atomic<bool> stop{false};
    std::thread stepper([&] {
        while (!stop.load()) {
            if (!e.step()) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    std::atomic<int> finished{0}, tokens{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t)
        clients.emplace_back([&, t] {
            std::mt19937 rng{uint32_t(t)};
            for (int i = 0; i < 12; ++i) {
                std::mutex mu;
                std::condition_variable cv;
                bool done = false;
                Request r;
                r.prompt = random_prompt(rng, 1 + int64_t(rng() % 30), test::kVocab);
                r.max_tokens = 1 + int64_t(rng() % 10);
                r.sampling.temp = 0;
                r.on_event = [&](const EngineEvent& ev) {
                    if (ev.token >= 0) tokens.fetch_add(1);
                    if (ev.finish != FinishReason::None) {
                        std::lock_guard lk(mu);
                        done = true;
                        cv.notify_one();
                    }
                };
                const uint64_t id = e.submit(std::move(r));
                if (i % 3 == 0) e.cancel(id);
                std::unique_lock lk(mu);
                ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return done; })) << "request never ended";
                finished.fetch_add(1);
            }
        });
    for (auto& c : clients) c.join();
    stop = true;
    stepper.join();
    EXPECT_EQ(finished.load(), 48);
    EXPECT_GT(tokens.load(), 0);
    EXPECT_EQ(e.stats().blocks_used, 0);
}

TEST_P(EngineTest, RequestErrorsNameTheField) {
    EngineOptions eo;
    eo.n_ctx = 64;
    eo.kv_tokens = 48;
    Engine e(*model_, *ctx_, eo);
    ErrorCode code{};
    auto err = [&](Request r) -> std::string {
        try {
            e.submit(std::move(r));
        } catch (const Error& x) {
            code = x.code();
            return x.what();
        }
        return "no error";
    };
    Request r;
    EXPECT_NE(err(r).find("prompt has no tokens"), std::string::npos);
    r.prompt = {1, int32_t(test::kVocab)};
    EXPECT_NE(err(r).find("outside the vocabulary"), std::string::npos);
    r.prompt.assign(64, 1);
    EXPECT_NE(err(r).find("do not fit the context"), std::string::npos);
    EXPECT_EQ(code, ErrorCode::ContextLengthExceeded);
    r.prompt.assign(50, 1);
    EXPECT_NE(err(r).find("can never fit the KV pool"), std::string::npos);
    EXPECT_EQ(code, ErrorCode::DoesNotFit);
    r.prompt = {1, 2};
    r.max_tokens = -1;
    EXPECT_NE(err(r).find("max_tokens"), std::string::npos);
    r.max_tokens = 4;
    r.sampling.top_p = 0;
    EXPECT_NE(err(r).find("top-p"), std::string::npos);
    r.sampling.top_p = 0.9f;
    r.top_logprobs = 21;
    EXPECT_NE(err(r).find("top_logprobs"), std::string::npos);
    EngineOptions zero_block;
    zero_block.n_ctx = 64;
    zero_block.block_size = 0;
    EXPECT_THROW(Engine(*model_, *ctx_, zero_block), Error);  // block size 0
    EngineStats st = e.stats();
    EXPECT_EQ(st.waiting, 0);
}

std::string name(const testing::TestParamInfo<std::tuple<Isa, std::string>>& p) {
    std::string arch = std::get<1>(p.param);
    for (char& ch : arch)
        if (ch == '-') ch = '_';  // gpt-oss
    return std::string(isa_name(std::get<0>(p.param))) + "_" + arch;
}

INSTANTIATE_TEST_SUITE_P(IsasArchs, EngineTest,
                         testing::Combine(testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon),
                                          testing::Values("llama", "qwen3", "gemma3", "qwen3moe", "glm4moe", "gpt-oss")),
                         name);

// The default model (gemma-3-270m Q4_K_M: Q4_K, Q6_K, Q5_0 and Q8_0 weights,
// sliding-window layers): 8 prompts of different lengths arriving at
// different steps, greedy, against each alone.
TEST(EngineRealModel, BatchedEqualsAloneOnDefaultModel) {
    const char* path = std::getenv("QLM_MODEL");
    if (!path || !std::filesystem::exists(path)) GTEST_SKIP() << "QLM_MODEL (the default model) not found: SKIPPED";
    auto model = Model::load(path);
    Context ctx(ContextOptions{std::nullopt, 2});
    EngineOptions eo;
    eo.n_ctx = 512;
    eo.step_tokens = 48;
    std::mt19937 rng(99);
    std::vector<Request> reqs;
    Collector dummy;
    for (int i = 0; i < 8; ++i) reqs.push_back(greedy(random_prompt(rng, 3 + 11 * i, 20000), 10, dummy));
    Engine e(*model, ctx, eo);
    Collector c;
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < reqs.size(); ++i) {
        Request r = reqs[i];
        r.on_event = c.sink();
        ids.push_back(e.submit(std::move(r)));
        e.step();
    }
    e.run_until_idle();
    for (size_t i = 0; i < reqs.size(); ++i)
        expect_same(run_alone(*model, ctx, eo, reqs[i]), c.results[ids[i]], "gemma sequence " + std::to_string(i));
}

}  // namespace
}  // namespace qlm
