"""The lattice tables of the low-bit IQ formats (src/formats/iq_grids.cpp)
and the IQ2/IQ3 sign bytes must equal gguf-py's, entry for entry."""
import numpy as np
import pytest
from gguf import quants

from conftest import run_helper

GRIDS = {"IQ2_XXS": quants.IQ2_XXS, "IQ2_XS": quants.IQ2_XS, "IQ2_S": quants.IQ2_S,
         "IQ3_XXS": quants.IQ3_XXS, "IQ3_S": quants.IQ3_S, "IQ1_S": quants.IQ1_S}


@pytest.mark.parametrize("name", list(GRIDS))
def test_grid_matches_gguf(name, tmp_path):
    cls = GRIDS[name]
    cls.init_grid()
    ref = cls.grid.reshape(cls.grid_shape).astype(np.int64)
    out = tmp_path / f"{name}.grid"
    run_helper("grid", name, out)
    ours = np.fromfile(out, dtype=np.uint8 if name != "IQ1_S" else np.int8).astype(np.int64)
    assert ours.size == ref.size, f"{ours.size} values, gguf has {ref.size}"
    ours = ours.reshape(ref.shape)
    bad = np.nonzero(np.any(ours != ref, axis=1))[0]
    assert bad.size == 0, f"{bad.size} entries differ; first {bad[0]}: ours {ours[bad[0]]} vs gguf {ref[bad[0]]}"


def test_sign_bytes_match_gguf(tmp_path):
    out = tmp_path / "ksigns"
    run_helper("grid", "KSIGNS", out)
    assert np.fromfile(out, dtype=np.uint8).tobytes() == quants.IQ2_XXS.ksigns
