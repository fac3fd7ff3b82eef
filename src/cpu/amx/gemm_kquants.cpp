// AMX GEMM for the super-block formats against Q8_K activations: Q2_K, Q3_K,
// Q4_K, Q5_K, Q6_K, IQ4_XS. The integer scale of each 16- or 32-element
// sub-block is folded into the codes while packing: w_e = sc_j(e) * q_e
// (int16, |w| <= 4096) is split into its bytes w = 256 * hi + lo (hi signed,
// lo unsigned 0..255), so a whole super-block is four K = 64 products per
// plane (tdpbssd for hi, tdpbusd for lo: A unsigned, B signed) and
//   S = sum_j sc_j <q, x>_j = sum_e w_e x_e = 256 <hi, x> + <lo, x>
// is exact in int32 (the same integer as the VNNI kernels' S; Q2_K's w fits
// int8: one plane). The formats with mins also need T = sum_k m_k bsum_k
// (m_k: the min of 16-element group k), an AVX-512 vpdpwssd dot of the
// mins with the activations' bsums. Then the float step of the VNNI
// kernels (cpu/kernels.h):
//   acc = fma(float(S), d * dx, acc)   [Min: acc = fnmadd(float(T), dmin * dx, acc)]
// Codes are signed (code offsets off while packing), so S needs no bias term.
#include "cpu/amx/gemm.h"
#include "cpu/avx512/kquant_decode.h"

#include <cstring>

namespace qlm::cpu::amx {
namespace {

using namespace avx512;

// One super-block for the few-row path: 4 x 64 codes in element order (the
// decoder's unsigned codes), their scales as int16 lanes (lane l: elements
// 2l, 2l + 1), the decoder's coef. Any decoder through its 256-bit chunks;
// Q4_K, Q5_K, Q6_K in 512 bits straight from the block.
struct Row512 {
    __m512i q[4], sc[4];
    __m256i coef;
};
inline __m512i join_i(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
// lanes 0-15 <- lane a of s, lanes 16-31 <- lane b
inline __m512i two_lanes(__m512i s, int a, int b) {
    return _mm512_permutexvar_epi16(
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(short(a))), _mm256_set1_epi16(short(b)), 1), s);
}
inline __m512i bcast256(const uint8_t* p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
constexpr __mmask32 kHiWords = 0xffff0000u;

template <class D>
inline void decode512(const uint8_t* p, Row512& r) {
    kq::KDec dec;
    D::decode(p, dec);
    for (int c = 0; c < 4; ++c) {
        __m256i s0 = dec.sc[2 * c], s1 = dec.sc[2 * c + 1];
        if constexpr (D::kWide) s0 = _mm256_packs_epi32(s0, s0), s1 = _mm256_packs_epi32(s1, s1);  // int32 s x 4 | s' x 4
        r.q[c] = join_i(dec.q[2 * c], dec.q[2 * c + 1]);
        r.sc[c] = join_i(s0, s1);
    }
    r.coef = dec.coef;
}
// Q4_K / Q5_K: chunk pair c = the low, then the high nibbles of qs[32c ..
// 32c + 31]; the 32-element groups' 6-bit scales.
inline void q4k_common(const uint8_t* scales, const uint8_t* qs, Row512& r) {
    uint64_t sc, mn;
    kq::scale_min_bytes_k4(scales, sc, mn);
    const __m128i m8 = _mm_cvtsi64_si128(int64_t(mn));
    r.coef = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));  // m_j for bsums 2j, 2j+1
    const __m512i s16 = _mm512_cvtepu8_epi16(_mm256_castsi128_si256(_mm_cvtsi64_si128(int64_t(sc))));
    const __m512i lo4 = _mm512_set1_epi8(0x0f);
    for (int c = 0; c < 4; ++c) {
        const __m512i z = bcast256(qs + 32 * c);
        r.q[c] = _mm512_and_si512(_mm512_mask_srli_epi16(z, kHiWords, z, 4), lo4);
        r.sc[c] = two_lanes(s16, 2 * c, 2 * c + 1);
    }
}
template <>
inline void decode512<kq::DecQ4_K>(const uint8_t* p, Row512& r) {
    q4k_common(p + offsetof(fmt::block_q4_K, scales), p + offsetof(fmt::block_q4_K, qs), r);
}
// Q5_K: the fifth bit of element 32j + l is bit j of qh[l].
template <>
inline void decode512<kq::DecQ5_K>(const uint8_t* p, Row512& r) {
    q4k_common(p + offsetof(fmt::block_q5_K, scales), p + offsetof(fmt::block_q5_K, qs), r);
    const __m512i h = bcast256(p + offsetof(fmt::block_q5_K, qh)), bit4 = _mm512_set1_epi8(0x10);
    const __m512i hs = _mm512_mask_srli_epi16(h, kHiWords, h, 1);  // bits 2c | 2c + 1 at bit 2c
    for (int c = 0; c < 4; ++c) {
        const __m512i at4 = c < 2 ? _mm512_slli_epi16(hs, 4 - 2 * c) : _mm512_srli_epi16(hs, 2 * c - 4);
        r.q[c] = _mm512_or_si512(r.q[c], _mm512_and_si512(at4, bit4));
    }
}
// Q6_K: elements 128h + 64g .. + 63 are the low (g = 0) or high (g = 1)
// nibbles of ql[64h .. 64h + 63], their top two bits qh[32h + l] bits 4g
// (first 32) and 4g + 2 (next 32); 16-element groups' int8 scales.
template <>
inline void decode512<kq::DecQ6_K>(const uint8_t* p, Row512& r) {
    const auto& b = *reinterpret_cast<const fmt::block_q6_K*>(p);
    const __m512i s16 =
        _mm512_cvtepi8_epi16(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales))));
    const __m512i lo4 = _mm512_set1_epi8(0x0f), b45 = _mm512_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
        const __m512i l = _mm512_loadu_si512(b.ql + 64 * h);
        const __m512i z = bcast256(b.qh + 32 * h);
        const __m512i hs = _mm512_mask_srli_epi16(z, kHiWords, z, 2);  // bits 0-1 | 2-3 at bits 0-1
        r.q[2 * h] = _mm512_or_si512(_mm512_and_si512(l, lo4), _mm512_and_si512(_mm512_slli_epi16(hs, 4), b45));
        r.q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), lo4), _mm512_and_si512(hs, b45));
    }
    for (int c = 0; c < 4; ++c) {
        const __m512i idx = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_setr_m128i(_mm_set1_epi16(short(4 * c)), _mm_set1_epi16(short(4 * c + 1)))),
            _mm256_setr_m128i(_mm_set1_epi16(short(4 * c + 2)), _mm_set1_epi16(short(4 * c + 3))), 1);
        r.sc[c] = _mm512_permutexvar_epi16(idx, s16);
    }
    r.coef = _mm256_setzero_si256();  // the code offset comes off in the fold
}

