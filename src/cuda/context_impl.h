// CudaContext's state, shared by the op files of src/cuda (private).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "cuda/buffer_pool.h"
#include "cuda/kernels.h"
#include "qlm/cuda.h"

namespace qlm {

struct CudaContext::Impl {
    Impl() = default;
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    CudaOptions opts;
    cudaDeviceProp props{};
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    std::unique_ptr<cuda::BufferPool> pool;

    // Scratch that grows on first use and is then reused by every call, so
    // steady-state ops allocate nothing. Growing returns the old buffer to the
    // pool (stream-ordered, safe: one stream).
    struct Scratch {
        void* p = nullptr;
        size_t cap = 0;
    };
    Scratch q8_1;       // quantized activations
    Scratch x_bf16;     // GEMM activations as BF16
    Scratch w_tile;     // GEMM weight tile as BF16
    Scratch cublas_ws;  // cuBLAS workspace (set once: needed for graph capture)

    struct CachedWeight {
        DeviceWeight w;
        void* mem = nullptr;
        size_t bytes = 0;
    };
    std::unordered_map<std::string, CachedWeight> weights;
    size_t weight_bytes = 0;

    cuda::Stream launch_stream() const noexcept { return {stream, opts.debug_sync}; }
    void* scratch(Scratch& s, size_t bytes);
    // Makes the context's device current for this thread (cheap if it already is).
    void activate();
};

}  // namespace qlm
