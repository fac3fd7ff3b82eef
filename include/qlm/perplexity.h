// Perplexity and KL-divergence of a model over a text, as llama.cpp's
// llama-perplexity measures them (so the numbers are comparable):
//
//   - the text is tokenized once with BOS (add_special, no special-token
//     parsing), cut into chunks of n_ctx tokens; the first token of every
//     chunk is replaced by BOS when the vocabulary adds one; each chunk is a
//     fresh sequence, and only the second half is scored: the logits at
//     positions n_ctx/2 .. n_ctx-2 predict tokens n_ctx/2+1 .. n_ctx-1
//     (n_ctx - 1 - n_ctx/2 scored tokens per chunk);
//   - PPL = exp(mean NLL), its error ppl · sqrt(var(NLL) / (n - 1)) with the
//     population variance (llama-perplexity's "Final estimate").
//
// KL-divergence mode compares a model against a base's saved log-probs. The
// base file (format below) keeps, per scored position, the base's top-K
// log-probs and the log of the mass of every other token, so its size does not
// grow with the vocabulary. KLD(base || model) is computed over that partition
// (the K tokens plus one "rest" bucket): merging outcomes never increases KL,
// so it is a lower bound of the full-vocabulary KLD, equal to it when K covers
// the vocabulary (K = n_vocab).
//
// Base file, version 1 (little-endian, no padding):
//   offset  size
//   0       8    magic "QLMKLD01"
//   8       4    u32 version = 1
//   12      4    u32 n_ctx
//   16      4    u32 n_vocab
//   20      4    u32 n_chunks
//   24      4    u32 top_k               (1 .. n_vocab)
//   28      4    u32 n_scored            (n_ctx - 1 - n_ctx/2, per chunk)
//   32      8    u64 text_bytes
//   40      8    u64 text_hash           (FNV-1a 64 of the text, after the trailing-newline strip)
//   48      8    u64 tokenizer_hash      (tokenizer_fingerprint)
//   56      8    u64 tokens_hash         (FNV-1a 64 of the token ids below, as little-endian i32)
//   64      128  model file name of the base (NUL-padded, informational)
//   192     4·n_chunks·n_ctx             i32 token ids (as tokenized, before the BOS substitution)
//   then n_chunks · n_scored rows of 8 + 8·top_k bytes:
//           f32 logp_next  (the base's log-prob of the token that follows)
//           f32 logp_rest  (log of the mass outside the top K; -inf when none)
//           i32 ids[top_k]  f32 logp[top_k]  (descending log-prob; ties by id)
// Size: 192 + 4·n_chunks·n_ctx + n_chunks·n_scored·(8 + 8·top_k) bytes; with
// the default K = 1024 that is 2.0 MiB per 512-token chunk, whatever the vocabulary.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qlm {

class Context;
class Model;
class Tokenizer;

