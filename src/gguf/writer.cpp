// GGUF writer. It writes what it is told (tests use it to craft corrupt
// files); only the data placement itself is checked, so that the bytes it
// produces are always what the caller described.
//
// Layout choices, matching ggml's and gguf-py's writers so their readers
// accept our files: each tensor without an explicit offset goes at the next
// multiple of the alignment after the previous one, and the data section ends
// padded to the alignment.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "gguf/format.h"
#include "qlm/error.h"
#include "qlm/gguf.h"

namespace qlm {

using namespace gguf;

namespace {

class Bytes {
public:
    std::vector<uint8_t> buf;

    template <typename T>
    void put(T v) {
        uint8_t raw[sizeof(T)];
        std::memcpy(raw, &v, sizeof(T));  // little-endian hosts only (checked below)
        for (uint8_t b : raw) buf.push_back(b);
    }
    void put_string(std::string_view s) {
        put<uint64_t>(s.size());
        buf.insert(buf.end(), s.begin(), s.end());
    }
};

static_assert(std::endian::native == std::endian::little, "the GGUF writer assumes a little-endian host");

// The payload of a value of type `type` (no type tag). Integers come from the
// field that matches the value's own signedness, so an INT32 item in a
// UINT32 array is written as its bit pattern. Unknown types write nothing.
void put_payload(Bytes& out, uint32_t type, const GgufValue& v) {
    const bool is_signed_value = v.type == GgufValueType::INT8 || v.type == GgufValueType::INT16 ||
                                 v.type == GgufValueType::INT32 || v.type == GgufValueType::INT64;
    const uint64_t bits = is_signed_value ? uint64_t(v.i) : v.u;
    switch (GgufValueType(type)) {
        case GgufValueType::UINT8:
        case GgufValueType::INT8:
        case GgufValueType::BOOL: out.put<uint8_t>(uint8_t(bits)); break;
        case GgufValueType::UINT16:
        case GgufValueType::INT16: out.put<uint16_t>(uint16_t(bits)); break;
        case GgufValueType::UINT32:
        case GgufValueType::INT32: out.put<uint32_t>(uint32_t(bits)); break;
        case GgufValueType::UINT64:
        case GgufValueType::INT64: out.put<uint64_t>(bits); break;
        case GgufValueType::FLOAT32: out.put<float>(float(v.f)); break;
        case GgufValueType::FLOAT64: out.put<double>(v.f); break;
        case GgufValueType::STRING: out.put_string(v.str); break;
        case GgufValueType::ARRAY:
            out.put<uint32_t>(uint32_t(v.elem_type));
            out.put<uint64_t>(v.items.size());
            for (const GgufValue& item : v.items) put_payload(out, uint32_t(v.elem_type), item);
            break;
        default: break;
    }
}

constexpr uint64_t kMaxDataBytes = uint64_t(1) << 48;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

struct Placed {
    uint64_t offset;  // absolute
    const std::vector<uint8_t>* data;
};

// Everything before the tensor data, plus where each tensor's bytes go.
struct Layout {
    std::vector<uint8_t> head;
    std::vector<Placed> placed;
    uint64_t total = 0;
};

Layout lay_out(uint32_t version, uint32_t alignment, const std::vector<std::pair<std::string, GgufValue>>& kvs,
               const std::vector<GgufWriter::RawTensor>& tensors) {
    bool has_alignment_key = false;
    for (const auto& kv : kvs) has_alignment_key |= kv.first == kAlignmentKey;
    const bool add_alignment_key = alignment != kDefaultAlignment && !has_alignment_key;

    // Relative offsets first: they go into the tensor infos.
    std::vector<uint64_t> rel(tensors.size());
    uint64_t cursor = 0, end = 0;
    for (size_t k = 0; k < tensors.size(); ++k) {
        const auto& t = tensors[k];
        rel[k] = t.offset ? *t.offset : align_up(cursor, alignment);
        // Data can only be placed within a sane size (offsets alone may be anything).
        const uint64_t t_end = t.data.empty() ? rel[k] : rel[k] + t.data.size();
        if (!t.data.empty() && (rel[k] > kMaxDataBytes || t.data.size() > kMaxDataBytes - rel[k]))
            fail("GGUF writer: tensor '", t.name, "': data at offset ", rel[k], " is implausibly far");
        if (!t.offset || !t.data.empty()) cursor = std::max(cursor, t_end);
        end = std::max(end, t.data.empty() ? end : t_end);
    }
    if (!tensors.empty()) end = align_up(end, alignment);

    Bytes out;
    for (uint8_t b : kMagic) out.buf.push_back(b);
    out.put<uint32_t>(version);
    out.put<uint64_t>(tensors.size());
    out.put<uint64_t>(kvs.size() + (add_alignment_key ? 1 : 0));
    if (add_alignment_key) {
        out.put_string(kAlignmentKey);
        out.put<uint32_t>(uint32_t(GgufValueType::UINT32));
        out.put<uint32_t>(alignment);
    }
    for (const auto& [key, value] : kvs) {
        out.put_string(key);
        out.put<uint32_t>(uint32_t(value.type));
        put_payload(out, uint32_t(value.type), value);
    }
    for (size_t k = 0; k < tensors.size(); ++k) {
        const auto& t = tensors[k];
        out.put_string(t.name);
        out.put<uint32_t>(uint32_t(t.dims.size()));
        for (uint64_t d : t.dims) out.put<uint64_t>(d);
        out.put<uint32_t>(t.type_id);
        out.put<uint64_t>(rel[k]);
    }
    out.buf.resize(size_t(align_up(out.buf.size(), alignment)), 0);

    Layout layout;
    const uint64_t data_start = out.buf.size();
    for (size_t k = 0; k < tensors.size(); ++k)
        if (!tensors[k].data.empty()) layout.placed.push_back({data_start + rel[k], &tensors[k].data});
    layout.total = data_start + end;
    layout.head = std::move(out.buf);
    return layout;
}

}  // namespace

GgufWriter::GgufWriter(uint32_t version) : version_(version) {}

void GgufWriter::set_alignment(uint32_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        fail("GGUF writer: alignment ", alignment, " is not a non-zero power of two");
    alignment_ = alignment;
}

void GgufWriter::add(std::string key, GgufValue value) { kvs_.emplace_back(std::move(key), std::move(value)); }

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> shape, std::vector<uint8_t> data) {
    if (shape.empty() || shape.size() > kMaxDims)
        fail("GGUF writer: tensor '", name, "': ", shape.size(), " dims, expected 1..", kMaxDims);
    uint64_t rows = 1;
    for (size_t d = 1; d < shape.size(); ++d) {
        if (shape[d] < 0 || __builtin_mul_overflow(rows, uint64_t(shape[d]), &rows))
            fail("GGUF writer: tensor '", name, "': bad dim ", d, " = ", shape[d]);
    }
    uint64_t want;
    if (__builtin_mul_overflow(uint64_t(row_size(type, shape[0])), rows, &want))
        fail("GGUF writer: tensor '", name, "': data size overflows");
    if (want != data.size())
        fail("GGUF writer: tensor '", name, "': ", data.size(), " bytes of data, its ", type_name(type), " shape needs ",
             want);
    RawTensor t;
    t.name = std::move(name);
    t.type_id = uint32_t(type);
    for (int64_t d : shape) t.dims.push_back(uint64_t(d));
    t.data = std::move(data);
    tensors_.push_back(std::move(t));
}

