// The compiled form of a grammar: every alternative of every rule flattened
// into one item array, each alternative ended by an End item. A grammar
// position is an index into `items`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qlm::grammar {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// A set of code points: sorted, disjoint, non-adjacent closed ranges.
struct CharSet {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    uint64_t ascii[2] = {0, 0};
    bool contains(uint32_t cp) const {
        if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
        size_t lo = 0, hi = ranges.size();
        while (lo < hi) {
            const size_t mid = (lo + hi) / 2;
            if (ranges[mid].second < cp) lo = mid + 1;
            else hi = mid;
        }
        return lo < ranges.size() && ranges[lo].first <= cp;
    }
    bool intersects(uint32_t a, uint32_t b) const {
        for (const auto& [lo, hi] : ranges)
            if (lo <= b && a <= hi) return true;
        return false;
    }
    // 1: holds every code point >= 0x80, 0: none, -1: some
    int non_ascii_uniform() const {
        bool any = false, all = false;
        for (const auto& [lo, hi] : ranges)
            if (hi >= 0x80) {
                any = true;
                if (lo <= 0x80 && hi == kMaxCodePoint) all = true;
            }
        return !any ? 0 : all ? 1 : -1;
    }
};

struct Item {
    enum Kind : uint8_t { End, Chars, Ref };
    Kind kind = End;
    int32_t arg = 0;  // Chars: index into sets; Ref: rule index
};

struct Program {
    std::vector<std::string> rule_names;
    std::vector<std::vector<int32_t>> alt_starts;  // per rule: the position of each alternative's first item
    std::vector<Item> items;
    std::vector<CharSet> sets;
    int32_t root = 0;
};

// Builds a CharSet from ranges (any order, may overlap), negated if asked.
CharSet make_charset(std::vector<std::pair<uint32_t, uint32_t>> ranges, bool negate);

}  // namespace qlm::grammar
