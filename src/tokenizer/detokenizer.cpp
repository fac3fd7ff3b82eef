// Streaming detokenization that never splits a UTF-8 character. Validity is
// judged as in the Unicode standard's "maximal subpart" practice: a lead byte
// with the continuation bytes that may follow it is one character; any other
// byte, or a lead cut short by a byte that cannot continue it, becomes U+FFFD.
#include <utility>

#include "qlm/tokenizer.h"

namespace qlm {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Expected length of the sequence a lead byte starts (0: not a lead byte).
size_t lead_len(uint8_t b) {
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return 2;
    if (b >= 0xE0 && b <= 0xEF) return 3;
    if (b >= 0xF0 && b <= 0xF4) return 4;
    return 0;
}

// May byte `b` be the k-th (k >= 1) byte of a sequence that starts with `lead`?
bool continues(uint8_t lead, size_t k, uint8_t b) {
    if (k == 1) {
        if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;  // no overlong forms
        if (lead == 0xED) return b >= 0x80 && b <= 0x9F;  // no surrogates
        if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
        if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;  // <= U+10FFFF
    }
    return b >= 0x80 && b <= 0xBF;
}

}  // namespace

Detokenizer::Detokenizer(Tokenizer tokenizer, bool render_special)
    : tok_(std::move(tokenizer)), special_(render_special) {}

std::string Detokenizer::push(int32_t id) {
    pending_ += tok_.token_to_piece(id, special_);
    return take_complete(false);
}

std::string Detokenizer::flush() { return take_complete(true); }

std::string Detokenizer::take_complete(bool at_end) {
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        const uint8_t lead = uint8_t(pending_[i]);
        const size_t need = lead_len(lead);
        if (need == 0) {  // stray continuation or impossible byte
            out += kReplacement;
            ++i;
            continue;
        }
        size_t k = 1;
        while (k < need && i + k < pending_.size() && continues(lead, k, uint8_t(pending_[i + k]))) ++k;
        if (k == need) {
            out.append(pending_, i, need);
            i += need;
        } else if (i + k == pending_.size() && !at_end) {
            break;  // may still complete: hold these bytes
        } else {
            out += kReplacement;  // cut short: the bytes so far are one bad character
            i += k;
        }
    }
    pending_.erase(0, i);
    return out;
}

}  // namespace qlm
