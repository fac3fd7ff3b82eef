#!/usr/bin/env python3
"""make_slice.py OUT.gguf --model llama3.1-8b|qwen2.5-7b --mix q4_k_m|q8_0 [--layers N]

Writes a real-shape slice of a large model for the benchmarks: the real
embedding width, FFN width, head counts, vocabulary (llama.cpp's vocab-only
GGUF: models/vocab, scripts/fetch_vocabs.sh) and a few layers (2-4) of random
weights, so the 4096 x 14336 (or 3584 x 18944) layers run end to end through
`qlm bench model --profile` and llama-bench. Not committed: generate it into a
temporary folder (a 4-layer Llama-3.1-8B Q4_K_M slice is about 1.2 GB).

  llama3.1-8b  arch llama: n_embd 4096, n_ff 14336, 32 heads / 8 kv heads of 128,
               vocab llama-bpe (128256), rope base 500000, eps 1e-5
  qwen2.5-7b   arch qwen2: n_embd 3584, n_ff 18944, 28 heads / 4 kv heads of 128,
               Q/K/V biases, vocab qwen2, rope base 1e6, eps 1e-6

Mixes: q4_k_m as llama.cpp's Q4_K_M assigns types (Q4_K; attn_v and ffn_down
Q6_K on every other layer here; token_embd Q4_K, output Q6_K); q8_0 (every
matrix Q8_0). Weights are random bytes with per-block fp16 scales set so each
tensor's dequantized standard deviation is about its 1/sqrt(fan-in) target
(calibrated with gguf.quants.dequantize on a sample of rows): realistic
magnitudes for a speed test, meaningless text.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFWriter, quants
from gguf.constants import GGML_QUANT_SIZES

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "oracle"))
from make_tiny_models import copy_tokenizer  # noqa: E402  (the tokenizer keys, byte for byte)

MODELS = {
    "llama3.1-8b": dict(arch="llama", vocab="llama-bpe", n_embd=4096, n_ff=14336, n_head=32, n_head_kv=8,
                        head_dim=128, eps=1e-5, rope_base=500000.0, qkv_bias=False, ctx=8192),
    "qwen2.5-7b": dict(arch="qwen2", vocab="qwen2", n_embd=3584, n_ff=18944, n_head=28, n_head_kv=4,
                       head_dim=128, eps=1e-6, rope_base=1e6, qkv_bias=True, ctx=8192),
}
# fp16 scale fields (byte offsets inside a block; ggml-common.h layouts) and,
# for the formats with a min, the ratio of dmin to d that centres a block.
FP16 = {T.Q8_0: [0], T.Q4_0: [0], T.Q5_0: [0], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
MIN_RATIO = {T.Q4_K: 7.5, T.Q5_K: 15.5}


def random_weight(qtype, n_rows, n_cols, std, rng):
    block, size = GGML_QUANT_SIZES[qtype]
    per_row = n_cols // block
    raw = rng.integers(0, 256, size=(n_rows * per_row, size), dtype=np.uint8)
    d = rng.uniform(0.5, 1.5, size=len(raw)).astype(np.float32)
    fields = [d, d * MIN_RATIO[qtype] * rng.uniform(0.8, 1.2, size=len(raw)).astype(np.float32)] \
        if qtype in MIN_RATIO else [d]

    def put(scale, rows=None):
        sl = slice(None) if rows is None else slice(0, rows * per_row)
        for off, v in zip(FP16[qtype], fields):
            raw[sl, off:off + 2] = (v[sl] * scale).astype(np.float16).view(np.uint8).reshape(-1, 2)

    sample = min(n_rows, 64)
    put(np.float32(1.0), sample)
    cur = float(quants.dequantize(raw[:sample * per_row].reshape(sample, -1), qtype).std())
    put(np.float32(std / cur))
    w = quants.dequantize(raw[:sample * per_row].reshape(sample, -1), qtype)
    assert np.isfinite(w).all() and 0.8 * std < float(w.std()) < 1.2 * std, (qtype.name, float(w.std()), std)
    return raw.reshape(n_rows, -1)


def build(out: Path, model: str, mix: str, n_layer: int, vocab_dir: Path, seed: int):
    m = MODELS[model]
    a, E, F, D = m["arch"], m["n_embd"], m["n_ff"], m["head_dim"]
    rng = np.random.default_rng(seed)
    w = GGUFWriter(str(out), a)
    w.add_name(f"{model} {mix} slice, {n_layer} layers, random weights")
    w.add_uint32(f"{a}.context_length", m["ctx"])
    w.add_uint32(f"{a}.embedding_length", E)
    w.add_uint32(f"{a}.block_count", n_layer)
    w.add_uint32(f"{a}.feed_forward_length", F)
    w.add_uint32(f"{a}.attention.head_count", m["n_head"])
    w.add_uint32(f"{a}.attention.head_count_kv", m["n_head_kv"])
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", m["eps"])
    w.add_float32(f"{a}.rope.freq_base", m["rope_base"])
    w.add_uint32(f"{a}.rope.dimension_count", D)
    w.add_uint32("general.quantization_version", 2)
    w.add_uint32("general.file_type", 15 if mix == "q4_k_m" else 7)  # llama_ftype MOSTLY_Q4_K_M / Q8_0
    n_vocab = copy_tokenizer(w, vocab_dir / f"ggml-vocab-{m['vocab']}.gguf")

    def t(role, layer):
        if mix == "q8_0":
            return T.Q8_0
        if role in ("attn_v", "ffn_down", "output"):
            return T.Q6_K if role == "output" or layer % 2 == 0 else T.Q4_K
        return T.Q4_K

    def add(name, qtype, n_rows, n_cols, std):
        arr = random_weight(qtype, n_rows, n_cols, std, rng)
        w.add_tensor(name, arr, raw_shape=arr.shape, raw_dtype=qtype)

    def vec(name, n, mean, spread):
        w.add_tensor(name, (mean + rng.standard_normal(n, dtype=np.float32) * np.float32(spread)).astype(np.float32))

    q_out, kv_out = m["n_head"] * D, m["n_head_kv"] * D
    add("token_embd.weight", t("token_embd", 0), n_vocab, E, 0.5)
    for i in range(n_layer):
        p = f"blk.{i}."
        vec(p + "attn_norm.weight", E, 1.0, 0.2)
        add(p + "attn_q.weight", t("attn_q", i), q_out, E, 1 / np.sqrt(E))
        add(p + "attn_k.weight", t("attn_k", i), kv_out, E, 1 / np.sqrt(E))
        add(p + "attn_v.weight", t("attn_v", i), kv_out, E, 1 / np.sqrt(E))
        if m["qkv_bias"]:
            vec(p + "attn_q.bias", q_out, 0.0, 0.5)
            vec(p + "attn_k.bias", kv_out, 0.0, 0.5)
            vec(p + "attn_v.bias", kv_out, 0.0, 0.2)
        add(p + "attn_output.weight", t("attn_output", i), E, q_out, 1 / np.sqrt(q_out))
        vec(p + "ffn_norm.weight", E, 1.0, 0.2)
        add(p + "ffn_gate.weight", t("ffn_gate", i), F, E, 1 / np.sqrt(E))
        add(p + "ffn_up.weight", t("ffn_up", i), F, E, 1 / np.sqrt(E))
        add(p + "ffn_down.weight", t("ffn_down", i), E, F, 1 / np.sqrt(F))
    vec("output_norm.weight", E, 1.0, 0.2)
    add("output.weight", t("output", 0), n_vocab, E, 3 / np.sqrt(E))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", choices=sorted(MODELS), default="llama3.1-8b")
    ap.add_argument("--mix", choices=["q4_k_m", "q8_0"], default="q4_k_m")
    ap.add_argument("--layers", type=int, default=2, help="layers (2-4 keep the file small)")
    ap.add_argument("--vocab-dir", type=Path, default=REPO / "models" / "vocab")
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args(argv)
    if args.layers < 1:
        sys.exit("--layers must be >= 1")
    try:
        args.out.resolve().relative_to(REPO)
        sys.exit("write the slice outside the repository (it is not committed)")
    except ValueError:
        pass
    build(args.out, args.model, args.mix, args.layers, args.vocab_dir, args.seed)
    print(args.out)


if __name__ == "__main__":
    main()
