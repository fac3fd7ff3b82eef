// A single sequence over the batched forward pass: the whole context's
// blocks in order, fed in chunks of n_batch tokens.
#include <algorithm>
#include <numeric>

#include "qlm/error.h"
#include "qlm/model.h"

namespace qlm {

namespace {

int64_t session_ctx(const Model& model, const SessionOptions& opts) {
    if (opts.kv_type != GgmlType::F16 && opts.kv_type != GgmlType::F32)
        fail("session: KV cache type ", type_name(opts.kv_type), " is not supported (F16 or F32)");
    if (opts.n_ctx <= 0) fail("session: context size must be positive, got ", opts.n_ctx);
    if (opts.n_batch <= 0) fail("session: batch size must be positive, got ", opts.n_batch);
    return std::min(opts.n_ctx, model.config().n_ctx_train);
}

constexpr int64_t kSessionBlock = 256;

KvCacheOptions session_kv(const Model& model, const SessionOptions& opts) {
    const int64_t n = session_ctx(model, opts);
    return {(n + kSessionBlock - 1) / kSessionBlock, kSessionBlock, opts.kv_type};
}

}  // namespace

Session::Session(const Model& model, Context& ctx, const SessionOptions& opts)
    : model_(model),
      opts_(opts),
      n_ctx_(session_ctx(model, opts)),
      kv_(model.config(), session_kv(model, opts), ctx.backend()),
      fwd_(model, ctx) {
    blocks_.resize(size_t(kv_.n_blocks()));
    std::iota(blocks_.begin(), blocks_.end(), 0);
}

Session::~Session() = default;

uint64_t Session::kv_bytes() const noexcept { return kv_.bytes(); }

void Session::eval(std::span<const int32_t> tokens, float* logits, bool all_logits) {
    const int64_t n = int64_t(tokens.size());
    if (n == 0) fail("session: eval of an empty token list");
    if (pos_ + n > n_ctx_)
        fail("session: context is full: ", pos_, " + ", n, " tokens exceed the context size ", n_ctx_);
    const int64_t n_vocab = model_.config().n_vocab;
    for (int64_t i = 0; i < n; ++i)
        if (tokens[size_t(i)] < 0 || tokens[size_t(i)] >= n_vocab)
            fail("session: token ", i, " has id ", tokens[size_t(i)], ", outside the vocabulary of ", n_vocab);
    for (int64_t i0 = 0; i0 < n; i0 += opts_.n_batch) {
        const int64_t b = std::min(opts_.n_batch, n - i0);
        const bool last = i0 + b == n;
        SeqStep step{tokens.subspan(size_t(i0), size_t(b)), pos_, blocks_.data(), all_logits ? 0 : (last ? b - 1 : b)};
        fwd_.run(kv_, {&step, 1}, all_logits ? logits + i0 * n_vocab : logits);
        pos_ += b;
    }
}

}  // namespace qlm
