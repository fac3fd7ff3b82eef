"""Our reference dequantization must be bit-exact with gguf.quants for every
type the package implements, on random blocks including extreme scales."""
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

from conftest import qlm_dequantize, random_blocks

QUANT_TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K,
               T.IQ4_NL, T.IQ4_XS, T.MXFP4,
               T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M, T.TQ1_0, T.TQ2_0]


@pytest.mark.parametrize("qtype", QUANT_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_blocks_bit_exact(qtype, seed, tmp_path):
    rng = np.random.default_rng(seed * 1000 + int(qtype))
    blocks = random_blocks(qtype, 4096, rng)
    ours = qlm_dequantize(qtype, blocks, tmp_path)
    ref = quants.dequantize(blocks, qtype).reshape(-1).astype(np.float32)
    assert ours.shape == ref.shape
    assert np.all(np.isfinite(ref)), "test blocks must be NaN-free"
    diff = np.nonzero(ours.view(np.uint32) != ref.view(np.uint32))[0]
    assert diff.size == 0, (f"{diff.size} of {ref.size} values differ; first at {diff[0]}: "
                            f"ours {ours[diff[0]]!r} vs gguf {ref[diff[0]]!r}")


@pytest.mark.parametrize("qtype", [T.F16, T.BF16], ids=lambda t: t.name)
def test_float_types_bit_exact(qtype, tmp_path):
    # every 16-bit pattern except NaNs (whose payload handling is not specified)
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    if qtype == T.F16:
        ref = bits.view(np.float16).astype(np.float32)
    else:
        ref = quants.dequantize(bits.view(np.uint8), qtype).reshape(-1)
    keep = ~np.isnan(ref)
    ours = qlm_dequantize(qtype, bits[keep].view(np.uint8), tmp_path)
    assert np.array_equal(ours.view(np.uint32), ref[keep].view(np.uint32))
