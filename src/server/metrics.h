// Prometheus text metrics of the server: the engine's gauges and counters
// plus request counts and latency histograms, twice:
// - qlm:* (qlm's own names, unlabelled), and
// - vllm:* with a model_name label: the model-server protocol that LLM-aware
//   routers and the Kubernetes Gateway API Inference Extension's endpoint
//   pickers scrape (queue depth, running requests, KV-cache usage as a 0..1
//   fraction, the cache's block size and block count, prefix-cache queries
//   and hits in tokens, token counters, finished requests by reason, and the
//   latency histograms). See deploy/README.md.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "qlm/engine.h"

namespace qlm::server {

class Histogram {
public:
    explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}
    void observe(double v) {
        for (size_t i = 0; i < bounds_.size(); ++i)
            if (v <= bounds_[i]) ++counts_[i];
        ++count_;
        sum_ += v;
    }
    // `labels`: empty, or `name="value",...` put before le.
    void render(std::ostringstream& os, const std::string& name, const std::string& help, const std::string& labels) const {
        os << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
        const std::string pre = labels.empty() ? "" : labels + ",";
        for (size_t i = 0; i < bounds_.size(); ++i)
            os << name << "_bucket{" << pre << "le=\"" << bounds_[i] << "\"} " << counts_[i] << "\n";
        const std::string braces = labels.empty() ? "" : "{" + labels + "}";
        os << name << "_bucket{" << pre << "le=\"+Inf\"} " << count_ << "\n"
           << name << "_sum" << braces << " " << sum_ << "\n"
           << name << "_count" << braces << " " << count_ << "\n";
    }

private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;
    uint64_t count_ = 0;
    double sum_ = 0;
};

