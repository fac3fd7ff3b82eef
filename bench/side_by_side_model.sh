#!/usr/bin/env bash
# side_by_side_model.sh — `qlm bench model` and llama.cpp (llama-cpp-python's C
# API, bench/llama/llama_bench.py) on the same GGUF, thread count, prompt and
# generation lengths, back to back in one run; prints the ratio table and
# writes bench/results/model-side-by-side-<cpu>-<T>t.{json,txt}.
#
#   bench/side_by_side_model.sh [-m models/gemma-3-270m-q4_k_m.gguf] [-t 2] [-r 3]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=$ROOT/models/gemma-3-270m-q4_k_m.gguf threads=$(nproc) reps=3
while [[ $# -gt 0 ]]; do
    case "$1" in
        -m) model=$2; shift 2;;
        -t) threads=$2; shift 2;;
        -r) reps=$2; shift 2;;
        *) echo "unknown option $1" >&2; exit 2;;
    esac
done
QLM=${QLM:-$ROOT/build/tools/qlm/qlm}
[[ -x $QLM ]] || { echo "no $QLM: run 'make build' first" >&2; exit 2; }
PY=$("$ROOT/bench/llama/setup_llama.sh" "${LLAMA_VENV:-/tmp/llama-venv}" | tail -n1)

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n1)
slug=$(printf '%s' "${cpu:-unknown}" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9]\+/-/g' -e 's/^-//' -e 's/-$//')
out=$ROOT/bench/results/model-side-by-side-$slug-${threads}t
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "qlm: $QLM bench model" >&2
"$QLM" bench model -m "$model" -t "$threads" -r "$reps" --json > "$tmp/qlm.json"
echo "llama.cpp: $PY bench/llama/llama_bench.py" >&2
"$PY" "$ROOT/bench/llama/llama_bench.py" -m "$model" -t "$threads" -r "$reps" > "$tmp/llama.json"

python3 - "$tmp/qlm.json" "$tmp/llama.json" "$out" "$cpu" "$threads" <<'PY'
import json, sys
qp, lp, out, cpu, threads = sys.argv[1:]
q, l = json.load(open(qp)), json.load(open(lp))
lines = [f"CPU {cpu}, {threads} threads, model {q['model'].split('/')[-1]}, qlm isa {q['isa']}, {l['engine']}",
         f"{'test':6} {'qlm tok/s':>12} {'llama.cpp tok/s':>16} {'qlm/llama.cpp':>14}"]
res = {"cpu": cpu, "threads": int(threads), "qlm": q, "llama": l, "ratios": {}}
for t in ("pp", "tg"):
    if t in q and t in l:
        a, b = q[t]["tokens_per_s"], l[t]["tokens_per_s"]
        res["ratios"][t] = a / b
        lines.append(f"{t + str(q[t]['tokens']):6} {a:8.2f}±{q[t]['sd']:<4.1f} {b:11.2f}±{l[t]['sd']:<4.1f} {a / b:13.2f}x")
txt = "\n".join(lines)
print(txt)
open(out + ".txt", "w").write(txt + "\n")
json.dump(res, open(out + ".json", "w"), indent=2)
PY
