// KV events: the prefix cache's block lifecycle (the engine's on_kv_events)
// published on a ZeroMQ PUB socket in vLLM's wire format, so that
// prefix-aware routers (llm-d's precise prefix-cache scorer, Dynamo's KV
// router) can follow what each replica holds:
//   multipart [topic, 8-byte big-endian sequence number, msgpack payload]
//   payload = [ts (float seconds since the epoch), [event, ...], 0 (data-parallel rank)]
//   ["BlockStored", [hash, ...], parent hash or nil, [token ids], block_size,
//    nil (lora_id), nil (medium: the primary cache), nil (lora_name)]
//   ["BlockRemoved", [hash, ...], nil (medium)]
//   ["AllBlocksCleared"]
// Block hashes are qlm's 64-bit chain hashes, packed as fixed-width uint64
// (strict decoders such as llm-d's reject a narrower integer); a stored run of
// blocks that extend one another is one BlockStored. llm-d takes topics
// of the form kv@<pod ip>:<port>@<model> (--kv-events-topic). See deploy/PROTOCOL.md. The socket binds
// the endpoint (tcp://*:5557, ipc://...); sending runs on a thread of its
// own, so the engine never waits on the network.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "qlm/engine.h"

namespace qlm::server {

class KvEventPublisher {
public:
    // Binds `endpoint`; throws qlm::Error naming it if it cannot.
    // `map_events`: each event a msgpack map tagged by "type" (vllm-router's
    // kv_aware decoder) instead of an array tagged by its first element
    // (vLLM's msgspec array_like layout, what llm-d decodes).
    KvEventPublisher(const std::string& endpoint, const std::string& topic, int64_t block_size, bool map_events = false);
    ~KvEventPublisher();
    KvEventPublisher(const KvEventPublisher&) = delete;
    KvEventPublisher& operator=(const KvEventPublisher&) = delete;

    // Queues one batch (one message); called on the engine's stepping thread.
    void publish(std::vector<KvEvent>&& events);
    // Waits until every queued batch is sent, at most `timeout`.
    void flush(std::chrono::milliseconds timeout);

    // The msgpack payload of a batch (exposed for tests).
    static std::string encode(const std::vector<KvEvent>& events, int64_t block_size, double ts, bool map_events = false);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// True when this build has ZeroMQ and msgpack (KV events can be published).
bool kv_events_available() noexcept;

}  // namespace qlm::server
