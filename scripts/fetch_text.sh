#!/usr/bin/env bash
# fetch_text.sh — put the perplexity text in models/text/alice29.txt: Lewis
# Carroll's "Alice's Adventures in Wonderland" (Project Gutenberg's Millennium
# Fulcrum Edition 2.9, public domain; 152,089 bytes of ASCII with CRLF line
# ends, the Canterbury-corpus file), as the PyPI sdist of Brotli 1.1.0 (MIT)
# ships it in tests/testdata/. The sdist is downloaded with pip into a
# temporary folder; both it and the text are checked against the SHA-256
# recorded here. A file already there with the right SHA-256 is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1.1.0
SDIST_SHA256=81de08ac11bcb85841e440c13611c00b67d3bf82698314928d0b676362546724
TEXT_SHA256=7467306ee0feed4971260f3c87421154a05be571d944e9cb021a5713700c38f0
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT=models/text/alice29.txt

check() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

if check "$OUT" "$TEXT_SHA256"; then
  echo "text: $OUT (sha256 match, reused)"
  exit 0
fi
mkdir -p "$(dirname "$OUT")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "text: downloading the Brotli==$VERSION sdist from PyPI for tests/testdata/alice29.txt"
"$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: -d "$tmp" "Brotli==$VERSION"
sdist="$tmp/Brotli-$VERSION.tar.gz"
if ! check "$sdist" "$SDIST_SHA256"; then
  echo "text: $sdist does not match the recorded sha256 $SDIST_SHA256" >&2
  exit 1
fi
tar -xzf "$sdist" -C "$tmp" "Brotli-$VERSION/tests/testdata/alice29.txt"
f="$tmp/Brotli-$VERSION/tests/testdata/alice29.txt"
if ! check "$f" "$TEXT_SHA256"; then
  echo "text: alice29.txt does not match the recorded sha256 $TEXT_SHA256" >&2
  exit 1
fi
mv "$f" "$OUT"
echo "text: $OUT"
