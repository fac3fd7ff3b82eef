// The decoders of the low-bit lattice formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS,
// IQ2_S, IQ3_XXS, IQ3_S) and the ternary TQ1_0 / TQ2_0, written once for the
// x86 kernels: the AVX2 tiles and GEMM (avx2/iquants.cpp) and the AVX-512
// ones (avx512/iquant_decode.h). Private to src/cpu/avx2 and avx512.
//
// The decoder concept (IqDecoder below). A decoder D of a block family gives
//   Block              the packed block (formats/iquants.h, formats/ternary.h)
//   kDFactor, d16(p)   the block scale: fp16 bits d16(p) times kDFactor; where
//                      the fp16 sits at one place, kDByte is its offset (the
//                      vector kernels load it for 8 rows at once); IQ1_M's is
//                      spread over its scale words, d16x8(w01, w23) builds it
//                      for 8 blocks from their scale dwords 0 and 1
//   decode<F>(p, dec)  the super-block as 8 chunks of 32 values and int16
//                      scales per 16 elements, the integer form of
//                      formats/iquants.h (fmt::IqInts):
//                        S = sum_h sc_h <q, x>_h  (exact int32), d * kDFactor
//                      with the grid points and sign vectors fetched through F.
// What the ISAs do differently is only that fetch: the fetch policy F (the
// IqFetch concept) builds the table indices and loads the entries, either in
// scalar registers with one load each (ScalarFetch: AVX2, where vpgather is
// slow on the CPUs it serves) or in vectors with vpgather (GatherFetch, with
// the AVX-512 extension in avx512/iquant_decode.h). Both give the same bits.
//
// Include it from the ISA's own header, after its intrinsics (native or
// SIMDe), with QLM_X86_NS naming that ISA's namespace (avx2, avx512,
// avx512_simde): these inline functions are compiled with each ISA's target
// flags, and copies compiled with different flags must not share a mangled
// name (the linker would keep one of them for all). Only intrinsics, plain
// integer code and the ISA's own helpers (load256, load128,
// bytes_from_bits32); formats/ gives layouts, tables and constants only.
#pragma once

#ifndef QLM_X86_NS
#error "include cpu/x86/iq_decode.h through an ISA header that defines QLM_X86_NS"
#endif

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "formats/iquants.h"
#include "formats/kquants.h"
#include "formats/ternary.h"

