#!/usr/bin/env bash
# Builds llama.cpp's ggml (CPU backend only) and our side-by-side harness
# bench/ggml/ggml_matmul_bench.cpp against it, outside the repository.
#
#   bench/ggml/build_ggml.sh [WORKDIR]        (default WORKDIR: /tmp/qlm-ggml)
#
# ggml's source comes from the PyPI sdist of llama-cpp-python (pinned version
# and sha256), which vendors llama.cpp under vendor/llama.cpp.  Nothing of
# ggml is committed here.  Re-running reuses the download, the extracted
# source and the CMake build (only changed files are rebuilt).
#
# ggml build options (see CMakeLists.txt next to this script): Release,
# GGML_NATIVE=ON (-march=native), static libraries, CPU backend only (no
# CUDA/Metal/Vulkan/BLAS), GGML_OPENMP=ON (ggml's default: threads are an
# OpenMP team), GGML_LLAMAFILE=ON (llama.cpp's default: tinyBLAS sgemm for
# F32/F16/BF16/Q4_0/Q8_0/... when m is large), GGML_CPU_REPACK=ON (ggml's
# default; the harness uses it with --repack on, as llama.cpp does).
#
# Environment: JOBS (default 2) parallel build jobs.
# Prints the harness binary's path as the last line.
set -euo pipefail

LCP_VERSION=0.3.36
LCP_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
WORKDIR=${1:-/tmp/qlm-ggml}
JOBS=${JOBS:-2}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
case "$WORKDIR/" in
    "$(cd "$HERE/../.." && pwd)/"*) echo "build_ggml.sh: WORKDIR must be outside the repository" >&2; exit 2 ;;
esac

TARBALL="$WORKDIR/dl/llama_cpp_python-$LCP_VERSION.tar.gz"
SRCROOT="$WORKDIR/src"
GGML_SRC="$SRCROOT/llama_cpp_python-$LCP_VERSION/vendor/llama.cpp/ggml"
BUILD="$WORKDIR/build"

log() { echo "build_ggml.sh: $*" >&2; }

if [[ ! -f "$GGML_SRC/CMakeLists.txt" ]]; then
    if [[ ! -f "$TARBALL" ]]; then
        log "downloading llama-cpp-python==$LCP_VERSION sdist from PyPI (pip prepares its metadata; ~1-2 min)"
        mkdir -p "$WORKDIR/dl"
        PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip download --quiet --no-deps --no-binary :all: \
            "llama-cpp-python==$LCP_VERSION" -d "$WORKDIR/dl" >&2
    fi
    got=$(sha256sum "$TARBALL" | cut -d' ' -f1)
    if [[ "$got" != "$LCP_SHA256" ]]; then
        log "sha256 mismatch for $TARBALL: $got (want $LCP_SHA256)"
        exit 1
    fi
    log "extracting vendor/llama.cpp/ggml"
    rm -rf "$SRCROOT"
    mkdir -p "$SRCROOT"
    tar -xzf "$TARBALL" -C "$SRCROOT" \
        "llama_cpp_python-$LCP_VERSION/vendor/llama.cpp/ggml" \
        "llama_cpp_python-$LCP_VERSION/vendor/llama.cpp/LICENSE"
fi

start=$(date +%s)
if [[ ! -f "$BUILD/CMakeCache.txt" ]] || ! grep -q "^QLM_GGML_ORIGIN:STRING=llama-cpp-python" "$BUILD/CMakeCache.txt"; then
    log "configuring $BUILD"
    cmake -S "$HERE" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQLM_GGML_SRC="$GGML_SRC" \
        -DQLM_GGML_ORIGIN="llama-cpp-python $LCP_VERSION sdist (vendor/llama.cpp/ggml)" >&2
fi
log "building (-j$JOBS)"
cmake --build "$BUILD" -j"$JOBS" --target ggml_matmul_bench ggml_moe_bench >&2
log "build took $(( $(date +%s) - start ))s"
echo "$BUILD/ggml_matmul_bench"
