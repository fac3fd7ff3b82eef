#!/usr/bin/env python3
"""side_by_side_batch.py -m MODEL [-t 2] [-p 128] [-n 128] [--seqs 1,2,4,8,16] [--out PREFIX]

qlm bench batch and llama.cpp's llama-batched-bench (built from the pinned
llama-cpp-python sdist by bench/llama/build_llama_tools.sh, in /tmp) back to
back on the same model, threads, prompt and generation lengths; prints and
writes (PREFIX.txt / PREFIX.json) the curve and the ratios:
  PP tok/s (S*p prompt tokens), TG tok/s (aggregate decode), decode step ms.
Both run distinct prompts per sequence (llama-batched-bench without -pps).
"""
import argparse, json, os, platform, re, subprocess, sys

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def run_qlm(qlm, a):
    out = subprocess.run([qlm, "bench", "batch", "-m", a.model, "--seqs", a.seqs, "-p", str(a.p), "-n", str(a.n),
                          "-t", str(a.t), "--json"], check=True, capture_output=True, text=True)
    rows = {}
    for r in json.loads(out.stdout)["rows"]:
        rows[r["seqs"]] = {"pp": r["pp_tokens_per_s"], "tg": r["tg_tokens_per_s"], "step_ms": r["step_ms"]}
    return rows

def run_llama(bin_, a):
    seqs = [int(s) for s in a.seqs.split(",")]
    ctx = max(seqs) * (a.p + a.n) + 64
    out = subprocess.run([bin_, "-m", a.model, "-c", str(ctx), "-b", "2048", "-ub", "512", "-npp", str(a.p),
                          "-ntg", str(a.n), "-npl", a.seqs, "-t", str(a.t), "-tb", str(a.t), *a.llama_args.split()],
                         check=True, capture_output=True, text=True)
    rows = {}
    # |    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |
    for line in out.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 10 and re.fullmatch(r"\d+", cells[0] or ""):
            b = int(cells[2])
            t_tg, s_tg = float(cells[6]), float(cells[7])
            rows[b] = {"pp": float(cells[5]), "tg": s_tg, "step_ms": 1e3 * t_tg / a.n}
    if not rows:
        sys.exit("could not read llama-batched-bench's table:\n" + out.stdout + out.stderr)
    return rows

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("-p", type=int, default=128)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--seqs", default="1,2,4,8,16")
    ap.add_argument("--qlm", default="build/tools/qlm/qlm")
    ap.add_argument("--llama-tools", default="/tmp/llama-tools")
    ap.add_argument("--out", default=None)
    ap.add_argument("--llama-args", default="", help="more options for llama-batched-bench, e.g. '--no-repack' "
                    "(its AMX weight repacking crashes on some Xeons: SIGSEGV in ggml_backend_amx_mul_mat)")
    a = ap.parse_args()
    bb = os.path.join(a.llama_tools, "bin", "llama-batched-bench")
    if not os.path.exists(bb):
        sys.exit(f"{bb} not found: run bench/llama/build_llama_tools.sh first")
    print(f"qlm bench batch ...", file=sys.stderr)
    q = run_qlm(a.qlm, a)
    print(f"llama-batched-bench ...", file=sys.stderr)
    l = run_llama(bb, a)
    seqs = [int(s) for s in a.seqs.split(",")]
    lines = [f"model {a.model}, {a.t} threads, CPU {cpu_model()} ({os.cpu_count()} cores), prompt {a.p}, generate {a.n}",
             "",
             "| seqs | qlm PP tok/s | llama PP tok/s | PP ratio | qlm TG tok/s | llama TG tok/s | TG ratio | qlm step ms | llama step ms | qlm step / 1-seq step |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    base = q[seqs[0]]["step_ms"]
    for s in seqs:
        qq, ll = q[s], l.get(s)
        if not ll:
            continue
        lines.append(f"| {s} | {qq['pp']:.1f} | {ll['pp']:.1f} | {qq['pp'] / ll['pp']:.2f}x | {qq['tg']:.1f} | {ll['tg']:.1f} | "
                     f"{qq['tg'] / ll['tg']:.2f}x | {qq['step_ms']:.2f} | {ll['step_ms']:.2f} | {qq['step_ms'] / base:.2f} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        open(a.out + ".txt", "w").write(text + "\n")
        json.dump({"model": a.model, "threads": a.t, "cpu": cpu_model(), "prompt": a.p, "gen": a.n,
                   "qlm": q, "llama": l}, open(a.out + ".json", "w"), indent=1)

if __name__ == "__main__":
    main()