class Metrics {
public:
    void request_started() {
        std::lock_guard lk(mu_);
        ++started_;
    }
    // ok: answered in full; reason: the first choice's finish reason (stop,
    // length, tool_calls, error) or abort (the client went away, or the drain
    // timeout ended it).
    void request_finished(bool ok, const std::string& reason = {}, double e2e_s = -1) {
        std::lock_guard lk(mu_);
        ++(ok ? ok_ : aborted_);
        std::string r = ok ? reason : "abort";
        if (r == "tool_calls") r = "stop";
        if (r.empty()) r = "stop";
        ++by_reason_[r];
        if (e2e_s >= 0) e2e_.observe(e2e_s);
    }
    void first_token(double s) {
        std::lock_guard lk(mu_);
        ttft_.observe(s);
    }
    void inter_token(double s) {
        std::lock_guard lk(mu_);
        itl_.observe(s);
    }
    void queued(double s) {
        std::lock_guard lk(mu_);
        queue_.observe(s);
    }
    std::string render(const EngineStats& es, const std::string& model_name) const {
        std::lock_guard lk(mu_);
        std::ostringstream os;
        auto metric = [&](const std::string& name, const char* help, double v, const char* type = "gauge",
                          const std::string& labels = {}) {
            os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
               << name << (labels.empty() ? "" : "{" + labels + "}") << " " << v << "\n";
        };
        const double usage = es.blocks_total ? double(es.blocks_used) / double(es.blocks_total) : 0.0;
        metric("qlm:num_requests_running", "sequences in the running set", double(es.running));
        metric("qlm:num_requests_waiting", "sequences waiting to be admitted", double(es.waiting));
        metric("qlm:kv_cache_blocks_used", "KV blocks referenced by sequences", double(es.blocks_used));
        metric("qlm:kv_cache_blocks_total", "KV blocks in the pool", double(es.blocks_total));
        metric("qlm:kv_cache_blocks_cached", "KV blocks in the prefix cache", double(es.blocks_cached));
        metric("qlm:kv_cache_usage_perc", "fraction of the KV pool referenced by sequences", usage);
        metric("qlm:prefix_cache_hit_tokens_total", "prompt tokens taken from the prefix cache",
               double(es.cached_prompt_tokens), "counter");
        metric("qlm:prompt_tokens_total", "prompt tokens prefilled", double(es.prompt_tokens), "counter");
        metric("qlm:generation_tokens_total", "tokens generated", double(es.generated_tokens), "counter");
        metric("qlm:num_preemptions_total", "sequences preempted for KV blocks", double(es.preemptions), "counter");
        metric("qlm:engine_steps_total", "forward steps", double(es.steps), "counter");
        metric("qlm:requests_started_total", "HTTP generation requests accepted", double(started_), "counter");
        metric("qlm:requests_finished_total", "HTTP generation requests answered in full", double(ok_), "counter");
        metric("qlm:requests_aborted_total", "HTTP generation requests whose client went away", double(aborted_), "counter");
        ttft_.render(os, "qlm:time_to_first_token_seconds", "request arrival to its first token", "");
        itl_.render(os, "qlm:inter_token_latency_seconds", "time between a sequence's tokens", "");

        // The model-server protocol (vLLM's names), labelled with the model.
        const std::string m = "model_name=\"" + escape(model_name) + "\"";
        metric("vllm:num_requests_running", "Number of requests in the running set (engine sequences).",
               double(es.running), "gauge", m);
        metric("vllm:num_requests_waiting", "Number of requests waiting to be admitted.", double(es.waiting), "gauge", m);
        metric("vllm:kv_cache_usage_perc",
               "KV-cache usage: fraction (0..1) of the paged-KV blocks referenced by requests.", usage, "gauge", m);
        metric("vllm:cache_config_info", "Information of the KV cache: block size in positions, number of blocks.", 1.0,
               "gauge",
               "block_size=\"" + std::to_string(es.block_size) + "\",num_gpu_blocks=\"" +
                   std::to_string(es.blocks_total) + "\"," + m);
        metric("vllm:prefix_cache_queries_total", "Prefix-cache queries, in prompt tokens looked up.",
               double(es.prompt_tokens_queried), "counter", m);
        metric("vllm:prefix_cache_hits_total", "Prefix-cache hits, in prompt tokens found.",
               double(es.cached_prompt_tokens), "counter", m);
        metric("vllm:prompt_tokens_total", "Prompt tokens of the admitted requests (cached ones included).",
               double(es.prompt_tokens_queried), "counter", m);
        metric("vllm:generation_tokens_total", "Generated tokens.", double(es.generated_tokens), "counter", m);
        metric("vllm:num_preemptions_total", "Preemptions of running requests for KV blocks.", double(es.preemptions),
               "counter", m);
        os << "# HELP vllm:request_success_total Finished requests, by finish reason.\n"
              "# TYPE vllm:request_success_total counter\n";
        std::map<std::string, uint64_t> reasons = by_reason_;
        reasons.emplace("stop", 0), reasons.emplace("length", 0), reasons.emplace("abort", 0);
        for (const auto& [r, n] : reasons)
            os << "vllm:request_success_total{finished_reason=\"" << r << "\"," << m << "} " << n << "\n";
        ttft_.render(os, "vllm:time_to_first_token_seconds", "Request arrival to its first token.", m);
        itl_.render(os, "vllm:inter_token_latency_seconds", "Time between a request's tokens.", m);
        e2e_.render(os, "vllm:e2e_request_latency_seconds", "Request arrival to its last token.", m);
        queue_.render(os, "vllm:request_queue_time_seconds", "Time a request waited before it was first admitted.", m);
        return os.str();
    }

private:
    static std::string escape(const std::string& s) {
        std::string out;
        for (char c : s) {
            if (c == '\\' || c == '"') out += '\\';
            if (c == '\n') {
                out += "\\n";
                continue;
            }
            out += c;
        }
        return out;
    }

    static std::vector<double> short_bounds() {
        return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0};
    }
    static std::vector<double> long_bounds() {
        return {0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 240.0, 480.0, 960.0};
    }

    mutable std::mutex mu_;
    uint64_t started_ = 0, ok_ = 0, aborted_ = 0;
    std::map<std::string, uint64_t> by_reason_;
    Histogram ttft_{short_bounds()}, itl_{short_bounds()}, e2e_{long_bounds()}, queue_{long_bounds()};
};

}  // namespace qlm::server
