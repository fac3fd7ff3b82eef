"""Three `qlm serve` replicas behind `vllm-router` (issue 20), on 127.0.0.1 only.

The model is tests/server/make_replica_model.py's: random weights, 2 layers,
n_embd 64, with the real Qwen2 tokenizer and Qwen2.5's chat template, so one
thread per replica answers in milliseconds. The router (the Rust router of
the pinned `vllm-router` wheel) health-checks each replica's /ready every
second. Checked here:

- contract: every vllm: metric a gateway reads, with its type and a
  model_name label, parsed by prometheus_client; the counters move by what
  the answers' usage says; kv_cache_usage_perc in [0, 1], above 0 under load,
  0 when idle; /health and /ready;
- render: /v1/completions/render and /v1/chat/completions/render give the
  tokens the engine prefills (usage.prompt_tokens), the chat prompt as jinja2
  renders the template;
- load: streaming and non-streaming greedy requests with shared system
  prompts from several clients through the router all complete, every
  replica serves some, and each answer equals the one replica 0 gives alone;
- KV events: per replica sequence numbers up by one per message, BlockStored
  chains whose token_ids re-assemble every prompt's full blocks as /render
  tokenizes it, removals only of stored blocks, AllBlocksCleared after a restart;
- drain: SIGTERM to one replica under load: /ready 503 at once, a new request
  503 with Retry-After, every request through the router completes with its
  finish reason (and [DONE]), the replica exits 0 within --drain-timeout;
  past the drain timeout a stream ends with an error; a second SIGTERM exits at once; an idle
  keep-alive connection does not hold the exit;
- saturation: with --parallel 1, num_requests_waiting counts the queued requests and the
  queue-time histogram their wait;
- crash: SIGKILL to one replica under load: non-streaming requests succeed
  (the router retries), cut streams lack [DONE] and succeed on one client
  retry, nothing else is lost, the restarted replica serves again;
- affinity: one prefix-heavy load under round_robin and cache_aware (the router's text tree):
  the summed vllm:prefix_cache_hits_total is clearly higher under cache_aware, and every greedy
  answer is the same under both (prefix from the cache or prefilled, other batches); and under
  kv_aware, where the router indexes our KV events (decoded without a warning) and hashes the
  tokens of our /v1/completions/render: clearly higher too;
- /metrics: the model_name label escapes quotes, backslashes and newlines.

Features the server lacks fail here by name (never a silent skip).
"""
from __future__ import annotations

import http.client
import json
import os
import platform
import random
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import replica_cluster as rc  # noqa: E402
from replica_cluster import ALIAS, BLOCK, KvSubscriber, Replica, Router  # noqa: E402

QLM = os.environ.get("QLM_BIN")
VOCAB_DIR = REPO / "models" / "vocab"
TEMPLATE = REPO / "models" / "templates" / "Qwen-Qwen2.5-7B-Instruct.jinja"
EOS_BAN = {"151643": -100, "151645": -100}  # <|endoftext|>, <|im_end|>: long answers stay long

if not QLM:
    pytest.skip("QLM_BIN missing (run through ctest): SKIPPED", allow_module_level=True)
if not (VOCAB_DIR / "ggml-vocab-qwen2.gguf").exists() or not TEMPLATE.exists():
    pytest.skip(f"{VOCAB_DIR}/ggml-vocab-qwen2.gguf or {TEMPLATE} missing (make vocabs templates): SKIPPED",
                allow_module_level=True)

if not rc.ROUTER_BIN.exists() and platform.machine() != "x86_64":
    pytest.skip(f"vllm-router 0.1.17 has no wheel for {platform.machine()} (tests/requirements.txt): SKIPPED",
                allow_module_level=True)

N_REPLICAS = 3
DRAIN_S = 20

# name -> type of the model-server protocol the gateways read (llm-d / GIE, vLLM's names)
CONTRACT = {
    "vllm:num_requests_waiting": "gauge",
    "vllm:num_requests_running": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:cache_config_info": "gauge",
    "vllm:prefix_cache_queries_total": "counter",
    "vllm:prefix_cache_hits_total": "counter",
    "vllm:prompt_tokens_total": "counter",
    "vllm:generation_tokens_total": "counter",
    "vllm:request_success_total": "counter",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:inter_token_latency_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:request_queue_time_seconds": "histogram",
}


def need_flag(flag):
    if not rc.has_flag(QLM, flag):
        pytest.fail(f"qlm serve has no {flag} option (issue 20)")


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def logdir(tmp_path_factory):
    return tmp_path_factory.mktemp("replica-logs")


@pytest.fixture(scope="session")
def model(tmp_path_factory):
    import make_replica_model
    out = tmp_path_factory.mktemp("replica-model") / "tiny-qwen2-replica.gguf"
    make_replica_model.build(out, VOCAB_DIR, TEMPLATE)
    return out


@pytest.fixture(scope="session", autouse=True)
def _cleanup():
    yield
    rc.kill_all()


def ready_path(replica):
    """/ready where the server has it; the contract test fails without it."""
    try:
        st = rc.get(replica.port, "/ready")[0]
    except OSError:
        st = None
    return "/ready" if st in (200, 503) else "/health"


@pytest.fixture(scope="module")
def cluster(model, logdir):
    reps = [Replica(QLM, model, logdir, f"replica{i}", ctx=2048, drain_timeout=DRAIN_S) for i in range(N_REPLICAS)]
    router = None
    try:
        for r in reps:
            r.start()
        for r in reps:
            r.wait_ready(path="/health")
        path = ready_path(reps[0])
        for r in reps:
            r.wait_ready(path=path)
        router = Router(reps, logdir, "round_robin", health_path=path).start()
        yield reps, router
    finally:
        if router:
            router.stop()
        for r in reps:
            r.stop(5)