namespace qlm::cpu::QLM_X86_NS {
namespace iq {

using namespace fmt;

// A decoded super-block: chunk c = elements 32c .. 32c + 31.
struct IqDec {
    __m256i q[8];   // the sign the activation takes: +-1 (grid formats) or the values themselves
    __m256i aq[8];  // |q|
    __m256i sc[8];  // int16 scales: s_2c x 8 | s_2c+1 x 8
};

// The 4 right shifts of fields4 (one per index lane).
struct Shifts4 {
    int s[4];
};

// A fetch policy F: index vectors of 4 or 8 unsigned lanes (F::Idx4,
// F::Idx8) and
//   bytes4(p), bytes8(p)     lane l = p[l]
//   u16x4(p)                 lane l = the l-th little-endian uint16 at p
//   fields4(v, s, mask)      lane l = (v >> s_l) & mask
//   bits8(v)                 lane l = (v >> l) & 1
//   or_, shl, shr, and_      lane-wise, on Idx4 and Idx8
//   grid4(t, i)              64-bit lane l = t[i_l] (grid points, sign vectors)
//   grid8(t, i)              32-bit lane l = t[i_l]
//   pm1x4(i)                 64-bit lane l: 8 bytes +1 (i_l = 0) or -1 (i_l = 1)
//   scales_3bit(w, sc)       sc as IqDec::sc from 16 3-bit fields, 4 per
//                            uint16 word at bits 0, 3, 6, 9: 2 f + 1 (IQ1_M)
template <class F>
concept IqFetch = requires(const uint8_t* p, uint32_t v, typename F::Idx4 i4, typename F::Idx8 i8, const uint64_t* t64,
                           const uint32_t* t32, __m256i& out, __m256i* sc) {
    { F::bytes4(p) } -> std::same_as<typename F::Idx4>;
    { F::u16x4(p) } -> std::same_as<typename F::Idx4>;
    { F::fields4(v, Shifts4{}, v) } -> std::same_as<typename F::Idx4>;
    { F::or_(i4, i4) } -> std::same_as<typename F::Idx4>;
    { F::shl(i4, 8) } -> std::same_as<typename F::Idx4>;
    { F::shr(i4, 8) } -> std::same_as<typename F::Idx4>;
    { F::and_(i4, v) } -> std::same_as<typename F::Idx4>;
    { F::bytes8(p) } -> std::same_as<typename F::Idx8>;
    { F::bits8(v) } -> std::same_as<typename F::Idx8>;
    { F::or_(i8, i8) } -> std::same_as<typename F::Idx8>;
    { F::shl(i8, 8) } -> std::same_as<typename F::Idx8>;
    out = F::grid4(t64, i4);
    out = F::grid8(t32, i8);
    out = F::pm1x4(i4);
    F::scales_3bit(p, sc);
};

template <class D, class F>
concept IqDecoder = IqFetch<F> && requires(const uint8_t* p, IqDec& dec) {
    typename D::Block;
    requires std::same_as<decltype(D::kDFactor), const float>;
    { D::d16(p) } -> std::same_as<uint16_t>;
    { D::template decode<F>(p, dec) } -> std::same_as<void>;
};

// ---- fetch policies ----

// Indices in general-purpose registers, one scalar load per entry.
struct ScalarFetch {
    template <int N>
    struct Idx {
        uint32_t i[N];
    };
    using Idx4 = Idx<4>;
    using Idx8 = Idx<8>;
    static Idx4 bytes4(const uint8_t* p) { return {{p[0], p[1], p[2], p[3]}}; }
    static Idx8 bytes8(const uint8_t* p) { return {{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]}}; }
    static Idx4 u16x4(const uint8_t* p) {
        uint16_t q[4];
        std::memcpy(q, p, 8);
        return {{q[0], q[1], q[2], q[3]}};
    }
    static Idx4 fields4(uint32_t v, Shifts4 s, uint32_t mask) {
        return {{(v >> s.s[0]) & mask, (v >> s.s[1]) & mask, (v >> s.s[2]) & mask, (v >> s.s[3]) & mask}};
    }
    static Idx8 bits8(uint32_t v) {
        Idx8 r;
        for (int l = 0; l < 8; ++l) r.i[l] = (v >> l) & 1;
        return r;
    }
    template <int N>
    static Idx<N> or_(Idx<N> a, Idx<N> b) {
        for (int l = 0; l < N; ++l) a.i[l] |= b.i[l];
        return a;
    }
    template <int N>
    static Idx<N> shl(Idx<N> a, int n) {
        for (int l = 0; l < N; ++l) a.i[l] <<= n;
        return a;
    }
    template <int N>
    static Idx<N> shr(Idx<N> a, int n) {
        for (int l = 0; l < N; ++l) a.i[l] >>= n;
        return a;
    }
    template <int N>
    static Idx<N> and_(Idx<N> a, uint32_t m) {
        for (int l = 0; l < N; ++l) a.i[l] &= m;
        return a;
    }
    static __m256i grid4(const uint64_t* t, Idx4 x) {
        return _mm256_set_epi64x(int64_t(t[x.i[3]]), int64_t(t[x.i[2]]), int64_t(t[x.i[1]]), int64_t(t[x.i[0]]));
    }
    static __m256i grid8(const uint32_t* t, Idx8 x) {
        return _mm256_setr_epi32(int(t[x.i[0]]), int(t[x.i[1]]), int(t[x.i[2]]), int(t[x.i[3]]), int(t[x.i[4]]),
                                 int(t[x.i[5]]), int(t[x.i[6]]), int(t[x.i[7]]));
    }
    static __m256i pm1x4(Idx4 x) {
        auto v = [](uint32_t neg) { return int64_t(neg ? 0xffffffffffffffffull : 0x0101010101010101ull); };
        return _mm256_set_epi64x(v(x.i[3]), v(x.i[2]), v(x.i[1]), v(x.i[0]));
    }
    static void scales_3bit(const uint8_t* p, __m256i* sc) {
        uint16_t w[4];
        std::memcpy(w, p, 8);
        for (int c = 0; c < 8; ++c) {
            const int k0 = 2 * c, k1 = 2 * c + 1;
            const int s0 = 2 * ((w[k0 / 4] >> (3 * (k0 % 4))) & 7) + 1, s1 = 2 * ((w[k1 / 4] >> (3 * (k1 % 4))) & 7) + 1;
            sc[c] = _mm256_setr_m128i(_mm_set1_epi16(int16_t(s0)), _mm_set1_epi16(int16_t(s1)));
        }
    }
};

// Indices in vectors, entries by vpgather (fewer uops than scalar index
// arithmetic, loads and inserts where gathers are fast:
// bench/results/kernel-thresholds.md).
struct GatherFetch {
    using Idx4 = __m128i;
    using Idx8 = __m256i;
    static Idx4 bytes4(const uint8_t* p) {
        uint32_t v;
        std::memcpy(&v, p, 4);
        return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(int(v)));
    }
    static Idx8 bytes8(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
    static Idx4 u16x4(const uint8_t* p) { return _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
    static Idx4 fields4(uint32_t v, Shifts4 s, uint32_t mask) {
        return _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32(int(v)), _mm_setr_epi32(s.s[0], s.s[1], s.s[2], s.s[3])),
                             _mm_set1_epi32(int(mask)));
    }
    static Idx8 bits8(uint32_t v) {
        return _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(int(v)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                _mm256_set1_epi32(1));
    }
    static Idx4 or_(Idx4 a, Idx4 b) { return _mm_or_si128(a, b); }
    static Idx8 or_(Idx8 a, Idx8 b) { return _mm256_or_si256(a, b); }
    static Idx4 shl(Idx4 a, int n) { return _mm_slli_epi32(a, n); }
    static Idx8 shl(Idx8 a, int n) { return _mm256_slli_epi32(a, n); }
    static Idx4 shr(Idx4 a, int n) { return _mm_srli_epi32(a, n); }
    static Idx4 and_(Idx4 a, uint32_t m) { return _mm_and_si128(a, _mm_set1_epi32(int(m))); }
    static __m256i grid4(const uint64_t* t, Idx4 x) {
        return _mm256_i32gather_epi64(reinterpret_cast<const long long*>(t), x, 8);
    }
    static __m256i grid8(const uint32_t* t, Idx8 x) { return _mm256_i32gather_epi32(reinterpret_cast<const int*>(t), x, 4); }
    static __m256i pm1x4(Idx4 x) {
        const __m128i v = _mm_sub_epi32(_mm_set1_epi32(1), _mm_add_epi32(x, x));  // 1 or -1: low byte 0x01 / 0xff
        return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(v),
                                   _mm256_setr_epi64x(0, 0x0404040404040404ll, 0x0808080808080808ll, 0x0c0c0c0c0c0c0c0cll));
    }
    static void scales_3bit(const uint8_t* p, __m256i* sc) { ScalarFetch::scales_3bit(p, sc); }
};

