// Causal grouped-query attention over a KV cache. Every (head, query chunk)
// task does scores, softmax and the weighted sum of values in float with a
// fixed summation order, reading the cache rows in place (F16 rows converted
// exactly as they are loaded; nothing is copied per call).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "formats/common.h"
#include "ops/context_impl.h"
#include "qlm/error.h"

namespace qlm {

namespace {

size_t kv_elem(const KvView& kv) { return type_info(kv.type).type_size; }

// Rows [from, ...) of one kv head.
cpu::KvRows kv_rows(const KvView& kv, int head, int64_t from) {
    return {kv.data + size_t(head) * kv.head_stride + size_t(from) * kv.pos_stride, int64_t(kv.pos_stride / kv_elem(kv)),
            kv.type == GgmlType::F16};
}

}  // namespace

void attention(Context& ctx, const float* q, int64_t n_tokens, const int32_t* positions, const KvView& k,
               const KvView& v, const AttentionShape& s, float* out) {
    auto& c = ctx.impl();
    if (s.n_head <= 0 || s.n_kv_head <= 0 || s.n_head % s.n_kv_head != 0)
        fail("attention: ", s.n_head, " query heads cannot be grouped over ", s.n_kv_head, " kv heads");
    for (const KvView* kv : {&k, &v}) {
        if (kv->type != GgmlType::F16 && kv->type != GgmlType::F32)
            fail("attention: KV cache type ", type_name(kv->type), " is not supported (F16 or F32)");
        if (kv->pos_stride % kv_elem(*kv) != 0)
            fail("attention: KV cache position stride ", kv->pos_stride, " is not a multiple of the ",
                 type_name(kv->type), " element size");
    }
    int32_t max_pos = -1;
    for (int64_t i = 0; i < n_tokens; ++i) {
        if (positions[i] < 0 || positions[i] >= k.n_pos || positions[i] >= v.n_pos)
            fail("attention: query ", i, " at position ", positions[i], " is outside the ", k.n_pos,
                 " cached positions");
        max_pos = std::max(max_pos, positions[i]);
    }
    const int64_t n_pos = int64_t(max_pos) + 1;
    const int dk = s.head_dim_k, dv = s.head_dim_v, group = s.n_head / s.n_kv_head;

    const cpu::AttnScoresFn scores_fn = cpu::kernel_or_scalar(*c.table, &cpu::KernelTable::attn_scores);
    const cpu::AttnWsumFn wsum_fn = cpu::kernel_or_scalar(*c.table, &cpu::KernelTable::attn_wsum);
    const cpu::RoundF16Fn round_f16 = cpu::kernel_or_scalar(*c.table, &cpu::KernelTable::round_f16);
    const cpu::ExpSumFn exp_sum = cpu::kernel_or_scalar(*c.table, &cpu::KernelTable::exp_sum);

    // Tasks of up to kAttnQ queries of one head: the scores and the weighted
    // sum run over the union of their key ranges, so each key and value row
    // is read once for all of them; a query's probabilities are zero outside
    // its own range (adding 0 * v leaves its sums exactly as they were).
    constexpr int64_t kChunk = cpu::kAttnQ;
    const int64_t chunks = (n_tokens + kChunk - 1) / kChunk;
    const int64_t qstride = int64_t(s.n_head) * dk, ostride = int64_t(s.n_head) * dv;
    c.pool->run(int64_t(s.n_head) * chunks, [&](int64_t t) {
        const int h = int(t / chunks), kvh = h / group;
        const int64_t i0 = (t % chunks) * kChunk, nq = std::min(n_tokens, i0 + kChunk) - i0;
        int64_t lo[kChunk], hi[kChunk], ulo = n_pos, uhi = 0;
        for (int64_t i = 0; i < nq; ++i) {
            const int64_t p = positions[i0 + i];
            lo[i] = s.window > 0 ? std::max<int64_t>(0, p - s.window + 1) : 0;
            hi[i] = p + 1;
            ulo = std::min(ulo, lo[i]), uhi = std::max(uhi, hi[i]);
        }
        const int64_t cnt = uhi - ulo;
        // per-thread buffers, kept between calls (every element used is written first)
        static thread_local std::vector<float> scores, q16;
        if (scores.size() < size_t(nq * cnt)) scores.resize(size_t(nq * cnt));
        if (q16.size() < size_t(nq * dk)) q16.resize(size_t(nq * dk));
        const float* qi = q + i0 * qstride + int64_t(h) * dk;
        int64_t qs = qstride;
        // With an F16 cache the products are taken in F16 inputs, as
        // llama.cpp does (q rounded to F16 for q·k, probabilities rounded
        // to F16 for p·v): the same numbers as the reference engine.
        if (k.type == GgmlType::F16) {
            for (int64_t i = 0; i < nq; ++i) {
                std::copy(qi + i * qstride, qi + i * qstride + dk, q16.data() + i * dk);
                round_f16(q16.data() + i * dk, dk);
            }
            qi = q16.data(), qs = dk;
        }
        scores_fn(qi, int(nq), qs, kv_rows(k, kvh, ulo), cnt, dk, s.scale, scores.data(), cnt);
        for (int64_t i = 0; i < nq; ++i) {
            float* row = scores.data() + i * cnt;
            float* sc = row + (lo[i] - ulo);
            const int64_t n = hi[i] - lo[i];
            const float inv = float(1.0 / exp_sum(sc, n));
            for (int64_t j = 0; j < n; ++j) sc[j] *= inv;
            if (v.type == GgmlType::F16) round_f16(sc, n);
            std::fill(row, sc, 0.0f);
            std::fill(sc + n, row + cnt, 0.0f);
            float* oi = out + (i0 + i) * ostride + int64_t(h) * dv;
            std::fill(oi, oi + dv, 0.0f);
        }
        wsum_fn(scores.data(), int(nq), cnt, kv_rows(v, kvh, ulo), cnt, dv, out + i0 * ostride + int64_t(h) * dv, ostride);
    });
}

}  // namespace qlm