def restart(rep, router=None, timeout=60):
    rep.start()
    rep.wait_ready(timeout, path="/health")
    rep.wait_ready(timeout, path=ready_path(rep))
    if router:
        router.wait_healthy([rep.url])


# ---------------------------------------------------------------- requests

SYSTEMS = [
    "You are a careful assistant for a shipping company. Answer in one short sentence, cite the policy "
    "number when you can, and never promise delivery dates that the tracking system has not confirmed.",
    "You are a terse code reviewer. Point out the single most important bug in the snippet the user "
    "gives, name the line, and suggest a fix in at most twenty words; ignore style and naming questions.",
    "You are a museum guide for children aged eight to ten. Use simple words, one fun fact per answer, "
    "and end with a question that invites the child to look closely at the object in front of them.",
]
QUESTIONS = ["Where is my parcel?", "What does line 3 do?", "Why is the vase blue?", "How old is this?"]


def request_set(rng=None, max_tokens=12):
    """Chat and completion requests with shared system prompts (prefixes)."""
    reqs = []
    for s in SYSTEMS:
        for q in QUESTIONS:
            reqs.append({"path": "/v1/chat/completions", "body": {
                "model": ALIAS, "temperature": 0, "max_tokens": max_tokens,
                "messages": [{"role": "system", "content": s}, {"role": "user", "content": q}]}})
            reqs.append({"path": "/v1/completions", "body": {
                "model": ALIAS, "temperature": 0, "max_tokens": max_tokens, "prompt": f"{s}\nQ: {q}\nA:"}})
    return reqs


def run_clients(port, jobs, n_clients, retry_cut=False):
    """Sends jobs (dicts path/body/stream) from n_clients threads; returns [(job, result, retry)]."""
    out, lock = [], threading.Lock()
    it = iter(list(enumerate(jobs)))

    def worker():
        while True:
            with lock:
                nxt = next(it, None)
            if nxt is None:
                return
            i, job = nxt
            r = rc.send(port, job)
            again = None
            if retry_cut and not r.complete:
                again = rc.send(port, job)
            with lock:
                out.append((i, job, r, again))

    ts = [threading.Thread(target=worker) for _ in range(n_clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sorted(out, key=lambda x: x[0])


class Load:
    """Clients sending long requests through `port` until stopped, streaming and not, one client
    retrying once what did not complete when retry_cut."""

    def __init__(self, port, n_clients=6, max_tokens=160, retry_cut=False, seed=1, stream_every=3):
        self.port, self.max_tokens, self.retry_cut, self.stream_every = port, max_tokens, retry_cut, stream_every
        self.results, self.lock = [], threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(i, random.Random(seed * 100 + i)))
                        for i in range(n_clients)]
        for t in self.threads:
            t.start()

    def _client(self, i, rng):
        k = 0
        while not self.stop_ev.is_set():
            s = SYSTEMS[rng.randrange(len(SYSTEMS))]
            body = {"model": ALIAS, "temperature": 0, "max_tokens": self.max_tokens, "logit_bias": EOS_BAN,
                    "prompt": f"{s}\nQ: question {i}.{k}\nA:"}
            job = {"path": "/v1/completions", "body": body, "stream": (i + k) % self.stream_every != 0}
            t0 = time.time()
            r = rc.send(self.port, job)
            again = rc.send(self.port, job) if self.retry_cut and not r.complete else None
            with self.lock:
                self.results.append((job, t0, r, again))
            k += 1

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(120)
        assert not any(t.is_alive() for t in self.threads), "a load client hangs"
        return self.results


def describe(r):
    return (f"status {r.status} done {r.done} finish {r.finish_reason} error {r.error!r:.300} "
            f"body {r.body[:300]!r}")


