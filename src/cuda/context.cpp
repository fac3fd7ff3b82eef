// CudaContext: device binding, stream, cuBLAS handle, buffer pool, weight
// cache, and the synchronous copies for set-up and tests.
#include <cuda_runtime_api.h>

#include <limits>

#include "cuda/check.h"
#include "cuda/config.h"
#include "cuda/context_impl.h"
#include "cuda/validate.h"
#include "qlm/error.h"

namespace qlm {

bool cuda_available() noexcept { return cuda_device_count() > 0; }

int cuda_device_count() noexcept {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();  // no driver / no device: not an error for the caller
        return 0;
    }
    return n;
}

// ---- CudaBuffer ----

CudaBuffer::CudaBuffer(CudaBuffer&& o) noexcept : pool_(o.pool_), ptr_(o.ptr_), bytes_(o.bytes_) {
    o.pool_ = nullptr, o.ptr_ = nullptr, o.bytes_ = 0;
}

CudaBuffer& CudaBuffer::operator=(CudaBuffer&& o) noexcept {
    if (this != &o) {
        if (pool_) pool_->release(ptr_);
        pool_ = o.pool_, ptr_ = o.ptr_, bytes_ = o.bytes_;
        o.pool_ = nullptr, o.ptr_ = nullptr, o.bytes_ = 0;
    }
    return *this;
}

CudaBuffer::~CudaBuffer() {
    if (pool_) pool_->release(ptr_);
}

// ---- CudaContext ----

namespace {

void* device_alloc(size_t bytes, void*) {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
        (void)cudaGetLastError();  // out of memory is reported by the pool
        return nullptr;
    }
    return p;
}

void device_free(void* p, void*) { (void)cudaFree(p); }

}  // namespace

void CudaContext::Impl::activate() {
    int current = -1;
    if (cudaGetDevice(&current) != cudaSuccess || current != opts.device) QLM_CUDA_CHECK(cudaSetDevice(opts.device));
}

void* CudaContext::Impl::scratch(Scratch& s, size_t bytes) {
    if (s.cap >= bytes && s.p) return s.p;
    size_t cap = 0;
    void* p = pool->acquire(bytes, &cap);
    pool->release(s.p);
    s.p = p, s.cap = cap;
    return p;
}

CudaContext::CudaContext(CudaOptions opts) : impl_(std::make_unique<Impl>()) {
    auto& c = *impl_;
    c.opts = opts;
    const int count = cuda_device_count();
    if (count == 0) fail("CUDA: no CUDA device (no driver or no GPU)");
    if (opts.device < 0 || opts.device >= count)
        fail("CUDA: device ", opts.device, " does not exist (", count, " device", count == 1 ? "" : "s", ")");
    QLM_CUDA_CHECK(cudaSetDevice(opts.device));
    QLM_CUDA_CHECK(cudaGetDeviceProperties(&c.props, opts.device));
    // Non-blocking: independent of the legacy default stream, and capturable into a graph.
    QLM_CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
    c.pool = std::make_unique<cuda::BufferPool>(cuda::BufferPool::Allocator{device_alloc, device_free, nullptr});
    QLM_CUBLAS_CHECK(cublasCreate(&c.cublas));
    QLM_CUBLAS_CHECK(cublasSetStream(c.cublas, c.stream));
    QLM_CUBLAS_CHECK(cublasSetWorkspace(c.cublas, c.scratch(c.cublas_ws, cuda::kCublasWorkspaceBytes),
                                        cuda::kCublasWorkspaceBytes));
}

// Also runs when the constructor throws half-way. No throwing here: errors at
// tear-down have nowhere to go.
CudaContext::Impl::~Impl() {
    (void)cudaSetDevice(opts.device);
    if (stream) (void)cudaStreamSynchronize(stream);
    if (cublas) (void)cublasDestroy(cublas);
    for (auto& [name, cw] : weights) (void)cudaFree(cw.mem);
    pool.reset();
    if (stream) (void)cudaStreamDestroy(stream);
}

