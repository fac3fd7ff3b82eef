#!/usr/bin/env python3
"""serve_load.py -m MODEL [-t 2] [--clients 1,2,4,8,16] [--requests-per-client 3] [-n 64] [--out PREFIX]
serve_load.py --router -m MODEL [--replicas 1,2,3] [--repeat 3] [--clients 6] [--requests-per-client 3] [-n 64] [--out PREFIX]

A load benchmark of OpenAI-compatible servers with the async `openai` client:
qlm serve and, in the same run, llama.cpp's llama-server (built from the
pinned llama-cpp-python sdist by bench/llama/build_llama_tools.sh in /tmp,
started with --parallel set to the concurrency). For each number of
concurrent clients C, each client sends its requests back to back (a new one
as soon as one ends), prompts of varied length, streaming completions of -n
tokens, greedy; measured: aggregate completion tokens/s over the wall time,
time to first token p50/p99, inter-token latency p50/p99. Only 127.0.0.1.

--router: N `qlm serve` replicas with one thread each behind `vllm-router`
(tests/requirements.txt; tests/server/replica_cluster.py starts both) for
each N of --replicas, round_robin, the same C clients: aggregate tokens/s and
TTFT/ITL; one replica without the router (what the router costs in TTFT);
then a prefix-heavy load (7 long shared prefixes, short questions) on the
largest N under round_robin and cache_aware, with the replicas' summed
vllm:prefix_cache_hits_total (fresh replicas for each policy).
"""
import argparse, asyncio, json, os, random, signal, socket, statistics, subprocess, sys, time, urllib.request

import openai

WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
         "they you were her she there been one all we their can has more will would if about when so no its into "
         "time only new some could these two may first then do any like my now over such our man me even most made "
         "after also did many before must through back years where much your way well down should because each just "
         "those people how too little state good very make world still own see men work long get here between both "
         "life being under never day same another know while last might us great old year off come since against go "
         "came right used take three").split()


def prompt_of(rng, n_words):
    return " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize()


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    k = min(len(v) - 1, max(0, int(round(p / 100 * (len(v) - 1)))))
    return v[k]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(url, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    sys.exit("server did not become healthy")


async def client_loop(client, rng, n_req, n_gen, out, prompts=None):
    for _ in range(n_req):
        prompt = prompts(rng) if prompts else prompt_of(rng, rng.randint(8, 120))
        t0 = time.perf_counter()
        times = []
        stream = await client.completions.create(model="m", prompt=prompt, max_tokens=n_gen, temperature=0,
                                                 stream=True)
        async for ch in stream:
            if ch.choices and ch.choices[0].text:
                times.append(time.perf_counter())
        out.append((t0, times))


async def run_load(url, clients, n_req, n_gen, seed, prompts=None):
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=600)
    out = []
    t0 = time.perf_counter()
    await asyncio.gather(*(client_loop(client, random.Random(seed + i), n_req, n_gen, out, prompts)
                           for i in range(clients)))
    wall = time.perf_counter() - t0
    await client.close()
    ttft = [ts[0] - s for s, ts in out if ts]
    itl = [b - a for _, ts in out for a, b in zip(ts, ts[1:])]
    # text chunks, not tokens: both servers send one chunk per token for these prompts
    tokens = sum(len(ts) for _, ts in out)
    return {"clients": clients, "requests": len(out), "chunks": tokens, "wall_s": wall, "tok_per_s": tokens / wall,
            "ttft_p50": pct(ttft, 50), "ttft_p99": pct(ttft, 99), "itl_p50": pct(itl, 50), "itl_p99": pct(itl, 99)}


