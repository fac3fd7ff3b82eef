// Decoders of the low-bit lattice formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS,
// IQ2_S, IQ3_XXS, IQ3_S) and TQ1_0 / TQ2_0 for the AVX-512 tiles
// (iquants.cpp) and the GEMM (gemm.cpp). A super-block becomes 8 x 32 signed
// values as |q| and a sign (fmt::IqInts, formats/iquants.h) and int16 scales
// per 16 elements; the block scale d * factor comes from the gathered dword
// at kDOff (scales) or, for IQ1_M, two dwords (kDOff2, scales2; rows.h
// block_scales). The decoders are the AVX2 ones (avx2/iquants.cpp) with the
// grid points and sign vectors fetched by vpgather at indices built in
// vectors (faster than scalar lookups: bench/results/kernel-thresholds.md).
// Private to src/cpu/avx512/.
#pragma once

#include "cpu/avx512/kquant_decode.h"
#include "cpu/avx512/rows.h"
#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/ternary.h"

namespace qlm::cpu::QLM_AVX512_NS {
namespace iq {

using namespace fmt;

struct IDec {
    __m256i q[8];   // +-1 (grid formats) or the values: the sign x takes
    __m256i aq[8];  // |q|
    __m256i sc[8];  // chunk c's scales: int16 s_2c x 8 | s_2c+1 x 8
};

// The 128 IQ2/IQ3 sign codes (formats/iquants.h iq2_sign_byte) as 8-byte
// vectors, +1 (0x01) or -1 (0xff) per element: the q of a chunk with 7-bit
// sign codes is one gather, no bit expansion.
struct SignVecTable {
    uint64_t v[128];
    constexpr SignVecTable() : v{} {
        for (uint32_t i = 0; i < 128; ++i) {
            uint64_t w = 0;
            for (int j = 0; j < 8; ++j) w |= uint64_t((iq2_sign_byte(i) >> j) & 1 ? 0xff : 0x01) << (8 * j);
            v[i] = w;
        }
    }
};
inline constexpr SignVecTable kSignVecs{};

// Gathers: 4 64-bit grid points / sign vectors, or 8 32-bit grid points, at
// int32 indices built in vectors (fewer uops than scalar index arithmetic,
// loads and inserts).
inline __m256i gather4_64(const uint64_t* t, __m128i idx) {
    return _mm256_i32gather_epi64(reinterpret_cast<const long long*>(t), idx, 8);
}
inline __m256i gather8_32(const uint32_t* t, __m256i idx) {
    return _mm256_i32gather_epi32(reinterpret_cast<const int*>(t), idx, 4);
}
inline __m128i bytes4_epi32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(int(v)));
}
// (v >> s_l) & mask for the 4 lanes' shifts s
inline __m128i fields4(uint32_t v, __m128i shifts, int mask) {
    return _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(int(v)), shifts), _mm_set1_epi32(mask));
}
// the sign vectors of 4 packed 7-bit codes (bits 0, 7, 14, 21)
inline __m256i sign_vec4g(uint32_t a) { return gather4_64(kSignVecs.v, fields4(a, _mm_setr_epi32(0, 7, 14, 21), 127)); }

inline uint32_t u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline void set_chunk(IDec& d, int c, __m256i g, uint32_t signs) {
    d.q[c] = _mm256_or_si256(bytes_from_bits32(reinterpret_cast<const uint8_t*>(&signs)), _mm256_set1_epi8(1));
    d.aq[c] = g;
}
// Chunk c from grid magnitudes g and +-1 signs.
inline void set_chunk_pm(IDec& d, int c, __m256i g, __m256i pm) {
    d.q[c] = pm;
    d.aq[c] = g;
}
inline void set_chunk_signed(IDec& d, int c, __m256i q) {
    d.q[c] = q;
    d.aq[c] = _mm256_abs_epi8(q);
}
inline void scales16(IDec& d, const int16_t* s) {
    for (int c = 0; c < 8; ++c)
        d.sc[c] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(s[2 * c])), _mm_set1_epi16(s[2 * c + 1]), 1);
}
inline void scales_nibbles(IDec& d, const uint8_t* s8) {
    int16_t s[16];
    for (int h = 0; h < 16; ++h) s[h] = int16_t(2 * ((s8[h / 2] >> (4 * (h % 2))) & 15) + 1);
    scales16(d, s);
}
inline __m256i bits_at(__m256i v, int shift, int mask) {
    return _mm256_and_si256(_mm256_srli_epi16(v, shift), _mm256_set1_epi8(int8_t(mask)));
}

