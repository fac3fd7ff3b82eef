"""make_moe_slice.py OUT.gguf [--model qwen3-30b-a3b|gpt-oss-20b] [--layers N] [--seed S]

--model qwen3-30b-a3b (default): a real-shape slice of Qwen3-30B-A3B for benchmarks: the exact dimensions
(n_embd 2048, 32 query heads and 4 KV heads of 128, 128 experts of which 8 per
token, expert FFN 768, the qwen2 vocabulary of models/vocab/ggml-vocab-qwen2.gguf
copied key for key as tests/oracle/make_tiny_models.py does) but only a few
layers (default 2) and random weights, in Q4_K_M-like types: token_embd Q4_K,
attn_q/attn_k/attn_output Q4_K, attn_v Q6_K, ffn_gate_exps/ffn_up_exps Q4_K,
ffn_down_exps Q6_K, ffn_gate_inp (router) F32, norms F32, output Q6_K.

The weights are 64 random rows per tensor (from make_tiny_models.make_weight,
std calibrated through gguf.quants) tiled over all rows: speed does not depend
on the values, and generating ~200 M random K-quant values per expert tensor
in numpy would take minutes. The router is Gaussian F32, so tokens spread over
the experts. The file is for benchmarks only (not committed; ~1 GB at 2 layers).

--model gpt-oss-20b: the dimensions of gpt-oss-20b (arch gpt-oss: n_embd 2880,
64 query heads and 8 KV heads of 64, 32 experts of which 4 per token, expert
FFN 2880, sliding window 128 on every other layer starting with the first,
attention sinks, YaRN RoPE factor 32 over 4096, rope base 150000, Q/K/V/output,
router and expert biases) in the types of the MXFP4 release: experts
(ffn_gate_exps/ffn_up_exps/ffn_down_exps) MXFP4, attention and
token_embd/output Q8_0, router, norms, sinks and biases F32. The vocabulary is
the qwen2 one (151936 tokens; gpt-oss's o200k has 201088, so the LM head here is
about a quarter smaller than the real one: no o200k vocab-only GGUF is in
models/vocab).

  .venv/bin/python bench/make_moe_slice.py /tmp/qwen3-30b-a3b-slice.gguf --layers 2
  .venv/bin/python bench/make_moe_slice.py /tmp/gpt-oss-20b-slice.gguf --model gpt-oss-20b --layers 2
  build/tools/qlm/qlm bench model -m /tmp/qwen3-30b-a3b-slice.gguf -t 2
"""
import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "oracle"))
from make_tiny_models import T, GGUFWriter, copy_tokenizer, make_weight  # noqa: E402

ARCH = "qwen3moe"
N_EMBD, N_HEAD, N_HEAD_KV, HEAD_DIM = 2048, 32, 4, 128
N_EXPERT, N_USED, N_FF_EXP, N_FF = 128, 8, 768, 6144
TILE = 64


