#!/usr/bin/env bash
# build_llama_tools.sh [DIR] — llama.cpp's own command-line tools
# (llama-perplexity, llama-batched-bench, llama-server, llama-bench), CPU only,
# built from the llama.cpp that the pinned llama-cpp-python sdist vendors
# (the same release whose ggml bench/ggml builds and whose Python binding
# bench/llama/setup_llama.sh builds), for side-by-side runs.
#
#   bench/llama/build_llama_tools.sh [DIR]     (default DIR: /tmp/llama-tools)
#
# The sdist comes from PyPI through pip (pinned version, SHA-256 checked),
# is unpacked under /tmp, and built with CMake: Release, GGML_NATIVE=ON
# (-march=native), GGML_CUDA=OFF, LLAMA_CURL=OFF, static libraries (the
# binaries do not depend on the build folder). Nothing of llama.cpp is
# committed. Re-running reuses the download and the build (only changed files
# are rebuilt); when all four binaries exist nothing is done.
#
# Environment: JOBS (default 2) parallel build jobs.
# Writes DIR/READY (the binaries' paths, one a line) when the build is done
# and prints the same paths on stdout.
set -euo pipefail

LCP_VERSION=0.3.36
LCP_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
DIR=${1:-/tmp/llama-tools}
JOBS=${JOBS:-2}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TARGETS=(llama-perplexity llama-batched-bench llama-server llama-bench)

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
case "$DIR/" in
    "$(cd "$HERE/../.." && pwd)/"*) echo "build_llama_tools.sh: DIR must be outside the repository" >&2; exit 2 ;;
esac

log() { echo "build_llama_tools.sh: $*" >&2; }

BIN="$DIR/bin"
have_all() {
    local t
    for t in "${TARGETS[@]}"; do [[ -x "$BIN/$t" ]] || return 1; done
}
report() {
    local t
    : > "$DIR/READY.tmp"
    for t in "${TARGETS[@]}"; do echo "$BIN/$t" >> "$DIR/READY.tmp"; done
    mv "$DIR/READY.tmp" "$DIR/READY"
    cat "$DIR/READY"
}

if have_all; then
    log "reusing the binaries in $BIN"
    report
    exit 0
fi

TARBALL="$DIR/dl/llama_cpp_python-$LCP_VERSION.tar.gz"
SRCROOT=/tmp/llama-tools-src-$LCP_VERSION
LLAMA_SRC="$SRCROOT/llama_cpp_python-$LCP_VERSION/vendor/llama.cpp"
BUILD="$DIR/build"

if [[ ! -f "$LLAMA_SRC/CMakeLists.txt" ]]; then
    if [[ ! -f "$TARBALL" ]]; then
        log "downloading llama-cpp-python==$LCP_VERSION sdist from PyPI (pip prepares its metadata; ~1-2 min)"
        mkdir -p "$DIR/dl"
        PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip download --quiet --no-deps --no-binary :all: \
            "llama-cpp-python==$LCP_VERSION" -d "$DIR/dl" >&2
    fi
    got=$(sha256sum "$TARBALL" | cut -d' ' -f1)
    if [[ "$got" != "$LCP_SHA256" ]]; then
        log "sha256 mismatch for $TARBALL: $got (want $LCP_SHA256)"
        exit 1
    fi
    log "extracting vendor/llama.cpp into $SRCROOT"
    rm -rf "$SRCROOT"
    mkdir -p "$SRCROOT"
    tar -xzf "$TARBALL" -C "$SRCROOT" "llama_cpp_python-$LCP_VERSION/vendor/llama.cpp"
fi

start=$(date +%s)
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    log "configuring $BUILD"
    gen=()
    if command -v ninja >/dev/null; then gen=(-G Ninja); fi
    cmake -S "$LLAMA_SRC" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON \
        -DLLAMA_BUILD_SERVER=ON >&2
fi
log "building ${TARGETS[*]} (-j$JOBS)"
cmake --build "$BUILD" -j"$JOBS" --target "${TARGETS[@]}" >&2
mkdir -p "$BIN"
for t in "${TARGETS[@]}"; do
    cp -f "$BUILD/bin/$t" "$BIN/$t.tmp" && mv -f "$BIN/$t.tmp" "$BIN/$t"
done
log "build took $(( $(date +%s) - start ))s; binaries in $BIN"
report