// TQ1_0's base-3 digits, 32 at a time: digit n of byte b is floor(3 (3^n b
// mod 256) / 256), i.e. (q >= 86) + (q >= 171) for q = 3^n b mod 256 (byte
// arithmetic wraps mod 256); value = digit - 1. Chunk order = element order
// (formats/ternary.h): qs[0..31] digits 0..4, then qs[32..47] digits 0..4
// (16 each), then qh's 4 x 4.
inline __m256i mul3_u8(__m256i v) { return _mm256_add_epi8(v, _mm256_add_epi8(v, v)); }
inline __m256i tq1_values(__m256i q) {
    const __m256i z = _mm256_setzero_si256();
    const __m256i ge86 = _mm256_cmpeq_epi8(_mm256_subs_epu8(_mm256_set1_epi8(86), q), z);
    const __m256i ge171 = _mm256_cmpeq_epi8(_mm256_subs_epu8(_mm256_set1_epi8(char(171)), q), z);
    return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_set1_epi8(-1), ge86), ge171);
}
inline void tq1_chunks(const uint8_t* p, __m256i* out) {
    __m256i a = load256(p);
    for (int n = 0; n < 5; ++n, a = mul3_u8(a)) out[n] = tq1_values(a);
    const __m128i v1 = load128(p + 32);
    const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(v1), v1, 1);
    uint32_t h;
    std::memcpy(&h, p + 48, 4);
    const __m128i h1 = _mm_cvtsi32_si128(int(h));
    const __m128i h3 = _mm_add_epi8(h1, _mm_add_epi8(h1, h1));
    const __m128i h9 = _mm_add_epi8(h3, _mm_add_epi8(h3, h3));
    const __m128i h27 = _mm_add_epi8(h9, _mm_add_epi8(h9, h9));
    const __m128i hd = _mm_unpacklo_epi64(_mm_unpacklo_epi32(h1, h3), _mm_unpacklo_epi32(h9, h27));
    // [v | 3v], [9v | 27v]: multiply the high half once more per step
    const __m256i v13 = _mm256_blend_epi32(v, mul3_u8(v), 0xf0);
    const __m256i v927 = mul3_u8(mul3_u8(v13));
    out[5] = tq1_values(v13);
    out[6] = tq1_values(v927);
    const __m128i v81 = _mm256_castsi256_si128(mul3_u8(mul3_u8(v927)));
    out[7] = tq1_values(_mm256_inserti128_si256(_mm256_castsi128_si256(v81), hd, 1));
}
inline __m256i iq1_values(__m256i g, __m256i delta) {
    return _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), g), delta);
}

// The block scale d * factor from the gathered dword at kDOff.
template <int DHigh, int Num, int Den>
struct Scale {
    static void scales(__m256i g, __m256& dw, __m256& mw) {
        dw = DHigh ? f16_hi(g) : f16_lo(g);
        if constexpr (Num != Den) dw = _mm256_mul_ps(dw, _mm256_set1_ps(float(Num) / float(Den)));
        mw = _mm256_setzero_ps();
    }
};

