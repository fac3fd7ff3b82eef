#!/usr/bin/env bash
# side_by_side_kld.sh BASE_MODEL MODEL [TEXT] — KL-divergence mode of `qlm perplexity`
# and of llama.cpp's `llama-perplexity` side by side: each engine saves the base
# model's log-probs over TEXT, then compares MODEL against them; a markdown
# table of both reports (PPL(Q), PPL(base), mean KLD ±, KLD percentiles, RMS Δp,
# same top p). qlm's KLD is over the base's top --kl-top-k (64) + rest (a lower
# bound), llama.cpp's over the whole vocabulary (tokens with log-prob > -16).
#
# Environment: CTX (512), CHUNKS (8), THREADS (2), QLM, LLAMA_PERPLEXITY, OUT,
# KEEP (a folder to keep the base files and logs in instead of a temporary one),
# REUSE (with KEEP: only redo the table from the runs already there).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=$1
MODEL=$2
TEXT=${3:-models/text/alice29.txt}
CTX=${CTX:-512}
CHUNKS=${CHUNKS:-8}
THREADS=${THREADS:-2}
QLM=${QLM:-build/tools/qlm/qlm}
[ -f "$TEXT" ] || scripts/fetch_text.sh
if [ -z "${LLAMA_PERPLEXITY:-}" ]; then
  LLAMA_PERPLEXITY=$(bench/llama/build_llama_tools.sh | grep llama-perplexity)
fi
OUT=${OUT:-bench/results/perplexity-kld-$(basename "$MODEL" .gguf).md}
tmp=${KEEP:-$(mktemp -d)}
mkdir -p "$tmp"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$tmp"' EXIT
common=(-f "$TEXT" -c "$CTX" --chunks "$CHUNKS" -t "$THREADS")
if [ -z "${REUSE:-}" ]; then
echo "qlm: base ..." >&2
"$QLM" perplexity -m "$BASE" "${common[@]}" --save-logits "$tmp/qlm.kld" --json > "$tmp/qlm-base.json"
echo "qlm: KL ..." >&2
"$QLM" perplexity -m "$MODEL" -f "$TEXT" -t "$THREADS" --kl-base "$tmp/qlm.kld" --json > "$tmp/qlm-kl.json"
echo "llama.cpp: base ..." >&2
"$LLAMA_PERPLEXITY" -m "$BASE" "${common[@]}" --kl-divergence-base "$tmp/llama.dat" > "$tmp/llama-base.out" 2>&1
echo "llama.cpp: KL ..." >&2
"$LLAMA_PERPLEXITY" -m "$MODEL" "${common[@]}" --kl-divergence-base "$tmp/llama.dat" --kl-divergence \
  > "$tmp/llama-kl.out" 2>&1
fi
qsize=$(stat -c %s "$tmp/qlm.kld"); lsize=$(stat -c %s "$tmp/llama.dat")
python3 - "$tmp" "$BASE" "$MODEL" "$TEXT" "$CTX" "$CHUNKS" "$THREADS" "$qsize" "$lsize" > "$OUT" <<'PY'
import json, re, sys
tmp, base, model, text, ctx, chunks, threads, qsize, lsize = sys.argv[1:]
q = json.load(open(f"{tmp}/qlm-kl.json"))["kl"]
l = open(f"{tmp}/llama-kl.out").read()
def num(pat):
    m = re.search(pat, l)
    return [float(x) if x else None for x in m.groups()] if m else [float("nan")] * 2
rows = [
    ("Mean PPL(Q)", q["ppl"]["mean"], q["ppl"]["err"], *num(r"Mean PPL\(Q\)\s*:\s*([0-9.]+)\s*±\s*([0-9.]+)")),
    ("Mean PPL(base)", q["ppl_base"]["mean"], q["ppl_base"]["err"], *num(r"Mean PPL\(base\)\s*:\s*([0-9.]+)\s*±\s*([0-9.]+)")),
    ("Mean KLD", q["kld"]["mean"], q["kld"]["err"], *num(r"Mean    KLD:\s*([0-9.]+)\s*±\s*([0-9.]+)")),
    ("99.0% KLD", q["kld_percentiles"]["99"], None, num(r"99\.0%   KLD:\s*([0-9.]+)()")[0], None),
    ("95.0% KLD", q["kld_percentiles"]["95"], None, num(r"95\.0%   KLD:\s*([0-9.]+)()")[0], None),
    ("90.0% KLD", q["kld_percentiles"]["90"], None, num(r"90\.0%   KLD:\s*([0-9.]+)()")[0], None),
    ("Median KLD", q["kld_percentiles"]["50"], None, num(r"Median  KLD:\s*([0-9.]+)()")[0], None),
    ("Mean Δp %", 100 * q["p_diff"]["mean"], 100 * q["p_diff"]["err"], *num(r"Mean    Δp:\s*(-?[0-9.]+)\s*±\s*([0-9.]+)")),
    ("RMS Δp %", 100 * q["p_diff_rms"]["mean"], 100 * q["p_diff_rms"]["err"], *num(r"RMS Δp    :\s*([0-9.]+)\s*±\s*([0-9.]+)")),
    ("Same top p %", 100 * q["same_top"]["mean"], 100 * q["same_top"]["err"], *num(r"Same top p:\s*([0-9.]+)\s*±\s*([0-9.]+)")),
]
f = lambda v, e: "-" if v is None else (f"{v:.6g}" + ("" if e is None else f" ± {e:.3g}"))  # noqa: E731
print(f"# KL-divergence mode side by side: {model.split('/')[-1]} against {base.split('/')[-1]}\n")
print(f"Text `{text}`, -c {ctx}, {chunks} chunks ({q['positions']} scored tokens), {threads} threads; each engine saved")
print("the base model's log-probs and compared the model against its own base file.")
print(f"qlm's KLD is over the base's top {json.load(open(f'{tmp}/qlm-kl.json'))['kl']['base_top_k']} tokens + one rest bucket (a lower bound of the full KLD;")
print("base file " + f"{int(qsize)/2**20:.1f} MiB); llama.cpp's over the whole vocabulary as uint16 log-probs, tokens above")
print(f"log-prob -16 (base file {int(lsize)/2**20:.1f} MiB).\n")
print("| statistic | qlm | llama.cpp |")
print("|---|---:|---:|")
for name, qv, qe, lv, le in rows:
    print(f"| {name} | {f(qv, qe)} | {f(lv, le)} |")
print(f"\nCommands:\n\n```\nqlm perplexity -m {base} -f {text} -c {ctx} --chunks {chunks} -t {threads} --save-logits BASE.kld\n"
      f"qlm perplexity -m {model} -f {text} -t {threads} --kl-base BASE.kld\n"
      f"llama-perplexity -m {base} -f {text} -c {ctx} --chunks {chunks} -t {threads} --kl-divergence-base BASE.dat\n"
      f"llama-perplexity -m {model} -f {text} -c {ctx} --chunks {chunks} -t {threads} --kl-divergence-base BASE.dat --kl-divergence\n```")
PY
cat "$OUT"
