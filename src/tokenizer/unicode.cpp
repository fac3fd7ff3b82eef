#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace qlm::tok {

CptInfo cpt_info(uint32_t cpt) {
    CptInfo info;
    if (cpt >= 0x110000) {
        info.cls = CptClass::kUndefined;
        return info;
    }
    const CptRun* end = kCptRuns + kCptRunCount;
    const CptRun* it = std::upper_bound(kCptRuns, end, cpt,
                                        [](uint32_t c, const CptRun& r) { return c < r.first; });
    info.cls = (it - 1)->cls;  // kCptRuns[0].first == 0, so it > kCptRuns
    info.space = std::binary_search(kWhiteSpace, kWhiteSpace + kWhiteSpaceCount, cpt);
    return info;
}

namespace {

// One codepoint at s[off], advancing off; false (off untouched) if the bytes
// there are not a sequence llama.cpp accepts. Like llama.cpp it checks only the
// lead and continuation bit patterns, not overlong forms or surrogates.
bool decode_one(std::string_view s, size_t& off, uint32_t& cpt) {
    const auto b = [&](size_t k) { return static_cast<uint8_t>(s[off + k]); };
    const auto cont = [&](size_t k) { return off + k < s.size() && (b(k) & 0xC0) == 0x80; };
    const uint8_t c0 = b(0);
    if (!(c0 & 0x80)) {
        cpt = c0;
        off += 1;
        return true;
    }
    if (!(c0 & 0x40)) return false;
    if (!(c0 & 0x20)) {
        if (!cont(1)) return false;
        cpt = (uint32_t(c0 & 0x1F) << 6) | (b(1) & 0x3F);
        off += 2;
        return true;
    }
    if (!(c0 & 0x10)) {
        if (!cont(1) || !cont(2)) return false;
        cpt = (uint32_t(c0 & 0x0F) << 12) | (uint32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
        off += 3;
        return true;
    }
    if (!(c0 & 0x08)) {
        if (!cont(1) || !cont(2) || !cont(3)) return false;
        cpt = (uint32_t(c0 & 0x07) << 18) | (uint32_t(b(1) & 0x3F) << 12) | (uint32_t(b(2) & 0x3F) << 6) |
              (b(3) & 0x3F);
        off += 4;
        return true;
    }
    return false;
}

struct Gpt2Tables {
    std::array<std::string, 256> byte_to_utf8;
    std::array<int16_t, 512> cpt_to_byte;  // stand-ins are all below 0x144
    Gpt2Tables() {
        cpt_to_byte.fill(-1);
        std::array<uint32_t, 256> cpt_of{};
        std::array<bool, 256> printable{};
        for (int ch = 0x21; ch <= 0x7E; ++ch) printable[ch] = true;
        for (int ch = 0xA1; ch <= 0xAC; ++ch) printable[ch] = true;
        for (int ch = 0xAE; ch <= 0xFF; ++ch) printable[ch] = true;
        uint32_t n = 0;
        for (int ch = 0; ch < 256; ++ch) cpt_of[ch] = printable[ch] ? uint32_t(ch) : 256 + n++;
        for (int ch = 0; ch < 256; ++ch) {
            append_utf8(byte_to_utf8[ch], cpt_of[ch]);
            cpt_to_byte[cpt_of[ch]] = int16_t(ch);
        }
    }
};

const Gpt2Tables& gpt2_tables() {
    static const Gpt2Tables tables;
    return tables;
}

}  // namespace

std::vector<uint32_t> utf8_to_cpts(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    size_t off = 0;
    while (off < s.size()) {
        uint32_t cpt = 0;
        if (decode_one(s, off, cpt)) {
            out.push_back(cpt);
        } else {
            out.push_back(kReplacementChar);
            ++off;
        }
    }
    return out;
}

void append_utf8(std::string& out, uint32_t cpt) {
    if (cpt <= 0x7F) {
        out.push_back(char(cpt));
    } else if (cpt <= 0x7FF) {
        out.push_back(char(0xC0 | (cpt >> 6)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    } else if (cpt <= 0xFFFF) {
        out.push_back(char(0xE0 | (cpt >> 12)));
        out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    } else {
        out.push_back(char(0xF0 | ((cpt >> 18) & 0x07)));
        out.push_back(char(0x80 | ((cpt >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((cpt >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cpt & 0x3F)));
    }
}

const std::string& gpt2_byte_to_utf8(uint8_t byte) { return gpt2_tables().byte_to_utf8[byte]; }

int gpt2_cpt_to_byte(uint32_t cpt) {
    return cpt < 512 ? gpt2_tables().cpt_to_byte[cpt] : -1;
}

}  // namespace qlm::tok
