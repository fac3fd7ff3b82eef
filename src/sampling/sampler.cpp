#include "qlm/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "qlm/error.h"
#include "qlm/grammar.h"

namespace qlm {

int32_t argmax(const float* v, int64_t n) noexcept {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
        if (v[i] > v[best]) best = i;
    return int32_t(best);
}

Sampler::Sampler(const SamplerOptions& opts) : opts_(opts), state_(opts.seed) {
    if (!(opts.top_p > 0)) fail("sampler: top-p must be > 0, got ", opts.top_p);
    if (opts.min_p > 1) fail("sampler: min-p must be <= 1, got ", opts.min_p);
    if (!(opts.repeat_penalty > 0)) fail("sampler: repeat penalty must be > 0, got ", opts.repeat_penalty);
    if (opts.repeat_last_n < 0) fail("sampler: repeat-last-n must be >= 0, got ", opts.repeat_last_n);
    if (!std::isfinite(opts.temp)) fail("sampler: temperature must be finite, got ", opts.temp);
    if (!(std::fabs(opts.frequency_penalty) <= 2) || !(std::fabs(opts.presence_penalty) <= 2))
        fail("sampler: frequency and presence penalties must be in [-2, 2]");
    for (const auto& [t, b] : opts.logit_bias)
        if (t < 0 || !std::isfinite(b)) fail("sampler: logit_bias: token ", t, " is negative or its bias is not finite");
}

// splitmix64: tiny, well mixed, the same on every platform.
double Sampler::uniform() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return double(z >> 11) * 0x1.0p-53;
}

const float* Sampler::biased(const float* logits, int64_t n_vocab) {
    if (opts_.logit_bias.empty()) return logits;
    biased_.assign(logits, logits + n_vocab);
    for (const auto& [t, b] : opts_.logit_bias)
        if (t >= 0 && t < n_vocab) biased_[size_t(t)] += b;
    return biased_.data();
}

void Sampler::accept(int32_t token) {
    if (opts_.repeat_last_n == 0) return;
    recent_.push_back(token);
    while (int(recent_.size()) > opts_.repeat_last_n) recent_.pop_front();
}

int32_t Sampler::sample(const float* logits, int64_t n_vocab, GrammarMatcher* grammar) {
    if (n_vocab <= 0) fail("sampler: empty vocabulary");
    if (grammar && grammar->active()) {
        const bool truncates = (opts_.top_k > 0 && opts_.top_k < n_vocab) || opts_.top_p < 1.0f || opts_.min_p > 0;
        if (opts_.temp <= 0 || !truncates) {
            const int32_t t = sample(logits, n_vocab, nullptr);
            if (grammar->allows(t)) return t;
        }
        grammar->fill_mask(bits_);
        masked_.assign(logits, logits + n_vocab);
        bool any = false;
        for (int64_t i = 0; i < n_vocab; ++i) {
            const bool ok = size_t(i >> 6) < bits_.size() && ((bits_[size_t(i >> 6)] >> (i & 63)) & 1);
            if (!ok) masked_[size_t(i)] = -std::numeric_limits<float>::infinity();
            any = any || ok;
        }
        if (!any) fail("grammar: no token can continue the text");
        return sample(masked_.data(), n_vocab, nullptr);
    }
    const bool penalties = opts_.repeat_penalty != 1.0f || opts_.frequency_penalty != 0.0f || opts_.presence_penalty != 0.0f;
    if (opts_.temp <= 0 && !penalties) {  // greedy: the first largest logit, without the candidate copy
        int64_t best = 0;
        float best_v = logits[0];
        for (int64_t i = 1; i < n_vocab; ++i)
            if (logits[i] > best_v) best_v = logits[i], best = i;
        return int32_t(best);
    }
    cand_.resize(size_t(n_vocab));
    for (int64_t i = 0; i < n_vocab; ++i) cand_[size_t(i)] = {logits[i], int32_t(i)};
    if (opts_.repeat_penalty != 1.0f) {
        std::unordered_set<int32_t> seen(recent_.begin(), recent_.end());
        for (int32_t t : seen)
            if (t >= 0 && t < n_vocab) {
                float& l = cand_[size_t(t)].first;
                l = l > 0 ? l / opts_.repeat_penalty : l * opts_.repeat_penalty;
            }
    }
    if (opts_.frequency_penalty != 0.0f || opts_.presence_penalty != 0.0f) {
        std::unordered_map<int32_t, int> count;
        for (int32_t t : recent_) ++count[t];
        for (const auto& [t, c] : count)
            if (t >= 0 && t < n_vocab)
                cand_[size_t(t)].first -= float(c) * opts_.frequency_penalty + opts_.presence_penalty;
    }
    if (opts_.temp <= 0) {
        size_t best = 0;
        for (size_t i = 1; i < cand_.size(); ++i)
            if (cand_[i].first > cand_[best].first) best = i;
        return cand_[best].second;
    }
    // Largest logit first; ties by lower id so the order is fully determined.
    auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    size_t n = cand_.size();
    if (opts_.top_k > 0 && size_t(opts_.top_k) < n) {
        std::partial_sort(cand_.begin(), cand_.begin() + opts_.top_k, cand_.end(), by_logit);
        n = size_t(opts_.top_k);
    } else {
        std::sort(cand_.begin(), cand_.end(), by_logit);
    }
    // Softmax over the survivors (at temperature 1 for top-p/min-p, as llama.cpp's default chain does).
    std::vector<double> p(n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += p[i] = std::exp(double(cand_[i].first) - double(cand_[0].first));
    if (opts_.top_p < 1.0f) {
        double cum = 0;
        size_t keep = n;
        for (size_t i = 0; i < n; ++i) {
            cum += p[i] / sum;
            if (cum >= opts_.top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (opts_.min_p > 0) {
        size_t keep = 1;
        while (keep < n && p[keep] >= opts_.min_p * p[0]) ++keep;
        n = keep;
    }
    // Temperature, then draw.
    sum = 0;
    for (size_t i = 0; i < n; ++i)
        sum += p[i] = std::exp((double(cand_[i].first) - double(cand_[0].first)) / double(opts_.temp));
    double r = uniform() * sum;
    size_t last = 0;  // rounding can leave r >= 0 after the loop: the last candidate with weight, never a masked one
    for (size_t i = 0; i < n; ++i) {
        if (p[i] > 0) last = i;
        r -= p[i];
        if (r < 0) return cand_[i].second;
    }
    return cand_[last].second;
}

}  // namespace qlm