CudaContext::~CudaContext() = default;

int CudaContext::device() const noexcept { return impl_->opts.device; }
std::string CudaContext::device_name() const { return impl_->props.name; }
int CudaContext::compute_capability() const noexcept { return impl_->props.major * 10 + impl_->props.minor; }
size_t CudaContext::l2_cache_bytes() const noexcept { return size_t(impl_->props.l2CacheSize); }
void* CudaContext::stream() const noexcept { return impl_->stream; }

void CudaContext::synchronize() {
    impl_->activate();
    QLM_CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
}

CudaBuffer CudaContext::alloc(size_t bytes) {
    impl_->activate();
    size_t cap = 0;
    void* p = impl_->pool->acquire(bytes, &cap);
    return CudaBuffer(impl_->pool.get(), p, bytes);
}

void CudaContext::trim() {
    synchronize();
    impl_->pool->trim();
}

const DeviceWeight& CudaContext::upload(const WeightView& w) {
    auto& c = *impl_;
    cuda::check_upload(w);
    const std::string key = w.name.empty() ? cat("@", static_cast<const void*>(w.data)) : w.name;
    if (auto it = c.weights.find(key); it != c.weights.end()) {
        const DeviceWeight& d = it->second.w;
        if (d.type != w.type || d.n != w.n || d.k != w.k)
            fail("cuda upload: weight ", key, " (", type_name(w.type), ", ", w.n, " x ", w.k,
                 ") was already uploaded as ", cuda::describe(d));
        return d;
    }
    c.activate();
    const size_t rs = row_size(w.type, w.k);
    const size_t bytes = size_t(w.n) * rs;  // check_upload ruled out overflow
    void* mem = nullptr;
    QLM_CUDA_CHECK(cudaMalloc(&mem, bytes));
    try {
        if (w.row_stride == rs)
            QLM_CUDA_CHECK(cudaMemcpyAsync(mem, w.data, bytes, cudaMemcpyHostToDevice, c.stream));
        else
            QLM_CUDA_CHECK(cudaMemcpy2DAsync(mem, rs, w.data, w.row_stride, rs, size_t(w.n), cudaMemcpyHostToDevice,
                                             c.stream));
        QLM_CUDA_CHECK(cudaStreamSynchronize(c.stream));
    } catch (...) {
        (void)cudaFree(mem);
        throw;
    }
    Impl::CachedWeight cw;
    cw.w = DeviceWeight{w.type, w.n, w.k, rs, static_cast<const uint8_t*>(mem), w.name};
    cw.mem = mem;
    cw.bytes = bytes;
    c.weight_bytes += bytes;
    return c.weights.emplace(key, std::move(cw)).first->second.w;
}

const DeviceWeight* CudaContext::find_weight(const std::string& name) const noexcept {
    auto it = impl_->weights.find(name);
    return it == impl_->weights.end() ? nullptr : &it->second.w;
}

size_t CudaContext::weight_bytes() const noexcept { return impl_->weight_bytes; }

void cuda_copy_to_device(CudaContext& ctx, void* dst_dev, const void* src, size_t bytes) {
    if (bytes == 0) return;
    auto& c = ctx.impl();
    c.activate();
    QLM_CUDA_CHECK(cudaMemcpyAsync(dst_dev, src, bytes, cudaMemcpyHostToDevice, c.stream));
    QLM_CUDA_CHECK(cudaStreamSynchronize(c.stream));
}

void cuda_copy_to_host(CudaContext& ctx, void* dst, const void* src_dev, size_t bytes) {
    if (bytes == 0) return;
    auto& c = ctx.impl();
    c.activate();
    QLM_CUDA_CHECK(cudaMemcpyAsync(dst, src_dev, bytes, cudaMemcpyDeviceToHost, c.stream));
    QLM_CUDA_CHECK(cudaStreamSynchronize(c.stream));
}

}  // namespace qlm
