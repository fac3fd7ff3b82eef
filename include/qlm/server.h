// qlm serve: an OpenAI-compatible HTTP server on the batching engine. The
// server never computes: it parses and validates requests, renders chat
// templates, tokenizes, enqueues into the engine (which steps on its own
// thread) and streams the engine's events back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qlm/engine.h"

namespace qlm::server {

struct ServerOptions {
    std::string model_path;
    std::string model_id;              // the name /v1/models reports (default: the file name)
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string api_key;               // empty: no authentication
    std::vector<std::string> cors_origins;
    size_t max_body = size_t(8) << 20;
    int max_queue = 64;                // waiting requests beyond which new ones get 503
    int64_t max_tokens = -1;           // most tokens generated per choice (-1: up to the context); a larger
                                       // max_tokens is clamped to it (finish_reason "length")
    int http_threads = 64;             // concurrent connections served (each stream holds one)
    int read_timeout_s = 30, write_timeout_s = 600;
    std::string chat_template_file;    // overrides the GGUF's tokenizer.chat_template
    int threads = 0;                   // compute threads (0: physical cores)
    std::string isa;
    std::string backend = "cpu";       // the forward pass's backend (qlm/backend.h make_backend)
    int drain_timeout_s = 30;          // on SIGTERM: how long requests in flight may take to finish
    std::string kv_events_endpoint;    // ZeroMQ PUB endpoint of the KV events (empty: none)
    std::string kv_events_topic;       // their topic frame
    bool kv_events_map = false;        // events as maps tagged by "type" (vllm-router kv_aware), not arrays (llm-d)
    EngineOptions engine;
};

// Loads the model (answering /health and /ready with 503 meanwhile), then
// serves until the process is stopped: the first SIGINT / SIGTERM drains
// (/ready 503, new requests 503 + Retry-After, requests in flight finish
// within drain_timeout_s) and returns 0; a second one exits at once.
// Returns the exit status.
int serve(const ServerOptions& opts);

}  // namespace qlm::server