def tiled(qtype, n_rows, n_cols, std, rng, n_mats=1):
    """[n_mats, n_rows, n_cols] (GGUF [n_cols, n_rows, n_mats]) of qtype from TILE random rows."""
    tile = make_weight(qtype, TILE, n_cols, std, rng)
    reps = -(-n_rows * n_mats // TILE)
    full = np.tile(tile, (reps, 1))[: n_rows * n_mats]
    return full.reshape((n_mats, n_rows, -1) if n_mats > 1 else (n_rows, -1))


def gpt_oss(a, rng):
    """The gpt-oss-20b slice (see the module doc)."""
    arch, E, NH, NKV, D, NE, NU, FX = "gpt-oss", 2880, 64, 8, 64, 32, 4, 2880
    w = GGUFWriter(str(a.out), arch)
    w.add_name(f"gpt-oss-20b-slice-{a.layers}l")
    p = arch + "."
    w.add_uint32(p + "context_length", 131072)
    w.add_uint32(p + "embedding_length", E)
    w.add_uint32(p + "block_count", a.layers)
    w.add_uint32(p + "feed_forward_length", FX)
    w.add_uint32(p + "expert_feed_forward_length", FX)
    w.add_uint32(p + "expert_count", NE)
    w.add_uint32(p + "expert_used_count", NU)
    w.add_uint32(p + "attention.head_count", NH)
    w.add_uint32(p + "attention.head_count_kv", NKV)
    w.add_uint32(p + "attention.key_length", D)
    w.add_uint32(p + "attention.value_length", D)
    w.add_uint32(p + "attention.sliding_window", 128)
    w.add_float32(p + "attention.layer_norm_rms_epsilon", 1e-5)
    w.add_float32(p + "rope.freq_base", 150000.0)
    w.add_uint32(p + "rope.dimension_count", D)
    w.add_string(p + "rope.scaling.type", "yarn")
    w.add_float32(p + "rope.scaling.factor", 32.0)
    w.add_uint32(p + "rope.scaling.original_context_length", 4096)
    w.add_uint32("general.quantization_version", 2)
    n_vocab = copy_tokenizer(w, a.vocab)
    inv = lambda n: float(1.0 / np.sqrt(n))  # noqa: E731

    def add(name, qtype, arr):
        w.add_tensor(name, arr, raw_shape=arr.shape, raw_dtype=qtype)

    def f32(name, *shape, mean=0.0, spread=0.1):
        w.add_tensor(name, (mean + rng.standard_normal(shape).astype(np.float32) * np.float32(spread)).astype(np.float32))

    q_out, kv_out = NH * D, NKV * D
    add("token_embd.weight", T.Q8_0, tiled(T.Q8_0, n_vocab, E, 0.5, rng))
    for i in range(a.layers):
        b = f"blk.{i}."
        f32(b + "attn_norm.weight", E, mean=1.0, spread=0.2)
        add(b + "attn_q.weight", T.Q8_0, tiled(T.Q8_0, q_out, E, inv(E), rng))
        add(b + "attn_k.weight", T.Q8_0, tiled(T.Q8_0, kv_out, E, inv(E), rng))
        add(b + "attn_v.weight", T.Q8_0, tiled(T.Q8_0, kv_out, E, inv(E), rng))
        f32(b + "attn_q.bias", q_out, spread=0.5)
        f32(b + "attn_k.bias", kv_out, spread=0.5)
        f32(b + "attn_v.bias", kv_out, spread=0.2)
        add(b + "attn_output.weight", T.Q8_0, tiled(T.Q8_0, E, q_out, inv(q_out), rng))
        f32(b + "attn_output.bias", E)
        f32(b + "attn_sinks.weight", NH, spread=1.0)
        f32(b + "post_attention_norm.weight", E, mean=1.0, spread=0.2)
        f32(b + "ffn_gate_inp.weight", NE, E, spread=inv(E))
        f32(b + "ffn_gate_inp.bias", NE, spread=0.5)
        add(b + "ffn_gate_exps.weight", T.MXFP4, tiled(T.MXFP4, FX, E, inv(E), rng, NE))
        add(b + "ffn_up_exps.weight", T.MXFP4, tiled(T.MXFP4, FX, E, inv(E), rng, NE))
        add(b + "ffn_down_exps.weight", T.MXFP4, tiled(T.MXFP4, E, FX, inv(FX), rng, NE))
        f32(b + "ffn_gate_exps.bias", NE, FX)
        f32(b + "ffn_up_exps.bias", NE, FX)
        f32(b + "ffn_down_exps.bias", NE, E)
    f32("output_norm.weight", E, mean=1.0, spread=0.2)
    add("output.weight", T.Q8_0, tiled(T.Q8_0, n_vocab, E, 3.0 * inv(E), rng))
    return w, n_vocab


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", choices=["qwen3-30b-a3b", "gpt-oss-20b"], default="qwen3-30b-a3b")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=30)
    ap.add_argument("--vocab", type=Path, default=REPO / "models" / "vocab" / "ggml-vocab-qwen2.gguf")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    try:
        a.out.resolve().relative_to(REPO)
        sys.exit("write the slice outside the repository (it is not committed)")
    except ValueError:
        pass
    if a.model == "gpt-oss-20b":
        w, n_vocab = gpt_oss(a, rng)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        print(f"wrote {a.out} ({a.out.stat().st_size / 2**30:.2f} GiB, {a.layers} layers, vocab {n_vocab})")
        return
    w = GGUFWriter(str(a.out), ARCH)
    w.add_name(f"qwen3-30b-a3b-slice-{a.layers}l")
    p = ARCH + "."
    w.add_uint32(p + "context_length", 40960)
    w.add_uint32(p + "embedding_length", N_EMBD)
    w.add_uint32(p + "block_count", a.layers)
    w.add_uint32(p + "feed_forward_length", N_FF)
    w.add_uint32(p + "expert_feed_forward_length", N_FF_EXP)
    w.add_uint32(p + "expert_count", N_EXPERT)
    w.add_uint32(p + "expert_used_count", N_USED)
    w.add_uint32(p + "attention.head_count", N_HEAD)
    w.add_uint32(p + "attention.head_count_kv", N_HEAD_KV)
    w.add_uint32(p + "attention.key_length", HEAD_DIM)
    w.add_uint32(p + "attention.value_length", HEAD_DIM)
    w.add_float32(p + "attention.layer_norm_rms_epsilon", 1e-6)
    w.add_float32(p + "rope.freq_base", 1e6)
    w.add_uint32("general.quantization_version", 2)
    n_vocab = copy_tokenizer(w, a.vocab)

    inv = lambda n: float(1.0 / np.sqrt(n))  # noqa: E731

    def add(name, qtype, arr):
        if qtype == T.F32:
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, arr, raw_shape=arr.shape, raw_dtype=qtype)

    def vec(n, mean, spread):
        return (mean + rng.standard_normal(n).astype(np.float32) * np.float32(spread)).astype(np.float32)

    add("token_embd.weight", T.Q4_K, tiled(T.Q4_K, n_vocab, N_EMBD, 0.5, rng))
    q_out, kv_out = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM
    for i in range(a.layers):
        b = f"blk.{i}."
        add(b + "attn_norm.weight", T.F32, vec(N_EMBD, 1.0, 0.2))
        add(b + "attn_q.weight", T.Q4_K, tiled(T.Q4_K, q_out, N_EMBD, inv(N_EMBD), rng))
        add(b + "attn_k.weight", T.Q4_K, tiled(T.Q4_K, kv_out, N_EMBD, inv(N_EMBD), rng))
        add(b + "attn_v.weight", T.Q6_K, tiled(T.Q6_K, kv_out, N_EMBD, inv(N_EMBD), rng))
        add(b + "attn_q_norm.weight", T.F32, vec(HEAD_DIM, 1.7, 0.3))
        add(b + "attn_k_norm.weight", T.F32, vec(HEAD_DIM, 1.7, 0.3))
        add(b + "attn_output.weight", T.Q4_K, tiled(T.Q4_K, N_EMBD, q_out, inv(q_out), rng))
        add(b + "ffn_norm.weight", T.F32, vec(N_EMBD, 1.0, 0.2))
        add(b + "ffn_gate_inp.weight", T.F32,
            (rng.standard_normal((N_EXPERT, N_EMBD)).astype(np.float32) * np.float32(inv(N_EMBD))))
        add(b + "ffn_gate_exps.weight", T.Q4_K, tiled(T.Q4_K, N_FF_EXP, N_EMBD, inv(N_EMBD), rng, N_EXPERT))
        add(b + "ffn_up_exps.weight", T.Q4_K, tiled(T.Q4_K, N_FF_EXP, N_EMBD, inv(N_EMBD), rng, N_EXPERT))
        add(b + "ffn_down_exps.weight", T.Q6_K, tiled(T.Q6_K, N_EMBD, N_FF_EXP, inv(N_FF_EXP), rng, N_EXPERT))
    add("output_norm.weight", T.F32, vec(N_EMBD, 1.0, 0.2))
    add("output.weight", T.Q6_K, tiled(T.Q6_K, n_vocab, N_EMBD, 3.0 * inv(N_EMBD), rng))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {a.out} ({a.out.stat().st_size / 2**30:.2f} GiB, {a.layers} layers, vocab {n_vocab})")


if __name__ == "__main__":
    main()
