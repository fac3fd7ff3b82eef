#!/usr/bin/env bash
# fetch_vocabs.sh — put llama.cpp's vocab-only GGUF files, the tokenizer test
# vocabularies, in models/vocab/. They ship inside the llama-cpp-python sdist
# on PyPI (vendor/llama.cpp/models/ggml-vocab-*.gguf), which is downloaded with
# pip into a temporary folder. Files already there with the recorded SHA-256
# are reused; each extracted file is checked against it.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.3.36
SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
PY=${PYTHON:-.venv/bin/python}
OUT=models/vocab

declare -A SHA256=(
  [llama-spm]=16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69
  [llama-bpe]=97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e
  [qwen2]=44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c
  [gpt-2]=cedc56ca6e2e89f63e781696d1fd76b4b1d49e6720dee86463e915f6e90016ac
  [phi-3]=967d7190d11c4842eab697079d98d56c2116e10eb617be355a2733bfc132e326
  [starcoder]=fedb892b4e1bd3c1f2fcdae356440b14fb458f4264d586e5c987ed93df4e174d
  [falcon]=9f0bf8b0733680398b72e652e90f260f43782f326e75545fc0e49611a5ba35ad
  [deepseek-coder]=91cb1379f2e33af1c4866b194622b7a0e12e8f0c9dba7ba2f10d55978730bec1
  [gpt-neox]=ae593a7f9b8bb174ed4f5019e41530463e4dac7aa06e42dee8aa650d2bdac53d
)

check() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

missing=()
for name in "${!SHA256[@]}"; do
  check "$OUT/ggml-vocab-$name.gguf" "${SHA256[$name]}" || missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "vocabs: $OUT (${#SHA256[@]} files, sha256 match, reused)"
  exit 0
fi

mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "vocabs: downloading the llama-cpp-python==$VERSION sdist for ${missing[*]}"
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$VERSION"
sdist="$tmp/llama_cpp_python-$VERSION.tar.gz"
if ! check "$sdist" "$SDIST_SHA256"; then
  echo "vocabs: $sdist does not match the recorded sha256 $SDIST_SHA256" >&2
  exit 1
fi
members=()
for name in "${missing[@]}"; do
  members+=("llama_cpp_python-$VERSION/vendor/llama.cpp/models/ggml-vocab-$name.gguf")
done
tar -xzf "$sdist" -C "$tmp" "${members[@]}"
for name in "${missing[@]}"; do
  f="$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp/models/ggml-vocab-$name.gguf"
  if ! check "$f" "${SHA256[$name]}"; then
    echo "vocabs: ggml-vocab-$name.gguf does not match the recorded sha256 ${SHA256[$name]}" >&2
    exit 1
  fi
  mv "$f" "$OUT/"
done
echo "vocabs: $OUT ready (${#SHA256[@]} files)"
