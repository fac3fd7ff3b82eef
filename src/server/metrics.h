// Prometheus text metrics of the server: the engine's gauges and counters
// plus request counts and latency histograms (time to first token, time
// between tokens). The names follow vLLM's, which Kubernetes inference
// gateways route on, with the qlm: prefix.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <sstream>
#include <string>

#include "qlm/engine.h"

namespace qlm::server {

class Histogram {
public:
    static constexpr std::array<double, 14> kBounds = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08,
                                                       0.1,   0.25,  0.5,  1.0,  2.5,  5.0,  10.0};
    void observe(double v) {
        for (size_t i = 0; i < kBounds.size(); ++i)
            if (v <= kBounds[i]) ++counts_[i];
        ++count_;
        sum_ += v;
    }
    void render(std::ostringstream& os, const std::string& name, const std::string& help) const {
        os << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
        for (size_t i = 0; i < kBounds.size(); ++i) os << name << "_bucket{le=\"" << kBounds[i] << "\"} " << counts_[i] << "\n";
        os << name << "_bucket{le=\"+Inf\"} " << count_ << "\n" << name << "_sum " << sum_ << "\n" << name << "_count " << count_ << "\n";
    }

private:
    std::array<uint64_t, kBounds.size()> counts_{};
    uint64_t count_ = 0;
    double sum_ = 0;
};

class Metrics {
public:
    void request_started() {
        std::lock_guard lk(mu_);
        ++started_;
    }
    void request_finished(bool ok) {
        std::lock_guard lk(mu_);
        ++(ok ? ok_ : aborted_);
    }
    void first_token(double s) {
        std::lock_guard lk(mu_);
        ttft_.observe(s);
    }
    void inter_token(double s) {
        std::lock_guard lk(mu_);
        itl_.observe(s);
    }
    std::string render(const EngineStats& es) const {
        std::lock_guard lk(mu_);
        std::ostringstream os;
        auto gauge = [&](const char* name, const char* help, double v, const char* type = "gauge") {
            os << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n" << name << " " << v << "\n";
        };
        gauge("qlm:num_requests_running", "sequences in the running set", double(es.running));
        gauge("qlm:num_requests_waiting", "sequences waiting to be admitted", double(es.waiting));
        gauge("qlm:kv_cache_blocks_used", "KV blocks referenced by sequences", double(es.blocks_used));
        gauge("qlm:kv_cache_blocks_total", "KV blocks in the pool", double(es.blocks_total));
        gauge("qlm:kv_cache_blocks_cached", "KV blocks in the prefix cache", double(es.blocks_cached));
        gauge("qlm:kv_cache_usage_perc", "fraction of the KV pool referenced by sequences",
              es.blocks_total ? double(es.blocks_used) / double(es.blocks_total) : 0.0);
        gauge("qlm:prefix_cache_hit_tokens_total", "prompt tokens taken from the prefix cache",
              double(es.cached_prompt_tokens), "counter");
        gauge("qlm:prompt_tokens_total", "prompt tokens prefilled", double(es.prompt_tokens), "counter");
        gauge("qlm:generation_tokens_total", "tokens generated", double(es.generated_tokens), "counter");
        gauge("qlm:num_preemptions_total", "sequences preempted for KV blocks", double(es.preemptions), "counter");
        gauge("qlm:engine_steps_total", "forward steps", double(es.steps), "counter");
        gauge("qlm:requests_started_total", "HTTP generation requests accepted", double(started_), "counter");
        gauge("qlm:requests_finished_total", "HTTP generation requests answered in full", double(ok_), "counter");
        gauge("qlm:requests_aborted_total", "HTTP generation requests whose client went away", double(aborted_), "counter");
        ttft_.render(os, "qlm:time_to_first_token_seconds", "request arrival to its first token");
        itl_.render(os, "qlm:inter_token_latency_seconds", "time between a sequence's tokens");
        return os.str();
    }

private:
    mutable std::mutex mu_;
    uint64_t started_ = 0, ok_ = 0, aborted_ = 0;
    Histogram ttft_, itl_;
};

}  // namespace qlm::server
