// The KV blocks of the engine: reference counts, a free list, and the prefix
// cache (full blocks known by the hash of every token up to their end, kept
// while unreferenced and evicted least recently used first).
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "qlm/engine.h"

namespace qlm::engine {

// The hash of a block's tokens chained onto the hash of everything before it.
uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens) noexcept;

class BlockPool {
public:
    BlockPool(int64_t n_blocks, int64_t block_size);

    int64_t total() const noexcept { return int64_t(ref_.size()); }
    // Blocks an allocate() can return: never used, or cached and unreferenced.
    int64_t available() const noexcept { return int64_t(free_.size() + lru_.size()); }
    int64_t used() const noexcept { return used_; }           // referenced
    int64_t cached() const noexcept { return int64_t(map_.size()); }  // in the prefix cache (referenced or not)
    int64_t free_blocks() const noexcept { return int64_t(free_.size()); }

    // A block with one reference (a free one, else the least recently used
    // unreferenced cached one, which leaves the cache); -1 if none.
    int32_t allocate();
    void retain(int32_t b);
    void release(int32_t b);

    // The cached block holding `tokens` after the prefix whose hash is
    // `parent` (retained), or -1.
    int32_t lookup(uint64_t parent, std::span<const int32_t> tokens);
    // Enters a full block into the cache under chain_hash(parent, tokens)
    // (nothing if that hash is already cached).
    void publish(int32_t b, uint64_t parent, std::span<const int32_t> tokens);

    // Every block unreferenced (the check of the stress test).
    bool all_released() const noexcept { return used_ == 0; }

    // Records Stored / Removed events of the cache into `sink` (nullptr: none).
    void record_events(std::vector<KvEvent>* sink) noexcept { events_ = sink; }

private:
    struct Entry {
        uint64_t parent = 0;
        std::vector<int32_t> tokens;
        int32_t block = -1;
    };
    void forget(int32_t b);  // out of the cache

    int64_t block_size_;
    std::vector<int32_t> ref_;
    std::vector<int32_t> free_;
    std::list<int32_t> lru_;                               // unreferenced cached blocks, oldest first
    std::vector<std::list<int32_t>::iterator> lru_pos_;    // valid while in lru_
    std::vector<uint8_t> in_lru_;
    std::vector<uint64_t> hash_of_;                        // valid while cached
    std::vector<uint8_t> is_cached_;
    std::unordered_map<uint64_t, Entry> map_;
    int64_t used_ = 0;
    std::vector<KvEvent>* events_ = nullptr;
};

}  // namespace qlm::engine