// ---- pieces shared by the decoders ----

// The 128 IQ2/IQ3 sign codes (formats/iquants.h iq2_sign_byte) as 8-byte
// vectors, +1 (0x01) or -1 (0xff) per element: the q of a chunk with 7-bit
// sign codes is 4 table entries, no bit expansion.
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

// the sign vectors of 4 packed 7-bit codes (bits 0, 7, 14, 21)
template <class F>
inline __m256i sign_vec4(uint32_t a) {
    return F::grid4(kSignVecs.v, F::fields4(a, {{0, 7, 14, 21}}, 127));
}
// lane l = lo[l] | ((hi >> s_l) & mask) << 8: 4 grid indices of 9 or more bits
template <class F>
inline typename F::Idx4 index4(const uint8_t* lo, uint32_t hi, Shifts4 s, uint32_t mask) {
    return F::or_(F::bytes4(lo), F::shl(F::fields4(hi, s, mask), 8));
}

inline uint32_t u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline uint16_t u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

// Chunk c from grid magnitudes g and 32 sign bits.
inline void set_chunk(IqDec& d, int c, __m256i g, uint32_t signs) {
    d.q[c] = _mm256_or_si256(bytes_from_bits32(reinterpret_cast<const uint8_t*>(&signs)), _mm256_set1_epi8(1));
    d.aq[c] = g;
}
// Chunk c from grid magnitudes g and +-1 signs.
inline void set_chunk_pm(IqDec& d, int c, __m256i g, __m256i pm) {
    d.q[c] = pm;
    d.aq[c] = g;
}
// Chunk c from signed values.
inline void set_chunk_signed(IqDec& d, int c, __m256i q) {
    d.q[c] = q;
    d.aq[c] = _mm256_sign_epi8(q, q);
}
// nibble h of 8 bytes -> odd scales 2s + 1 per 16 elements
inline void scales_nibbles(IqDec& d, const uint8_t* s8) {
    for (int c = 0; c < 8; ++c)
        d.sc[c] = _mm256_setr_m128i(_mm_set1_epi16(int16_t(2 * (s8[c] & 15) + 1)), _mm_set1_epi16(int16_t(2 * (s8[c] >> 4) + 1)));
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
    const __m128i h1 = _mm_cvtsi32_si128(int(u32(p + 48)));
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

// IQ1: q = 8 * grid + delta (+-1), grid in {-1, 0, 1}.
inline __m256i iq1_values(__m256i g, __m256i delta) {
    return _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), g), delta);
}