void GgufWriter::add_raw_tensor(RawTensor t) { tensors_.push_back(std::move(t)); }

std::vector<uint8_t> GgufWriter::to_bytes() const {
    Layout layout = lay_out(version_, alignment_, kvs_, tensors_);
    std::vector<uint8_t> out = std::move(layout.head);
    out.resize(size_t(layout.total), 0);
    for (const Placed& p : layout.placed) std::memcpy(out.data() + p.offset, p.data->data(), p.data->size());
    return out;
}

void GgufWriter::write(const std::string& path) const {
    // Streams the tensor data rather than building the whole file in memory.
    const Layout layout = lay_out(version_, alignment_, kvs_, tensors_);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail(path, ": cannot create: ", std::strerror(errno));
    auto write_at = [&](const uint8_t* p, size_t n, uint64_t off) {
        while (n > 0) {
            const ssize_t w = ::pwrite(fd, p, n, off_t(off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                const int err = w < 0 ? errno : EIO;
                ::close(fd);
                fail(path, ": write failed at offset ", off, ": ", std::strerror(err));
            }
            p += w, n -= size_t(w), off += uint64_t(w);
        }
    };
    write_at(layout.head.data(), layout.head.size(), 0);
    for (const Placed& p : layout.placed) write_at(p.data->data(), p.data->size(), p.offset);
    // Gaps and the final padding read as zeros.
    if (::ftruncate(fd, off_t(layout.total)) != 0) {
        const int err = errno;
        ::close(fd);
        fail(path, ": cannot set the size to ", layout.total, ": ", std::strerror(err));
    }
    if (::close(fd) != 0) fail(path, ": close failed: ", std::strerror(errno));
}

}  // namespace qlm
