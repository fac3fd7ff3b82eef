// The paged KV cache: one arena per layer for K and one for V, block after
// block, each block [kv head][row][dim].
#include "formats/common.h"
#include "qlm/error.h"
#include "qlm/model.h"

namespace qlm {

KvCache::KvCache(const ModelConfig& c, const KvCacheOptions& opts, ComputeBackend& backend)
    : opts_(opts), n_head_kv_(c.n_head_kv) {
    if (opts.type != GgmlType::F16 && opts.type != GgmlType::F32)
        fail("KV cache: type ", type_name(opts.type), " is not supported (F16 or F32)");
    if (opts.block_size <= 0 || opts.block_size > 4096)
        fail("KV cache: block size must be 1..4096 positions, got ", opts.block_size);
    if (opts.n_blocks <= 0) fail("KV cache: the pool needs at least one block, got ", opts.n_blocks);
    const size_t es = type_info(opts.type).type_size;
    k_row_ = size_t(c.head_dim_k) * es, v_row_ = size_t(c.head_dim_v) * es;
    const uint64_t per_layer = uint64_t(opts.block_size) * uint64_t(n_head_kv_) * (k_row_ + v_row_);
    if (uint64_t(opts.n_blocks) > (uint64_t(1) << 40) / std::max<uint64_t>(per_layer * uint64_t(c.n_layer), 1))
        fail("KV cache: ", opts.n_blocks, " blocks of ", per_layer * uint64_t(c.n_layer), " bytes is more than 1 TiB");
    const size_t kb = size_t(opts.n_blocks) * size_t(opts.block_size) * size_t(n_head_kv_) * k_row_;
    const size_t vb = size_t(opts.n_blocks) * size_t(opts.block_size) * size_t(n_head_kv_) * v_row_;
    k_.reserve(size_t(c.n_layer)), v_.reserve(size_t(c.n_layer));
    for (int64_t l = 0; l < c.n_layer; ++l) {
        k_.push_back(backend.alloc(kb));
        v_.push_back(backend.alloc(vb));
    }
}

uint64_t KvCache::bytes_per_block() const noexcept {
    return uint64_t(opts_.block_size) * uint64_t(n_head_kv_) * (k_row_ + v_row_) * k_.size();
}

uint64_t KvCache::bytes() const noexcept { return bytes_per_block() * uint64_t(opts_.n_blocks); }

KvPages KvCache::k_pages(int64_t layer, const int32_t* table, int64_t n_pos) const {
    const size_t hs = size_t(opts_.block_size) * k_row_;
    return {opts_.type, k_[size_t(layer)].as<uint8_t>(), hs * size_t(n_head_kv_), hs, k_row_, opts_.block_size, table,
            n_pos};
}

KvPages KvCache::v_pages(int64_t layer, const int32_t* table, int64_t n_pos) const {
    const size_t hs = size_t(opts_.block_size) * v_row_;
    return {opts_.type, v_[size_t(layer)].as<uint8_t>(), hs * size_t(n_head_kv_), hs, v_row_, opts_.block_size, table,
            n_pos};
}

KvLayer KvCache::k_layer(int64_t layer) noexcept {
    const size_t hs = size_t(opts_.block_size) * k_row_;
    return {opts_.type, k_[size_t(layer)].as<uint8_t>(), hs * size_t(n_head_kv_), hs, k_row_, opts_.block_size};
}

KvLayer KvCache::v_layer(int64_t layer) noexcept {
    const size_t hs = size_t(opts_.block_size) * v_row_;
    return {opts_.type, v_[size_t(layer)].as<uint8_t>(), hs * size_t(n_head_kv_), hs, v_row_, opts_.block_size};
}

}  // namespace qlm
