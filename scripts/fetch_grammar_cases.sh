#!/usr/bin/env bash
# fetch_grammar_cases.sh — put llama.cpp's GBNF grammars (grammars/*.gbnf) and
# its JSON-schema-to-grammar test cases (tests/test-json-schema-to-grammar.cpp,
# read as data: the schemas and the grammars llama.cpp expects) in
# models/grammar-cases/, the corpus of tests/grammar/test_grammar_corpus.py and
# of the server's schema tests. They come from the llama-cpp-python sdist on
# PyPI, downloaded with pip into a temporary folder and checked against its
# recorded SHA-256 (as scripts/fetch_templates.sh does). Nothing of it is
# committed.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.3.36
SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
PY=${PYTHON:-.venv/bin/python}
OUT=models/grammar-cases
STAMP="$OUT/.sdist-$SDIST_SHA256"

if [ -f "$STAMP" ]; then
  echo "grammar cases: $OUT (from the sdist $SDIST_SHA256, reused)"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "grammar cases: downloading the llama-cpp-python==$VERSION sdist"
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$VERSION"
sdist="$tmp/llama_cpp_python-$VERSION.tar.gz"
if ! echo "$SDIST_SHA256  $sdist" | sha256sum -c --status; then
  echo "grammar cases: $sdist does not match the recorded sha256 $SDIST_SHA256" >&2
  exit 1
fi
base="llama_cpp_python-$VERSION/vendor/llama.cpp"
tar -xzf "$sdist" -C "$tmp" --wildcards "$base/grammars/*.gbnf" "$base/tests/test-json-schema-to-grammar.cpp"
rm -rf "$OUT"
mkdir -p "$OUT/gbnf"
mv "$tmp/$base"/grammars/*.gbnf "$OUT/gbnf/"
mv "$tmp/$base/tests/test-json-schema-to-grammar.cpp" "$OUT/"
touch "$STAMP"
echo "grammar cases: $OUT ready ($(ls "$OUT"/gbnf/*.gbnf | wc -l) grammars)"
