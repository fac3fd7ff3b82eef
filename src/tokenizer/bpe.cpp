// Byte-level BPE as llama.cpp does it (llm_tokenizer_bpe_session): split the
// text with the pre-tokenizer, then in each piece repeatedly merge the
// adjacent pair with the lowest merge rank (leftmost on ties). A final symbol
// that is not a token falls back to its single bytes, which are dropped when
// they have no token either, as upstream.
#include <queue>
#include <string>

#include "tokenizer/pretokenize.h"
#include "tokenizer/encode.h"
#include "tokenizer/unicode.h"

namespace qlm::tok {
namespace {

struct Bigram {
    int left;
    int right;
    int32_t rank;
    std::string text;
};

// Lowest rank first; on ties the leftmost pair.
struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

class BpeWord {
public:
    BpeWord(const Vocab& v, std::string_view word, std::string& scratch) : v_(v), word_(word), scratch_(scratch) {}

    void run(std::vector<int32_t>& out) {
        if (v_.ignore_merges && v_.find(word_) != kNoToken) {
            symbols_.push_back({-1, -1, 0, word_.size()});
        } else {
            split_utf8_symbols(word_, symbols_);
        }
        for (int i = 1; i < int(symbols_.size()); ++i) try_add(i - 1, i);

        while (!queue_.empty()) {
            const Bigram b = queue_.top();
            queue_.pop();
            Symbol& left = symbols_[b.left];
            Symbol& right = symbols_[b.right];
            if (left.len == 0 || right.len == 0) continue;
            if (left.len + right.len != b.text.size() || text(left) != std::string_view(b.text).substr(0, left.len) ||
                text(right) != std::string_view(b.text).substr(left.len))
                continue;  // stale
            left.len += right.len;
            right.len = 0;
            left.next = right.next;
            if (right.next >= 0) symbols_[right.next].prev = b.left;
            try_add(left.prev, b.left);
            try_add(b.left, left.next);
        }

        for (const Symbol& s : symbols_) {
            if (s.len == 0) continue;
            const std::string_view t = text(s);
            if (const int32_t id = v_.find(t); id != kNoToken) {
                out.push_back(id);
                continue;
            }
            for (char c : t) {
                if (const int32_t id = v_.find(std::string_view(&c, 1)); id != kNoToken) out.push_back(id);
            }
        }
    }

private:
    std::string_view text(const Symbol& s) const { return word_.substr(s.begin, s.len); }

    void try_add(int left, int right) {
        if (left == -1 || right == -1) return;
        const std::string_view l = text(symbols_[left]);
        const std::string_view r = text(symbols_[right]);
        const int32_t rank = v_.merge(l, r, scratch_);
        if (rank == kNoToken) return;
        queue_.push({left, right, rank, std::string(word_.substr(symbols_[left].begin, l.size() + r.size()))});
    }

    const Vocab& v_;
    std::string_view word_;
    std::string& scratch_;
    std::vector<Symbol> symbols_;
    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void bpe_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
    std::string scratch;
    for (const std::string& word : pretokenize(text, v.splits, /*byte_encode=*/true)) BpeWord(v, word, scratch).run(out);
}

}  // namespace qlm::tok
