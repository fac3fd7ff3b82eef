// SentencePiece-style merging as llama.cpp does it (llm_tokenizer_spm_session):
// start from UTF-8 characters, repeatedly merge the adjacent pair whose
// concatenation is the vocabulary token with the highest score (leftmost on
// ties), and emit each final symbol as its token or, failing that, as byte
// tokens (<0xXX>).
#include <queue>
#include <string>

#include "qlm/error.h"
#include "tokenizer/encode.h"
#include "tokenizer/unicode.h"

namespace qlm::tok {
namespace {

struct Bigram {
    int left;
    int right;
    float score;
    size_t len;
};

// Highest score first; on ties the leftmost pair.
struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

class SpmSession {
public:
    SpmSession(const Vocab& v, std::string_view text) : v_(v), text_(text) {}

    void run(std::vector<int32_t>& out) {
        split_utf8_symbols(text_, symbols_);
        for (int i = 1; i < int(symbols_.size()); ++i) try_add(i - 1, i);

        while (!queue_.empty()) {
            const Bigram b = queue_.top();
            queue_.pop();
            Symbol& left = symbols_[b.left];
            Symbol& right = symbols_[b.right];
            if (left.len == 0 || right.len == 0 || left.len + right.len != b.len) continue;  // stale
            left.len += right.len;
            right.len = 0;
            left.next = right.next;
            if (right.next >= 0) symbols_[right.next].prev = b.left;
            try_add(left.prev, b.left);
            try_add(b.left, left.next);
        }
        if (symbols_.empty()) return;
        for (int i = 0; i != -1; i = symbols_[i].next) emit(symbols_[i], out);
    }

private:
    std::string_view text_of(const Symbol& s) const { return text_.substr(s.begin, s.len); }

    void try_add(int left, int right) {
        if (left == -1 || right == -1) return;
        const std::string_view joined = text_.substr(symbols_[left].begin, symbols_[left].len + symbols_[right].len);
        const int32_t id = v_.find(joined);
        if (id == kNoToken) return;
        queue_.push({left, right, v_.score[id], joined.size()});
    }

    void emit(const Symbol& s, std::vector<int32_t>& out) {
        const std::string_view t = text_of(s);
        if (const int32_t id = v_.find(t); id != kNoToken) {
            out.push_back(id);
            return;
        }
        // Upstream also looks the text up among the merged pairs here, but only
        // pairs that form a token are ever merged, so that lookup never hits.
        for (char c : t) {
            const int32_t id = v_.byte_token(uint8_t(c));
            if (id == kNoToken)
                fail("tokenizer: byte 0x", std::hex, int(uint8_t(c)), " has no token (no <0xXX> byte-fallback token)");
            out.push_back(id);
        }
    }

    const Vocab& v_;
    std::string_view text_;
    std::vector<Symbol> symbols_;
    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue_;
};

}  // namespace

void spm_encode(const Vocab& v, std::string_view text, std::vector<int32_t>& out) {
    SpmSession(v, text).run(out);
}

}  // namespace qlm::tok
