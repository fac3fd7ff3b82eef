// The grammar's pushdown automaton, determinized lazily over bytes.
//
// A stack is a chain of interned nodes (position, parent): the position is
// the next item to match, the parent the continuation after the rule the
// position is in (node 0: the end of the root). A continuation whose rule
// has nothing left is skipped when pushed, so right recursion (x*) keeps
// stacks flat. A parser state is the sorted set of stack tops (each at a
// character item; node 0 present = the text so far is complete). A DFA
// state is a parser state plus the bytes of an unfinished UTF-8 character;
// transitions are computed on first use and memoized, 256 per state.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "grammar/program.h"
#include "qlm/grammar.h"

namespace qlm {

using grammar::Item;

namespace {

constexpr int32_t kUnknown = -2, kDead = -1;
constexpr size_t kMaxStates = 1 << 20;
constexpr size_t kMaskCacheEntries = 256;
// An ambiguous grammar can keep a great many parses alive at once: one
// character's expansions are bounded (a GrammarError-like qlm::Error ends the
// sequence instead of stalling the engine).
constexpr size_t kMaxExpandWork = 20000;

struct VecHash {
    size_t operator()(const std::vector<int32_t>& v) const noexcept {
        uint64_t h = 1469598103934665603ull;
        for (int32_t x : v) h = (h ^ uint32_t(x)) * 1099511628211ull;
        return size_t(h ^ (h >> 29));
    }
};

// partial UTF-8: bytes in the low 24 bits (first byte lowest), count in the top 8
uint32_t partial_count(uint32_t p) { return p >> 24; }
uint8_t partial_byte(uint32_t p, uint32_t i) { return uint8_t(p >> (8 * i)); }
uint32_t partial_push(uint32_t p, uint8_t b) {
    const uint32_t n = partial_count(p);
    return ((n + 1) << 24) | (p & 0xFFFFFF) | (uint32_t(b) << (8 * n));
}
uint32_t utf8_len(uint8_t lead) { return lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2; }

}  // namespace

struct GrammarAutomaton::Impl {
    const grammar::Program& P;
    const TokenVocab& V;

    struct SNode {
        int32_t pos, parent;
    };
    std::vector<SNode> snodes{{-1, -1}};
    std::unordered_map<uint64_t, int32_t> snode_ids;
    std::vector<std::vector<int32_t>> sets;
    std::unordered_map<std::vector<int32_t>, int32_t, VecHash> set_ids;

    struct DState {
        int32_t set = 0;
        uint32_t partial = 0;
        std::unique_ptr<int32_t[]> next;
        int8_t loop_state = 0;  // 0: not computed, 1: computed
        bool transparent = false;
        uint64_t loop_ascii[2] = {0, 0};
    };
    std::vector<DState> ds;
    std::unordered_map<uint64_t, int32_t> ds_ids;
    std::unordered_map<int32_t, std::vector<uint64_t>> mask_cache;
    bool use_mask_cache = true;
    std::unordered_set<uint64_t> seen;  // (pos, continuation) expanded in one advance
    size_t work = 0;                    // expansions in this advance
    int32_t start = kDead;

    Impl(const grammar::Program& p, const TokenVocab& v) : P(p), V(v) {
        std::vector<int32_t> out;
        seen.clear();
        work = 0;
        for (int32_t a : P.alt_starts[size_t(P.root)]) expand(a, 0, out);
        start = dstate(intern_set(out), 0);
    }

    int32_t node(int32_t pos, int32_t parent) {
        const uint64_t key = (uint64_t(uint32_t(pos)) << 32) | uint32_t(parent);
        const auto it = snode_ids.find(key);
        if (it != snode_ids.end()) return it->second;
        const int32_t id = int32_t(snodes.size());
        snodes.push_back({pos, parent});
        snode_ids.emplace(key, id);
        return id;
    }

