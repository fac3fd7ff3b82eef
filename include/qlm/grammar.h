// Constrained generation: GBNF grammars (as llama.cpp accepts them), JSON
// Schema -> grammar, and an incremental matcher that masks a vocabulary.
//
//   auto g = Grammar::parse_gbnf(text);                     // throws GrammarError (line, column)
//   auto g2 = Grammar::parse_gbnf(json_schema_to_gbnf(schema));  // GrammarError naming the keyword
//   auto vocab = TokenVocab::build(pieces, eog_ids);        // once per vocabulary
//   GrammarMatcher m(std::make_shared<GrammarAutomaton>(g, vocab));
//   m.fill_mask(bits);  // allowed tokens (one bit each); eog tokens when the grammar may end
//   m.accept(token);    // after sampling; m.done(): nothing more can follow
//
// The matcher is a pushdown automaton over Unicode code points (stacks of
// grammar positions, shared and interned); tokens are byte strings matched
// UTF-8 aware (a token may end inside a character). Transitions are
// memoized per state and byte (a lazily built DFA), and a token mask walks a
// byte trie of the vocabulary, skipping whole subtrees whose bytes all loop
// in the current state (the inside of a JSON string), so a mask costs little
// on a 150k-token vocabulary.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "qlm/error.h"

namespace qlm {

class GrammarError : public Error {
public:
    enum class Kind { Syntax, UnsupportedSchema, InvalidSchema };
    GrammarError(Kind kind, const std::string& what, std::string keyword = {})
        : Error(what), kind_(kind), keyword_(std::move(keyword)) {}
    Kind kind() const noexcept { return kind_; }
    // UnsupportedSchema: the JSON Schema keyword (or format) that is not supported.
    const std::string& keyword() const noexcept { return keyword_; }

private:
    Kind kind_;
    std::string keyword_;
};

namespace grammar {
struct Program;
}

// A parsed, checked grammar (immutable, shareable between threads).
class Grammar {
public:
    // GBNF as llama.cpp accepts it: `name ::= alternatives`, "literals",
    // [classes] with ranges, negation and escapes, `.`, groups, * + ? {m}
    // {m,} {m,n}, # comments. Errors (GrammarError::Syntax) name line and
    // column; an undefined rule, a missing root and left recursion are errors.
    static std::shared_ptr<const Grammar> parse_gbnf(std::string_view text, std::string_view root = "root");
    const grammar::Program& program() const { return *program_; }
    size_t n_rules() const;

private:
    std::shared_ptr<const grammar::Program> program_;
};

// JSON Schema -> GBNF (root rule "root"). Supported: type (incl. lists),
// properties / required / additionalProperties, enum / const, anyOf / oneOf,
// items / prefixItems / minItems / maxItems, string minLength / maxLength /
// pattern (a regex subset) / format (date, time, date-time, uuid), integer
// minimum / maximum (exclusive too), number minimum 0, $ref into $defs /
// definitions. Annotations (title, description, default, examples, ...) are
// ignored; any other keyword is a GrammarError (UnsupportedSchema) naming it.
// rule_prefix: every rule but the shared primitives (space, string, ...)
// is named with it, the start rule prefix + "root" (grammars of several
// schemas then merge; the primitives are the same text in each).
std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema, const std::string& rule_prefix = "");

// Any JSON value / any JSON object (response_format json_object).
std::string json_value_gbnf();
std::string json_object_gbnf();

// A vocabulary's byte strings in a trie, built once and shared.
class TokenVocab {
public:
    // pieces[id]: the bytes of token id ("" for tokens never generated under
    // a grammar: control tokens); eog: the tokens that end generation.
    static std::shared_ptr<const TokenVocab> build(std::vector<std::string> pieces, std::vector<int32_t> eog);
    int32_t n_vocab() const { return int32_t(pieces_.size()); }
    const std::string& piece(int32_t id) const { return pieces_[size_t(id)]; }
    const std::vector<int32_t>& eog() const { return eog_; }

