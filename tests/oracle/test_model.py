"""Every tensor of the default model: `qlm dump` (our reader + reference
dequantization) must equal gguf's reader + gguf.quants, bit for bit, and the
shapes must agree."""
import os
import subprocess

import numpy as np
import pytest
from gguf import GGUFReader, quants

from conftest import MODEL, QLM


@pytest.fixture(scope="module")
def reader():
    if not MODEL or not os.path.exists(MODEL):
        pytest.skip(f"default model not found at {MODEL!r} (make model)")
    return GGUFReader(MODEL)


def test_every_tensor_bit_exact(reader, tmp_path):
    assert len(reader.tensors) > 0
    checked = 0
    for t in reader.tensors:
        out = tmp_path / "t.npy"
        res = subprocess.run([QLM, "dump", MODEL, t.name, "-o", str(out)], capture_output=True, text=True)
        assert res.returncode == 0, f"{t.name}: {res.stderr}"
        ours = np.load(out)
        ref = quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        assert ours.shape == ref.shape, f"{t.name}: shape {ours.shape} vs {ref.shape}"
        same = ours.view(np.uint32) == ref.view(np.uint32)
        assert same.all(), f"{t.name} ({t.tensor_type.name}): {np.count_nonzero(~same)} values differ"
        out.unlink()
        checked += 1
    print(f"{checked} tensors bit-exact")
