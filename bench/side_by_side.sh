#!/usr/bin/env bash
# side_by_side.sh — qlm's `bench kernels` and llama.cpp's ggml on the same
# types, shapes, batch sizes and thread count, back to back in one run, then the
# ratio table. Results go to bench/results/side-by-side-<cpu>-<T>t.{json,txt}.
#
#   bench/side_by_side.sh [--types Q4_0,Q8_0,Q4_K,Q6_K] [--shapes 4096x14336,14336x4096]
#                         [--m 1,8,512] [--threads 2] [--isa avx2|avx512]
#
# --isa forces qlm's instruction set (default: the best this CPU runs) and
# puts it in the result name: side-by-side-<isa>-<cpu>-<T>t.
#
# TAG=name appends -name to the result files (before/after pairs); QLM=path
# runs another qlm binary; GGML_JSON=file reuses the ggml records of an earlier
# result (its "ggml" field) instead of measuring again; GGML_ARGS adds harness
# options (on a busy machine: --retries 0 --quiet-wait 0).
#
# Needs a release build (make build) and builds ggml in /tmp (bench/ggml/build_ggml.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
types=Q4_0,Q8_0,Q4_K,Q6_K shapes=4096x14336,14336x4096 ms=1,8,512 threads=$(nproc) isa=
while [[ $# -gt 0 ]]; do
    case "$1" in
        --types) types=$2; shift 2;;
        --shapes) shapes=$2; shift 2;;
        --m) ms=$2; shift 2;;
        --threads) threads=$2; shift 2;;
        --isa) isa=$2; shift 2;;
        *) echo "unknown option $1" >&2; exit 2;;
    esac
done
QLM=${QLM:-$ROOT/build/tools/qlm/qlm}
[[ -x $QLM ]] || { echo "no $QLM: run 'make build' first" >&2; exit 2; }
[[ -n ${GGML_JSON:-} ]] || GGML=$("$ROOT/bench/ggml/build_ggml.sh" "${WORKDIR:-/tmp/qlm-ggml}" | tail -n1)

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
slug=$(printf '%s' "${cpu:-unknown}" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9]\+/-/g' -e 's/^-//' -e 's/-$//')
out=$ROOT/bench/results/side-by-side-${isa:+$isa-}$slug-${threads}t${TAG:+-$TAG}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "qlm: $QLM bench kernels" >&2
"$QLM" bench kernels --types "$types" --shapes "$shapes" --m "$ms" -t "$threads" ${isa:+--isa "$isa"} --json > "$tmp/qlm.json"
if [[ -n ${GGML_JSON:-} ]]; then
    echo "ggml: records of $GGML_JSON" >&2
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); json.dump(d.get("ggml", d), sys.stdout)' "$GGML_JSON" > "$tmp/ggml.json"
else
    echo "ggml: $GGML" >&2
    # shellcheck disable=SC2086
    "$GGML" --types "$types" --shapes "$shapes" --m "$ms" --threads "$threads" ${GGML_ARGS:-} --json > "$tmp/ggml.json"
fi

python3 - "$tmp/qlm.json" "$tmp/ggml.json" "$out" "$cpu" "$threads" <<'PY'
import json, sys
qlm_path, ggml_path, out, cpu, threads = sys.argv[1:]
q = json.load(open(qlm_path))
g = json.load(open(ggml_path))
gm = {(r["type"], r["n"], r["k"], r["m"]): r for r in g if r.get("kind") == "matmul"}
bw = next((r["gbps"] for r in g if r.get("kind") == "membw"), None)
rows = []
lines = [f"CPU {cpu}, {threads} threads, qlm isa {q['isa']}; read bandwidth: qlm {q['read_bandwidth_gbps']:.1f} GB/s, "
         f"ggml harness {bw:.1f} GB/s",
         f"qlm: {q.get('amx', 'no AMX status (older qlm)')}; int8 peak (G multiply-adds/s, registers): "
         f"{', '.join(f'{k} {v:.0f}' for k, v in q.get('int8_peak_gmacs', {}).items() if v) or 'not measured'}",
         f"{'type':7} {'n':>6} {'k':>6} {'m':>4} {'qlm us':>10} {'ggml us':>10} {'speedup':>8} {'qlm GB/s':>9} {'%bw':>6} {'qlm GF/s':>9} {'ggml GF/s':>9} {'%peak':>6}  qlm kernel"]
for r in q["results"]:
    x = gm.get((r["type"], r["n"], r["k"], r["m"]))
    if not x:
        continue
    sp = x["us"] / r["us"]
    rows.append({"type": r["type"], "n": r["n"], "k": r["k"], "m": r["m"], "qlm_us": r["us"], "ggml_us": x["us"],
                 "speedup_vs_ggml": sp, "qlm_gbps": r["gbps"], "qlm_pct_bandwidth": r["pct_bandwidth"],
                 "qlm_gflops": r["gflops"], "ggml_gflops": x["gflops"], "qlm_pct_int8_peak": r.get("pct_int8_peak", 0),
                 "qlm_kernel": r.get("kernel", "")})
    lines.append(f"{r['type']:7} {r['n']:6} {r['k']:6} {r['m']:4} {r['us']:10.0f} {x['us']:10.0f} {sp:8.2f} "
                 f"{r['gbps']:9.2f} {r['pct_bandwidth']:5.1f}% {r['gflops']:9.1f} {x['gflops']:9.1f} "
                 f"{r.get('pct_int8_peak', 0):5.1f}%  {r.get('kernel', '')}")
json.dump({"cpu": cpu, "threads": int(threads), "qlm": q, "ggml": g, "ratios": rows}, open(out + ".json", "w"), indent=1)
open(out + ".txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
print(f"wrote {out}.json and {out}.txt", file=sys.stderr)
PY