    // The continuation at `pos` under `parent`, skipping finished rules.
    int32_t continuation(int32_t pos, int32_t parent) {
        while (P.items[size_t(pos)].kind == Item::End) {
            if (parent == 0) return 0;
            const SNode s = snodes[size_t(parent)];
            pos = s.pos, parent = s.parent;
        }
        return node(pos, parent);
    }

    // Every stack top reachable from (pos, parent) without consuming input.
    void expand(int32_t pos, int32_t parent, std::vector<int32_t>& out) {
        if (++work > kMaxExpandWork)
            fail("grammar: too ambiguous: one character keeps over ", kMaxExpandWork, " parses in play");
        for (;;) {
            const Item& it = P.items[size_t(pos)];
            if (it.kind == Item::End) {
                if (parent == 0) {
                    out.push_back(0);
                    return;
                }
                const SNode s = snodes[size_t(parent)];
                pos = s.pos, parent = s.parent;
                continue;
            }
            if (it.kind == Item::Chars) {
                out.push_back(node(pos, parent));
                return;
            }
            const int32_t cont = continuation(pos + 1, parent);
            for (int32_t a : P.alt_starts[size_t(it.arg)]) {
                const uint64_t key = (uint64_t(uint32_t(a)) << 32) | uint32_t(cont);
                if (seen.insert(key).second) expand(a, cont, out);
            }
            return;
        }
    }

    int32_t intern_set(std::vector<int32_t>& v) {
        if (v.empty()) return kDead;
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
        if (v.size() > 2048) fail("grammar: too ambiguous: over 2048 parses in play at once");
        const auto it = set_ids.find(v);
        if (it != set_ids.end()) return it->second;
        const int32_t id = int32_t(sets.size());
        sets.push_back(v);
        set_ids.emplace(v, id);
        return id;
    }

    int32_t dstate(int32_t set, uint32_t partial) {
        if (set < 0) return kDead;
        const uint64_t key = (uint64_t(uint32_t(set)) << 32) | partial;
        const auto it = ds_ids.find(key);
        if (it != ds_ids.end()) return it->second;
        if (ds.size() >= kMaxStates) fail("grammar: the automaton grew past ", kMaxStates, " states");
        const int32_t id = int32_t(ds.size());
        ds.emplace_back();
        ds.back().set = set;
        ds.back().partial = partial;
        ds_ids.emplace(key, id);
        return id;
    }

    const grammar::CharSet& top_set(int32_t n) const {
        return P.sets[size_t(P.items[size_t(snodes[size_t(n)].pos)].arg)];
    }

    int32_t advance(int32_t set, uint32_t cp) {
        std::vector<int32_t> out;
        seen.clear();
        work = 0;
        const std::vector<int32_t> tops = sets[size_t(set)];  // copy: interning may grow `sets`
        for (int32_t n : tops) {
            if (n == 0) continue;
            if (!top_set(n).contains(cp)) continue;
            const SNode s = snodes[size_t(n)];
            expand(s.pos + 1, s.parent, out);
        }
        return intern_set(out);
    }

    // Could a character starting with these bytes match some stack top?
    bool prefix_alive(int32_t set, uint32_t partial) const {
        const uint32_t k = partial_count(partial);
        const uint8_t lead = partial_byte(partial, 0);
        const uint32_t n = utf8_len(lead);
        uint32_t lo = lead & (0x3F >> (n - 1)), hi = lo;
        for (uint32_t i = 1; i < n; ++i) {
            const uint8_t b = i < k ? partial_byte(partial, i) : 0;
            lo = (lo << 6) | (i < k ? (b & 0x3F) : 0x00);
            hi = (hi << 6) | (i < k ? (b & 0x3F) : 0x3F);
        }
        // E0 / F0 leads with low continuations would be overlong: the range starts at the length's first code point
        static constexpr uint32_t kFirst[5] = {0, 0, 0x80, 0x800, 0x10000};
        lo = std::max(lo, kFirst[n]);
        hi = std::min(hi, grammar::kMaxCodePoint);
        if (lo > hi) return false;
        for (int32_t t : sets[size_t(set)])
            if (t != 0 && top_set(t).intersects(lo, hi)) return true;
        return false;
    }