// The weights as A: 16 weight rows of a plane, row-major as decoded (no
// transpose); B = the activation rows in the VNNI layout (transposed once
// per call); C = weight row x activation row. The float step runs per
// weight row with the activation rows as lanes (d * dx as dx * d: the same
// product), and the 16 x 16 results are transposed on the way to y. The
// scale fold runs in bytes: vpmaddubsw of the codes with the scales on the
// even (odd) bytes gives sc * q of the even (odd) elements in int16, whose
// hi / lo bytes go back in place with shifts and a vpternlog bit-select (no
// widening, no narrowing shuffles). The mins: vpdpwssd of the weight row's min pairs
// with the activation rows' bsum pairs.
//
// (Until 2026-12-05 the many-row calls took panels of the other
// orientation, the weights transposed into the VNNI layout: this path beat
// them at every m measured once it ran the activation rows in blocks that
// stay in L2; bench/results/kernel-thresholds.md.)
template <class D, GgmlType T, int Off, int Planes>
struct KQuantRows {
    static constexpr bool kMinK = D::kMode == kq::Mode::Min;
    // The mins as int16 pairs against pairs of bsums: Q2_K (a min per 16
    // elements) pairs the Q8_K bsums as stored (8 dwords); Q4_K and Q5_K (a
    // min per 32: coef_2k = coef_2k+1) pair two 32-element groups against
    // bsum pairs added once per call (4 dwords).
    static constexpr int kMinDw = !kMinK ? 0 : (T == GgmlType::Q2_K ? 8 : 4);
    static constexpr size_t kWBytes = D::kWBytes, kXBytes = sizeof(fmt::block_q8_K);
    // per super-block of a panel: Planes x (16 rows x 256 bytes), d[16],
    // dmin[16], the rows' min pairs [16][kMinDw]
    static constexpr int64_t kDOff = Planes * 4096, kMOff = kDOff + 128;
    static constexpr int64_t kBlockBytes = kMOff + 16 * kMinDw * 4;
    // per super-block of a group of 16 activation rows: 4 B tiles, dx[16],
    // the bsum pairs [kMinDw][16]
    static constexpr int64_t kXDx = 4096, kXPairs = kXDx + 64, kXBlock = kXPairs + kMinDw * 64;
    static_assert(Off == 0 || Off == 4 || Off == 32 || Off == 128);
    static constexpr int kOffShift = Off == 4 ? 2 : Off == 32 ? 5 : 7;
    static constexpr int64_t kRowsChunk = 2;
    static constexpr int64_t kRowsBytes = 1 << 20, kKBlocks = 16;

