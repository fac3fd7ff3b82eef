// The CUDA backend: a context (device, stream, buffer pool, weight cache) and
// the transformer ops on device memory. Plain C++: no CUDA header needed to
// use it. Built when QLM_CUDA is on (library qlm_cuda).
//
// Every op enqueues kernels on the context's stream and returns: no host
// synchronization and no host-to-device copy happens inside an op once its
// weights are uploaded and its scratch buffers have grown to size (first call),
// so a whole decode step can be captured in a CUDA graph. Pointers named *_dev
// or documented as device pointers must point to device memory.
//
// Errors: bad shapes and arguments throw qlm::Error naming the op, weight,
// type and shape before anything is enqueued; a CUDA or cuBLAS failure throws
// qlm::Error naming the kernel or call and the driver's message. Kernel faults
// are asynchronous and surface at the next check (synchronize(), or every
// launch with CudaOptions::debug_sync).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "qlm/formats.h"
#include "qlm/rope.h"
#include "qlm/weight_view.h"

namespace qlm {

namespace cuda {
class BufferPool;
}

// True if a CUDA device can be used (driver present, device count > 0). Never throws.
bool cuda_available() noexcept;
int cuda_device_count() noexcept;

struct CudaOptions {
    int device = 0;
    // Synchronize after every kernel so a fault is reported by the kernel that
    // caused it (slow; for debugging).
    bool debug_sync = false;
};

// Device memory from the context's pool, returned to it on destruction
// (stream-ordered: work already enqueued that uses it is not disturbed).
// Must not outlive its context.
class CudaBuffer {
public:
    CudaBuffer() = default;
    CudaBuffer(CudaBuffer&& o) noexcept;
    CudaBuffer& operator=(CudaBuffer&& o) noexcept;
    CudaBuffer(const CudaBuffer&) = delete;
    CudaBuffer& operator=(const CudaBuffer&) = delete;
    ~CudaBuffer();

    void* data() const noexcept { return ptr_; }
    size_t size() const noexcept { return bytes_; }
    template <typename T>
    T* as() const noexcept {
        return static_cast<T*>(ptr_);
    }

private:
    friend class CudaContext;
    CudaBuffer(cuda::BufferPool* pool, void* p, size_t bytes) : pool_(pool), ptr_(p), bytes_(bytes) {}
    cuda::BufferPool* pool_ = nullptr;
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

// A weight matrix on the device: n rows of k elements in packed `type`
// blocks, rows contiguous (row_bytes = row_size(type, k)), data at least
// 16-byte aligned (as cudaMalloc and CudaBuffer give): the kernels read
// blocks with 2- and 4-byte loads. upload() makes these; so may callers that
// place weights themselves.
struct DeviceWeight {
    GgmlType type = GgmlType::F32;
    int64_t n = 0, k = 0;
    size_t row_bytes = 0;
    const uint8_t* data = nullptr;
    std::string name;
};

// Owns the device binding, one non-blocking stream, a cuBLAS handle, the
// buffer pool and the weight cache. Not thread-safe: one caller at a time.
class CudaContext {
public:
    // Throws qlm::Error if there is no such device.
    explicit CudaContext(CudaOptions opts = {});
    ~CudaContext();
    CudaContext(const CudaContext&) = delete;
    CudaContext& operator=(const CudaContext&) = delete;

    int device() const noexcept;
    std::string device_name() const;
    int compute_capability() const noexcept;  // major * 10 + minor, e.g. 90
    size_t l2_cache_bytes() const noexcept;
    void* stream() const noexcept;  // the cudaStream_t every op runs on

    // Waits for the stream; reports asynchronous kernel errors.
    void synchronize();

    CudaBuffer alloc(size_t bytes);
    // Frees the pool's unused buffers (after synchronizing).
    void trim();

    // Copies a host weight to the device once per name (the tensor name; the
    // host address when unnamed); later calls return the cached copy, and a
    // call with the same name but another type or shape throws. Transposed
    // views are not supported on the device.
    const DeviceWeight& upload(const WeightView& w);
    const DeviceWeight* find_weight(const std::string& name) const noexcept;
    size_t weight_bytes() const noexcept;

