#!/usr/bin/env bash
# setup_llama.sh [DIR] — a virtualenv with a CPU build of llama-cpp-python
# 0.3.36 (the same release whose vendored ggml bench/ggml builds), for the
# model benchmark and the oracle fixture scripts. Compiles llama.cpp from the
# PyPI sdist (~15-25 min on 2 cores); reused when present. Prints the python path.
set -euo pipefail
DIR=${1:-/tmp/llama-venv}
if ! "$DIR/bin/python" -c "import llama_cpp" 2>/dev/null; then
    python3 -m venv "$DIR"
    CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_CUDA=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
        "$DIR/bin/pip" install -q --no-binary llama-cpp-python llama-cpp-python==0.3.36 numpy gguf==0.19.0 >&2
fi
echo "$DIR/bin/python"