    // 64 elements' w = sc * (q - Off) as planes (bytes, in element order):
    // Planes 1: w (int8); 2: hi = w >> 8 (int8), lo = w & 255 (uint8).
    static void fold(__m512i q, __m512i sc, __m512i* out) {
        const __m512i ff = _mm512_set1_epi16(0x00ff);
        __m512i we = _mm512_maddubs_epi16(q, _mm512_and_si512(sc, ff));  // even elements
        __m512i wo = _mm512_maddubs_epi16(q, _mm512_slli_epi16(sc, 8));  // odd elements
        if constexpr (Off != 0) {
            const __m512i o = _mm512_slli_epi16(sc, kOffShift);
            we = _mm512_sub_epi16(we, o), wo = _mm512_sub_epi16(wo, o);
        }
        // bytes back in place: the low byte from the even lane, the high byte
        // from the odd lane shifted up (vpternlog 0xe4: ff ? even : odd)
        if constexpr (Planes == 1) {
            out[0] = _mm512_ternarylogic_epi32(we, _mm512_slli_epi16(wo, 8), ff, 0xe4);
        } else {
            // hi: the high byte of each product (|w| <= 4096), the odd
            // lane's already in place
            out[0] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(we, 8), wo, ff, 0xe4);
            // lo: the low byte
            out[1] = _mm512_ternarylogic_epi32(we, _mm512_slli_epi16(wo, 8), ff, 0xe4);
        }
    }

    // rows (1..16) weight rows, nb super-blocks
    static void pack(const uint8_t* w, size_t stride, int rows, int64_t nb, uint8_t* out, int32_t* draw) {
        for (int j = 0; j < 16; ++j) {
            for (int64_t b = 0; b < nb; ++b) {
                uint8_t* o = out + b * kBlockBytes + j * 256;
                int32_t* mins = reinterpret_cast<int32_t*>(out + b * kBlockBytes + kMOff) + j * kMinDw;
                if (j >= rows) {
                    for (int p = 0; p < Planes; ++p) std::memset(o + p * 4096, 0, 256);
                    for (int p = 0; p < kMinDw; ++p) mins[p] = 0;
                    draw[b * 16 + j] = draw[b * 16 + rows - 1];
                    continue;
                }
                const uint8_t* wb = w + j * stride + b * kWBytes;
                // the next panel's row j (prefetches do not fault past the end):
                // 16 short row streams are more than the hardware prefetcher follows
                for (size_t l = 0; l < kWBytes; l += 64)
                    _mm_prefetch(reinterpret_cast<const char*>(wb + 16 * stride + l), _MM_HINT_T0);
                std::memcpy(&draw[b * 16 + j], wb + D::kDOff, 4);
                Row512 dec;
                decode512<D>(wb, dec);
                for (int c = 0; c < 4; ++c) {
                    __m512i v[Planes];
                    fold(dec.q[c], dec.sc[c], v);
                    for (int p = 0; p < Planes; ++p) _mm512_store_si512(o + p * 4096 + 64 * c, v[p]);
                }
                // the min pairs: Q2_K's coef as it is (8 dwords); Q4_K / Q5_K
                // coef_2k = coef_2k+1, so the low word of each dword, packed
                if constexpr (kMinDw == 8)
                    _mm256_storeu_si256(reinterpret_cast<__m256i*>(mins), dec.coef);
                else if constexpr (kMinDw == 4)
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(mins), _mm256_cvtepi32_epi16(dec.coef));
            }
        }
        for (int64_t b = 0; b < nb; ++b) {
            uint8_t* o = out + b * kBlockBytes;
            const int32_t* dr = draw + b * 16;
            __m256 d0, m0, d1, m1;
            D::scales(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(dr)), d0, m0);
            D::scales(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(dr + 8)), d1, m1);
            _mm512_store_ps(o + kDOff, join(d0, d1));
            _mm512_store_ps(o + kDOff + 64, join(m0, m1));
        }
    }

    // 16 x 16 dwords: r[i] lane j -> r[j] lane i.
    static void transpose16(__m512i* r) {
        __m512i t[16];
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
        }
        for (int i = 0; i < 16; i += 4) {
            r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
            r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
            r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
            r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
        }
        // r[4a + b] now holds rows 4a .. 4a + 3, dword b of each 128-bit lane
        for (int i = 0; i < 8; ++i) {
            const int a = i / 4, bb = i % 4;
            t[i] = _mm512_shuffle_i32x4(r[8 * a + bb], r[8 * a + 4 + bb], 0x88);      // lanes 0, 2 | 0, 2
            t[i + 8] = _mm512_shuffle_i32x4(r[8 * a + bb], r[8 * a + 4 + bb], 0xdd);  // lanes 1, 3 | 1, 3
        }
        for (int i = 0; i < 4; ++i) {
            // t[i] (rows 0-7, 128-bit lanes 0 and 2) with t[4 + i] (rows 8-15)
            r[i] = _mm512_shuffle_i32x4(t[i], t[4 + i], 0x88);
            r[i + 8] = _mm512_shuffle_i32x4(t[i], t[4 + i], 0xdd);
            r[i + 4] = _mm512_shuffle_i32x4(t[8 + i], t[12 + i], 0x88);
            r[i + 12] = _mm512_shuffle_i32x4(t[8 + i], t[12 + i], 0xdd);
        }
    }

    // Activation rows i0 .. i0 + 15 (those < m; the rest zero) per
    // super-block: 4 B tiles (tile s, row kk, lane n: row n's bytes
    // 64s + 4kk .. + 3), dx per row, the bsum pairs per row.
    static void pack_x(const MatmulTile& t, int i0, int64_t nb, uint8_t* xb) {
        const int g = int(imin(16, t.m - i0));
        for (int64_t b = 0; b < nb; ++b) {
            uint8_t* o = xb + b * kXBlock;
            for (int s = 0; s < 4; ++s) {
                __m512i r[16];
                for (int n = 0; n < 16; ++n)
                    r[n] = n < g ? _mm512_loadu_si512(t.x + (i0 + n) * t.x_stride + b * kXBytes +
                                                      offsetof(fmt::block_q8_K, qs) + 64 * s)
                                 : _mm512_setzero_si512();
                transpose16(r);
                for (int kk = 0; kk < 16; ++kk) _mm512_store_si512(o + 1024 * s + 64 * kk, r[kk]);
            }
            float* dx = reinterpret_cast<float*>(o + kXDx);
            int32_t* pr = reinterpret_cast<int32_t*>(o + kXPairs);
            for (int n = 0; n < 16; ++n) {
                const uint8_t* xr = t.x + (i0 + n) * t.x_stride + b * kXBytes;
                dx[n] = n < g ? f32(xr) : 0.0f;
                if constexpr (kMinDw > 0) {
                    int16_t bs[16] = {};
                    if (n < g) std::memcpy(bs, xr + offsetof(fmt::block_q8_K, bsums), sizeof bs);
                    for (int p = 0; p < kMinDw; ++p) {
                        const int16_t lo = kMinDw == 8 ? bs[2 * p] : int16_t(bs[4 * p] + bs[4 * p + 1]);
                        const int16_t hi = kMinDw == 8 ? bs[2 * p + 1] : int16_t(bs[4 * p + 2] + bs[4 * p + 3]);
                        pr[p * 16 + n] = int32_t(uint32_t(uint16_t(lo)) | uint32_t(uint16_t(hi)) << 16);
                    }
                }
            }
        }
    }

    static void products(const uint8_t* o, const uint8_t* xs, int32_t* cbuf) {
        _tile_zero(0);
        if constexpr (Planes > 1) _tile_zero(1);
        for (int s = 0; s < 4; ++s) {
            _tile_loadd(4, xs + 1024 * s, 64);
            _tile_loadd(6, o + 64 * s, 256);
            _tile_dpbssd(0, 6, 4);
            if constexpr (Planes > 1) {
                _tile_loadd(7, o + 4096 + 64 * s, 256);
                _tile_dpbusd(1, 7, 4);  // lo: unsigned
            }
        }
        _tile_stored(0, cbuf, 64);
        if constexpr (Planes > 1) _tile_stored(1, cbuf + 256, 64);
    }

    // Many rows (more than kRowsBytes / k): chunks of kKBlocks super-blocks
    // of k, each chunk's sums continuing from y (the same fma chain per
    // output: a float stored and loaded back is the same), and per chunk
    // blocks of activation rows whose transposed activations stay in L2,
    // each its own pass over the chunk's weights.
    static void run(const MatmulTile& t) {
        if (t.m <= kRowsBytes / t.k) return block(t, false);  // fits as it is
        const int64_t nb = t.k / fmt::QK_K, kb = imin(kKBlocks, nb);
        const int mb = int(std::max<int64_t>(32, kRowsBytes / (kb * fmt::QK_K) / 16 * 16));
        for (int64_t c0 = 0; c0 < nb; c0 += kb)
            for (int i0 = 0; i0 < t.m; i0 += mb) {
                MatmulTile s = t;
                s.w = t.w + c0 * kWBytes, s.x = t.x + i0 * t.x_stride + c0 * kXBytes, s.k = imin(kb, nb - c0) * fmt::QK_K;
                s.y = t.y + i0 * t.ldy, s.m = int(imin(mb, t.m - i0));
                block(s, c0 > 0);
            }
    }

    static void block(const MatmulTile& t, bool from_y) {
        const int64_t nb = t.k / fmt::QK_K;
        const int groups = (t.m + 15) / 16;
        uint8_t* xb = static_cast<uint8_t*>(scratch(4, size_t(groups * nb * kXBlock)));
        for (int gi = 0; gi < groups; ++gi) pack_x(t, 16 * gi, nb, xb + gi * nb * kXBlock);
        // A 16-row panel is packed and used kRowsChunk super-blocks at a time
        // (those stay in L1 from their packing through every group's products;
        // the groups' sums wait in accs between chunks: the same fma chain
        // per output).
        const int64_t kc = imin(kRowsChunk, nb);
        uint8_t* pk = static_cast<uint8_t*>(scratch(3, size_t(kc * kBlockBytes)));
        int32_t* draw = static_cast<int32_t*>(scratch(1, size_t(kc * 16) * 4));
        int32_t* cbuf = static_cast<int32_t*>(scratch(2, 2 * 1024));
        __m512* accs = static_cast<__m512*>(scratch(0, size_t(groups) * 16 * 64));
        configure(16, 64);
        for (int64_t r = t.r0; r < t.r1; r += 16) {
            const int rows = int(imin(16, t.r1 - r));
            for (int64_t c0 = 0; c0 < nb; c0 += kc) {
                const int64_t c1 = imin(nb, c0 + kc);
                pack(t.w + r * t.w_stride + c0 * kWBytes, t.w_stride, rows, c1 - c0, pk, draw);
                for (int gi = 0; gi < groups; ++gi) {
                    __m512 acc[16];
                    if (c0 > 0) {
                        for (int j = 0; j < 16; ++j) acc[j] = accs[gi * 16 + j];
                    } else if (from_y) {  // y's rows as lanes: the 16 x 16 outputs transposed
                        alignas(64) float in[16][16] = {};
                        const int g = int(imin(16, t.m - 16 * gi));
                        for (int i = 0; i < g; ++i)
                            for (int j = 0; j < rows; ++j) in[j][i] = t.y[(16 * gi + i) * t.ldy + r + j];
                        for (int j = 0; j < 16; ++j) acc[j] = _mm512_load_ps(in[j]);
                    } else {
                        for (int j = 0; j < 16; ++j) acc[j] = _mm512_setzero_ps();
                    }
                    for (int64_t b = c0; b < c1; ++b) {
                        const uint8_t* o = pk + (b - c0) * kBlockBytes;
                        const uint8_t* xo = xb + (gi * nb + b) * kXBlock;
                        products(o, xo, cbuf);
                        const __m512 dx = _mm512_load_ps(xo + kXDx);
                        const float* d = reinterpret_cast<const float*>(o + kDOff);
                        __m512i xp[kMinDw ? kMinDw : 1];
                        for (int p = 0; p < kMinDw; ++p) xp[p] = _mm512_load_si512(xo + kXPairs + 64 * p);
                        const int32_t* mins = reinterpret_cast<const int32_t*>(o + kMOff);
#pragma GCC unroll 16
                        for (int j = 0; j < 16; ++j) {
                            __m512i sv = _mm512_load_si512(cbuf + 16 * j);
                            if constexpr (Planes == 2)
                                sv = _mm512_add_epi32(_mm512_slli_epi32(sv, 8), _mm512_load_si512(cbuf + 256 + 16 * j));
                            acc[j] = _mm512_fmadd_ps(cvt(sv), _mm512_mul_ps(_mm512_set1_ps(d[j]), dx), acc[j]);
                            if constexpr (kMinDw > 0) {
                                __m512i tt = _mm512_setzero_si512();
                                for (int p = 0; p < kMinDw; ++p)
                                    tt = _mm512_dpwssd_epi32(tt, xp[p], _mm512_set1_epi32(mins[j * kMinDw + p]));
                                acc[j] =
                                    _mm512_fnmadd_ps(cvt(tt), _mm512_mul_ps(_mm512_set1_ps(d[16 + j]), dx), acc[j]);
                            }
                        }
                    }
                    if (c1 < nb) {
                        for (int j = 0; j < 16; ++j) accs[gi * 16 + j] = acc[j];
                        continue;
                    }
                    alignas(64) float out[16][16];
                    for (int j = 0; j < 16; ++j) _mm512_store_ps(out[j], acc[j]);
                    const int g = int(imin(16, t.m - 16 * gi));
                    for (int i = 0; i < g; ++i)
                        for (int j = 0; j < rows; ++j) t.y[(16 * gi + i) * t.ldy + r + j] = out[j][i];
                }
            }
        }
        _tile_release();
    }
};