struct DecIq2Xxs : Scale<0, 1, 8> {
    using Block = block_iq2_xxs;
    static constexpr size_t kDOff = 0;
    static void decode(const uint8_t* p, IDec& d) {
        const uint8_t* qs = p + offsetof(block_iq2_xxs, qs);
        for (int c = 0; c < 8; ++c) {
            const uint32_t a1 = u32(qs + 8 * c + 4);
            d.sc[c] = _mm256_set1_epi16(int16_t(2 * (a1 >> 28) + 1));
            set_chunk_pm(d, c, gather4_64(kIq2xxsGrid, bytes4_epi32(qs + 8 * c)), sign_vec4g(a1));
        }
    }
};
struct DecIq2Xs : Scale<0, 1, 8> {
    using Block = block_iq2_xs;
    static constexpr size_t kDOff = 0;
    static void decode(const uint8_t* p, IDec& d) {
        scales_nibbles(d, p + offsetof(block_iq2_xs, scales));
        for (int c = 0; c < 8; ++c) {
            const __m128i q = _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + offsetof(block_iq2_xs, qs) + 8 * c)));
            set_chunk_pm(d, c, gather4_64(kIq2xsGrid, _mm_and_si128(q, _mm_set1_epi32(511))),
                         gather4_64(kSignVecs.v, _mm_srli_epi32(q, 9)));
        }
    }
};
struct DecIq2S : Scale<0, 1, 8> {
    using Block = block_iq2_s;
    static constexpr size_t kDOff = 0;
    static void decode(const uint8_t* p, IDec& d) {
        const auto& b = *reinterpret_cast<const block_iq2_s*>(p);
        scales_nibbles(d, b.scales);
        for (int c = 0; c < 8; ++c) {
            const __m128i idx = _mm_or_si128(bytes4_epi32(b.qs + 4 * c),
                                             _mm_slli_epi32(fields4(b.qh[c], _mm_setr_epi32(0, 2, 4, 6), 3), 8));
            set_chunk(d, c, gather4_64(kIq2sGrid, idx), u32(b.signs + 4 * c));
        }
    }
};
struct DecIq3Xxs : Scale<0, 1, 4> {
    using Block = block_iq3_xxs;
    static constexpr size_t kDOff = 0;
    static void decode(const uint8_t* p, IDec& d) {
        const auto& b = *reinterpret_cast<const block_iq3_xxs*>(p);
        for (int c = 0; c < 8; ++c) {
            const uint32_t a = u32(b.sas + 4 * c);
            d.sc[c] = _mm256_set1_epi16(int16_t(2 * (a >> 28) + 1));
            const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * c)));
            set_chunk_pm(d, c, gather8_32(kIq3xxsGrid, idx), sign_vec4g(a));
        }
    }
};
struct DecIq3S : Scale<0, 1, 1> {
    using Block = block_iq3_s;
    static constexpr size_t kDOff = 0;
    static void decode(const uint8_t* p, IDec& d) {
        const auto& b = *reinterpret_cast<const block_iq3_s*>(p);
        for (int c = 0; c < 8; ++c) {
            d.sc[c] = _mm256_set1_epi16(int16_t(2 * ((b.scales[c / 2] >> (4 * (c % 2))) & 15) + 1));
            const __m256i hi = _mm256_and_si256(
                _mm256_srlv_epi32(_mm256_set1_epi32(b.qh[c]), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), _mm256_set1_epi32(1));
            const __m256i idx = _mm256_or_si256(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + 8 * c))),
                                                _mm256_slli_epi32(hi, 8));
            set_chunk(d, c, gather8_32(kIq3sGrid, idx), u32(b.signs + 4 * c));
        }
    }
};
struct DecIq1S : Scale<0, 1, 8> {
    using Block = block_iq1_s;
    static constexpr size_t kDOff = 0;
    static void decode(const uint8_t* p, IDec& d) {
        const auto& b = *reinterpret_cast<const block_iq1_s*>(p);
        for (int c = 0; c < 8; ++c) {
            uint16_t qh;
            std::memcpy(&qh, p + offsetof(block_iq1_s, qh) + 2 * c, 2);
            d.sc[c] = _mm256_set1_epi16(int16_t(2 * ((qh >> 12) & 7) + 1));
            const __m128i idx = _mm_or_si128(bytes4_epi32(b.qs + 4 * c),
                                             _mm_slli_epi32(fields4(qh, _mm_setr_epi32(0, 3, 6, 9), 7), 8));
            const __m256i g = gather4_64(kIq1sGrid, idx);
            set_chunk_signed(d, c, iq1_values(g, _mm256_set1_epi8(qh & 0x8000 ? -1 : 1)));
        }
    }
};
// IQ1_M: d is the top nibbles of the four scale words (two gathered dwords).
struct DecIq1M {
    using Block = block_iq1_m;
    static constexpr size_t kDOff = offsetof(block_iq1_m, scales), kDOff2 = kDOff + 4;
    static void scales2(__m256i g1, __m256i g2, __m256& dw, __m256& mw) {
        const __m256i h = _mm256_or_si256(
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(g1, 12), _mm256_set1_epi32(0x000f)),
                            _mm256_and_si256(_mm256_srli_epi32(g1, 24), _mm256_set1_epi32(0x00f0))),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(g2, 4), _mm256_set1_epi32(0x0f00)),
                            _mm256_and_si256(_mm256_srli_epi32(g2, 16), _mm256_set1_epi32(0xf000))));
        dw = _mm256_mul_ps(f16_lo(h), _mm256_set1_ps(0.125f));
        mw = _mm256_setzero_ps();
    }
    static void decode(const uint8_t* p, IDec& d) {
        const auto& b = *reinterpret_cast<const block_iq1_m*>(p);
        // scale k (16 elements) = 2 ((word k/4 >> 3 (k%4)) & 7) + 1, as 16 int16 lanes (vpermw, vpsrlvw)
        const __m256i words = _mm256_permutexvar_epi16(
            _mm256_setr_epi16(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
            _mm256_castsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + offsetof(block_iq1_m, scales)))));
        const __m256i s3 = _mm256_and_si256(
            _mm256_srlv_epi16(words, _mm256_setr_epi16(0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9, 0, 3, 6, 9)), _mm256_set1_epi16(7));
        const __m256i s = _mm256_add_epi16(_mm256_add_epi16(s3, s3), _mm256_set1_epi16(1));
        for (int c = 0; c < 8; ++c) {
            d.sc[c] = _mm256_permutexvar_epi16(
                _mm256_setr_m128i(_mm_set1_epi16(short(2 * c)), _mm_set1_epi16(short(2 * c + 1))), s);
            const uint32_t h = uint32_t(b.qh[2 * c] | b.qh[2 * c + 1] << 8);
            const __m128i idx = _mm_or_si128(bytes4_epi32(b.qs + 4 * c),
                                             _mm_slli_epi32(fields4(h, _mm_setr_epi32(0, 4, 8, 12), 7), 8));
            const __m256i g = gather4_64(kIq1sGrid, idx);
            // the delta of group l: +1 (0x01 x 8) or -1 (0xff x 8), from bit 3 of its nibble
            const __m128i neg = fields4(h, _mm_setr_epi32(3, 7, 11, 15), 1);
            const __m128i v = _mm_sub_epi32(_mm_set1_epi32(1), _mm_add_epi32(neg, neg));  // 1 or -1: low byte 0x01 / 0xff
            const __m256i delta = _mm256_shuffle_epi8(
                _mm256_broadcastsi128_si256(v),
                _mm256_setr_epi64x(0, 0x0404040404040404ll, 0x0808080808080808ll, 0x0c0c0c0c0c0c0c0cll));
            set_chunk_signed(d, c, iq1_values(g, delta));
        }
    }
};
// TQ2_0's d sits in the last 2 bytes: the dword before it, high half.
struct DecTq2 : Scale<1, 1, 1> {
    using Block = block_tq2_0;
    static constexpr size_t kDOff = offsetof(block_tq2_0, d) - 2;
    static void decode(const uint8_t* p, IDec& d) {
        for (int c = 0; c < 8; ++c) {
            d.sc[c] = _mm256_set1_epi16(1);
            set_chunk_signed(d, c, _mm256_sub_epi8(bits_at(load256(p + 32 * (c / 4)), 2 * (c % 4), 3), _mm256_set1_epi8(1)));
        }
    }
};
struct DecTq1 : Scale<1, 1, 1> {
    using Block = block_tq1_0;
    static constexpr size_t kDOff = offsetof(block_tq1_0, d) - 2;
    static void decode(const uint8_t* p, IDec& d) {
        __m256i q[8];
        tq1_chunks(p, q);
        for (int c = 0; c < 8; ++c) d.sc[c] = _mm256_set1_epi16(1), set_chunk_signed(d, c, q[c]);
    }
};

