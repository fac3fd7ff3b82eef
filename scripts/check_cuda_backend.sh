#!/usr/bin/env bash
# On a machine with a CUDA device: build with CUDA, run the GPU tests (the
# CUDA kernels, every backend op against float64, CUDA vs CPU on the tiny
# models), then compare `qlm logits --backend cuda` with the CPU's on the
# default model if it is there (normalized MSE, argmax agreement, mean KL).
#   scripts/check_cuda_backend.sh [BUILD_DIR]
set -euo pipefail
B=${1:-build-gpu}
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQLM_CUDA=ON >/dev/null
cmake --build "$B" --target qlm_cli test_cuda test_backend_ops -j "$(nproc)"
"$B/tests/cuda/test_cuda" --gtest_brief=1
"$B/tests/ops/test_backend_ops" --gtest_brief=1
M=models/gemma-3-270m-q4_k_m.gguf
if [ ! -f "$M" ]; then
  echo "check_cuda_backend: $M not found; whole-model comparison skipped"
  exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
seq 2 997 7 | head -n 96 | tr '\n' ' ' >"$T/tokens.txt"
"$B/tools/qlm/qlm" logits -m "$M" --tokens-file "$T/tokens.txt" -o "$T/cpu.npy" -b 32
"$B/tools/qlm/qlm" logits -m "$M" --tokens-file "$T/tokens.txt" -o "$T/cuda.npy" -b 32 --backend cuda
python3 - "$T/cpu.npy" "$T/cuda.npy" <<'PY'
import sys
import numpy as np
a, b = (np.load(p).astype(np.float64) for p in sys.argv[1:3])
nmse = ((a - b) ** 2).sum() / (a ** 2).sum()
pa = np.exp(a - a.max(1, keepdims=True)); pa /= pa.sum(1, keepdims=True)
lb = b - b.max(1, keepdims=True); lb -= np.log(np.exp(lb).sum(1, keepdims=True))
la = np.log(np.maximum(pa, 1e-300))
kl = (pa * (la - lb)).sum(1)
print(f"cuda vs cpu logits: nmse {nmse:.3e}, argmax agree {np.mean(a.argmax(1) == b.argmax(1)):.3f}, "
      f"mean KL {kl.mean():.3e}, max KL {kl.max():.3e}")
PY
