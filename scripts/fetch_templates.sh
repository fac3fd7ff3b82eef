#!/usr/bin/env bash
# fetch_templates.sh — put llama.cpp's chat-template corpus, the oracle set of
# the template engine, in models/templates/. The templates ship inside the
# llama-cpp-python sdist on PyPI (vendor/llama.cpp/models/templates/*.jinja),
# downloaded with pip into a temporary folder and checked against the sdist's
# recorded SHA-256 (the same one scripts/fetch_vocabs.sh checks). A folder
# whose manifest digest (sha256 of `sha256sum *.jinja`) matches is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.3.36
SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
# sha256 of the `sha256sum *.jinja` listing of the 71 templates (C locale order).
MANIFEST_SHA256=17f129a359ec13d82f8206464cfe457355ebc284f66568ebf3056236ef794ca3
PY=${PYTHON:-.venv/bin/python}
OUT=models/templates

manifest() { (cd "$1" && LC_ALL=C ls *.jinja | while read -r f; do sha256sum "$f"; done) | sha256sum | cut -d' ' -f1; }

if [ -d "$OUT" ] && [ "$(manifest "$OUT" 2>/dev/null)" = "$MANIFEST_SHA256" ]; then
  echo "templates: $OUT ($(ls "$OUT"/*.jinja | wc -l) files, manifest sha256 match, reused)"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "templates: downloading the llama-cpp-python==$VERSION sdist"
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$tmp" "llama-cpp-python==$VERSION"
sdist="$tmp/llama_cpp_python-$VERSION.tar.gz"
if ! echo "$SDIST_SHA256  $sdist" | sha256sum -c --status; then
  echo "templates: $sdist does not match the recorded sha256 $SDIST_SHA256" >&2
  exit 1
fi
tar -xzf "$sdist" -C "$tmp" --wildcards "llama_cpp_python-$VERSION/vendor/llama.cpp/models/templates/*.jinja"
src="$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp/models/templates"
if [ "$(manifest "$src")" != "$MANIFEST_SHA256" ]; then
  echo "templates: the extracted templates do not match the recorded manifest sha256 $MANIFEST_SHA256" >&2
  exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"
mv "$src"/*.jinja "$OUT/"
echo "templates: $OUT ready ($(ls "$OUT"/*.jinja | wc -l) files)"
