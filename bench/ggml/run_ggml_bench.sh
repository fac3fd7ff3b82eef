#!/usr/bin/env bash
# Builds the ggml harness if needed (build_ggml.sh) and runs it with --json,
# saving bench/results/ggml-<cpu>-<threads>t.json (override with OUT=path).
#
#   bench/ggml/run_ggml_bench.sh --types Q4_0,Q8_0,Q4_K,Q6_K \
#       --shapes 4096x14336,14336x4096 --m 1,8,512 --threads 2 --reps 10
#
# All arguments go to ggml_matmul_bench (see its --help); --threads defaults
# to the number of online CPUs.  WORKDIR (default /tmp/qlm-ggml) is passed to
# build_ggml.sh.  Progress goes to stderr.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

BIN=$("$HERE/build_ggml.sh" "${WORKDIR:-/tmp/qlm-ggml}" | tail -n1)

threads=""
args=("$@")
for ((i = 0; i < ${#args[@]}; ++i)); do
    if [[ "${args[i]}" == "--threads" && $((i + 1)) -lt ${#args[@]} ]]; then threads=${args[i+1]}; fi
done
if [[ -z "$threads" ]]; then
    threads=$(nproc)
    args+=(--threads "$threads")
fi

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
slug=$(printf '%s' "${cpu:-unknown}" | tr '[:upper:]' '[:lower:]' | sed -e 's/([^)]*)//g' -e 's/[^a-z0-9]\+/-/g' -e 's/^-//' -e 's/-$//')
OUT=${OUT:-"$ROOT/bench/results/ggml-$slug-${threads}t.json"}
mkdir -p "$(dirname "$OUT")"

tmp="$OUT.tmp.$$"
"$BIN" "${args[@]}" --json > "$tmp"
mv "$tmp" "$OUT"
echo "wrote $OUT" >&2
