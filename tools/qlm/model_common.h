// Pieces shared by the commands that run a model (run, logits, bench model);
// the start-up itself is the library's (qlm/startup.h).
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "qlm/backend.h"
#include "qlm/error.h"
#include "qlm/ops.h"
#include "qlm/sampler.h"
#include "qlm/startup.h"

namespace qlm::cli {

// The start-up options of a command's --model, --threads, --isa and --backend.
template <class Opts>
StartupOptions startup_options(const Opts& o) {
    StartupOptions s;
    s.model_path = o.model;
    s.threads = o.threads;
    s.isa = o.isa;
    s.backend = o.backend;
    return s;
}

inline void add_backend_option(CLI::App& sub, std::string& backend) {
    sub.add_option("--backend", backend, "backend of the forward pass: cpu or cuda")->capture_default_str();
}

// --kv-type: the KV cache's element type (f16, the default, or f32).
inline GgmlType kv_type_from_name(const std::string& name) {
    if (name == "f16" || name == "F16") return GgmlType::F16;
    if (name == "f32" || name == "F32") return GgmlType::F32;
    fail("--kv-type: unknown KV cache type '", name, "' (f16, f32)");
}

// --temp, --top-k, --top-p, --min-p (run and chat).
inline void add_sampling_options(CLI::App& sub, SamplerOptions& s) {
    sub.add_option("--temp", s.temp, "temperature (0: greedy)")->capture_default_str();
    sub.add_option("--top-k", s.top_k, "top-k (0: off)")->capture_default_str();
    sub.add_option("--top-p", s.top_p, "top-p (1: off)")->capture_default_str();
    sub.add_option("--min-p", s.min_p, "min-p (0: off)")->capture_default_str();
}

inline double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

}  // namespace qlm::cli
