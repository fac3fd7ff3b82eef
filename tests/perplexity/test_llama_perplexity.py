"""`qlm perplexity` against llama.cpp's `llama-perplexity` on the same model,
text (tests/oracle/natural_text.txt), context and chunks. llama.cpp's final
estimate and running values are recorded in tests/fixtures/perplexity/ (made
with bench/llama/build_llama_tools.sh's llama-perplexity; the command is in the
fixture); CI never runs llama.cpp. Asserted: the same number of chunks, qlm's
PPL within llama.cpp's own ± of llama.cpp's, and |ln(PPL_qlm / PPL_llama.cpp)|
(the difference of the mean NLLs) below 0.03 on the final and every running value.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXDIR = REPO / "tests" / "fixtures" / "perplexity"
TEXT = REPO / "tests" / "oracle" / "natural_text.txt"
TINY_SCRIPT = REPO / "tests" / "oracle" / "make_tiny_models.py"
VOCAB_DIR = Path(os.environ.get("QLM_VOCAB_DIR", REPO / "models" / "vocab"))
QLM = os.environ.get("QLM_BIN", "")
MODEL = os.environ.get("QLM_MODEL", "")
SKIP_MARK = "QLM-ORACLE-INPUT-MISSING"
MODELS = {"tiny_llama": ("tiny-llama", "llama-spm"), "gemma_270m": ("gemma-3-270m", None)}


@pytest.mark.parametrize("model", list(MODELS))
def test_against_llama_perplexity(model, tmp_path):
    if not QLM:
        pytest.fail("QLM_BIN is not set (run through ctest)")
    name, vocab = MODELS[model]
    fix = json.loads((FIXDIR / f"{name}.json").read_text())
    if vocab:
        if not (VOCAB_DIR / f"ggml-vocab-{vocab}.gguf").exists():
            pytest.skip(f"{SKIP_MARK}: vocabulary ggml-vocab-{vocab}.gguf not found (make vocabs)")
        res = subprocess.run([sys.executable, str(TINY_SCRIPT), str(tmp_path), "--vocab-dir", str(VOCAB_DIR),
                              "--only", name], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        assert res.stdout.split()[0] == fix["model_sha256"], "not the model llama-perplexity saw"
        path = tmp_path / f"{name}.gguf"
    else:
        if not MODEL or not os.path.exists(MODEL):
            pytest.skip(f"{SKIP_MARK}: default model not found at {MODEL!r} (make model)")
        path = Path(MODEL)
    res = subprocess.run([QLM, "perplexity", "-m", str(path), "-f", str(TEXT), "-c", str(fix["n_ctx"]), "-t", "2",
                          "--json"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    q = json.loads(res.stdout)
    d = q["ppl"] - fix["ppl"]
    print(f"\n[{name}] natural_text.txt, -c {fix['n_ctx']}, {q['chunks']} chunks: qlm {q['ppl']:.4f} ± {q['ppl_err']:.4f}, "
          f"llama-perplexity {fix['ppl']:.4f} ± {fix['ppl_err']:.4f}: {d:+.4f} = {d / fix['ppl_err']:+.3f} x its ±, "
          f"ln ratio {math.log(q['ppl'] / fix['ppl']):+.4f}")
    assert q["chunks"] == fix["chunks"]
    assert abs(d) <= fix["ppl_err"]
    for mine, theirs in zip(q["chunk_ppl"], fix["chunk_ppl"], strict=True):
        assert abs(math.log(mine / theirs)) < 0.03, (mine, theirs)
