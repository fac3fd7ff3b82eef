"""Whole-model oracle: qlm's forward pass against llama.cpp's recorded outputs.

The fixtures in tests/fixtures/model/ were made by tests/oracle/gen_model_fixtures.py
with llama-cpp-python (CPU); this test needs only numpy and the qlm CLI:

  - teacher forcing: `qlm logits` on the fixture's token ids (the natural-text
    prompt); top-1 agreement >= 99 % and mean KL(llama.cpp || qlm) <= 0.005;
  - greedy: `qlm run --temp 0 --json` on each fixture prompt; the same prompt
    token ids and the same generated ids, up to the first step where llama.cpp's
    own top1-top2 logit gap is below the tie threshold (1e-3).

The tiny random-weight models are rebuilt here by tests/oracle/make_tiny_models.py
and must have the SHA-256 the oracle saw; the default model is QLM_MODEL. When a
model or vocabulary file is missing the model's tests are skipped with the reason
(and the marker below, which tests/model/CMakeLists.txt turns into a CTest skip).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXDIR = REPO / "tests" / "fixtures" / "model"
TINY_SCRIPT = REPO / "tests" / "oracle" / "make_tiny_models.py"
QLM = os.environ.get("QLM_BIN", "")
MODEL = os.environ.get("QLM_MODEL", "")
VOCAB_DIR = Path(os.environ.get("QLM_VOCAB_DIR", REPO / "models" / "vocab"))
SKIP_MARK = "QLM-ORACLE-INPUT-MISSING"

TOP1_MIN = 0.99      # teacher-forced top-1 agreement
MEAN_KL_MAX = 0.005  # mean over positions of KL(llama.cpp || qlm), nats

# pytest id (used with -k by CTest) -> fixture name
MODELS = {
    "gemma_270m": "gemma-3-270m",
    "tiny_llama": "tiny-llama",
    "tiny_qwen2": "tiny-qwen2",
    "tiny_qwen3": "tiny-qwen3",
    "tiny_gemma3": "tiny-gemma3",
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_fixture(name):
    path = FIXDIR / f"{name}.json"
    assert path.exists(), f"fixture {path} missing (tests/oracle/gen_model_fixtures.py)"
    fix = json.loads(path.read_text(encoding="utf-8"))
    assert fix["format"] == 1, f"{path}: unknown fixture format {fix['format']}"
    return fix


_model_cache: dict[str, Path] = {}


def model_path(name, fix, tmp_path_factory) -> Path:
    """The model file the oracle saw, or a skip when an input is missing."""
    if name in _model_cache:
        return _model_cache[name]
    if "tiny" in fix:
        vocab = VOCAB_DIR / f"ggml-vocab-{fix['tiny']['vocab']}.gguf"
        if not vocab.exists():
            pytest.skip(f"{SKIP_MARK}: vocabulary {vocab} not found (scripts/fetch_vocabs.sh)")
        out = tmp_path_factory.mktemp(name)
        res = subprocess.run([sys.executable, str(TINY_SCRIPT), str(out), "--vocab-dir", str(VOCAB_DIR),
                              "--only", name], capture_output=True, text=True)
        assert res.returncode == 0, f"make_tiny_models.py failed:\n{res.stdout}\n{res.stderr}"
        path = out / f"{name}.gguf"
    else:
        if not MODEL or not os.path.exists(MODEL):
            pytest.skip(f"{SKIP_MARK}: default model not found at {MODEL!r} (make model)")
        path = Path(MODEL)
    digest = sha256(path)
    assert digest == fix["model_sha256"], (
        f"{path} has SHA-256 {digest}, the fixture was recorded on {fix['model_sha256']}: "
        "not the file llama.cpp saw (regenerate with tests/oracle/gen_model_fixtures.py if the "
        "model or make_tiny_models.py changed on purpose)")
    _model_cache[name] = path
    return path


def qlm(*args, timeout=900):
    if not QLM:
        pytest.fail("QLM_BIN is not set (run through ctest)")
    res = subprocess.run([QLM, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"qlm {' '.join(map(str, args[:1]))} failed ({res.returncode}):\n{res.stderr[-4000:]}"
    return res.stdout


# ----------------------------------------------------------------------------- teacher forcing

def coarse_kl(oracle, logits):
    """KL(llama.cpp || qlm) per position over a coarsened vocabulary: the
    oracle's top-K tokens plus one bucket for all the rest. Merging outcomes
    never increases KL (data-processing inequality), so this is a lower bound
    of the full-vocabulary KL; with K = 64 the rest bucket holds little mass.
    Also returns qlm's argmax per position."""
    ids = oracle["topk_ids"]
    lp = oracle["topk_logprobs"].astype(np.float64)
    lr = oracle["rest_logprob"].astype(np.float64)
    n = ids.shape[0]
    kl = np.zeros(n)
    argmax = np.zeros(n, np.int64)
    for i in range(n):
        x = np.asarray(logits[i], dtype=np.float64)
        if not np.isfinite(x).all():
            kl[i] = np.inf
            argmax[i] = -1
            continue
        argmax[i] = int(np.argmax(x))
        m = x.max()
        lse = np.log(np.exp(x - m).sum()) + m
        q = x[ids[i]] - lse
        others = np.ones(x.size, bool)
        others[ids[i]] = False
        xo = x[others]
        q_rest = np.log(np.exp(xo - m).sum()) + m - lse
        p = np.exp(lp[i])
        p_rest = np.exp(lr[i])
        kl[i] = float((p * (lp[i] - q)).sum() + (p_rest * (lr[i] - q_rest) if p_rest > 0 else 0.0))
    return kl, argmax


