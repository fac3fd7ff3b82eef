"""exact_forward.py — the exact arithmetic of a quantized GGUF model: every
weight dequantized by the `gguf` package (gguf.quants, the independent oracle
of the block formats) and the whole forward pass in float64 with numpy, no
activation quantization, no F16 KV cache, no GELU table, exact RoPE angles.
What a quantized model "means" in real arithmetic, to measure how far an
engine's rounding takes it (tests/perplexity/test_exact_oracle.py).

Architectures (as llama.cpp builds them): llama (RoPE on adjacent pairs),
qwen2 (Q/K/V biases, NeoX RoPE), qwen3 (per-head Q/K RMS norms, NeoX),
gemma3 (embedding · sqrt(n_embd), Q/K norms, post-attention and post-FFN
norms, GELU (tanh form) gated FFN, sliding-window layers with their own RoPE
base, Q pre-scaled by 1/sqrt(head_dim)).

    from exact_forward import ExactModel
    m = ExactModel("model.gguf")
    logits = m.logits(tokens)          # float64, [n_tokens, n_vocab]

gguf.quants is slow on the K-quants (seconds per million values), so
ExactModel(path, qlm=QLM_BIN, tmp=DIR) dequantizes with `qlm dump` instead:
the scalar reference code, whose output oracle_dequantize and oracle_model
check bit for bit against gguf.quants (random blocks of every type, every
tensor of the default model); check_dequant() repeats that check here on
chosen tensors.
"""
from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, quants


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