// d: the fp16 at byte DByte, divided by Den (a power of two: the factor is
// exact; an integer, as clang before 18 takes no float template arguments).
template <class B, size_t DByte, int Den>
struct DAt {
    using Block = B;
    static constexpr size_t kDByte = DByte;
    static constexpr float kDFactor = 1.0f / float(Den);
    static uint16_t d16(const uint8_t* p) { return u16(p + DByte); }
};

// ---- the decoders ----

struct DecIq2Xxs : DAt<block_iq2_xxs, offsetof(block_iq2_xxs, d), 8> {
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        const uint8_t* qs = p + offsetof(block_iq2_xxs, qs);
        for (int c = 0; c < 8; ++c) {
            const uint32_t a1 = u32(qs + 8 * c + 4);
            d.sc[c] = _mm256_set1_epi16(int16_t(2 * (a1 >> 28) + 1));
            set_chunk_pm(d, c, F::grid4(kIq2xxsGrid, F::bytes4(qs + 8 * c)), sign_vec4<F>(a1));
        }
    }
};

struct DecIq2Xs : DAt<block_iq2_xs, offsetof(block_iq2_xs, d), 8> {
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        scales_nibbles(d, p + offsetof(block_iq2_xs, scales));
        for (int c = 0; c < 8; ++c) {
            const auto q = F::u16x4(p + offsetof(block_iq2_xs, qs) + 8 * c);
            set_chunk_pm(d, c, F::grid4(kIq2xsGrid, F::and_(q, 511)), F::grid4(kSignVecs.v, F::shr(q, 9)));
        }
    }
};

struct DecIq2S : DAt<block_iq2_s, offsetof(block_iq2_s, d), 8> {
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        const auto& b = *reinterpret_cast<const block_iq2_s*>(p);
        scales_nibbles(d, b.scales);
        for (int c = 0; c < 8; ++c)
            set_chunk(d, c, F::grid4(kIq2sGrid, index4<F>(b.qs + 4 * c, b.qh[c], {{0, 2, 4, 6}}, 3)), u32(b.signs + 4 * c));
    }
};

struct DecIq3Xxs : DAt<block_iq3_xxs, offsetof(block_iq3_xxs, d), 4> {
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        const auto& b = *reinterpret_cast<const block_iq3_xxs*>(p);
        for (int c = 0; c < 8; ++c) {
            const uint32_t a = u32(b.sas + 4 * c);
            d.sc[c] = _mm256_set1_epi16(int16_t(2 * (a >> 28) + 1));
            set_chunk_pm(d, c, F::grid8(kIq3xxsGrid, F::bytes8(b.qs + 8 * c)), sign_vec4<F>(a));
        }
    }
};

struct DecIq3S : DAt<block_iq3_s, offsetof(block_iq3_s, d), 1> {
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        const auto& b = *reinterpret_cast<const block_iq3_s*>(p);
        for (int c = 0; c < 8; ++c) {
            d.sc[c] = _mm256_set1_epi16(int16_t(2 * ((b.scales[c / 2] >> (4 * (c % 2))) & 15) + 1));
            const auto idx = F::or_(F::bytes8(b.qs + 8 * c), F::shl(F::bits8(b.qh[c]), 8));
            set_chunk(d, c, F::grid8(kIq3sGrid, idx), u32(b.signs + 4 * c));
        }
    }
};

struct DecIq1S : DAt<block_iq1_s, offsetof(block_iq1_s, d), 8> {
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        const auto& b = *reinterpret_cast<const block_iq1_s*>(p);
        for (int c = 0; c < 8; ++c) {
            const uint32_t qh = u16(p + offsetof(block_iq1_s, qh) + 2 * c);
            d.sc[c] = _mm256_set1_epi16(int16_t(2 * ((qh >> 12) & 7) + 1));
            const __m256i g = F::grid4(kIq1sGrid, index4<F>(b.qs + 4 * c, qh, {{0, 3, 6, 9}}, 7));
            set_chunk_signed(d, c, iq1_values(g, _mm256_set1_epi8(qh & 0x8000 ? -1 : 1)));
        }
    }
};

