#!/usr/bin/env python3
"""side_by_side_batch.py -m MODEL [-t 2] [-p 128] [-n 128] [--seqs 1,8,16] [--runs 1]
                         [--llama-tools DIR] [--llama-configs default,no-repack] [--lock FILE] [--out PREFIX]

qlm bench batch and llama.cpp's llama-batched-bench (built by
bench/llama/build_llama_tools.sh [--bin], in /tmp) back to back on the same
model, threads, prompt and generation lengths; prints and writes
(PREFIX.txt / PREFIX.json) the curve and the ratios:
  PP tok/s (S*p prompt tokens), TG tok/s (aggregate decode), decode step ms,
  and each engine's step at S sequences over its own 1-sequence step.
Both run distinct prompts per sequence (llama-batched-bench without -pps).

llama-batched-bench runs in each of --llama-configs: `default` (its weights
repacked into the CPU_REPACK layouts where it has one for the type) and
`no-repack` (`--no-repack`); the better of them per sequence count and
measure is the anchor of each ratio (the table says which). With --runs N
the whole set (qlm, then each llama.cpp configuration) is run N times
alternated, and each side's best run per sequence count counts. With --lock
FILE each set is run holding flock(FILE), so other benches on a shared
machine never overlap with it; `uptime` is recorded before and after each.
"""
import argparse, fcntl, json, os, platform, re, subprocess, sys

LLAMA_CONFIGS = {"default": [], "no-repack": ["--no-repack"]}


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_qlm(qlm, a):
    out = subprocess.run([qlm, "bench", "batch", "-m", a.model, "--seqs", a.seqs, "-p", str(a.p), "-n", str(a.n),
                          "-t", str(a.t), "--json", *a.qlm_args.split()], check=True, capture_output=True, text=True)
    rows = {}
    for r in json.loads(out.stdout)["rows"]:
        rows[r["seqs"]] = {"pp": r["pp_tokens_per_s"], "tg": r["tg_tokens_per_s"], "step_ms": r["step_ms"]}
    return rows


def run_llama(bin_, a, extra):
    seqs = [int(s) for s in a.seqs.split(",")]
    ctx = max(seqs) * (a.p + a.n) + 64
    cmd = [bin_, "-m", a.model, "-c", str(ctx), "-b", "2048", "-ub", "512", "-npp", str(a.p),
           "-ntg", str(a.n), "-npl", a.seqs, "-t", str(a.t), "-tb", str(a.t), *extra, *a.llama_args.split()]
    env = dict(os.environ, **dict(kv.split("=", 1) for kv in a.llama_env.split()))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
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


