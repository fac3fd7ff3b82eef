// Perplexity / KL-divergence math (qlm/perplexity.h) against hand-derived
// values and double-precision formulas, and the KL base file: round trip and
// a table of corrupt files, each expecting its own error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "qlm/error.h"
#include "qlm/ops.h"
#include "qlm/perplexity.h"

namespace {

using namespace qlm::ppl;

std::vector<float> random_logits(int n, uint32_t seed, float spread = 4.0f, float offset = 0.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, spread);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = d(rng) + offset;
    return x;
}

// Double-precision log-softmax, the independent formula.
std::vector<double> log_softmax_ref(const std::vector<float>& x) {
    double m = -INFINITY;
    for (float v : x) m = std::max(m, double(v));
    long double s = 0;
    for (float v : x) s += std::exp((long double)(double(v) - m));
    const double lse = m + double(std::log(s));
    std::vector<double> r;
    for (float v : x) r.push_back(double(v) - lse);
    return r;
}

std::string tmp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("qlm_ppl_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(Perplexity, LogSoftmaxHandValues) {
    // logits {0, ln 3}: p = {1/4, 3/4}.
    const float x[2] = {0.0f, float(std::log(3.0))};
    const RowStats s = row_stats(x, 2);
    EXPECT_EQ(s.argmax, 1);
    EXPECT_NEAR(log_prob(x, s, 0), std::log(0.25), 1e-6);
    EXPECT_NEAR(log_prob(x, s, 1), std::log(0.75), 1e-6);
    // Equal logits: uniform, argmax the first.
    const float u[4] = {2.5f, 2.5f, 2.5f, 2.5f};
    const RowStats su = row_stats(u, 4);
    EXPECT_EQ(su.argmax, 0);
    EXPECT_NEAR(log_prob(u, su, 3), -std::log(4.0), 1e-12);
}

// The vectorized row statistics (each instruction set this CPU runs, and the
// scalar kernel) against the long-double log-softmax: same max and argmax
// (first on ties), log-probabilities within 2e-6.
TEST(Perplexity, KernelRowStatsAgainstDouble) {
    for (const char* name : {"scalar", "avx2", "avx512", "neon"}) {
        const auto isa = qlm::isa_from_name(name);
        if (!isa || !qlm::isa_supported(*isa)) continue;
        qlm::ContextOptions co;
        co.isa = *isa;
        co.threads = 1;
        qlm::Context ctx(co);
        for (int n : {1, 7, 50001}) {
            for (float offset : {0.0f, 1000.0f, -3000.0f}) {
                auto x = random_logits(n, uint32_t(11 + n), 5.0f, offset);
                if (n > 8) x[size_t(n / 3)] = x[size_t(n / 2)] = 1e4f + offset;  // a tie for the maximum
                const auto ref = log_softmax_ref(x);
                std::vector<float> scratch(static_cast<size_t>(n));
                const RowStats s = row_stats(ctx, x.data(), n, scratch.data());
                const RowStats r = row_stats(x.data(), n);
                EXPECT_EQ(s.max, r.max) << name << " n " << n;
                EXPECT_EQ(s.argmax, r.argmax) << name << " n " << n;
                for (int i = 0; i < n; i += 97)
                    ASSERT_NEAR(log_prob(x.data(), s, i), ref[size_t(i)], 2e-6) << name << " n " << n << " i " << i;
            }
        }
    }
}

TEST(Perplexity, LogSoftmaxAgainstDouble) {
    for (float offset : {0.0f, 1000.0f, -3000.0f}) {
        const auto x = random_logits(50000, 7, 5.0f, offset);
        const auto ref = log_softmax_ref(x);
        const RowStats s = row_stats(x.data(), int64_t(x.size()));
        // Terms exp(x - max) in float: x - max rounds to half an ulp of |x - max| <= ~25
        // (1e-6), expf adds an ulp of relative error; the double sum adds none that matters.
        for (size_t i = 0; i < x.size(); i += 997) EXPECT_NEAR(log_prob(x.data(), s, int32_t(i)), ref[i], 2e-6);
        double total = 0;
        for (double v : ref) total += std::exp(v);
        EXPECT_NEAR(total, 1.0, 1e-12);
    }
}

