// GGUF reader and writer: round trips, the crafted-corrupt-file table,
// truncation at every byte and random byte flips.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <limits>
#include <random>

#include "gguf/format.h"
#include "gguf/gguf_cases.h"
#include "qlm/error.h"
#include "qlm/gguf.h"
#include "qlm/ops.h"

namespace qlm {
namespace {

using test::corrupt_cases;
using test::CorruptCase;
using V = GgufValue;
using VT = GgufValueType;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = uint8_t(rng());
    return v;
}

std::vector<uint8_t> tensor_data(GgmlType t, const std::vector<int64_t>& shape, uint32_t seed) {
    int64_t rows = 1;
    for (size_t d = 1; d < shape.size(); ++d) rows *= shape[d];
    return random_bytes(row_size(t, shape[0]) * size_t(rows), seed);
}

// The message of the qlm::Error that `f` throws ("" if it does not throw).
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Touch everything a reader exposes, so sanitizers see any bad view.
uint64_t touch_all(const GgufReader& r) {
    uint64_t sum = r.version() + r.alignment() + r.data_offset();
    std::function<void(const GgufValue&)> visit = [&](const GgufValue& v) {
        sum += v.u + uint64_t(v.i) + v.str.size() + (v.str.empty() ? 0 : uint8_t(v.str.back()));
        for (const auto& item : v.items) visit(item);
    };
    for (const auto& kv : r.metadata()) {
        sum += kv.key.size();
        visit(kv.value);
    }
    for (const auto& t : r.tensors()) {
        for (uint8_t b : t.bytes()) sum += b;
        sum += uint64_t(t.n_elements) + uint64_t(t.rows());
    }
    return sum;
}

// ---------------------------------------------------------------- round trips

GgufWriter all_value_types_writer(uint32_t version) {
    GgufWriter w(version);
    w.add("u8", V::of_u8(255));
    w.add("i8", V::of_i8(-128));
    w.add("u16", V::of_u16(65535));
    w.add("i16", V::of_i16(-32768));
    w.add("u32", V::of_u32(0xFFFFFFFFu));
    w.add("i32", V::of_i32(std::numeric_limits<int32_t>::min()));
    w.add("f32", V::of_f32(1.5f));
    w.add("bool_t", V::of_bool(true));
    w.add("bool_f", V::of_bool(false));
    w.add("str", V::of_string("h\xc3\xa9llo"));
    w.add("str_empty", V::of_string(""));
    w.add("str_nul", V::of_string(std::string("a\0b", 3)));
    w.add("u64", V::of_u64(std::numeric_limits<uint64_t>::max()));
    w.add("i64", V::of_i64(std::numeric_limits<int64_t>::min()));
    w.add("f64", V::of_f64(3.141592653589793));
    w.add("arr_str", V::of_array(VT::STRING, {V::of_string("<s>"), V::of_string(""), V::of_string("\xe2\x96\x81the")}));
    w.add("arr_empty", V::of_array(VT::UINT8, {}));
    w.add("arr_empty_str", V::of_array(VT::STRING, {}));
    w.add("arr_i32", V::of_array(VT::INT32, {V::of_i32(-1), V::of_i32(7)}));
    w.add("arr_u64", V::of_array(VT::UINT64, {V::of_u64(1), V::of_u64(uint64_t(1) << 40)}));
    w.add("arr_f32", V::of_array(VT::FLOAT32, {V::of_f32(0.25f), V::of_f32(-2.f)}));
    w.add("arr_bool", V::of_array(VT::BOOL, {V::of_bool(true), V::of_bool(false)}));
    w.add("arr_nested", V::of_array(VT::ARRAY, {V::of_array(VT::UINT32, {V::of_u32(1), V::of_u32(2)}),
                                                V::of_array(VT::STRING, {V::of_string("x")}),
                                                V::of_array(VT::ARRAY, {V::of_array(VT::INT8, {V::of_i8(-3)})})}));
    return w;
}

class RoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RoundTrip, EveryValueType) {
    const uint32_t version = GetParam();
    const auto bytes = all_value_types_writer(version).to_bytes();
    const auto r = GgufReader::from_memory(bytes, "rt.gguf");
    EXPECT_EQ(r.version(), version);
    EXPECT_EQ(r.path(), "rt.gguf");
    EXPECT_EQ(r.alignment(), 32u);
    EXPECT_EQ(r.file_size(), bytes.size());
    ASSERT_EQ(r.metadata().size(), 23u);
    EXPECT_EQ(r.metadata()[0].key, "u8");
    EXPECT_EQ(r.metadata()[0].offset, 24u);
    EXPECT_EQ(r.metadata()[1].offset, 24u + 10 + 4 + 1);

