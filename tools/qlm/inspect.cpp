// qlm inspect FILE [--json] — what a GGUF file holds: architecture, parameter
// count, file size, metadata (long arrays summarised) and the tensor table with
// totals per type. --json prints the same as one JSON document.
#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "qlm/error.h"
#include "qlm/gguf.h"

namespace qlm::cli {
namespace {

constexpr size_t kArrayHead = 8;  // arrays longer than this are summarised

using nlohmann::json;

json scalar_json(const GgufValue& v) {
    switch (v.type) {
        case GgufValueType::STRING: return v.str;
        case GgufValueType::BOOL: return v.u != 0;
        case GgufValueType::FLOAT32:
        case GgufValueType::FLOAT64: return v.f;
        case GgufValueType::INT8:
        case GgufValueType::INT16:
        case GgufValueType::INT32:
        case GgufValueType::INT64: return v.i;
        default: return v.u;
    }
}

json value_json(const GgufValue& v) {
    if (v.type != GgufValueType::ARRAY) return scalar_json(v);
    json items = json::array();
    const size_t n = std::min(v.items.size(), kArrayHead);
    for (size_t k = 0; k < n; ++k) items.push_back(value_json(v.items[k]));
    if (v.items.size() <= kArrayHead) return items;
    return json{{"count", v.items.size()}, {"head", items}};
}

std::string type_label(const GgufValue& v) {
    if (v.type != GgufValueType::ARRAY) return gguf_value_type_name(v.type);
    return std::string("[") + gguf_value_type_name(v.elem_type) + " x " + std::to_string(v.items.size()) + "]";
}

// One line of text for a value; strings quoted with control characters escaped.
std::string value_text(const GgufValue& v) {
    if (v.type == GgufValueType::STRING) return json(v.str).dump(-1, ' ', false, json::error_handler_t::replace);
    if (v.type == GgufValueType::FLOAT32) {
        // shortest text that reads back as the same float32 (1e-06, not 9.99999997e-07)
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, float(v.f));
        return std::string(buf, r.ptr);
    }
    if (v.type != GgufValueType::ARRAY) return scalar_json(v).dump();
    std::string s = "[";
    const size_t n = std::min(v.items.size(), kArrayHead);
    for (size_t k = 0; k < n; ++k) s += (k ? ", " : "") + value_text(v.items[k]);
    if (v.items.size() > kArrayHead) s += ", ... (" + std::to_string(v.items.size()) + " items)";
    return s + "]";
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + "]";
}

// 1234567 -> "1.23 M" (base 1000) or "1.18 MiB" (base 1024, with unit names).
std::string human(double v, double base, const char* const (&units)[5]) {
    int u = 0;
    while (v >= base && u < 4) v /= base, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.2f%s" : "%.0f%s", v, units[u]);
    return buf;
}
std::string human_bytes(double b) { return human(b, 1024, {" B", " KiB", " MiB", " GiB", " TiB"}); }
std::string human_count(double n) { return human(n, 1000, {"", " K", " M", " B", " T"}); }

struct TypeTotal {
    int64_t tensors = 0, elements = 0;
    uint64_t bytes = 0;
};

int inspect(const std::string& path, bool as_json) {
    const GgufReader r = GgufReader::open(path);
    int64_t params = 0;
    std::map<std::string, TypeTotal> totals;
    for (const auto& t : r.tensors()) {
        params += t.n_elements;
        auto& tt = totals[type_name(t.type)];
        ++tt.tensors, tt.elements += t.n_elements, tt.bytes += t.size;
    }
    const std::string arch = r.get_string_or("general.architecture", "");

    if (as_json) {
        json doc;
        doc["file"] = path;
        doc["file_size"] = r.file_size();
        doc["gguf_version"] = r.version();
        doc["architecture"] = arch;
        doc["parameters"] = params;
        doc["alignment"] = r.alignment();
        doc["data_offset"] = r.data_offset();
        json meta = json::array();
        for (const auto& kv : r.metadata())
            meta.push_back({{"key", kv.key}, {"type", type_label(kv.value)}, {"value", value_json(kv.value)}});
        doc["metadata"] = meta;
        json tensors = json::array();
        for (const auto& t : r.tensors())
            tensors.push_back({{"name", t.name},
                               {"type", type_name(t.type)},
                               {"shape", t.shape},
                               {"bytes", t.size},
                               {"offset", t.offset}});
        doc["tensors"] = tensors;
        json by_type = json::object();
        for (const auto& [name, tt] : totals)
            by_type[name] = {{"tensors", tt.tensors}, {"elements", tt.elements}, {"bytes", tt.bytes}};
        doc["totals_by_type"] = by_type;
        std::printf("%s\n", doc.dump(2, ' ', false, json::error_handler_t::replace).c_str());
        return 0;
    }

    std::printf("file:          %s\n", path.c_str());
    std::printf("file size:     %s (%llu bytes)\n", human_bytes(double(r.file_size())).c_str(),
                (unsigned long long)r.file_size());
    std::printf("gguf version:  %u\n", r.version());
    std::printf("architecture:  %s\n", arch.empty() ? "(not set)" : arch.c_str());
    std::printf("parameters:    %s (%lld)\n", human_count(double(params)).c_str(), (long long)params);
    std::printf("tensors:       %zu, data at offset %llu, alignment %llu\n", r.tensors().size(),
                (unsigned long long)r.data_offset(), (unsigned long long)r.alignment());

    size_t key_w = 3;
    for (const auto& kv : r.metadata()) key_w = std::max(key_w, kv.key.size());
    std::printf("\nmetadata (%zu keys):\n", r.metadata().size());
    for (const auto& kv : r.metadata())
        std::printf("  %-*s  %-18s  %s\n", int(key_w), kv.key.c_str(), type_label(kv.value).c_str(),
                    value_text(kv.value).c_str());

    size_t name_w = 4;
    for (const auto& t : r.tensors()) name_w = std::max(name_w, t.name.size());
    std::printf("\ntensors:\n  %-*s  %-7s  %-22s  %12s  %12s\n", int(name_w), "name", "type", "shape", "bytes",
                "offset");
    for (const auto& t : r.tensors())
        std::printf("  %-*s  %-7s  %-22s  %12llu  %12llu\n", int(name_w), t.name.c_str(), type_name(t.type),
                    shape_text(t.shape).c_str(), (unsigned long long)t.size, (unsigned long long)t.offset);

    std::printf("\ntotals by type:\n  %-7s  %8s  %14s  %14s\n", "type", "tensors", "elements", "bytes");
    TypeTotal all;
    for (const auto& [name, tt] : totals) {
        std::printf("  %-7s  %8lld  %14lld  %14llu  (%s)\n", name.c_str(), (long long)tt.tensors,
                    (long long)tt.elements, (unsigned long long)tt.bytes, human_bytes(double(tt.bytes)).c_str());
        all.tensors += tt.tensors, all.elements += tt.elements, all.bytes += tt.bytes;
    }
    std::printf("  %-7s  %8lld  %14lld  %14llu  (%s)\n", "all", (long long)all.tensors, (long long)all.elements,
                (unsigned long long)all.bytes, human_bytes(double(all.bytes)).c_str());
    return 0;
}

}  // namespace

Command add_inspect(CLI::App& app) {
    struct Opts {
        std::string file;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = app.add_subcommand("inspect", "Show a GGUF file's metadata and tensors");
    sub->add_option("file", o->file, "GGUF file")->required();
    sub->add_flag("--json", o->json, "print one JSON document");
    return [o]() { return inspect(o->file, o->json); };
}

}  // namespace qlm::cli
