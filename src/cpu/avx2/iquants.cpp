// AVX2 tiles for the low-bit lattice formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS,
// IQ2_S, IQ3_XXS, IQ3_S) and the ternary TQ1_0 / TQ2_0, against Q8_K.
//
// A super-block decodes to 8 x 32 signed int8 values q and int16 scales per
// 16 elements, the integer form of formats/iquants.h (fmt::IqInts):
//   S = sum_h sc_h <q, x>_h  (exact int32),  block scale d * factor
// so rows8.h's driver gives them the float order of src/cpu/kernels.h. The
// grid points are fetched with scalar loads (4 x 64-bit per 32 elements,
// IQ3: 8 x 32-bit) and the sign bits expanded with a shuffle and a compare;
// the product is maddubs(|q|, sign(x, q)) then madd with the scales.
#include "cpu/avx2/kquant_decode.h"
#include "cpu/avx2/rows8.h"
#include "formats/ternary.h"

namespace qlm::cpu::avx2 {
namespace {

using namespace fmt;
using namespace kq;
using Dec8 = KDec<Mode::Signed>;

// Sign bytes of 4 groups of 8 from 4 packed 7-bit codes (bits 0, 7, 14, 21).
// The 128 IQ2/IQ3 sign codes (formats/iquants.h iq2_sign_byte) as 8-byte
// vectors, +1 (0x01) or -1 (0xff) per element: the q of a chunk with 7-bit
// sign codes is 4 loads, no bit expansion.
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
inline __m256i sign_vec4(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3) {
    return _mm256_set_epi64x(int64_t(kSignVecs.v[c3 & 127]), int64_t(kSignVecs.v[c2 & 127]),
                             int64_t(kSignVecs.v[c1 & 127]), int64_t(kSignVecs.v[c0 & 127]));
}
inline __m256i sign_vec4(uint32_t a) { return sign_vec4(a, a >> 7, a >> 14, a >> 21); }


// Chunk c from unsigned grid magnitudes g and 32 sign bits: q = +-1 (the sign
// the product takes), aq = g.
inline void set_chunk(Dec8& d, int c, __m256i g, uint32_t signs) {
    const __m256i neg = bytes_from_bits32(reinterpret_cast<const uint8_t*>(&signs));
    d.q[c] = _mm256_or_si256(neg, _mm256_set1_epi8(1));
    d.aq[c] = g;
}
// Chunk c from grid magnitudes g and +-1 signs.
inline void set_chunk_pm(Dec8& d, int c, __m256i g, __m256i pm) {
    d.q[c] = pm;
    d.aq[c] = g;
}
// Chunk c from signed values.
inline void set_chunk_signed(Dec8& d, int c, __m256i q) {
    d.q[c] = q;
    d.aq[c] = _mm256_sign_epi8(q, q);
}

inline uint32_t u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline __m256i grid4(const uint64_t* grid, int i0, int i1, int i2, int i3) {
    return _mm256_set_epi64x(int64_t(grid[i3]), int64_t(grid[i2]), int64_t(grid[i1]), int64_t(grid[i0]));
}
inline __m256i grid8(const uint32_t* grid, const int* i) {
    return _mm256_setr_epi32(int(grid[i[0]]), int(grid[i[1]]), int(grid[i[2]]), int(grid[i[3]]), int(grid[i[4]]),
                             int(grid[i[5]]), int(grid[i[6]]), int(grid[i[7]]));
}
inline void scales_per32(Dec8& d, const int* ls) {
    for (int c = 0; c < 8; ++c) d.sc[c] = _mm256_set1_epi16(int16_t(ls[c]));
}
// nibble h of 8 bytes -> odd scales 2s + 1 per 16 elements
inline void scales_nibbles(Dec8& d, const uint8_t* s8) {
    int16_t s[16];
    for (int h = 0; h < 16; ++h) s[h] = int16_t(2 * ((s8[h / 2] >> (4 * (h % 2))) & 15) + 1);
    set_scales(d, s);
}

void decode_iq2_xxs(const uint8_t* p, Dec8& d) {
    d.d = fp16_load(p) * 0.125f, d.dmin = 0;
    const uint8_t* qs = p + offsetof(block_iq2_xxs, qs);
    int ls[8];
    for (int c = 0; c < 8; ++c) {
        const uint32_t a0 = u32(qs + 8 * c), a1 = u32(qs + 8 * c + 4);
        ls[c] = int(2 * (a1 >> 28) + 1);
        set_chunk_pm(d, c, grid4(kIq2xxsGrid, a0 & 255, (a0 >> 8) & 255, (a0 >> 16) & 255, a0 >> 24), sign_vec4(a1));
    }
    scales_per32(d, ls);
}

void decode_iq2_xs(const uint8_t* p, Dec8& d) {
    const auto& b = *reinterpret_cast<const block_iq2_xs*>(p);
    d.d = fp16_load(p) * 0.125f, d.dmin = 0;
    scales_nibbles(d, b.scales);
    for (int c = 0; c < 8; ++c) {
        uint16_t q[4];
        std::memcpy(q, p + offsetof(block_iq2_xs, qs) + 8 * c, 8);
        set_chunk_pm(d, c, grid4(kIq2xsGrid, q[0] & 511, q[1] & 511, q[2] & 511, q[3] & 511),
                     sign_vec4(q[0] >> 9, q[1] >> 9, q[2] >> 9, q[3] >> 9));
    }
}

void decode_iq2_s(const uint8_t* p, Dec8& d) {
    const auto& b = *reinterpret_cast<const block_iq2_s*>(p);
    d.d = fp16_load(p) * 0.125f, d.dmin = 0;
    scales_nibbles(d, b.scales);
    for (int c = 0; c < 8; ++c) {
        const int h = b.qh[c];
        const uint8_t* q = b.qs + 4 * c;
        set_chunk(d, c,
                  grid4(kIq2sGrid, q[0] | (h & 3) << 8, q[1] | (h & 12) << 6, q[2] | (h & 48) << 4, q[3] | (h & 192) << 2),
                  u32(b.signs + 4 * c));
    }
}

void decode_iq3_xxs(const uint8_t* p, Dec8& d) {
    const auto& b = *reinterpret_cast<const block_iq3_xxs*>(p);
    d.d = fp16_load(p) * 0.25f, d.dmin = 0;
    int ls[8];
    for (int c = 0; c < 8; ++c) {
        const uint32_t a = u32(b.sas + 4 * c);
        ls[c] = int(2 * (a >> 28) + 1);
        int idx[8];
        for (int k = 0; k < 8; ++k) idx[k] = b.qs[8 * c + k];
        set_chunk_pm(d, c, grid8(kIq3xxsGrid, idx), sign_vec4(a));
    }
    scales_per32(d, ls);
}

void decode_iq3_s(const uint8_t* p, Dec8& d) {
    const auto& b = *reinterpret_cast<const block_iq3_s*>(p);
    d.d = fp16_load(p), d.dmin = 0;
    int ls[8];
    for (int c = 0; c < 8; ++c) {
        ls[c] = 2 * ((b.scales[c / 2] >> (4 * (c % 2))) & 15) + 1;
        int idx[8];
        for (int k = 0; k < 8; ++k) idx[k] = b.qs[8 * c + k] | ((b.qh[c] >> k) & 1) << 8;
        set_chunk(d, c, grid8(kIq3sGrid, idx), u32(b.signs + 4 * c));
    }
    scales_per32(d, ls);
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

// IQ1: q = 8 * grid + delta (+-1), grid in {-1, 0, 1}.
inline __m256i iq1_values(__m256i g, __m256i delta) {
    return _mm256_add_epi8(_mm256_sign_epi8(_mm256_set1_epi8(8), g), delta);
}

void decode_iq1_s(const uint8_t* p, Dec8& d) {
    const auto& b = *reinterpret_cast<const block_iq1_s*>(p);
    d.d = fp16_load(p) * 0.125f, d.dmin = 0;
    int ls[8];
    for (int c = 0; c < 8; ++c) {
        uint16_t qh;
        std::memcpy(&qh, p + offsetof(block_iq1_s, qh) + 2 * c, 2);
        ls[c] = 2 * ((qh >> 12) & 7) + 1;
        const uint8_t* q = b.qs + 4 * c;
        const __m256i g = grid4(kIq1sGrid, q[0] | (qh & 7) << 8, q[1] | (qh & 56) << 5, q[2] | (qh & 448) << 2,
                                q[3] | (qh & 3584) >> 1);
        set_chunk_signed(d, c, iq1_values(g, _mm256_set1_epi8(qh & 0x8000 ? -1 : 1)));
    }
    scales_per32(d, ls);
}

void decode_iq1_m(const uint8_t* p, Dec8& d) {
    const auto& b = *reinterpret_cast<const block_iq1_m*>(p);
    uint16_t sc[4];
    std::memcpy(sc, p + offsetof(block_iq1_m, scales), 8);
    const uint16_t h = uint16_t((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    d.d = _cvtsh_ss(h) * 0.125f, d.dmin = 0;
    int16_t s[16];
    for (int k = 0; k < 16; ++k) s[k] = int16_t(2 * ((sc[k / 4] >> (3 * (k % 4))) & 7) + 1);
    set_scales(d, s);
    for (int c = 0; c < 8; ++c) {
        const int h0 = b.qh[2 * c], h1 = b.qh[2 * c + 1];
        const uint8_t* q = b.qs + 4 * c;
        const __m256i g = grid4(kIq1sGrid, q[0] | (h0 & 7) << 8, q[1] | (h0 & 0x70) << 4, q[2] | (h1 & 7) << 8,
                                q[3] | (h1 & 0x70) << 4);
        auto dl = [](int nib) { return int64_t(nib & 8 ? 0xffffffffffffffffull : 0x0101010101010101ull); };
        const __m256i delta = _mm256_set_epi64x(dl(h1 >> 4), dl(h1), dl(h0 >> 4), dl(h0));
        set_chunk_signed(d, c, iq1_values(g, delta));
    }
}

void decode_tq2_0(const uint8_t* p, Dec8& d) {
    const auto& b = *reinterpret_cast<const block_tq2_0*>(p);
    d.d = fp16_load(p + offsetof(block_tq2_0, d)), d.dmin = 0;
    for (int c = 0; c < 8; ++c) d.sc[c] = _mm256_set1_epi16(1);
    for (int c = 0; c < 8; ++c)
        set_chunk_signed(d, c, _mm256_sub_epi8(bits_at(load256(b.qs + 32 * (c / 4)), 2 * (c % 4), 3), _mm256_set1_epi8(1)));
}

void decode_tq1_0(const uint8_t* p, Dec8& d) {
    d.d = fp16_load(p + offsetof(block_tq1_0, d)), d.dmin = 0;
    __m256i q[8];
    tq1_chunks(p, q);
    for (int c = 0; c < 8; ++c) d.sc[c] = _mm256_set1_epi16(1), set_chunk_signed(d, c, q[c]);
}

template <class Block, void (*Decode)(const uint8_t*, Dec8&)>
struct IQuant {
    static constexpr int kQK = QK_K;
    static constexpr DotKind kKind = DotKind::Plain;
    static constexpr size_t kWBytes = sizeof(Block), kXBytes = sizeof(block_q8_K);
    struct Dec {
        Dec8 k;
        float d, m;
    };
    static void decode(const uint8_t* p, Dec& d) {
        Decode(p, d.k);
        d.d = d.k.d, d.m = 0.0f;
    }
    static float xscale(const uint8_t* x) {
        float dy;
        std::memcpy(&dy, x, 4);
        return dy;
    }
    static __m256i isum(const Dec& dd, const uint8_t* x, __m256i&) {
        const uint8_t* qs = x + offsetof(block_q8_K, qs);
        __m256i s = _mm256_setzero_si256();
        for (int c = 0; c < 8; ++c)
            s = _mm256_add_epi32(s, _mm256_madd_epi16(dot_s8_i16(dd.k.q[c], dd.k.aq[c], load256(qs + 32 * c)), dd.k.sc[c]));
        return s;
    }
};

}  // namespace

// For the GEMM panels (gemm.cpp KQuant, Bias mode): codes q + 64 (unsigned,
// <= 126), the 64 taken off as 64 sc_h bsum_h; the same S and d as the tiles.
template <void (*Decode)(const uint8_t*, Dec8&)>
void decode_biased(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) {
    Dec8 d;
    Decode(p, d);
    k.d = d.d, k.dmin = 0;
    alignas(32) int16_t coef[16];
    for (int c = 0; c < 8; ++c) {
        k.q[c] = _mm256_add_epi8(_mm256_sign_epi8(d.aq[c], d.q[c]), _mm256_set1_epi8(64));
        k.sc[c] = d.sc[c];
        coef[2 * c] = int16_t(64 * _mm256_extract_epi16(d.sc[c], 0));
        coef[2 * c + 1] = int16_t(64 * _mm256_extract_epi16(d.sc[c], 8));
    }
    k.coef = _mm256_load_si256(reinterpret_cast<const __m256i*>(coef));
}
namespace iq {
void biased_iq2_xxs(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_iq2_xxs>(p, k); }
void biased_iq2_xs(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_iq2_xs>(p, k); }
void biased_iq2_s(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_iq2_s>(p, k); }
void biased_iq3_xxs(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_iq3_xxs>(p, k); }
void biased_iq3_s(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_iq3_s>(p, k); }
void biased_iq1_s(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_iq1_s>(p, k); }
void biased_iq1_m(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_iq1_m>(p, k); }
void biased_tq1_0(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_tq1_0>(p, k); }
void biased_tq2_0(const uint8_t* p, kq::KDec<kq::Mode::Bias>& k) { decode_biased<decode_tq2_0>(p, k); }
}  // namespace iq

void register_iquants(KernelTable& k) {
    k.tile[uint32_t(GgmlType::IQ2_XXS)] = rows8<IQuant<block_iq2_xxs, decode_iq2_xxs>>;
    k.tile[uint32_t(GgmlType::IQ2_XS)] = rows8<IQuant<block_iq2_xs, decode_iq2_xs>>;
    k.tile[uint32_t(GgmlType::IQ2_S)] = rows8<IQuant<block_iq2_s, decode_iq2_s>>;
    k.tile[uint32_t(GgmlType::IQ3_XXS)] = rows8<IQuant<block_iq3_xxs, decode_iq3_xxs>>;
    k.tile[uint32_t(GgmlType::IQ3_S)] = rows8<IQuant<block_iq3_s, decode_iq3_s>>;
    k.tile[uint32_t(GgmlType::IQ1_S)] = rows8<IQuant<block_iq1_s, decode_iq1_s>>;
    k.tile[uint32_t(GgmlType::IQ1_M)] = rows8<IQuant<block_iq1_m, decode_iq1_m>>;
    k.tile[uint32_t(GgmlType::TQ1_0)] = rows8<IQuant<block_tq1_0, decode_tq1_0>>;
    k.tile[uint32_t(GgmlType::TQ2_0)] = rows8<IQuant<block_tq2_0, decode_tq2_0>>;
}

}  // namespace qlm::cpu::avx2