    EXPECT_EQ(r.find("u8")->type, VT::UINT8);
    EXPECT_EQ(r.get_u64("u8"), 255u);
    EXPECT_EQ(r.get_i64("i8"), -128);
    EXPECT_EQ(r.get_u64("u16"), 65535u);
    EXPECT_EQ(r.get_i64("i16"), -32768);
    EXPECT_EQ(r.get_u64("u32"), 0xFFFFFFFFu);
    EXPECT_EQ(r.get_i64("i32"), std::numeric_limits<int32_t>::min());
    EXPECT_EQ(r.find("f32")->type, VT::FLOAT32);
    EXPECT_EQ(r.get_f64("f32"), 1.5);
    EXPECT_TRUE(r.get_bool("bool_t"));
    EXPECT_FALSE(r.get_bool("bool_f"));
    EXPECT_EQ(r.get_string("str"), "h\xc3\xa9llo");
    EXPECT_EQ(r.get_string("str_empty"), "");
    EXPECT_EQ(r.get_string("str_nul"), std::string("a\0b", 3));
    EXPECT_EQ(r.get_u64("u64"), std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(r.get_i64("i64"), std::numeric_limits<int64_t>::min());
    EXPECT_EQ(r.get_f64("f64"), 3.141592653589793);
    EXPECT_EQ(r.get_f64("u32"), 4294967295.0);

    EXPECT_EQ(r.get_string_array("arr_str"), (std::vector<std::string>{"<s>", "", "\xe2\x96\x81the"}));
    EXPECT_TRUE(r.get_int_array("arr_empty").empty());
    EXPECT_EQ(r.find("arr_empty")->elem_type, VT::UINT8);
    EXPECT_TRUE(r.get_string_array("arr_empty_str").empty());
    EXPECT_EQ(r.get_int_array("arr_i32"), (std::vector<int64_t>{-1, 7}));
    EXPECT_EQ(r.get_int_array("arr_u64"), (std::vector<int64_t>{1, int64_t(1) << 40}));
    EXPECT_EQ(r.get_float_array("arr_f32"), (std::vector<double>{0.25, -2.0}));
    EXPECT_EQ(r.get_float_array("arr_i32"), (std::vector<double>{-1.0, 7.0}));
    const GgufValue& bools = *r.find("arr_bool");
    ASSERT_EQ(bools.items.size(), 2u);
    EXPECT_TRUE(bools.items[0].to_bool());
    EXPECT_FALSE(bools.items[1].to_bool());

    const GgufValue& nested = *r.find("arr_nested");
    ASSERT_EQ(nested.elem_type, VT::ARRAY);
    ASSERT_EQ(nested.items.size(), 3u);
    EXPECT_EQ(nested.items[0].elem_type, VT::UINT32);
    ASSERT_EQ(nested.items[0].items.size(), 2u);
    EXPECT_EQ(nested.items[0].items[1].to_u64(), 2u);
    EXPECT_EQ(nested.items[1].items[0].str, "x");
    ASSERT_EQ(nested.items[2].items.size(), 1u);
    EXPECT_EQ(nested.items[2].items[0].items[0].to_i64(), -3);
    EXPECT_TRUE(r.tensors().empty());
}

INSTANTIATE_TEST_SUITE_P(Versions, RoundTrip, ::testing::Values(2u, 3u));

struct TensorSpec {
    const char* name;
    GgmlType type;
    std::vector<int64_t> shape;
};

const std::vector<TensorSpec> kTensorSpecs = {
    {"token_embd.weight", GgmlType::Q4_K, {256, 3}},
    {"blk.0.attn_norm.weight", GgmlType::F32, {7}},
    {"blk.0.attn_q.weight", GgmlType::Q8_0, {64, 2, 3}},
    {"blk.0.ffn_up.weight", GgmlType::Q6_K, {512, 1, 1, 2}},
    {"h", GgmlType::F16, {5, 3}},
    {"b", GgmlType::BF16, {9}},
    {"q40", GgmlType::Q4_0, {32, 5}},
    {"iq4", GgmlType::IQ4_NL, {64}},
    {"mx", GgmlType::MXFP4, {32, 2}},
};

class Alignment : public ::testing::TestWithParam<uint32_t> {};

TEST_P(Alignment, TensorViewsPointAtTheirBytes) {
    const uint32_t alignment = GetParam();
    GgufWriter w;
    w.set_alignment(alignment);
    w.add("general.name", V::of_string("tensors"));
    std::vector<std::vector<uint8_t>> datas;
    for (size_t k = 0; k < kTensorSpecs.size(); ++k) {
        const auto& s = kTensorSpecs[k];
        datas.push_back(tensor_data(s.type, s.shape, uint32_t(k + 1)));
        w.add_tensor(s.name, s.type, s.shape, datas.back());
    }
    const auto bytes = w.to_bytes();
    const auto r = GgufReader::from_memory(bytes, "t.gguf");
    EXPECT_EQ(r.alignment(), alignment);
    EXPECT_EQ(r.data_offset() % alignment, 0u);
    if (alignment != 32) EXPECT_EQ(r.get_u64("general.alignment"), alignment);
    else EXPECT_EQ(r.find("general.alignment"), nullptr);
    ASSERT_EQ(r.tensors().size(), kTensorSpecs.size());
    for (size_t k = 0; k < kTensorSpecs.size(); ++k) {
        const auto& s = kTensorSpecs[k];
        const GgufTensor& t = r.tensors()[k];
        SCOPED_TRACE(s.name);
        EXPECT_EQ(t.name, s.name);
        EXPECT_EQ(t.type, s.type);
        EXPECT_EQ(t.shape, s.shape);
        int64_t n = 1, rows = 1;
        for (size_t d = 0; d < s.shape.size(); ++d) n *= s.shape[d], rows *= d ? s.shape[d] : 1;
        EXPECT_EQ(t.n_elements, n);
        EXPECT_EQ(t.rows(), rows);
        EXPECT_EQ(t.size, datas[k].size());
        EXPECT_EQ(t.size, row_size(s.type, s.shape[0]) * uint64_t(rows));
        EXPECT_EQ((t.offset - r.data_offset()) % alignment, 0u);
        EXPECT_EQ(t.data, bytes.data() + t.offset);  // zero copy
        EXPECT_TRUE(std::equal(t.bytes().begin(), t.bytes().end(), datas[k].begin(), datas[k].end()));
        EXPECT_EQ(r.find_tensor(s.name), &t);
        EXPECT_EQ(&r.tensor(s.name), &t);
        EXPECT_LT(t.info_offset, r.data_offset());
    }
    EXPECT_EQ(r.find_tensor("nope"), nullptr);
    EXPECT_NE(error_of([&] { r.tensor("nope"); }).find("t.gguf: no tensor named 'nope'"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Values, Alignment, ::testing::Values(1u, 8u, 32u, 64u, 4096u));

TEST(GgufReader, SampleFilesAreValid) {
    for (const auto& f : test::valid_samples()) {
        SCOPED_TRACE(f.name);
        EXPECT_NO_THROW(touch_all(GgufReader::from_memory(f.bytes, f.name)));
    }
}

TEST(GgufReader, MovedReaderKeepsViews) {
    const auto bytes = test::small_valid_file();
    auto r = GgufReader::from_memory(bytes);
    const uint8_t* data = r.tensor("f").data;
    GgufReader moved = std::move(r);
    EXPECT_EQ(moved.tensor("f").data, data);
    EXPECT_EQ(moved.get_string("general.architecture"), "llama");
}

// ------------------------------------------------------------------ getters

TEST(GgufReader, GettersNameFileAndKey) {
    GgufWriter w;
    w.add("neg", V::of_i32(-3));
    w.add("name", V::of_string("x"));
    w.add("flag", V::of_u8(1));
    w.add("ints", V::of_array(VT::UINT64, {V::of_u64(std::numeric_limits<uint64_t>::max())}));
    const auto bytes = w.to_bytes();
    const auto r = GgufReader::from_memory(bytes, "g.gguf");

    auto expect_error = [](auto&& f, const std::string& what) {
        const std::string msg = error_of(f);
        EXPECT_NE(msg.find(what), std::string::npos) << "message: " << msg << "\nexpected: " << what;
    };
    expect_error([&] { r.get_u64("neg"); }, "g.gguf: offset 24: metadata 'neg': INT32 value -3 is negative");
    expect_error([&] { r.get_u64("name"); }, "metadata 'name': expected an unsigned integer, got STRING");
    expect_error([&] { r.get_string("neg"); }, "metadata 'neg': expected STRING, got INT32");
    expect_error([&] { r.get_bool("flag"); }, "metadata 'flag': expected BOOL, got UINT8");
    expect_error([&] { r.get_string("missing.key"); }, "g.gguf: metadata key 'missing.key' is missing");
    expect_error([&] { r.get_u64("missing.key"); }, "g.gguf: metadata key 'missing.key' is missing");
    expect_error([&] { r.get_string_array("ints"); }, "expected an array of STRING, got an array of UINT64");
    expect_error([&] { r.get_int_array("ints"); }, "metadata 'ints': element 0: UINT64 value 18446744073709551615 does not fit in INT64");
    expect_error([&] { r.get_int_array("name"); }, "expected ARRAY, got STRING");
    expect_error([&] { r.get_f64("name"); }, "expected a number, got STRING");

    EXPECT_EQ(r.get_u64_or("missing", 7), 7u);
    EXPECT_EQ(r.get_string_or("missing", "fb"), "fb");
    EXPECT_EQ(r.get_string_or("name", "fb"), "x");
    EXPECT_EQ(r.get_f64_or("missing", 0.5), 0.5);
    EXPECT_TRUE(r.get_bool_or("missing", true));
    EXPECT_THROW(r.get_u64_or("neg", 7), Error);  // present but wrong: not the fallback
    EXPECT_EQ(r.get_i64("neg"), -3);
    EXPECT_EQ(r.get_f64("neg"), -3.0);
}

TEST(GgufValue, CheckedConversions) {
    EXPECT_EQ(V::of_u8(7).to_i64(), 7);
    EXPECT_EQ(V::of_i64(5).to_u64(), 5u);
    EXPECT_THROW(V::of_i8(-1).to_u64(), Error);
    EXPECT_THROW(V::of_u64(uint64_t(1) << 63).to_i64(), Error);
    EXPECT_THROW(V::of_string("1").to_u64(), Error);
    EXPECT_THROW(V::of_f32(1.f).to_u64(), Error);
    EXPECT_THROW(V::of_bool(true).to_u64(), Error);
    EXPECT_THROW(V::of_u8(1).to_bool(), Error);
    EXPECT_THROW(V::of_array(VT::UINT8, {}).to_f64(), Error);
    EXPECT_TRUE(V::of_bool(true).to_bool());
    EXPECT_EQ(V::of_f32(0.5f).to_f64(), 0.5);
    EXPECT_TRUE(V::of_i16(1).is_integer());
    EXPECT_FALSE(V::of_bool(true).is_integer());
    EXPECT_TRUE(V::of_f64(1).is_float());
    EXPECT_STREQ(gguf_value_type_name(VT::FLOAT64), "FLOAT64");
    EXPECT_STREQ(gguf_value_type_name(VT(77)), "unknown");
}

// ------------------------------------------------------------- files (mmap)

class TempDir : public ::testing::Test {
protected:
    std::filesystem::path dir;
    void SetUp() override {
        dir = std::filesystem::temp_directory_path() /
              ("qlm_gguf_test_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir);
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
};

TEST_F(TempDir, WriteThenOpenMapsTheFile) {
    GgufWriter w = all_value_types_writer(3);
    w.set_alignment(64);
    std::vector<std::vector<uint8_t>> datas;
    for (size_t k = 0; k < kTensorSpecs.size(); ++k) {
        datas.push_back(tensor_data(kTensorSpecs[k].type, kTensorSpecs[k].shape, uint32_t(100 + k)));
        w.add_tensor(kTensorSpecs[k].name, kTensorSpecs[k].type, kTensorSpecs[k].shape, datas.back());
    }
    const std::string path = (dir / "m.gguf").string();
    w.write(path);

    // write() streams; it must produce exactly to_bytes().
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(on_disk, w.to_bytes());

    const auto r = GgufReader::open(path);
    EXPECT_EQ(r.path(), path);
    EXPECT_EQ(r.file_size(), on_disk.size());
    EXPECT_EQ(r.alignment(), 64u);
    EXPECT_EQ(r.get_string("str"), "h\xc3\xa9llo");
    ASSERT_EQ(r.tensors().size(), kTensorSpecs.size());
    for (size_t k = 0; k < datas.size(); ++k) {
        const GgufTensor& t = r.tensors()[k];
        EXPECT_EQ(std::memcmp(t.data, datas[k].data(), datas[k].size()), 0) << t.name;
        EXPECT_EQ(std::memcmp(t.data, on_disk.data() + t.offset, t.size), 0) << t.name;
    }
}

TEST_F(TempDir, OpenErrorsNameThePath) {
    const std::string missing = (dir / "missing.gguf").string();
    EXPECT_NE(error_of([&] { GgufReader::open(missing); }).find(missing + ": cannot open"), std::string::npos);
    EXPECT_NE(error_of([&] { GgufReader::open(dir.string()); }).find("not a regular file"), std::string::npos);

    const std::string empty = (dir / "empty.gguf").string();
    std::ofstream(empty).close();
    EXPECT_NE(error_of([&] { GgufReader::open(empty); }).find(empty + ": offset 0: magic: truncated"), std::string::npos);

    const std::string bad = (dir / "bad.gguf").string();
    CorruptCase c;
    for (const auto& k : corrupt_cases())
        if (k.name == "version_1") c = k;
    std::ofstream(bad, std::ios::binary).write(reinterpret_cast<const char*>(c.bytes.data()), std::streamsize(c.bytes.size()));
    const std::string msg = error_of([&] { GgufReader::open(bad); });
    EXPECT_NE(msg.find(bad + ": offset " + std::to_string(c.offset) + ": "), std::string::npos) << msg;
}

TEST_F(TempDir, WriteFailureThrows) {
    GgufWriter w;
    const std::string path = (dir / "no_such_dir" / "x.gguf").string();
    EXPECT_NE(error_of([&] { w.write(path); }).find(path + ": cannot create"), std::string::npos);
}

// ------------------------------------------------------------------- writer

TEST(GgufWriter, RejectsInconsistentTensorsAndAlignments) {
    GgufWriter w;
    EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {4}, std::vector<uint8_t>(15)), Error);
    EXPECT_THROW(w.add_tensor("t", GgmlType::Q4_K, {100}, {}), Error);
    EXPECT_THROW(w.add_tensor("t", GgmlType::F32, {}, {}), Error);
    EXPECT_THROW(w.set_alignment(0), Error);
    EXPECT_THROW(w.set_alignment(48), Error);
}

TEST(GgufWriter, RawTensorIsWrittenAsGiven) {
    GgufWriter w;
    w.add_raw_tensor({"raw", 77, {3, 5}, uint64_t(96), {1, 2, 3}});
    const auto bytes = w.to_bytes();
    // header 24 + name 8+3 + n_dims 4 + dims 16 + type 4 + offset 8 = 67, padded to 96.
    test::RawGguf want;
    want.header(1, 0).tensor_info("raw", {3, 5}, 77, 96).pad_to(32).zeros(96).u8(1).u8(2).u8(3).pad_to(32);
    EXPECT_EQ(bytes, want.b);
}

// ------------------------------------------------------- corrupt-file table

class Corrupt : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(Corrupt, FailsWithItsErrorAtItsOffset) {
    const CorruptCase& c = GetParam();
    std::string msg;
    try {
        GgufReader::from_memory(c.bytes, "c.gguf");
        FAIL() << "no error for " << c.name;
    } catch (const Error& e) {
        msg = e.what();
    }
    const std::string where = "c.gguf: offset " + std::to_string(c.offset) + ": ";
    EXPECT_EQ(msg.rfind(where, 0), 0u) << "message: " << msg << "\nexpected prefix: " << where;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "message: " << msg << "\nexpected: " << c.expect;
}

INSTANTIATE_TEST_SUITE_P(Table, Corrupt, ::testing::ValuesIn(corrupt_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(GgufReader, EveryProperPrefixIsRejected) {
    const auto bytes = test::small_valid_file();
    ASSERT_NO_THROW(GgufReader::from_memory(bytes));
    for (size_t n = 0; n < bytes.size(); ++n) {
        // A copy of exactly n bytes, so ASan catches any read past the end.
        const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
        const std::string msg = error_of([&] { GgufReader::from_memory(prefix, "p.gguf"); });
        EXPECT_NE(msg.rfind("p.gguf: offset ", 0), std::string::npos) << "prefix of " << n << " bytes: '" << msg << "'";
    }
}

TEST(GgufReader, TooManyMetadataValuesFailBeforeAllocating) {
    // An array of 2^22 + 1 UINT8 fits in the bytes but passes the value cap.
    test::RawGguf r;
    r.header(0, 1).str("a").u32(9).u32(0).u64(gguf::kMaxMetadataValues + 1).zeros(gguf::kMaxMetadataValues + 1);
    const std::string msg = error_of([&] { GgufReader::from_memory(r.b, "big.gguf"); });
    EXPECT_NE(msg.find("big.gguf: offset 41: metadata 'a': array count 4194305 would take the metadata past"),
              std::string::npos)
        << msg;
}

TEST(GgufReader, CountsBeyondQlmsLimitsFailBeforeAllocating) {
    // Counts the bytes could hold, but past the caps on what the reader allocates.
    test::RawGguf kvs;
    kvs.header(0, gguf::kMaxKvs + 1).zeros((gguf::kMaxKvs + 1) * gguf::kMinKvBytes);
    EXPECT_NE(error_of([&] { GgufReader::from_memory(kvs.b, "k.gguf"); })
                  .find("k.gguf: offset 16: metadata count 65537 exceeds qlm's limit of 65536"),
              std::string::npos);
    test::RawGguf tensors;
    tensors.header(gguf::kMaxTensors + 1, 0).zeros((gguf::kMaxTensors + 1) * gguf::kMinTensorInfoBytes);
    EXPECT_NE(error_of([&] { GgufReader::from_memory(tensors.b, "t.gguf"); })
                  .find("t.gguf: offset 8: tensor count 1048577 exceeds qlm's limit of 1048576"),
              std::string::npos);
}

TEST(GgufReader, FileWithoutTensorsMayOmitTheFinalPadding) {
    test::RawGguf r;
    r.header(0, 1).kv_u32("k", 1);  // 41 bytes, not padded to 64
    const auto reader = GgufReader::from_memory(r.b);
    EXPECT_EQ(reader.get_u64("k"), 1u);
    EXPECT_EQ(reader.data_offset(), 64u);
}

// Random byte flips over valid files: each mutant either parses (and every
// view stays inside the buffer) or throws qlm::Error; nothing else.
TEST(GgufReader, RandomByteFlipsNeverCrash) {
    std::mt19937 rng(1234);
    int parsed = 0, rejected = 0;
    for (const auto& sample : test::valid_samples()) {
        for (int iter = 0; iter < 1500; ++iter) {
            std::vector<uint8_t> m = sample.bytes;
            if (m.empty()) continue;
            const int flips = 1 + int(rng() % 4);
            for (int k = 0; k < flips; ++k) {
                // Bias toward the header and metadata, where the structure is.
                const size_t limit = std::min<size_t>(m.size(), rng() % 2 ? 256 : m.size());
                const size_t at = rng() % limit;
                switch (rng() % 3) {
                    case 0: m[at] ^= uint8_t(1u << (rng() % 8)); break;
                    case 1: m[at] = uint8_t(rng()); break;
                    default: m[at] = (rng() % 2) ? 0xFF : 0x00; break;
                }
            }
            if (rng() % 8 == 0) m.resize(rng() % m.size());
            try {
                const auto r = GgufReader::from_memory(m, "flip.gguf");
                touch_all(r);
                for (const auto& t : r.tensors()) {
                    ASSERT_GE(t.data, m.data());
                    ASSERT_LE(t.offset + t.size, m.size());
                }
                ++parsed;
            } catch (const Error& e) {
                ASSERT_EQ(std::string(e.what()).rfind("flip.gguf: offset ", 0), 0u) << e.what();
                ++rejected;
            }
        }
    }
    EXPECT_GT(rejected, 0);
    EXPECT_GT(parsed, 0);  // flips inside tensor data leave the file valid
}

}  // namespace
}  // namespace qlm

namespace qlm {
namespace {

// A legal file aligned to 1 byte: the reader maps it, but a weight whose
// blocks do not sit at their natural alignment is refused by name (the
// kernels read blocks as structs with fp16/f32 fields).
TEST(GgufAlignment, MisalignedWeightsAreRefusedByName) {
    GgufWriter w;
    w.set_alignment(1);
    w.add("general.name", GgufValue::of_string("odd"));
    // 17-byte MXFP4 rows shift what follows by an odd number of bytes: one of
    // the two Q4_0 tensors starts at an odd address.
    std::vector<uint8_t> pad(row_size(GgmlType::MXFP4, 32), 0), q(row_size(GgmlType::Q4_0, 64) * 2, 0);
    w.add_tensor("pad1", GgmlType::MXFP4, {32}, pad);
    w.add_tensor("w1", GgmlType::Q4_0, {64, 2}, q);
    w.add_tensor("pad2", GgmlType::MXFP4, {32}, pad);
    w.add_tensor("w2", GgmlType::Q4_0, {64, 2}, q);
    const auto bytes = w.to_bytes();
    const auto r = GgufReader::from_memory(bytes, "odd.gguf");
    int refused = 0;
    for (const char* name : {"w1", "w2"}) {
        const GgufTensor& t = r.tensor(name);
        if (reinterpret_cast<uintptr_t>(t.data) % 2 == 0) {
            EXPECT_NO_THROW(weight_view(t));
            continue;
        }
        ++refused;
        try {
            weight_view(t);
            ADD_FAILURE() << name << ": no error";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("tensor '") + name + "': Q4_0 data at file offset"),
                      std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("is not aligned to 2 bytes"), std::string::npos) << e.what();
        }
    }
    EXPECT_EQ(refused, 1);
}

}  // namespace
}  // namespace qlm
