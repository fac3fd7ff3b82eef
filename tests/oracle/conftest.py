"""Shared helpers for the oracle tests: paths to our binaries, and random
GGML blocks with finite scales for the types gguf.quants implements."""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

HELPER = os.environ.get("QLM_ORACLE_HELPER", "")
QLM = os.environ.get("QLM_BIN", "")
MODEL = os.environ.get("QLM_MODEL", "")

# Byte offsets of the fp16 scale fields in each block, from the block layouts.
FP16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0],
    T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0], T.IQ3_XXS: [0], T.IQ3_S: [0], T.IQ1_S: [0],
    T.TQ1_0: [52], T.TQ2_0: [64],
}

# Scales worth forcing: the largest finite half, the smallest subnormal, the
# smallest normal, one, negative values and both zeros.
EXTREME_HALVES = np.array([0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x0400, 0x3C00, 0xBC00, 0x0000, 0x8000, 0x03FF],
                          dtype=np.uint16)


def run_helper(*args):
    if not HELPER:
        pytest.fail("QLM_ORACLE_HELPER is not set (run through ctest)")
    res = subprocess.run([HELPER, *map(str, args)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def qlm_dequantize(qtype, blocks: np.ndarray, tmp: Path) -> np.ndarray:
    src, dst = tmp / f"{qtype.name}.bin", tmp / f"{qtype.name}.f32"
    blocks.tofile(src)
    run_helper("dequant", qtype.name, src, dst)
    return np.fromfile(dst, dtype=np.float32)


def qlm_quantize(qtype, values: np.ndarray, tmp: Path) -> np.ndarray:
    src, dst = tmp / f"{qtype.name}.in.f32", tmp / f"{qtype.name}.q"
    values.astype(np.float32).tofile(src)
    run_helper("quant", qtype.name, src, dst)
    return np.fromfile(dst, dtype=np.uint8)


def random_finite_halves(rng, n):
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    bad = (h & 0x7C00) == 0x7C00  # inf/NaN exponent
    h[bad] &= 0xBFFF  # clear the top exponent bit: finite
    return h


def random_blocks(qtype, n_blocks, rng) -> np.ndarray:
    """Random bytes for every field, then the scale fields made finite; the
    first blocks get the extreme scales so those are always covered."""
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint32).astype(np.uint8)
    if qtype == T.MXFP4:
        e = raw[:, 0]
        # 0xFF is the E8M0 NaN; above 252 the largest element (12 * 2^(e-128)) overflows float32
        e[e > 252] = 252
        e[:4] = [0, 1, 2, 252]
    if qtype == T.IQ1_M:
        # the fp16 d is the top nibbles of the 4 uint16 scales (bytes 48..55)
        h = random_finite_halves(rng, n_blocks)
        k = min(len(EXTREME_HALVES), n_blocks)
        h[:k] = EXTREME_HALVES[:k]
        sc = raw[:, 48:56].copy().view(np.uint16) & np.uint16(0x0FFF)
        for i in range(4):
            sc[:, i] |= ((h >> np.uint16(4 * i)) & np.uint16(0xF)) << np.uint16(12)
        raw[:, 48:56] = sc.view(np.uint8)
    for off in FP16_FIELDS.get(qtype, []):
        h = random_finite_halves(rng, n_blocks)
        k = min(len(EXTREME_HALVES), n_blocks)
        h[:k] = EXTREME_HALVES[:k]
        raw[:, off:off + 2] = h.view(np.uint8).reshape(n_blocks, 2)
    return raw
