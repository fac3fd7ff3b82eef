// Launchers of the kernels that CudaBackend adds to the CUDA ops (private;
// plain C++). All pointers are device pointers; they only enqueue work.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/kernels.h"
#include "qlm/formats.h"

namespace qlm::cuda {

// ---- rows.cu ----
// out row i (k floats) = row ids[i] of the weight table (any type with a
// SliceDot, or F32/F16/BF16), dequantized, times scale.
void launch_get_rows(const Stream& s, GgmlType type, const uint8_t* w, size_t row_bytes, int64_t k, const int32_t* ids,
                     int64_t n_ids, float scale, float* out);
// out row r = x row rows[r] (gather); out row rows[r] = x row r (scatter). n floats per row.
void launch_gather_rows(const Stream& s, const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out);
void launch_scatter_rows(const Stream& s, const float* x, const int64_t* rows, int64_t n_rows, int64_t n, float* out);
// KV store: x row r (n_head heads of head_dim) -> slot slots[r] of a paged pool, F16 or F32.
struct KvStoreArgs {
    const float* x;
    int64_t rows;
    int n_head;
    int64_t head_dim;
    const int32_t* slots;
    uint8_t* base;
    size_t block_stride, head_stride, pos_stride;
    int64_t block_size;
    bool f16;
};
void launch_kv_store(const Stream& s, const KvStoreArgs& a);

// ---- elementwise.cu ----
void launch_scale(const Stream& s, float* x, int64_t n, float v);
void launch_add_inplace(const Stream& s, float* y, const float* x, int64_t n);
void launch_swiglu_oai_mul(const Stream& s, float* g, const float* u, int64_t n, float alpha, float limit);
// out[t] = Σ_j w[t·n_used + j] · y[t·n_used + j] (n floats each), j in order.
void launch_combine_experts(const Stream& s, const float* w, int64_t n_tokens, int n_used, const float* y, int64_t n,
                            float* out);
// y row s += bias row ids[s], for s < slots.
void launch_add_rows_bias(const Stream& s, float* y, const float* bias, const int32_t* ids, int64_t slots, int64_t n);

// ---- attention.cu ----
// One sequence's queries over its paged cache (ops.h attention's contract):
// query i at positions[i] attends to j <= positions[i] (and, with window,
// positions[i] - j < window), softmax with an optional sink logit per head.
struct PagedAttentionArgs {
    const float* q;
    float* out;
    int64_t n_tokens;
    int64_t q_stride, out_stride;  // floats between rows
    const int32_t* positions;
    const uint8_t* k;
    const uint8_t* v;
    size_t k_block_stride, k_head_stride, k_pos_stride;
    size_t v_block_stride, v_head_stride, v_pos_stride;
    int64_t block_size;
    const int32_t* table;
    int n_head, n_kv_head, head_dim_k, head_dim_v;
    float scale;
    int window;
    const float* sinks;
    bool f16;
};
inline constexpr int kAttentionMaxHeadDim = 256;
void launch_paged_attention(const Stream& s, const PagedAttentionArgs& a);

}  // namespace qlm::cuda