def best(runs, s, key):
    """The best of a list of {seqs: row} runs at s by key (higher tok/s)."""
    have = [r[s] for r in runs if s in r]
    return max(have, key=lambda x: x[key]) if have else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("-p", type=int, default=128)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("--seqs", default="1,8,16")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--qlm", default="build/tools/qlm/qlm")
    ap.add_argument("--qlm-args", default="")
    ap.add_argument("--llama-tools", default="/tmp/llama-tools-bin" if os.path.exists(
        "/tmp/llama-tools-bin/bin/llama-batched-bench") else "/tmp/llama-tools")
    ap.add_argument("--llama-configs", default="default,no-repack",
                    help="llama-batched-bench configurations to run: default, no-repack (its AMX weight repacking "
                         "crashes on some Xeons in a build with AMX: SIGSEGV in ggml_backend_amx_mul_mat)")
    ap.add_argument("--llama-args", default="", help="more options for llama-batched-bench")
    ap.add_argument("--llama-env", default="", help="environment for llama-batched-bench only, e.g. "
                    "'OMP_WAIT_POLICY=passive' (on a machine shared with other work, ggml's OpenMP threads spinning "
                    "at the barriers lose whole scheduler slices; passive waiting is its better configuration there)")
    ap.add_argument("--lock", default=None, help="flock this file around each timed set")
    ap.add_argument("--label", default="")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    bb = os.path.join(a.llama_tools, "bin", "llama-batched-bench")
    if not os.path.exists(bb):
        sys.exit(f"{bb} not found: run bench/llama/build_llama_tools.sh first")
    configs = [c for c in a.llama_configs.split(",") if c]
    for c in configs:
        if c not in LLAMA_CONFIGS:
            sys.exit(f"unknown llama config {c!r} (known: {', '.join(LLAMA_CONFIGS)})")
    seqs = [int(s) for s in a.seqs.split(",")]

    qruns, lruns, loads = [], {c: [] for c in configs}, []
    for r in range(a.runs):
        lockf = open(a.lock, "w") if a.lock else None
        if lockf:
            print(f"waiting for {a.lock}", file=sys.stderr)
            fcntl.flock(lockf, fcntl.LOCK_EX)
        try:
            before = uptime()
            print(f"run {r + 1}/{a.runs}: qlm bench batch ...", file=sys.stderr)
            qruns.append(run_qlm(a.qlm, a))
            for c in configs:
                print(f"run {r + 1}/{a.runs}: llama-batched-bench ({c}) ...", file=sys.stderr)
                lruns[c].append(run_llama(bb, a, LLAMA_CONFIGS[c]))
            loads.append({"before": before, "after": uptime()})
        finally:
            if lockf:
                fcntl.flock(lockf, fcntl.LOCK_UN)
                lockf.close()

    ver = subprocess.run([bb, "--version"], capture_output=True, text=True)
    version = next((l.strip() for l in (ver.stdout + ver.stderr).splitlines() if l.startswith("version")), "?")
    vfile = os.path.join(a.llama_tools, "VERSION")
    if os.path.exists(vfile):
        version = f"{open(vfile).read().strip()} ({version})"
    lines = [f"model {os.path.basename(a.model)}{' (' + a.label + ')' if a.label else ''}, {a.t} threads, "
             f"CPU {cpu_model()} ({os.cpu_count()} cores), prompt {a.p}, generate {a.n} per sequence",
             f"llama.cpp llama-batched-bench {version} from {a.llama_tools}, configurations {', '.join(configs)}; "
             f"best of {a.runs} alternated run(s) per side{'; llama env ' + a.llama_env if a.llama_env else ''}",
             *[f"load, run {i + 1}: before {l['before']} | after {l['after']}" for i, l in enumerate(loads)],
             "machine shared with other engineers' builds and tests (load average above)",
             "",
             "| seqs | qlm PP tok/s | llama PP tok/s | PP ratio | qlm TG tok/s | llama TG tok/s | TG ratio | "
             "qlm step ms | llama step ms | qlm step(S)/step(1) | llama step(S)/step(1) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    q_best = {s: {"pp": best(qruns, s, "pp"), "tg": best(qruns, s, "tg")} for s in seqs}
    l_best = {}
    for s in seqs:
        cand = {k: [(best(lruns[c], s, k), c) for c in configs if best(lruns[c], s, k)] for k in ("pp", "tg")}
        if not cand["pp"] or not cand["tg"]:
            continue
        l_best[s] = {k: max(cand[k], key=lambda x: x[0][k]) for k in ("pp", "tg")}
    rows = []
    s1 = seqs[0]
    for s in seqs:
        if s not in l_best or not q_best[s]["tg"]:
            continue
        qp, qt = q_best[s]["pp"], q_best[s]["tg"]
        (lp, lpc), (lt, ltc) = l_best[s]["pp"], l_best[s]["tg"]
        qstep = qt["step_ms"] / q_best[s1]["tg"]["step_ms"]
        lstep = lt["step_ms"] / l_best[s1]["tg"][0]["step_ms"] if s1 in l_best else float("nan")
        row = {"seqs": s, "qlm_pp": qp["pp"], "llama_pp": lp["pp"], "llama_pp_config": lpc, "pp_ratio": qp["pp"] / lp["pp"],
               "qlm_tg": qt["tg"], "llama_tg": lt["tg"], "llama_tg_config": ltc, "tg_ratio": qt["tg"] / lt["tg"],
               "qlm_step_ms": qt["step_ms"], "llama_step_ms": lt["step_ms"], "qlm_step_over_1": qstep,
               "llama_step_over_1": lstep}
        rows.append(row)
        lines.append(f"| {s} | {qp['pp']:.1f} | {lp['pp']:.1f} ({lpc}) | {row['pp_ratio']:.2f}x | {qt['tg']:.1f} | "
                     f"{lt['tg']:.1f} ({ltc}) | **{row['tg_ratio']:.2f}x** | {qt['step_ms']:.2f} | {lt['step_ms']:.2f} | "
                     f"{qstep:.2f} | {lstep:.2f} |")
    lines += ["", "llama-batched-bench per configuration (best run): seqs: PP / TG tok/s"]
    for c in configs:
        lines.append(f"  {c}: " + ", ".join(f"{s}: {best(lruns[c], s, 'pp')['pp']:.1f} / {best(lruns[c], s, 'tg')['tg']:.1f}"
                                          for s in seqs if best(lruns[c], s, "tg")))
    text = "\n".join(lines)
    print(text)
    if a.out:
        open(a.out + ".txt", "w").write(text + "\n")
        json.dump({"model": a.model, "label": a.label, "threads": a.t, "cpu": cpu_model(), "prompt": a.p,
                   "gen": a.n, "llama_version": version, "llama_env": a.llama_env, "llama_configs": configs, "runs": a.runs, "loads": loads,
                   "rows": rows, "qlm_runs": qruns, "llama_runs": lruns}, open(a.out + ".json", "w"), indent=1)


if __name__ == "__main__":
    main()
