// qlm serve -m FILE — the OpenAI-compatible server (src/server) on the
// batching engine. Binds 127.0.0.1:8080 unless told otherwise.
#include <CLI/CLI.hpp>
#include <fstream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "model_common.h"
#include "qlm/server.h"

namespace qlm::cli {

namespace {

struct ServeOpts {
    server::ServerOptions s;
    std::string kv_type = "f16", api_key_file;
    int64_t n_ctx = 4096, kv_tokens = 0;
    double kv_mib = 0;
    int64_t step_tokens = 512;
    int parallel = 64;
    double decode_slowdown = 1.8;
    std::string kv_events_format = "array";
};

int serve_cmd(ServeOpts& o) {
    if (!o.api_key_file.empty()) {
        std::ifstream in(o.api_key_file);
        if (!in) fail("--api-key-file: cannot open ", o.api_key_file);
        std::getline(in, o.s.api_key);
        while (!o.s.api_key.empty() && (o.s.api_key.back() == '\r' || o.s.api_key.back() == ' '))
            o.s.api_key.pop_back();
        if (o.s.api_key.empty()) fail("--api-key-file: ", o.api_key_file, " holds no key");
    }
    if (o.s.port <= 0 || o.s.port > 65535) fail("--port must be 1..65535, got ", o.s.port);
    if (o.s.max_queue < 0) fail("--max-queue must be >= 0");
    if (o.kv_events_format != "array" && o.kv_events_format != "map")
        fail("--kv-events-format must be array or map, got '", o.kv_events_format, "'");
    o.s.kv_events_map = o.kv_events_format == "map";
    if (o.s.drain_timeout_s < 0) fail("--drain-timeout must be >= 0 seconds, got ", o.s.drain_timeout_s);
    o.s.engine.n_ctx = o.n_ctx;
    o.s.engine.kv_tokens = o.kv_tokens > 0 ? o.kv_tokens : 4 * o.n_ctx;
    o.s.engine.kv_mib = o.kv_mib;
    o.s.engine.kv_type = kv_type_from_name(o.kv_type);
    o.s.engine.step_tokens = o.step_tokens;
    o.s.engine.max_running = o.parallel;
    if (!(o.decode_slowdown == 0 || o.decode_slowdown > 1))
        fail("--decode-slowdown must be 0 (off) or above 1, got ", o.decode_slowdown);
    o.s.engine.decode_slowdown = o.decode_slowdown;
    return server::serve(o.s);
}

}  // namespace

Command add_serve(CLI::App& app) {
    auto o = std::make_shared<ServeOpts>();
    auto* sub = app.add_subcommand("serve", "OpenAI-compatible HTTP server with continuous batching");
    sub->add_option("-m,--model", o->s.model_path, "GGUF model")->required();
    sub->add_option("--host", o->s.host, "address to bind")->capture_default_str();
    sub->add_option("--port", o->s.port, "port")->capture_default_str();
    sub->add_option("--alias", o->s.model_id, "model name reported by /v1/models (default: the file name)");
    sub->add_option("--api-key", o->s.api_key, "require 'Authorization: Bearer KEY' (all routes but /health, /ready, /metrics)");
    sub->add_option("--api-key-file", o->api_key_file, "read the API key from a file");
    sub->add_option("--cors-origin", o->s.cors_origins, "allowed CORS origins (repeat; * for any); default: CORS off");
    sub->add_option("--max-body", o->s.max_body, "largest request body in bytes")->capture_default_str();
    sub->add_option("-n,--n-predict", o->s.max_tokens,
                    "most tokens generated per choice; a larger max_tokens is clamped (-1: up to the context)")
        ->capture_default_str();
    sub->add_option("--max-queue", o->s.max_queue, "waiting requests beyond which new ones get 503")->capture_default_str();
    sub->add_option("--http-threads", o->s.http_threads, "connections served at once")->capture_default_str();
    sub->add_option("--chat-template", o->s.chat_template_file, "Jinja chat template file (overrides the model's)");
    sub->add_option("-c,--ctx-size", o->n_ctx, "positions per sequence")->capture_default_str();
    sub->add_option("--kv-size", o->kv_tokens, "KV pool in positions (default: 4 x ctx-size)");
    sub->add_option("--kv-mib", o->kv_mib, "KV pool in MiB (instead of --kv-size)");
    sub->add_option("--kv-type", o->kv_type, "KV cache type (f16, f32)")->capture_default_str();
    sub->add_option("-b,--step-tokens", o->step_tokens, "tokens per engine step (chunked prefill budget)")->capture_default_str();
    sub->add_option("--decode-slowdown", o->decode_slowdown,
                    "while streams decode, prompt chunks keep a step within this many decode steps (0: off)")
        ->capture_default_str();
    sub->add_option("--parallel", o->parallel, "sequences in the running set at once")->capture_default_str();
    sub->add_option("-t,--threads", o->s.threads, "compute threads (default: physical cores)");
    sub->add_option("--drain-timeout", o->s.drain_timeout_s,
                    "on SIGTERM, seconds the requests in flight may take to finish (then they end with an error)")
        ->capture_default_str();
    sub->add_option("--kv-events-endpoint", o->s.kv_events_endpoint,
                    "publish the prefix cache's block events on this ZeroMQ PUB endpoint (vLLM's format), e.g. tcp://*:5557");
    sub->add_option("--kv-events-topic", o->s.kv_events_topic, "topic frame of the KV events (default: empty)");
    sub->add_option("--kv-events-format", o->kv_events_format,
                    "array: vLLM's array_like events (llm-d); map: events as maps tagged by \"type\" (vllm-router kv_aware)")
        ->capture_default_str();
    sub->add_option("--isa", o->s.isa, "force an instruction set (scalar, avx2, avx512, neon)");
    sub->add_option("--backend", o->s.backend, "backend of the forward pass: cpu or cuda")->capture_default_str();
    return [o]() { return serve_cmd(*o); };
}

}  // namespace qlm::cli
