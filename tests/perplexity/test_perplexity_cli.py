"""`qlm perplexity` end to end on the tiny random-weight llama model
(tests/oracle/make_tiny_models.py; its llama-spm vocabulary from models/vocab):

  - the reported PPL, its ± and the per-chunk running values equal numpy's
    float64 computation from `qlm logits` of the same chunks, built here from
    llama.cpp's token ids of the text (tests/fixtures/model/tiny-llama.json):
    BOS in front of every chunk, logits at positions c/2 .. c-2 scoring the
    next token, llama-perplexity's standard error;
  - KL-divergence mode: a base saved with an f32 KV cache, compared with an
    f16 one; mean KLD ± error, percentiles, Δp and same-top equal numpy's
    computation over the base's top-K + rest from the two runs' `qlm logits`;
    the model against its own base gives KLD 0 and 100 % same top;
  - bad input: missing files, a text too short for one chunk, corrupt and
    mismatched base files (another text, tokenizer, context), bad options:
    exit status 1 and a message that names what is wrong, never a crash.
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
TEXT = REPO / "tests" / "oracle" / "natural_text.txt"
FIX = REPO / "tests" / "fixtures" / "model" / "tiny-llama.json"
TINY_SCRIPT = REPO / "tests" / "oracle" / "make_tiny_models.py"
VOCAB_DIR = Path(os.environ.get("QLM_VOCAB_DIR", REPO / "models" / "vocab"))
QLM = os.environ.get("QLM_BIN", "")
MODEL = os.environ.get("QLM_MODEL", "")
SKIP_MARK = "QLM-ORACLE-INPUT-MISSING"
C = 64          # tokens per chunk: 2 chunks fit in the fixture's 160 token ids
CHUNKS = 2


def qlm(*args, check=True):
    if not QLM:
        pytest.fail("QLM_BIN is not set (run through ctest)")
    res = subprocess.run([QLM, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check:
        assert res.returncode == 0, f"qlm {' '.join(map(str, args))} failed ({res.returncode}):\n{res.stderr[-3000:]}"
    return res


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if not (VOCAB_DIR / "ggml-vocab-llama-spm.gguf").exists():
        pytest.skip(f"{SKIP_MARK}: vocabulary {VOCAB_DIR}/ggml-vocab-llama-spm.gguf not found (make vocabs)")
    out = tmp_path_factory.mktemp("tiny")
    res = subprocess.run([sys.executable, str(TINY_SCRIPT), str(out), "--vocab-dir", str(VOCAB_DIR),
                          "--only", "tiny-llama"], capture_output=True, text=True)
    assert res.returncode == 0, f"make_tiny_models.py failed:\n{res.stdout}\n{res.stderr}"
    return out / "tiny-llama.gguf"


@pytest.fixture(scope="module")
def fixture_tokens():
    fix = json.loads(FIX.read_text())
    return fix["teacher_forced"]["tokens"], fix["bos_id"]


def chunk_logits(model, tokens, bos, tmp, *extra):
    """`qlm logits` of each chunk as llama-perplexity evaluates it (BOS first)."""
    out = []
    for i in range(CHUNKS):
        ids = list(tokens[i * C:(i + 1) * C])
        ids[0] = bos
        f = tmp / f"ids{i}.txt"
        f.write_text(" ".join(map(str, ids)))
        o = tmp / f"logits{i}{'_'.join(extra)}.npy"
        qlm("logits", "-m", model, "--tokens-file", f, "-o", o, "-c", C, "-t", 2, *extra)
        out.append(np.load(o).astype(np.float64))
    return out


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))


def scored(tokens, i):
    """(logit rows, next tokens) that chunk i scores."""
    first = C // 2
    return slice(first, C - 1), np.asarray(tokens[i * C + first + 1:(i + 1) * C])


def test_ppl_equals_numpy_on_qlm_logits(tiny, fixture_tokens, tmp_path):
    tokens, bos = fixture_tokens
    res = json.loads(qlm("perplexity", "-m", tiny, "-f", TEXT, "-c", C, "--chunks", CHUNKS, "-t", 2, "--json").stdout)
    nll, running = [], []
    for i, lg in enumerate(chunk_logits(tiny, tokens, bos, tmp_path)):
        rows, nxt = scored(tokens, i)
        lp = log_softmax(lg[rows])
        nll.extend(-lp[np.arange(len(nxt)), nxt])
        running.append(np.exp(np.mean(nll)))
    nll = np.asarray(nll)
    n = len(nll)
    ppl = np.exp(nll.mean())
    err = ppl * np.sqrt((np.mean(nll ** 2) - nll.mean() ** 2) / (n - 1))
    print(f"\n[tiny-llama] -c {C}, {CHUNKS} chunks: qlm PPL {res['ppl']:.6f} ± {res['ppl_err']:.6f}, "
          f"numpy {ppl:.6f} ± {err:.6f}")
    assert res["scored_tokens"] == n == CHUNKS * (C - 1 - C // 2)
    assert res["chunks"] == CHUNKS and res["n_ctx"] == C
    assert res["n_tokens"] >= len(tokens)
    assert abs(res["ppl"] / ppl - 1) < 1e-5
    assert abs(res["ppl_err"] / err - 1) < 1e-4
    np.testing.assert_allclose(res["chunk_ppl"], running, rtol=1e-5)
    # The human-readable report: a line per chunk on stderr, the estimate on stdout.
    r = qlm("perplexity", "-m", tiny, "-f", TEXT, "-c", C, "--chunks", CHUNKS, "-t", 2)
    assert "[1/2] PPL" in r.stderr and "[2/2] PPL" in r.stderr
    assert r.stdout.strip().endswith(f"PPL = {res['ppl']:.4f} +/- {res['ppl_err']:.5f}")


@pytest.fixture(scope="module")
def base_f32(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "tiny-f32.kld"
    qlm("perplexity", "-m", tiny, "-f", TEXT, "-c", C, "--chunks", CHUNKS, "-t", 2, "--kv-type", "f32",
        "--save-logits", path, "--kl-top-k", 8, "--json")
    return path


def test_kl_mode_equals_numpy(tiny, fixture_tokens, base_f32, tmp_path):
    tokens, bos = fixture_tokens
    size = base_f32.stat().st_size
    assert size == 192 + 4 * CHUNKS * C + CHUNKS * (C - 1 - C // 2) * (8 + 8 * 8)
    res = json.loads(qlm("perplexity", "-m", tiny, "-f", TEXT, "--kl-base", base_f32, "-t", 2, "--json").stdout)
    kl = res["kl"]
    base = chunk_logits(tiny, tokens, bos, tmp_path, "--kv-type", "f32")
    test = chunk_logits(tiny, tokens, bos, tmp_path, "--kv-type", "f16")
    klds, dps, same, nll_q, nll_b = [], [], [], [], []
    K = 8
    for i in range(CHUNKS):
        rows, nxt = scored(tokens, i)
        lp, lq = log_softmax(base[i][rows]), log_softmax(test[i][rows])
        for j in range(len(nxt)):
            top = np.lexsort((np.arange(lp.shape[1]), -lp[j]))[:K]
            p, q = np.exp(lp[j, top]), np.exp(lq[j, top])
            pr, qr = 1 - p.sum(), 1 - q.sum()
            klds.append(float((p * (lp[j, top] - lq[j, top])).sum() + pr * np.log(pr / qr)))
            dps.append(float(np.exp(lq[j, nxt[j]]) - np.exp(lp[j, nxt[j]])))
            same.append(int(np.argmax(test[i][rows][j])) == int(top[0]))
            nll_q.append(-lq[j, nxt[j]])
            nll_b.append(-lp[j, nxt[j]])
    klds, dps = np.asarray(klds), np.asarray(dps)
    n = len(klds)
    mean_err = lambda v: (v.mean(), np.sqrt(max(0.0, np.mean(v ** 2) - v.mean() ** 2) / (n - 1)))  # noqa: E731
    print(f"\n[tiny-llama] f16 KV against an f32-KV base, top-{K} + rest, {n} positions:")
    print(f"  qlm   mean KLD {kl['kld']['mean']:.6g} ± {kl['kld']['err']:.3g}, same top {kl['same_top']['mean']:.4f}, "
          f"RMS Δp {kl['p_diff_rms']['mean']:.4g}")
    print(f"  numpy mean KLD {klds.mean():.6g} ± {mean_err(klds)[1]:.3g}, same top {np.mean(same):.4f}, "
          f"RMS Δp {np.sqrt(np.mean(dps ** 2)):.4g}")
    assert kl["positions"] == n
    # The base's log-probs are stored as float32: absolute slack for that.
    tol = lambda want: 1e-4 * abs(want) + 2e-6  # noqa: E731
    assert abs(kl["kld"]["mean"] - klds.mean()) <= tol(klds.mean())
    assert abs(kl["kld"]["err"] - mean_err(klds)[1]) <= tol(mean_err(klds)[1])
    for name, frac in (("99", 0.99), ("95", 0.95), ("90", 0.90), ("50", 0.5)):
        want = np.percentile(klds, 100 * frac)
        assert abs(kl["kld_percentiles"][name] - want) <= tol(want), name
    assert abs(kl["p_diff"]["mean"] - dps.mean()) <= 1e-6
    assert abs(kl["p_diff_rms"]["mean"] - np.sqrt(np.mean(dps ** 2))) <= 1e-6
    assert abs(kl["same_top"]["mean"] - np.mean(same)) < 1e-12
    assert abs(kl["ppl"]["mean"] / np.exp(np.mean(nll_q)) - 1) < 1e-5
    assert abs(kl["ppl_base"]["mean"] / np.exp(np.mean(nll_b)) - 1) < 1e-5
    assert abs(res["ppl"] / np.exp(np.mean(nll_q)) - 1) < 1e-5
    assert 0 < klds.mean() < 0.05


def test_kl_against_itself_is_zero(tiny, base_f32):
    res = json.loads(qlm("perplexity", "-m", tiny, "-f", TEXT, "--kl-base", base_f32, "--kv-type", "f32",
                         "-t", 2, "--json").stdout)
    kl = res["kl"]
    assert abs(kl["kld"]["mean"]) < 1e-6 and kl["kld_percentiles"]["max"] < 1e-5
    assert kl["same_top"]["mean"] == 1.0
    assert kl["p_diff_rms"]["mean"] < 1e-6
    # The human-readable report has llama-perplexity's sections.
    r = qlm("perplexity", "-m", tiny, "-f", TEXT, "--kl-base", base_f32, "--kv-type", "f32", "-t", 2)
    for line in ("Mean PPL(Q)", "Mean    KLD:", "99.0%   KLD:", "Median  KLD:", "Mean    Δp:", "RMS Δp    :",
                 "Same top p: 100.000"):
        assert line in r.stdout, line


# ----------------------------------------------------------------------------- errors

def expect_error(args, *needles):
    r = qlm(*args, check=False)
    assert r.returncode == 1, f"exit {r.returncode} (want 1):\n{r.stderr[-2000:]}"
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    for s in needles:
        assert s in r.stderr, f"{s!r} not in:\n{r.stderr}"
    return r.stderr


def test_missing_files(tiny, tmp_path):
    expect_error(["perplexity", "-m", tmp_path / "none.gguf", "-f", TEXT], str(tmp_path / "none.gguf"))
    expect_error(["perplexity", "-m", tiny, "-f", tmp_path / "none.txt"], str(tmp_path / "none.txt"), "cannot open")
    expect_error(["perplexity", "-m", tiny, "-f", tmp_path], "is a directory")
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "--kl-base", tmp_path / "none.kld"],
                 str(tmp_path / "none.kld"), "cannot open")


def test_text_too_short(tiny, tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Only a few words here.\n")
    expect_error(["perplexity", "-m", tiny, "-f", short, "-c", 64], str(short), "fewer than one chunk of -c 64")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    expect_error(["perplexity", "-m", tiny, "-f", empty], "fewer than one chunk")


def test_bad_options(tiny, tmp_path):
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "-c", 2], "-c must be at least 4")
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "-b", 0], "-b must be at least 1")
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "--kl-top-k", 0, "--save-logits", tmp_path / "x"],
                 "--kl-top-k must be in 1..32000")
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "--save-logits", tmp_path / "a", "--kl-base", tmp_path / "b"],
                 "exclude each other")
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "--save-logits", tmp_path / "no" / "dir" / "x.kld"],
                 "cannot open for writing")
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "-c", 100000], "-c 100000 exceeds the context")


def test_corrupt_base_files(tiny, base_f32, tmp_path):
    good = base_f32.read_bytes()
    cases = {
        "garbage": (b"this is not a base file at all" * 10, "not a KL base file"),
        "llama.cpp": (b"_logits_" + good[8:], "a llama.cpp logits file"),
        "truncated": (good[:-5], "truncated or corrupt"),
        "short": (good[:100], "too short for the 192-byte header"),
        "row": (good[:-40] + np.full(10, np.nan, np.float32).tobytes(), "corrupt base file"),
    }
    for name, (data, needle) in cases.items():
        f = tmp_path / f"{name}.kld"
        f.write_bytes(data)
        expect_error(["perplexity", "-m", tiny, "-f", TEXT, "--kl-base", f, "-t", 2], str(f), needle)


def test_mismatched_base_files(tiny, base_f32, tmp_path):
    other_text = tmp_path / "other.txt"
    other_text.write_text(TEXT.read_text().replace("lighthouse", "windmill"))
    expect_error(["perplexity", "-m", tiny, "-f", other_text, "--kl-base", base_f32], "made from another text")
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "--kl-base", base_f32, "-c", 32],
                 "context of 64 tokens per chunk", "(-c 64)")
    b = bytearray(base_f32.read_bytes())
    b[48] ^= 0xFF  # the tokenizer fingerprint
    f = tmp_path / "tok.kld"
    f.write_bytes(bytes(b))
    expect_error(["perplexity", "-m", tiny, "-f", TEXT, "--kl-base", f], "made with another tokenizer")
    if MODEL and os.path.exists(MODEL):  # Gemma 3: another vocabulary (262144 tokens)
        expect_error(["perplexity", "-m", MODEL, "-f", TEXT, "--kl-base", base_f32], "vocabulary of 32000 tokens")