namespace ppl {

// ---------------------------------------------------------------- log-softmax

// One row of logits: its maximum (first index on ties) and log-sum-exp,
// lse = max + log(sum_i exp(x_i - max)): float exp terms (x_i - max rounded to
// float, exp within an ulp) summed in double, so good to ~1e-6 absolute.
struct RowStats {
    float max = 0;
    int32_t argmax = 0;
    double lse = 0;
};
RowStats row_stats(const float* logits, int64_t n);
// The same with the backend's vectorized exp and sum (ops.h exp_sum) on the
// calling thread; scratch holds n floats (a copy of the row is exponentiated
// there). The log-sum-exp agrees with the one above to ~1e-6 absolute.
RowStats row_stats(const Context& ctx, const float* logits, int64_t n, float* scratch);
inline double log_prob(const float* logits, const RowStats& s, int32_t tok) { return double(logits[tok]) - s.lse; }

// ---------------------------------------------------------------- statistics

struct MeanErr {
    double mean = 0, err = 0;
};
// Mean and standard error of the mean from sum, sum of squares and count:
// err = sqrt((sum2/n - mean^2) / (n - 1)) (0 when n <= 1 or the variance is not positive).
MeanErr mean_and_error(double sum, double sum2, uint64_t count);

// Running perplexity over negative log-likelihoods.
struct PplAccumulator {
    double nll = 0, nll2 = 0;
    uint64_t count = 0;
    void add(double v) {
        nll += v;
        nll2 += v * v;
        ++count;
    }
    double ppl() const;
    double ppl_err() const;  // ppl · standard error of the mean NLL
};

// Linear interpolation between the closest ranks of sorted values
// (numpy's default): fraction 0 → first, 1 → last. Empty: 0.
double percentile(std::span<const double> sorted, double fraction);

// ---------------------------------------------------------------- top-K rows

// The base's view of one scored position.
struct BaseRow {
    float logp_next = 0;
    float logp_rest = 0;         // -inf when the top K are the whole vocabulary
    std::vector<int32_t> ids;    // top_k, descending log-prob
    std::vector<float> logp;
};
// Fills row from one row of logits: the K most probable tokens (descending,
// ties by lower id), their log-probs, the log of the remaining mass (log1p of
// minus the top-K mass, in double) and the log-prob of `next`.
void make_base_row(const float* logits, int64_t n, const RowStats& s, int top_k, int32_t next, BaseRow& row);

// One position of KL-divergence mode.
struct KlPosition {
    double kld = 0;      // KL(base || model) over the base's top K + rest
    double nll = 0;      // model's -log p(next)
    double nll_base = 0; // base's -log p(next)
    double p_diff = 0;   // p_model(next) - p_base(next)
    bool same_top = false;  // model's argmax is the base's top token
};
KlPosition kl_position(const BaseRow& base, const float* logits, int64_t n, const RowStats& s, int32_t next);

// Everything llama-perplexity's KL report prints, from the positions seen.
struct KlSummary {
    uint64_t count = 0;
    MeanErr ppl, ppl_base, log_ppl_ratio, kld, p_diff, p_diff_rms, same_top;
    double ppl_ratio = 0, ppl_ratio_err = 0, ppl_diff = 0, ppl_diff_err = 0, log_ppl_cor = 0;
    double kld_max = 0, kld_p999 = 0, kld_p99 = 0, kld_p95 = 0, kld_p90 = 0, kld_median = 0, kld_p10 = 0,
           kld_p05 = 0, kld_p01 = 0, kld_min = 0;
    double p_diff_max = 0, p_diff_p99 = 0, p_diff_p95 = 0, p_diff_p90 = 0, p_diff_median = 0, p_diff_p10 = 0,
           p_diff_p05 = 0, p_diff_p01 = 0, p_diff_min = 0;
};
class KlAccumulator {
public:
    void add(const KlPosition& p);
    uint64_t count() const { return n_; }
    KlSummary summary() const;  // percentiles sort a copy

private:
    uint64_t n_ = 0, n_same_ = 0;
    double nll_ = 0, nll2_ = 0, base_ = 0, base2_ = 0, nll_base_ = 0, kld_ = 0, kld2_ = 0, dp_ = 0, dp2_ = 0, dp4_ = 0;
    std::vector<double> klds_, dps_;
};

// ---------------------------------------------------------------- hashes

uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ull);
// Identity of a vocabulary: FNV-1a over n_vocab and every token's text, score
// and control flag, the BOS/EOS ids and the add-BOS flag.
uint64_t tokenizer_fingerprint(const Tokenizer& tok);
uint64_t tokens_hash(std::span<const int32_t> tokens);

// ---------------------------------------------------------------- the chunking

// The text as llama-perplexity reads it: one trailing '\n' is dropped.
std::string_view strip_trailing_newline(std::string_view text);
// Tokens per chunk that are scored: n_ctx - 1 - n_ctx/2.
inline int64_t scored_per_chunk(int64_t n_ctx) { return n_ctx - 1 - n_ctx / 2; }

// ---------------------------------------------------------------- base file

struct KlBaseHeader {
    uint32_t n_ctx = 0, n_vocab = 0, n_chunks = 0, top_k = 0, n_scored = 0;
    uint64_t text_bytes = 0, text_hash = 0, tokenizer_hash = 0, tokens_hash = 0;
    std::string model;  // informational, at most 127 bytes kept
};
constexpr size_t kKlBaseHeaderBytes = 192;
uint64_t kl_base_file_size(const KlBaseHeader& h);  // throws if it overflows
uint64_t kl_base_row_bytes(uint32_t top_k);

