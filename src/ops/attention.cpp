// Causal grouped-query attention over a KV cache. The cache rows of each kv
// head are converted to float once per call (F16 → F32 through the backend's
// converter), then every (head, query chunk) task does scores, softmax and the
// weighted sum of values in float with a fixed summation order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "formats/common.h"
#include "ops/context_impl.h"
#include "qlm/error.h"

namespace qlm {

namespace {

// kv rows [0, n) of one head as float, contiguous (n × dim).
void gather_rows(const cpu::KernelTable& t, const KvView& kv, int head, int dim, int64_t n, float* dst) {
    const uint8_t* base = kv.data + size_t(head) * kv.head_stride;
    for (int64_t j = 0; j < n; ++j) {
        const uint8_t* row = base + size_t(j) * kv.pos_stride;
        if (kv.type == GgmlType::F32)
            std::memcpy(dst + j * dim, row, size_t(dim) * sizeof(float));
        else
            t.f16_to_f32(reinterpret_cast<const uint16_t*>(row), dst + j * dim, dim);
    }
}

}  // namespace

void attention(Context& ctx, const float* q, int64_t n_tokens, const int32_t* positions, const KvView& k,
               const KvView& v, const AttentionShape& s, float* out) {
    auto& c = ctx.impl();
    if (s.n_head <= 0 || s.n_kv_head <= 0 || s.n_head % s.n_kv_head != 0)
        fail("attention: ", s.n_head, " query heads cannot be grouped over ", s.n_kv_head, " kv heads");
    for (const KvView* kv : {&k, &v})
        if (kv->type != GgmlType::F16 && kv->type != GgmlType::F32)
            fail("attention: KV cache type ", type_name(kv->type), " is not supported (F16 or F32)");
    int32_t max_pos = -1;
    for (int64_t i = 0; i < n_tokens; ++i) {
        if (positions[i] < 0 || positions[i] >= k.n_pos || positions[i] >= v.n_pos)
            fail("attention: query ", i, " at position ", positions[i], " is outside the ", k.n_pos,
                 " cached positions");
        max_pos = std::max(max_pos, positions[i]);
    }
    const int64_t n_pos = int64_t(max_pos) + 1;
    const int dk = s.head_dim_k, dv = s.head_dim_v, group = s.n_head / s.n_kv_head;

    // One float copy of the visible cache rows per kv head.
    std::vector<float> kf(size_t(s.n_kv_head) * size_t(n_pos) * size_t(dk));
    std::vector<float> vf(size_t(s.n_kv_head) * size_t(n_pos) * size_t(dv));
    const cpu::KernelTable& tab = c.table->f16_to_f32 ? *c.table : cpu::scalar_kernels();
    const cpu::AttnScoresFn scores_fn = c.table->attn_scores ? c.table->attn_scores : cpu::scalar_kernels().attn_scores;
    const cpu::AttnWsumFn wsum_fn = c.table->attn_wsum ? c.table->attn_wsum : cpu::scalar_kernels().attn_wsum;
    c.pool->run(int64_t(s.n_kv_head) * 2, [&](int64_t t) {
        const int h = int(t / 2);
        if (t % 2 == 0)
            gather_rows(tab, k, h, dk, n_pos, kf.data() + size_t(h) * size_t(n_pos) * size_t(dk));
        else
            gather_rows(tab, v, h, dv, n_pos, vf.data() + size_t(h) * size_t(n_pos) * size_t(dv));
    });

    // Tasks of up to kAttnQ queries of one head: the scores and the weighted
    // sum run over the union of their key ranges, so each key and value row
    // is read once for all of them; a query's probabilities are zero outside
    // its own range (adding 0 * v leaves its sums exactly as they were).
    constexpr int64_t kChunk = cpu::kAttnQ;
    const int64_t chunks = (n_tokens + kChunk - 1) / kChunk;
    const int64_t qstride = int64_t(s.n_head) * dk, ostride = int64_t(s.n_head) * dv;
    c.pool->run(int64_t(s.n_head) * chunks, [&](int64_t t) {
        const int h = int(t / chunks), kvh = h / group;
        const float* kh = kf.data() + size_t(kvh) * size_t(n_pos) * size_t(dk);
        const float* vh = vf.data() + size_t(kvh) * size_t(n_pos) * size_t(dv);
        const int64_t i0 = (t % chunks) * kChunk, nq = std::min(n_tokens, i0 + kChunk) - i0;
        int64_t lo[kChunk], hi[kChunk], ulo = n_pos, uhi = 0;
        for (int64_t i = 0; i < nq; ++i) {
            const int64_t p = positions[i0 + i];
            lo[i] = s.window > 0 ? std::max<int64_t>(0, p - s.window + 1) : 0;
            hi[i] = p + 1;
            ulo = std::min(ulo, lo[i]), uhi = std::max(uhi, hi[i]);
        }
        const int64_t cnt = uhi - ulo;
        std::vector<float> scores(size_t(nq * cnt)), q16(size_t(nq * dk));
        const float* qi = q + i0 * qstride + int64_t(h) * dk;
        int64_t qs = qstride;
        // With an F16 cache the products are taken in F16 inputs, as
        // llama.cpp does (q rounded to F16 for q·k, probabilities rounded
        // to F16 for p·v): the same numbers as the reference engine.
        if (k.type == GgmlType::F16) {
            for (int64_t i = 0; i < nq; ++i)
                for (int e = 0; e < dk; ++e)
                    q16[size_t(i * dk + e)] = fmt::fp16_to_fp32(fmt::fp32_to_fp16(qi[i * qstride + e]));
            qi = q16.data(), qs = dk;
        }
        scores_fn(qi, int(nq), qs, kh + ulo * dk, cnt, dk, s.scale, scores.data(), cnt);
        for (int64_t i = 0; i < nq; ++i) {
            float* row = scores.data() + i * cnt;
            float* sc = row + (lo[i] - ulo);
            const int64_t n = hi[i] - lo[i];
            float mx = -INFINITY;
            for (int64_t j = 0; j < n; ++j) mx = std::max(mx, sc[j]);
            double sum = 0;
            for (int64_t j = 0; j < n; ++j) {
                sc[j] = std::exp(sc[j] - mx);
                sum += sc[j];
            }
            const float inv = float(1.0 / sum);
            for (int64_t j = 0; j < n; ++j) {
                sc[j] *= inv;
                if (v.type == GgmlType::F16) sc[j] = fmt::fp16_to_fp32(fmt::fp32_to_fp16(sc[j]));
            }
            std::fill(row, sc, 0.0f);
            std::fill(sc + n, row + cnt, 0.0f);
            float* oi = out + (i0 + i) * ostride + int64_t(h) * dv;
            std::fill(oi, oi + dv, 0.0f);
        }
        wsum_fn(scores.data(), int(nq), cnt, vh + ulo * dv, cnt, dv, out + i0 * ostride + int64_t(h) * dv, ostride);
    });
}

}  // namespace qlm