// IQ1_M: d is the top nibbles of the four scale words.
struct DecIq1M {
    using Block = block_iq1_m;
    static constexpr float kDFactor = 0.125f;
    static uint16_t d16(const uint8_t* p) {
        const uint8_t* s = p + offsetof(block_iq1_m, scales);
        return uint16_t((u16(s) >> 12) | ((u16(s + 2) >> 8) & 0x00f0) | ((u16(s + 4) >> 4) & 0x0f00) |
                        (u16(s + 6) & 0xf000));
    }
    // the same for 8 blocks, from their scale dwords 0 (w01) and 1 (w23)
    static __m256i d16x8(__m256i w01, __m256i w23) {
        return _mm256_or_si256(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w01, 12), _mm256_set1_epi32(0x000f)),
                                               _mm256_and_si256(_mm256_srli_epi32(w01, 24), _mm256_set1_epi32(0x00f0))),
                               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(w23, 4), _mm256_set1_epi32(0x0f00)),
                                               _mm256_and_si256(_mm256_srli_epi32(w23, 16), _mm256_set1_epi32(0xf000))));
    }
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        const auto& b = *reinterpret_cast<const block_iq1_m*>(p);
        F::scales_3bit(p + offsetof(block_iq1_m, scales), d.sc);
        for (int c = 0; c < 8; ++c) {
            const uint32_t h = uint32_t(b.qh[2 * c] | b.qh[2 * c + 1] << 8);
            const __m256i g = F::grid4(kIq1sGrid, index4<F>(b.qs + 4 * c, h, {{0, 4, 8, 12}}, 7));
            // the delta of group l: +1 or -1 from bit 3 of its nibble
            set_chunk_signed(d, c, iq1_values(g, F::pm1x4(F::fields4(h, {{3, 7, 11, 15}}, 1))));
        }
    }
};

struct DecTq2 : DAt<block_tq2_0, offsetof(block_tq2_0, d), 1> {
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        for (int c = 0; c < 8; ++c) {
            d.sc[c] = _mm256_set1_epi16(1);
            set_chunk_signed(d, c, _mm256_sub_epi8(bits_at(load256(p + 32 * (c / 4)), 2 * (c % 4), 3), _mm256_set1_epi8(1)));
        }
    }
};

struct DecTq1 : DAt<block_tq1_0, offsetof(block_tq1_0, d), 1> {
    template <class F>
    static void decode(const uint8_t* p, IqDec& d) {
        __m256i q[8];
        tq1_chunks(p, q);
        for (int c = 0; c < 8; ++c) d.sc[c] = _mm256_set1_epi16(1), set_chunk_signed(d, c, q[c]);
    }
};

template <class F>
constexpr bool kAllIqDecoders = IqDecoder<DecIq2Xxs, F> && IqDecoder<DecIq2Xs, F> && IqDecoder<DecIq2S, F> &&
                                IqDecoder<DecIq3Xxs, F> && IqDecoder<DecIq3S, F> && IqDecoder<DecIq1S, F> &&
                                IqDecoder<DecIq1M, F> && IqDecoder<DecTq2, F> && IqDecoder<DecTq1, F>;
static_assert(kAllIqDecoders<ScalarFetch>);
static_assert(kAllIqDecoders<GatherFetch>);

// For the GEMM panels: codes q + 64 (unsigned, <= 126, for maddubs /
// vpdpbusd), the 64 taken off as 64 sc_h bsum_h; K: the ISA's K-quant
// decoded block (q, sc, coef).
template <class K>
inline void to_biased(const IqDec& d, K& k) {
    alignas(32) int16_t coef[16];
    for (int c = 0; c < 8; ++c) {
        k.q[c] = _mm256_add_epi8(_mm256_sign_epi8(d.aq[c], d.q[c]), _mm256_set1_epi8(64));
        k.sc[c] = d.sc[c];
        coef[2 * c] = int16_t(64 * _mm256_extract_epi16(d.sc[c], 0));
        coef[2 * c + 1] = int16_t(64 * _mm256_extract_epi16(d.sc[c], 8));
    }
    k.coef = _mm256_load_si256(reinterpret_cast<const __m256i*>(coef));
}

}  // namespace iq
}  // namespace qlm::cpu::QLM_X86_NS
