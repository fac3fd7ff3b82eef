#!/usr/bin/env bash
# side_by_side_perplexity.sh [MODEL] [TEXT] — `qlm perplexity` and llama.cpp's
# `llama-perplexity` on the same model, text, context, chunks and threads, back
# to back, and a markdown table of PPL ± error, tokens/s (wall clock of the
# chunk loop for qlm; llama.cpp's own "prompt eval" rate) and wall time.
#
#   bench/side_by_side_perplexity.sh [models/gemma-3-270m-q4_k_m.gguf] [models/text/alice29.txt]
#
# Environment: CTX (512), CHUNKS (all: -1), THREADS (2), QLM (build/tools/qlm/qlm),
# LLAMA_PERPLEXITY (from bench/llama/build_llama_tools.sh, built on demand),
# OUT (bench/results/perplexity-<model>.md), LLAMA_ARGS (more options for
# llama-perplexity, e.g. --no-repack where its AMX repacking crashes).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/gemma-3-270m-q4_k_m.gguf}
TEXT=${2:-models/text/alice29.txt}
CTX=${CTX:-512}
CHUNKS=${CHUNKS:--1}
THREADS=${THREADS:-2}
export LLAMA_ARGS=${LLAMA_ARGS:-}
QLM=${QLM:-build/tools/qlm/qlm}
[ -f "$TEXT" ] || scripts/fetch_text.sh
if [ -z "${LLAMA_PERPLEXITY:-}" ]; then
  LLAMA_PERPLEXITY=$(bench/llama/build_llama_tools.sh | grep llama-perplexity)
fi
name=$(basename "$MODEL" .gguf)
OUT=${OUT:-bench/results/perplexity-$name.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

chunk_args=()
[ "$CHUNKS" != "-1" ] && chunk_args=(--chunks "$CHUNKS")

echo "qlm perplexity ..." >&2
t0=$(date +%s.%N)
"$QLM" perplexity -m "$MODEL" -f "$TEXT" -c "$CTX" "${chunk_args[@]}" -t "$THREADS" --json > "$tmp/qlm.json"
t1=$(date +%s.%N)
echo "llama-perplexity ..." >&2
# shellcheck disable=SC2086
"$LLAMA_PERPLEXITY" -m "$MODEL" -f "$TEXT" -c "$CTX" "${chunk_args[@]}" -t "$THREADS" ${LLAMA_ARGS:-} > "$tmp/llama.out" 2> "$tmp/llama.err"
t2=$(date +%s.%N)

python3 - "$tmp" "$t0" "$t1" "$t2" "$MODEL" "$TEXT" "$CTX" "$CHUNKS" "$THREADS" "$LLAMA_PERPLEXITY" > "$OUT" <<'PY'
import json, os, re, sys, hashlib, platform, subprocess
tmp, t0, t1, t2, model, text, ctx, chunks, threads, lp = sys.argv[1:]
q = json.load(open(f"{tmp}/qlm.json"))
err = open(f"{tmp}/llama.err").read() + open(f"{tmp}/llama.out").read()
m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", err)
ppl, ppl_err = float(m.group(1)), float(m.group(2))
m = re.search(r"calculating perplexity over (\d+) chunks, n_ctx=(\d+), batch_size=(\d+), n_seq=(\d+)", err)
l_chunks, l_batch, l_seq = int(m.group(1)), int(m.group(3)), int(m.group(4))
# llama.cpp's log lines carry a time stamp (minutes.seconds.ms.us): its chunk loop runs
# from "calculating perplexity" to "Final estimate", the span qlm's tokens/s covers.
def stamp_before(key):
    last = list(re.finditer(r"(\d+)\.(\d{2})\.(\d{3})\.(\d{3}) I ", err[:err.index(key)]))[-1]
    a, b, c, d = map(int, last.groups())
    return a * 60 + b + c / 1e3 + d / 1e6
l_loop = stamp_before("Final estimate") - stamp_before("calculating perplexity")
l_tokens = l_chunks * int(ctx)
l_tps = l_tokens / l_loop
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
sha = hashlib.sha256(open(text, "rb").read()).hexdigest()
diff = q["ppl"] - ppl
wq, wl = float(t1) - float(t0), float(t2) - float(t1)
print(f"# Perplexity side by side: {model.split('/')[-1]}\n")
print(f"Machine: {cpu}, {ncpu} cores (shared with other jobs); {threads} threads each, run back to back.")
print(f"Text: `{text}` ({q['text_bytes']} bytes after the trailing-newline strip, SHA-256 of the file {sha}),")
print(f"{q['n_tokens']} tokens; -c {ctx}, {q['chunks']} chunks, {q['scored_tokens']} scored tokens.\n")
print("| engine | PPL | ± | chunks | tokens/s | wall s |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| qlm perplexity (-b {q['n_batch']}) | {q['ppl']:.4f} | {q['ppl_err']:.5f} | {q['chunks']} | {q['stats']['tokens_per_s']:.1f} | {wq:.1f} |")
print(f"| llama-perplexity (-b {l_batch}, {l_seq} sequences per batch) | {ppl:.4f} | {ppl_err:.5f} | {l_chunks} | {l_tps:.1f} | {wl:.1f} |")
print(f"\nqlm − llama.cpp: {diff:+.4f} PPL = {diff / ppl_err:+.3f} × llama.cpp's ±"
      f" ({'within' if abs(diff) <= ppl_err else 'OUTSIDE'} it); throughput ratio {q['stats']['tokens_per_s'] / l_tps:.2f}x.")
print("\ntokens/s: all chunk tokens over the wall time of the chunk loop (forward passes and scoring), "
      f"both engines: qlm {q['seconds'] if 'seconds' in q else q['stats']['seconds']:.1f} s (forward "
      f"{q['stats']['eval_s']:.1f} s, scoring {q['stats']['score_s']:.1f} s), llama.cpp {l_loop:.1f} s for "
      f"{l_tokens} tokens (from its log's time stamps). Wall s includes loading and tokenizing.")
print(f"\nCommands:\n\n```\n{sys.argv[0] if False else 'build/tools/qlm/qlm'} perplexity -m {model} -f {text} -c {ctx}"
      f"{'' if chunks == '-1' else ' --chunks ' + chunks} -t {threads} --json\n"
      f"llama-perplexity -m {model} -f {text} -c {ctx}{'' if chunks == '-1' else ' --chunks ' + chunks} -t {threads}"
      f"{(' ' + os.environ['LLAMA_ARGS']) if os.environ.get('LLAMA_ARGS') else ''}\n```")
print(f"\nllama-perplexity: {lp} (bench/llama/build_llama_tools.sh: llama-cpp-python 0.3.36's vendored llama.cpp, "
      "Release, GGML_NATIVE=ON).")
PY
cat "$OUT"
