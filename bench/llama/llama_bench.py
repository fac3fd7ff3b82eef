"""llama.cpp's pp/tg tokens/s through llama-cpp-python's C API, measured the
way llama-bench measures: pp = one llama_decode of n_prompt random tokens from
an empty cache (logits of the last token only), tg = n_gen single-token
decodes. Prints one JSON object (the same fields as `qlm bench model --json`).

Run with a Python that has llama-cpp-python (CPU build), e.g. the one
bench/llama/setup_llama.sh makes in /tmp; this is benchmark tooling, not product.
"""
import argparse
import ctypes
import json
import random
import statistics
import time

import llama_cpp as L


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-r", "--reps", type=int, default=3)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--flash-attn", action="store_true")
    a = ap.parse_args()

    L.llama_backend_init()
    mp = L.llama_model_default_params()
    mp.use_mmap = True
    model = L.llama_model_load_from_file(a.model.encode(), mp)
    if not model:
        raise SystemExit(f"cannot load {a.model}")
    vocab = L.llama_model_get_vocab(model)
    n_vocab = L.llama_vocab_n_tokens(vocab)
    cp = L.llama_context_default_params()
    cp.n_ctx = a.n_prompt + a.n_gen
    cp.n_batch = max(a.n_prompt, 1)
    cp.n_ubatch = max(a.n_prompt, 1)
    cp.n_threads = a.threads
    cp.n_threads_batch = a.threads
    if hasattr(cp, "flash_attn_type"):
        cp.flash_attn_type = 1 if a.flash_attn else 0
    elif hasattr(cp, "flash_attn"):
        cp.flash_attn = a.flash_attn
    ctx = L.llama_init_from_model(model, cp)
    mem = L.llama_get_memory(ctx)
    rng = random.Random(42)

    def decode(tokens):
        arr = (L.llama_token * len(tokens))(*tokens)
        batch = L.llama_batch_get_one(arr, len(tokens))
        if L.llama_decode(ctx, batch) != 0:
            raise SystemExit("llama_decode failed")
        L.llama_get_logits_ith(ctx, -1)

    pp, tg = [], []
    for r in range(-1, a.reps):  # one warm-up of each kind
        if a.n_prompt > 0:
            L.llama_memory_clear(mem, True)
            toks = [rng.randrange(n_vocab) for _ in range(a.n_prompt)]
            t0 = time.perf_counter()
            decode(toks)
            L.llama_synchronize(ctx)
            if r >= 0:
                pp.append(a.n_prompt / (time.perf_counter() - t0))
        if a.n_gen > 0:
            L.llama_memory_clear(mem, True)
            t0 = time.perf_counter()
            for _ in range(a.n_gen):
                decode([rng.randrange(n_vocab)])
            L.llama_synchronize(ctx)
            if r >= 0:
                tg.append(a.n_gen / (time.perf_counter() - t0))

    out = {"engine": "llama.cpp (llama-cpp-python %s)" % L.__version__, "model": a.model,
           "threads": a.threads, "reps": a.reps, "flash_attn": a.flash_attn}
    if pp:
        out["pp"] = {"tokens": a.n_prompt, "tokens_per_s": statistics.mean(pp),
                     "sd": statistics.stdev(pp) if len(pp) > 1 else 0.0, "runs": pp}
    if tg:
        out["tg"] = {"tokens": a.n_gen, "tokens_per_s": statistics.mean(tg),
                     "sd": statistics.stdev(tg) if len(tg) > 1 else 0.0, "runs": tg}
    print(json.dumps(out, indent=2))
    L.llama_free(ctx)
    L.llama_model_free(model)


if __name__ == "__main__":
    main()
