// A pool of device buffers: freed buffers are kept and handed out again, so
// steady-state decoding allocates nothing (cudaMalloc is slow, synchronizes
// and cannot run inside CUDA graph capture). Host bookkeeping only: the
// allocator is injected, so tests check the logic on the CPU with malloc.
//
// Reuse is stream-ordered: every kernel of a context runs on its one stream,
// so a buffer released after enqueueing work that uses it can be handed to the
// next enqueued work without a synchronization. Not thread-safe (one caller at
// a time, like the rest of the context).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>

namespace qlm::cuda {

class BufferPool {
public:
    struct Allocator {
        void* (*alloc)(size_t bytes, void* user);  // nullptr when out of memory
        void (*free)(void* p, void* user);
        void* user = nullptr;
    };

    struct Stats {
        size_t reserved_bytes = 0;  // held from the allocator (in use + free)
        size_t in_use_bytes = 0;    // capacity of the buffers handed out
        size_t buffers_in_use = 0;
        size_t buffers_free = 0;
        uint64_t allocations = 0;   // allocator calls so far (reuse does not count)
    };

    explicit BufferPool(Allocator a) : alloc_(a) {}
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    // A buffer of at least `bytes` (capacity in *capacity): the smallest free
    // one that fits without wasting more than half of it, else a new one of
    // round_size(bytes). When the allocator fails, the free buffers are
    // returned to it and the allocation retried once; then qlm::Error.
    void* acquire(size_t bytes, size_t* capacity = nullptr);
    // Back to the pool; nullptr is ignored; a pointer not handed out by this
    // pool is a programmer error (std::logic_error).
    void release(void* p);
    // Gives every free buffer back to the allocator.
    void trim();

    Stats stats() const noexcept;

    // Sizes are rounded up to a granularity of 1/8 of their power of two (at
    // least 256 bytes), so at most 12.5% is wasted and near sizes share buffers.
    static size_t round_size(size_t bytes) noexcept;

private:
    Allocator alloc_;
    std::multimap<size_t, void*> free_;          // capacity -> buffer
    std::unordered_map<void*, size_t> in_use_;   // buffer -> capacity
    size_t reserved_ = 0, in_use_bytes_ = 0;
    uint64_t allocations_ = 0;
};

}  // namespace qlm::cuda