    // The trie in preorder: node 0 is the root; a node's descendants are the
    // nodes (n, sub_end); its first child is n + 1, the next sibling of a child
    // c is sub_end of c. tok_begin[n]: the tokens ending at n and below are
    // trie_tokens()[tok_begin[n] .. tok_begin[sub_end(n)]), n's own first.
    struct Node {
        int32_t sub_end = 0;
        uint8_t byte = 0;
        bool clean = true;       // every descendant path is whole UTF-8 characters (from a boundary here)
        bool non_ascii = false;  // some descendant byte is >= 0x80
        uint64_t ascii[2] = {0, 0};  // the ASCII bytes of the descendants
    };
    const std::vector<Node>& nodes() const { return nodes_; }
    const std::vector<int32_t>& tok_begin() const { return tok_begin_; }
    const std::vector<int32_t>& trie_tokens() const { return trie_tokens_; }

    // For a state that loops on the ASCII bytes `loop` (and on every
    // non-ASCII character when `non_ascii`): per token, the offset of its
    // first byte that leaves the loop, or kStays when the whole token stays
    // (a valid UTF-8 prefix at its end included). Computed once per loop set
    // and kept (thread-safe).
    static constexpr uint16_t kStays = 0xFFFF;
    std::shared_ptr<const std::vector<uint16_t>> loop_exits(const uint64_t loop[2], bool non_ascii) const;

private:
    std::vector<std::string> pieces_;
    std::vector<int32_t> eog_;
    std::vector<Node> nodes_;
    std::vector<int32_t> tok_begin_, trie_tokens_;
    struct ExitCache;
    std::shared_ptr<ExitCache> exits_;
};

// A grammar's automaton over one vocabulary: the interned stacks and states
// and the memoized transitions. Not thread-safe: the matchers that share one
// are used from one thread (the engine's).
class GrammarAutomaton {
public:
    GrammarAutomaton(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocab> vocab);
    ~GrammarAutomaton();
    const TokenVocab& vocab() const { return *vocab_; }
    // Masks are cached per state (on by default); off for measuring the walk.
    void set_mask_cache(bool on);
    struct Impl;
    Impl& impl() { return *impl_; }

private:
    std::shared_ptr<const Grammar> grammar_;
    std::shared_ptr<const TokenVocab> vocab_;
    std::unique_ptr<Impl> impl_;
};

class GrammarMatcher {
public:
    explicit GrammarMatcher(std::shared_ptr<GrammarAutomaton> automaton);
    // bits: n_vocab bits (64 per word), set = allowed. Eog tokens are allowed
    // when the grammar can end here.
    void fill_mask(std::vector<uint64_t>& bits);
    bool allows(int32_t token);
    // Advances by a token; throws qlm::Error if the grammar does not allow it.
    void accept(int32_t token);
    bool accept_bytes(std::string_view bytes);  // false (state unchanged) if not allowed
    bool can_end() const;  // the text so far is a complete sentence of the grammar
    bool done() const;     // complete, and nothing can follow
    int64_t n_states() const;  // interned states so far (diagnostics)

    // Lazy start: the grammar applies from the first occurrence of one of
    // the triggers in the accepted text (the grammar matches the trigger
    // itself and what follows it); before that anything goes.
    // gate_open / gate_close (e.g. "<think>", "</think>"): a trigger inside
    // such a block (reasoning) does not count; `inside`: the text starts in one.
    void set_triggers(std::vector<std::string> triggers, std::string gate_open = {}, std::string gate_close = {},
                      bool inside = false);
    bool active() const { return active_; }

private:
    std::shared_ptr<GrammarAutomaton> a_;
    int32_t state_;  // a DFA state: the parser state and any unfinished UTF-8 character
    bool active_ = true;
    std::vector<std::string> triggers_;
    std::string seen_;  // accepted text while waiting for a trigger (its tail)
    std::string gate_open_, gate_close_;
    enum class Gate { Start, In, Out } gate_ = Gate::Out;
};

}  // namespace qlm
