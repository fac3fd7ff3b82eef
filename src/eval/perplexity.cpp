// Perplexity / KL-divergence math and the KL base file (see qlm/perplexity.h).
#include "qlm/perplexity.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "qlm/error.h"
#include "qlm/ops.h"
#include "qlm/tokenizer.h"

namespace qlm::ppl {

static_assert(std::endian::native == std::endian::little, "the KL base file is little-endian");

RowStats row_stats(const float* logits, int64_t n) {
    RowStats s;
    s.max = logits[0];
    for (int64_t i = 1; i < n; ++i)
        if (logits[i] > s.max) {
            s.max = logits[i];
            s.argmax = int32_t(i);
        }
    // Float exp (as llama-perplexity: ~3x cheaper than double exp, which made
    // scoring a fifth of the run on Gemma's 262,144 logits), summed in double:
    // the log-sum-exp is good to ~1e-6 absolute.
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(std::exp(logits[i] - s.max));
    s.lse = double(s.max) + std::log(sum);
    return s;
}

RowStats row_stats(const Context& ctx, const float* logits, int64_t n, float* scratch) {
    RowStats s;
    std::memcpy(scratch, logits, size_t(n) * sizeof(float));
    const double sum = exp_sum(ctx, scratch, n, &s.max);
    const float* at = std::find(logits, logits + n, s.max);  // the first on ties, as above
    s.argmax = at == logits + n ? 0 : int32_t(at - logits);
    s.lse = double(s.max) + std::log(sum);
    return s;
}

MeanErr mean_and_error(double sum, double sum2, uint64_t count) {
    MeanErr r;
    if (count == 0) return r;
    r.mean = sum / double(count);
    const double var = sum2 / double(count) - r.mean * r.mean;
    r.err = count > 1 && var > 0 ? std::sqrt(var / double(count - 1)) : 0.0;
    return r;
}

double PplAccumulator::ppl() const { return count ? std::exp(nll / double(count)) : 0.0; }
double PplAccumulator::ppl_err() const { return ppl() * mean_and_error(nll, nll2, count).err; }

double percentile(std::span<const double> v, double fraction) {
    if (v.empty()) return 0;
    if (fraction <= 0) return v.front();
    if (fraction >= 1) return v.back();
    const double p = fraction * double(v.size() - 1);
    const size_t i = size_t(p);
    const double f = p - double(i);
    const size_t j = std::min(i + 1, v.size() - 1);
    return (1 - f) * v[i] + f * v[j];
}

void make_base_row(const float* logits, int64_t n, const RowStats& s, int top_k, int32_t next, BaseRow& row) {
    const int k = int(std::min<int64_t>(top_k, n));
    // Min-heap of the best k (logit, id); ids are scanned in ascending order,
    // so an equal logit never displaces an earlier (lower) id.
    struct Item {
        float x;
        int32_t id;
    };
    auto worse = [](const Item& a, const Item& b) { return a.x > b.x || (a.x == b.x && a.id < b.id); };
    std::vector<Item> heap;
    heap.reserve(size_t(k));
    for (int64_t i = 0; i < n; ++i) {
        const float x = logits[i];
        if (int(heap.size()) < k) {
            heap.push_back({x, int32_t(i)});
            std::push_heap(heap.begin(), heap.end(), worse);
        } else if (x > heap.front().x) {
            std::pop_heap(heap.begin(), heap.end(), worse);
            heap.back() = {x, int32_t(i)};
            std::push_heap(heap.begin(), heap.end(), worse);
        }
    }
    std::sort_heap(heap.begin(), heap.end(), worse);  // best first
    row.ids.resize(size_t(k));
    row.logp.resize(size_t(k));
    const double m = s.max;
    const double total = std::exp(s.lse - m);  // sum of exp(x - max)
    double top = 0;
    for (int i = 0; i < k; ++i) {
        row.ids[size_t(i)] = heap[size_t(i)].id;
        row.logp[size_t(i)] = float(double(heap[size_t(i)].x) - s.lse);
        top += std::exp(double(heap[size_t(i)].x) - m);
    }
    const double rest = total - top;
    row.logp_rest = k >= n || rest <= 0 ? -std::numeric_limits<float>::infinity()
                                        : float(std::log(rest) - std::log(total));
    row.logp_next = float(log_prob(logits, s, next));
}

KlPosition kl_position(const BaseRow& base, const float* logits, int64_t n, const RowStats& s, int32_t next) {
    (void)n;
    KlPosition r;
    double kld = 0, q_top = 0;
    for (size_t i = 0; i < base.ids.size(); ++i) {
        const double lp = base.logp[i];
        const double lq = log_prob(logits, s, base.ids[i]);
        q_top += std::exp(lq);
        kld += std::exp(lp) * (lp - lq);
    }
    if (std::isfinite(base.logp_rest)) {
        const double lp = base.logp_rest;
        const double q_rest = std::max(1.0 - q_top, std::numeric_limits<double>::min());
        kld += std::exp(lp) * (lp - std::log(q_rest));
    }
    r.kld = kld;
    r.nll = -log_prob(logits, s, next);
    r.nll_base = -double(base.logp_next);
    r.p_diff = std::exp(-r.nll) - std::exp(-r.nll_base);
    r.same_top = !base.ids.empty() && s.argmax == base.ids[0];
    return r;
}

void KlAccumulator::add(const KlPosition& p) {
    ++n_;
    n_same_ += p.same_top ? 1 : 0;
    nll_ += p.nll;
    nll2_ += p.nll * p.nll;
    base_ += p.nll_base;
    base2_ += p.nll_base * p.nll_base;
    nll_base_ += p.nll * p.nll_base;
    kld_ += p.kld;
    kld2_ += p.kld * p.kld;
    const double d2 = p.p_diff * p.p_diff;
    dp_ += p.p_diff;
    dp2_ += d2;
    dp4_ += d2 * d2;
    klds_.push_back(p.kld);
    dps_.push_back(p.p_diff);
}

KlSummary KlAccumulator::summary() const {
    KlSummary r;
    r.count = n_;
    if (n_ == 0) return r;
    const double n = double(n_);
    const MeanErr lq = mean_and_error(nll_, nll2_, n_), lb = mean_and_error(base_, base2_, n_);
    const double cov = n_ > 1 ? (nll_base_ / n - lq.mean * lb.mean) / (n - 1) : 0.0;
    r.ppl = {std::exp(lq.mean), std::exp(lq.mean) * lq.err};
    r.ppl_base = {std::exp(lb.mean), std::exp(lb.mean) * lb.err};
    r.log_ppl_cor = lq.err > 0 && lb.err > 0 ? cov / (lq.err * lb.err) : 0.0;
    r.log_ppl_ratio = {lq.mean - lb.mean, std::sqrt(std::max(0.0, lq.err * lq.err + lb.err * lb.err - 2 * cov))};
    r.ppl_ratio = std::exp(r.log_ppl_ratio.mean);
    r.ppl_ratio_err = r.ppl_ratio * r.log_ppl_ratio.err;
    r.ppl_diff = r.ppl.mean - r.ppl_base.mean;
    r.ppl_diff_err = std::sqrt(std::max(0.0, r.ppl.err * r.ppl.err + r.ppl_base.err * r.ppl_base.err -
                                                 2 * r.ppl.mean * r.ppl_base.mean * cov));
    r.kld = mean_and_error(kld_, kld2_, n_);
    r.p_diff = mean_and_error(dp_, dp2_, n_);
    const MeanErr mse = mean_and_error(dp2_, dp4_, n_);
    const double rms = std::sqrt(mse.mean);
    r.p_diff_rms = {rms, rms > 0 ? 0.5 / rms * mse.err : 0.0};
    const double same = double(n_same_) / n;
    r.same_top = {same, n_ > 1 ? std::sqrt(same * (1 - same) / (n - 1)) : 0.0};

    std::vector<double> k = klds_, d = dps_;
    std::sort(k.begin(), k.end());
    std::sort(d.begin(), d.end());
    r.kld_max = k.back();
    r.kld_p999 = percentile(k, 0.999);
    r.kld_p99 = percentile(k, 0.99);
    r.kld_p95 = percentile(k, 0.95);
    r.kld_p90 = percentile(k, 0.90);
    r.kld_median = percentile(k, 0.5);
    r.kld_p10 = percentile(k, 0.10);
    r.kld_p05 = percentile(k, 0.05);
    r.kld_p01 = percentile(k, 0.01);
    r.kld_min = k.front();
    r.p_diff_max = d.back();
    r.p_diff_p99 = percentile(d, 0.99);
    r.p_diff_p95 = percentile(d, 0.95);
    r.p_diff_p90 = percentile(d, 0.90);
    r.p_diff_median = percentile(d, 0.5);
    r.p_diff_p10 = percentile(d, 0.10);
    r.p_diff_p05 = percentile(d, 0.05);
    r.p_diff_p01 = percentile(d, 0.01);
    r.p_diff_min = d.front();
    return r;
}

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

namespace {
template <typename T>
uint64_t hash_value(uint64_t h, const T& v) {
    return fnv1a64(&v, sizeof v, h);
}
}  // namespace

uint64_t tokenizer_fingerprint(const Tokenizer& tok) {
    uint64_t h = fnv1a64(tok.model().data(), tok.model().size());
    h = fnv1a64(tok.pre().data(), tok.pre().size(), h);
    const int32_t n = tok.n_vocab();
    h = hash_value(h, n);
    for (int32_t i = 0; i < n; ++i) {
        const std::string& t = tok.token_text(i);
        h = hash_value(h, uint32_t(t.size()));
        h = fnv1a64(t.data(), t.size(), h);
        h = hash_value(h, tok.token_score(i));
        h = hash_value(h, uint8_t(tok.is_control(i)));
    }
    h = hash_value(h, tok.bos());
    h = hash_value(h, tok.eos());
    return hash_value(h, uint8_t(tok.add_bos()));
}

uint64_t tokens_hash(std::span<const int32_t> tokens) { return fnv1a64(tokens.data(), tokens.size_bytes()); }

std::string_view strip_trailing_newline(std::string_view text) {
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    return text;
}

// ---------------------------------------------------------------- base file

namespace {

constexpr char kMagic[8] = {'Q', 'L', 'M', 'K', 'L', 'D', '0', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kModelField = 128;

template <typename T>
void put(uint8_t* p, size_t off, T v) {
    std::memcpy(p + off, &v, sizeof v);
}
template <typename T>
T get(const uint8_t* p, size_t off) {
    T v;
    std::memcpy(&v, p + off, sizeof v);
    return v;
}

bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool add_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

}  // namespace

uint64_t kl_base_row_bytes(uint32_t top_k) { return 8 + 8 * uint64_t(top_k); }

uint64_t kl_base_file_size(const KlBaseHeader& h) {
    uint64_t toks = 0, rows = 0, row_bytes = 0, total = 0;
    if (!mul_ok(uint64_t(h.n_chunks), h.n_ctx, toks) || !mul_ok(toks, 4, toks) ||
        !mul_ok(uint64_t(h.n_chunks), h.n_scored, rows) || !mul_ok(rows, kl_base_row_bytes(h.top_k), row_bytes) ||
        !add_ok(kKlBaseHeaderBytes, toks, total) || !add_ok(total, row_bytes, total))
        fail("KL base file: the size of ", h.n_chunks, " chunks of ", h.n_ctx, " tokens with top-", h.top_k,
             " rows overflows 64 bits");
    return total;
}

KlBaseWriter::KlBaseWriter(const std::string& path, const KlBaseHeader& h, std::span<const int32_t> tokens)
    : path_(path), h_(h) {
    if (tokens.size() != size_t(h.n_chunks) * h.n_ctx)
        fail(path, ": ", tokens.size(), " tokens for ", h.n_chunks, " chunks of ", h.n_ctx);
    if (h.top_k == 0 || h.top_k > h.n_vocab) fail(path, ": top-k ", h.top_k, " outside 1..", h.n_vocab);
    (void)kl_base_file_size(h);
    f_ = std::fopen(path.c_str(), "wb");
    if (!f_) fail(path, ": cannot open for writing: ", std::strerror(errno));
    uint8_t hdr[kKlBaseHeaderBytes] = {};
    std::memcpy(hdr, kMagic, 8);
    put<uint32_t>(hdr, 8, kVersion);
    put<uint32_t>(hdr, 12, h.n_ctx);
    put<uint32_t>(hdr, 16, h.n_vocab);
    put<uint32_t>(hdr, 20, h.n_chunks);
    put<uint32_t>(hdr, 24, h.top_k);
    put<uint32_t>(hdr, 28, h.n_scored);
    put<uint64_t>(hdr, 32, h.text_bytes);
    put<uint64_t>(hdr, 40, h.text_hash);
    put<uint64_t>(hdr, 48, h.tokenizer_hash);
    put<uint64_t>(hdr, 56, h.tokens_hash);
    std::memcpy(hdr + 64, h.model.data(), std::min(h.model.size(), kModelField - 1));
    if (std::fwrite(hdr, 1, sizeof hdr, f_) != sizeof hdr ||
        std::fwrite(tokens.data(), 4, tokens.size(), f_) != tokens.size())
        fail(path, ": write failed: ", std::strerror(errno));
    buf_.resize(size_t(kl_base_row_bytes(h.top_k)));
}

KlBaseWriter::~KlBaseWriter() {
    if (f_) std::fclose(f_);
}

void KlBaseWriter::write_row(const BaseRow& row) {
    if (row.ids.size() != h_.top_k || row.logp.size() != h_.top_k)
        fail(path_, ": row of ", row.ids.size(), " entries, the header says top-", h_.top_k);
    uint8_t* p = buf_.data();
    put<float>(p, 0, row.logp_next);
    put<float>(p, 4, row.logp_rest);
    std::memcpy(p + 8, row.ids.data(), 4 * size_t(h_.top_k));
    std::memcpy(p + 8 + 4 * size_t(h_.top_k), row.logp.data(), 4 * size_t(h_.top_k));
    if (std::fwrite(p, 1, buf_.size(), f_) != buf_.size()) fail(path_, ": write failed: ", std::strerror(errno));
    ++rows_;
}

void KlBaseWriter::close() {
    if (!f_) return;
    const uint64_t want = uint64_t(h_.n_chunks) * h_.n_scored;
    std::FILE* f = f_;
    f_ = nullptr;
    const bool ok = std::fclose(f) == 0;
    if (rows_ != want) fail(path_, ": ", rows_, " rows written, the header promises ", want);
    if (!ok) fail(path_, ": write failed: ", std::strerror(errno));
}

KlBaseReader::KlBaseReader(const std::string& path) : path_(path) {
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) fail(path, ": cannot open the KL base file: ", std::strerror(errno));
    if (std::fseek(f_, 0, SEEK_END) != 0) fail(path, ": cannot seek");
    const long end = std::ftell(f_);
    if (end < 0) fail(path, ": cannot tell its size");
    std::rewind(f_);
    const uint64_t size = uint64_t(end);
    uint8_t hdr[kKlBaseHeaderBytes];
    if (size < sizeof hdr || std::fread(hdr, 1, sizeof hdr, f_) != sizeof hdr)
        fail(path, ": ", size, " bytes, too short for the ", kKlBaseHeaderBytes,
             "-byte header of a KL base file (qlm perplexity --save-logits)");
    if (std::memcmp(hdr, "_logits_", 8) == 0)
        fail(path, ": a llama.cpp logits file; qlm reads the base files that `qlm perplexity --save-logits` writes");
    if (std::memcmp(hdr, kMagic, 8) != 0)
        fail(path, ": offset 0: magic is not \"QLMKLD01\": not a KL base file (qlm perplexity --save-logits)");
    const uint32_t version = get<uint32_t>(hdr, 8);
    if (version != kVersion) fail(path, ": offset 8: version ", version, ", this qlm reads version ", kVersion);
    h_.n_ctx = get<uint32_t>(hdr, 12);
    h_.n_vocab = get<uint32_t>(hdr, 16);
    h_.n_chunks = get<uint32_t>(hdr, 20);
    h_.top_k = get<uint32_t>(hdr, 24);
    h_.n_scored = get<uint32_t>(hdr, 28);
    h_.text_bytes = get<uint64_t>(hdr, 32);
    h_.text_hash = get<uint64_t>(hdr, 40);
    h_.tokenizer_hash = get<uint64_t>(hdr, 48);
    h_.tokens_hash = get<uint64_t>(hdr, 56);
    h_.model.assign(reinterpret_cast<const char*>(hdr + 64), strnlen(reinterpret_cast<const char*>(hdr + 64), kModelField));
    if (h_.n_ctx < 4 || h_.n_ctx > (1u << 24)) fail(path, ": offset 12: n_ctx ", h_.n_ctx, " outside 4..16777216");
    if (h_.n_vocab == 0 || h_.n_vocab > (1u << 30)) fail(path, ": offset 16: n_vocab ", h_.n_vocab, " is not valid");
    if (h_.n_chunks == 0) fail(path, ": offset 20: n_chunks is 0");
    if (h_.top_k == 0 || h_.top_k > h_.n_vocab)
        fail(path, ": offset 24: top_k ", h_.top_k, " outside 1..n_vocab (", h_.n_vocab, ")");
    if (h_.n_scored != scored_per_chunk(h_.n_ctx))
        fail(path, ": offset 28: n_scored ", h_.n_scored, ", an n_ctx of ", h_.n_ctx, " scores ",
             scored_per_chunk(h_.n_ctx));
    const uint64_t want = kl_base_file_size(h_);
    if (size != want)
        fail(path, ": ", size, " bytes, but its header (", h_.n_chunks, " chunks of ", h_.n_ctx, " tokens, top-",
             h_.top_k, ") makes ", want, ": truncated or corrupt");
    tokens_.resize(size_t(h_.n_chunks) * h_.n_ctx);
    if (std::fread(tokens_.data(), 4, tokens_.size(), f_) != tokens_.size()) fail(path, ": read failed (tokens)");
    for (size_t i = 0; i < tokens_.size(); ++i)
        if (tokens_[i] < 0 || uint32_t(tokens_[i]) >= h_.n_vocab)
            fail(path, ": offset ", kKlBaseHeaderBytes + 4 * i, ": token ", i, " is ", tokens_[i],
                 ", outside the vocabulary of ", h_.n_vocab);
    if (tokens_hash(tokens_) != h_.tokens_hash) fail(path, ": the token ids do not match their hash: corrupt");
    buf_.resize(size_t(kl_base_row_bytes(h_.top_k)));
}

KlBaseReader::~KlBaseReader() {
    if (f_) std::fclose(f_);
}

void KlBaseReader::read_row(BaseRow& row) {
    const uint64_t total = uint64_t(h_.n_chunks) * h_.n_scored;
    if (rows_ >= total) fail(path_, ": read past the last of its ", total, " rows");
    const uint64_t chunk = rows_ / h_.n_scored, pos = rows_ % h_.n_scored;
    const uint64_t off = kKlBaseHeaderBytes + 4 * uint64_t(tokens_.size()) + rows_ * buf_.size();
    if (std::fread(buf_.data(), 1, buf_.size(), f_) != buf_.size()) fail(path_, ": offset ", off, ": read failed");
    auto bad = [&](const char* field, auto... what) {
        fail(path_, ": offset ", off, ": chunk ", chunk + 1, ", scored position ", pos, ": ", field, " ", what...,
             ": corrupt base file");
    };
    const uint8_t* p = buf_.data();
    const uint32_t k = h_.top_k;
    row.logp_next = get<float>(p, 0);
    row.logp_rest = get<float>(p, 4);
    row.ids.resize(k);
    row.logp.resize(k);
    std::memcpy(row.ids.data(), p + 8, 4 * size_t(k));
    std::memcpy(row.logp.data(), p + 8 + 4 * size_t(k), 4 * size_t(k));
    constexpr float kSlack = 1e-3f;  // float rounding of x - lse where p ~ 1
    if (!std::isfinite(row.logp_next) || row.logp_next > kSlack) bad("logp_next", row.logp_next, " is not a log-prob");
    if (std::isnan(row.logp_rest) || row.logp_rest > kSlack || row.logp_rest == std::numeric_limits<float>::infinity())
        bad("logp_rest", row.logp_rest, " is not a log-prob");
    double mass = std::isfinite(row.logp_rest) ? std::exp(double(row.logp_rest)) : 0.0;
    for (uint32_t i = 0; i < k; ++i) {
        if (row.ids[i] < 0 || uint32_t(row.ids[i]) >= h_.n_vocab)
            bad("token id", row.ids[i], " outside the vocabulary of ", h_.n_vocab);
        if (!std::isfinite(row.logp[i]) || row.logp[i] > kSlack) bad("log-prob", row.logp[i], " of entry ", i);
        if (i > 0 && row.logp[i] > row.logp[i - 1]) bad("log-probs", "not descending at entry ", i);
        mass += std::exp(double(row.logp[i]));
    }
    if (std::fabs(mass - 1.0) > 1e-3) bad("probabilities", "sum to ", mass, ", not 1");
    ++rows_;
}

void check_kl_base(const KlBaseHeader& base, const KlBaseHeader& now, const std::string& path) {
    if (base.n_vocab != now.n_vocab)
        fail(path, ": made with a vocabulary of ", base.n_vocab, " tokens (", base.model, "), this model has ",
             now.n_vocab, ": the base must come from a model with the same tokenizer");
    if (base.tokenizer_hash != now.tokenizer_hash)
        fail(path, ": made with another tokenizer (fingerprint ", std::hex, base.tokenizer_hash, ", this model's ",
             now.tokenizer_hash, std::dec, "; base model ", base.model,
             "): the base must come from a model with the same tokenizer");
    if (base.text_bytes != now.text_bytes || base.text_hash != now.text_hash)
        fail(path, ": made from another text (", base.text_bytes, " bytes, FNV-1a ", std::hex, base.text_hash,
             "; this text: ", std::dec, now.text_bytes, " bytes, ", std::hex, now.text_hash, std::dec,
             "): pass the same -f file");
    if (base.n_ctx != now.n_ctx)
        fail(path, ": made with a context of ", base.n_ctx, " tokens per chunk, this run uses ", now.n_ctx,
             " (-c ", base.n_ctx, ")");
    if (base.tokens_hash != now.tokens_hash)
        fail(path, ": the same text and tokenizer gave other token ids (", base.model,
             "): made by a tokenizer that differs from this one");
}

}  // namespace qlm::ppl