TEST(Perplexity, MeanAndErrorHand) {
    // 1, 2, 3, 4: mean 2.5, population variance 1.25, error sqrt(1.25 / 3).
    const MeanErr r = mean_and_error(10, 30, 4);
    EXPECT_DOUBLE_EQ(r.mean, 2.5);
    EXPECT_NEAR(r.err, std::sqrt(1.25 / 3), 1e-15);
    EXPECT_EQ(mean_and_error(5, 25, 1).err, 0.0);
    EXPECT_EQ(mean_and_error(0, 0, 0).mean, 0.0);
}

TEST(Perplexity, PplAccumulatorIsLlamaPerplexitysEstimate) {
    // NLLs ln 2, ln 4, ln 8: mean 2 ln 2, PPL 4; population variance (2/3) ln²2.
    PplAccumulator a;
    for (double v : {std::log(2.0), std::log(4.0), std::log(8.0)}) a.add(v);
    EXPECT_NEAR(a.ppl(), 4.0, 1e-12);
    const double var = 2.0 / 3.0 * std::log(2.0) * std::log(2.0);
    EXPECT_NEAR(a.ppl_err(), 4.0 * std::sqrt(var / 2.0), 1e-12);
}

TEST(Perplexity, PercentileHand) {
    const std::vector<double> v = {1, 2, 3, 4, 5};
    EXPECT_DOUBLE_EQ(percentile(v, 0.0), 1);
    EXPECT_DOUBLE_EQ(percentile(v, 1.0), 5);
    EXPECT_DOUBLE_EQ(percentile(v, 0.5), 3);
    EXPECT_NEAR(percentile(v, 0.9), 4.6, 1e-12);   // rank 3.6
    EXPECT_NEAR(percentile(v, 0.95), 4.8, 1e-12);  // rank 3.8
    const std::vector<double> e = {1, 2, 3, 10};
    EXPECT_DOUBLE_EQ(percentile(e, 0.5), 2.5);  // the mean of the middle two
    EXPECT_NEAR(percentile(e, 0.99), 3 + 0.97 * 7, 1e-12);
    EXPECT_EQ(percentile(std::vector<double>{}, 0.5), 0.0);
}

TEST(Perplexity, BaseRowTopKAndRest) {
    const auto x = random_logits(3000, 11);
    const auto ref = log_softmax_ref(x);
    const RowStats s = row_stats(x.data(), 3000);
    BaseRow row;
    make_base_row(x.data(), 3000, s, 16, 42, row);
    ASSERT_EQ(row.ids.size(), 16u);
    std::vector<int32_t> order(3000);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[size_t(a)] > x[size_t(b)]; });
    double top = 0;
    for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(row.ids[size_t(i)], order[size_t(i)]);
        EXPECT_NEAR(row.logp[size_t(i)], ref[size_t(order[size_t(i)])], 1e-6);
        top += std::exp(ref[size_t(order[size_t(i)])]);
    }
    EXPECT_NEAR(row.logp_rest, std::log(1 - top), 1e-6);
    EXPECT_NEAR(row.logp_next, ref[42], 1e-6);
    // Ties go to the lower id; K = n leaves no rest.
    const float t[5] = {1, 3, 3, 0, 3};
    const RowStats st = row_stats(t, 5);
    make_base_row(t, 5, st, 2, 0, row);
    EXPECT_EQ(row.ids, (std::vector<int32_t>{1, 2}));
    make_base_row(t, 5, st, 5, 0, row);
    EXPECT_EQ(row.ids, (std::vector<int32_t>{1, 2, 4, 0, 3}));
    EXPECT_EQ(row.logp_rest, -std::numeric_limits<float>::infinity());
}

