// GGUF reader: maps the file and validates every field before use.
//
// Untrusted input rules followed throughout:
// - every read goes through Parser::need(), so nothing reads past the end;
// - every count is bounded by the bytes left (times the smallest encoding of
//   one item) before anything is allocated;
// - every size is computed with __builtin_*_overflow;
// - every error names the file, the byte offset where the bad field starts,
//   and the field.
//
// Decisions beyond the format (see also format.h):
// - dims must be >= 1: GGUF files in the wild have no empty tensors, and ggml
//   itself divides by ne[1..3] when checking for overflow.
// - keys and tensor names must be non-empty, valid UTF-8, free of NUL bytes
//   and at most kMaxNameBytes long. String values are not checked for UTF-8:
//   some vocabularies hold raw bytes.
// - BOOL values must be 0 or 1.
// - tensors may appear in any order and leave gaps, but must not overlap.
// - a file without tensors may end before the data-section padding.
// - caps on what a file can make us allocate (format.h): 8 levels of nested
//   arrays, 4M metadata values, 64k keys, 1M tensors, 4096-byte names.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <limits>
#include <map>
#include <numeric>

#include "gguf/format.h"
#include "qlm/error.h"
#include "qlm/gguf.h"

namespace qlm {

using namespace gguf;

namespace {

// Printable form of a key or name for messages: escapes control characters
// and bytes that may be invalid UTF-8, and cuts very long ones short.
std::string printable(std::string_view s) {
    constexpr size_t kMaxShown = 96;
    std::string out;
    size_t where = 0;
    const bool utf8_ok = check_utf8(s, &where) == Utf8Problem::none;
    for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8_ok) || c == '\\' || c == '\'') {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += char(c);
        }
    }
    if (s.size() > kMaxShown) out += cat("...(", s.size(), " bytes)");
    return out;
}

// A non-owning reference to "describe this field" callables, so that the hot
// read paths build no strings unless they fail.
class What {
public:
    template <typename F>
    What(const F& f) : obj_(&f), fn_([](const void* o) { return std::string((*static_cast<const F*>(o))()); }) {}
    std::string operator()() const { return fn_(obj_); }

private:
    const void* obj_;
    std::string (*fn_)(const void*);
};

struct Mapping {
    void* addr = nullptr;
    size_t size = 0;
    Mapping() = default;
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    ~Mapping() {
        if (addr) munmap(addr, size);
    }
};

// Everything the reader holds. GgufReader::Impl derives from it so that the
// helpers below can name it.
struct State {
    std::string path;
    Mapping mapping;  // empty for from_memory
    const uint8_t* base = nullptr;
    uint64_t size = 0;
    uint32_t version = 0;
    uint64_t alignment = kDefaultAlignment;
    uint64_t data_offset = 0;
    std::vector<GgufKV> kvs;
    std::vector<GgufTensor> tensors;
    std::map<std::string, size_t, std::less<>> kv_index;
    std::map<std::string, size_t, std::less<>> tensor_index;

    const GgufKV& require(std::string_view key) const;
    template <typename... Args>
    [[noreturn]] void fail_kv(const GgufKV& kv, Args&&... args) const {
        fail(path, ": offset ", kv.offset, ": metadata '", printable(kv.key), "': ", std::forward<Args>(args)...);
    }
};

// Where an array element sits, for messages: metadata 'key'[3][1].
struct ValuePath {
    std::string_view key;
    const ValuePath* parent = nullptr;
    uint64_t index = 0;

    std::string str() const {
        if (!parent) return cat("metadata '", printable(key), "'");
        return cat(parent->str(), "[", index, "]");
    }
};

class Parser {
public:
    Parser(State& r) : r_(r), p_(r.base), size_(r.size) {}

    void run();

private:
    State& r_;
    const uint8_t* p_;
    uint64_t size_;
    uint64_t pos_ = 0;
    uint64_t n_values_ = 0;  // metadata values so far, arrays' elements included

    uint64_t left() const { return size_ - pos_; }

    template <typename... Args>
    [[noreturn]] void fail_at(uint64_t off, Args&&... args) const {
        fail(r_.path, ": offset ", off, ": ", std::forward<Args>(args)...);
    }

    void need(uint64_t n, What what) const {
        if (n > left())
            fail_at(pos_, what(), ": truncated: needs ", n, " bytes but only ", left(), (left() == 1 ? " is" : " are"),
                    " left");
    }