    struct Impl;
    Impl& impl() noexcept { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

// Synchronous copies for set-up, tests and tools (never inside a decode step).
void cuda_copy_to_device(CudaContext& ctx, void* dst_dev, const void* src, size_t bytes);
void cuda_copy_to_host(CudaContext& ctx, void* dst, const void* src_dev, size_t bytes);

// ---- Matmul: y (m × n, row-major) = x (m × k) · Wᵀ -------------------------
//
// m <= 8: GEMV kernels that read each weight byte once for all m rows:
//   quantized weights with __dp4a integer dots against Q8_1 activations
//   (quantized on the device; K-quants too, where the CPU uses Q8_K: see
//   src/cuda/slice_dot.h for what that changes), float weights in float.
// m > 8: weight tiles dequantized to BF16 and cuBLAS (BF16 inputs, F32
//   accumulation); F32 weights go to cuBLAS SGEMM as they are.

// Bytes of m rows of k activations as Q8_1 (k a multiple of 32).
size_t cuda_q8_1_bytes(int64_t m, int64_t k);
// x_dev (m × k floats) -> Q8_1 blocks, byte-identical to quantize_row(GgmlType::Q8_1, ...).
void cuda_quantize_q8_1(CudaContext& ctx, const float* x_dev, int64_t m, int64_t k, void* out_dev);

void cuda_matmul(CudaContext& ctx, const float* x_dev, int64_t m, const DeviceWeight& w, float* y_dev);
// Uploads w on first use (CudaContext::upload).
void cuda_matmul(CudaContext& ctx, const float* x_dev, int64_t m, const WeightView& w, float* y_dev);
// Pre-quantized activations (cuda_quantize_q8_1; 4-byte aligned) for a quantized weight, m <= 8.
void cuda_matmul_q8_1(CudaContext& ctx, const void* xq_dev, int64_t m, const DeviceWeight& w, float* y_dev);
// The attention input projections: x is quantized (or converted) once for all three.
void cuda_matmul_qkv(CudaContext& ctx, const float* x_dev, int64_t m, const DeviceWeight& wq, const DeviceWeight& wk,
                     const DeviceWeight& wv, float* yq_dev, float* yk_dev, float* yv_dev);

// ---- Float ops, same contracts as the CPU ops in qlm/ops.h -------------------

void cuda_rms_norm(CudaContext& ctx, const float* x_dev, const float* weight_dev, float* y_dev, int64_t rows,
                   int64_t n, float eps);
// positions_dev: rows int32 positions on the device; p.freq_factors, if set, a device pointer.
void cuda_rope(CudaContext& ctx, float* x_dev, int64_t rows, int n_heads, int head_dim, const int32_t* positions_dev,
               const RopeParams& p);
void cuda_silu_mul(CudaContext& ctx, float* g_dev, const float* u_dev, int64_t n);
void cuda_gelu_tanh_mul(CudaContext& ctx, float* g_dev, const float* u_dev, int64_t n);
// x[r][j] += b[j] for rows × n.
void cuda_add_bias(CudaContext& ctx, float* x_dev, const float* b_dev, int64_t rows, int64_t n);

// ---- Benchmark (DESIGN.md: GB/s beside the bandwidth measured in the same run)

struct CudaBenchOptions {
    int device = 0;
    std::vector<GgmlType> types;           // empty: every weight type
    std::vector<int64_t> ms = {1, 2, 4, 8, 16, 64, 512};
    int64_t n = 4096, k = 4096;
    int reps = 20;
};
struct CudaBenchRow {
    GgmlType type;
    int64_t m, n, k;
    double us;           // per matmul
    double weight_gbps;  // weight bytes / time
    double gflops;
    double pct_of_copy;  // weight_gbps / copy bandwidth
};
struct CudaBenchReport {
    std::string device;
    size_t l2_bytes = 0;
    size_t weight_set_bytes = 0;  // per type: copies cycled so the set exceeds 4x L2
    double copy_gbps = 0;         // device-to-device copy: bytes read + written per second
    std::vector<CudaBenchRow> rows;
};
CudaBenchReport cuda_bench_kernels(const CudaBenchOptions& opts);
void print_cuda_bench(const CudaBenchReport& r, std::ostream& os);

}  // namespace qlm