TEST(Perplexity, KlFullVocabularyEqualsDoubleFormula) {
    const int n = 5000;
    const auto xb = random_logits(n, 1), xq0 = random_logits(n, 2, 0.3f);
    std::vector<float> xq(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) xq[size_t(i)] = xb[size_t(i)] + xq0[size_t(i)];
    const auto lp = log_softmax_ref(xb), lq = log_softmax_ref(xq);
    double want = 0;
    for (int i = 0; i < n; ++i) want += std::exp(lp[size_t(i)]) * (lp[size_t(i)] - lq[size_t(i)]);
    BaseRow row;
    make_base_row(xb.data(), n, row_stats(xb.data(), n), n, 7, row);
    const RowStats sq = row_stats(xq.data(), n);
    const KlPosition k = kl_position(row, xq.data(), n, sq, 7);
    EXPECT_NEAR(k.kld, want, 5e-6);  // the two rows' log-sum-exps, each good to ~2e-6
    EXPECT_NEAR(k.nll, -lq[7], 2e-6);
    EXPECT_NEAR(k.nll_base, -lp[7], 1e-6);
    EXPECT_NEAR(k.p_diff, std::exp(lq[7]) - std::exp(lp[7]), 1e-6);

    // Top K + rest: the KL of the coarsened distributions, never above the full one.
    make_base_row(xb.data(), n, row_stats(xb.data(), n), 32, 7, row);
    const KlPosition kc = kl_position(row, xq.data(), n, sq, 7);
    double p_top = 0, q_top = 0, coarse = 0;
    for (int i = 0; i < 32; ++i) {
        const int32_t id = row.ids[size_t(i)];
        coarse += std::exp(lp[size_t(id)]) * (lp[size_t(id)] - lq[size_t(id)]);
        p_top += std::exp(lp[size_t(id)]);
        q_top += std::exp(lq[size_t(id)]);
    }
    coarse += (1 - p_top) * std::log((1 - p_top) / (1 - q_top));
    EXPECT_NEAR(kc.kld, coarse, 5e-6);
    EXPECT_LE(kc.kld, want + 1e-5);
    EXPECT_GT(kc.kld, 0.0);
}

TEST(Perplexity, KlOfAModelAgainstItselfIsZero) {
    const auto x = random_logits(1000, 3);
    const RowStats s = row_stats(x.data(), 1000);
    BaseRow row;
    make_base_row(x.data(), 1000, s, 8, 5, row);
    const KlPosition k = kl_position(row, x.data(), 1000, s, 5);
    EXPECT_NEAR(k.kld, 0.0, 1e-6);
    EXPECT_TRUE(k.same_top);
    EXPECT_NEAR(k.p_diff, 0.0, 1e-7);
}

TEST(Perplexity, KlSummaryHand) {
    KlAccumulator acc;
    // Four positions: KLD 0, 0.1, 0.2, 0.3; p_diff -0.1, 0, 0.1, 0.2; top agrees 3 of 4.
    const double kld[4] = {0.0, 0.1, 0.2, 0.3}, dp[4] = {-0.1, 0.0, 0.1, 0.2};
    for (int i = 0; i < 4; ++i) {
        KlPosition p;
        p.kld = kld[i];
        p.p_diff = dp[i];
        p.nll = std::log(2.0) * (i + 1);
        p.nll_base = std::log(2.0) * (i + 1);
        p.same_top = i != 2;
        acc.add(p);
    }
    const KlSummary s = acc.summary();
    EXPECT_EQ(s.count, 4u);
    EXPECT_NEAR(s.kld.mean, 0.15, 1e-15);
    EXPECT_NEAR(s.kld.err, std::sqrt(0.0125 / 3), 1e-12);  // population variance 0.0125
    EXPECT_NEAR(s.kld_median, 0.15, 1e-15);
    EXPECT_NEAR(s.kld_p99, 0.3 - 0.03 * 0.1, 1e-12);  // rank 2.97
    EXPECT_NEAR(s.kld_p90, 0.27, 1e-12);
    EXPECT_DOUBLE_EQ(s.kld_max, 0.3);
    EXPECT_NEAR(s.p_diff.mean, 0.05, 1e-15);
    EXPECT_NEAR(s.p_diff_rms.mean, std::sqrt(0.06 / 4), 1e-15);
    EXPECT_NEAR(s.same_top.mean, 0.75, 1e-15);
    EXPECT_NEAR(s.same_top.err, std::sqrt(0.75 * 0.25 / 3), 1e-15);
    EXPECT_NEAR(s.ppl.mean, s.ppl_base.mean, 1e-12);  // identical NLLs
    EXPECT_NEAR(s.ppl_ratio, 1.0, 1e-12);
    EXPECT_NEAR(s.log_ppl_cor, 1.0, 1e-9);
    EXPECT_NEAR(s.log_ppl_ratio.err, 0.0, 1e-6);
}

TEST(Perplexity, HashesAndText) {
    EXPECT_EQ(fnv1a64("", 0), 0xcbf29ce484222325ull);
    EXPECT_EQ(fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);  // the published FNV-1a 64 test vector
    EXPECT_EQ(strip_trailing_newline("ab\n"), "ab");
    EXPECT_EQ(strip_trailing_newline("ab\n\n"), "ab\n");
    EXPECT_EQ(strip_trailing_newline("ab\r\n"), "ab\r");
    EXPECT_EQ(scored_per_chunk(512), 255);
    EXPECT_EQ(scored_per_chunk(7), 3);
}