    template <typename T>
    T read(What what) {
        need(sizeof(T), what);
        // Little-endian regardless of the host.
        uint64_t v = 0;
        for (size_t k = 0; k < sizeof(T); ++k) v |= uint64_t(p_[pos_ + k]) << (8 * k);
        pos_ += sizeof(T);
        T out;
        if constexpr (sizeof(T) == 8) {
            std::memcpy(&out, &v, 8);
        } else {
            using U = std::conditional_t<sizeof(T) == 4, uint32_t, std::conditional_t<sizeof(T) == 2, uint16_t, uint8_t>>;
            const U narrow = U(v);
            std::memcpy(&out, &narrow, sizeof(T));
        }
        return out;
    }

    // A view of a gguf string inside the buffer.
    std::string_view read_string(What what) {
        const uint64_t start = pos_;
        const uint64_t len = read<uint64_t>([&] { return cat(what(), ": string length"); });
        if (len > left())
            fail_at(start, what(), ": string length ", len, " exceeds the ", left(), " bytes left");
        std::string_view s(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
        pos_ += len;
        return s;
    }

    // Keys and tensor names share the same rules.
    void check_name(std::string_view s, uint64_t off, What what) const {
        if (s.empty()) fail_at(off, what(), ": empty");
        if (s.size() > kMaxNameBytes)
            fail_at(off, what(), ": ", s.size(), " bytes long, more than the ", kMaxNameBytes, " allowed");
        if (const void* nul = std::memchr(s.data(), 0, s.size()))
            fail_at(off, what(), " '", printable(s), "': NUL byte at byte ",
                    static_cast<const char*>(nul) - s.data());
        size_t where = 0;
        if (Utf8Problem p = check_utf8(s, &where); p != Utf8Problem::none)
            fail_at(off, what(), " '", printable(s), "': invalid UTF-8 (", utf8_problem_name(p), ") at byte ", where);
    }

    // Bound `count` items of at least `min_bytes` each against the bytes left.
    void check_count(uint64_t off, uint64_t count, uint64_t min_bytes, const char* item, What what) const {
        uint64_t total;
        if (__builtin_mul_overflow(count, min_bytes, &total) || total > left())
            fail_at(off, what(), " ", count, " is impossible: each ", item, " needs at least ", min_bytes,
                    " bytes and only ", left(), " are left");
    }

    GgufValue read_value(uint32_t type, const ValuePath& path, uint32_t depth);
    void read_metadata(uint64_t n_kv);
    void read_alignment();
    void read_tensor_infos(uint64_t n_tensors, std::vector<uint64_t>& offset_field_pos);
    void place_tensor_data(const std::vector<uint64_t>& offset_field_pos);
};

void Parser::run() {
    // Header.
    need(4, [] { return "magic"; });
    if (std::memcmp(p_, kMagic, 4) != 0) {
        std::string shown;
        for (int k = 0; k < 4; ++k) shown += cat(k ? " " : "", std::hex, unsigned(p_[k]) >> 4, unsigned(p_[k]) & 15);
        fail_at(0, "bad magic: bytes ", shown, " are not 'GGUF' (47 47 55 46); not a GGUF file");
    }
    pos_ = 4;
    const uint32_t version = read<uint32_t>([] { return "version"; });
    if (version == 1) fail_at(4, "GGUF v1 is not supported (it predates 64-bit counts); re-convert the model");
    if (version != 2 && version != 3) {
        if ((version & 0xFFFF) == 0 && (version == 0x01000000 || version == 0x02000000 || version == 0x03000000))
            fail_at(4, "version 0x", std::hex, std::setw(8), std::setfill('0'), version, std::dec, " looks byte-swapped: big-endian GGUF files (v",
                    __builtin_bswap32(version), ") are not supported");
        fail_at(4, "unsupported GGUF version ", version, " (qlm reads versions 2 and 3)");
    }
    r_.version = version;
    const uint64_t n_tensors = read<uint64_t>([] { return "tensor count"; });
    const uint64_t n_kv = read<uint64_t>([] { return "metadata count"; });
    check_count(8, n_tensors, kMinTensorInfoBytes, "tensor info", [] { return "tensor count"; });
    check_count(16, n_kv, kMinKvBytes, "key-value pair", [] { return "metadata count"; });
    if (n_tensors > kMaxTensors) fail_at(8, "tensor count ", n_tensors, " exceeds qlm's limit of ", kMaxTensors);
    if (n_kv > kMaxKvs) fail_at(16, "metadata count ", n_kv, " exceeds qlm's limit of ", kMaxKvs);

    read_metadata(n_kv);
    read_alignment();
    std::vector<uint64_t> offset_field_pos;
    read_tensor_infos(n_tensors, offset_field_pos);

    // The data section starts at the next multiple of the alignment.
    uint64_t data_offset;
    if (__builtin_add_overflow(pos_, r_.alignment - 1, &data_offset))
        fail_at(pos_, "data section: offset overflows");
    data_offset &= ~(r_.alignment - 1);
    if (data_offset > size_ && n_tensors > 0)
        fail_at(pos_, "padding before the data section: truncated: needs ", data_offset - pos_,
                " bytes but only ", left(), " are left");
    r_.data_offset = data_offset;
    place_tensor_data(offset_field_pos);
}

GgufValue Parser::read_value(uint32_t type, const ValuePath& path, uint32_t depth) {
    if (++n_values_ > kMaxMetadataValues)
        fail_at(pos_, path.str(), ": the metadata holds more than ", kMaxMetadataValues, " values");
    GgufValue v;
    v.type = GgufValueType(type);
    const auto what = [&] { return path.str(); };
    switch (GgufValueType(type)) {
        case GgufValueType::UINT8: v.u = read<uint8_t>(what); break;
        case GgufValueType::INT8: v.i = read<int8_t>(what); break;
        case GgufValueType::UINT16: v.u = read<uint16_t>(what); break;
        case GgufValueType::INT16: v.i = read<int16_t>(what); break;
        case GgufValueType::UINT32: v.u = read<uint32_t>(what); break;
        case GgufValueType::INT32: v.i = read<int32_t>(what); break;
        case GgufValueType::UINT64: v.u = read<uint64_t>(what); break;
        case GgufValueType::INT64: v.i = read<int64_t>(what); break;
        case GgufValueType::FLOAT32: v.f = read<float>(what); break;
        case GgufValueType::FLOAT64: v.f = read<double>(what); break;
        case GgufValueType::BOOL: {
            const uint64_t off = pos_;
            v.u = read<uint8_t>(what);
            if (v.u > 1) fail_at(off, path.str(), ": BOOL value ", v.u, " is neither 0 nor 1");
            break;
        }
        case GgufValueType::STRING: v.str = std::string(read_string(what)); break;
        case GgufValueType::ARRAY: {
            const uint64_t type_off = pos_;
            if (depth >= kMaxArrayDepth)
                fail_at(type_off, path.str(), ": arrays nested deeper than ", kMaxArrayDepth, " levels");
            const uint32_t elem = read<uint32_t>([&] { return cat(path.str(), ": array element type"); });
            const uint64_t elem_bytes = min_value_bytes(elem);
            if (elem_bytes == 0) fail_at(type_off, path.str(), ": unknown array element type ", elem);
            v.elem_type = GgufValueType(elem);
            const uint64_t count_off = pos_;
            const uint64_t count = read<uint64_t>([&] { return cat(path.str(), ": array count"); });
            check_count(count_off, count, elem_bytes, "element", [&] { return cat(path.str(), ": array count"); });
            if (count > kMaxMetadataValues - n_values_)
                fail_at(count_off, path.str(), ": array count ", count, " would take the metadata past ",
                        kMaxMetadataValues, " values");
            v.items.reserve(size_t(count));
            for (uint64_t k = 0; k < count; ++k) {
                const ValuePath sub{path.key, &path, k};
                v.items.push_back(read_value(elem, sub, depth + 1));
            }
            break;
        }
        default: fail_at(pos_, path.str(), ": unknown value type ", type);  // callers check; kept for safety
    }
    return v;
}

void Parser::read_metadata(uint64_t n_kv) {
    r_.kvs.reserve(size_t(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        const uint64_t key_off = pos_;
        const auto what = [&] { return cat("metadata key #", k); };
        const std::string_view key = read_string(what);
        check_name(key, key_off, what);
        if (auto it = r_.kv_index.find(key); it != r_.kv_index.end())
            fail_at(key_off, "metadata key #", k, " '", printable(key), "': duplicate key (first at offset ",
                    r_.kvs[it->second].offset, ")");
        const ValuePath path{key};
        const uint64_t type_off = pos_;
        const uint32_t type = read<uint32_t>([&] { return cat(path.str(), ": value type"); });
        if (min_value_bytes(type) == 0) fail_at(type_off, path.str(), ": unknown value type ", type);
        GgufKV kv;
        kv.key = std::string(key);
        kv.offset = key_off;
        kv.value = read_value(type, path, 0);
        r_.kv_index.emplace(kv.key, r_.kvs.size());
        r_.kvs.push_back(std::move(kv));
    }
}

void Parser::read_alignment() {
    auto it = r_.kv_index.find(kAlignmentKey);
    if (it == r_.kv_index.end()) return;
    const GgufKV& kv = r_.kvs[it->second];
    if (kv.value.type != GgufValueType::UINT32)
        fail_at(kv.offset, "metadata '", kAlignmentKey, "': must be UINT32, got ", gguf_value_type_name(kv.value.type));
    const uint64_t a = kv.value.u;
    if (a == 0 || (a & (a - 1)) != 0)
        fail_at(kv.offset, "metadata '", kAlignmentKey, "': alignment ", a, " is not a non-zero power of two");
    r_.alignment = a;
}

void Parser::read_tensor_infos(uint64_t n_tensors, std::vector<uint64_t>& offset_field_pos) {
    // Re-bound against what the metadata left over.
    check_count(8, n_tensors, kMinTensorInfoBytes, "tensor info", [] { return "tensor count"; });
    r_.tensors.reserve(size_t(n_tensors));
    offset_field_pos.reserve(size_t(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        GgufTensor t;
        t.info_offset = pos_;
        const auto name_what = [&] { return cat("tensor #", k, " name"); };
        const std::string_view name = read_string(name_what);
        check_name(name, t.info_offset, name_what);
        if (auto it = r_.tensor_index.find(name); it != r_.tensor_index.end())
            fail_at(t.info_offset, "tensor #", k, " '", printable(name), "': duplicate tensor name (first at offset ",
                    r_.tensors[it->second].info_offset, ")");
        t.name = std::string(name);
        const std::string who = cat("tensor '", printable(name), "'");

        const uint64_t ndims_off = pos_;
        const uint32_t n_dims = read<uint32_t>([&] { return cat(who, ": n_dims"); });
        if (n_dims == 0 || n_dims > kMaxDims)
            fail_at(ndims_off, who, ": n_dims ", n_dims, " is outside 1..", kMaxDims);
        const uint64_t dims_off = pos_;
        int64_t n_elements = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t dim_off = pos_;
            const uint64_t ne = read<uint64_t>([&] { return cat(who, ": dim ", d); });
            if (ne == 0) fail_at(dim_off, who, ": dim ", d, " is 0 (empty tensors are not allowed)");
            if (ne > uint64_t(std::numeric_limits<int64_t>::max()))
                fail_at(dim_off, who, ": dim ", d, " = ", ne, " does not fit in int64");
            if (__builtin_mul_overflow(n_elements, int64_t(ne), &n_elements)) {
                std::string dims;
                for (uint32_t e = 0; e <= d; ++e) dims += cat(e ? ", " : "", t.shape.size() > e ? t.shape[e] : int64_t(ne));
                fail_at(dims_off, who, ": element count of dims [", dims, "] overflows int64");
            }
            t.shape.push_back(int64_t(ne));
        }
        t.n_elements = n_elements;

        const uint64_t type_off = pos_;
        const uint32_t type_id = read<uint32_t>([&] { return cat(who, ": type"); });
        const TypeInfo* ti = find_type(type_id);
        if (!ti) {
            if (const char* gname = ggml_type_name(type_id))
                fail_at(type_off, who, ": type ", type_id, " (", gname, ") is not supported");
            fail_at(type_off, who, ": type ", type_id, " is not a known ggml type");
        }
        t.type = ti->type;
        if (t.shape[0] % int64_t(ti->block_size) != 0)
            fail_at(dims_off, who, ": row length ", t.shape[0], " (dim 0) is not a multiple of ", ti->name,
                    "'s block size ", ti->block_size);
        uint64_t row_bytes, size;
        if (__builtin_mul_overflow(uint64_t(t.shape[0]) / ti->block_size, uint64_t(ti->type_size), &row_bytes) ||
            __builtin_mul_overflow(row_bytes, uint64_t(t.rows()), &size))
            fail_at(dims_off, who, ": data size of ", n_elements, " ", ti->name, " elements overflows 64 bits");
        t.size = size;

        offset_field_pos.push_back(pos_);
        const uint64_t rel = read<uint64_t>([&] { return cat(who, ": data offset"); });
        if (rel % r_.alignment != 0)
            fail_at(offset_field_pos.back(), who, ": data offset ", rel, " is not a multiple of the alignment ",
                    r_.alignment);
        t.offset = rel;  // relative until place_tensor_data()
        r_.tensor_index.emplace(t.name, r_.tensors.size());
        r_.tensors.push_back(std::move(t));
    }
}

void Parser::place_tensor_data(const std::vector<uint64_t>& offset_field_pos) {
    const uint64_t avail = r_.data_offset <= size_ ? size_ - r_.data_offset : 0;
    for (size_t k = 0; k < r_.tensors.size(); ++k) {
        GgufTensor& t = r_.tensors[k];
        const std::string who = cat("tensor '", printable(t.name), "'");
        const uint64_t rel = t.offset;
        if (rel > avail)
            fail_at(offset_field_pos[k], who, ": data offset ", rel, " (file offset ", r_.data_offset, " + ", rel,
                    ") is past the end of the file (", size_, " bytes)");
        if (t.size > avail - rel)
            fail_at(offset_field_pos[k], who, ": data of ", t.size, " bytes at file offset ", r_.data_offset + rel,
                    " extends ", t.size - (avail - rel), " bytes past the end of the file (", size_, " bytes)");
        t.offset = r_.data_offset + rel;
        t.data = p_ + t.offset;
    }
    // No two tensors may share bytes.
    std::vector<size_t> order(r_.tensors.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return r_.tensors[a].offset != r_.tensors[b].offset ? r_.tensors[a].offset < r_.tensors[b].offset : a < b;
    });
    for (size_t k = 1; k < order.size(); ++k) {
        const GgufTensor& prev = r_.tensors[order[k - 1]];
        const GgufTensor& cur = r_.tensors[order[k]];
        if (prev.offset + prev.size > cur.offset) {
            // Report at the tensor that comes later in the file's info list.
            const bool cur_later = order[k] > order[k - 1];
            const GgufTensor& a = cur_later ? cur : prev;
            const GgufTensor& b = cur_later ? prev : cur;
            fail_at(offset_field_pos[cur_later ? order[k] : order[k - 1]], "tensor '", printable(a.name),
                    "': data [", a.offset, ", ", a.offset + a.size, ") overlaps tensor '", printable(b.name),
                    "' data [", b.offset, ", ", b.offset + b.size, ")");
        }
    }
}

}  // namespace