    int32_t compute(int32_t d, uint8_t b) {
        const int32_t set = ds[size_t(d)].set;
        const uint32_t partial = ds[size_t(d)].partial;
        if (partial == 0) {
            if (b < 0x80) return dstate(advance(set, b), 0);
            if (b < 0xC2 || b > 0xF4) return kDead;
            const uint32_t p = partial_push(0, b);
            return prefix_alive(set, p) ? dstate(set, p) : kDead;
        }
        if ((b & 0xC0) != 0x80) return kDead;
        const uint8_t lead = partial_byte(partial, 0);
        const uint32_t k = partial_count(partial);
        if (k == 1) {  // the second byte bounds overlongs, surrogates and > U+10FFFF
            if ((lead == 0xE0 && b < 0xA0) || (lead == 0xED && b > 0x9F) || (lead == 0xF0 && b < 0x90) ||
                (lead == 0xF4 && b > 0x8F))
                return kDead;
        }
        const uint32_t p = partial_push(partial, b);
        if (k + 1 < utf8_len(lead)) return prefix_alive(set, p) ? dstate(set, p) : kDead;
        const uint32_t n = k + 1;
        uint32_t cp = lead & (0x3F >> (n - 1));
        for (uint32_t i = 1; i < n; ++i) cp = (cp << 6) | (partial_byte(p, i) & 0x3F);
        return dstate(advance(set, cp), 0);
    }

    int32_t next(int32_t d, uint8_t b) {
        DState* s = &ds[size_t(d)];
        if (!s->next) {
            s->next.reset(new int32_t[256]);
            std::fill(s->next.get(), s->next.get() + 256, kUnknown);
        }
        int32_t r = s->next[b];
        if (r != kUnknown) return r;
        r = compute(d, b);
        ds[size_t(d)].next[b] = r;  // `ds` may have grown
        return r;
    }

    bool accepting(int32_t d) const {
        const DState& s = ds[size_t(d)];
        return s.partial == 0 && sets[size_t(s.set)].front() == 0;
    }
    bool finished(int32_t d) const {
        const DState& s = ds[size_t(d)];
        return s.partial == 0 && sets[size_t(s.set)].size() == 1 && sets[size_t(s.set)][0] == 0;
    }

    // Which bytes keep state d where it is, and whether every non-ASCII
    // character does (every stack top holds all of them or none).
    void loops(int32_t d) {
        if (ds[size_t(d)].loop_state) return;
        uint64_t la[2] = {0, 0};
        for (int b = 0; b < 128; ++b)
            if (next(d, uint8_t(b)) == d) la[b >> 6] |= uint64_t(1) << (b & 63);
        bool transparent = true;
        const int32_t set = ds[size_t(d)].set;
        for (int32_t t : sets[size_t(set)])
            if (t != 0 && top_set(t).non_ascii_uniform() < 0) transparent = false;
        if (transparent) transparent = advance(set, 0x80) == set;
        DState& s = ds[size_t(d)];
        s.loop_ascii[0] = la[0], s.loop_ascii[1] = la[1];
        s.transparent = transparent;
        s.loop_state = 1;
    }

    void set_range(std::vector<uint64_t>& bits, int32_t from, int32_t to) const {
        const std::vector<int32_t>& tt = V.trie_tokens();
        for (int32_t k = from; k < to; ++k) {
            const int32_t t = tt[size_t(k)];
            bits[size_t(t) >> 6] |= uint64_t(1) << (t & 63);
        }
    }