// ---------------------------------------------------------------- base file

struct BaseFixture {
    KlBaseHeader h;
    std::vector<int32_t> tokens;
    std::vector<BaseRow> rows;
};

BaseFixture make_base(uint32_t n_vocab = 300, uint32_t top_k = 8) {
    BaseFixture f;
    f.h.n_ctx = 8;
    f.h.n_vocab = n_vocab;
    f.h.n_chunks = 2;
    f.h.top_k = top_k;
    f.h.n_scored = uint32_t(scored_per_chunk(8));
    f.h.text_bytes = 1234;
    f.h.text_hash = 99;
    f.h.tokenizer_hash = 77;
    f.h.model = "base-model.gguf";
    for (uint32_t i = 0; i < f.h.n_ctx * f.h.n_chunks; ++i) f.tokens.push_back(int32_t((i * 37) % n_vocab));
    f.h.tokens_hash = tokens_hash(f.tokens);
    for (uint32_t r = 0; r < f.h.n_chunks * f.h.n_scored; ++r) {
        const auto x = random_logits(int(n_vocab), 100 + r);
        BaseRow row;
        make_base_row(x.data(), n_vocab, row_stats(x.data(), n_vocab), int(top_k), int32_t(r), row);
        f.rows.push_back(row);
    }
    return f;
}

void write_base(const std::string& path, const BaseFixture& f) {
    KlBaseWriter w(path, f.h, f.tokens);
    for (const auto& r : f.rows) w.write_row(r);
    w.close();
}

