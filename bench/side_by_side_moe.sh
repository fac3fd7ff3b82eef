#!/usr/bin/env bash
# side_by_side_moe.sh — `qlm bench moe` and ggml's MUL_MAT_ID (bench/ggml/ggml_moe_bench)
# on the same MoE layer shapes, types, routings, batch sizes and thread count,
# alternated RUNS times in one run; the best (lowest median) of the runs counts
# for each side, then the ratio table. Results go to
# bench/results/moe-side-by-side-<cpu>-<T>t.{json,txt}.
#
#   bench/side_by_side_moe.sh [--configs all] [--m 1,4,8,32,128,512] [--threads 2] [--runs 2]
#
# Needs a release build (make build) and builds ggml in /tmp (bench/ggml/build_ggml.sh:
# native, no AMX).
#
# ggml runs with OMP_WAIT_POLICY=${GGML_OMP_WAIT_POLICY:-passive}: on a host shared
# with other work, ggml's OpenMP threads spinning in the barriers between graph
# nodes (libgomp's default, active) lose whole scheduler slices to stolen cores;
# on this Xeon under load ~8 the Q8_0 layer at m=1 took 70 ms with 2 active
# threads, 8.0 ms with 1 thread and 8.2 ms with 2 passive ones. On a quiet
# machine set GGML_OMP_WAIT_POLICY=active (llama.cpp's default behaviour).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
configs=all ms=1,4,8,32,128,512 threads=$(nproc) runs=2
while [[ $# -gt 0 ]]; do
    case "$1" in
        --configs) configs=$2; shift 2;;
        --m) ms=$2; shift 2;;
        --threads) threads=$2; shift 2;;
        --runs) runs=$2; shift 2;;
        *) echo "unknown option $1" >&2; exit 2;;
    esac
done
QLM=${QLM:-$ROOT/build/tools/qlm/qlm}
[[ -x $QLM ]] || { echo "no $QLM: run 'make build' first" >&2; exit 2; }
GGML=$(dirname "$("$ROOT/bench/ggml/build_ggml.sh" "${WORKDIR:-/tmp/qlm-ggml}" | tail -n1)")/ggml_moe_bench
[[ -x $GGML ]] || { echo "no $GGML" >&2; exit 2; }

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
slug=$(printf '%s' "${cpu:-unknown}" | tr '[:upper:]' '[:lower:]' | sed -e 's/([^)]*)//g' -e 's/[^a-z0-9]\+/-/g' -e 's/^-//' -e 's/-$//')
out=${OUT:-$ROOT/bench/results/moe-side-by-side-$slug-${threads}t}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for ((r = 1; r <= runs; ++r)); do
    echo "run $r/$runs: qlm bench moe" >&2
    "$QLM" bench moe --configs "$configs" --m "$ms" -t "$threads" --json > "$tmp/qlm-$r.json"
    echo "run $r/$runs: ggml_moe_bench" >&2
    OMP_WAIT_POLICY=${GGML_OMP_WAIT_POLICY:-passive} "$GGML" --configs "$configs" --m "$ms" --threads "$threads" --json > "$tmp/ggml-$r.json"
done

python3 - "$tmp" "$runs" "$out" "$cpu" "$threads" "$(uptime)" "${GGML_OMP_WAIT_POLICY:-passive}" <<'PY'
import json, sys
tmp, runs, out, cpu, threads, up, omp_wait = sys.argv[1:]
runs = int(runs)
best_q, best_g, bw_q, bw_g = {}, {}, [], []
for r in range(1, runs + 1):
    q = json.load(open(f"{tmp}/qlm-{r}.json"))
    g = json.load(open(f"{tmp}/ggml-{r}.json"))
    bw_q.append(q["read_bandwidth_gbps"])
    bw_g += [x["gbps"] for x in g if x["kind"] == "membw"]
    isa = q["isa"]
    for x in q["results"]:
        key = (x["config"], x["m"])
        if key not in best_q or x["us"] < best_q[key]["us"]:
            best_q[key] = dict(x, read_bandwidth_gbps=q["read_bandwidth_gbps"])
    for x in g:
        if x["kind"] != "moe":
            continue
        key = (x["config"], x["m"])
        if key not in best_g or x["us"] < best_g[key]["us"]:
            best_g[key] = x
bw = max(bw_q)
lines = [f"CPU {cpu}, {threads} threads, qlm isa {isa}; best of {runs} alternated runs per side; "
         f"ggml with OMP_WAIT_POLICY={omp_wait}",
         f"read bandwidth (best): qlm {max(bw_q):.1f} GB/s, ggml harness {max(bw_g):.1f} GB/s; load at the end: {up.strip()}",
         "expert FFN of one layer, router excluded: gate+up, activation, down, weighted sum over the used experts;",
         "GB/s = distinct experts hit (mean over the routings) x bytes per expert / time; %bw of the best qlm-measured bandwidth",
         f"{'config':25} {'m':>4} {'experts':>7} {'qlm us':>10} {'ggml us':>10} {'speedup':>8} {'qlm tok/s':>10} "
         f"{'ggml tok/s':>10} {'qlm GB/s':>9} {'%bw':>6} {'ggml GB/s':>9} {'%bw':>6} ggml repack (gate,up/down)"]
rows = []
for key, x in best_q.items():
    y = best_g.get(key)
    if not y:
        continue
    sp = y["us"] / x["us"]
    rows.append({"config": key[0], "m": key[1], "distinct_experts": x["mean_distinct_experts"],
                 "qlm_us": x["us"], "ggml_us": y["us"], "speedup_vs_ggml": sp,
                 "qlm_tokens_per_s": x["tokens_per_s"], "ggml_tokens_per_s": y["tokens_per_s"],
                 "qlm_gbps": x["gbps"], "ggml_gbps": y["gbps"], "qlm_pct_bandwidth": 100 * x["gbps"] / bw,
                 "ggml_pct_bandwidth": 100 * y["gbps"] / bw, "ggml_repack": y["repack"], "copies": x["copies"],
                 "qlm_read_bandwidth_gbps": x["read_bandwidth_gbps"]})
    lines.append(f"{key[0]:25} {key[1]:4} {x['mean_distinct_experts']:7.1f} {x['us']:10.0f} {y['us']:10.0f} {sp:8.2f} "
                 f"{x['tokens_per_s']:10.1f} {y['tokens_per_s']:10.1f} {x['gbps']:9.2f} {100 * x['gbps'] / bw:5.1f}% "
                 f"{y['gbps']:9.2f} {100 * y['gbps'] / bw:5.1f}% {y['repack']}")
text = "\n".join(lines) + "\n"
print(text, end="")
open(out + ".txt", "w").write(text)
json.dump({"cpu": cpu, "threads": int(threads), "isa": isa, "runs": runs, "ggml_omp_wait_policy": omp_wait, "read_bandwidth_gbps_qlm": bw_q,
           "read_bandwidth_gbps_ggml": bw_g, "rows": rows}, open(out + ".json", "w"), indent=1)
print(f"wrote {out}.txt and .json", file=sys.stderr)
PY
