#!/usr/bin/env bash
# Run the fuzzers for a while: the GGUF reader, the chat-template engine and
# the grammar engine, a third of SECONDS each. Builds nothing: build first with
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DQLM_FUZZ=ON -DQLM_BUILD_TESTS=OFF
#   cmake --build build-fuzz -j2 --target gguf_reader_fuzz gguf_fuzz_seeds template_fuzz grammar_fuzz
#
# Usage: tests/fuzz/run.sh SECONDS OUTDIR [BUILD_DIR] [-- extra libFuzzer flags]
#   SECONDS    total fuzzing time (one process at a time, one core)
#   OUTDIR     working directory, reused across runs (/fuzz-out/ is git-ignored):
#                OUTDIR/seeds      GGUF seeds, regenerated each run by gguf_fuzz_seeds
#                OUTDIR/corpus     the growing GGUF corpus (kept between runs)
#                OUTDIR/artifacts  crash-*, leak-*, timeout-*, oom-* inputs
#                OUTDIR/fuzz.log   the fuzzer's full output
#                OUTDIR/template/{seeds,corpus,artifacts,fuzz.log}: the same for
#                the template fuzzer (seeds: tests/fuzz/template_seeds/ and
#                models/templates/*.jinja when `make templates` has run)
#   BUILD_DIR  build tree holding tests/fuzz/*_fuzz (default: build-fuzz)
# Prints the executions, coverage and any findings; exits non-zero if a
# fuzzer found something. Reproduce a finding with:
#   BUILD_DIR/tests/fuzz/gguf_reader_fuzz OUTDIR/artifacts/crash-...
#   BUILD_DIR/tests/fuzz/template_fuzz OUTDIR/template/artifacts/crash-...
#   BUILD_DIR/tests/fuzz/grammar_fuzz OUTDIR/grammar/artifacts/crash-...
set -euo pipefail

if [[ $# -lt 2 ]]; then
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
seconds=$1 outdir=$2
build=${3:-build-fuzz}
shift $(( $# >= 3 ? 3 : 2 ))
[[ ${1:-} == -- ]] && shift

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
gguf_fuzzer=$build/tests/fuzz/gguf_reader_fuzz
seeds_tool=$build/tests/fuzz/gguf_fuzz_seeds
template_fuzzer=$build/tests/fuzz/template_fuzz
grammar_fuzzer=$build/tests/fuzz/grammar_fuzz
for f in "$gguf_fuzzer" "$seeds_tool" "$template_fuzzer" "$grammar_fuzzer"; do
    [[ -x $f ]] || { echo "error: $f not found; build it first (see the top of $0)" >&2; exit 2; }
done
first=$(( (seconds + 2) / 3 )) second=$(( (seconds + 1) / 3 )) third=$(( seconds / 3 ))
(( second > 0 )) || second=1
(( third > 0 )) || third=1

# fuzz NAME FUZZER DIR SECONDS DICT MAX_LEN [flags]: one libFuzzer run in DIR.
failed=0
fuzz() {
    local name=$1 fuzzer=$2 dir=$3 secs=$4 dict=$5 max_len=$6
    shift 6
    echo "fuzzing $name for ${secs}s: $fuzzer"
    local status=0
    "$fuzzer" "$dir/corpus" "$dir/seeds" \
        -max_total_time="$secs" -dict="$dict" -max_len="$max_len" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" "$@" > "$dir/fuzz.log" 2>&1 || status=$?
    # The last status line carries the coverage ("cov:" edges, "ft:" features).
    grep -E '^#[0-9]+' "$dir/fuzz.log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$dir/fuzz.log" || true
    echo "corpus: $(find "$dir/corpus" -type f | wc -l) files"
    local findings
    findings=$(find "$dir/artifacts" -type f | wc -l)
    if [[ $status -ne 0 || $findings -ne 0 ]]; then
        echo "FINDINGS in $name (fuzzer exit status $status):"
        find "$dir/artifacts" -type f -print
        grep -E -A30 '^==[0-9]+==ERROR|runtime error|deadly signal|uncaught exception' "$dir/fuzz.log" | head -n 60 || true
        failed=1
    fi
}

mkdir -p "$outdir/seeds" "$outdir/corpus" "$outdir/artifacts"
"$seeds_tool" "$outdir/seeds"
fuzz gguf "$gguf_fuzzer" "$outdir" "$first" "$here/gguf.dict" 8192 "$@"

tdir=$outdir/template
mkdir -p "$tdir/seeds" "$tdir/corpus" "$tdir/artifacts"
cp "$here"/template_seeds/* "$tdir/seeds/"
if compgen -G "$root/models/templates/*.jinja" > /dev/null; then cp "$root"/models/templates/*.jinja "$tdir/seeds/"; fi
fuzz template "$template_fuzzer" "$tdir" "$second" "$here/template.dict" 20000 "$@"

gdir=$outdir/grammar
mkdir -p "$gdir/seeds" "$gdir/corpus" "$gdir/artifacts"
cp "$here"/grammar_seeds/* "$gdir/seeds/"
if compgen -G "$root/models/grammar-cases/gbnf/*.gbnf" > /dev/null; then
    for f in "$root"/models/grammar-cases/gbnf/*.gbnf; do { printf '\0'; cat "$f"; } > "$gdir/seeds/llama-$(basename "$f")"; done
fi
fuzz grammar "$grammar_fuzzer" "$gdir" "$third" "$here/grammar.dict" 8192 "$@"

if [[ $failed -ne 0 ]]; then exit 1; fi
echo "no findings"