struct GgufReader::Impl : State {};

const GgufKV& State::require(std::string_view key) const {
    auto it = kv_index.find(key);
    if (it == kv_index.end()) fail(path, ": metadata key '", printable(key), "' is missing");
    return kvs[it->second];
}

int64_t GgufTensor::rows() const noexcept {
    int64_t r = 1;
    for (size_t d = 1; d < shape.size(); ++d) r *= shape[d];  // validated not to overflow
    return r;
}

GgufReader::GgufReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufReader::GgufReader(GgufReader&&) noexcept = default;
GgufReader& GgufReader::operator=(GgufReader&&) noexcept = default;
GgufReader::~GgufReader() = default;

GgufReader GgufReader::open(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        fail(path, ": cannot stat: ", std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, ": not a regular file");
    }
    impl->size = uint64_t(st.st_size);
    if (impl->size > 0) {
        // MAP_PRIVATE + PROT_READ: the weights are never written through.
        void* addr = mmap(nullptr, size_t(impl->size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (addr == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            fail(path, ": cannot map ", impl->size, " bytes: ", std::strerror(err));
        }
        impl->mapping.addr = addr;
        impl->mapping.size = size_t(impl->size);
        impl->base = static_cast<const uint8_t*>(addr);
    }
    ::close(fd);  // the mapping keeps the file alive
    Parser(*impl).run();
    return GgufReader(std::move(impl));
}

GgufReader GgufReader::from_memory(std::span<const uint8_t> bytes, std::string name) {
    auto impl = std::make_unique<Impl>();
    impl->path = std::move(name);
    impl->base = bytes.data();
    impl->size = bytes.size();
    Parser(*impl).run();
    return GgufReader(std::move(impl));
}

const std::string& GgufReader::path() const noexcept { return impl_->path; }
uint32_t GgufReader::version() const noexcept { return impl_->version; }
uint64_t GgufReader::alignment() const noexcept { return impl_->alignment; }
uint64_t GgufReader::data_offset() const noexcept { return impl_->data_offset; }
uint64_t GgufReader::file_size() const noexcept { return impl_->size; }
const std::vector<GgufKV>& GgufReader::metadata() const noexcept { return impl_->kvs; }
const std::vector<GgufTensor>& GgufReader::tensors() const noexcept { return impl_->tensors; }

const GgufValue* GgufReader::find(std::string_view key) const noexcept {
    auto it = impl_->kv_index.find(key);
    return it == impl_->kv_index.end() ? nullptr : &impl_->kvs[it->second].value;
}

const GgufTensor* GgufReader::find_tensor(std::string_view name) const noexcept {
    auto it = impl_->tensor_index.find(name);
    return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

const GgufTensor& GgufReader::tensor(std::string_view name) const {
    if (const GgufTensor* t = find_tensor(name)) return *t;
    fail(impl_->path, ": no tensor named '", printable(name), "' (the file has ", impl_->tensors.size(), " tensors)");
}

namespace {

// Runs a GgufValue conversion, prefixing its error with the file, offset and key.
template <typename F>
auto converted(const State& r, const GgufKV& kv, F&& f) {
    try {
        return f(kv.value);
    } catch (const Error& e) {
        r.fail_kv(kv, e.what());
    }
}

void require_type(const State& r, const GgufKV& kv, GgufValueType want) {
    if (kv.value.type != want)
        r.fail_kv(kv, "expected ", gguf_value_type_name(want), ", got ", gguf_value_type_name(kv.value.type));
}

// An array whose element type passes `ok` (checked on the declared element
// type, so an empty array of the wrong type is rejected too).
template <typename Ok>
void require_array_of(const State& r, const GgufKV& kv, const char* want, Ok ok) {
    require_type(r, kv, GgufValueType::ARRAY);
    GgufValue probe;
    probe.type = kv.value.elem_type;
    if (!ok(probe))
        r.fail_kv(kv, "expected an array of ", want, ", got an array of ", gguf_value_type_name(kv.value.elem_type));
}

}  // namespace

std::string GgufReader::get_string(std::string_view key) const {
    const GgufKV& kv = impl_->require(key);
    require_type(*impl_, kv, GgufValueType::STRING);
    return kv.value.str;
}

uint64_t GgufReader::get_u64(std::string_view key) const {
    return converted(*impl_, impl_->require(key), [](const GgufValue& v) { return v.to_u64(); });
}

int64_t GgufReader::get_i64(std::string_view key) const {
    return converted(*impl_, impl_->require(key), [](const GgufValue& v) { return v.to_i64(); });
}

double GgufReader::get_f64(std::string_view key) const {
    return converted(*impl_, impl_->require(key), [](const GgufValue& v) { return v.to_f64(); });
}

bool GgufReader::get_bool(std::string_view key) const {
    return converted(*impl_, impl_->require(key), [](const GgufValue& v) { return v.to_bool(); });
}

std::string GgufReader::get_string_or(std::string_view key, std::string fallback) const {
    return find(key) ? get_string(key) : fallback;
}

uint64_t GgufReader::get_u64_or(std::string_view key, uint64_t fallback) const {
    return find(key) ? get_u64(key) : fallback;
}

double GgufReader::get_f64_or(std::string_view key, double fallback) const {
    return find(key) ? get_f64(key) : fallback;
}

bool GgufReader::get_bool_or(std::string_view key, bool fallback) const {
    return find(key) ? get_bool(key) : fallback;
}

std::vector<std::string> GgufReader::get_string_array(std::string_view key) const {
    const GgufKV& kv = impl_->require(key);
    require_array_of(*impl_, kv, "STRING", [](const GgufValue& e) { return e.type == GgufValueType::STRING; });
    std::vector<std::string> out;
    out.reserve(kv.value.items.size());
    for (const GgufValue& v : kv.value.items) out.push_back(v.str);
    return out;
}

std::vector<int64_t> GgufReader::get_int_array(std::string_view key) const {
    const GgufKV& kv = impl_->require(key);
    require_array_of(*impl_, kv, "integers", [](const GgufValue& e) { return e.is_integer(); });
    std::vector<int64_t> out;
    out.reserve(kv.value.items.size());
    for (size_t k = 0; k < kv.value.items.size(); ++k) {
        try {
            out.push_back(kv.value.items[k].to_i64());
        } catch (const Error& e) {
            impl_->fail_kv(kv, "element ", k, ": ", e.what());
        }
    }
    return out;
}

std::vector<double> GgufReader::get_float_array(std::string_view key) const {
    const GgufKV& kv = impl_->require(key);
    require_array_of(*impl_, kv, "numbers", [](const GgufValue& e) { return e.is_float() || e.is_integer(); });
    std::vector<double> out;
    out.reserve(kv.value.items.size());
    for (const GgufValue& v : kv.value.items) out.push_back(v.to_f64());
    return out;
}

}  // namespace qlm
