// The continuous-batching engine: many sequences share one forward pass per
// step over a paged KV cache.
//
// - The KV cache is a pool of fixed-size blocks (block_size positions); each
//   sequence has a block table. Blocks return to the pool when a sequence
//   ends or is cancelled.
// - Prefix cache: a full block is known by the hash of all tokens up to its
//   end; a new sequence whose prompt starts with known blocks shares them
//   (reference counted) and skips their prefill. Unreferenced cached blocks
//   stay until the pool needs them, least recently used first.
// - Each step takes the next token of every decoding sequence, then chunks of
//   the prompts waiting to be prefilled, up to step_tokens tokens (chunked
//   prefill: a long prompt never stalls the running streams).
// - A sequence that needs a block when none is free preempts the most
//   recently admitted one, which goes back to the queue and is recomputed
//   later (its full blocks usually still in the prefix cache); the stream
//   pauses but is never aborted. A request that could never fit is refused.
// - Each sequence samples with its own sampler and seed; results do not
//   depend on what else is in the batch (the forward pass is batch invariant).
//
// submit() and cancel() may be called from any thread; step() from one.
// Events are delivered on the thread that runs step().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qlm/grammar.h"
#include "qlm/model.h"
#include "qlm/sampler.h"

namespace qlm {

// A change of the prefix cache. Stored: a full block entered the cache under
// `hash` = chain hash of `parent` (0: the block starts a sequence) and its
// `tokens` (block_size of them). Removed: the block cached under `hash` was
// evicted. Cleared: the cache is empty (start-up).
struct KvEvent {
    enum class Kind { Stored, Removed, Cleared };
    Kind kind = Kind::Stored;
    uint64_t hash = 0, parent = 0;
    std::vector<int32_t> tokens;
};

struct EngineOptions {
    int64_t n_ctx = 4096;        // positions per sequence (clamped to the model's training context)
    int64_t kv_tokens = 0;       // pool size in positions (0: n_ctx; see kv_mib)
    double kv_mib = 0;           // pool size in MiB, if > 0 (instead of kv_tokens)
    int64_t block_size = 16;     // positions per block
    GgmlType kv_type = GgmlType::F16;
    int64_t step_tokens = 512;   // tokens per step (decode tokens + prefill chunks)
    // While some sequence decodes, the prompt chunks of a step are held to what
    // keeps the step within decode_slowdown times a decode-only step, from the
    // engine's own timings (the mean decode-only step and the mean cost of a
    // prompt token, both measured as it runs), and at least min_prefill_chunk
    // tokens, so new prompts never stall the running streams for long and
    // still always make progress. 0: off (step_tokens is the only limit).
    double decode_slowdown = 0;
    int64_t min_prefill_chunk = 16;
    int max_running = 64;        // sequences in the running set at once
    bool prefix_cache = true;
    // Observer of the prefix cache's block lifecycle (for KV-event publishers):
    // called on the stepping thread, at the end of a step that changed the
    // cache, with its events in order. The first call starts with Cleared
    // (held until the first block is stored).
    std::function<void(std::vector<KvEvent>&&)> on_kv_events;
};

enum class FinishReason { None, Stop, Length, Cancelled, Error };
const char* finish_reason_name(FinishReason r) noexcept;

struct EngineEvent {
    uint64_t id = 0;
    int32_t token = -1;          // a generated token, or -1 (a final event without one)
    float logprob = 0;           // log-softmax of the raw logits, when top_logprobs >= 0
    std::vector<TokenLogprob> top;
    FinishReason finish = FinishReason::None;  // set on the sequence's last event
    std::string error;           // finish == Error
    int64_t prompt_tokens = 0, cached_tokens = 0, generated = 0;
    std::span<const float> logits;  // what the token was sampled from, when return_logits
    // Seconds from submit() to the sequence's first admission into the running
    // set, on its first event after that admission; -1 on every other event.
    double queue_seconds = -1;
};

struct Request {
    std::vector<int32_t> prompt;
    int64_t max_tokens = 128;
    SamplerOptions sampling;
    std::vector<int32_t> stop_tokens;  // sampling one ends the sequence (Stop); it is not emitted
    int top_logprobs = -1;             // -1: none; n >= 0: the chosen token's logprob and the n best
    bool return_logits = false;
    // Constrains sampling (qlm/grammar.h); each sampled token is accepted
    // into it, and the sequence stops (Stop) once the grammar is complete
    // with nothing that could follow. Used on the stepping thread only.
    std::shared_ptr<GrammarMatcher> grammar;
    std::function<void(const EngineEvent&)> on_event;  // called on the stepping thread
};

struct EngineStats {
    int64_t running = 0, waiting = 0;
    int64_t blocks_total = 0, blocks_used = 0, blocks_cached = 0, blocks_free = 0;
    int64_t block_size = 0;
    int64_t prompt_tokens = 0, cached_prompt_tokens = 0, generated_tokens = 0;
    int64_t prompt_tokens_queried = 0;  // prompt tokens looked up in the prefix cache (every admitted prompt, once)
    int64_t steps = 0, preemptions = 0, finished = 0, cancelled = 0;
};

class Engine {
public:
    Engine(const Model& model, Context& ctx, const EngineOptions& opts = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Queues a request; returns its id. Throws qlm::Error (naming the field)
    // for a request that is invalid or could never fit.
    uint64_t submit(Request req);
    // Ends a sequence at the next step (its blocks are free after it); unknown ids are ignored.
    void cancel(uint64_t id);
    // Runs one step. Returns false when there was nothing to do.
    bool step();
    // Steps until no sequence is waiting or running.
    void run_until_idle();
    bool idle() const;
    EngineStats stats() const;

    int64_t n_ctx() const noexcept;
    int64_t block_size() const noexcept;
    uint64_t kv_bytes() const noexcept;
    const Model& model() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace qlm
