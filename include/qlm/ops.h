// Backend-neutral op API. For now: y = x · Wᵀ over packed GGUF weights on the
// CPU backend (GEMV for m = 1, batched GEMV for m <= 16, tiled GEMM above).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qlm/formats.h"

namespace qlm {

struct GgufTensor;

// CPU instruction sets with their own kernels. Chosen once at start-up from
// CPUID (best_isa); a Context may force a lower one for debugging/benchmarks.
enum class Isa { Scalar, Avx2, Avx512, Neon };
const char* isa_name(Isa isa) noexcept;
std::optional<Isa> isa_from_name(std::string_view name) noexcept;
Isa best_isa() noexcept;
bool isa_supported(Isa isa) noexcept;  // by this CPU and this build

// A weight matrix W of n rows × k columns stored row-major in packed `type`
// blocks (a GGUF tensor with shape [k, n]). transposed: the view stands for Wᵀ
// (k rows × n columns) over the same bytes; matmul(x, transpose(W)) = x · W.
struct WeightView {
    GgmlType type = GgmlType::F32;
    int64_t n = 0, k = 0;
    size_t row_stride = 0;
    const uint8_t* data = nullptr;
    std::string name;
    bool transposed = false;
};
// Throws qlm::Error naming the tensor if it is not 1-D/2-D or its rows are not whole blocks.
WeightView weight_view(const GgufTensor& t);
WeightView transpose(WeightView w);

struct ContextOptions {
    std::optional<Isa> isa;  // default: best_isa()
    int threads = 0;         // 0: physical cores
};

// Holds the chosen kernels and the worker threads. Not thread-safe: one caller at a time.
class Context {
public:
    explicit Context(ContextOptions opts = {});
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    Isa isa() const noexcept;
    int threads() const noexcept;

    struct Impl;
    Impl& impl() noexcept { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

// Activations quantized once to a weight type's partner (Q8_0, Q8_1, Q8_K, or
// F32/F16/BF16 for float weights) and reusable for every weight with that
// partner: a QKV projection quantizes its normalized input once for Q, K and V.
struct QuantizedActivations {
    GgmlType type = GgmlType::F32;
    int64_t m = 0, k = 0;
    size_t row_stride = 0;
    std::vector<uint8_t> data;
};
GgmlType activation_type(GgmlType weight_type) noexcept;
QuantizedActivations quantize_activations(Context& ctx, const float* x, int64_t m, int64_t k, GgmlType type);

// y (m × n, row-major) = x (m × k) · Wᵀ. For a transposed view: y (m × k) = x (m × n) · W.
// Shape errors name the op, the weight, its type and the shapes.
void matmul(Context& ctx, const float* x, int64_t m, const WeightView& w, float* y);
void matmul(Context& ctx, const QuantizedActivations& xq, const WeightView& w, float* y);

// For benchmarks: the largest cache level's size (sysfs; 32 MiB if unknown),
// and the best read bandwidth in GB/s over `reps` streaming passes of `bytes`
// split across the context's threads.
size_t last_level_cache_bytes() noexcept;
double measure_read_bandwidth(Context& ctx, size_t bytes, int reps = 5);

}  // namespace qlm
