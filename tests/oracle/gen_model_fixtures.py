#!/usr/bin/env python3
"""Record llama.cpp's whole-model outputs as committed fixtures for
tests/model/test_model_oracle.py. Not run in CI: it needs llama-cpp-python
(pinned below, CPU build), which the project virtualenv does not have.

    PY=/tmp/llama-venv/bin/python          # llama-cpp-python==0.3.36, gguf==0.19.0, numpy
    nice $PY tests/oracle/gen_model_fixtures.py [--model models/gemma-3-270m-q4_k_m.gguf]
                                             [--vocab-dir models/vocab] [--only NAME,...]

For the default model and every tiny model of make_tiny_models.py it writes
tests/fixtures/model/<name>.json and <name>.logits.npz:

  - teacher-forced logits over the first positions of tests/oracle/natural_text.txt
    (tokenized by llama.cpp with BOS if the vocabulary asks for it): per position
    the top-K token ids and log-probabilities (log-softmax over the full vocabulary),
    the log of the probability mass outside the top-K, the log-sum-exp (so raw
    logits are top-K log-probs + lse), the top-1 id and the top1-top2 logit gap;
  - greedy generation for a few prompts: prompt token ids, generated ids and
    the top1-top2 logit gap at every step;
  - the llama.cpp settings, library versions and the model file's SHA-256;
  - llama.cpp's own noise floor: the same inputs through llama.cpp with other,
    equally valid numerics (f32 KV cache, flash attention, one token per
    batch), compared with the recorded outputs like the test compares qlm, and
    the test thresholds derived from it ("thresholds").

`gen_model_fixtures.py qlm-shim [--variant V] logits|run ...` imitates the two
qlm commands the test drives, with llama.cpp underneath; pointing the test at
it (through a two-line wrapper script as QLM_BIN) checks the test's own logic:
it must pass with KL ~ 0 and identical greedy ids, and with --variant it must
pass llama.cpp's own noise variants too.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FIXDIR = REPO / "tests" / "fixtures" / "model"
TEXT = HERE / "natural_text.txt"
DEFAULT_MODEL = REPO / "models" / "gemma-3-270m-q4_k_m.gguf"
LLAMA_CPP_PYTHON = "0.3.36"
FORMAT = 1
TOP_K = 64
TIE_GAP = 1e-3       # top1-top2 logit gaps below this are ties: either choice is right
TOP1_MIN = 0.99      # teacher-forced top-1 agreement over the non-tie positions
MEAN_KL_FLOOR = 0.005
NOISE_MARGIN = 2.0   # thresholds = this x the largest deviation of llama.cpp from itself

# Numerically different but equally valid ways for llama.cpp to run the same
# model; how far they move its outputs is the least a correct independent
# implementation can be expected to differ by.
VARIANTS = {
    "kv_f32": dict(type_k=0, type_v=0),          # GGML_TYPE_F32 KV cache: no f16 rounding of K, V
    "flash_attn": dict(flash_attn=True),          # fused attention kernel
    "ubatch1": dict(n_batch=1, n_ubatch=1),       # one token per decode call: the decode-path kernels
}
N_PREDICT = 64
THREADS = 2
SEED = 1234          # no sampling happens; recorded for completeness

# Prompts of our own: a question, a list start, code, a translation request, a
# story start, a fact completion. No chat template: raw text completion.
PROMPTS = [
    ("question", "Question: Why is the sky blue during the day but red at sunset?\nAnswer:"),
    ("list", "Things to pack for a weekend hiking trip:\n1."),
    ("code", "def is_prime(n):\n    \"\"\"Return True if n is a prime number.\"\"\"\n"),
    ("translation", "Translate into French: The train leaves at seven o'clock tomorrow morning.\nFrench:"),
    ("story", "The old clockmaker opened his shop one rainy morning and found"),
    ("facts", "The planets of the solar system, in order from the Sun, are"),
]

# name -> (n_ctx, teacher-forced positions). The default model's sliding window
# (512) is longer than 320 positions: its SWA masking is covered by tiny-gemma3.
DEFAULT_NAME = "gemma-3-270m"
SIZES = {DEFAULT_NAME: (512, 320)}
TINY_SIZES = (256, 160)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_make_tiny_models():
    sys.path.insert(0, str(HERE))
    import make_tiny_models
    return make_tiny_models


# ----------------------------------------------------------------------------- llama.cpp

def open_llama(path: Path, n_ctx: int, **overrides):
    import llama_cpp
    assert llama_cpp.__version__ == LLAMA_CPP_PYTHON, f"llama-cpp-python {llama_cpp.__version__}, want {LLAMA_CPP_PYTHON}"
    args = dict(model_path=str(path), n_ctx=n_ctx, n_batch=512, n_ubatch=512, logits_all=True,
                n_threads=THREADS, n_threads_batch=THREADS, n_gpu_layers=0, seed=SEED,
                flash_attn=False, verbose=False)
    args.update(overrides)
    return llama_cpp.Llama(**args)


def settings(llm, n_ctx):
    import llama_cpp
    cp = llm.context_params
    kv_names = {int(llama_cpp.GGML_TYPE_F16): "f16", int(llama_cpp.GGML_TYPE_F32): "f32"}
    return {
        "n_ctx": n_ctx, "n_batch": int(cp.n_batch), "n_ubatch": int(cp.n_ubatch),
        "n_threads": int(cp.n_threads), "n_threads_batch": int(cp.n_threads_batch),
        "n_gpu_layers": 0, "backend": "CPU",
        "flash_attn": False, "flash_attn_type": int(cp.flash_attn_type),
        "type_k": kv_names.get(int(cp.type_k), int(cp.type_k)),
        "type_v": kv_names.get(int(cp.type_v), int(cp.type_v)),
        "swa_full": bool(cp.swa_full), "offload_kqv": bool(cp.offload_kqv),
        "logits_all": True, "seed": SEED,
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
    }


def clear(llm):
    """Forget every cached token (KV cache, SWA cache) before a new sequence."""
    import llama_cpp
    llm.reset()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm._ctx.ctx), True)


def eval_logits(llm, tokens) -> np.ndarray:
    """float32 logits [len(tokens), n_vocab], one row per input position."""
    clear(llm)
    llm.eval(list(tokens))
    return np.array(llm.scores[:len(tokens)], dtype=np.float32, copy=True)


def is_eog(llm, tok):
    import llama_cpp
    return bool(llama_cpp.llama_vocab_is_eog(llm._model.vocab, tok))


def greedy(llm, prompt_tokens, n_predict):
    """Greedy decoding on llama.cpp's own logits: argmax (lowest id on exact
    ties), stop after an end-of-generation token. Returns ids and gaps."""
    clear(llm)
    llm.eval(list(prompt_tokens))
    out, gaps, eog = [], [], False
    for _ in range(n_predict):
        row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        top2 = np.argsort(-row, kind="stable")[:2]
        out.append(int(top2[0]))
        gaps.append(float(row[top2[0]] - row[top2[1]]))
        if is_eog(llm, out[-1]):
            eog = True
            break
        llm.eval([out[-1]])
    return out, gaps, eog


# ----------------------------------------------------------------------------- statistics

def logit_stats(logits: np.ndarray, k=TOP_K):
    """Per row: top-k ids by probability (ties by lower id), their log-probs,
    log of the mass outside the top-k, log-sum-exp, top-1 id, top1-top2 gap."""
    n = logits.shape[0]
    ids = np.zeros((n, k), np.int32)
    lps = np.zeros((n, k), np.float32)
    rest = np.zeros(n, np.float32)
    lse = np.zeros(n, np.float32)
    gap = np.zeros(n, np.float32)
    for i in range(n):
        x = logits[i].astype(np.float64)
        m = x.max()
        s = math.log(np.exp(x - m).sum()) + m
        order = np.lexsort((np.arange(x.size), -x))  # by logit desc, then id asc
        top = order[:k]
        ids[i] = top
        lps[i] = x[top] - s
        others = np.ones(x.size, bool)
        others[top] = False
        xo = x[others]
        mo = xo.max()
        rest[i] = math.log(np.exp(xo - mo).sum()) + mo - s
        lse[i] = s
        gap[i] = x[order[0]] - x[order[1]]
    return {"topk_ids": ids, "topk_logprobs": lps, "rest_logprob": rest, "lse": lse,
            "top1": ids[:, 0].copy(), "gap": gap}


def sanity(name, tokens, logits, stats, gen, strict):
    """llama.cpp's outputs must not be degenerate, or the comparison proves
    little: varied top-1, clear margins, peaked but not one-hot predictions,
    and predictions that depend on context (the same input token at different
    positions must predict differently)."""
    n, v = logits.shape
    lp = logits.astype(np.float64) - stats["lse"][:, None].astype(np.float64)
    p = np.exp(lp)
    entropy = -(p * lp).sum(axis=1)
    n_top1 = len(set(stats["top1"].tolist()))
    tie_frac = float((stats["gap"] < TIE_GAP).mean())
    # Context dependence: KL between the predictions after equal input tokens.
    pos_by_tok = {}
    for i, t in enumerate(tokens):
        pos_by_tok.setdefault(t, []).append(i)
    kls = []
    for t, ps in pos_by_tok.items():
        for a, b in zip(ps, ps[1:]):
            kls.append(float((p[a] * (lp[a] - lp[b])).sum()))
    ctx_kl = float(np.mean(kls)) if kls else float("nan")
    gen_gaps = np.concatenate([np.asarray(g["gaps"]) for g in gen]) if gen else np.zeros(0)
    gen_ties = float((gen_gaps < TIE_GAP).mean()) if gen_gaps.size else 0.0
    gen_distinct = [len(set(g["tokens"])) for g in gen]
    out = {
        "distinct_top1": n_top1, "tie_fraction": tie_frac,
        "mean_entropy": float(entropy.mean()), "log_vocab": math.log(v),
        "mean_top1_prob": float(np.exp(stats["topk_logprobs"][:, 0]).mean()),
        "mean_topk_mass": float(1 - np.exp(stats["rest_logprob"]).mean()),
        "context_kl_same_token": ctx_kl, "n_same_token_pairs": len(kls),
        "greedy_tie_fraction": gen_ties, "greedy_distinct_tokens": gen_distinct,
    }
    print(f"  sanity {name}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                          for k, v in out.items()))
    problems = []
    if n_top1 < max(8, n // 10):
        problems.append(f"top-1 nearly constant ({n_top1} distinct over {n} positions)")
    if tie_frac > 0.05:
        problems.append(f"{tie_frac:.1%} of positions have a top1-top2 gap < {TIE_GAP}")
    if gen_ties > 0.05:
        problems.append(f"{gen_ties:.1%} of greedy steps have a gap < {TIE_GAP}")
    if not (0.3 < out["mean_entropy"] < out["log_vocab"] - 1.0):
        problems.append(f"mean entropy {out['mean_entropy']:.3g} (one-hot or uniform)")
    if not ctx_kl > 0.05:
        problems.append(f"predictions barely depend on context (KL {ctx_kl:.3g})")
    if problems:
        msg = f"{name}: degenerate oracle outputs: " + "; ".join(problems)
        if strict:
            raise SystemExit(msg)
        print("  WARNING " + msg)
    return out


# ----------------------------------------------------------------------------- fixtures

def coarse_kl(stats, logits):
    """KL(recorded || other) per position over the recorded top-K plus one
    bucket for the rest, and the other's argmax: the test's metric, computed
    the same way (tests/model/test_model_oracle.py: coarse_kl)."""
    ids, lp, lr = stats["topk_ids"], stats["topk_logprobs"].astype(np.float64), stats["rest_logprob"].astype(np.float64)
    kl = np.zeros(len(ids))
    argmax = np.zeros(len(ids), np.int64)
    for i in range(len(ids)):
        x = logits[i].astype(np.float64)
        argmax[i] = int(np.argmax(x))
        m = x.max()
        lse = math.log(np.exp(x - m).sum()) + m
        q = x[ids[i]] - lse
        others = np.ones(x.size, bool)
        others[ids[i]] = False
        q_rest = math.log(np.exp(x[others] - m).sum()) + m - lse
        p = np.exp(lp[i])
        kl[i] = float((p * (lp[i] - q)).sum() + math.exp(lr[i]) * (lr[i] - q_rest))
    return kl, argmax


def compare_variant(stats, logits):
    kl, argmax = coarse_kl(stats, logits)
    flips = np.flatnonzero(argmax != stats["top1"])
    return {
        "mean_kl": float(kl.mean()), "p99_kl": float(np.quantile(kl, 0.99)), "max_kl": float(kl.max()),
        "top1_agreement": float(1 - len(flips) / len(kl)),
        "flip_positions": [int(i) for i in flips],
        "flip_gaps": [float(f"{stats['gap'][i]:.4g}") for i in flips],
    }


def greedy_divergence(base, other):
    """First step where a variant's greedy ids leave the recorded ones, and the
    recorded top1-top2 gap there (None when they agree throughout)."""
    a, b = base["tokens"], other
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return {"step": i, "gap": base["gaps"][i]}
    if len(a) != len(b):
        i = min(len(a), len(b))
        return {"step": i, "gap": base["gaps"][i] if i < len(base["gaps"]) else None}
    return None


def derive_thresholds(noise):
    """Thresholds for the test from llama.cpp's deviation from itself:
    mean KL limit = max(0.005, 2 x the largest mean KL of a variant); tie gap =
    max(1e-3, 2 x the largest recorded top1-top2 gap at which a variant chose
    a different token, teacher-forced or greedy). Top-1 agreement over the
    positions whose recorded gap is at least the tie gap must be >= 99 %."""
    kl = max(v["teacher_forced"]["mean_kl"] for v in noise.values())
    gaps = [g for v in noise.values() for g in v["teacher_forced"]["flip_gaps"]]
    gaps += [c["gap"] for v in noise.values() for c in v["greedy"] if c and c["gap"] is not None]
    return {
        "top1_min": TOP1_MIN,
        "mean_kl_max": float(f"{max(MEAN_KL_FLOOR, NOISE_MARGIN * kl):.3g}"),
        "tie_gap": float(f"{max(TIE_GAP, NOISE_MARGIN * max(gaps, default=0.0)):.3g}"),
        "rule": (f"mean_kl_max = max({MEAN_KL_FLOOR}, {NOISE_MARGIN} x the largest mean KL between llama.cpp and "
                 f"one of its noise variants); tie_gap = max({TIE_GAP}, {NOISE_MARGIN} x the largest recorded "
                 "top1-top2 logit gap at which a variant chose another token, teacher-forced or greedy); "
                 f"top-1 agreement >= {TOP1_MIN} over positions whose recorded gap >= tie_gap; greedy ids equal "
                 "up to the first divergence, which must fall on a step whose recorded gap < tie_gap"),
    }


def record(name, path: Path, n_ctx, n_pos, strict, extra=None):
    import gguf
    import llama_cpp
    print(f"{name}: {path}")
    llm = open_llama(path, n_ctx)
    text = TEXT.read_text(encoding="utf-8")
    all_tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    assert len(all_tokens) >= n_pos, f"{name}: text is only {len(all_tokens)} tokens"
    tokens = [int(t) for t in all_tokens[:n_pos]]
    logits = eval_logits(llm, tokens)
    assert np.isfinite(logits).all()
    stats = logit_stats(logits)

    gen = []
    for case, prompt in PROMPTS:
        ptoks = [int(t) for t in llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)]
        assert len(ptoks) + N_PREDICT <= n_ctx
        toks, gaps, eog = greedy(llm, ptoks, N_PREDICT)
        gen.append({
            "name": case, "prompt": prompt, "prompt_tokens": ptoks, "n_predict": N_PREDICT,
            "tokens": toks, "gaps": [float(f"{g:.6g}") for g in gaps], "stopped_at_eog": eog,
            "text": llm.detokenize(toks).decode("utf-8", "replace"),
        })
        print(f"  greedy {case}: {len(ptoks)} prompt tokens, {len(toks)} generated"
              f"{' (eog)' if eog else ''}, min gap {min(gaps):.3g}: {gen[-1]['text'][:60]!r}")
    base_settings = settings(llm, n_ctx)
    add_bos = bool(llama_cpp.llama_vocab_get_add_bos(llm._model.vocab))
    bos, eos = int(llm.token_bos()), int(llm.token_eos())
    del llm

    noise = {}
    for vname, overrides in VARIANTS.items():
        v = open_llama(path, n_ctx, **overrides)
        tf = compare_variant(stats, eval_logits(v, tokens))
        gd = [greedy_divergence(g, greedy(v, g["prompt_tokens"], N_PREDICT)[0]) for g in gen]
        noise[vname] = {"overrides": dict(overrides), "teacher_forced": tf, "greedy": gd}
        print(f"  noise {vname}: mean KL {tf['mean_kl']:.3g}, max {tf['max_kl']:.3g}, top-1 "
              f"{tf['top1_agreement']:.2%}, flips at gaps {tf['flip_gaps'][:8]}; greedy divergence "
              f"{[(d['step'], d['gap']) if d else None for d in gd]}")
        del v
    thresholds = derive_thresholds(noise)
    excused = float((stats["gap"] < thresholds["tie_gap"]).mean())
    print(f"  thresholds: {thresholds['mean_kl_max']} mean KL, tie gap {thresholds['tie_gap']} "
          f"({excused:.1%} of positions below it)")

    fix = {
        "format": FORMAT,
        "name": name,
        "model_file": path.name,
        "model_sha256": sha256(path),
        "model_size": path.stat().st_size,
        "n_vocab": int(logits.shape[1]),
        "add_bos": add_bos,
        "bos_id": bos,
        "eos_id": eos,
        "generator": {
            "script": "tests/oracle/gen_model_fixtures.py",
            "llama_cpp_python": llama_cpp.__version__, "gguf": importlib.metadata.version("gguf"),
            "numpy": np.__version__, "python": platform.python_version(), "machine": platform.machine(),
        },
        "llama_cpp": base_settings,
        "thresholds": thresholds,
        "teacher_forced": {
            "text_file": "tests/oracle/natural_text.txt",
            "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "n_text_tokens": len(all_tokens),
            "n_positions": n_pos,
            "tokens": tokens,
            "top_k": TOP_K,
            "arrays": f"{name}.logits.npz",
        },
        "greedy": gen,
        "noise": noise,
    }
    if extra:
        fix.update(extra)
    fix["sanity"] = sanity(name, tokens, logits, stats, gen, strict)
    FIXDIR.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXDIR / f"{name}.logits.npz", **stats)
    with open(FIXDIR / f"{name}.json", "w", encoding="utf-8") as f:
        json.dump(fix, f, indent=1, ensure_ascii=False)
        f.write("\n")


def generate(args):
    names = [n for n in args.only.split(",") if n]
    mtm = load_make_tiny_models()
    want = lambda n: not names or n in names  # noqa: E731
    if want(DEFAULT_NAME):
        n_ctx, n_pos = SIZES[DEFAULT_NAME]
        record(DEFAULT_NAME, args.model, n_ctx, n_pos, strict=False)
    with tempfile.TemporaryDirectory(prefix="qlm-tiny-") as tmp:
        for n, spec in mtm.SPECS.items():
            if not want(n):
                continue
            path = Path(tmp) / f"{n}.gguf"
            mtm.build(spec, path, args.vocab_dir)
            n_ctx, n_pos = TINY_SIZES
            record(n, path, n_ctx, n_pos, strict=True, extra={
                "tiny": {"generator": "tests/oracle/make_tiny_models.py", "vocab": spec.vocab,
                         "vocab_sha256": sha256(args.vocab_dir / f"ggml-vocab-{spec.vocab}.gguf")}})
    total = sum(f.stat().st_size for f in FIXDIR.iterdir())
    print(f"fixtures: {total / 1e6:.2f} MB in {FIXDIR}")


# ----------------------------------------------------------------------------- qlm shim

def shim(argv):
    """`qlm logits` / `qlm run --json` with llama.cpp underneath, to check the test."""
    ap = argparse.ArgumentParser(prog="qlm-shim")
    ap.add_argument("--variant", choices=list(VARIANTS), help="run llama.cpp with a noise variant's settings")
    sub = ap.add_subparsers(dest="cmd", required=True)
    lg = sub.add_parser("logits")
    lg.add_argument("-m", required=True)
    lg.add_argument("--tokens-file", required=True)
    lg.add_argument("-o", required=True)
    lg.add_argument("-c", type=int, default=512)
    lg.add_argument("-t", type=int, default=THREADS)
    rn = sub.add_parser("run")
    rn.add_argument("-m", required=True)
    rn.add_argument("-p", required=True)
    rn.add_argument("-n", type=int, default=N_PREDICT)
    rn.add_argument("--temp", type=float, default=0.0)
    rn.add_argument("-c", type=int, default=512)
    rn.add_argument("-t", type=int, default=THREADS)
    rn.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    llm = open_llama(Path(a.m), a.c, **VARIANTS.get(a.variant, {}))
    if a.cmd == "logits":
        ids = [int(x) for x in Path(a.tokens_file).read_text().split()]
        np.save(a.o, eval_logits(llm, ids))
    else:
        assert a.temp == 0.0 and a.json
        ptoks = llm.tokenize(a.p.encode("utf-8"), add_bos=True, special=False)
        toks, _, _ = greedy(llm, ptoks, a.n)
        print(json.dumps({"prompt_tokens": ptoks, "tokens": toks,
                          "text": llm.detokenize(toks).decode("utf-8", "replace"),
                          "stats": {"engine": "llama.cpp shim"}}))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["qlm-shim"]:
        return shim(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--vocab-dir", type=Path, default=REPO / "models" / "vocab")
    ap.add_argument("--only", default="", help=f"comma-separated: {DEFAULT_NAME}, tiny-llama, ...")
    generate(ap.parse_args(argv))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
    main()
