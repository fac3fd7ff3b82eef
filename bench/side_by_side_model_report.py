#!/usr/bin/env python3
"""side_by_side_model_report.py PREFIX.json — renders PREFIX.txt from the raw
record bench/side_by_side_model.sh writes (qlm bench model --json, llama-bench
-o json rows with --repack 1,0, uptime, optional bandwidth), and adds the
computed anchors and ratios to the JSON.

Two ratios per test: of the best samples (each side's fastest repetition:
on a machine shared with other work the slow repetitions measure the other
work; llama.cpp's spinning threads lose more to a busy core than qlm's pool
does, so the best sample is the fairer anchor) and of the means. The anchor
is llama.cpp's better configuration (default = repacked weights, or
--repack 0) by the same statistic.
"""
import json, os, statistics, sys


def main(path):
    res = json.load(open(path))
    q = res["qlm"]
    out = path[:-5] if path.endswith(".json") else path
    qs = {t: q[t]["runs"] for t in ("pp", "tg") if t in q}
    configs = {}
    if "rows" in res["llama"]:
        for r in res["llama"]["rows"]:
            cfg = "default (repack)" if r.get("repack", True) else "--repack 0"
            t = "pp" if r["n_prompt"] > 0 else "tg"
            configs.setdefault(cfg, {})[t] = r["samples_ts"]
        version = res["llama"].get("version") or "build " + str(res["llama"]["rows"][0].get("build_number"))
        engine = f"llama.cpp llama-bench ({version}), backend {res['llama']['rows'][0].get('backends')}"
    else:
        l = res["llama"]["default"]
        configs["default"] = {t: l[t]["runs"] for t in ("pp", "tg") if t in l}
        engine = l["engine"]
    env = res["llama"].get("env")
    lines = [f"CPU {res['cpu']}, {res['threads']} threads, model {os.path.basename(res['model'])}"
             f"{' (' + res['label'] + ')' if res.get('label') else ''}",
             f"qlm isa {q['isa']}; {engine}{'; llama env ' + env if env else ''}",
             f"load before the pair: {res['uptime_before']}", f"load after the pair:  {res['uptime_after']}",
             "machine shared with other engineers' builds and tests (load average above)",
             "cells: best repetition / mean of the repetitions, tok/s", "",
             "| test | qlm | " + " | ".join(f"llama.cpp {c}" for c in configs) +
             " | qlm / best llama.cpp (best samples) | (means) |",
             "|---|---|" + "---|" * len(configs) + "---|---|"]
    res["anchor"], res["ratios"], res["ratios_mean"] = {}, {}, {}
    for t in ("pp", "tg"):
        if t not in qs:
            continue
        cells = {c: configs[c].get(t) for c in configs}
        have = {c: v for c, v in cells.items() if v}
        if not have:
            continue
        qb, qm = max(qs[t]), statistics.mean(qs[t])
        lb, cb = max((max(v), c) for c, v in have.items())
        lm, cm = max((statistics.mean(v), c) for c, v in have.items())
        res["anchor"][t] = {"config": cb, "tokens_per_s": lb, "mean_config": cm, "mean_tokens_per_s": lm}
        res["ratios"][t] = qb / lb
        res["ratios_mean"][t] = qm / lm
        n = q[t]["tokens"]
        lines.append(f"| {t}{n} | {qb:.2f} / {qm:.2f} | " +
                     " | ".join(f"{max(v):.2f} / {statistics.mean(v):.2f}" if v else "-" for v in cells.values()) +
                     f" | **{qb / lb:.2f}x** (vs {cb}) | {qm / lm:.2f}x (vs {cm}) |")
    bw = res.get("bandwidth_raw")
    if bw and "tg" in qs:
        tb, gbps = bw["touched"], bw["read_bandwidth_gbps"]
        gb = tb["touched_bytes"] / 1e9
        qg = max(qs["tg"]) * gb
        res["bandwidth"] = {"read_bandwidth_gbps": gbps, "qlm_tg_gbps": qg, "qlm_pct": 100 * qg / gbps}
        lines += ["", f"decode weight traffic: {tb['touched_bytes'] / 1e6:.1f} MB touched per token "
                  f"({tb['dense_bytes'] / 1e6:.1f} MB dense incl. the LM head, {tb['expert_bytes_touched'] / 1e6:.1f} MB "
                  f"of {tb['expert_used_count']}/{tb['expert_count']} experts); read bandwidth {gbps:.2f} GB/s "
                  f"(qlm bench kernels' probe, right after the pair)",
                  f"  qlm tg (best): {qg:.2f} GB/s = {100 * qg / gbps:.1f}% of it"]
        if "tg" in res["anchor"]:
            lg = res["anchor"]["tg"]["tokens_per_s"] * gb
            res["bandwidth"].update({"llama_tg_gbps": lg, "llama_pct": 100 * lg / gbps})
            lines.append(f"  llama.cpp tg (best, {res['anchor']['tg']['config']}): {lg:.2f} GB/s = {100 * lg / gbps:.1f}% of it")
    txt = "\n".join(lines)
    print(txt)
    open(out + ".txt", "w").write(txt + "\n")
    json.dump(res, open(out + ".json", "w"), indent=1)
    print(f"wrote {out}.txt and .json", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
