// libFuzzer target for the GGUF reader. Any input must either parse or throw
// qlm::Error; anything else (a crash, a sanitizer report, another exception,
// a leak) is a finding. A file that parses is also written back with
// GgufWriter and must read back identically. The first row of every tensor
// is dequantized (any bytes: NaN / Inf scales give NaN / Inf, never a crash).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "qlm/error.h"
#include "qlm/formats.h"
#include "qlm/gguf.h"

namespace {

volatile uint64_t g_sink;

bool same_value(const qlm::GgufValue& a, const qlm::GgufValue& b) {
    if (a.type != b.type || a.u != b.u || a.i != b.i || a.str != b.str || a.elem_type != b.elem_type ||
        a.items.size() != b.items.size() || std::memcmp(&a.f, &b.f, sizeof(double)) != 0)
        return false;
    for (size_t k = 0; k < a.items.size(); ++k)
        if (!same_value(a.items[k], b.items[k])) return false;
    return true;
}

uint64_t touch_value(const qlm::GgufValue& v) {
    uint64_t sum = v.u + uint64_t(v.i) + v.str.size() + uint64_t(v.f != 0) + v.is_integer() + v.is_float();
    for (char c : v.str) sum += uint8_t(c);
    // The checked conversions either succeed or throw qlm::Error.
    try { sum += v.to_u64(); } catch (const qlm::Error&) {}
    try { sum += uint64_t(v.to_i64()); } catch (const qlm::Error&) {}
    try { sum += uint64_t(v.to_f64() != 0); } catch (const qlm::Error&) {}
    try { sum += v.to_bool(); } catch (const qlm::Error&) {}
    sum += std::strlen(qlm::gguf_value_type_name(v.type));
    for (const auto& item : v.items) sum += touch_value(item);
    return sum;
}

uint64_t touch_reader(const qlm::GgufReader& r) {
    uint64_t sum = r.version() + r.alignment() + r.data_offset() + r.file_size() + r.path().size();
    for (const auto& kv : r.metadata()) {
        sum += kv.offset + touch_value(kv.value);
        if (r.find(kv.key) != &kv.value) __builtin_trap();
        // Typed getters: any outcome but qlm::Error is a bug.
        try { sum += r.get_string(kv.key).size(); } catch (const qlm::Error&) {}
        try { sum += r.get_u64(kv.key); } catch (const qlm::Error&) {}
        try { sum += uint64_t(r.get_i64(kv.key)); } catch (const qlm::Error&) {}
        try { sum += uint64_t(r.get_f64(kv.key) != 0); } catch (const qlm::Error&) {}
        try { sum += r.get_bool(kv.key); } catch (const qlm::Error&) {}
        try { sum += r.get_string_array(kv.key).size(); } catch (const qlm::Error&) {}
        try { sum += r.get_int_array(kv.key).size(); } catch (const qlm::Error&) {}
        try { sum += r.get_float_array(kv.key).size(); } catch (const qlm::Error&) {}
        try { sum += r.get_string_or(kv.key, "").size(); } catch (const qlm::Error&) {}
        try { sum += r.get_u64_or(kv.key, 0); } catch (const qlm::Error&) {}
        try { sum += uint64_t(r.get_f64_or(kv.key, 0) != 0); } catch (const qlm::Error&) {}
        try { sum += r.get_bool_or(kv.key, false); } catch (const qlm::Error&) {}
    }
    for (const auto& t : r.tensors()) {
        if (r.find_tensor(t.name) != &t || &r.tensor(t.name) != &t) __builtin_trap();
        if (t.offset < r.data_offset() || t.offset + t.size > r.file_size()) __builtin_trap();
        for (uint8_t b : t.bytes()) sum += b;  // ASan checks every byte of the view
        sum += uint64_t(t.n_elements) + uint64_t(t.rows()) + t.info_offset + t.shape.size();
        if (!t.shape.empty() && t.shape[0] <= 4096) {
            try {
                const size_t rs = qlm::row_size(t.type, t.shape[0]);
                if (rs > t.size) continue;
                // A valid file may align its data to 1 byte; the model refuses
                // misaligned weights (weight_view), so the dequantizer sees an
                // aligned copy of the row's bytes.
                std::vector<uint64_t> aligned((rs + 7) / 8);
                std::memcpy(aligned.data(), t.data, rs);
                std::vector<float> row(size_t(t.shape[0]));
                qlm::dequantize_row(t.type, aligned.data(), row.data(), t.shape[0]);
                for (float v : row) sum += std::isnan(v) ? 1 : 0;
            } catch (const qlm::Error&) {
            }
        }
    }
    return sum;
}

// Write a parsed file back and check it reads the same.
void check_rewrite(const qlm::GgufReader& r) {
    qlm::GgufWriter w(r.version());
    if (r.alignment() != 32) w.set_alignment(uint32_t(r.alignment()));  // its key is in the metadata already
    for (const auto& kv : r.metadata()) w.add(kv.key, kv.value);
    for (const auto& t : r.tensors()) {
        qlm::GgufWriter::RawTensor raw;
        raw.name = t.name;
        raw.type_id = uint32_t(t.type);
        for (int64_t d : t.shape) raw.dims.push_back(uint64_t(d));
        raw.offset = t.offset - r.data_offset();
        raw.data.assign(t.data, t.data + t.size);
        w.add_raw_tensor(std::move(raw));
    }
    const std::vector<uint8_t> bytes = w.to_bytes();
    const auto back = qlm::GgufReader::from_memory(bytes, "rewrite");  // must not throw
    if (back.metadata().size() != r.metadata().size() || back.tensors().size() != r.tensors().size())
        __builtin_trap();
    for (size_t k = 0; k < r.metadata().size(); ++k)
        if (back.metadata()[k].key != r.metadata()[k].key || !same_value(back.metadata()[k].value, r.metadata()[k].value))
            __builtin_trap();
    for (size_t k = 0; k < r.tensors().size(); ++k) {
        const auto &a = r.tensors()[k], &b = back.tensors()[k];
        if (a.name != b.name || a.type != b.type || a.shape != b.shape || a.size != b.size ||
            std::memcmp(a.data, b.data, a.size) != 0)
            __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::optional<qlm::GgufReader> reader;
    try {
        reader.emplace(qlm::GgufReader::from_memory(std::span<const uint8_t>(data, size), "fuzz.gguf"));
    } catch (const qlm::Error& e) {
        // Every message names the file and an offset.
        if (std::strncmp(e.what(), "fuzz.gguf: offset ", 18) != 0) __builtin_trap();
        return 0;
    }
    g_sink = g_sink + touch_reader(*reader);
    try {
        (void)reader->tensor("\xff no such tensor");
        __builtin_trap();
    } catch (const qlm::Error&) {
    }
    // The writer pads the header to the alignment even without tensors, so
    // a legal 2 GiB alignment would make the rewrite allocate 2 GiB.
    if (reader->alignment() <= 4096) check_rewrite(*reader);
    return 0;
}
