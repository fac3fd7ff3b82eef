// Mixture of experts: routing (gating, top-k, weights) and the grouped-expert
// matmul. The rows routed to each expert are gathered (the activations were
// quantized once for the whole step), every active expert runs once over all
// of its rows through the ordinary kernels, and the outputs are scattered back
// to their slots. The kernels are batch invariant (src/cpu/kernels.h), so a
// slot's output does not depend on which other tokens chose the same expert.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "ops/matmul_plan.h"
#include "ops/profile.h"
#include "qlm/error.h"
#include "qlm/gguf.h"

namespace qlm {

using namespace detail;

WeightView ExpertsView::expert(int64_t e) const {
    WeightView w;
    w.type = type, w.n = n, w.k = k, w.row_stride = row_stride;
    w.data = data + size_t(e) * expert_stride;
    w.name = name;
    return w;
}

ExpertsView experts_view(const GgufTensor& t) {
    if (t.shape.size() != 3)
        fail("tensor '", t.name, "': expert weights must be 3-D [k, n, n_expert], shape has ", t.shape.size(), " dims");
    check_tensor_alignment(t);
    ExpertsView v;
    v.type = t.type;
    v.k = t.shape[0], v.n = t.shape[1], v.n_expert = t.shape[2];
    v.row_stride = row_size(t.type, v.k);  // the reader already checked whole blocks
    v.expert_stride = v.row_stride * size_t(v.n);
    v.data = t.data;
    v.name = t.name;
    return v;
}

void route_experts(const float* logits, int64_t n_tokens, int64_t n_expert, const RouterParams& p, int32_t* ids,
                   float* weights) {
    if (n_expert <= 0 || p.n_used <= 0 || p.n_used > n_expert)
        fail("route_experts: ", p.n_used, " experts per token out of ", n_expert);
    const int k = p.n_used;
    std::vector<float> prob(static_cast<size_t>(n_expert)), score(static_cast<size_t>(n_expert));
    std::vector<int32_t> order(static_cast<size_t>(n_expert));
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* l = logits + t * n_expert;
        switch (p.gating) {
            case RouterGating::Softmax: {
                float mx = l[0];
                for (int64_t e = 1; e < n_expert; ++e) mx = std::max(mx, l[e]);
                double sum = 0;
                for (int64_t e = 0; e < n_expert; ++e) sum += prob[size_t(e)] = std::exp(l[e] - mx);
                const float inv = float(1.0 / sum);
                for (int64_t e = 0; e < n_expert; ++e) prob[size_t(e)] *= inv;
                break;
            }
            case RouterGating::Sigmoid:
                for (int64_t e = 0; e < n_expert; ++e) prob[size_t(e)] = 1.0f / (1.0f + std::exp(-l[e]));
                break;
            case RouterGating::SoftmaxSelected:
                for (int64_t e = 0; e < n_expert; ++e) prob[size_t(e)] = l[e];
                break;
        }
        for (int64_t e = 0; e < n_expert; ++e)
            score[size_t(e)] = prob[size_t(e)] + (p.selection_bias ? p.selection_bias[e] : 0.0f);
        for (int64_t e = 0; e < n_expert; ++e) order[size_t(e)] = int32_t(e);
        // Largest score first; equal scores (and NaN, ranked last) by expert id.
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
            const float sa = score[size_t(a)], sb = score[size_t(b)];
            const bool na = std::isnan(sa), nb = std::isnan(sb);
            if (na != nb) return nb;
            if (!na && sa != sb) return sa > sb;
            return a < b;
        });
        int32_t* id = ids + t * k;
        float* w = weights + t * k;
        for (int j = 0; j < k; ++j) id[j] = order[size_t(j)], w[j] = prob[size_t(order[size_t(j)])];
        if (p.gating == RouterGating::SoftmaxSelected) {
            float mx = w[0];
            for (int j = 1; j < k; ++j) mx = std::max(mx, w[j]);
            double sum = 0;
            for (int j = 0; j < k; ++j) sum += w[j] = std::exp(w[j] - mx);
            const float inv = float(1.0 / sum);
            for (int j = 0; j < k; ++j) w[j] *= inv;
        }
        if (p.normalize) {
            float sum = 0;
            for (int j = 0; j < k; ++j) sum += w[j];
            sum = std::max(sum, 6.103515625e-5f);  // the smallest normal binary16, as llama.cpp clamps
            for (int j = 0; j < k; ++j) w[j] /= sum;
        }
        if (p.scale != 1.0f)
            for (int j = 0; j < k; ++j) w[j] *= p.scale;
    }
}