std::vector<uint8_t> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}
void spit(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const qlm::Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(PerplexityBaseFile, RoundTrip) {
    const auto f = make_base();
    const std::string path = tmp_path("roundtrip.kld");
    write_base(path, f);
    EXPECT_EQ(std::filesystem::file_size(path), kl_base_file_size(f.h));
    EXPECT_EQ(kl_base_file_size(f.h), 192u + 4 * 16 + 2 * 3 * (8 + 8 * 8));
    KlBaseReader r(path);
    EXPECT_EQ(r.header().n_ctx, 8u);
    EXPECT_EQ(r.header().model, "base-model.gguf");
    EXPECT_EQ(r.header().text_hash, 99u);
    EXPECT_EQ(r.tokens(), f.tokens);
    BaseRow row;
    for (const auto& want : f.rows) {
        r.read_row(row);
        EXPECT_EQ(row.ids, want.ids);
        EXPECT_EQ(row.logp, want.logp);
        EXPECT_EQ(row.logp_rest, want.logp_rest);
        EXPECT_EQ(row.logp_next, want.logp_next);
    }
    EXPECT_NE(error_of([&] { r.read_row(row); }).find("read past the last"), std::string::npos);
    std::filesystem::remove(path);
}

TEST(PerplexityBaseFile, CorruptFilesAreRefusedWithTheirReason) {
    const auto f = make_base();
    const std::string good = tmp_path("good.kld"), bad = tmp_path("bad.kld");
    write_base(good, f);
    const auto bytes = slurp(good);
    const size_t rows_at = 192 + 4 * 16;
    struct Case {
        const char* name;
        std::function<void(std::vector<uint8_t>&)> edit;
        const char* expect;
        bool on_rows = false;
    };
    auto put_u32 = [](std::vector<uint8_t>& b, size_t off, uint32_t v) { std::memcpy(b.data() + off, &v, 4); };
    auto put_f32 = [](std::vector<uint8_t>& b, size_t off, float v) { std::memcpy(b.data() + off, &v, 4); };
    const std::vector<Case> cases = {
        {"empty", [](auto& b) { b.clear(); }, "too short for the 192-byte header"},
        {"llama.cpp file", [](auto& b) { std::memcpy(b.data(), "_logits_", 8); }, "a llama.cpp logits file"},
        {"magic", [](auto& b) { b[0] = 'X'; }, "magic is not"},
        {"version", [&](auto& b) { put_u32(b, 8, 2); }, "version 2"},
        {"n_ctx", [&](auto& b) { put_u32(b, 12, 2); }, "n_ctx 2"},
        {"n_vocab", [&](auto& b) { put_u32(b, 16, 0); }, "n_vocab 0"},
        {"chunks", [&](auto& b) { put_u32(b, 20, 0); }, "n_chunks is 0"},
        {"top_k", [&](auto& b) { put_u32(b, 24, 301); }, "top_k 301"},
        {"n_scored", [&](auto& b) { put_u32(b, 28, 4); }, "n_scored 4"},
        {"huge", [&](auto& b) { put_u32(b, 20, 0xffffffffu); put_u32(b, 24, 300); }, "truncated or corrupt"},
        {"truncated", [](auto& b) { b.resize(b.size() - 1); }, "truncated or corrupt"},
        {"appended", [](auto& b) { b.push_back(0); }, "truncated or corrupt"},
        {"token", [&](auto& b) { put_u32(b, 192 + 8, 300); }, "token 2 is 300, outside the vocabulary"},
        {"token hash", [&](auto& b) { put_u32(b, 192 + 8, 5); }, "do not match their hash"},
        {"logp_next", [&](auto& b) { put_f32(b, rows_at, NAN); }, "logp_next", true},
        {"logp_rest", [&](auto& b) { put_f32(b, rows_at + 4, 0.5f); }, "logp_rest", true},
        {"id", [&](auto& b) { put_u32(b, rows_at + 8, 1000); }, "token id 1000 outside", true},
        {"order", [&](auto& b) { put_f32(b, rows_at + 8 + 32 + 4, -1e-4f); }, "not descending at entry 1", true},
        {"mass", [&](auto& b) { put_f32(b, rows_at + 4, -0.01f); }, "sum to", true},
    };
    for (const auto& c : cases) {
        auto b = bytes;
        c.edit(b);
        spit(bad, b);
        const std::string err = error_of([&] {
            KlBaseReader r(bad);
            BaseRow row;
            for (size_t i = 0; i < f.rows.size(); ++i) r.read_row(row);
        });
        EXPECT_NE(err.find(c.expect), std::string::npos) << c.name << ": " << err;
        EXPECT_NE(err.find(bad), std::string::npos) << c.name << ": the error names the file: " << err;
        if (c.on_rows) {
            EXPECT_NE(err.find("chunk 1, scored position 0"), std::string::npos) << c.name << ": " << err;
        }
    }
    EXPECT_NE(error_of([] { KlBaseReader r("/nonexistent/base.kld"); }).find("cannot open"), std::string::npos);
    std::filesystem::remove(good);
    std::filesystem::remove(bad);
}

TEST(PerplexityBaseFile, MismatchedRunsAreRefused) {
    const auto f = make_base();
    auto other = f.h;
    EXPECT_EQ(error_of([&] { check_kl_base(f.h, other, "b.kld"); }), "(no error)");
    other = f.h;
    other.n_vocab = 301;
    EXPECT_NE(error_of([&] { check_kl_base(f.h, other, "b.kld"); }).find("vocabulary of 300 tokens"), std::string::npos);
    other = f.h;
    other.tokenizer_hash = 1;
    EXPECT_NE(error_of([&] { check_kl_base(f.h, other, "b.kld"); }).find("another tokenizer"), std::string::npos);
    other = f.h;
    other.text_hash = 1;
    EXPECT_NE(error_of([&] { check_kl_base(f.h, other, "b.kld"); }).find("another text"), std::string::npos);
    other = f.h;
    other.n_ctx = 16;
    EXPECT_NE(error_of([&] { check_kl_base(f.h, other, "b.kld"); }).find("(-c 8)"), std::string::npos);
    other = f.h;
    other.tokens_hash = 1;
    EXPECT_NE(error_of([&] { check_kl_base(f.h, other, "b.kld"); }).find("other token ids"), std::string::npos);
}

TEST(PerplexityBaseFile, WriterChecksItsRows) {
    auto f = make_base();
    const std::string path = tmp_path("short.kld");
    {
        KlBaseWriter w(path, f.h, f.tokens);
        w.write_row(f.rows[0]);
        EXPECT_NE(error_of([&] { w.close(); }).find("1 rows written, the header promises 6"), std::string::npos);
    }
    f.tokens.pop_back();
    EXPECT_NE(error_of([&] { KlBaseWriter w(path, f.h, f.tokens); }).find("15 tokens for 2 chunks"),
              std::string::npos);
    EXPECT_NE(error_of([&] { KlBaseWriter w("/nonexistent/dir/x.kld", make_base().h, make_base().tokens); })
                  .find("cannot open for writing"),
              std::string::npos);
    std::filesystem::remove(path);
}

}  // namespace
