"""Processes and clients of the replica tests (test_replicas.py) and of
bench/serve_load.py's router mode: `qlm serve` replicas and `vllm-router`
(PyPI, pinned in tests/requirements.txt) in front of them, on 127.0.0.1 only.

Every process started here is registered and killed at interpreter exit,
whatever happened; the tests also stop them in their fixtures.
"""
from __future__ import annotations

import atexit
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROUTER_BIN = Path(sys.executable).parent / "vllm-router"
ALIAS = "tiny"
BLOCK = 16  # the engine's KV block size (tokens)

_LIVE: list[subprocess.Popen] = []
_LOCK = threading.Lock()


def _kill_all():
    with _LOCK:
        procs = list(_LIVE)
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass


atexit.register(_kill_all)


def _die_with_parent():
    """In the child: SIGKILL when the test process dies, even by SIGKILL (a CTest timeout), where
    atexit never runs (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def spawn(args, log_path):
    log = open(log_path, "ab")
    p = subprocess.Popen([str(a) for a in args], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    log.close()
    with _LOCK:
        _LIVE.append(p)
    return p


def kill_all():
    _kill_all()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_HELP = {}


def serve_help(qlm):
    if qlm not in _HELP:
        _HELP[qlm] = subprocess.run([qlm, "serve", "--help"], capture_output=True, text=True).stdout
    return _HELP[qlm]


def has_flag(qlm, flag):
    return flag in serve_help(qlm)


# ---------------------------------------------------------------- HTTP

def request(port, method, path, body=None, timeout=120, headers=None):
    """(status, headers dict lower-case, body bytes); raises OSError on connection errors."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def get(port, path, timeout=10):
    return request(port, "GET", path, timeout=timeout)


def post_json(port, path, body, timeout=120):
    st, h, raw = request(port, "POST", path, body, timeout=timeout)
    try:
        js = json.loads(raw)
    except ValueError:
        js = None
    return st, h, js, raw


@dataclass
class StreamResult:
    status: int = 0
    text: str = ""
    finish_reason: str | None = None
    done: bool = False            # saw `data: [DONE]`
    error: object = None          # an error object in the stream, or the exception that cut it
    t0: float = 0.0
    times: list = field(default_factory=list)  # arrival time of each chunk with text
    usage: dict | None = None
    body: bytes = b""

    @property
    def complete(self):
        return self.status == 200 and self.done and self.finish_reason is not None and self.error is None


def stream(port, path, body, timeout=120):
    """POSTs a streaming request and reads its server-sent events to the end."""
    body = dict(body, stream=True)
    res = StreamResult(t0=time.perf_counter())
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        res.status = r.status
        if r.status != 200:
            res.body = r.read()
            return res
        while True:
            line = r.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith(b"data:"):
                continue  # blank separators, ": keep-alive" comments, event: lines
            data = line[5:].strip()
            if data == b"[DONE]":
                res.done = True
                continue
            try:
                ev = json.loads(data)
            except ValueError:
                res.error = f"bad event {data[:200]!r}"
                continue
            if "error" in ev:
                res.error = ev["error"]
                continue
            if ev.get("usage"):
                res.usage = ev["usage"]
            for ch in ev.get("choices") or []:
                piece = ch.get("text")
                if piece is None:
                    piece = (ch.get("delta") or {}).get("content")
                if piece:
                    res.text += piece
                    res.times.append(time.perf_counter())
                if ch.get("finish_reason"):
                    res.finish_reason = ch["finish_reason"]
    except (OSError, http.client.HTTPException) as e:
        res.error = e
    finally:
        c.close()
    return res


def complete(port, path, body, timeout=120):
    """A non-streaming request as a StreamResult (done = a whole JSON body arrived)."""
    res = StreamResult(t0=time.perf_counter())
    try:
        st, _, js, raw = post_json(port, path, dict(body, stream=False), timeout)
    except (OSError, http.client.HTTPException) as e:
        res.error = e
        return res
    res.status, res.body = st, raw
    if st == 200 and isinstance(js, dict) and js.get("choices"):
        ch = js["choices"][0]
        res.text = ch.get("text") if "text" in ch else (ch.get("message") or {}).get("content") or ""
        res.finish_reason = ch.get("finish_reason")
        res.usage = js.get("usage")
        res.done = True
        res.times.append(time.perf_counter())
    elif st == 200:
        res.error = f"bad body {raw[:300]!r}"
    return res