void matmul_experts(Context& ctx, const ExpertRouting& r, const std::vector<ExpertJob>& jobs) {
    auto& c = ctx.impl();
    ProfileScope scope(c, "matmul_experts", r.n_tokens, [&] {
        std::string d;
        for (const ExpertJob& j : jobs)
            d += cat(d.empty() ? "" : " + ", fold_layer(j.w.name), " ", type_name(j.w.type), " ", j.w.n_expert, "x",
                     j.w.n, "x", j.w.k);
        return cat(d, ", ", r.n_used, " of ", r.n_expert, " experts");
    });
    if (r.n_tokens <= 0 || r.n_used <= 0 || r.n_expert <= 0)
        fail("matmul_experts: routing of ", r.n_tokens, " tokens, ", r.n_used, " of ", r.n_expert, " experts");
    const int64_t slots = r.n_tokens * r.n_used;
    // Slots grouped by expert, in slot order within each expert.
    std::vector<int64_t> start(static_cast<size_t>(r.n_expert) + 1, 0), order(static_cast<size_t>(slots));
    for (int64_t s = 0; s < slots; ++s) {
        const int32_t e = r.ids[s];
        if (e < 0 || e >= r.n_expert)
            fail("matmul_experts: token ", s / r.n_used, " is routed to expert ", e, " of ", r.n_expert);
        ++start[size_t(e) + 1];
    }
    for (int64_t e = 0; e < r.n_expert; ++e) start[size_t(e) + 1] += start[size_t(e)];
    {
        std::vector<int64_t> fill(start.begin(), start.end() - 1);
        for (int64_t s = 0; s < slots; ++s) order[size_t(fill[size_t(r.ids[s])]++)] = s;
    }

    // Gathered activations: one buffer per distinct (activations, per_slot).
    // Buffers are kept between calls on the calling thread (a Context has one
    // caller at a time): a prefill step would otherwise allocate and zero tens
    // of MB per layer.
    static thread_local std::vector<std::vector<uint8_t>> gather_bufs;
    static thread_local std::vector<std::vector<float>> out_bufs;
    std::map<std::pair<const QuantizedActivations*, bool>, std::vector<uint8_t>*> gathered;
    for (const ExpertJob& j : jobs) {
        const ExpertsView& w = j.w;
        if (!j.xq || !j.y || !w.data) fail("matmul_experts: job for ", w.name, " is incomplete");
        if (w.n_expert != r.n_expert)
            fail("matmul_experts: weight ", w.name, " has ", w.n_expert, " experts, the routing ", r.n_expert);
        check_weight(w.expert(0), "matmul_experts");
        if (j.xq->type != activation_type(w.type))
            fail("matmul_experts: weight ", w.name, " (", type_name(w.type), ") needs ",
                 type_name(activation_type(w.type)), " activations, got ", type_name(j.xq->type));
        if (j.xq->k != w.k || j.xq->m != (j.per_slot ? slots : r.n_tokens))
            fail("matmul_experts: activations of ", j.xq->m, " x ", j.xq->k, " do not fit weight ", w.name, " (",
                 w.n, " x ", w.k, ") for ", r.n_tokens, " tokens x ", r.n_used, " experts");
        gathered.try_emplace({j.xq, j.per_slot}, nullptr);
    }
    if (gather_bufs.size() < gathered.size()) gather_bufs.resize(gathered.size());
    {
        size_t i = 0;
        for (auto& kv : gathered) kv.second = &gather_bufs[i++];
    }
    for (auto& [key, bufp] : gathered) {
        const QuantizedActivations& xq = *key.first;
        const bool per_slot = key.second;
        std::vector<uint8_t>& buf = *bufp;
        if (buf.size() < size_t(slots) * xq.row_stride) buf.resize(size_t(slots) * xq.row_stride);
        c.pool->run_ranges(slots, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) {
                const int64_t s = order[size_t(i)], src = per_slot ? s : s / r.n_used;
                std::memcpy(buf.data() + size_t(i) * xq.row_stride, xq.data.data() + size_t(src) * xq.row_stride,
                            xq.row_stride);
            }
        });
    }

    // One plan per (job, active expert); tasks of all plans go to one run.
    struct Plan {
        size_t job;
        int64_t expert, rpt, first_task;
        KernelChoice kc;
    };
    std::vector<Plan> plans;
    if (out_bufs.size() < jobs.size()) out_bufs.resize(jobs.size());
    std::vector<std::vector<float>>& out = out_bufs;
    // Weight rows per task: the tasks of all plans together split like one
    // matmul's (rows_per_task), so an expert with many rows to share is one
    // task (the GEMM prepares its activations once per task) where many
    // experts are active, and a few experts still split across threads.
    int64_t all_rows = 0;
    for (const ExpertJob& j : jobs)
        for (int64_t e = 0; e < r.n_expert; ++e)
            if (start[size_t(e) + 1] > start[size_t(e)]) all_rows += j.w.n;
    const int64_t rpt_all = rows_per_task(all_rows, c.pool->size());
    int64_t tasks = 0;
    for (size_t ji = 0; ji < jobs.size(); ++ji) {
        const ExpertsView& w = jobs[ji].w;
        if (out[ji].size() < size_t(slots * w.n)) out[ji].resize(size_t(slots * w.n));
        const int64_t rpt = std::max(rows_per_task(w.n, c.pool->size()), std::min(rpt_all, (w.n + 15) / 16 * 16));
        for (int64_t e = 0; e < r.n_expert; ++e) {
            const int64_t m = start[size_t(e) + 1] - start[size_t(e)];
            if (m == 0) continue;
            Plan p{ji, e, rpt, tasks, choose_kernel(c, w.expert(e), m)};
            tasks += (w.n + p.rpt - 1) / p.rpt;
            plans.push_back(p);
        }
    }
    c.pool->run(tasks, [&](int64_t t) {
        const auto it = std::upper_bound(plans.begin(), plans.end(), t,
                                         [](int64_t v, const Plan& p) { return v < p.first_task; });
        const Plan& p = *(it - 1);
        const ExpertJob& j = jobs[p.job];
        const WeightView w = j.w.expert(p.expert);
        const int64_t s0 = start[size_t(p.expert)], m = start[size_t(p.expert) + 1] - s0;
        const size_t stride = j.xq->row_stride;
        const uint8_t* x = gathered.at({j.xq, j.per_slot})->data() + size_t(s0) * stride;
        const int64_t r0 = (t - p.first_task) * p.rpt, r1 = std::min(w.n, r0 + p.rpt);
        run_rows(p.kc, w, x, stride, m, out[p.job].data() + s0 * w.n, r0, r1);
    });
    // Scatter: gathered row i is slot order[i].
    c.pool->run_ranges(slots, [&](int64_t i0, int64_t i1) {
        for (size_t ji = 0; ji < jobs.size(); ++ji) {
            const int64_t n = jobs[ji].w.n;
            const float* src = out[ji].data();
            float* y = jobs[ji].y;
            for (int64_t i = i0; i < i1; ++i)
                std::memcpy(y + order[size_t(i)] * n, src + i * n, size_t(n) * sizeof(float));
        }
    });
}

void combine_experts(const ExpertRouting& r, const float* y, int64_t n, float* out) {
    for (int64_t t = 0; t < r.n_tokens; ++t) {
        float* o = out + t * n;
        const float* w = r.weights + t * r.n_used;
        const float* yt = y + t * r.n_used * n;
        for (int64_t i = 0; i < n; ++i) o[i] = w[0] * yt[i];
        for (int j = 1; j < r.n_used; ++j)
            for (int64_t i = 0; i < n; ++i) o[i] += w[j] * yt[j * n + i];
    }
}

}  // namespace qlm