def teacher_forced_metrics(fix, oracle, logits):
    tie = fix["tie_gap"]
    kl, argmax = coarse_kl(oracle, logits)
    top1 = oracle["top1"].astype(np.int64)
    gap = oracle["gap"]
    differ = argmax != top1
    excused = differ & (gap < tie)      # llama.cpp itself could not tell them apart
    counted = len(top1) - int(excused.sum())
    agree = int((~differ).sum())
    return {
        "n": len(top1), "agree": agree, "counted": counted,
        "top1": agree / counted if counted else 1.0,
        "mean_kl": float(kl.mean()), "max_kl": float(kl.max()), "max_kl_pos": int(kl.argmax()),
        "p99_kl": float(np.quantile(kl, 0.99)),
        "excused": [int(i) for i in np.flatnonzero(excused)],
        "disagree": [int(i) for i in np.flatnonzero(differ & ~excused)],
        "argmax": argmax, "kl": kl,
    }


@pytest.mark.parametrize("model", list(MODELS))
def test_teacher_forced(model, tmp_path, tmp_path_factory):
    name = MODELS[model]
    fix = load_fixture(name)
    path = model_path(name, fix, tmp_path_factory)
    tf = fix["teacher_forced"]
    oracle = dict(np.load(FIXDIR / tf["arrays"]))
    ids = tmp_path / "ids.txt"
    ids.write_text(" ".join(map(str, tf["tokens"])) + "\n")
    out = tmp_path / "logits.npy"
    qlm("logits", "-m", path, "--tokens-file", ids, "-o", out, "-c", fix["llama_cpp"]["n_ctx"], "-t", 2)
    logits = np.load(out, mmap_mode="r")
    assert logits.dtype == np.float32, f"logits dtype {logits.dtype}, want float32"
    assert logits.shape == (tf["n_positions"], fix["n_vocab"]), \
        f"logits shape {logits.shape}, want {(tf['n_positions'], fix['n_vocab'])}"
    m = teacher_forced_metrics(fix, oracle, logits)

    print(f"\n[{name}] teacher forcing, {m['n']} positions, n_ctx {fix['llama_cpp']['n_ctx']} "
          f"(KL over the oracle's top-{tf['top_k']} + rest: a lower bound of the full KL)")
    print(f"  {'top-1 agree':>12} {'mean KL':>10} {'p99 KL':>10} {'max KL':>10} {'@pos':>5} {'ties':>5}")
    print(f"  {m['agree']:>5}/{m['counted']:<4} {m['mean_kl']:10.3g} {m['p99_kl']:10.3g} "
          f"{m['max_kl']:10.3g} {m['max_kl_pos']:5d} {len(m['excused']):5d}   ({100 * m['top1']:.2f} %)")
    for i in m["excused"]:
        print(f"  tie at position {i}: llama.cpp gap {oracle['gap'][i]:.2e}, top-1 "
              f"{oracle['top1'][i]} vs qlm {m['argmax'][i]} (not counted)")
    for i in m["disagree"][:10]:
        print(f"  top-1 differs at position {i}: llama.cpp {oracle['top1'][i]} (gap {oracle['gap'][i]:.3g}) "
              f"vs qlm {m['argmax'][i]}, KL {m['kl'][i]:.3g}")
    assert m["top1"] >= TOP1_MIN, f"top-1 agreement {m['top1']:.2%} < {TOP1_MIN:.0%}"
    assert m["mean_kl"] <= MEAN_KL_MAX, f"mean KL {m['mean_kl']:.4g} > {MEAN_KL_MAX}"


