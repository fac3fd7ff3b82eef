// Token sampling, one chain of logits processors: logit bias, then the
// grammar mask, repetition / frequency / presence penalties, top-k, top-p,
// min-p, temperature, then a draw from the remaining distribution. temp <= 0
// is greedy (argmax, lowest id on ties). A given seed reproduces the same
// tokens on any machine: the generator is a fixed 64-bit PRNG and the
// arithmetic is float/double only. Logprobs (log-softmax of a logits row and
// its k best tokens) on the context's vectorised exp-sum.
#pragma once

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace qlm {

class Context;
class GrammarMatcher;

struct TokenLogprob {
    int32_t token = 0;
    float logprob = 0;
};

struct SamplerOptions {
    float temp = 0.8f;
    int top_k = 40;              // <= 0: off
    float top_p = 0.95f;         // >= 1: off
    float min_p = 0.05f;         // <= 0: off
    float repeat_penalty = 1.0f; // 1: off; logits of recent tokens: >0 divided, <0 multiplied
    int repeat_last_n = 64;
    // OpenAI's: logit -= count * frequency + (count > 0) * presence, over the
    // same recent tokens as the repetition penalty. 0: off.
    float frequency_penalty = 0.0f;
    float presence_penalty = 0.0f;
    uint64_t seed = 0;
    // Added to those tokens' logits first in the chain (OpenAI's logit_bias);
    // logprobs are of the biased logits.
    std::vector<std::pair<int32_t, float>> logit_bias;
};

class Sampler {
public:
    explicit Sampler(const SamplerOptions& opts);
    // Picks a token from n_vocab logits (read only). With a grammar (an
    // active matcher), the tokens it does not allow are masked out before
    // the chain (their logits -inf); the caller then accepts the token into
    // the matcher. When the draw without the mask is exact for the chain
    // (greedy, or no top-k / top-p / min-p truncation), the unmasked draw is
    // tried first and kept if allowed: the same distribution, one token
    // check instead of a whole mask. Throws qlm::Error when the grammar
    // allows no token at all.
    int32_t sample(const float* logits, int64_t n_vocab, GrammarMatcher* grammar = nullptr);
    // The chain's first stage: the logits with logit_bias added (in a buffer
    // of the sampler's, valid until the next call), or `logits` itself when
    // there is no bias. sample() expects what this returns.
    const float* biased(const float* logits, int64_t n_vocab);
    // Records a token (prompt or generated) for the repetition penalty.
    void accept(int32_t token);
    const SamplerOptions& options() const noexcept { return opts_; }

private:
    double uniform();  // [0, 1)

    SamplerOptions opts_;
    uint64_t state_;
    std::deque<int32_t> recent_;
    std::vector<std::pair<float, int32_t>> cand_;
    std::vector<float> masked_;
    std::vector<uint64_t> bits_;
    std::vector<float> biased_;
};

// Index of the largest value (lowest index on ties).
int32_t argmax(const float* v, int64_t n) noexcept;

// log(sum(exp(row))) on the context's vectorised exp-sum (float exp summed
// in double, good to ~1e-6); `scratch` is resized to n and overwritten.
double log_sum_exp(const Context& ctx, const float* row, int64_t n, std::vector<float>& scratch);

// The k most likely tokens of a row (ties: lower id first) with their
// log-probabilities row[i] - lse, best first, into `out`.
void top_logprobs(const float* row, int64_t n, int k, double lse, std::vector<TokenLogprob>& out);

}  // namespace qlm
