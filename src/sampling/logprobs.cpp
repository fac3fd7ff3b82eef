// Logprobs of a logits row: log-sum-exp on the vectorised exp-sum (the
// same one attention and perplexity use) and the k best tokens in one pass.
#include <algorithm>
#include <cmath>

#include "qlm/ops.h"
#include "qlm/sampler.h"

namespace qlm {

double log_sum_exp(const Context& ctx, const float* row, int64_t n, std::vector<float>& scratch) {
    scratch.assign(row, row + n);
    float max = 0;
    const double sum = exp_sum(ctx, scratch.data(), n, &max);
    return double(max) + std::log(sum);
}

void top_logprobs(const float* row, int64_t n, int k, double lse, std::vector<TokenLogprob>& out) {
    out.clear();
    if (k <= 0 || n <= 0) return;
    const size_t kk = std::min<size_t>(size_t(k), size_t(n));
    // better: larger logit, then lower id
    auto better = [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); };
    std::vector<int32_t> best;  // sorted best first, at most kk
    best.reserve(kk + 1);
    for (int64_t i = 0; i < n; ++i) {
        const int32_t id = int32_t(i);
        if (best.size() == kk && !better(id, best.back())) continue;
        best.insert(std::upper_bound(best.begin(), best.end(), id, better), id);
        if (best.size() > kk) best.pop_back();
    }
    for (int32_t id : best) out.push_back({id, float(double(row[id]) - lse)});
}

}  // namespace qlm
