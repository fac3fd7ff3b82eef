"""Whole-model oracle: qlm's forward pass against llama.cpp's recorded outputs.

The fixtures in tests/fixtures/model/ were made by tests/oracle/gen_model_fixtures.py
with llama-cpp-python (CPU); this test needs only numpy and the qlm CLI:

  - teacher forcing: `qlm logits` on the fixture's token ids (the natural-text
    prompt); top-1 agreement >= 99 % over the positions where llama.cpp's own
    top1-top2 logit gap is at least the tie gap, and mean KL(llama.cpp || qlm)
    <= the fixture's limit;
  - greedy: `qlm run --temp 0 --json` on each fixture prompt; the same prompt
    token ids, and the same generated ids up to the first divergence, which
    may only happen at a step where llama.cpp's gap is below the tie gap.

The limits come from the fixture ("thresholds"): the generator ran the same
inputs through llama.cpp with other valid numerics (f32 KV cache, flash
attention, one token per batch) and sets mean KL <= max(0.005, 2 x the largest
KL it saw) and tie gap = max(1e-3, 2 x the largest gap at which llama.cpp
changed its own choice). Quantized activations (Q8_0/Q8_1/Q8_K) and the f16 KV
cache make llama.cpp itself move by up to ~0.006 mean KL and flip ~7 % of the
top-1 choices on the default model, so the fixed 0.005 / 1e-3 limits would
fail a correct implementation; the test prints both.

The tiny random-weight models are rebuilt here by tests/oracle/make_tiny_models.py
and must have the SHA-256 the oracle saw; the default model is QLM_MODEL. When a
model or vocabulary file is missing the model's tests are skipped with the reason
(and the marker below, which tests/model/CMakeLists.txt turns into a CTest skip).
"""
from __future__ import annotations

import hashlib
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

STRICT_MEAN_KL = 0.005  # the fixed limits, printed for reference
STRICT_TIE_GAP = 1e-3