def wait_running(rep, timeout=10):
    """Waits until rep has a sequence in flight (its own qlm: gauge)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = rc.scrape(rep.port)
        if rc.value(m, "qlm:num_requests_running") > 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"{rep.name} got no request within {timeout} s")


def wait_idle(rep, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = rc.scrape(rep.port)
        if rc.value(m, "qlm:num_requests_running") == 0 and rc.value(m, "qlm:num_requests_waiting") == 0 \
                and rc.value(m, "qlm:kv_cache_blocks_used") == 0:
            return m
        time.sleep(0.05)
    raise AssertionError(f"{rep.name} not idle within {timeout} s")


def served(reps):
    out = []
    for r in reps:
        m = rc.scrape(r.port)
        out.append(rc.value(m, "qlm:requests_started_total"))
    return out


# ---------------------------------------------------------------- contract

def check_contract(m, name):
    missing = [k for k in CONTRACT if k not in m]
    assert not missing, f"{name}: metrics missing: {missing}"
    for k, typ in CONTRACT.items():
        got, samples = m[k]
        assert got == typ, f"{name}: {k} is a {got}, want {typ}"
        assert samples, f"{name}: {k} has no sample"
        for sname, lab, _ in samples:
            if sname.endswith("_created"):
                continue
            if k != "vllm:cache_config_info":
                assert lab.get("model_name") == ALIAS, f"{name}: {sname}{lab}: model_name label must be {ALIAS!r}"
    (_, lab, v), = [s for s in m["vllm:cache_config_info"][1] if not s[0].endswith("_created")]
    assert v == 1, f"{name}: vllm:cache_config_info is {v}, want 1"
    assert lab.get("block_size") == str(BLOCK), f"{name}: cache_config_info block_size {lab.get('block_size')}"
    assert lab.get("num_gpu_blocks", "").isdigit() and int(lab["num_gpu_blocks"]) > 0, \
        f"{name}: cache_config_info num_gpu_blocks {lab.get('num_gpu_blocks')!r}"
    for sname, lab, _ in m["vllm:request_success_total"][1]:
        if sname.endswith("_total"):
            assert "finished_reason" in lab, f"{name}: {sname}{lab} without a finished_reason label"
    for h in (k for k, t in CONTRACT.items() if t == "histogram"):
        inf = rc.value(m, h, "_bucket", le="+Inf")
        assert inf == rc.value(m, h, "_count"), f"{name}: {h} +Inf bucket != _count"
    u = rc.value(m, "vllm:kv_cache_usage_perc")
    assert 0.0 <= u <= 1.0, f"{name}: kv_cache_usage_perc {u} outside [0, 1]"


def test_contract(cluster):
    reps, _ = cluster
    for r in reps:
        assert rc.get(r.port, "/health")[0] == 200, f"{r.name}: /health"
        st = rc.get(r.port, "/ready")[0]
        assert st == 200, f"{r.name}: GET /ready is {st}, want 200 when loaded and not draining (issue 20)"
        m = wait_idle(r)
        check_contract(m, r.name)
        assert rc.value(m, "vllm:kv_cache_usage_perc") == 0, f"{r.name}: kv_cache_usage_perc not 0 when idle"
        assert rc.value(m, "vllm:num_requests_running") == 0 and rc.value(m, "vllm:num_requests_waiting") == 0

    # Counters move by what the answers report (on replica 0, directly).
    r = reps[0]
    before = rc.scrape(r.port)
    long_prompt = " ".join(SYSTEMS) + " Summarise."
    jobs = [{"path": "/v1/completions", "stream": s, "body": {"model": ALIAS, "temperature": 0, "max_tokens": 9,
                                                               "prompt": long_prompt, "logit_bias": EOS_BAN}}
            for s in (False, True, False)]
    jobs.append({"path": "/v1/chat/completions", "stream": False, "body": {
        "model": ALIAS, "temperature": 0, "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}})
    res = []
    for j in jobs:  # one at a time: the second and third find the first's blocks cached
        body = dict(j["body"])
        if j["stream"]:
            body["stream_options"] = {"include_usage": True}
        x = rc.send(r.port, {**j, "body": body})
        assert x.complete, describe(x)
        res.append(x)
    usage = [x.usage for x in res]
    assert all(usage), "every answer reports usage"
    after = wait_idle(r)
    d = lambda k, suf="", **lab: rc.value(after, k, suf, **lab) - rc.value(before, k, suf, **lab)  # noqa: E731
    n_prompt = sum(u["prompt_tokens"] for u in usage)
    n_gen = sum(u["completion_tokens"] for u in usage)
    cached = sum((u.get("prompt_tokens_details") or {}).get("cached_tokens", 0) for u in usage)
    assert cached >= 2 * BLOCK * ((usage[0]["prompt_tokens"] - 1) // BLOCK) - 2 * BLOCK, \
        f"the repeated prompt should come from the prefix cache: cached_tokens {cached}"
    assert d("vllm:prompt_tokens_total") == n_prompt, "vllm:prompt_tokens_total moves by usage.prompt_tokens"
    assert d("vllm:generation_tokens_total") == n_gen, "vllm:generation_tokens_total moves by completion_tokens"
    assert d("vllm:prefix_cache_queries_total") == n_prompt, "prefix_cache_queries_total: prompt tokens queried"
    assert d("vllm:prefix_cache_hits_total") == cached, "prefix_cache_hits_total moves by cached_tokens"
    assert d("vllm:request_success_total") == len(jobs)
    assert d("vllm:request_success_total", finished_reason="length") == len(jobs) - (
        res[-1].finish_reason != "length"), "request_success_total{finished_reason} counts each reason"
    for h in ("vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds",
              "vllm:request_queue_time_seconds"):
        assert d(h, "_count") == len(jobs), f"{h}: one observation per request"
    assert d("vllm:inter_token_latency_seconds", "_count") == sum(u["completion_tokens"] - 1 for u in usage), \
        "inter_token_latency_seconds: one observation per token after the first"
    check_contract(after, r.name)

    # Under load the usage is in (0, 1]; idle again, 0.
    seen, running = [], []
    load = Load(r.port, n_clients=4, max_tokens=200)
    try:
        t_end = time.time() + 1.5
        while time.time() < t_end:
            m = rc.scrape(r.port)
            seen.append(rc.value(m, "vllm:kv_cache_usage_perc"))
            running.append(rc.value(m, "vllm:num_requests_running"))
            time.sleep(0.02)
    finally:
        results = load.stop()
    assert all(x[2].complete for x in results), [describe(x[2]) for x in results if not x[2].complete][:3]
    assert all(0.0 <= u <= 1.0 for u in seen), f"kv_cache_usage_perc outside [0, 1]: {sorted(seen)[-3:]}"
    assert max(seen) > 0, "kv_cache_usage_perc stayed 0 with 4 sequences running"
    assert max(running) > 0, "vllm:num_requests_running stayed 0 under load"
    m = wait_idle(r)
    assert rc.value(m, "vllm:kv_cache_usage_perc") == 0, "kv_cache_usage_perc back to 0 when idle"
    print(f"\n[contract] kv_cache_usage_perc under load max {max(seen):.4f}; counters = usage over {len(jobs)} "
          f"requests ({n_prompt} prompt, {cached} cached, {n_gen} generated tokens)")


# ---------------------------------------------------------------- render

def test_render(cluster):
    import jinja2
    reps, router = cluster
    port = reps[1].port
    prompts = ["The capital of France is", SYSTEMS[0]]
    st, _, js, raw = rc.post_json(port, "/v1/completions/render", {"model": ALIAS, "prompt": prompts})
    assert st == 200, f"POST /v1/completions/render: {st} {raw[:300]!r} (issue 20)"
    assert isinstance(js, list) and len(js) == 2, f"render of two prompts: {js!r:.300}"
    for p, item in zip(prompts, js):
        assert item["prompt"] == p
        x = rc.complete(port, "/v1/completions", {"model": ALIAS, "prompt": p, "max_tokens": 1, "temperature": 0})
        assert x.complete, describe(x)
        assert len(item["token_ids"]) == x.usage["prompt_tokens"], "render = the tokens the engine prefills"
        st, _, tk, _ = rc.post_json(port, "/tokenize", {"content": p})
        assert st == 200 and tk["tokens"] == item["token_ids"]
    st, _, one, _ = rc.post_json(port, "/v1/completions/render", {"model": ALIAS, "prompt": prompts[1]})
    assert st == 200 and one == js[1:], "a string prompt renders as a list of one"
    ids = js[0]["token_ids"]
    st, _, again, _ = rc.post_json(port, "/v1/completions/render", {"model": ALIAS, "prompt": ids})
    assert st == 200 and again[0]["token_ids"] == ids and again[0]["prompt"] == prompts[0], \
        f"token-id prompt: {again!r:.300}"
    # through the router too (a prefix-aware router calls it there)
    st, _, via, _ = rc.post_json(router.port, "/v1/completions/render", {"model": ALIAS, "prompt": prompts})
    assert (st, via) == (200, js), f"render through the router: {st} {via!r:.200}"

    # chat: the prompt as jinja2 renders the model's template (HF's environment)
    msgs = [{"role": "system", "content": SYSTEMS[2]}, {"role": "user", "content": "Why is the sky blue?"}]
    st, _, cr, raw = rc.post_json(port, "/v1/chat/completions/render", {"model": ALIAS, "messages": msgs})
    assert st == 200, f"POST /v1/chat/completions/render: {st} {raw[:300]!r} (issue 20)"
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    want = env.from_string(TEMPLATE.read_text()).render(messages=msgs, add_generation_prompt=True, tools=None)
    assert cr["prompt"] == want
    x = rc.complete(port, "/v1/chat/completions", {"model": ALIAS, "messages": msgs, "max_tokens": 1,
                                                   "temperature": 0})
    assert x.complete and len(cr["token_ids"]) == x.usage["prompt_tokens"]
    st, _, tk, _ = rc.post_json(port, "/v1/completions/render", {"model": ALIAS, "prompt": want})
    assert st == 200 and tk[0]["token_ids"] == cr["token_ids"], \
        "the rendered chat prompt tokenizes (special tokens parsed) to the chat render's tokens"
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                               "parameters": {"type": "object", "properties": {
                                                   "city": {"type": "string"}}, "required": ["city"]}}}]
    st, _, ct, raw = rc.post_json(port, "/v1/chat/completions/render",
                                  {"model": ALIAS, "messages": msgs[1:], "tools": tools})
    assert st == 200, f"chat render with tools: {st} {raw[:300]!r}"
    assert "<tools>" in ct["prompt"] and "get_weather" in ct["prompt"]
    x = rc.complete(port, "/v1/chat/completions", {"model": ALIAS, "messages": msgs[1:], "tools": tools,
                                                   "max_tokens": 1, "temperature": 0})
    assert x.status == 200 and len(ct["token_ids"]) == x.usage["prompt_tokens"], describe(x)


# ---------------------------------------------------------------- load + greedy

def test_load_and_greedy_equal_one_replica(cluster):
    reps, router = cluster
    reqs = request_set()
    # references: replica 0 alone, one request at a time
    ref = []
    for q in reqs:
        x = rc.send(reps[0].port, {**q, "stream": False})
        assert x.complete, describe(x)
        ref.append(x.text)
    before = served(reps)
    jobs = [{**q, "stream": s, "ref": i} for i, q in enumerate(reqs) for s in (True, False)]
    random.Random(3).shuffle(jobs)
    t0 = time.time()
    out = run_clients(router.port, jobs, n_clients=6)
    wall = time.time() - t0
    after = served(reps)
    bad = [(j["path"], j["stream"], describe(r)) for _, j, r, _ in out if not r.complete]
    assert not bad, f"{len(bad)} of {len(out)} requests through the router did not complete: {bad[:3]}"
    assert len(out) == len(jobs)
    per = [a - b for a, b in zip(after, before)]
    assert all(n > 0 for n in per), f"every replica serves some: {per}"
    diff = [(j["path"], j["stream"], j["body"].get("prompt") or j["body"]["messages"][-1]["content"], r.text,
             ref[j["ref"]]) for _, j, r, _ in out if r.text != ref[j["ref"]]]
    assert not diff, f"{len(diff)} greedy answers through the router differ from replica 0 alone: {diff[:2]}"
    print(f"\n[load] {len(out)} requests ({sum(j['stream'] for j in jobs)} streamed) from 6 clients in "
          f"{wall:.2f} s, per replica {per}; all equal to replica 0 alone")


# ---------------------------------------------------------------- KV events

def chains(events):
    """block hash -> (parent, tokens) from BlockStored events; checks their shapes."""
    blocks, removed, cleared = {}, [], 0
    for ev in events:
        assert isinstance(ev, list) and ev and isinstance(ev[0], str), f"event {ev!r:.200}: want [tag, ...]"
        tag = ev[0]
        if tag == "BlockStored":
            assert len(ev) >= 7, f"BlockStored {ev!r:.200}: want [tag, hashes, parent, token_ids, block_size, lora_id, medium]"
            hashes, parent, toks, bs, lora, medium = ev[1:7]
            assert bs == BLOCK, f"BlockStored block_size {bs}"
            assert isinstance(hashes, list) and hashes and all(isinstance(h, int) and h >= 0 for h in hashes)
            assert parent is None or isinstance(parent, int)
            assert len(toks) == BLOCK * len(hashes), f"BlockStored: {len(toks)} tokens for {len(hashes)} blocks"
            assert lora is None and (medium is None or isinstance(medium, str))
            for k, h in enumerate(hashes):
                blocks[h] = (parent if k == 0 else hashes[k - 1], list(toks[BLOCK * k:BLOCK * (k + 1)]))
        elif tag == "BlockRemoved":
            assert len(ev) >= 2 and isinstance(ev[1], list), f"BlockRemoved {ev!r:.200}"
            removed.extend(ev[1])
        elif tag == "AllBlocksCleared":
            cleared += 1
        else:
            raise AssertionError(f"unknown KV event {tag!r}")
    return blocks, removed, cleared


def covers(blocks, ids):
    """Does a chain of stored blocks from the root spell the full blocks of ids?"""
    by_parent = {}
    for h, (p, toks) in blocks.items():
        by_parent.setdefault(p, []).append((h, toks))
    parent = None
    for k in range(len(ids) // BLOCK):
        want = ids[BLOCK * k:BLOCK * (k + 1)]
        nxt = [h for h, toks in by_parent.get(parent, []) if toks == want]
        if not nxt:
            return k
        parent = nxt[0]
    return len(ids) // BLOCK


def test_kv_events(cluster):
    need_flag("--kv-events-endpoint")
    reps, router = cluster
    sub = KvSubscriber({i: r.kv_endpoint for i, r in enumerate(reps)})
    try:
        time.sleep(0.3)  # the SUB sockets connect (a PUB drops what nobody receives)
        # three fresh shared prefixes (a nonce first: nothing of them is cached yet), 9 prompts
        rng = random.Random()
        nonce = rng.randrange(10**9)
        prompts = [f"Ticket {nonce}-{i % 3}: {SYSTEMS[i % 3]} {SYSTEMS[(i + 1) % 3]}\nQ: case {rng.randrange(10**6)}\nA:"
                   for i in range(9)]
        jobs = [{"path": "/v1/completions", "stream": i % 2 == 0,
                 "body": {"model": ALIAS, "prompt": p, "max_tokens": 8, "temperature": 0}}
                for i, p in enumerate(prompts)]
        out = run_clients(router.port, jobs, n_clients=3)
        assert all(r.complete for _, _, r, _ in out), [describe(r) for _, _, r, _ in out if not r.complete][:2]
        time.sleep(0.3)
        # restart replica 2: AllBlocksCleared from the new process
        victim = reps[2]
        n_before = len(sub.messages)
        victim.kill()
        restart(victim, router)
        time.sleep(0.3)  # the SUB socket reconnects
        x = rc.complete(victim.port, "/v1/completions", {"model": ALIAS, "prompt": prompts[0], "max_tokens": 4,
                                                         "temperature": 0})
        assert x.complete, describe(x)
        deadline = time.time() + 5
        after = []
        while time.time() < deadline:
            after = [ev[0] for key, frames, _ in sub.messages[n_before:] if key == 2
                     for ev in rc.decode_kv_message(frames)[2]]
            if "BlockStored" in after:
                break
            time.sleep(0.05)
        cleared_after = "AllBlocksCleared" in after and after.index("AllBlocksCleared") < after.index("BlockStored")
    finally:
        sub.close()
    msgs = sub.messages
    assert msgs, "no KV event message from any replica"
    per = {}
    for key, frames, _ in msgs:
        per.setdefault(key, []).append(rc.decode_kv_message(frames))
    stored = {}
    for key, lst in per.items():
        # sequence numbers go up by one per message within one process (subscribed before any event:
        # a gap is a lost message); a restarted replica numbers from its own start (0, as vLLM)
        prev = None
        for seq, _, events in lst:
            if any(ev and ev[0] == "AllBlocksCleared" for ev in events) and prev is not None and seq <= prev:
                assert seq == 0, f"replica{key}: the restarted process starts at sequence {seq}"
                prev = None
            assert prev is None or seq == prev + 1, f"replica{key}: sequence {seq} after {prev}"
            prev = seq
        blocks, removed, _ = chains([ev for _, _, evs in lst for ev in evs])
        unknown = [h for h in removed if h not in blocks]
        assert not unknown, f"replica{key}: BlockRemoved of {len(unknown)} blocks never stored"
        stored[key] = blocks
    tally = {k: (len(v), len(stored[k])) for k, v in per.items()}
    # every prompt's full blocks, tokenized by /render, are a stored chain on some replica
    for p in prompts:
        st, _, js, _ = rc.post_json(reps[0].port, "/v1/completions/render", {"model": ALIAS, "prompt": p})
        assert st == 200, "POST /v1/completions/render (issue 20)"
        ids = js[0]["token_ids"]
        best = max(covers(b, ids) for b in stored.values())
        assert best == len(ids) // BLOCK, \
            f"prompt of {len(ids)} tokens: the longest stored chain spells {best} of its {len(ids) // BLOCK} blocks"
    assert cleared_after, f"replica2 after its restart: no AllBlocksCleared before its first BlockStored: {after[:5]}"
    print(f"\n[kv events] per replica (messages, blocks stored): {tally}; {len(prompts)} prompts re-assembled")


# ---------------------------------------------------------------- drain

def test_drain_under_load(cluster):
    need_flag("--drain-timeout")
    reps, router = cluster
    victim = reps[1]
    load = Load(router.port, n_clients=6, max_tokens=300)
    post = {}
    try:
        time.sleep(0.5)
        wait_running(victim)
        t0 = time.time()
        victim.signal(signal.SIGTERM)
        while True:  # "at once": within the time the signal takes to arrive
            ready = rc.get(victim.port, "/ready")
            if ready[0] == 503 or time.time() - t0 > 0.5:
                break
            time.sleep(0.005)
        t_ready = time.time() - t0
        health = rc.get(victim.port, "/health")
        new = rc.request(victim.port, "POST", "/v1/completions",
                         {"model": ALIAS, "prompt": "Hello", "max_tokens": 4, "temperature": 0})
        started = []
        # a request past the drain check when the signal came may still be counted: sample from 0.2 s on
        time.sleep(max(0.0, 0.2 - (time.time() - t0)))
        while victim.alive() and time.time() - t0 < DRAIN_S + 5:
            try:
                started.append(rc.value(rc.scrape(victim.port), "qlm:requests_started_total"))
            except (OSError, AssertionError):
                pass
            time.sleep(0.05)
        try:
            rc_ = victim.proc.wait(max(0.1, DRAIN_S + 5 - (time.time() - t0)))
        except Exception:
            rc_ = None
        t_exit = time.time() - t0
        time.sleep(1.0)  # the load goes on without the replica
    finally:
        results = load.stop()
    post.update(ready=ready[0], health=health[0], new=new[0], retry_after=new[1].get("retry-after"))
    assert rc_ == 0, f"the drained replica exited with {rc_} after {t_exit:.1f} s:\n{victim.log()}"
    assert t_exit <= DRAIN_S, f"drain took {t_exit:.1f} s > --drain-timeout {DRAIN_S}"
    assert post["ready"] == 503, f"/ready 0.5 s after SIGTERM: {post['ready']}, want 503"
    assert post["health"] == 200, f"/health while draining: {post['health']}, want 200"
    assert post["new"] == 503 and post["retry_after"], \
        f"a new request while draining: {post['new']} Retry-After {post['retry_after']!r}, want 503 with Retry-After"
    assert not started or max(started) == min(started), \
        f"the draining replica accepted requests after SIGTERM: requests_started_total {started[0]} -> {max(started)}"
    bad = [describe(r) for _, _, r, _ in results if not r.complete]
    n_stream = sum(j["stream"] for j, _, _, _ in results)
    assert not bad, f"{len(bad)} of {len(results)} requests did not complete through the drain: {bad[:3]}"
    restart(victim, router)
    print(f"\n[drain] {len(results)} requests ({n_stream} streamed) all complete; replica exited 0 after "
          f"{t_exit:.2f} s (--drain-timeout {DRAIN_S}), accepted none in {len(started)} scrapes; /ready 503 after "
          f"{1e3 * t_ready:.0f} ms, new request 503 Retry-After "
          f"{post['retry_after']}")


def test_drain_timeout_and_second_signal(model, logdir):
    need_flag("--drain-timeout")
    # past --drain-timeout the stream ends with an error and the process exits 0
    r = Replica(QLM, model, logdir, "drain-timeout", ctx=4096, drain_timeout=1, kv_events=False).start()
    try:
        r.wait_ready(path="/health")
        job = {"path": "/v1/completions", "stream": True, "body": {
            "model": ALIAS, "prompt": "Count forever:", "max_tokens": 4000, "temperature": 0, "logit_bias": EOS_BAN}}
        box = {}
        ths = [threading.Thread(target=lambda s=s: box.setdefault(s, rc.send(r.port, {**job, "stream": s})))
               for s in (True, False)]
        for th in ths:
            th.start()
        wait_running(r)
        time.sleep(0.3)
        t0 = time.time()
        r.signal(signal.SIGTERM)
        code = r.proc.wait(15)
        dt = time.time() - t0
        for th in ths:
            th.join(15)
        res, whole = box.get(True), box.get(False)
        assert code == 0, f"exit {code} after the drain timeout:\n{r.log()}"
        assert dt < 1 + 3, f"exited {dt:.1f} s after SIGTERM with --drain-timeout 1"
        assert res is not None and whole is not None and not any(th.is_alive() for th in ths), \
            "a request hangs after the drain timeout"
        assert isinstance(res.error, dict) and not res.done and res.finish_reason is None, \
            f"the cut stream must end with an error event and no [DONE]: {describe(res)}"
        # not streamed: the status line (200) went out with the first keep-alive byte, so the
        # error comes as the body
        err = json.loads(whole.body).get("error") if whole.body.strip() else None
        assert not whole.done and isinstance(err, dict), f"the cut non-streaming request: {describe(whole)}"
        print(f"\n[drain timeout] exit 0 after {dt:.2f} s; the stream ended with {res.error!r:.120}; the "
              f"non-streamed request with HTTP {whole.status} and {err!r:.120}")
    finally:
        r.kill()
    # a second SIGTERM exits at once
    r = Replica(QLM, model, logdir, "second-signal", ctx=4096, drain_timeout=30, kv_events=False).start()
    try:
        r.wait_ready(path="/health")
        th = threading.Thread(target=lambda: rc.send(r.port, job))
        th.start()
        wait_running(r)
        time.sleep(0.2)
        r.signal(signal.SIGTERM)
        time.sleep(0.3)
        assert r.alive(), "the first SIGTERM drains; the stream still runs"
        t0 = time.time()
        r.signal(signal.SIGTERM)
        try:
            r.proc.wait(3)
        except Exception:
            pass
        dt = time.time() - t0
        assert not r.alive(), "a second SIGTERM must exit at once"
        th.join(15)
        print(f"[second signal] exit {r.proc.returncode} {dt:.2f} s after the second SIGTERM")
    finally:
        r.kill()


# ---------------------------------------------------------------- crash

def test_crash_under_load(cluster):
    reps, router = cluster
    victim = reps[2]
    retries0 = router.metric("vllm_router_retries_total")
    load = Load(router.port, n_clients=6, max_tokens=160, retry_cut=True, seed=7, stream_every=2)
    # one long stream pinned on the victim, so that a cut stream is seen on every run
    pinned_job = {"path": "/v1/completions", "stream": True, "body": {
        "model": ALIAS, "prompt": "Count:", "max_tokens": 1500, "temperature": 0, "logit_bias": EOS_BAN}}
    pinned = {}
    th = threading.Thread(target=lambda: pinned.setdefault("r", rc.send(victim.port, pinned_job)))
    try:
        th.start()
        time.sleep(0.5)
        wait_running(victim)
        victim.kill()
        t_kill = time.time()
        time.sleep(2.0)
    finally:
        results = load.stop()
        th.join(30)
    p = pinned["r"]
    assert p.status == 200 and p.text and not p.done and p.finish_reason is None, \
        f"the stream pinned on the killed replica: {describe(p)}"
    retry = rc.send(router.port, pinned_job)
    assert retry.complete, f"the cut stream retried through the router: {describe(retry)}"
    tally = {"pinned stream cut, then ok through the router": 1, "requests": len(results), "non-streaming ok": 0, "non-streaming failed": 0, "streams ok": 0,
             "streams cut": 0, "cut then ok on retry": 0, "lost": 0}
    lost = []
    for job, _, r, again in results:
        if not job["stream"]:
            if r.complete:
                tally["non-streaming ok"] += 1
            else:
                tally["non-streaming failed"] += 1
                lost.append(("non-streaming", describe(r), again and describe(again)))
        elif r.complete:
            tally["streams ok"] += 1
        else:
            tally["streams cut"] += 1
            assert not r.done, f"a cut stream with [DONE]: {describe(r)}"
            if again is not None and again.complete:
                tally["cut then ok on retry"] += 1
            else:
                lost.append(("stream", describe(r), again and describe(again)))
    tally["lost"] = len(lost)
    tally["router retries"] = router.metric("vllm_router_retries_total") - retries0
    print(f"\n[crash] {tally}")
    assert tally["non-streaming failed"] == 0, f"non-streaming requests failed despite the router's retries: {lost[:3]}"
    assert not lost, f"requests lost: {lost[:3]}"
    assert tally["router retries"] > 0, "the router retried nothing: the kill did not exercise its retries"
    # the restarted replica rejoins and serves
    restart(victim, router)
    before = served([victim])[0]
    out = run_clients(router.port, [{**q, "stream": False} for q in request_set()[:9]], n_clients=1)
    assert all(r.complete for _, _, r, _ in out)
    assert served([victim])[0] > before, "the restarted replica got no request through the router"
    print(f"[crash] killed {time.time() - t_kill:.1f} s ago, restarted, serves again")


# ---------------------------------------------------------------- affinity

def prefix_load(seed=11, n_prefixes=7, rounds=4):
    """n_prefixes long shared prefixes (a prime count, so round-robin does not line them up with
    3 replicas), each asked `rounds` different short questions."""
    rng = random.Random(seed)
    words = " ".join(SYSTEMS).split()
    prefixes = [" ".join(rng.choice(words) for _ in range(160)) for _ in range(n_prefixes)]
    jobs = []
    for k in range(rounds):
        for i, p in enumerate(prefixes):
            jobs.append({"path": "/v1/completions", "stream": False, "body": {
                "model": ALIAS, "prompt": f"{p}\nQ{k}: {rng.choice(QUESTIONS)}\nA:", "max_tokens": 4,
                "temperature": 0}})
    return jobs


def affinity_run(model, logdir, policy):
    """prefix_load() through a router with `policy` in front of 3 fresh replicas: (summed prefix-cache
    hits, queries, notes). kv_aware: the router's index of our KV events (--kv-event-source per
    replica, the prompt tokens from our /v1/completions/render)."""
    kv = policy == "kv_aware"
    # vllm-router's kv_index decodes events as tagged maps; llm-d's decoder wants arrays (qlm's default)
    layout = ["--kv-events-format", "map"] if kv and rc.has_flag(QLM, "--kv-events-format") else []
    reps = [Replica(QLM, model, logdir, f"aff-{policy}-{i}", ctx=1024, kv_events=kv, extra=layout)
            for i in range(N_REPLICAS)]
    router, notes = None, {}
    try:
        for r in reps:
            r.start()
        for r in reps:
            r.wait_ready(path="/health")
        extra = []
        if kv:
            extra = ["--kv-event-block-size", BLOCK, "--kv-event-model", ALIAS]
            for r in reps:
                extra += ["--kv-event-source", f"{r.url}={r.kv_endpoint}"]
        router = Router(reps, logdir, policy, health_path=ready_path(reps[0]), extra=extra).start()
        if kv:
            time.sleep(0.5)  # the router's SUB sockets connect
        out = run_clients(router.port, prefix_load(), n_clients=3)
        assert all(r.complete for _, _, r, _ in out), [describe(r) for _, _, r, _ in out if not r.complete][:2]
        ms = [rc.scrape(r.port) for r in reps]
        if kv:
            time.sleep(0.2)
            log = re.sub(r"\x1b\[[0-9;]*m", "", router.log_path.read_text(errors="replace"))
            notes["decode warnings"] = [ln[ln.find("kv_index"):][:120] for ln in log.splitlines()
                                        if "kv_index decode" in ln][:3]
            notes["kv routing inputs"] = router.metric("vllm_router_kv_routing_inputs_total")
        notes["texts"] = [r.text for _, _, r, _ in out]
        return (sum(rc.value(m, "vllm:prefix_cache_hits_total") for m in ms),
                sum(rc.value(m, "vllm:prefix_cache_queries_total") for m in ms), notes)
    finally:
        if router:
            router.stop()
        for r in reps:
            r.stop(5)


@pytest.fixture(scope="module")
def affinity(model, logdir):
    cache = {}

    def get(policy):
        if policy not in cache:
            cache[policy] = affinity_run(model, logdir, policy)
        return cache[policy]
    return get


def test_cache_aware_beats_round_robin(affinity):
    (h_rr, q_rr, n_rr), (h_ca, q_ca, n_ca) = affinity("round_robin"), affinity("cache_aware")
    print(f"\n[affinity] prefix_cache_hits_total: round_robin {h_rr:.0f} / {q_rr:.0f} queried, "
          f"cache_aware {h_ca:.0f} / {q_ca:.0f}: ratio {h_ca / max(h_rr, 1):.2f}")
    assert q_rr == q_ca > 0
    assert h_ca >= 1.5 * h_rr and h_ca > 0, f"cache_aware hits {h_ca} not clearly above round_robin {h_rr}"
    # greedy answers do not depend on where the prefix came from (cache hit or prefill) nor the batch
    diff = [i for i, (a, b) in enumerate(zip(n_rr["texts"], n_ca["texts"])) if a != b]
    assert not diff, f"{len(diff)} answers differ between round_robin and cache_aware routing: first {diff[:3]}"


def test_kv_aware_router_reads_our_kv_events(affinity):
    """vllm-router's kv_aware policy is a real consumer of the KV events and the render route."""
    need_flag("--kv-events-endpoint")
    (h_rr, q_rr, _), (h_kv, q_kv, notes) = affinity("round_robin"), affinity("kv_aware")
    print(f"\n[kv_aware] prefix_cache_hits_total: round_robin {h_rr:.0f} / {q_rr:.0f} queried, "
          f"kv_aware {h_kv:.0f} / {q_kv:.0f}: ratio {h_kv / max(h_rr, 1):.2f}; "
          f"{ {k: v for k, v in notes.items() if k != 'texts'} }")
    assert not notes["decode warnings"], \
        ("vllm-router's kv_index cannot decode our KV events: vllm-router 0.1.17 takes the batch as an array "
         "[ts, events(, dp_rank)] but each event as a msgpack map tagged by \"type\" (BlockStored with "
         "block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium, lora_name), the layout of "
         "recent vLLM; llm-d's decoder wants the array layout, so qlm needs a choice "
         f"(this test passes --kv-events-format map when qlm serve has it): {notes['decode warnings']}")
    assert notes["kv routing inputs"] > 0
    assert q_kv == q_rr
    assert h_kv >= 1.5 * h_rr, f"kv_aware hits {h_kv} not clearly above round_robin {h_rr}"