    void fill(int32_t d0, std::vector<uint64_t>& bits) {
        const size_t words = (size_t(V.n_vocab()) + 63) / 64;
        if (use_mask_cache && ds[size_t(d0)].partial == 0) {
            const auto it = mask_cache.find(d0);
            if (it != mask_cache.end()) {
                bits = it->second;
                return;
            }
        }
        bits.assign(words, 0);
        if (ds[size_t(d0)].partial == 0) {
            loops(d0);
            const DState& s0 = ds[size_t(d0)];
            if (__builtin_popcountll(s0.loop_ascii[0]) + __builtin_popcountll(s0.loop_ascii[1]) >= 32) {
                scan(d0, bits);
                return finish_mask(d0, bits);
            }
        }
        const auto& nodes = V.nodes();
        const auto& tb = V.tok_begin();
        struct Frame {
            int32_t node, state;
        };
        std::vector<Frame> stack;
        stack.push_back({0, d0});
        while (!stack.empty()) {
            const Frame f = stack.back();
            stack.pop_back();
            const int32_t end = nodes[size_t(f.node)].sub_end;
            for (int32_t c = f.node + 1; c < end; c = nodes[size_t(c)].sub_end) {
                const TokenVocab::Node& ch = nodes[size_t(c)];
                const int32_t d = next(f.state, ch.byte);
                if (d < 0) continue;
                set_range(bits, tb[size_t(c)], tb[size_t(c) + 1]);
                if (ch.sub_end == c + 1) continue;
                if (ch.clean && ds[size_t(d)].partial == 0) {
                    loops(d);
                    const DState& s = ds[size_t(d)];
                    if ((ch.ascii[0] & ~s.loop_ascii[0]) == 0 && (ch.ascii[1] & ~s.loop_ascii[1]) == 0 &&
                        (!ch.non_ascii || s.transparent)) {
                        set_range(bits, tb[size_t(c) + 1], tb[size_t(ch.sub_end)]);
                        continue;
                    }
                }
                stack.push_back({c, d});
            }
        }
        finish_mask(d0, bits);
    }

    // A state that loops on most bytes (inside a string): per token, the
    // vocabulary's precomputed offset where it leaves the loop, then a walk
    // from there (the state is d0 up to that offset).
    void scan(int32_t d0, std::vector<uint64_t>& bits) {
        const DState& s0 = ds[size_t(d0)];
        const uint64_t loop[2] = {s0.loop_ascii[0], s0.loop_ascii[1]};
        const auto exits = V.loop_exits(loop, s0.transparent);
        const int32_t n = V.n_vocab();
        for (int32_t t = 0; t < n; ++t) {
            const std::string& p = V.piece(t);
            if (p.empty()) continue;
            const uint16_t e = (*exits)[size_t(t)];
            if (e == TokenVocab::kStays || walk(d0, std::string_view(p).substr(e)) >= 0)
                bits[size_t(t) >> 6] |= uint64_t(1) << (t & 63);
        }
    }

    void finish_mask(int32_t d0, std::vector<uint64_t>& bits) {
        if (accepting(d0))
            for (int32_t t : V.eog()) bits[size_t(t) >> 6] |= uint64_t(1) << (t & 63);
        if (use_mask_cache && ds[size_t(d0)].partial == 0) {
            if (mask_cache.size() >= kMaskCacheEntries) mask_cache.clear();
            mask_cache.emplace(d0, bits);
        }
    }

    int32_t walk(int32_t d, std::string_view bytes) {
        for (char c : bytes) {
            d = next(d, uint8_t(c));
            if (d < 0) return kDead;
        }
        return d;
    }
};

GrammarAutomaton::GrammarAutomaton(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocab> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)),
      impl_(std::make_unique<Impl>(grammar_->program(), *vocab_)) {}
GrammarAutomaton::~GrammarAutomaton() = default;
void GrammarAutomaton::set_mask_cache(bool on) {
    impl_->use_mask_cache = on;
    if (!on) impl_->mask_cache.clear();
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<GrammarAutomaton> automaton)
    : a_(std::move(automaton)), state_(a_->impl().start) {}

