#!/usr/bin/env python3
"""touched_bytes.py MODEL.gguf [--json]

The weight bytes one single-sequence decode token reads: every weight tensor
once, except the token embedding (one row, unless the output is tied to it)
and the expert tensors of a mixture of experts (`*_exps`: expert_used_count of
expert_count experts each). KV-cache reads are not counted. Divided into the
time of a token this gives the decode's effective weight bandwidth, which
bench/side_by_side_model.sh --bandwidth compares with the machine's measured
read bandwidth (`qlm bench kernels`). Reads the GGUF through gguf-py (the
project venv).
"""
import argparse
import json
import sys

from gguf import GGUFReader


def touched(path):
    r = GGUFReader(path)
    arch = None
    fields = {}
    for f in r.fields.values():
        if f.name == "general.architecture":
            arch = bytes(f.parts[f.data[0]]).decode()
    for f in r.fields.values():
        if arch and f.name in (f"{arch}.expert_count", f"{arch}.expert_used_count"):
            fields[f.name.split(".")[-1]] = int(f.parts[f.data[0]][0])
    n_exp, n_used = fields.get("expert_count", 0), fields.get("expert_used_count", 0)
    names = {t.name for t in r.tensors}
    total = dense = experts = 0
    file_bytes = 0
    for t in r.tensors:
        b = int(t.n_bytes)
        file_bytes += b
        if t.name == "token_embd.weight" and "output.weight" in names:
            b = b // int(t.shape[-1])  # one row (shape is GGUF order: [n_embd, n_vocab])
        if "_exps" in t.name and n_exp:
            e = b * n_used / n_exp
            experts += e
            total += e
        else:
            dense += b
            total += b
    return {"model": path, "arch": arch, "expert_count": n_exp, "expert_used_count": n_used,
            "touched_bytes": total, "dense_bytes": dense, "expert_bytes_touched": experts, "file_tensor_bytes": file_bytes}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t = touched(a.model)
    if a.json:
        json.dump(t, sys.stdout)
        print()
    else:
        print(f"{a.model}: {t['touched_bytes'] / 1e6:.1f} MB touched per decode token "
              f"({t['dense_bytes'] / 1e6:.1f} MB dense, {t['expert_bytes_touched'] / 1e6:.1f} MB of experts; "
              f"{t['file_tensor_bytes'] / 1e6:.1f} MB of tensors in the file)")


if __name__ == "__main__":
    main()