def test_queue_gauges_when_saturated(model, logdir):
    """--parallel 1 and 4 clients: vllm:num_requests_waiting (the EPP's queue scorer) counts the
    queued ones, running stays at 1, and the queue-time histogram sees their wait."""
    r = Replica(QLM, model, logdir, "saturated", ctx=1024, kv_events=False, extra=["--parallel", "1"]).start()
    try:
        r.wait_ready(path="/health")
        before = rc.scrape(r.port)
        load = Load(r.port, n_clients=4, max_tokens=200, seed=3)
        waiting, running = [], []
        try:
            t_end = time.time() + 1.5
            while time.time() < t_end:
                m = rc.scrape(r.port)
                waiting.append(rc.value(m, "vllm:num_requests_waiting"))
                running.append(rc.value(m, "vllm:num_requests_running"))
                time.sleep(0.02)
        finally:
            results = load.stop()
        assert all(x[2].complete for x in results), [describe(x[2]) for x in results if not x[2].complete][:2]
        after = wait_idle(r)
        n = len(results)
        q_sum = rc.value(after, "vllm:request_queue_time_seconds", "_sum") - \
            rc.value(before, "vllm:request_queue_time_seconds", "_sum")
        print(f"\n[saturated] waiting max {max(waiting):.0f}, running max {max(running):.0f}, {n} requests, "
              f"queue time {q_sum:.2f} s in all")
        assert max(running) == 1, f"--parallel 1 but num_requests_running reached {max(running)}"
        assert max(waiting) >= 2, f"4 clients on --parallel 1: num_requests_waiting reached only {max(waiting)}"
        assert rc.value(after, "vllm:num_requests_waiting") == 0
        assert q_sum > 0.05 * n, f"requests queued behind one another, yet queue time sums to {q_sum:.3f} s"
    finally:
        r.kill()