# ----------------------------------------------------------------------------- greedy

def compare_greedy(case, got):
    """(ok, n_compared, first_mismatch, note). Generated ids must equal
    llama.cpp's up to its first tie step; when llama.cpp stopped at an
    end-of-generation token, qlm may or may not include that token."""
    want = case["tokens"]
    tie = case["first_tie_step"]
    limit = len(want) if tie is None else tie
    exp, have = want[:limit], got[:limit]
    mismatch = next((i for i, (a, b) in enumerate(zip(exp, have)) if a != b), None)
    if mismatch is None and len(have) < len(exp):
        if case["stopped_at_eog"] and tie is None and have == exp[:-1] and len(got) == len(exp) - 1:
            return True, len(have), None, "eog not echoed"
        mismatch = len(have)
    if mismatch is None and tie is None and len(got) > len(want):
        # llama.cpp stopped at end-of-generation and qlm went on, or qlm ignored -n.
        return False, limit, len(want), f"qlm generated {len(got)} tokens, llama.cpp {len(want)}"
    note = f"tie at step {tie} (gap {case['gaps'][tie]:.1e}), compared before it" if tie is not None else ""
    return mismatch is None, limit, mismatch, note


@pytest.mark.parametrize("model", list(MODELS))
def test_greedy(model, tmp_path_factory):
    name = MODELS[model]
    fix = load_fixture(name)
    path = model_path(name, fix, tmp_path_factory)
    n_ctx = fix["llama_cpp"]["n_ctx"]
    rows, failures = [], []
    for case in fix["greedy"]:
        out = qlm("run", "-m", path, "-p", case["prompt"], "-n", case["n_predict"], "--temp", 0,
                  "-c", n_ctx, "-t", 2, "--json")
        try:
            res = json.loads(out)
        except json.JSONDecodeError as e:
            pytest.fail(f"{case['name']}: `qlm run --json` did not print one JSON object ({e}):\n{out[:2000]}")
        if res.get("prompt_tokens") != case["prompt_tokens"]:
            failures.append(f"{case['name']}: prompt tokens {res.get('prompt_tokens')} != llama.cpp "
                            f"{case['prompt_tokens']}")
            rows.append((case["name"], len(case["prompt_tokens"]), 0, 0, "prompt tokens differ"))
            continue
        got = [int(t) for t in res.get("tokens", [])]
        ok, n_cmp, mismatch, note = compare_greedy(case, got)
        n_match = n_cmp if mismatch is None else mismatch
        rows.append((case["name"], len(case["prompt_tokens"]), n_match, n_cmp, note))
        if not ok:
            i = mismatch
            failures.append(f"{case['name']}: generated ids differ at step {i}: llama.cpp "
                            f"{case['tokens'][i:i + 8]} (gap {case['gaps'][i] if i < len(case['gaps']) else float('nan'):.3g}) "
                            f"vs qlm {got[i:i + 8]}; {note}")
    print(f"\n[{name}] greedy, {len(rows)} prompts, n_ctx {n_ctx}")
    print(f"  {'prompt':12} {'n_prompt':>8} {'match':>9}  note")
    for case_name, n_p, n_m, n_c, note in rows:
        print(f"  {case_name:12} {n_p:8d} {n_m:4d}/{n_c:<4d}  {note}")
    assert not failures, "\n".join(failures)