# pytest id (used with -k by CTest) -> fixture name
MODELS = {
    "gemma_270m": "gemma-3-270m",
    "tiny_llama": "tiny-llama",
    "tiny_qwen2": "tiny-qwen2",
    "tiny_qwen3": "tiny-qwen3",
    "tiny_gemma3": "tiny-gemma3",
    "tiny_qwen3moe": "tiny-qwen3moe",
    "tiny_mixtral": "tiny-mixtral",
    "tiny_glm4moe": "tiny-glm4moe",
    "tiny_gptoss": "tiny-gptoss",
    "tiny_granite": "tiny-granite",
    "tiny_phi3": "tiny-phi3",
    "tiny_lowbit": "tiny-lowbit",
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
    of the full-vocabulary KL (how much mass the rest bucket holds is in the
    fixture: sanity.mean_topk_mass). Also returns qlm's argmax per position."""
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


def teacher_forced_metrics(oracle, logits, tie):
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
    th = fix["thresholds"]
    m = teacher_forced_metrics(oracle, logits, th["tie_gap"])
    strict = teacher_forced_metrics(oracle, logits, STRICT_TIE_GAP)
    noise = ", ".join(f"{k} {v['teacher_forced']['mean_kl']:.3g}" for k, v in fix["noise"].items())

    print(f"\n[{name}] teacher forcing, {m['n']} positions, n_ctx {fix['llama_cpp']['n_ctx']} "
          f"(KL over llama.cpp's top-{tf['top_k']} + rest: a lower bound of the full KL)")
    print(f"  {'':8} {'top-1 agree':>16} {'mean KL':>9} {'p99 KL':>9} {'max KL':>9} {'@pos':>5}  limits")
    print(f"  {'qlm':8} {m['agree']:>5}/{m['counted']:<4}{100 * m['top1']:6.2f}% {m['mean_kl']:9.3g} "
          f"{m['p99_kl']:9.3g} {m['max_kl']:9.3g} {m['max_kl_pos']:5d}  top-1 >= {th['top1_min']:.0%} where "
          f"gap >= {th['tie_gap']:.3g}, mean KL <= {th['mean_kl_max']:.3g}")
    print(f"  {'strict':8} {strict['agree']:>5}/{strict['counted']:<4}{100 * strict['top1']:6.2f}% "
          f"{'':>31}  (ties < {STRICT_TIE_GAP:g} only; mean KL <= {STRICT_MEAN_KL}: "
          f"{'yes' if m['mean_kl'] <= STRICT_MEAN_KL else 'no'}; not asserted)")
    print(f"  llama.cpp against itself, mean KL: {noise}")
    for i in m["excused"][:10]:
        print(f"  near-tie at position {i}: llama.cpp gap {oracle['gap'][i]:.2e}, top-1 "
              f"{oracle['top1'][i]} vs qlm {m['argmax'][i]} (not counted)")
    if len(m["excused"]) > 10:
        print(f"  ... {len(m['excused']) - 10} more near-ties")
    for i in m["disagree"][:10]:
        print(f"  top-1 differs at position {i}: llama.cpp {oracle['top1'][i]} (gap {oracle['gap'][i]:.3g}) "
              f"vs qlm {m['argmax'][i]}, KL {m['kl'][i]:.3g}")
    assert m["top1"] >= th["top1_min"], f"top-1 agreement {m['top1']:.2%} < {th['top1_min']:.0%}"
    assert m["mean_kl"] <= th["mean_kl_max"], f"mean KL {m['mean_kl']:.4g} > {th['mean_kl_max']}"


# ----------------------------------------------------------------------------- greedy

def compare_greedy(case, got, tie_gap):
    """(ok, n_matched, note). qlm's ids must equal llama.cpp's up to the first
    divergence, and a divergence is only allowed at a step where llama.cpp's
    own top1-top2 gap is below tie_gap (after it the sequences are unrelated).
    When llama.cpp stopped at an end-of-generation token, qlm may or may not
    include that token; otherwise qlm must produce as many tokens."""
    want, gaps = case["tokens"], case["gaps"]
    n = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
    if n == len(want) == len(got):
        return True, n, ""
    if n == len(got) == len(want) - 1 and case["stopped_at_eog"]:
        return True, n, "end-of-generation token not echoed"
    if n == len(want):
        return False, n, f"qlm generated {len(got)} tokens, llama.cpp {len(want)}"
    if n == len(got):
        return False, n, f"qlm stopped after {len(got)} tokens, llama.cpp generated {len(want)}"
    if gaps[n] < tie_gap:
        return True, n, f"diverged at step {n}, a near-tie for llama.cpp (gap {gaps[n]:.2g} < {tie_gap:.3g})"
    return False, n, (f"diverged at step {n}: llama.cpp {want[n:n + 6]} (gap {gaps[n]:.3g}) vs "
                      f"qlm {got[n:n + 6]}")


@pytest.mark.parametrize("model", list(MODELS))
def test_greedy(model, tmp_path_factory):
    name = MODELS[model]
    fix = load_fixture(name)
    path = model_path(name, fix, tmp_path_factory)
    n_ctx = fix["llama_cpp"]["n_ctx"]
    tie_gap = fix["thresholds"]["tie_gap"]
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
        ok, n_match, note = compare_greedy(case, got, tie_gap)
        rows.append((case["name"], len(case["prompt_tokens"]), n_match, len(case["tokens"]), note))
        if not ok:
            failures.append(f"{case['name']}: {note}")
    print(f"\n[{name}] greedy, {len(rows)} prompts, n_ctx {n_ctx}, tie gap {tie_gap:.3g}")
    print(f"  {'prompt':12} {'n_prompt':>8} {'same ids':>9}  note")
    for case_name, n_p, n_m, n_c, note in rows:
        print(f"  {case_name:12} {n_p:8d} {n_m:4d}/{n_c:<4d}  {note}")
    assert not failures, "\n".join(failures)