void GrammarMatcher::fill_mask(std::vector<uint64_t>& bits) { a_->impl().fill(state_, bits); }

void GrammarMatcher::set_triggers(std::vector<std::string> triggers, std::string gate_open, std::string gate_close,
                                  bool inside) {
    triggers_ = std::move(triggers);
    triggers_.erase(std::remove(triggers_.begin(), triggers_.end(), std::string()), triggers_.end());
    active_ = triggers_.empty();
    seen_.clear();
    gate_open_ = std::move(gate_open);
    gate_close_ = std::move(gate_close);
    gate_ = gate_close_.empty() ? Gate::Out : inside ? Gate::In : Gate::Start;
}

bool GrammarMatcher::allows(int32_t token) {
    if (!active_) return true;
    const TokenVocab& v = a_->vocab();
    if (token < 0 || token >= v.n_vocab()) return false;
    const auto& eog = v.eog();
    if (std::find(eog.begin(), eog.end(), token) != eog.end()) return can_end();
    const std::string& p = v.piece(token);
    return !p.empty() && a_->impl().walk(state_, p) >= 0;
}

void GrammarMatcher::accept(int32_t token) {
    const TokenVocab& v = a_->vocab();
    if (token < 0 || token >= v.n_vocab()) fail("grammar: token ", token, " is outside the vocabulary");
    if (!active_) {
        seen_ += v.piece(token);
        if (gate_ == Gate::Start) {  // a block may open the text: wait until that is decided
            const size_t a = seen_.find_first_not_of(" \t\r\n");
            if (a == std::string::npos) return;
            const std::string rest = seen_.substr(a);
            if (rest.compare(0, gate_open_.size(), gate_open_) == 0) {
                gate_ = Gate::In;
                seen_ = rest.substr(gate_open_.size());
            } else if (gate_open_.compare(0, rest.size(), rest) == 0) {
                return;
            } else {
                gate_ = Gate::Out;
            }
        }
        if (gate_ == Gate::In) {
            const size_t e = seen_.find(gate_close_);
            if (e == std::string::npos) {
                if (seen_.size() > 2 * gate_close_.size()) seen_.erase(0, seen_.size() - gate_close_.size());
                return;
            }
            seen_.erase(0, e + gate_close_.size());
            gate_ = Gate::Out;
        }
        size_t at = std::string::npos, longest = 0;
        for (const std::string& t : triggers_) {
            at = std::min(at, seen_.find(t));
            longest = std::max(longest, t.size());
        }
        if (at == std::string::npos) {
            if (seen_.size() > 4 * longest + 64) seen_.erase(0, seen_.size() - longest);
            return;
        }
        active_ = true;
        const std::string rest = seen_.substr(at);
        seen_.clear();
        if (!accept_bytes(rest)) fail("grammar: the text after the trigger does not match the grammar");
        return;
    }
    const auto& eog = v.eog();
    if (std::find(eog.begin(), eog.end(), token) != eog.end()) {
        if (!can_end()) fail("grammar: token ", token, " ends the text before the grammar is complete");
        return;
    }
    const std::string& p = v.piece(token);
    const int32_t d = p.empty() ? kDead : a_->impl().walk(state_, p);
    if (d < 0) fail("grammar: token ", token, " is not allowed here");
    state_ = d;
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
    const int32_t d = a_->impl().walk(state_, bytes);
    if (d < 0) return false;
    state_ = d;
    return true;
}

bool GrammarMatcher::can_end() const { return !active_ || a_->impl().accepting(state_); }
bool GrammarMatcher::done() const { return active_ && a_->impl().finished(state_); }
int64_t GrammarMatcher::n_states() const { return int64_t(a_->impl().ds.size()); }

}  // namespace qlm