def test_drain_exit_with_an_idle_keep_alive_connection(model, logdir):
    """A client (a router's connection pool, a scraper) holding an idle keep-alive connection must
    not hold the drained process past --drain-timeout."""
    need_flag("--drain-timeout")
    r = Replica(QLM, model, logdir, "keep-alive", ctx=512, drain_timeout=2, kv_events=False).start()
    c = None
    try:
        r.wait_ready(path="/health")
        c = http.client.HTTPConnection("127.0.0.1", r.port, timeout=10)
        c.request("GET", "/health")
        c.getresponse().read()  # the connection stays open, idle
        t0 = time.time()
        r.signal(signal.SIGTERM)
        while r.alive() and time.time() - t0 < 2 + 3:
            time.sleep(0.05)
        dt = time.time() - t0
        code = r.proc.poll()
        print(f"\n[keep-alive] exit {code} {dt:.2f} s after SIGTERM with one idle keep-alive connection")
        assert code == 0, (f"with one idle keep-alive connection open the drained replica (nothing in flight, "
                           f"--drain-timeout 2) is still running {dt:.1f} s after SIGTERM: the HTTP server "
                           f"waits for the connection's keep-alive timeout\n{r.log()[-600:]}")
    finally:
        if c:
            c.close()
        r.kill()


def test_model_name_label_escaped(model, logdir):
    """An alias with a quote, a backslash and a newline stays one label value."""
    alias = 'tiny "q" \\ x\ny'
    r = Replica(QLM, model, logdir, "escape", ctx=512, kv_events=False, alias=alias).start()
    try:
        r.wait_ready(path="/health")
        m = rc.scrape(r.port)
        labs = {lab.get("model_name") for k in CONTRACT if k in m for _, lab, _ in m[k][1] if "model_name" in lab}
        assert labs == {alias}, f"model_name labels {labs}, want {alias!r}"
    finally:
        r.kill()
