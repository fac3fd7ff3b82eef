#!/usr/bin/env python3
"""make_tiny_models.py OUTDIR [--vocab-dir DIR] [--only NAME,...] [--list]

Writes small random-weight GGUF models that llama.cpp loads, for the
whole-model oracle tests (tests/model/test_model_oracle.py):

  tiny-llama.gguf   arch llama,  llama-spm vocab, separate output.weight, rope base 10000 (key omitted)
  tiny-qwen2.gguf   arch qwen2,  qwen2 vocab, Q/K/V biases, tied embeddings, rope base 1e6
  tiny-qwen3.gguf   arch qwen3,  qwen2 vocab, attn_q_norm/attn_k_norm, head_dim 64 != n_embd/n_head,
                    separate output.weight, rope base 1e6
  tiny-gemma3.gguf  arch gemma3, llama-spm vocab, 6 layers so the default sliding-window pattern
                    (every 6th layer global) applies, sliding_window 12 < the test length,
                    separate output.weight (the default model covers the tied gemma3 head)
  tiny-lowbit.gguf  arch llama, llama-spm vocab, every tensor in one of the low-bit types
                    IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, TQ1_0, TQ2_0

  tiny-qwen3moe     arch qwen3moe, qwen2 vocab, 8 experts of which 3 per token (softmax,
                    renormalised), K-quant / Q8_0 / MXFP4 experts, F32 router
  tiny-mixtral      arch llama with 4 experts, 2 per token (Mixtral), llama-spm vocab
  tiny-glm4moe      arch glm4moe, qwen2 vocab, Q/K/V biases, partial rotary (half the head),
                    first layer dense, then 8 experts (3 per token) with sigmoid gating, a
                    selection bias, normalised and scaled weights, a shared expert; one extra
                    next-token-prediction layer that llama.cpp and qlm load and do not run
  tiny-granite      arch granite (llama + embedding/residual/attention/logit scales)
  tiny-phi3         arch phi3, phi-3 vocab, fused attn_qkv and gate/up in ffn_up
  tiny-gptoss       arch gpt-oss, qwen2 vocab (the tokenizer does not depend on the architecture),
                    Q/K/V/output biases, attention sinks, every other layer local (window 12),
                    YaRN RoPE, 8 MXFP4/Q8_0 experts with biases (3 per token, softmax over the chosen)

All use GQA and spread the weight types over the tensors (legacy, K-quants,
IQ4_NL/IQ4_XS, F16/BF16, F32 norms). The output is deterministic: the same
bytes on every run with the pinned gguf and numpy (tests/requirements.txt);
the oracle fixtures record each file's SHA-256 and the test checks it.

Weights: gguf.quants quantizes Gaussian values for the types it implements
(Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, BF16); for the others (K-quants, IQ4_*) the
blocks are random bytes with the per-block fp16 scales chosen so that every
sub-block is centred near zero, then all fp16 scale fields are rescaled so the
tensor's dequantized standard deviation hits its target. Every quantized
tensor is checked with gguf.quants.dequantize (finite, target std).

Scales are chosen for a useful test, not to imitate a trained model: attention
scores with a spread of about one unit (position-dependent attention, so RoPE,
masks and GQA grouping matter), layers that outweigh the embedding (so the
model does not just echo its input), and logits with a spread of a few units
(clear top-1 margins, low entropy). Sharper settings make llama.cpp's own
rounding (Q8 activations, f16 KV cache) swing the logits more; the fixture
generator measures that noise floor and derives the test thresholds from it.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType, GGUFWriter, quants
from gguf.constants import GGML_QUANT_SIZES

REPO = Path(__file__).resolve().parents[2]
DEFAULT_VOCAB_DIR = REPO / "models" / "vocab"

# Byte offsets of the fp16 scale fields inside one block (the block layouts of ggml-common.h).
FP16_FIELDS = {
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
    T.IQ4_NL: [0], T.IQ4_XS: [0],
    T.IQ2_XXS: [0], T.IQ2_XS: [0], T.IQ2_S: [0], T.IQ3_XXS: [0], T.IQ3_S: [0], T.IQ1_S: [0],
    T.IQ1_M: [],  # its fp16 d is the top nibbles of the four scale words: _put_iq1_m_d
}
# Types gguf.quants can quantize: built from Gaussian values.
GGUF_QUANTIZES = {T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.BF16, T.MXFP4, T.TQ1_0, T.TQ2_0}


def _put_iq1_m_d(raw, d):
    """IQ1_M blocks (bytes 48..55: four uint16 scale words): nibble i of the fp16
    d goes to the top nibble of word i."""
    h = d.astype(np.float16).view(np.uint16)
    sc = raw[:, 48:56].copy().view(np.uint16) & np.uint16(0x0FFF)
    for i in range(4):
        sc[:, i] |= ((h >> np.uint16(4 * i)) & np.uint16(0xF)) << np.uint16(12)
    raw[:, 48:56] = sc.view(np.uint8)


@dataclass
class Spec:
    name: str
    arch: str
    vocab: str                    # models/vocab/ggml-vocab-<vocab>.gguf
    seed: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    eps: float
    rope_base: float | None       # None: key omitted, llama.cpp's default 10000
    tied: bool
    layer_types: list[dict]       # per layer: role -> type
    embd_type: T
    output_type: T | None = None
    qkv_bias: bool = False
    qk_norm: bool = False
    write_head_dim: bool = False  # attention.key_length / value_length keys
    gemma: bool = False           # post-attention / post-ffw norms, sliding window
    sliding_window: int = 0
    ctx_train: int = 2048
    logit_std: float = 3.0        # spread of the logits, through output.weight or the tied embedding
    post_norm: float = 1.0        # gemma: mean of the post-attention / post-ffw norm weights
    qk_gain: float = 0.0          # q/k weight scale (no q/k norms) or q/k norm weight mean; 0: default
    resid_gain: float = 1.0       # attn_output / ffn_down scale: how much the layers outweigh the embedding
    # Mixture of experts (n_expert 0: dense).
    n_expert: int = 0
    n_expert_used: int = 0
    n_ff_exp: int = 0
    n_expert_shared: int = 0
    expert_types: list[tuple] = None  # per layer: (gate, up, down) types of the experts
    dense_lead: int = 0           # glm4moe: leading dense layers
    nextn: int = 0                # glm4moe: next-token-prediction layers after the trunk
    selection_bias: bool = False  # glm4moe: exp_probs_b
    moe_keys: dict = None         # extra MoE metadata (gating func, norm, scale)
    rope_dims: int = 0            # 0: the head size
    router_std: float = 1.0       # spread of the router logits
    granite: dict = None          # granite scalar keys
    fused: bool = False           # phi3: attn_qkv, ffn_up = [gate; up]
    oss: bool = False             # gpt-oss: output bias, sinks, router/expert biases, YaRN
    yarn: tuple = None            # (factor, original context)


def _layers(*rows):
    roles = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    return [dict(zip(roles, r)) for r in rows]


SPECS = {
    "tiny-llama": Spec(
        name="tiny-llama", arch="llama", vocab="llama-spm", seed=101,
        n_embd=256, n_layer=3, n_head=8, n_head_kv=2, head_dim=32, n_ff=512,
        eps=1e-5, rope_base=None, tied=False, qk_gain=1.0,
        embd_type=T.Q4_K, output_type=T.Q6_K,
        #         q        k        v        o        gate     up        down (in = n_ff)
        layer_types=_layers(
            (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.IQ4_NL, T.F16),
            (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.IQ4_XS, T.Q4_K),
            (T.F16, T.Q8_0, T.Q6_K, T.Q3_K, T.Q2_K, T.Q5_K, T.BF16)),
    ),
    "tiny-qwen2": Spec(
        name="tiny-qwen2", arch="qwen2", vocab="qwen2", seed=202,
        n_embd=128, n_layer=2, n_head=4, n_head_kv=2, head_dim=32, n_ff=512,
        eps=1e-6, rope_base=1e6, tied=True, qkv_bias=True, logit_std=6.0, resid_gain=3.0, qk_gain=1.0,
        embd_type=T.Q8_0,
        layer_types=_layers(
            (T.Q4_0, T.Q8_0, T.Q5_0, T.Q4_1, T.IQ4_NL, T.F16, T.Q4_K),
            (T.Q5_1, T.Q4_1, T.IQ4_NL, T.Q8_0, T.Q5_0, T.Q4_0, T.Q6_K)),
    ),
    "tiny-qwen3": Spec(
        name="tiny-qwen3", arch="qwen3", vocab="qwen2", seed=303,
        n_embd=128, n_layer=3, n_head=4, n_head_kv=2, head_dim=64, n_ff=256,
        eps=1e-6, rope_base=1e6, tied=False, qk_norm=True, write_head_dim=True, logit_std=6.0, qk_gain=1.2,
        embd_type=T.IQ4_NL, output_type=T.Q5_1,
        #         q (128->256) k       v        o (256->128) gate up     down (256->128)
        layer_types=_layers(
            (T.Q5_0, T.Q4_0, T.Q8_0, T.Q4_K, T.Q4_1, T.Q5_1, T.Q6_K),
            (T.Q8_0, T.IQ4_NL, T.Q5_1, T.Q5_K, T.F16, T.Q5_0, T.Q3_K),
            (T.Q4_1, T.Q5_0, T.F16, T.IQ4_XS, T.Q8_0, T.IQ4_NL, T.Q2_K)),
    ),
    "tiny-gemma3": Spec(
        name="tiny-gemma3", arch="gemma3", vocab="llama-spm", seed=404,
        n_embd=128, n_layer=6, n_head=4, n_head_kv=1, head_dim=64, n_ff=512,
        eps=1e-6, rope_base=1e6, tied=False, qk_norm=True, write_head_dim=True,
        gemma=True, sliding_window=12, post_norm=2.0, logit_std=4.0, qk_gain=1.2,
        embd_type=T.Q8_0, output_type=T.Q5_0,
        layer_types=_layers(
            (T.Q5_0, T.Q8_0, T.Q4_0, T.Q4_K, T.Q5_0, T.IQ4_NL, T.Q6_K),
            (T.Q4_1, T.Q5_1, T.Q8_0, T.Q5_K, T.Q8_0, T.Q4_0, T.Q4_K),
            (T.IQ4_NL, T.Q4_0, T.Q5_0, T.Q6_K, T.F16, T.Q5_1, T.Q5_K),
            (T.Q8_0, T.F16, T.Q4_1, T.Q3_K, T.Q4_1, T.Q8_0, T.Q2_K),
            (T.Q5_1, T.IQ4_NL, T.Q5_1, T.IQ4_XS, T.Q5_1, T.Q5_0, T.IQ4_XS),
            (T.Q5_0, T.Q8_0, T.Q8_0, T.Q2_K, T.IQ4_NL, T.Q4_1, T.Q3_K)),
    ),
    "tiny-qwen3moe": Spec(
        name="tiny-qwen3moe", arch="qwen3moe", vocab="qwen2", seed=505,
        n_embd=256, n_layer=2, n_head=4, n_head_kv=2, head_dim=64, n_ff=384,
        eps=1e-6, rope_base=1e6, tied=False, qk_norm=True, write_head_dim=True, logit_std=6.0, qk_gain=1.2,
        embd_type=T.Q8_0, output_type=T.Q6_K,
        layer_types=_layers(
            (T.Q8_0, T.Q4_K, T.Q5_0, T.Q4_K, None, None, None),
            (T.Q5_K, T.Q8_0, T.Q6_K, T.Q8_0, None, None, None)),
        n_expert=8, n_expert_used=3, n_ff_exp=256, router_std=1.5,
        expert_types=[(T.Q4_K, T.Q4_K, T.Q6_K), (T.MXFP4, T.Q8_0, T.Q5_K)],
    ),
    "tiny-mixtral": Spec(
        name="tiny-mixtral", arch="llama", vocab="llama-spm", seed=606,
        n_embd=256, n_layer=2, n_head=8, n_head_kv=2, head_dim=32, n_ff=512,
        eps=1e-5, rope_base=1e6, tied=False, qk_gain=1.0, logit_std=6.0,
        embd_type=T.Q4_K, output_type=T.Q8_0,
        layer_types=_layers(
            (T.Q4_0, T.Q8_0, T.Q5_1, T.Q4_K, None, None, None),
            (T.Q8_0, T.Q4_1, T.Q6_K, T.Q5_0, None, None, None)),
        n_expert=4, n_expert_used=2, n_ff_exp=512, router_std=1.5,
        expert_types=[(T.Q4_0, T.Q4_0, T.Q8_0), (T.Q5_K, T.Q4_K, T.Q6_K)],
    ),
    "tiny-glm4moe": Spec(
        name="tiny-glm4moe", arch="glm4moe", vocab="qwen2", seed=707,
        n_embd=256, n_layer=3, n_head=4, n_head_kv=2, head_dim=64, n_ff=512,
        eps=1e-5, rope_base=1e6, tied=False, qkv_bias=True, write_head_dim=True, logit_std=6.0, qk_gain=0.7,
        embd_type=T.Q8_0, output_type=T.Q8_0, rope_dims=32,
        layer_types=_layers(
            (T.Q8_0, T.Q5_0, T.Q4_K, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K),
            (T.Q4_K, T.Q8_0, T.Q8_0, T.Q5_K, T.Q8_0, T.Q8_0, T.Q8_0),
            (T.Q5_1, T.Q4_0, T.Q6_K, T.Q4_K, T.Q8_0, T.Q8_0, T.Q8_0),
            (T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0)),
        n_expert=8, n_expert_used=3, n_ff_exp=256, n_expert_shared=1, dense_lead=1, nextn=1,
        selection_bias=True, router_std=4.0,
        moe_keys={"expert_gating_func": 2, "expert_weights_norm": True, "expert_weights_scale": 2.5},
        expert_types=[None, (T.Q4_K, T.Q5_K, T.Q8_0), (T.Q8_0, T.Q4_K, T.Q6_K), (T.Q8_0, T.Q8_0, T.Q8_0)],
    ),
    "tiny-granite": Spec(
        name="tiny-granite", arch="granite", vocab="llama-spm", seed=808,
        n_embd=128, n_layer=2, n_head=4, n_head_kv=2, head_dim=32, n_ff=256,
        eps=1e-5, rope_base=1e4, tied=False, qk_gain=1.0, logit_std=12.0, resid_gain=4.0,
        embd_type=T.Q8_0, output_type=T.Q8_0,
        layer_types=_layers(
            (T.Q4_0, T.Q8_0, T.Q5_0, T.Q4_1, T.Q8_0, T.Q5_1, T.Q4_0),
            (T.Q8_0, T.Q5_1, T.Q4_0, T.Q8_0, T.Q4_1, T.Q8_0, T.Q5_0)),
        granite={"embedding_scale": 2.0, "residual_scale": 0.5, "attention.scale": 0.25, "logit_scale": 2.0},
    ),
    "tiny-gptoss": Spec(
        name="tiny-gptoss", arch="gpt-oss", vocab="qwen2", seed=1010,
        n_embd=256, n_layer=4, n_head=4, n_head_kv=2, head_dim=64, n_ff=256,
        eps=1e-5, rope_base=1.5e5, tied=False, qkv_bias=True, write_head_dim=True, logit_std=6.0, qk_gain=0.7,
        embd_type=T.Q8_0, output_type=T.Q8_0, sliding_window=12, oss=True, yarn=(32.0, 4096),
        layer_types=_layers(*[(T.Q8_0, T.Q5_0, T.Q8_0, T.Q4_0, None, None, None)] * 4),
        n_expert=8, n_expert_used=3, n_ff_exp=256, router_std=2.0,
        expert_types=[(T.MXFP4, T.MXFP4, T.MXFP4), (T.MXFP4, T.Q8_0, T.MXFP4), (T.Q8_0, T.MXFP4, T.MXFP4),
                      (T.MXFP4, T.MXFP4, T.Q8_0)],
    ),
    "tiny-phi3": Spec(
        name="tiny-phi3", arch="phi3", vocab="phi-3", seed=909,
        n_embd=128, n_layer=2, n_head=4, n_head_kv=4, head_dim=32, n_ff=256,
        eps=1e-5, rope_base=1e4, tied=False, qk_gain=1.0, logit_std=6.0,
        embd_type=T.Q8_0, output_type=T.Q8_0, fused=True,
        layer_types=_layers(
            (T.Q8_0, None, None, T.Q4_0, T.Q5_0, None, T.Q8_0),
            (T.Q5_1, None, None, T.Q8_0, T.Q4_0, None, T.Q4_1)),
    "tiny-lowbit": Spec(
        name="tiny-lowbit", arch="llama", vocab="llama-spm", seed=505,
        n_embd=256, n_layer=3, n_head=8, n_head_kv=2, head_dim=32, n_ff=512,
        eps=1e-5, rope_base=None, tied=False, qk_gain=1.0,
        embd_type=T.IQ3_S, output_type=T.IQ2_S,
        #         q          k          v          o          gate       up         down (in = n_ff)
        layer_types=_layers(
            (T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S, T.IQ1_S, T.IQ1_M),
            (T.TQ1_0, T.TQ2_0, T.IQ3_S, T.IQ2_XS, T.IQ2_XXS, T.IQ3_XXS, T.IQ2_S),
            (T.IQ1_M, T.IQ3_XXS, T.IQ1_S, T.TQ2_0, T.TQ1_0, T.IQ2_S, T.IQ3_S)),
    ),
}


# ----------------------------------------------------------------------------- weights

def _gaussian(rng, shape, std):
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)


def _random_blocks(qtype, n_rows, n_cols, std, rng):
    """Random blocks of a type gguf.quants cannot quantize: random bytes for
    the quants and sub-block scales, per-block fp16 scales chosen so each
    block is centred near zero, then all fp16 fields rescaled to hit std."""
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    assert n_cols % block_size == 0, (qtype.name, n_cols)
    n_blocks = n_rows * (n_cols // block_size)
    raw = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    # Relative per-block scale in [0.5, 1.5): blocks of different magnitude, as in real weights.
    d = rng.uniform(0.5, 1.5, size=n_blocks).astype(np.float32)
    # Min-type blocks (x = d*sc*q - dmin*m): dmin near (mean q) * d centres the block,
    # with its own jitter so that scale and min are never the same number.
    jitter = rng.uniform(0.8, 1.2, size=n_blocks).astype(np.float32)
    fields = {
        T.Q2_K: [d, d * 1.5 * jitter],      # q in 0..3, sc and m nibbles both uniform 0..15
        T.Q4_K: [d, d * 7.5 * jitter],      # q in 0..15, 6-bit sc and m both uniform
        T.Q5_K: [d, d * 15.5 * jitter],     # q in 0..31
    }.get(qtype, [d])                       # Q3_K, Q6_K, IQ4_*: signed, already centred

    def put(scale):
        if qtype == T.IQ1_M:
            _put_iq1_m_d(raw, d * scale)
        for off, v in zip(FP16_FIELDS[qtype], fields):
            raw[:, off:off + 2] = (v * scale).astype(np.float16).view(np.uint8).reshape(n_blocks, 2)

    put(np.float32(1.0))
    cur = float(quants.dequantize(raw, qtype).std())
    put(np.float32(std / cur))
    return raw.reshape(n_rows, -1)


def make_weight(qtype, n_rows, n_cols, std, rng):
    """A [n_rows, n_cols] weight (GGUF shape [n_cols, n_rows]) of qtype as the
    numpy array GGUFWriter.add_tensor takes (bytes for quantized types)."""
    if qtype == T.F32:
        return _gaussian(rng, (n_rows, n_cols), std)
    if qtype == T.F16:
        return _gaussian(rng, (n_rows, n_cols), std).astype(np.float16)
    if qtype in GGUF_QUANTIZES:
        return quants.quantize(_gaussian(rng, (n_rows, n_cols), std), qtype)
    return _random_blocks(qtype, n_rows, n_cols, std, rng)


def check_weight(name, qtype, data, n_rows, n_cols, std):
    """gguf.quants.dequantize must read the tensor back: finite, right shape, std near target."""
    if qtype in (T.F32, T.F16):
        w = data.astype(np.float32)
    else:
        w = quants.dequantize(data, qtype)
    assert w.shape == (n_rows, n_cols), (name, w.shape)
    assert np.isfinite(w).all(), f"{name}: non-finite values"
    s = float(w.std())
    assert 0.85 * std <= s <= 1.15 * std, f"{name} ({qtype.name}): std {s:.4g}, target {std:.4g}"
    assert abs(float(w.mean())) < 0.25 * std, f"{name} ({qtype.name}): mean {w.mean():.4g}"
    return s


# ----------------------------------------------------------------------------- metadata

_SCALAR = {  # GGUF value type -> numpy dtype (little-endian)
    GGUFValueType.UINT8: "<u1", GGUFValueType.INT8: "<i1", GGUFValueType.UINT16: "<u2",
    GGUFValueType.INT16: "<i2", GGUFValueType.UINT32: "<u4", GGUFValueType.INT32: "<i4",
    GGUFValueType.FLOAT32: "<f4", GGUFValueType.BOOL: "<u1", GGUFValueType.UINT64: "<u8",
    GGUFValueType.INT64: "<i8", GGUFValueType.FLOAT64: "<f8",
}


def read_kv(path: Path) -> dict:
    """The metadata of a GGUF file as {key: (type, value, sub_type)}, strings as
    raw bytes. A minimal parser: GGUFReader takes ~40 s on the 150k-token
    qwen2 vocabulary, this takes well under one."""
    buf = path.read_bytes()
    assert buf[:4] == b"GGUF", f"{path}: not a GGUF file"
    n_kv = int(np.frombuffer(buf, "<u8", 1, 16)[0])
    pos = 24

    def u64():
        nonlocal pos
        v = int(np.frombuffer(buf, "<u8", 1, pos)[0])
        pos += 8
        return v

    def string():
        nonlocal pos
        n = u64()
        pos += n
        return buf[pos - n:pos]

    def value(vt):
        nonlocal pos
        if vt == GGUFValueType.STRING:
            return string()
        dt = np.dtype(_SCALAR[vt])
        v = np.frombuffer(buf, dt, 1, pos)[0].item()
        pos += dt.itemsize
        return bool(v) if vt == GGUFValueType.BOOL else v

    kv = {}
    for _ in range(n_kv):
        key = string().decode()
        vt = GGUFValueType(int(np.frombuffer(buf, "<u4", 1, pos)[0]))
        pos += 4
        if vt == GGUFValueType.ARRAY:
            sub = GGUFValueType(int(np.frombuffer(buf, "<u4", 1, pos)[0]))
            pos += 4
            n = u64()
            if sub == GGUFValueType.STRING:
                val = [string() for _ in range(n)]
            else:
                dt = np.dtype(_SCALAR[sub])
                val = np.frombuffer(buf, dt, n, pos).tolist()
                pos += n * dt.itemsize
                if sub == GGUFValueType.BOOL:
                    val = [bool(x) for x in val]
            kv[key] = (vt, val, sub)
        else:
            kv[key] = (vt, value(vt), None)
    return kv


def copy_tokenizer(writer: GGUFWriter, vocab_path: Path):
    """Every tokenizer.ggml.* key of llama.cpp's vocab-only GGUF, byte for byte
    (strings are copied as raw bytes, never decoded); returns the vocab size."""
    n_vocab = None
    for key, (vtype, val, sub) in read_kv(vocab_path).items():
        if not key.startswith("tokenizer.ggml."):
            continue
        writer.add_key_value(key, val, vtype, sub_type=sub)
        if key == "tokenizer.ggml.tokens":
            n_vocab = len(val)
    assert n_vocab, f"{vocab_path}: no tokenizer.ggml.tokens"
    return n_vocab


def build(spec: Spec, out_path: Path, vocab_dir: Path, verbose=False):
    vocab_path = vocab_dir / f"ggml-vocab-{spec.vocab}.gguf"
    if not vocab_path.exists():
        raise FileNotFoundError(f"vocab file {vocab_path} not found (scripts/fetch_vocabs.sh)")
    rng = np.random.default_rng(spec.seed)
    a = spec.arch
    w = GGUFWriter(str(out_path), a)
    w.add_name(spec.name)
    w.add_uint32(f"{a}.context_length", spec.ctx_train)
    w.add_uint32(f"{a}.embedding_length", spec.n_embd)
    w.add_uint32(f"{a}.block_count", spec.n_layer + spec.nextn)
    w.add_uint32(f"{a}.feed_forward_length", spec.n_ff)
    w.add_uint32(f"{a}.attention.head_count", spec.n_head)
    w.add_uint32(f"{a}.attention.head_count_kv", spec.n_head_kv)
    w.add_float32(f"{a}.attention.layer_norm_rms_epsilon", spec.eps)
    if spec.rope_base is not None:
        w.add_float32(f"{a}.rope.freq_base", spec.rope_base)
    w.add_uint32(f"{a}.rope.dimension_count", spec.rope_dims or spec.head_dim)
    if spec.n_expert:
        w.add_uint32(f"{a}.expert_count", spec.n_expert)
        w.add_uint32(f"{a}.expert_used_count", spec.n_expert_used)
        w.add_uint32(f"{a}.expert_feed_forward_length", spec.n_ff_exp)
        if spec.n_expert_shared:
            w.add_uint32(f"{a}.expert_shared_count", spec.n_expert_shared)
        if spec.dense_lead:
            w.add_uint32(f"{a}.leading_dense_block_count", spec.dense_lead)
        if spec.nextn:
            w.add_uint32(f"{a}.nextn_predict_layers", spec.nextn)
        for key, val in (spec.moe_keys or {}).items():
            if isinstance(val, bool):
                w.add_bool(f"{a}.{key}", val)
            elif isinstance(val, int):
                w.add_uint32(f"{a}.{key}", val)
            else:
                w.add_float32(f"{a}.{key}", val)
    for key, val in (spec.granite or {}).items():
        w.add_float32(f"{a}.{key}", val)
    if spec.yarn:
        w.add_string(f"{a}.rope.scaling.type", "yarn")
        w.add_float32(f"{a}.rope.scaling.factor", spec.yarn[0])
        w.add_uint32(f"{a}.rope.scaling.original_context_length", spec.yarn[1])
    if spec.write_head_dim:
        w.add_uint32(f"{a}.attention.key_length", spec.head_dim)
        w.add_uint32(f"{a}.attention.value_length", spec.head_dim)
    else:
        assert spec.head_dim * spec.n_head == spec.n_embd
    if spec.sliding_window:
        w.add_uint32(f"{a}.attention.sliding_window", spec.sliding_window)
    w.add_uint32("general.quantization_version", 2)
    n_vocab = copy_tokenizer(w, vocab_path)

    E, F, D = spec.n_embd, spec.n_ff, spec.head_dim
    q_out, kv_out = spec.n_head * D, spec.n_head_kv * D
    inv = lambda n: 1.0 / np.sqrt(n)  # noqa: E731
    # Logit spread of a few units: std(W_out) * sqrt(E) = logit_std with unit-RMS normed input.
    out_std = spec.logit_std * inv(E)
    # Without q/k norms, 2/sqrt(E) gives q,k elements of std ~2 and scores q.k/sqrt(D) of
    # std ~4: peaked attention. With q/k norms the norm weights set the peak instead.
    qk_std = (1.0 if spec.qk_norm else (spec.qk_gain or 2.0)) * inv(E)
    tensors = []  # (name, qtype, array, n_rows, n_cols, std)

    def weight(name, qtype, n_rows, n_cols, std):
        tensors.append((name, qtype, make_weight(qtype, n_rows, n_cols, std, rng), n_rows, n_cols, std))

    def experts(name, qtype, n_rows, n_cols, std):
        # n_expert matrices of n_rows x n_cols, one after the other (GGUF [n_cols, n_rows, n_expert]).
        arr = make_weight(qtype, spec.n_expert * n_rows, n_cols, std, rng)
        tensors.append((name, qtype, arr, spec.n_expert * n_rows, n_cols, std, (spec.n_expert, n_rows)))

    def norm(name, n, mean, spread):
        tensors.append((name, T.F32, (mean + _gaussian(rng, (n,), spread)).astype(np.float32), 1, n, None))

    ffn_norm = "post_attention_norm" if a in ("glm4moe", "gpt-oss") else "ffn_norm"
    # Embedding: tied models read logits through it, so it carries the output scale.
    weight("token_embd.weight", spec.embd_type, n_vocab, E, out_std if spec.tied else 0.5)
    for i, lt in enumerate(spec.layer_types):
        p = f"blk.{i}."
        norm(p + "attn_norm.weight", E, 1.0, 0.2)
        if spec.fused:
            weight(p + "attn_qkv.weight", lt["attn_q"], q_out + 2 * kv_out, E, qk_std)
        else:
            weight(p + "attn_q.weight", lt["attn_q"], q_out, E, qk_std)
            weight(p + "attn_k.weight", lt["attn_k"], kv_out, E, qk_std)
            weight(p + "attn_v.weight", lt["attn_v"], kv_out, E, inv(E))
        if spec.qkv_bias:
            norm(p + "attn_q.bias", q_out, 0.0, 0.5)
            norm(p + "attn_k.bias", kv_out, 0.0, 0.5)
            norm(p + "attn_v.bias", kv_out, 0.0, 0.2)
        if spec.qk_norm:
            # q.k/sqrt(D) of unit-RMS q, k scaled by these weights: std ~ 1.7^2 = 3.
            norm(p + "attn_q_norm.weight", D, spec.qk_gain or 1.7, 0.3)
            norm(p + "attn_k_norm.weight", D, spec.qk_gain or 1.7, 0.3)
        weight(p + "attn_output.weight", lt["attn_output"], E, q_out, spec.resid_gain * inv(q_out))
        if spec.oss:
            norm(p + "attn_output.bias", E, 0.0, 0.1)
            norm(p + "attn_sinks.weight", spec.n_head, 0.0, 1.0)
        if spec.gemma:
            norm(p + "post_attention_norm.weight", E, spec.post_norm, 0.2)
        norm(p + ffn_norm + ".weight", E, 1.0, 0.2)
        if spec.n_expert and i >= spec.dense_lead:
            Fx = spec.n_ff_exp
            gt, ut, dt = spec.expert_types[i]
            weight(p + "ffn_gate_inp.weight", T.F32, spec.n_expert, E, spec.router_std * inv(E))
            if spec.selection_bias:
                norm(p + "exp_probs_b.bias", spec.n_expert, 0.0, 0.1)
            experts(p + "ffn_gate_exps.weight", gt, Fx, E, inv(E))
            experts(p + "ffn_up_exps.weight", ut, Fx, E, inv(E))
            experts(p + "ffn_down_exps.weight", dt, E, Fx, spec.resid_gain * inv(Fx))
            if spec.oss:
                norm(p + "ffn_gate_inp.bias", spec.n_expert, 0.0, 0.5)
                for nm, n in (("ffn_gate_exps.bias", Fx), ("ffn_up_exps.bias", Fx), ("ffn_down_exps.bias", E)):
                    tensors.append((p + nm, T.F32, _gaussian(rng, (spec.n_expert, n), 0.1), spec.n_expert, n, None))
            if spec.n_expert_shared:
                Fs = Fx * spec.n_expert_shared
                weight(p + "ffn_gate_shexp.weight", lt["ffn_gate"], Fs, E, inv(E))
                weight(p + "ffn_up_shexp.weight", lt["ffn_up"], Fs, E, inv(E))
                weight(p + "ffn_down_shexp.weight", lt["ffn_down"], E, Fs, spec.resid_gain * inv(Fs))
        elif spec.fused:
            weight(p + "ffn_up.weight", lt["ffn_gate"], 2 * F, E, inv(E))
            weight(p + "ffn_down.weight", lt["ffn_down"], E, F, spec.resid_gain * inv(F))
        else:
            weight(p + "ffn_gate.weight", lt["ffn_gate"], F, E, inv(E))
            weight(p + "ffn_up.weight", lt["ffn_up"], F, E, inv(E))
            weight(p + "ffn_down.weight", lt["ffn_down"], E, F, spec.resid_gain * inv(F))
        if spec.gemma:
            norm(p + "post_ffw_norm.weight", E, spec.post_norm, 0.2)
        if i >= spec.n_layer:  # a next-token-prediction layer: loaded, never run
            weight(p + "nextn.eh_proj.weight", T.Q8_0, E, 2 * E, inv(2 * E))
            norm(p + "nextn.enorm.weight", E, 1.0, 0.2)
            norm(p + "nextn.hnorm.weight", E, 1.0, 0.2)
            norm(p + "nextn.shared_head_norm.weight", E, 1.0, 0.2)
    norm("output_norm.weight", E, 1.0, 0.2)
    if not spec.tied:
        weight("output.weight", spec.output_type, n_vocab, E, out_std)

    for name, qtype, arr, n_rows, n_cols, std, *split in tensors:
        if std is not None:
            s = check_weight(name, qtype, arr, n_rows, n_cols, std)
            if verbose:
                print(f"  {name:32s} {qtype.name:7s} [{n_cols}, {n_rows}] std {s:.4f}")
        if split:  # experts: [n_expert, rows, row bytes]
            arr = arr.reshape(split[0][0], split[0][1], -1)
        if qtype in (T.F32, T.F16):
            w.add_tensor(name, arr if n_rows > 1 else arr.reshape(-1))
        else:
            w.add_tensor(name, arr, raw_shape=arr.shape, raw_dtype=qtype)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return sha256(out_path)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--vocab-dir", type=Path, default=DEFAULT_VOCAB_DIR)
    ap.add_argument("--only", default="", help="comma-separated model names (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SPECS)
    args.outdir.mkdir(parents=True, exist_ok=True)
    for n in names:
        if n not in SPECS:
            sys.exit(f"unknown model {n!r}; known: {', '.join(SPECS)}")
        path = args.outdir / f"{n}.gguf"
        if args.verbose:
            print(n)
        digest = build(SPECS[n], path, args.vocab_dir, args.verbose)
        print(f"{digest}  {path}")


if __name__ == "__main__":
    main()
