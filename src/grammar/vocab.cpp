// TokenVocab: the vocabulary's byte strings as a trie in preorder, with per
// node summaries (the ASCII bytes below, whether anything below is
// non-ASCII, whether every path below is whole UTF-8 characters) that let a
// mask accept a whole subtree at once.
#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>

#include "qlm/grammar.h"

namespace qlm {

namespace {

// Length of the valid UTF-8 character at s[i] (strict: no overlongs,
// surrogates or code points past U+10FFFF), or 0.
size_t utf8_char(const std::string& s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (i + n > s.size()) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if ((b(i + k) & 0xC0) != 0x80) return 0;
    return n;
}

// s[i..] is shorter than its character and a valid beginning of one.
bool utf8_incomplete(const std::string& s, size_t i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (n == 0 || s.size() - i >= n) return false;
    if (s.size() - i >= 2) {
        const unsigned char b = static_cast<unsigned char>(s[i + 1]);
        const unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        const unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        if (b < lo || b > hi) return false;
    }
    for (size_t k = i + 2; k < s.size(); ++k)
        if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) return false;
    return true;
}

}  // namespace

struct TokenVocab::ExitCache {
    std::mutex mu;
    std::map<std::tuple<uint64_t, uint64_t, bool>, std::shared_ptr<const std::vector<uint16_t>>> tables;
};

std::shared_ptr<const std::vector<uint16_t>> TokenVocab::loop_exits(const uint64_t loop[2], bool non_ascii) const {
    const auto key = std::make_tuple(loop[0], loop[1], non_ascii);
    {
        std::lock_guard lk(exits_->mu);
        const auto it = exits_->tables.find(key);
        if (it != exits_->tables.end()) return it->second;
    }
    auto t = std::make_shared<std::vector<uint16_t>>(pieces_.size(), uint16_t(0));
    for (size_t id = 0; id < pieces_.size(); ++id) {
        const std::string& s = pieces_[id];
        size_t i = 0;
        while (i < s.size()) {
            const uint8_t c = uint8_t(s[i]);
            if (c < 0x80) {
                if (!((loop[c >> 6] >> (c & 63)) & 1)) break;
                ++i;
                continue;
            }
            if (!non_ascii) break;
            const size_t n = utf8_char(s, i);
            if (n == 0) {
                if (utf8_incomplete(s, i)) i = s.size();  // ends inside a character: a live partial state
                break;
            }
            i += n;
        }
        (*t)[id] = i >= s.size() ? kStays : uint16_t(std::min<size_t>(i, 0xFFFE));
    }
    std::lock_guard lk(exits_->mu);
    exits_->tables.emplace(key, t);
    return t;
}

std::shared_ptr<const TokenVocab> TokenVocab::build(std::vector<std::string> pieces, std::vector<int32_t> eog) {
    auto v = std::shared_ptr<TokenVocab>(new TokenVocab());
    v->pieces_ = std::move(pieces);
    v->exits_ = std::make_shared<ExitCache>();
    v->eog_ = std::move(eog);
    for (int32_t t : v->eog_)
        if (t < 0 || t >= v->n_vocab()) fail("grammar: end-of-generation token ", t, " is outside the vocabulary");
    std::vector<int32_t> order;
    for (int32_t i = 0; i < v->n_vocab(); ++i)
        if (!v->pieces_[size_t(i)].empty()) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        const std::string &x = v->pieces_[size_t(a)], &y = v->pieces_[size_t(b)];
        const int c = x.compare(y);  // char_traits<char> compares as unsigned bytes
        return c < 0 || (c == 0 && a < b);
    });
    std::vector<Node>& nodes = v->nodes_;
    nodes.push_back(Node{});
    std::vector<int32_t> owner;  // the node each token of `order` ends at
    std::vector<int32_t> path = {0};
    std::string prev;
    std::vector<char> valid;
    for (int32_t id : order) {
        const std::string& s = v->pieces_[size_t(id)];
        size_t lcp = 0;
        while (lcp < s.size() && lcp < prev.size() && s[lcp] == prev[lcp]) ++lcp;
        while (path.size() > lcp + 1) {
            nodes[size_t(path.back())].sub_end = int32_t(nodes.size());
            path.pop_back();
        }
        for (size_t k = lcp; k < s.size(); ++k) {
            Node n;
            n.byte = uint8_t(s[k]);
            path.push_back(int32_t(nodes.size()));
            nodes.push_back(n);
        }
        owner.push_back(path.back());
        // clean: the suffix from each depth is whole valid characters
        valid.assign(s.size() + 1, 0);
        valid[s.size()] = 1;
        for (size_t d = s.size(); d-- > 0;) {
            const size_t n = utf8_char(s, d);
            valid[d] = n > 0 && valid[d + n];
        }
        for (size_t d = 0; d < path.size(); ++d)
            if (!valid[d]) nodes[size_t(path[d])].clean = false;
        prev = s;
    }
    while (!path.empty()) {
        nodes[size_t(path.back())].sub_end = int32_t(nodes.size());
        path.pop_back();
    }
    // summaries, children before parents (reverse preorder)
    for (size_t n = nodes.size(); n-- > 0;) {
        for (int32_t c = int32_t(n) + 1; c < nodes[n].sub_end; c = nodes[size_t(c)].sub_end) {
            const Node& ch = nodes[size_t(c)];
            nodes[n].ascii[0] |= ch.ascii[0];
            nodes[n].ascii[1] |= ch.ascii[1];
            nodes[n].non_ascii = nodes[n].non_ascii || ch.non_ascii || ch.byte >= 0x80;
            if (ch.byte < 0x80) nodes[n].ascii[ch.byte >> 6] |= uint64_t(1) << (ch.byte & 63);
        }
    }
    v->trie_tokens_ = order;
    v->tok_begin_.assign(nodes.size() + 1, int32_t(order.size()));
    for (size_t k = order.size(); k-- > 0;) v->tok_begin_[size_t(owner[k])] = int32_t(k);
    for (size_t n = nodes.size(); n-- > 0;)  // nodes without tokens start where the next node starts
        if (v->tok_begin_[n] > v->tok_begin_[n + 1]) v->tok_begin_[n] = v->tok_begin_[n + 1];
    return v;
}

}  // namespace qlm
