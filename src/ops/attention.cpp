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
#include "ops/profile.h"
#include "qlm/error.h"

namespace qlm {

namespace {

size_t kv_elem(GgmlType t) { return type_info(t).type_size; }

void check_pages(const KvPages& kv) {
    if (kv.type != GgmlType::F16 && kv.type != GgmlType::F32)
        fail("attention: KV cache type ", type_name(kv.type), " is not supported (F16 or F32)");
    if (kv.pos_stride % kv_elem(kv.type) != 0)
        fail("attention: KV cache position stride ", kv.pos_stride, " is not a multiple of the ", type_name(kv.type),
             " element size");
    if (kv.block_size <= 0) fail("attention: KV cache block size must be positive, got ", kv.block_size);
}

// Calls f(rows, j, n) for the cache rows [from, to) of one kv head, a block's
// run at a time (j: the first row's offset from `from`).
template <class F>
void for_each_run(const KvPages& kv, int head, int64_t from, int64_t to, F&& f) {
    const int64_t ld = int64_t(kv.pos_stride / kv_elem(kv.type));
    for (int64_t p = from; p < to;) {
        const int64_t blk = p / kv.block_size, off = p % kv.block_size;
        const int64_t n = std::min(kv.block_size - off, to - p);
        const uint8_t* rows = kv.base + size_t(kv.table[blk]) * kv.block_stride + size_t(head) * kv.head_stride +
                              size_t(off) * kv.pos_stride;
        f(cpu::KvRows{rows, ld, kv.type == GgmlType::F16}, p - from, n);
        p += n;
    }
}

}  // namespace

void attention(Context& ctx, const float* q, int64_t n_tokens, const int32_t* positions, const KvView& k,
               const KvView& v, const AttentionShape& s, float* out) {
    static const int32_t kOneBlock = 0;
    auto pages = [&](const KvView& kv) {
        return KvPages{kv.type, kv.data, 0, kv.head_stride, kv.pos_stride, std::max<int64_t>(kv.n_pos, 1), &kOneBlock,
                       kv.n_pos};
    };
    AttnSeq seq{q, out, n_tokens, positions, pages(k), pages(v)};
    attention(ctx, std::vector<AttnSeq>{seq}, s);
}

void attention(Context& ctx, const std::vector<AttnSeq>& seqs, const AttentionShape& s) {
    auto& c = ctx.impl();
    int64_t tokens = 0;
    if (c.profile)
        for (const AttnSeq& sq : seqs) tokens += sq.n_tokens;
    ProfileScope scope(c, "attention", tokens, [&] {
        return cat(s.n_head, "/", s.n_kv_head, " heads x ", s.head_dim_k, s.window > 0 ? ", sliding window" : "", ", ",
                   seqs.size(), seqs.size() == 1 ? " sequence" : " sequences");
    });
    if (s.n_head <= 0 || s.n_kv_head <= 0 || s.n_head % s.n_kv_head != 0)
        fail("attention: ", s.n_head, " query heads cannot be grouped over ", s.n_kv_head, " kv heads");
    const int dk = s.head_dim_k, dv = s.head_dim_v, group = s.n_head / s.n_kv_head;
    const int64_t qstride = int64_t(s.n_head) * dk, ostride = int64_t(s.n_head) * dv;
    constexpr int64_t kChunk = cpu::kAttnQ;
    // Tasks: (sequence, head, chunk of up to kAttnQ queries), numbered in that
    // order; a sequence of one token (decode): (sequence, kv head, up to
    // kAttnQ of its query heads), so the heads that share a kv head read and
    // convert its rows once (a query's results do not depend on which queries
    // share a kernel call), where that leaves at least two tasks per thread
    // (one kv head's long cache on one thread would serialise a small
    // model's decode).
    const int64_t head_parts = (group + kChunk - 1) / kChunk;
    const bool group_heads = int64_t(seqs.size()) * s.n_kv_head * head_parts >= 2 * int64_t(c.pool->size());
    auto by_heads_of = [&](const AttnSeq& sq) { return group_heads && sq.n_tokens == 1; };
    std::vector<int64_t> first_task(seqs.size() + 1, 0);
    std::vector<int64_t> n_pos(seqs.size());
    for (size_t si = 0; si < seqs.size(); ++si) {
        const AttnSeq& sq = seqs[si];
        check_pages(sq.k), check_pages(sq.v);
        int32_t max_pos = -1;
        for (int64_t i = 0; i < sq.n_tokens; ++i) {
            if (sq.positions[i] < 0 || sq.positions[i] >= sq.k.n_pos || sq.positions[i] >= sq.v.n_pos)
                fail("attention: query ", i, " at position ", sq.positions[i], " is outside the ", sq.k.n_pos,
                     " cached positions");
            max_pos = std::max(max_pos, sq.positions[i]);
        }
        n_pos[si] = int64_t(max_pos) + 1;
        const int64_t chunks = (sq.n_tokens + kChunk - 1) / kChunk;
        const int64_t tasks = by_heads_of(sq) ? int64_t(s.n_kv_head) * head_parts : int64_t(s.n_head) * chunks;
        first_task[si + 1] = first_task[si] + tasks;
    }

    const cpu::AttnScoresFn scores_fn = cpu::kernel_or_scalar(*c.table, &cpu::KernelTable::attn_scores);
    const cpu::AttnWsumFn wsum_fn = cpu::kernel_or_scalar(*c.table, &cpu::KernelTable::attn_wsum);
    const cpu::RoundF16Fn round_f16 = cpu::kernel_or_scalar(*c.table, &cpu::KernelTable::round_f16);
    const cpu::ExpSumFn exp_sum = cpu::kernel_or_scalar(*c.table, &cpu::KernelTable::exp_sum);

    // Per task: the scores and the weighted sum run over the union of its
    // queries' key ranges, so each key and value row is read once for all of
    // them; a query's probabilities are zero outside its own range (adding
    // 0 * v leaves its sums exactly as they were). A query's scores do not
    // depend on which keys share a kernel call, and the weighted sum adds the
    // rows into `out` in position order, so cutting the range at block
    // boundaries leaves every result as it was.
    c.pool->run(first_task.back(), [&](int64_t t) {
        const size_t si = size_t(std::upper_bound(first_task.begin(), first_task.end(), t) - first_task.begin() - 1);
        const AttnSeq& sq = seqs[si];
        const int64_t chunks = (sq.n_tokens + kChunk - 1) / kChunk, local = t - first_task[si];
        // query i: token i0 + i of head h (by tokens), or token 0 of head h + i (by heads)
        const bool by_heads = by_heads_of(sq);
        int h, kvh;
        int64_t i0, nq, q_step, o_step;
        if (by_heads) {
            kvh = int(local / head_parts);
            const int64_t part = local % head_parts;
            h = int(kvh * group + part * kChunk), i0 = 0, nq = std::min<int64_t>(kChunk, group - part * kChunk);
            q_step = dk, o_step = dv;
        } else {
            h = int(local / chunks), kvh = h / group;
            i0 = (local % chunks) * kChunk, nq = std::min(sq.n_tokens, i0 + kChunk) - i0;
            q_step = qstride, o_step = ostride;
        }
        int64_t lo[kChunk], hi[kChunk], ulo = n_pos[si], uhi = 0;
        for (int64_t i = 0; i < nq; ++i) {
            const int64_t p = sq.positions[by_heads ? 0 : i0 + i];
            lo[i] = s.window > 0 ? std::max<int64_t>(0, p - s.window + 1) : 0;
            hi[i] = p + 1;
            ulo = std::min(ulo, lo[i]), uhi = std::max(uhi, hi[i]);
        }
        const int64_t cnt = uhi - ulo;
        // per-thread buffers, kept between calls (every element used is written first)
        static thread_local std::vector<float> scores, q16;
        if (scores.size() < size_t(nq * cnt)) scores.resize(size_t(nq * cnt));
        if (q16.size() < size_t(nq * dk)) q16.resize(size_t(nq * dk));
        const float* qi = sq.q + i0 * qstride + int64_t(h) * dk;
        int64_t qs = q_step;
        // With an F16 cache the products are taken in F16 inputs, as
        // llama.cpp does (q rounded to F16 for q·k, probabilities rounded
        // to F16 for p·v): the same numbers as the reference engine.
        if (sq.k.type == GgmlType::F16) {
            for (int64_t i = 0; i < nq; ++i) {
                std::copy(qi + i * q_step, qi + i * q_step + dk, q16.data() + i * dk);
                round_f16(q16.data() + i * dk, dk);
            }
            qi = q16.data(), qs = dk;
        }
        for_each_run(sq.k, kvh, ulo, uhi, [&](cpu::KvRows rows, int64_t j, int64_t n) {
            scores_fn(qi, int(nq), qs, rows, n, dk, s.scale, scores.data() + j, cnt);
        });
        for (int64_t i = 0; i < nq; ++i) {
            float* row = scores.data() + i * cnt;
            float* sc = row + (lo[i] - ulo);
            const int64_t n = hi[i] - lo[i];
            // A sink joins the denominator: exp(sink - max) beside the exp(score - max).
            float mx = 0;
            double sum = exp_sum(sc, n, s.sinks ? &mx : nullptr);
            if (s.sinks) sum += std::exp(double(s.sinks[by_heads ? h + i : h]) - double(mx));
            const float inv = float(1.0 / sum);
            for (int64_t j = 0; j < n; ++j) sc[j] *= inv;
            if (sq.v.type == GgmlType::F16) round_f16(sc, n);
            std::fill(row, sc, 0.0f);
            std::fill(sc + n, row + cnt, 0.0f);
            float* oi = sq.out + i0 * ostride + int64_t(h) * dv + i * o_step;
            std::fill(oi, oi + dv, 0.0f);
        }
        for_each_run(sq.v, kvh, ulo, uhi, [&](cpu::KvRows rows, int64_t j, int64_t n) {
            wsum_fn(scores.data() + j, int(nq), cnt, rows, n, dv, sq.out + i0 * ostride + int64_t(h) * dv, o_step);
        });
    });
}

}  // namespace qlm
