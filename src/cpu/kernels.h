// CPU backend: the kernel table of one instruction set. Backends depend on
// formats only; src/ops picks the table once (CPUID) and calls through it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "formats/traits.h"
#include "qlm/isa.h"

namespace qlm::cpu {

// A batched kernel handles at most this many activation rows per call: each
// weight block is loaded once and applied to all of them.
inline constexpr int kMaxTileM = 16;

// y[i * ldy + r] = dot(W row r, x row i) for r in [r0, r1), i in [0, m).
// W rows are packed weight rows (w_stride bytes apart); x rows are activations
// already quantized to the weight type's partner (x_stride bytes apart).
struct MatmulTile {
    const uint8_t* w;
    size_t w_stride;
    int64_t k;
    const uint8_t* x;
    size_t x_stride;
    int m;  // 1..kMaxTileM (any m for a GemmFn)
    float* y;
    int64_t ldy;
    int64_t r0, r1;
};
using MatmulTileFn = void (*)(const MatmulTile&);

// Batch invariance (the contract of every MatmulTileFn and GemmFn of one
// instruction set): y[i][r] is the same bits whatever m is, whichever path
// (m = 1 stream, tile, GEMM) computes it and whichever other rows share the
// call, so a sequence's logits do not depend on what else is in the batch.
// The AVX2 kernels (and the AVX-512 ones) keep one float order per output:
//   acc = 0; for each weight block b in order:
//     S   = the block's exact int32 sum (offset / code bias already taken off in integers)
//     acc = fma(float(S), dw_b * dx_b, acc)            (dw_b * dx_b rounded to float first)
//     Min (Q4_1/Q5_1):          acc = fma(mw_b, sx_b, acc)
//     Min (Q2_K/Q4_K/Q5_K):     acc = fnmadd(float(T_b), dmin_b * dx_b, acc)  (T_b: the bsum terms)
//   y = acc
// test_matmul's BatchInvariant checks it for every type and instruction set.
//
// Many activation rows (prefill): the same product for any m, called with
// the whole of m and a row range [r0, r1) (a multiple of 8 except at the
// end). The kernel packs its weight rows into an interleaved int8 panel in
// cache (never a float copy) and applies each panel to all m rows.
using GemmFn = void (*)(const MatmulTile&);

// Quantize one activation row of k floats to the partner type; must give the
// same bytes as the reference quantize_row (so integer sums match exactly).
using QuantizeRowFn = void (*)(const float* x, void* y, int64_t k);


// Attention inner loops over the rows of the KV cache in place (F32 or F16,
// converted exactly as loaded), for nq (1..kAttnQ) queries at once so each key
// / value row is read once for all of them:
//   scores: out[i*os + j] = scale * dot(q + i*qs, row j of k) for j in [0, n)
//   wsum:   out[i*os + 0..d) += sum_j p[i*ps + j] * row j of v
// Row j starts ld elements after row j-1. Each query's result is the same
// whatever nq is (same order of operations).
inline constexpr int kAttnQ = 4;
struct KvRows {
    const void* data;
    int64_t ld;  // elements from one row to the next
    bool f16;    // binary16 elements, else float
};
using AttnScoresFn = void (*)(const float* q, int nq, int64_t qs, KvRows k, int64_t n, int d, float scale, float* out,
                              int64_t os);
using AttnWsumFn = void (*)(const float* p, int nq, int64_t ps, KvRows v, int64_t n, int d, float* out, int64_t os);
// x[j] = the binary16 value nearest x[j] (ties to even), as a float: the F16
// inputs of attention over an F16 cache. Must equal fmt::fp32_to_fp16 then
// fmt::fp16_to_fp32 (NaN stays NaN).
using RoundF16Fn = void (*)(float* x, int64_t n);
// y[j] = fmt::fp32_to_fp16(x[j]) (the F16 KV cache store).
using F32ToF16Fn = void (*)(const float* x, uint16_t* y, int64_t n);
// Softmax numerator: x[j] = exp(x[j] - max x) for j in [0, n), n >= 1;
// returns their sum, accumulated in double, and max x in *max_out (if not null).
using ExpSumFn = double (*)(float* x, int64_t n, float* max_out);
// Gated activations: g[j] = act(g[j]) * u[j] (GELU-tanh, SiLU).
using ActMulFn = void (*)(float* g, const float* u, int64_t n);
// gpt-oss's clamped SwiGLU: x = min(g, limit), y = clamp(u, ±limit),
// g = x / (1 + exp(-alpha·x)) · (y + 1).
using SwigluOaiFn = void (*)(float* g, const float* u, int64_t n, float alpha, float limit);

struct KernelTable {
    Isa isa = Isa::Scalar;
    MatmulTileFn tile[fmt::kMaxTypeId] = {};         // by weight type id; null: not provided
    QuantizeRowFn quantize[fmt::kMaxTypeId] = {};   // by activation type id; null: not provided
    GemmFn gemm[fmt::kMaxTypeId] = {};               // by weight type id; null: tiles for every m
    int gemm_min_m[fmt::kMaxTypeId] = {};            // gemm from this many activation rows on
    AttnScoresFn attn_scores = nullptr;
    AttnWsumFn attn_wsum = nullptr;
    ActMulFn gelu_tanh_mul = nullptr, silu_mul = nullptr;
    SwigluOaiFn swiglu_oai_mul = nullptr;
    RoundF16Fn round_f16 = nullptr;
    F32ToF16Fn f32_to_f16 = nullptr;
    ExpSumFn exp_sum = nullptr;
};

// Each instruction set fills its table (folders scalar/, avx2/, avx512/, neon/).
// Tables of instruction sets this build does not compile are empty.
const KernelTable& scalar_kernels();
// Table t's kernel `m`, or the scalar one where t does not provide it.
template <class Fn>
Fn kernel_or_scalar(const KernelTable& t, Fn KernelTable::*m) {
    return t.*m ? t.*m : scalar_kernels().*m;
}
const KernelTable& avx2_kernels();
const KernelTable& avx512_kernels();
// The same table without the AMX rung (its GEMMs are VNNI everywhere).
const KernelTable& avx512_vnni_kernels();
const KernelTable& neon_kernels();

// CPUID (or the platform's equivalent), read once.
bool cpu_has(Isa isa) noexcept;
// Whether the AVX-512 kernels take 512-bit vectors where they have both
// widths: Intel and AMD Zen 5 and later (family >= 0x1a) execute 512-bit
// operations whole; Zen 4 (family 0x19) splits them in two 256-bit halves,
// so 256-bit EVEX code with its 32 registers is as fast there.
bool cpu_prefers_512() noexcept;
// AMX-TILE and AMX-INT8 on an AVX-512 VNNI CPU whose OS saves tile state
// (CPUID and XCR0 only; the tiles also need the kernel's permission, amx/).
bool cpu_has_amx_int8() noexcept;
// The AMX rung of the AVX-512 ladder (src/cpu/amx/): whether this process
// multiplies with tiles, and why or why not ("amx-int8 tiles", "amx: no
// AMX-INT8 on this CPU", "amx: tile permission refused by the kernel ...").
// The first call asks the kernel for tile permission (once).
bool amx_usable() noexcept;
const char* amx_status() noexcept;
// Whether the GEMM fn multiplies m rows of type t with AMX tiles (kernel
// names in benchmarks; below its own threshold an AMX entry runs the VNNI GEMM).
bool gemm_runs_amx(GemmFn fn, GgmlType t, int64_t m) noexcept;
// Compute-peak probes (operands in registers): run `iters` rounds on this
// thread, return the int8 multiply-adds done; 0 where the CPU or build lacks
// the instruction (vpdpbusd zmm; tdpbssd, which also needs amx_usable()).
double vnni_peak_probe(int64_t iters) noexcept;
double amx_peak_probe(int64_t iters) noexcept;

// Calls f.template operator()<T>() with the runtime type as a template
// parameter: the one place where a type id becomes a compile-time value.
template <typename F>
void dispatch_type(GgmlType t, F&& f) {
    using T = GgmlType;
    switch (t) {
        case T::F32: f.template operator()<T::F32>(); break;
        case T::F16: f.template operator()<T::F16>(); break;
        case T::Q4_0: f.template operator()<T::Q4_0>(); break;
        case T::Q4_1: f.template operator()<T::Q4_1>(); break;
        case T::Q5_0: f.template operator()<T::Q5_0>(); break;
        case T::Q5_1: f.template operator()<T::Q5_1>(); break;
        case T::Q8_0: f.template operator()<T::Q8_0>(); break;
        case T::Q8_1: f.template operator()<T::Q8_1>(); break;
        case T::Q2_K: f.template operator()<T::Q2_K>(); break;
        case T::Q3_K: f.template operator()<T::Q3_K>(); break;
        case T::Q4_K: f.template operator()<T::Q4_K>(); break;
        case T::Q5_K: f.template operator()<T::Q5_K>(); break;
        case T::Q6_K: f.template operator()<T::Q6_K>(); break;
        case T::Q8_K: f.template operator()<T::Q8_K>(); break;
        case T::IQ4_NL: f.template operator()<T::IQ4_NL>(); break;
        case T::IQ4_XS: f.template operator()<T::IQ4_XS>(); break;
        case T::BF16: f.template operator()<T::BF16>(); break;
        case T::IQ2_XXS: f.template operator()<T::IQ2_XXS>(); break;
        case T::IQ2_XS: f.template operator()<T::IQ2_XS>(); break;
        case T::IQ2_S: f.template operator()<T::IQ2_S>(); break;
        case T::IQ3_XXS: f.template operator()<T::IQ3_XXS>(); break;
        case T::IQ3_S: f.template operator()<T::IQ3_S>(); break;
        case T::IQ1_S: f.template operator()<T::IQ1_S>(); break;
        case T::IQ1_M: f.template operator()<T::IQ1_M>(); break;
        case T::TQ1_0: f.template operator()<T::TQ1_0>(); break;
        case T::TQ2_0: f.template operator()<T::TQ2_0>(); break;
        case T::MXFP4: f.template operator()<T::MXFP4>(); break;
    }
}

}  // namespace qlm::cpu