def send(port, req, timeout=120):
    """req: {"path": ..., "body": ..., "stream": bool}"""
    return (stream if req["stream"] else complete)(port, req["path"], req["body"], timeout)


# ---------------------------------------------------------------- Prometheus

def scrape(port):
    """{family name: (type, [(sample name, labels, value)])} parsed by prometheus_client (an
    independent parser of the text format); counters are keyed by their name with _total."""
    from prometheus_client.parser import text_string_to_metric_families
    st, _, body = get(port, "/metrics")
    assert st == 200, f"/metrics: {st}"
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        samples = [(s.name, dict(s.labels), s.value) for s in fam.samples]
        name = fam.name + "_total" if fam.type == "counter" and not fam.name.endswith("_total") else fam.name
        out[name] = (fam.type, samples)
    return out


def value(m, name, suffix="", **labels):
    """Sum of the samples `name + suffix` of family `name` whose labels match (a histogram's
    counts: suffix "_count"; a counter: the family name with _total, no suffix)."""
    if name not in m:
        raise KeyError(f"metric {name} missing")
    target = name + suffix
    return sum(v for sname, lab, v in m[name][1]
               if sname == target and all(lab.get(k) == want for k, want in labels.items()))


# ---------------------------------------------------------------- processes

class Replica:
    def __init__(self, qlm, model, logdir, name, *, ctx=2048, drain_timeout=20, kv_events=True, extra=(),
                 alias=ALIAS):
        self.qlm, self.model, self.name, self.alias = qlm, model, name, alias
        self.port = free_port()
        self.kv_port = free_port() if kv_events else None
        self.ctx, self.drain_timeout, self.extra = ctx, drain_timeout, list(extra)
        self.log_path = Path(logdir) / f"{name}.log"
        self.proc = None
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def kv_endpoint(self):
        return f"tcp://127.0.0.1:{self.kv_port}" if self.kv_port else None

    def args(self):
        a = [self.qlm, "serve", "-m", self.model, "--host", "127.0.0.1", "--port", self.port, "-t", 1,
             "--alias", self.alias, "-c", self.ctx, *self.extra]
        if self.drain_timeout is not None and has_flag(self.qlm, "--drain-timeout"):
            a += ["--drain-timeout", self.drain_timeout]
        if self.kv_port and has_flag(self.qlm, "--kv-events-endpoint"):
            a += ["--kv-events-endpoint", self.kv_endpoint]
        return a

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        self.proc = spawn(self.args(), self.log_path)
        return self

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def wait_ready(self, timeout=60, path="/ready"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                last = get(self.port, path, timeout=2)[0]
                if last == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: GET {path} not 200 within {timeout} s (last {last})\n{self.log()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(5)


class Router:
    """vllm-router (the Rust router of the vllm-router wheel) in front of `workers`."""

    def __init__(self, workers, logdir, policy="round_robin", health_path="/ready", extra=()):
        self.workers, self.policy = list(workers), policy
        self.port = free_port()
        self.prom_port = free_port()
        self.log_path = Path(logdir) / f"router-{policy}-{self.port}.log"
        self.health_path, self.extra = health_path, list(extra)
        self.proc = None

    def args(self):
        return [ROUTER_BIN, "--host", "127.0.0.1", "--port", self.port,
                "--worker-urls", *[w.url for w in self.workers], "--policy", self.policy,
                "--health-check-endpoint", self.health_path, "--health-check-interval-secs", 1,
                "--health-failure-threshold", 1, "--health-success-threshold", 1,
                "--health-check-timeout-secs", 2,
                "--worker-startup-check-interval", 1, "--worker-startup-timeout-secs", 60,
                "--cb-timeout-duration-secs", 2,
                "--prometheus-host", "127.0.0.1", "--prometheus-port", self.prom_port,
                "--log-level", "warning", *self.extra]

    def start(self, timeout=60):
        if not ROUTER_BIN.exists():
            raise AssertionError(f"{ROUTER_BIN} missing: vllm-router is pinned in tests/requirements.txt (make venv)")
        self.proc = spawn(self.args(), self.log_path)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"vllm-router exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if get(self.port, "/health", timeout=2)[0] == 200 and len(self.healthy()) == len(self.workers):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"vllm-router not up within {timeout} s:\n{self.log()}")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def healthy(self):
        st, _, body = get(self.port, "/workers", timeout=5)
        assert st == 200, f"router /workers: {st}"
        return {w["url"] for w in json.loads(body)["workers"] if w.get("is_healthy")}

    def wait_healthy(self, urls, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if set(urls) <= self.healthy():
                return
            time.sleep(0.1)
        raise AssertionError(f"router: {urls} not healthy within {timeout} s: {self.healthy()}")

    def metric(self, name):
        """Sum of the router's own Prometheus samples called `name` (e.g. vllm_router_retries_total)."""
        from prometheus_client.parser import text_string_to_metric_families
        st, _, body = get(self.prom_port, "/metrics")
        assert st == 200, f"router /metrics: {st}"
        return sum(s.value for f in text_string_to_metric_families(body.decode()) for s in f.samples if s.name == name)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


# ---------------------------------------------------------------- KV events

class KvSubscriber:
    """A ZeroMQ SUB socket on each endpoint, collecting [topic, seq, payload] messages in a thread."""

    def __init__(self, endpoints):
        import zmq
        self.zmq = zmq
        self.ctx = zmq.Context()
        self.socks = {}
        for key, ep in endpoints.items():
            s = self.ctx.socket(zmq.SUB)
            s.setsockopt(zmq.RECONNECT_IVL, 10)
            s.setsockopt(zmq.RECONNECT_IVL_MAX, 50)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SUBSCRIBE, b"")
            s.connect(ep)
            self.socks[key] = s
        self.messages = []  # (key, frames, arrival)
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        poller = self.zmq.Poller()
        for s in self.socks.values():
            poller.register(s, self.zmq.POLLIN)
        keys = {s: k for k, s in self.socks.items()}
        while not self.stop_ev.is_set():
            for s, _ in poller.poll(50):
                while True:
                    try:
                        frames = s.recv_multipart(self.zmq.NOBLOCK)
                    except self.zmq.Again:
                        break
                    self.messages.append((keys[s], frames, time.time()))

    def close(self):
        self.stop_ev.set()
        self.thread.join(5)
        for s in self.socks.values():
            s.close(0)
        self.ctx.term()


_FIELDS = {"BlockStored": ("block_hashes", "parent_block_hash", "token_ids", "block_size", "lora_id", "medium"),
           "BlockRemoved": ("block_hashes", "medium"), "AllBlocksCleared": ()}


def normalize_event(ev):
    """An event as [tag, fields...] (vLLM's array_like form) from either that form or the tagged
    map ({"type": tag, field: value}) that current vLLM and vllm-router's kv_index use."""
    if isinstance(ev, dict):
        tag = ev.get("type")
        assert tag in _FIELDS, f"KV event map without a known type: {ev!r:.200}"
        missing = [f for f in _FIELDS[tag] if f not in ev]
        assert not missing, f"{tag} map lacks {missing}"
        return [tag, *(ev[f] for f in _FIELDS[tag])]
    assert isinstance(ev, list) and ev and isinstance(ev[0], str), f"KV event {ev!r:.200}: want [tag, ...] or a tagged map"
    return ev


def decode_kv_message(frames, raw=False):
    """[topic, seq, payload] -> (seq, ts, events as [tag, ...]); raises AssertionError on a
    malformed message. raw: the events as decoded (maps or arrays)."""
    import msgpack
    assert len(frames) == 3, f"KV event message of {len(frames)} frames, want [topic, seq, payload]"
    assert len(frames[1]) == 8, f"sequence frame of {len(frames[1])} bytes, want 8"
    seq = int.from_bytes(frames[1], "big")
    payload = msgpack.unpackb(frames[2], raw=False, strict_map_key=False)
    if isinstance(payload, dict):
        ts, events = payload.get("ts"), payload.get("events")
    else:
        assert isinstance(payload, list) and len(payload) in (2, 3), \
            f"payload {payload!r:.200}: want [ts, events(, dp_rank)]"
        ts, events = payload[0], payload[1]
    assert isinstance(ts, float), f"ts {ts!r} is not a float"
    assert isinstance(events, list)
    return seq, ts, events if raw else [normalize_event(e) for e in events]
