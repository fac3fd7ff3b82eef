#include "engine/block_pool.h"

#include <algorithm>
#include <cassert>

namespace qlm::engine {

uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens) noexcept {
    // splitmix64 steps over the parent and each token: well mixed and the same everywhere
    auto mix = [](uint64_t z) {
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    };
    uint64_t h = mix(parent ^ 0x51ed270b27f3c5a1ull);
    for (int32_t t : tokens) h = mix(h ^ uint64_t(uint32_t(t)));
    return h;
}

BlockPool::BlockPool(int64_t n_blocks, int64_t block_size)
    : block_size_(block_size), ref_(size_t(n_blocks), 0), lru_pos_(size_t(n_blocks)), in_lru_(size_t(n_blocks), 0),
      hash_of_(size_t(n_blocks), 0), is_cached_(size_t(n_blocks), 0) {
    free_.reserve(size_t(n_blocks));
    for (int64_t b = n_blocks - 1; b >= 0; --b) free_.push_back(int32_t(b));  // block 0 first
}

int32_t BlockPool::allocate() {
    int32_t b = -1;
    if (!free_.empty()) {
        b = free_.back();
        free_.pop_back();
    } else if (!lru_.empty()) {
        b = lru_.front();
        lru_.pop_front();
        in_lru_[size_t(b)] = 0;
        forget(b);
    } else {
        return -1;
    }
    assert(ref_[size_t(b)] == 0);
    ref_[size_t(b)] = 1;
    ++used_;
    return b;
}

void BlockPool::retain(int32_t b) {
    if (ref_[size_t(b)]++ == 0) {
        ++used_;
        if (in_lru_[size_t(b)]) {
            lru_.erase(lru_pos_[size_t(b)]);
            in_lru_[size_t(b)] = 0;
        }
    }
}

void BlockPool::release(int32_t b) {
    assert(ref_[size_t(b)] > 0);
    if (--ref_[size_t(b)] > 0) return;
    --used_;
    if (is_cached_[size_t(b)]) {
        lru_pos_[size_t(b)] = lru_.insert(lru_.end(), b);
        in_lru_[size_t(b)] = 1;
    } else {
        free_.push_back(b);
    }
}

int32_t BlockPool::lookup(uint64_t parent, std::span<const int32_t> tokens) {
    const auto it = map_.find(chain_hash(parent, tokens));
    if (it == map_.end()) return -1;
    const Entry& e = it->second;
    // a hash match is checked against the tokens and the parent it was made from
    if (e.parent != parent || !std::equal(e.tokens.begin(), e.tokens.end(), tokens.begin(), tokens.end())) return -1;
    retain(e.block);
    return e.block;
}

void BlockPool::publish(int32_t b, uint64_t parent, std::span<const int32_t> tokens) {
    if (is_cached_[size_t(b)] || int64_t(tokens.size()) != block_size_) return;
    const uint64_t h = chain_hash(parent, tokens);
    if (map_.count(h)) return;
    map_.emplace(h, Entry{parent, std::vector<int32_t>(tokens.begin(), tokens.end()), b});
    hash_of_[size_t(b)] = h;
    is_cached_[size_t(b)] = 1;
    if (events_) events_->push_back({KvEvent::Kind::Stored, h, parent, std::vector<int32_t>(tokens.begin(), tokens.end())});
}

void BlockPool::forget(int32_t b) {
    if (!is_cached_[size_t(b)]) return;
    map_.erase(hash_of_[size_t(b)]);
    is_cached_[size_t(b)] = 0;
    if (events_) events_->push_back({KvEvent::Kind::Removed, hash_of_[size_t(b)], 0, {}});
}

}  // namespace qlm::engine