// As a K-quant decoder for the GEMM panels (gemm.cpp KQuantPanel): codes
// q + 64 (unsigned, <= 126, for vpdpbusd), the 64 taken off as 64 sc_h bsum_h.
template <class D>
struct AsKQuant : D {
    static constexpr kq::Mode kMode = kq::Mode::Bias;
    static constexpr bool kWide = false;
    static constexpr size_t kWBytes = sizeof(typename D::Block), kXBytes = sizeof(block_q8_K);
    static void decode(const uint8_t* p, kq::KDec& k) {
        IDec d;
        D::decode(p, d);
        alignas(32) int16_t coef[16];
        for (int c = 0; c < 8; ++c) {
            k.q[c] = _mm256_add_epi8(_mm256_sign_epi8(d.aq[c], d.q[c]), _mm256_set1_epi8(64));
            k.sc[c] = d.sc[c];
            coef[2 * c] = int16_t(64 * _mm256_extract_epi16(d.sc[c], 0));
            coef[2 * c + 1] = int16_t(64 * _mm256_extract_epi16(d.sc[c], 8));
        }
        k.coef = _mm256_load_si256(reinterpret_cast<const __m256i*>(coef));
    }
};

}  // namespace iq
}  // namespace qlm::cpu::QLM_AVX512_NS
