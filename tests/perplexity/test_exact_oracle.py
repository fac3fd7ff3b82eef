"""How close qlm and llama.cpp come to the exact arithmetic of a quantized model.

The exact reference (tests/oracle/exact_forward.py) runs the model's
dequantized weights through the forward pass in float64: no activation
quantization (Q8_0/Q8_1/Q8_K), no F16 KV cache, no GELU table, exact RoPE
angles. On the teacher-forced token ids of tests/fixtures/model/ (llama.cpp's
tokenization of the natural-text prompt; 320 positions of the default model,
160 of each tiny architecture model) the test reports, per model:

  - KL(exact || qlm) over the full vocabulary, from `qlm logits` (F16 KV cache,
    the defaults) and, with `--kv-type f32`, what the KV cache's rounding adds;
  - KL(exact || qlm) and KL(exact || llama.cpp) over the same partition:
    llama.cpp's top-64 tokens plus one bucket for the rest (what its fixture
    keeps; merging outcomes never increases KL, so both are lower bounds of
    the full KL, and the two engines are measured on identical terms);
  - top-1 agreement with the exact argmax.

Asserted: qlm's partition KL is at most 1.5 x llama.cpp's plus 1e-4 (the
issue's target is qlm <= llama.cpp; the measured ratios are in the output and
bench/results/perplexity-exact-kl.md), and qlm's top-1 agreement with the exact
model is at least 90 % (printed beside llama.cpp's: on 160 positions the two
differ by a few near-ties either way). The weights are dequantized by
`qlm dump`; a tensor of every type in each model is first checked bit for bit
against gguf.quants.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "oracle"))
from exact_forward import ExactModel, log_softmax  # noqa: E402

FIXDIR = REPO / "tests" / "fixtures" / "model"
TINY_SCRIPT = REPO / "tests" / "oracle" / "make_tiny_models.py"
VOCAB_DIR = Path(os.environ.get("QLM_VOCAB_DIR", REPO / "models" / "vocab"))
QLM = os.environ.get("QLM_BIN", "")
MODEL = os.environ.get("QLM_MODEL", "")
SKIP_MARK = "QLM-ORACLE-INPUT-MISSING"
MODELS = {"tiny_llama": "tiny-llama", "tiny_qwen2": "tiny-qwen2", "tiny_qwen3": "tiny-qwen3",
          "tiny_gemma3": "tiny-gemma3", "gemma_270m": "gemma-3-270m"}


def model_file(name, fix, tmp):
    if "tiny" in fix:
        vocab = VOCAB_DIR / f"ggml-vocab-{fix['tiny']['vocab']}.gguf"
        if not vocab.exists():
            pytest.skip(f"{SKIP_MARK}: vocabulary {vocab} not found (make vocabs)")
        res = subprocess.run([sys.executable, str(TINY_SCRIPT), str(tmp), "--vocab-dir", str(VOCAB_DIR),
                              "--only", name], capture_output=True, text=True)
        assert res.returncode == 0, f"make_tiny_models.py failed:\n{res.stdout}\n{res.stderr}"
        path = tmp / f"{name}.gguf"
        digest = res.stdout.split()[0]
    else:
        if not MODEL or not os.path.exists(MODEL):
            pytest.skip(f"{SKIP_MARK}: default model not found at {MODEL!r} (make model)")
        path = Path(MODEL)
        digest = None
    if digest is not None:
        assert digest == fix["model_sha256"], f"{path}: not the model the llama.cpp fixture was made on"
    return path


def qlm_logits(path, tokens, n_ctx, tmp, *extra):
    ids = tmp / "ids.txt"
    ids.write_text(" ".join(map(str, tokens)))
    out = tmp / f"qlm{'_'.join(extra)}.npy"
    res = subprocess.run([QLM, "logits", "-m", str(path), "--tokens-file", str(ids), "-o", str(out), "-c", str(n_ctx),
                          "-t", "2", *extra], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return np.load(out, mmap_mode="r")


def full_kl(lp_exact, logits):
    lq = log_softmax(np.asarray(logits, dtype=np.float64))
    return (np.exp(lp_exact) * (lp_exact - lq)).sum(axis=1)


def partition_kl(lp_exact, ids, lq_top, lq_rest):
    """KL(exact || engine) over {ids of each row} + rest, the engine given by its log-probs there."""
    lp_top = np.take_along_axis(lp_exact, ids, axis=1)
    p_top = np.exp(lp_top)
    p_rest = np.clip(1.0 - p_top.sum(axis=1), 0.0, None)
    rest = np.where(p_rest > 0, p_rest * (np.log(np.maximum(p_rest, 1e-300)) - lq_rest), 0.0)
    return (p_top * (lp_top - lq_top)).sum(axis=1) + rest


def engine_partition(logits, ids):
    lq = log_softmax(np.asarray(logits, dtype=np.float64))
    top = np.take_along_axis(lq, ids, axis=1)
    rest = np.log(np.clip(1.0 - np.exp(top).sum(axis=1), 1e-300, None))
    return top, rest


@pytest.mark.parametrize("model", list(MODELS))
def test_exact_kl(model, tmp_path):
    if not QLM:
        pytest.fail("QLM_BIN is not set (run through ctest)")
    name = MODELS[model]
    fix = json.loads((FIXDIR / f"{name}.json").read_text())
    path = model_file(name, fix, tmp_path)
    tf = fix["teacher_forced"]
    tokens = tf["tokens"]
    n_ctx = fix["llama_cpp"]["n_ctx"]
    oracle = np.load(FIXDIR / tf["arrays"])
    ids = oracle["topk_ids"].astype(np.int64)

    dumps = tmp_path / "dump"
    dumps.mkdir()
    exact = ExactModel(path, qlm=QLM, tmp=dumps)
    by_type = {}
    for t in exact.r.tensors:
        if t.tensor_type.name not in ("F32", "F16") and t.n_elements < by_type.get(t.tensor_type, (1 << 62, ""))[0]:
            by_type[t.tensor_type] = (t.n_elements, t.name)
    exact.check_dequant([n for _, n in by_type.values()])
    lp = log_softmax(exact.logits(tokens))
    exact_top1 = lp.argmax(axis=1)

    rows = {}
    for label, extra in (("qlm", ()), ("qlm f32 KV", ("--kv-type", "f32"))):
        lg = qlm_logits(path, tokens, n_ctx, tmp_path, *extra)
        q_top, q_rest = engine_partition(lg, ids)
        rows[label] = dict(full=full_kl(lp, lg), part=partition_kl(lp, ids, q_top, q_rest),
                           top1=np.asarray(lg).argmax(axis=1))
    rows["llama.cpp"] = dict(full=None, part=partition_kl(lp, ids, oracle["topk_logprobs"].astype(np.float64),
                                                          oracle["rest_logprob"].astype(np.float64)),
                             top1=oracle["top1"].astype(np.int64))
    n = len(tokens)
    print(f"\n[{name}] against the float64 exact forward, {n} positions (partition: llama.cpp's top-64 + rest)")
    print(f"  {'engine':12} {'KL full':>10} {'KL part':>10} {'p99 part':>10} {'max part':>10} {'top-1 = exact':>14}")
    for label, r in rows.items():
        full = f"{r['full'].mean():10.3g}" if r["full"] is not None else f"{'-':>10}"
        agree = int((r["top1"] == exact_top1).sum())
        print(f"  {label:12} {full} {r['part'].mean():10.3g} {np.quantile(r['part'], 0.99):10.3g} "
              f"{r['part'].max():10.3g} {agree:>9d}/{n}")
    q, l = rows["qlm"]["part"].mean(), rows["llama.cpp"]["part"].mean()
    # Paired bootstrap over positions (fixed seed): how much of the ratio is which positions were drawn.
    rng = np.random.default_rng(20261202)
    qp, lpp = rows["qlm"]["part"], rows["llama.cpp"]["part"]
    idx = rng.integers(0, n, size=(4000, n))
    ratios = qp[idx].mean(axis=1) / lpp[idx].mean(axis=1)
    lo, hi = np.quantile(ratios, [0.025, 0.975])
    print(f"  KL(exact||qlm) / KL(exact||llama.cpp) = {q / l:.3f} (partition KL; target <= 1), "
          f"paired bootstrap 95 % interval [{lo:.3f}, {hi:.3f}], P(ratio > 1) = {(ratios > 1).mean():.2f}")
    summary = os.environ.get("QLM_EXACT_KL_SUMMARY")
    if summary:  # one JSON line per model, for the results table
        with open(summary, "a") as f:
            f.write(json.dumps({"model": name, "positions": n, "ratio_ci95": [float(lo), float(hi)],
                                **{k: {"full": None if r["full"] is None else float(r["full"].mean()),
                                       "part": float(r["part"].mean()),
                                       "top1_exact": int((r["top1"] == exact_top1).sum())}
                                   for k, r in rows.items()}}) + "\n")
    assert q <= 1.5 * l + 1e-4, f"KL(exact||qlm) {q:.4g} is above 1.5 x llama.cpp's {l:.4g}"
    assert int((rows["qlm"]["top1"] == exact_top1).sum()) >= 0.9 * n, "top-1 agreement with the exact model < 90 %"
