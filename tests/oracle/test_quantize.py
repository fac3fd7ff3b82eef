"""Our reference quantizers must produce the same bytes as gguf.quants for the
types it quantizes. Inputs mix distributions that stress the rounding: normal,
uniform, heavy outliers, exact-tie multiples and all-zero blocks."""
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

from conftest import qlm_quantize

TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.MXFP4, T.F16, T.BF16]


def inputs(seed):
    rng = np.random.default_rng(seed)
    parts = [
        rng.standard_normal(32 * 512),
        rng.uniform(-1, 1, 32 * 256),
        rng.standard_normal(32 * 256) * np.where(rng.random(32 * 256) < 0.02, 100.0, 1.0),
        np.round(rng.standard_normal(32 * 256) * 8) / 8,  # many exact ties
        np.zeros(32 * 4),
        rng.standard_normal(32 * 64) * 1e-6,
        rng.standard_normal(32 * 64) * 3e4,
        0.1 + 2 * np.cos(np.arange(32 * 128)),
    ]
    return np.concatenate(parts).astype(np.float32)


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("seed", [7, 8])
def test_quantize_bit_exact(qtype, seed, tmp_path):
    x = inputs(seed)
    ours = qlm_quantize(qtype, x, tmp_path)
    ref = np.ascontiguousarray(quants.quantize(x, qtype)).view(np.uint8).reshape(-1)
    assert ours.shape == ref.shape
    diff = np.nonzero(ours != ref)[0]
    assert diff.size == 0, f"{diff.size} of {ref.size} bytes differ; first at byte {diff[0]}"
