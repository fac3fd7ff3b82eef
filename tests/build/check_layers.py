#!/usr/bin/env python3
"""The build enforces DESIGN.md's layers: an upward include does not compile.

For every library of src/ (cmake/layers.cmake) this compiles one-line
translation units with that library's own compile command (from the build's
compile_commands.json) and checks that
  - its own public and private headers, and formats' public ones, are found
    (the controls: the harness itself works);
  - no public header of a layer above it (or beside it: cpu and cuda) is found;
  - no private header of a layer above it is found;
  - the backends (cpu, cuda) see no header but formats' (DESIGN: "backends
    depend on formats only"), and nothing above ops sees a backend's private
    headers ("the model never includes a backend header").
Usage: check_layers.py <build dir>. Exit 1 with a list of violations.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

# DESIGN.md's map, bottom to top; equal ranks are peers that must not see each other.
RANK = {"formats": 0, "gguf": 1, "cpu": 2, "cuda": 2, "ops": 3, "tokenizer": 4, "model": 5,
        "template": 6, "grammar": 7, "sampling": 8, "eval": 9, "engine": 10, "server": 11}
BACKENDS = {"cpu", "cuda"}


def layer_command(entries, src, layer):
    """A compile command of a plain C++ source of src/<layer>/ (not an ISA file)."""
    prefix = os.path.join(src, layer) + os.sep
    best = None
    for e in entries:
        f = e["file"]
        if not f.startswith(prefix) or not f.endswith(".cpp"):
            continue
        rel = f[len(prefix):]
        if os.sep in rel and layer == "cpu":
            continue  # cpu/<isa>/ files carry -m flags; the folder's own files are enough
        if best is None or len(rel) < len(best[0]):
            best = (rel, e)
    if best is None:
        return None
    e = best[1]
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    if os.path.basename(args[0]) in ("ccache", "sccache"):
        args = args[1:]
    out, skip = [args[0]], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ", "-c"):
            skip = True
            continue
        if a in ("-MD", "-MMD") or a == e["file"]:
            continue
        out.append(a)
    return out, e["directory"]


def main():
    build = os.path.abspath(sys.argv[1])
    src = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "src"))
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    layers_dir = os.path.join(build, "layers")
    built = sorted(d for d in os.listdir(layers_dir) if d in RANK)
    unknown = sorted(set(os.listdir(layers_dir)) - set(RANK))
    if unknown:
        print(f"layers not in DESIGN.md's map (add them to RANK): {unknown}")
        return 1
    public = {L: sorted(os.listdir(os.path.join(layers_dir, L, "public", "qlm"))) for L in built}
    private = {}
    for L in built:
        hs = sorted(h for h in os.listdir(os.path.join(src, L)) if h.endswith((".h", ".cuh")))
        private[L] = hs[0] if hs else None

    cases = []  # (layer, include, expect_found)
    for L in built:
        for h in public[L]:
            cases.append((L, f"qlm/{h}", True))
        cases.append((L, "qlm/error.h", True))
        if private[L]:
            cases.append((L, f"{L}/{private[L]}", True))
        for M in built:
            if M == L:
                continue
            above = RANK[M] >= RANK[L]
            backend_rule = (L in BACKENDS and M != "formats") or (M in BACKENDS and RANK[L] > RANK["ops"])
            if above or (L in BACKENDS and M != "formats"):
                cases += [(L, f"qlm/{h}", False) for h in public[M]]
            if (above or backend_rule) and private[M]:
                cases.append((L, f"{M}/{private[M]}", False))

    commands = {L: layer_command(entries, src, L) for L in built}
    missing = [L for L in built if commands[L] is None]
    if missing:
        print(f"no compile command for layers {missing} in compile_commands.json")
        return 1

    with tempfile.TemporaryDirectory(prefix="qlm-layers-") as tmp:
        bad = check(cases, commands, tmp)
    n_ok = sum(1 for c in cases if c[2])
    print(f"{len(cases)} includes checked over {len(built)} layers ({', '.join(built)}): "
          f"{n_ok} that must compile, {len(cases) - n_ok} that must not be found")
    for b in bad:
        print("VIOLATION", b)
    return 1 if bad else 0


def check(cases, commands, tmp):
    def run(i_case):
        i, (L, inc, expect) = i_case
        path = os.path.join(tmp, f"t{i}.cpp")
        with open(path, "w") as f:
            f.write(f'#include "{inc}"\n')
        args, cwd = commands[L]
        r = subprocess.run(args + ["-fsyntax-only", path], cwd=cwd, capture_output=True, text=True)
        err = r.stderr
        not_found = "No such file or directory" in err or "file not found" in err
        if expect and r.returncode != 0:
            return f"{L}: #include \"{inc}\" should compile, got:\n{err[:600]}"
        if not expect and not not_found:
            return f"{L}: #include \"{inc}\" is found (an include against DESIGN.md's layers)"
        return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        return [r for r in ex.map(run, enumerate(cases)) if r]


if __name__ == "__main__":
    sys.exit(main())
