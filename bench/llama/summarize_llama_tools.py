#!/usr/bin/env python3
"""summarize_llama_tools.py [RESULTS_DIR] — the markdown tables of the
side-by-side runs against llama.cpp's own tools (bench/side_by_side_model.sh
and bench/side_by_side_batch.py outputs named
llama-tools-{model,batch}-NAME-*.json), with the targets of issues 22 and 17.
"""
import glob, json, os, re, sys

D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "results")
MOE = ("qwen3", "gpt-oss")


def load(kind):
    out = {}
    for p in sorted(glob.glob(os.path.join(D, f"llama-tools-{kind}-*-2t.json"))):
        name = re.sub(rf"^llama-tools-{kind}-(.*)-intel-xeon-2t\.json$", r"\1", os.path.basename(p))
        out[name] = json.load(open(p))
    return out


def la(s):
    return s.split("load average:")[1].strip() if "load average:" in s else s


model, batch = load("model"), load("batch")
names = list(dict.fromkeys(list(model) + list(batch)))
print("### pp512 / tg128 (`qlm bench model` vs `llama-bench`, best repetition of each side)\n")
print("| model | pp512 qlm | pp512 llama.cpp (config) | pp ratio | tg128 qlm | tg128 llama.cpp (config) | tg ratio | ratios of means pp / tg | load before / after |")
print("|---|---|---|---|---|---|---|---|---|")
for n in names:
    if n not in model:
        continue
    d = model[n]; q = d["qlm"]; a = d["anchor"]; r = d["ratios"]; rm = d["ratios_mean"]
    print(f"| {n} | {max(q['pp']['runs']):.1f} | {a['pp']['tokens_per_s']:.1f} ({a['pp']['config']}) | **{r['pp']:.2f}x** | "
          f"{max(q['tg']['runs']):.2f} | {a['tg']['tokens_per_s']:.2f} ({a['tg']['config']}) | **{r['tg']:.2f}x** | "
          f"{rm['pp']:.2f}x / {rm['tg']:.2f}x | {la(d['uptime_before'])} / {la(d['uptime_after'])} |")
print("\n### Decode weight traffic (tg, best repetition) against the read bandwidth\n")
print("| model | MB touched / token (dense + experts) | read bandwidth GB/s | qlm GB/s (% bw) | llama.cpp GB/s (% bw) |")
print("|---|---|---|---|---|")
for n in names:
    b = model.get(n, {}).get("bandwidth")
    if not b:
        continue
    t = model[n]["bandwidth_raw"]["touched"]
    print(f"| {n} | {t['touched_bytes'] / 1e6:.0f} ({t['dense_bytes'] / 1e6:.0f} + {t['expert_bytes_touched'] / 1e6:.0f}) | "
          f"{b['read_bandwidth_gbps']:.1f} | {b['qlm_tg_gbps']:.2f} ({b['qlm_pct']:.0f}%) | {b['llama_tg_gbps']:.2f} ({b['llama_pct']:.0f}%) |")
print("\n### Parallel sequences (`qlm bench batch` vs `llama-batched-bench`)\n")
print("| model | prompt/gen | seqs | TG qlm tok/s | TG llama.cpp (config) | TG ratio | PP ratio | step(S)/step(1) qlm | llama.cpp |")
print("|---|---|---|---|---|---|---|---|---|")
for n in names:
    if n not in batch:
        continue
    d = batch[n]
    for r in d["rows"]:
        print(f"| {n} | {d['prompt']}/{d['gen']} | {r['seqs']} | {r['qlm_tg']:.1f} | {r['llama_tg']:.1f} ({r['llama_tg_config']}) | "
              f"**{r['tg_ratio']:.2f}x** | {r['pp_ratio']:.2f}x | {r['qlm_step_over_1']:.2f} | {r['llama_step_over_1']:.2f} |")
print("\n### Targets\n")
print("| issue | target | model | measured | met? |")
print("|---|---|---|---|---|")


def row(issue, target, n, val, ok):
    print(f"| {issue} | {target} | {n} | {val} | {'met' if ok else '**not met**'} |")


for n in names:
    moe = any(m in n for m in MOE)
    d = model.get(n)
    b = batch.get(n)
    rows = {r["seqs"]: r for r in b["rows"]} if b else {}
    if d:
        if not moe:
            row(22, "pp512 >= 5x", n, f"{d['ratios']['pp']:.2f}x", d["ratios"]["pp"] >= 5)
            row(22, "tg128 >= 1.6x", n, f"{d['ratios']['tg']:.2f}x", d["ratios"]["tg"] >= 1.6)
        else:
            row(17, "pp512 >= 3x", n, f"{d['ratios']['pp']:.2f}x", d["ratios"]["pp"] >= 3)
            row(17, "1-seq decode >= 1.2x", n, f"{d['ratios']['tg']:.2f}x", d["ratios"]["tg"] >= 1.2)
            if d.get("bandwidth"):
                row(17, "1-seq decode >= 85% of bw over touched weights", n, f"{d['bandwidth']['qlm_pct']:.0f}%",
                    d["bandwidth"]["qlm_pct"] >= 85)
    for s in (8, 16):
        if s in rows and (not moe or s == 8):
            row(17 if moe else 22, f"decode {s} seqs >= 2x", n, f"{rows[s]['tg_ratio']:.2f}x", rows[s]["tg_ratio"] >= 2)
    if 16 in rows and not moe:
        row(22, "step(16) <= 2x step(1)", n, f"{rows[16]['qlm_step_over_1']:.2f}", rows[16]["qlm_step_over_1"] <= 2)