class ExactModel:
    def __init__(self, path, qlm=None, tmp=None):
        self.path = Path(path)
        self.qlm, self.tmp = qlm, Path(tmp) if tmp else None
        self.r = GGUFReader(str(path))
        self.tensors = {t.name: t for t in self.r.tensors}
        arch = _field(self.r, "general.architecture")
        if arch not in ("llama", "qwen2", "qwen3", "gemma3"):
            raise ValueError(f"{path}: architecture {arch!r} not supported by the exact forward")
        self.arch = arch
        a = arch + "."
        g = lambda k, d=None: _field(self.r, a + k, d)  # noqa: E731
        self.n_embd = int(g("embedding_length"))
        self.n_layer = int(g("block_count"))
        self.n_head = int(g("attention.head_count"))
        self.n_head_kv = int(g("attention.head_count_kv", self.n_head))
        self.dk = int(g("attention.key_length", self.n_embd // self.n_head))
        self.dv = int(g("attention.value_length", self.dk))
        self.eps = float(g("attention.layer_norm_rms_epsilon"))
        self.n_rot = int(g("rope.dimension_count", self.dk))
        self.rope_base = float(g("rope.freq_base", 10000.0))
        scaling = g("rope.scaling.type", "none")
        self.rope_scale = 1.0 / float(g("rope.scaling.factor")) if scaling == "linear" else 1.0
        if scaling not in ("none", "linear"):
            raise ValueError(f"rope scaling {scaling!r} not supported")
        if "rope_freqs.weight" in self.tensors:
            raise ValueError("rope_freqs (llama3 rope scaling) not supported by the exact forward")
        self.neox = arch != "llama"
        self.gemma = arch == "gemma3"
        self.swa = [False] * self.n_layer
        self.n_swa = 0
        if self.gemma:
            self.n_swa = int(g("attention.sliding_window", 0))
            self.rope_base_swa = float(g("rope.freq_base_swa", 10000.0))
            if self.n_swa > 0:
                pat = g("attention.sliding_window_pattern", 6)
                if isinstance(pat, list):
                    self.swa = [bool(x) for x in pat]
                else:
                    self.swa = [l % int(pat) < int(pat) - 1 for l in range(self.n_layer)]
        self.attn_scale = 1.0 / math.sqrt(self.dk)
        if self.gemma and self.n_layer == 62:  # gemma3 27B: 1/sqrt(n_embd / n_head)
            self.attn_scale = 1.0 / math.sqrt(self.n_embd / self.n_head)
        emb = self.tensors["token_embd.weight"]
        self.n_vocab = int(emb.shape[1])
        self.out_name = "output.weight" if "output.weight" in self.tensors else "token_embd.weight"
        self._cache = {}

    # ------------------------------------------------------------------ weights

    def _dump(self, t):
        """The whole tensor through `qlm dump`, float32 [rows, cols] (memory-mapped)."""
        key = ("dump", t.name)
        if key not in self._cache:
            out = self.tmp / (t.name + ".npy")
            res = subprocess.run([str(self.qlm), "dump", str(self.path), t.name, "-o", str(out)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"qlm dump {t.name} failed: {res.stderr}")
            self._cache[key] = np.load(out, mmap_mode="r").reshape(-1, int(t.shape[0]))
        return self._cache[key]

    def _deq(self, t, rows=None):
        if self.qlm and t.tensor_type not in (T.F32, T.F64, T.F16):
            x = self._dump(t)
            return np.asarray(x if rows is None else x[rows], dtype=np.float64)
        return self._deq_gguf(t, rows)

    def _deq_gguf(self, t, rows=None):
        data = t.data if rows is None else t.data[rows]
        if t.tensor_type in (T.F32, T.F64):
            x = np.asarray(data, dtype=np.float64)
        elif t.tensor_type == T.F16:
            x = np.asarray(data).view(np.float16).astype(np.float64)
        else:
            x = quants.dequantize(np.asarray(data), t.tensor_type).astype(np.float64)
        return x

    def w(self, name):
        """Dequantized tensor as float64, rows × columns (out × in) for matrices (not kept:
        each weight is used once per forward, and a 270M model would need 2 GiB)."""
        t = self.tensors[name]
        x = self._deq(t)
        n_cols = int(t.shape[0])
        return x.reshape(-1, n_cols) if len(t.shape) > 1 else x.reshape(-1)

    def check_dequant(self, names):
        """`qlm dump` equals gguf.quants bit for bit on these tensors (raises otherwise)."""
        for name in names:
            t = self.tensors[name]
            a = np.asarray(self._dump(t), dtype=np.float32)
            b = quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(a.shape).astype(np.float32)
            if not np.array_equal(a.view(np.uint32), b.view(np.uint32)):
                raise AssertionError(f"{name} ({t.tensor_type.name}): qlm dump differs from gguf.quants")

    def has(self, name):
        return name in self.tensors

    # ------------------------------------------------------------------ ops

    def rms_norm(self, x, w=None):
        y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps)
        return y * w if w is not None else y

    def rope(self, x, pos, base, scale):
        """x: [n, heads, d]; rotates the first n_rot dims of each head."""
        n_rot = self.n_rot
        half = n_rot // 2
        inv = base ** (-np.arange(half, dtype=np.float64) * 2.0 / n_rot)
        theta = (pos.astype(np.float64) * scale)[:, None] * inv[None, :]  # [n, half]
        cos, sin = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
        y = x.copy()
        if self.neox:
            a, b = x[..., :half], x[..., half:n_rot]
            y[..., :half] = a * cos - b * sin
            y[..., half:n_rot] = a * sin + b * cos
        else:
            a, b = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
            y[..., 0:n_rot:2] = a * cos - b * sin
            y[..., 1:n_rot:2] = a * sin + b * cos
        return y

    @staticmethod
    def gelu(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    @staticmethod
    def silu(x):
        return x / (1.0 + np.exp(-x))

    # ------------------------------------------------------------------ forward

    def hidden(self, tokens):
        """Final normed hidden states [n, n_embd] (float64) of one sequence from position 0."""
        tokens = np.asarray(tokens, dtype=np.int64)
        n = len(tokens)
        pos = np.arange(n)
        x = self._deq(self.tensors["token_embd.weight"], rows=tokens).reshape(n, self.n_embd)
        if self.gemma:
            x = x * math.sqrt(self.n_embd)
        H, Hkv, dk, dv = self.n_head, self.n_head_kv, self.dk, self.dv
        group = H // Hkv
        causal = pos[None, :] <= pos[:, None]  # [query, key]
        for l in range(self.n_layer):
            p = f"blk.{l}."
            h = self.rms_norm(x, self.w(p + "attn_norm.weight"))
            q = h @ self.w(p + "attn_q.weight").T
            k = h @ self.w(p + "attn_k.weight").T
            v = h @ self.w(p + "attn_v.weight").T
            if self.has(p + "attn_q.bias"):
                q = q + self.w(p + "attn_q.bias")
                k = k + self.w(p + "attn_k.bias")
                v = v + self.w(p + "attn_v.bias")
            q = q.reshape(n, H, dk)
            k = k.reshape(n, Hkv, dk)
            v = v.reshape(n, Hkv, dv)
            if self.has(p + "attn_q_norm.weight"):
                q = self.rms_norm(q, self.w(p + "attn_q_norm.weight"))
                k = self.rms_norm(k, self.w(p + "attn_k_norm.weight"))
            swa = self.swa[l]
            base = self.rope_base_swa if swa else self.rope_base
            scale = 1.0 if swa else self.rope_scale
            q = self.rope(q, pos, base, scale)
            k = self.rope(k, pos, base, scale)
            mask = causal
            if swa and self.n_swa > 0:
                mask = mask & (pos[:, None] - pos[None, :] < self.n_swa)
            out = np.empty((n, H, dv))
            for hh in range(H):
                kv = hh // group
                s = (q[:, hh, :] @ k[:, kv, :].T) * self.attn_scale
                s = np.where(mask, s, -np.inf)
                s = s - s.max(axis=1, keepdims=True)
                e = np.exp(s)
                out[:, hh, :] = (e / e.sum(axis=1, keepdims=True)) @ v[:, kv, :]
            a = out.reshape(n, H * dv) @ self.w(p + "attn_output.weight").T
            if self.gemma:
                a = self.rms_norm(a, self.w(p + "post_attention_norm.weight"))
            x = x + a
            h = self.rms_norm(x, self.w(p + "ffn_norm.weight"))
            gate = h @ self.w(p + "ffn_gate.weight").T
            up = h @ self.w(p + "ffn_up.weight").T
            act = self.gelu(gate) if self.gemma else self.silu(gate)
            f = (act * up) @ self.w(p + "ffn_down.weight").T
            if self.gemma:
                f = self.rms_norm(f, self.w(p + "post_ffw_norm.weight"))
            x = x + f
        return self.rms_norm(x, self.w("output_norm.weight"))

    def logits(self, tokens, rows_per_block=16384):
        """Logits [n, n_vocab] in float64; the output matrix is dequantized a block of rows at a time."""
        h = self.hidden(tokens)
        t = self.tensors[self.out_name]
        out = np.empty((h.shape[0], self.n_vocab), dtype=np.float64)
        for r0 in range(0, self.n_vocab, rows_per_block):
            r1 = min(self.n_vocab, r0 + rows_per_block)
            wblk = self._deq(t, rows=slice(r0, r1)).reshape(r1 - r0, self.n_embd)
            out[:, r0:r1] = h @ wblk.T
        return out


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))