class KlBaseWriter {
public:
    // Writes the header and the tokens (n_chunks · n_ctx of them); throws naming the path.
    KlBaseWriter(const std::string& path, const KlBaseHeader& h, std::span<const int32_t> tokens);
    ~KlBaseWriter();
    KlBaseWriter(const KlBaseWriter&) = delete;
    KlBaseWriter& operator=(const KlBaseWriter&) = delete;
    void write_row(const BaseRow& row);
    void close();  // checks that every row was written and the bytes reached the file

private:
    std::string path_;
    std::FILE* f_ = nullptr;
    KlBaseHeader h_;
    uint64_t rows_ = 0;
    std::vector<uint8_t> buf_;
};

class KlBaseReader {
public:
    // Opens and checks the magic, version, header fields against each other
    // and the file size against them; throws qlm::Error naming the path and field.
    explicit KlBaseReader(const std::string& path);
    ~KlBaseReader();
    KlBaseReader(const KlBaseReader&) = delete;
    KlBaseReader& operator=(const KlBaseReader&) = delete;
    const KlBaseHeader& header() const { return h_; }
    const std::vector<int32_t>& tokens() const { return tokens_; }
    // The next row, in file order (chunk by chunk); checks its values (ids in
    // range, finite non-positive log-probs, descending, total mass 1) and
    // throws naming chunk, position and field.
    void read_row(BaseRow& row);

private:
    std::string path_;
    std::FILE* f_ = nullptr;
    KlBaseHeader h_;
    std::vector<int32_t> tokens_;
    uint64_t rows_ = 0;
    std::vector<uint8_t> buf_;
};

// What the current run would write: refuses a base made from another
// vocabulary, tokenizer, text or context size with an error that says which.
void check_kl_base(const KlBaseHeader& base, const KlBaseHeader& now, const std::string& path);

// ---------------------------------------------------------------- the runner

// The whole measurement of `qlm perplexity` as a library: tokenizes the text,
// checks it against a KL base (if given), evaluates each chunk through a
// Session and scores its positions on the context's threads, writes a base
// file (save_logits) or accumulates KL statistics (base). The CLI keeps flags
// and printing.
struct RunOptions {
    int64_t n_ctx = 512, n_batch = 512;
    int64_t n_chunks = -1;        // -1: every chunk the text holds (and the base, if any)
    int top_k = -1;               // log-probs kept per position by save_logits (-1: min(1024, n_vocab))
    std::string save_logits;      // write a KL base file here
    std::string model_name;       // recorded in a saved base (informational), and in messages
    std::string text_name, kl_base_path;  // for messages
    int kv_type = 1;              // GgmlType id of the KV cache (1: F16)
};

struct RunInfo {
    size_t text_bytes = 0, n_tokens = 0;
    uint64_t text_hash = 0;
    double tokenize_s = 0;
    int64_t n_chunks = 0, n_ctx = 0, n_scored = 0, n_batch = 0;
    int top_k = 0, threads = 0;
    uint64_t base_file_bytes = 0;  // of a saved base
    int64_t chunks_lowered_from = 0;  // > 0: n_chunks asked for more than the base holds
};

struct ChunkProgress {
    int64_t chunk = 0, n_chunks = 0;  // chunk: 1-based, done
    const PplAccumulator* ppl = nullptr;
    const KlAccumulator* kl = nullptr;  // with a base
    double elapsed_s = 0;
};

struct RunResult {
    RunInfo info;
    PplAccumulator acc;
    std::vector<double> chunk_ppl;  // the running estimate after each chunk
    bool has_kl = false;
    KlSummary kl;
    double eval_s = 0, score_s = 0, total_s = 0;
};

RunResult run(const Model& model, Context& ctx, const Tokenizer& tok, std::string_view text, const RunOptions& opts,
              KlBaseReader* base, const std::function<void(const RunInfo&)>& on_start = {},
              const std::function<void(const ChunkProgress&)>& on_chunk = {});

}  // namespace ppl
}  // namespace qlm
