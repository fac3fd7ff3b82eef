#!/usr/bin/env bash
# Run the GGUF reader fuzzer for a while. Builds nothing: build first with
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DQLM_FUZZ=ON -DQLM_BUILD_TESTS=OFF
#   cmake --build build-fuzz -j2 --target gguf_reader_fuzz gguf_fuzz_seeds
#
# Usage: tests/fuzz/run.sh SECONDS OUTDIR [BUILD_DIR] [-- extra libFuzzer flags]
#   SECONDS    total fuzzing time (one process, one core)
#   OUTDIR     working directory, reused across runs (/fuzz-out/ is git-ignored):
#                OUTDIR/seeds      regenerated each run by gguf_fuzz_seeds
#                OUTDIR/corpus     the growing corpus (kept between runs)
#                OUTDIR/artifacts  crash-*, leak-*, timeout-*, oom-* inputs
#                OUTDIR/fuzz.log   the fuzzer's full output
#   BUILD_DIR  build tree holding tests/fuzz/gguf_reader_fuzz (default: build-fuzz)
# Prints the executions, coverage and any findings; exits non-zero if the
# fuzzer found something. Reproduce a finding with:
#   BUILD_DIR/tests/fuzz/gguf_reader_fuzz OUTDIR/artifacts/crash-...
set -euo pipefail

if [[ $# -lt 2 ]]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
seconds=$1 outdir=$2
build=${3:-build-fuzz}
shift $(( $# >= 3 ? 3 : 2 ))
[[ ${1:-} == -- ]] && shift

here=$(cd "$(dirname "$0")" && pwd)
fuzzer=$build/tests/fuzz/gguf_reader_fuzz
seeds_tool=$build/tests/fuzz/gguf_fuzz_seeds
for f in "$fuzzer" "$seeds_tool"; do
    [[ -x $f ]] || { echo "error: $f not found; build it first (see the top of $0)" >&2; exit 2; }
done

mkdir -p "$outdir/seeds" "$outdir/corpus" "$outdir/artifacts"
"$seeds_tool" "$outdir/seeds"

echo "fuzzing for ${seconds}s: $fuzzer"
status=0
"$fuzzer" "$outdir/corpus" "$outdir/seeds" \
    -max_total_time="$seconds" -dict="$here/gguf.dict" -max_len=8192 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$outdir/artifacts/" "$@" > "$outdir/fuzz.log" 2>&1 || status=$?

# The last status line carries the coverage ("cov:" edges, "ft:" features).
grep -E '^#[0-9]+' "$outdir/fuzz.log" | tail -n 1 || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$outdir/fuzz.log" || true
echo "corpus: $(find "$outdir/corpus" -type f | wc -l) files"
findings=$(find "$outdir/artifacts" -type f | wc -l)
if [[ $status -ne 0 || $findings -ne 0 ]]; then
    echo "FINDINGS (fuzzer exit status $status):"
    find "$outdir/artifacts" -type f -print
    grep -E -A30 '^==[0-9]+==ERROR|runtime error|deadly signal|uncaught exception' "$outdir/fuzz.log" | head -n 60 || true
    exit 1
fi
echo "no findings"
