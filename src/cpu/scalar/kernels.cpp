// Scalar kernels: the reference vec_dot applied over the tile. Every weight
// type has one, so it is the last rung of the dispatch ladder.
#include <algorithm>
#include <cmath>

#include "cpu/gelu_table.h"
#include "cpu/kernels.h"
#include "formats/common.h"

namespace qlm::cpu {
namespace {

template <GgmlType T>
void tile_scalar(const MatmulTile& t) {
    constexpr auto vec_dot = fmt::kTypeTraits[fmt::traits_index(uint32_t(T))].vec_dot;
    for (int64_t r = t.r0; r < t.r1; ++r)
        for (int i = 0; i < t.m; ++i) t.y[i * t.ldy + r] = vec_dot(t.k, t.w + r * t.w_stride, t.x + i * t.x_stride);
}

float kv_at(KvRows r, int64_t j, int e) {
    const int64_t i = j * r.ld + e;
    return r.f16 ? fmt::fp16_to_fp32(static_cast<const uint16_t*>(r.data)[i]) : static_cast<const float*>(r.data)[i];
}

void attn_scores_scalar(const float* q0, int nq, int64_t qs, KvRows k, int64_t n, int d, float scale, float* out0,
                        int64_t os) {
    for (int i = 0; i < nq; ++i) {
        const float* q = q0 + i * qs;
        float* out = out0 + i * os;
        for (int64_t j = 0; j < n; ++j) {
            float acc[8] = {};
            int e = 0;
            for (; e + 8 <= d; e += 8)
                for (int l = 0; l < 8; ++l) acc[l] += q[e + l] * kv_at(k, j, e + l);
            float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
            for (; e < d; ++e) s += q[e] * kv_at(k, j, e);
            out[j] = s * scale;
        }
    }
}

void attn_wsum_scalar(const float* p0, int nq, int64_t ps, KvRows v, int64_t n, int d, float* out0, int64_t os) {
    for (int i = 0; i < nq; ++i) {
        const float* p = p0 + i * ps;
        float* out = out0 + i * os;
        for (int64_t j = 0; j < n; ++j)
            for (int e = 0; e < d; ++e) out[e] += p[j] * kv_at(v, j, e);
    }
}

void round_f16_scalar(float* x, int64_t n) {
    for (int64_t j = 0; j < n; ++j) x[j] = fmt::fp16_to_fp32(fmt::fp32_to_fp16(x[j]));
}

double exp_sum_scalar(float* x, int64_t n, float* max_out) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, x[j]);
    if (max_out) *max_out = mx;
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) {
        x[j] = std::exp(x[j] - mx);
        sum += x[j];
    }
    return sum;
}

void f32_to_f16_scalar(const float* x, uint16_t* y, int64_t n) {
    for (int64_t j = 0; j < n; ++j) y[j] = fmt::fp32_to_fp16(x[j]);
}

void gelu_tanh_mul_scalar(float* g, const float* u, int64_t n) {
    const uint16_t* table = gelu_f16_table();
    for (int64_t j = 0; j < n; ++j) {
        const float x = g[j];
        const float a = x <= -10.0f ? 0.0f : x >= 10.0f ? x : fmt::fp16_to_fp32(table[fmt::fp32_to_fp16(x)]);
        g[j] = a * u[j];
    }
}

void silu_mul_scalar(float* g, const float* u, int64_t n) {
    for (int64_t j = 0; j < n; ++j) g[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
}

void swiglu_oai_mul_scalar(float* g, const float* u, int64_t n, float alpha, float limit) {
    for (int64_t j = 0; j < n; ++j) {
        const float x = std::min(g[j], limit);
        const float y = std::clamp(u[j], -limit, limit);
        g[j] = x / (1.0f + std::exp(-(alpha * x))) * (y + 1.0f);
    }
}

}  // namespace

const KernelTable& scalar_kernels() {
    static const KernelTable table = [] {
        KernelTable k;
        k.isa = Isa::Scalar;
        k.attn_scores = attn_scores_scalar;
        k.attn_wsum = attn_wsum_scalar;
        k.round_f16 = round_f16_scalar;
        k.f32_to_f16 = f32_to_f16_scalar;
        k.exp_sum = exp_sum_scalar;
        k.gelu_tanh_mul = gelu_tanh_mul_scalar;
        k.silu_mul = silu_mul_scalar;
        k.swiglu_oai_mul = swiglu_oai_mul_scalar;
        for (const auto& tr : fmt::kTypeTraits) {
            dispatch_type(tr.info.type, [&]<GgmlType T>() { k.tile[uint32_t(T)] = tile_scalar<T>; });
            k.quantize[uint32_t(tr.info.type)] = tr.quantize_row;
        }
        return k;
    }();
    return table;
}

}  // namespace qlm::cpu