def start(kind, a, clients, port):
    if kind == "qlm":
        args = [a.qlm, "serve", "-m", a.model, "--host", "127.0.0.1", "--port", str(port), "-t", str(a.t), "-c", "1024",
                "--parallel", str(max(clients, 1)), *a.qlm_args.split()]
    else:
        args = [os.path.join(a.llama_tools, "bin", "llama-server"), "-m", a.model, "--host", "127.0.0.1", "--port",
                str(port), "-t", str(a.t), "-np", str(clients), "-c", str(1024 * clients), "--no-webui",
                *a.llama_args.split()]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_seconds(pid):
    """utime + stime of a process (Linux /proc), in seconds."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def router_mode(a):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "server"))
    import tempfile
    import replica_cluster as rc
    logdir = tempfile.mkdtemp(prefix="serve-load-router-")
    rng0 = random.Random(5)
    prefixes = [prompt_of(rng0, 300) for _ in range(7)]

    def prefix_prompt(rng):
        return f"{rng.choice(prefixes)}\nQuestion {rng.randrange(10**6)}: {prompt_of(rng, 6)}?\nAnswer:"

    def hits(port):
        m = rc.scrape(port)
        return rc.value(m, "vllm:prefix_cache_hits_total" if "vllm:prefix_cache_hits_total" in m
                        else "qlm:prefix_cache_hit_tokens_total")

    def measure(label, n, policy, router, prompts):
        reps = [rc.Replica(a.qlm, a.model, logdir, f"r{n}-{policy}-{i}", ctx=1024, kv_events=False,
                           extra=a.qlm_args.split()) for i in range(n)]
        rt = None
        try:
            for r in reps:
                r.start()
            for r in reps:
                r.wait_ready(120, path="/health")
            path = "/ready" if rc.get(reps[0].port, "/ready")[0] in (200, 503) else "/health"
            rt = rc.Router(reps, logdir, policy, health_path=path).start() if router else None
            url = f"http://127.0.0.1:{rt.port if rt else reps[0].port}"
            asyncio.run(run_load(url, n, 1, 4, 999))  # warm-up, one request per replica
            h0 = [hits(r.port) if prompts else 0 for r in reps]
            load0 = os.getloadavg()[0]
            c0 = [cpu_seconds(r.proc.pid) for r in reps], cpu_seconds(rt.proc.pid) if rt else 0.0
            r = asyncio.run(run_load(url, a.clients, a.requests_per_client, a.n, 17, prompts))
            c1 = [cpu_seconds(x.proc.pid) for x in reps], cpu_seconds(rt.proc.pid) if rt else 0.0
            r["cpu_replicas_s"] = sum(c1[0]) - sum(c0[0])
            r["cpu_router_s"] = c1[1] - c0[1]
            r["loadavg_before"] = load0
            if prompts:
                r["prefix_hits"] = sum(hits(x.port) - h for x, h in zip(reps, h0))
        finally:
            if rt:
                rt.stop()
            for x in reps:
                x.stop(10)
        r.update(setup=label, replicas=n, policy=policy if router else "-")
        print(f"{label:36s}: {r['tok_per_s']:.1f} tok/s, ttft p50 {r['ttft_p50']:.3f} p99 {r['ttft_p99']:.3f} s, "
              f"itl p50 {1e3 * r['itl_p50']:.1f} p99 {1e3 * r['itl_p99']:.1f} ms, cpu {r['cpu_replicas_s']:.1f} + "
              f"{r['cpu_router_s']:.2f} s, load {load0:.1f}", file=sys.stderr)
        return r

    ns = [int(x) for x in a.replicas.split(",")]
    setups = [("1 replica, no router", 1, "round_robin", False, None)]
    setups += [(f"{n} replica{'s' if n > 1 else ''} + router", n, "round_robin", True, None) for n in ns]
    setups += [(f"prefix-heavy, {ns[-1]} replicas, {p}", ns[-1], p, True, prefix_prompt)
               for p in ("round_robin", "cache_aware")]
    runs = {s[0]: [] for s in setups}
    for _ in range(a.repeat):  # interleaved, so that the machine's other load spreads over all setups
        for s in setups:
            runs[s[0]].append(measure(*s))

    def med(label):
        rs = sorted(runs[label], key=lambda r: r["tok_per_s"])
        r = dict(rs[len(rs) // 2])
        r["tok_per_s_range"] = (rs[0]["tok_per_s"], rs[-1]["tok_per_s"])
        return r

    rows = [med(s[0]) for s in setups]
    up = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    lines = [f"model {a.model}, one thread per replica (-t 1), {a.clients} clients x {a.requests_per_client} "
             f"requests back to back, {a.n} tokens each, greedy, streaming; vllm-router round_robin unless said;",
             f"each setup run {a.repeat} times interleaved, the run of median tok/s shown (min-max in brackets);",
             "CPU s: utime+stime of the replicas + of the router during the load (from /proc).",
             f"The machine ({os.cpu_count()} CPUs) was shared with other engineers' jobs: load average before each run "
             f"in the last column; uptime at the end: {up}", "",
             "| setup | tok/s | x 1 replica | TTFT p50 s | TTFT p99 s | ITL p50 ms | ITL p99 ms | CPU s replicas + router "
             "| prefix-cache hit tokens | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    base = next(r["tok_per_s"] for r in rows if r["replicas"] == 1 and r["policy"] != "-")
    for r in rows:
        lo, hi = r["tok_per_s_range"]
        lines.append(f"| {r['setup']} | {r['tok_per_s']:.1f} [{lo:.0f}-{hi:.0f}] | {r['tok_per_s'] / base:.2f} | "
                     f"{r['ttft_p50']:.3f} | {r['ttft_p99']:.3f} | {1e3 * r['itl_p50']:.1f} | {1e3 * r['itl_p99']:.1f} | "
                     f"{r['cpu_replicas_s']:.1f} + {r['cpu_router_s']:.2f} | {r.get('prefix_hits', float('nan')):.0f} | "
                     f"{r['loadavg_before']:.1f} |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        open(a.out + ".txt", "w").write(text + "\n")
        json.dump(runs, open(a.out + ".json", "w"), indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("--clients", default="1,2,4,8,16")
    ap.add_argument("--requests-per-client", type=int, default=3)
    ap.add_argument("--qlm", default="build/tools/qlm/qlm")
    ap.add_argument("--llama-tools", default="/tmp/llama-tools")
    ap.add_argument("--qlm-args", default="", help="more options for qlm serve, e.g. '--decode-slowdown 0'")
    ap.add_argument("--llama-args", default="", help="more options for llama-server, e.g. '--no-repack' "
                    "(its AMX weight repacking crashes on some Xeons: SIGSEGV in ggml_backend_amx_mul_mat)")
    ap.add_argument("--only", choices=["qlm", "llama"], default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--router", action="store_true", help="replicas behind vllm-router (see the docstring)")
    ap.add_argument("--replicas", default="1,2,3")
    ap.add_argument("--repeat", type=int, default=3, help="--router: runs of each setup, interleaved")
    a = ap.parse_args()
    if a.router:
        if a.clients == "1,2,4,8,16":
            a.clients = "6"
        a.clients = int(a.clients)
        return router_mode(a)
    rows = []
    for c in [int(x) for x in a.clients.split(",")]:
        for kind in ("qlm", "llama"):
            if a.only and kind != a.only:
                continue
            port = free_port()
            p = start(kind, a, c, port)
            try:
                url = f"http://127.0.0.1:{port}"
                wait_health(url, p)
                time.sleep(2)
                asyncio.run(run_load(url, 1, 1, 4, 999))  # warm-up
                r = asyncio.run(run_load(url, c, a.requests_per_client, a.n, 17))
                r["server"] = kind
                rows.append(r)
                print(f"{kind:5s} clients {c:2d}: {r['tok_per_s']:.1f} tok/s, ttft p50 {r['ttft_p50']:.3f} p99 "
                      f"{r['ttft_p99']:.3f} s, itl p50 {1e3 * r['itl_p50']:.1f} p99 {1e3 * r['itl_p99']:.1f} ms",
                      file=sys.stderr)
            finally:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
    lines = [f"model {a.model}, {a.t} threads, {a.requests_per_client} requests per client back to back, "
             f"{a.n} tokens each, prompts of 8-120 words", "",
             "| clients | server | tok/s | TTFT p50 s | TTFT p99 s | ITL p50 ms | ITL p99 ms | ITL p99/p50 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['clients']} | {r['server']} | {r['tok_per_s']:.1f} | {r['ttft_p50']:.3f} | {r['ttft_p99']:.3f} | "
                     f"{1e3 * r['itl_p50']:.1f} | {1e3 * r['itl_p99']:.1f} | {r['itl_p99'] / r['itl_p50']:.2f} |")
    by = {(r["server"], r["clients"]): r for r in rows}
    lines += ["", "| clients | qlm / llama-server tok/s |", "|---|---|"]
    for c in sorted({r["clients"] for r in rows}):
        if ("qlm", c) in by and ("llama", c) in by:
            lines.append(f"| {c} | {by['qlm', c]['tok_per_s'] / by['llama', c]['tok_per_s']:.2f}x |")
    text = "\n".join(lines)
    print(text)
    if a.out:
        open(a.out + ".txt", "w").write(text + "\n")
        json.dump(rows, open(a.out + ".json", "w"), indent=1)


if __name__ == "__main__":
    main()
