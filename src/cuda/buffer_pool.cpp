#include "cuda/buffer_pool.h"

#include <stdexcept>

#include "qlm/error.h"

namespace qlm::cuda {

BufferPool::~BufferPool() {
    trim();
    for (auto& [p, cap] : in_use_) alloc_.free(p, alloc_.user);  // the owner outlived its buffers' use
}

size_t BufferPool::round_size(size_t bytes) noexcept {
    constexpr size_t kMin = 256;
    if (bytes <= kMin) return kMin;
    size_t pow2 = kMin;
    while (pow2 * 2 <= bytes && pow2 * 2 > pow2) pow2 *= 2;  // largest power of two <= bytes
    const size_t g = pow2 / 8 > kMin ? pow2 / 8 : kMin;
    const size_t rounded = (bytes + g - 1) / g * g;
    return rounded < bytes ? bytes : rounded;  // overflow: no rounding (the allocator will refuse)
}

void* BufferPool::acquire(size_t bytes, size_t* capacity) {
    const size_t want = round_size(bytes);
    auto it = free_.lower_bound(want);
    if (it != free_.end() && it->first / 2 <= want) {
        void* p = it->second;
        const size_t cap = it->first;
        free_.erase(it);
        in_use_.emplace(p, cap);
        in_use_bytes_ += cap;
        if (capacity) *capacity = cap;
        return p;
    }
    void* p = alloc_.alloc(want, alloc_.user);
    if (!p && !free_.empty()) {
        trim();
        p = alloc_.alloc(want, alloc_.user);
    }
    if (!p)
        fail("device memory: cannot allocate ", want, " bytes (", in_use_bytes_, " bytes in use by the pool, ",
             reserved_, " reserved)");
    ++allocations_;
    reserved_ += want;
    in_use_.emplace(p, want);
    in_use_bytes_ += want;
    if (capacity) *capacity = want;
    return p;
}

void BufferPool::release(void* p) {
    if (!p) return;
    auto it = in_use_.find(p);
    if (it == in_use_.end()) throw std::logic_error("BufferPool::release: pointer was not handed out by this pool");
    free_.emplace(it->second, p);
    in_use_bytes_ -= it->second;
    in_use_.erase(it);
}

void BufferPool::trim() {
    for (auto& [cap, p] : free_) {
        alloc_.free(p, alloc_.user);
        reserved_ -= cap;
    }
    free_.clear();
}

BufferPool::Stats BufferPool::stats() const noexcept {
    Stats s;
    s.reserved_bytes = reserved_;
    s.in_use_bytes = in_use_bytes_;
    s.buffers_in_use = in_use_.size();
    s.buffers_free = free_.size();
    s.allocations = allocations_;
    return s;
}

}  // namespace qlm::cuda
