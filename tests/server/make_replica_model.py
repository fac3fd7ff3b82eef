#!/usr/bin/env python3
"""make_replica_model.py OUT.gguf [--vocab-dir DIR] [--template FILE]

Writes the model of the replica tests (tests/server/test_replicas.py) and of
bench/serve_load.py's router mode: a random-weight qwen2 model, 2 layers,
n_embd 64, with a REAL tokenizer (every tokenizer.ggml.* key of llama.cpp's
ggml-vocab-qwen2.gguf, byte for byte, through tests/oracle/make_tiny_models.py)
and Qwen2.5-Instruct's chat template (models/templates, tools allowed), so
that chat, tools, /render and prefix caching see real token ids while three
replicas with one thread each answer in milliseconds on 2 cores.

The weights are Gaussian Q8_0 (gguf.quants), deterministic for the pinned
gguf and numpy: the same bytes on every run. What the model says is noise;
the tests compare answers between replicas and routes, never with a text.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "oracle"))

import make_tiny_models as mtm  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402

DEFAULT_TEMPLATE = REPO / "models" / "templates" / "Qwen-Qwen2.5-7B-Instruct.jinja"

SPEC = mtm.Spec(
    name="tiny-qwen2-replica", arch="qwen2", vocab="qwen2", seed=2020,
    n_embd=64, n_layer=2, n_head=2, n_head_kv=1, head_dim=32, n_ff=128,
    eps=1e-6, rope_base=1e6, tied=True, qkv_bias=True, logit_std=6.0, resid_gain=3.0, qk_gain=1.0,
    ctx_train=4096, embd_type=T.Q8_0,
    layer_types=mtm._layers(*[(T.Q8_0,) * 7] * 2),
)


def build(out: Path, vocab_dir: Path, template: Path) -> str:
    text = template.read_text()
    orig = mtm.copy_tokenizer

    def copy_with_template(writer, vocab_path):
        n = orig(writer, vocab_path)
        writer.add_chat_template(text)
        return n

    mtm.copy_tokenizer = copy_with_template
    try:
        return mtm.build(SPEC, out, vocab_dir)
    finally:
        mtm.copy_tokenizer = orig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--vocab-dir", type=Path, default=mtm.DEFAULT_VOCAB_DIR)
    ap.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    args = ap.parse_args(argv)
    for p in (args.vocab_dir / "ggml-vocab-qwen2.gguf", args.template):
        if not p.exists():
            sys.exit(f"{p} not found (make vocabs templates)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{build(args.out, args.vocab_dir, args.template)}  {args.out}")


if __name__ == "__main__":
    main()