// From MinSmall activation rows (below: the VNNI tiles, whose decode work
// per weight block is shared by fewer rows); MinSmall per type from the
// measurements in bench/results/kernel-thresholds.md.
template <class D, GgmlType T, int Off, int Planes, int MinSmall>
void gemm_k(const MatmulTile& t) {
    if (t.m < MinSmall) return g_fallback[uint32_t(T)](t);
    KQuantRows<D, T, Off, Planes>::run(t);
}

template <class D, GgmlType T, int Off, int Planes, int MinSmall>
void set(Entry* e) {
    e[uint32_t(T)] = {gemm_k<D, T, Off, Planes, MinSmall>, MinSmall};
}

}  // namespace

void register_kquants(Entry* e) {
    using namespace kq;
    // |sc * q|: Q2_K 15 * 3 (int8), Q3_K 32 * 4, Q4_K 63 * 15, Q5_K 63 * 31,
    // Q6_K 128 * 32, IQ4_XS 32 * 127 (two planes)
    set<DecQ2_K, GgmlType::Q2_K, 0, 1, 6>(e);
    set<DecQ3_K, GgmlType::Q3_K, 4, 2, 7>(e);
    set<DecQ4_K, GgmlType::Q4_K, 0, 2, 7>(e);
    set<DecQ5_K, GgmlType::Q5_K, 0, 2, 6>(e);
    set<DecQ6_K, GgmlType::Q6_K, 32, 2, 8>(e);
    set<DecIq4Xs, GgmlType::IQ4_XS, 128, 2, 6>(e);
}

}  // namespace qlm::cpu::amx
