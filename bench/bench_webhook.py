"""Webhook latency and throughput on keep-alive connections, as n8n or a script sees them.

The server runs as `orch serve` would (SQLite store, real secret check, uvicorn; no access
log, which costs 50-100 us more per request: ``--access-log`` writes it to a file, as `orch
serve` writes it to stdout) in a child process on 127.0.0.1, with a 10-task session waiting
for approval. Three figures:

1. one client, one keep-alive connection, requests one after another (httpx.Client);
2. the same client opening a new connection for every request (what keep-alive is compared to);
3. N concurrent keep-alive clients for a few seconds.

The load's clients are, by default (``auto``), wrk when it is installed (``apt-get install
wrk``; one thread, C: it leaves the server most of a 2-core machine), else a minimal HTTP/1.1
client in Python (``raw``); the output says which. httpx spends about four times the server's
CPU on each request, so with httpx (``--load-client httpx``) the figure measures httpx, not the
server. Each phase also prints the server's CPU time per request, which a busy machine disturbs
far less than wall time, and the load clients' own.

Prints p50/p99/max, requests/s and the ratio to the targets of issue 9 (p50 <= 2 ms on one
keep-alive client; >= 2,000 req/s with p99 <= 100 ms under 50 clients); asserts nothing.
``--slowest N`` lists the slowest requests of the load with when they started, to find stalls.

Usage: python bench/bench_webhook.py [--endpoint status|command|help|health] [--clients 50] [--seconds 5]
       [--requests 1000] [--load-client auto|wrk|raw|httpx] [--access-log] [--slowest 0]
       [--py-spy OUT.svg|OUT.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import secrets
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

TARGET_P50_MS = 2.0
TARGET_RPS = 2000.0
TARGET_P99_MS = 100.0
#: what each request asks: status, or the same through /webhook/command as the shipped n8n
#: workflows send it; help (no session read) and health (no thread, no store) show the floors
ENDPOINTS: dict[str, tuple[str, str, dict[str, str] | None]] = {
    "status": ("POST", "/webhook/status", {}),
    "command": ("POST", "/webhook/command", {"command": "status"}),
    "help": ("POST", "/webhook/help", {}),
    "health": ("GET", "/health", None),
}

SERVER = """
import sys
from apps.settings import load_settings
from apps.web.server import prepare

secret = sys.stdin.readline().strip()  # not in argv, where `ps` would show it
settings = load_settings(sys.argv[1], environ={})
environ = {"ORCH_WEBHOOK_SECRET": secret}
logged = sys.argv[2] == "access-log"  # as `orch serve` logs, else no log at all
port_out, sys.stdout = sys.stdout, sys.stderr  # uvicorn's access log goes to stdout: to the file
ready = prepare(
    settings, "127.0.0.1", 0, False, environ=environ, access_log=logged, log_config="default" if logged else None
)
print(ready.port, file=port_out, flush=True)
ready.run()
"""

Send = Callable[[], Awaitable[int]]  # one request on a client's connection: its status code


def task_file(n: int) -> str:
    parts = ["# Tasks - 2026-11-23", ""]
    for i in range(1, n + 1):
        approval = "**Requires Approval:** true\n" if i == 1 else ""
        dep = f"**Depends On:** {i - 1}\n" if i > 1 else ""
        parts.append(f"## Task {i}: task {i}\n{approval}{dep}**Claude Instruction:**\ndo {i}\n\n---\n")
    return "\n".join(parts)


def percentile(sorted_s: list[float], q: float) -> float:
    """The q-quantile of sorted seconds, in ms (nearest rank)."""
    return sorted_s[min(len(sorted_s) - 1, int(len(sorted_s) * q))] * 1000


def summary(latencies: list[float]) -> str:
    s = sorted(latencies)
    return f"p50 {statistics.median(s) * 1000:.2f} ms   p99 {percentile(s, 0.99):.2f} ms   max {s[-1] * 1000:.1f} ms"


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (all its threads) so far; None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(pid: int, before: float | None, requests: int) -> str:
    """The server's CPU time per request since ``before``: steadier than wall time on a busy machine."""
    after = cpu_seconds(pid)
    if before is None or after is None or not requests:
        return "n/a (no /proc)"
    return f"{(after - before) / requests * 1e6:.0f} us of server CPU per request"


def one_client(
    url: str, headers: dict[str, str], endpoint: str, requests: int, *, keep_alive: bool
) -> list[float]:
    """Sequential requests from one httpx client: on one connection, or a new one each time."""
    method, path, body = ENDPOINTS[endpoint]
    latencies: list[float] = []
    limits = httpx.Limits() if keep_alive else httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, headers=headers, timeout=30.0, limits=limits) as client:
        for _ in range(requests):
            start = time.perf_counter()
            response = client.request(method, path, json=body)
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()
    return latencies


class RawClient:
    """One keep-alive HTTP/1.1 connection sending one fixed request and reading replies framed by
    Content-Length (all uvicorn sends here): a load generator much cheaper than the server."""

    def __init__(self, port: int, secret: str, endpoint: str) -> None:
        method, path, payload = ENDPOINTS[endpoint]
        body = b"" if payload is None else json.dumps(payload).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Orch-Secret: {secret}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.request = (head + "\r\n").encode() + body
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> int:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        at = head.lower().find(b"\r\ncontent-length:")
        if at < 0:
            raise RuntimeError(f"a reply without Content-Length: {head[:200]!r}")
        length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
        await self.reader.readexactly(length)
        return int(head[9:12])

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


def httpx_client(
    url: str, headers: dict[str, str], endpoint: str, tls: ssl.SSLContext
) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """An httpx.AsyncClient as a load client. The TLS context is shared: httpx otherwise loads
    the CA bundle per client (25-55 ms, blocking the event loop), even for http://."""
    client = httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0, verify=tls)
    method, path, body = ENDPOINTS[endpoint]

    async def send() -> int:
        return (await client.request(method, path, json=body)).status_code

    return send, client.aclose


async def client_loop(send: Send, stop_at: float, out: list[tuple[float, float]], errors: list[int]) -> None:
    while time.perf_counter() < stop_at:
        start = time.perf_counter()
        status = await send()
        if status == 200:
            out.append((start, time.perf_counter() - start))
        else:
            errors.append(status)


async def hammer(
    args: argparse.Namespace, port: int, secret: str, seconds: float
) -> tuple[list[tuple[float, float]], list[int], float, float]:
    """``args.clients`` keep-alive clients for ``seconds``: (start, latency) pairs, errors, took, start.

    Every client is built and connected before the clock starts: building them inside the timed
    loop (httpx loads its CA bundle per client) was the 1.2-1.7 s "maximum latency" of the
    first requests of every run, a stall of the bench's own event loop, not of the server.
    """
    if args.load_client == "raw":
        raws = [RawClient(port, secret, args.endpoint) for _ in range(args.clients)]
        clients = [(c.send, c.aclose) for c in raws]
    else:
        tls = ssl.create_default_context()
        url, headers = f"http://127.0.0.1:{port}", {"X-Orch-Secret": secret}
        clients = [httpx_client(url, headers, args.endpoint, tls) for _ in range(args.clients)]
    try:
        await asyncio.gather(*(send() for send, _ in clients))  # connect every client
        samples: list[tuple[float, float]] = []
        errors: list[int] = []
        start = time.perf_counter()
        await asyncio.gather(*(client_loop(send, start + seconds, samples, errors) for send, _ in clients))
        return samples, errors, time.perf_counter() - start, start
    finally:
        await asyncio.gather(*(close() for _, close in clients))


#: wrk's request and, when it is done, one line of figures (its latencies are in microseconds)
WRK_SCRIPT = """
wrk.method = {method}
wrk.body = {body}
wrk.headers["X-Orch-Secret"] = {secret}
{content_type}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("wrk-figures %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99),
    latency.max))
end
"""


def lua(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is a Lua string literal


def wrk_load(
    args: argparse.Namespace, port: int, secret: str, seconds: int, root: Path
) -> tuple[int, int, float, float, float, float, int]:
    """wrk's one thread with ``args.clients`` keep-alive connections for ``seconds``: requests,
    failed (non-2xx or socket errors), took (s), p50, p99, max (ms) and its CPU (us).
    The secret goes in a script file readable by this user only, not in wrk's argv."""
    method, path, payload = ENDPOINTS[args.endpoint]
    body = "" if payload is None else json.dumps(payload)
    script = root / "load.lua"
    script.touch(mode=0o600)
    script.write_text(
        WRK_SCRIPT.format(
            method=lua(method),
            body=lua(body),
            secret=lua(secret),
            content_type='wrk.headers["Content-Type"] = "application/json"' if body else "",
        )
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [
        "wrk",
        "-t1",
        f"-c{args.clients}",
        f"-d{seconds}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}{path}",
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next(x for x in out.splitlines() if x.startswith("wrk-figures "))
    done, took_us, status, sockets, p50, p99, top = (int(v) for v in line.split()[1:])
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1e6
    return done, status + sockets, took_us / 1e6, p50 / 1000, p99 / 1000, top / 1000, int(cpu)


def load_client(choice: str) -> str:
    if choice != "auto":
        return choice
    return "wrk" if shutil.which("wrk") else "raw"


def wait_for_approval(url: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, headers=headers, timeout=10.0) as client:
        client.post("/webhook/start", json={"file": "today.md"}).raise_for_status()
        while time.monotonic() < deadline:
            state = client.post("/webhook/status", json={}).json()["session"]["state"]
            if state == "waiting_approval":
                return
            time.sleep(0.05)
    raise SystemExit("the session never reached waiting_approval")


def report_one_client(args: argparse.Namespace, url: str, headers: dict[str, str], server: int) -> None:
    one_client(url, headers, args.endpoint, 50, keep_alive=True)  # warm up
    cpu = cpu_seconds(server)
    alive = one_client(url, headers, args.endpoint, args.requests, keep_alive=True)
    alive_cpu = cpu_per_request(server, cpu, len(alive))
    fresh = one_client(url, headers, args.endpoint, max(args.requests // 5, 100), keep_alive=False)
    p50_alive = statistics.median(alive) * 1000
    print(" ".join(ENDPOINTS[args.endpoint][:2]) + ", SQLite store, 10-task session waiting for approval")
    print(f"one httpx client, keep-alive, {len(alive)} requests in a row")
    print(f"  latency:     {summary(alive)}")
    print(f"  target:      p50 <= {TARGET_P50_MS:g} ms: {p50_alive / TARGET_P50_MS:.2f}x the target")
    print(f"  cost:        {alive_cpu}")
    print(f"one httpx client, a new connection per request, {len(fresh)} requests")
    print(f"  latency:     {summary(fresh)}")
    print(f"  keep-alive p50 / new-connection p50: {p50_alive / (statistics.median(fresh) * 1000):.2f}")


def sampled(server: int, out: str | None) -> subprocess.Popen[bytes] | None:
    """py-spy sampling every thread of the server into ``out`` (a flame graph SVG, or
    ``.txt`` for collapsed stacks), if asked and py-spy is installed (pip install py-spy)."""
    path = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"  # noqa: TID251 - the venv's py-spy too
    spy = shutil.which("py-spy", path=path)
    if out is None:
        return None
    if spy is None:
        print("  (--py-spy: py-spy is not installed, pip install py-spy; not sampled)")
        return None
    fmt = ["--format", "raw"] if out.endswith(".txt") else []
    argv = [spy, "record", "--pid", str(server), "--rate", "500", "--nonblocking", "--gil", "-o", out, *fmt]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def report_wrk(args: argparse.Namespace, port: int, secret: str, server: int, root: Path) -> None:
    seconds = max(1, math.ceil(args.seconds))
    wrk_load(args, port, secret, 1, root)  # warm up
    spy = sampled(server, args.py_spy)
    cpu = cpu_seconds(server)
    done, failed, took, p50, p99, top, wrk_cpu = wrk_load(args, port, secret, seconds, root)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=30)
        print(f"  server sampled by py-spy into {args.py_spy}")
    server_cpu = cpu_per_request(server, cpu, done)
    rps = (done - failed) / took
    print(f"{args.clients} concurrent wrk connections (one wrk thread), keep-alive, {took:.1f} s")
    print(f"  requests:    {done - failed} ok, {failed} failed")
    print(f"  throughput:  {rps:.0f} requests/s ({rps / TARGET_RPS:.2f}x the target of {TARGET_RPS:.0f})")
    print(f"  latency:     p50 {p50:.2f} ms   p99 {p99:.2f} ms   max {top:.1f} ms")
    print(f"  target:      p99 <= {TARGET_P99_MS:g} ms: {p99 / TARGET_P99_MS:.2f}x the target")
    print(f"  cost:        {server_cpu}; the clients (wrk): {wrk_cpu / max(done, 1):.0f} us")
    if args.slowest:
        print("  (--slowest lists requests of the raw or httpx clients only)")


def report_load(args: argparse.Namespace, port: int, secret: str, server: int) -> None:
    asyncio.run(hammer(args, port, secret, 0.5))  # warm up
    spy = sampled(server, args.py_spy)
    cpu, mine = cpu_seconds(server), time.process_time()
    samples, errors, took, began = asyncio.run(hammer(args, port, secret, args.seconds))
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        spy.wait(timeout=30)
        print(f"  server sampled by py-spy into {args.py_spy}")
    done = len(samples) + len(errors) + args.clients
    server_cpu = cpu_per_request(server, cpu, done)
    client_cpu = (time.process_time() - mine) / done * 1e6
    latencies = [lat for _, lat in samples]
    rps = len(latencies) / took
    p99 = percentile(sorted(latencies), 0.99)
    print(f"{args.clients} concurrent {args.load_client} clients, keep-alive, {took:.1f} s")
    print(f"  requests:    {len(latencies)} ok, {len(errors)} failed")
    print(f"  throughput:  {rps:.0f} requests/s ({rps / TARGET_RPS:.2f}x the target of {TARGET_RPS:.0f})")
    print(f"  latency:     {summary(latencies)}")
    print(f"  target:      p99 <= {TARGET_P99_MS:g} ms: {p99 / TARGET_P99_MS:.2f}x the target")
    print(f"  cost:        {server_cpu}; the clients (this process): {client_cpu:.0f} us")
    if args.slowest:
        print(f"  slowest {args.slowest} (started at, after the load began):")
        for at, lat in sorted(samples, key=lambda s: -s[1])[: args.slowest]:
            print(f"    +{(at - began) * 1000:8.1f} ms  took {lat * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="status")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests of the one client")
    parser.add_argument("--load-client", choices=("auto", "wrk", "raw", "httpx"), default="auto")
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="serve with uvicorn's access log, to a file, as `orch serve` does",
    )
    parser.add_argument("--slowest", type=int, default=0, help="list the N slowest requests of the load")
    parser.add_argument("--py-spy", default=None, help="sample the server during the load into this file")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="orch-bench-web-"))
    secret = secrets.token_urlsafe(24)
    headers = {"X-Orch-Secret": secret}
    child = None
    server_log = (root / "server.log").open("w")  # uvicorn's log, the access log with --access-log
    try:
        true = shutil.which("true") or "/bin/true"
        (root / "orch.yaml").write_text(f'agent:\n  command: ["{true}"]\n  timeout_s: 30\n')
        (root / "tasks").mkdir()
        (root / "tasks" / "today.md").write_text(task_file(10))
        child = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(root / "orch.yaml"), "access-log" if args.access_log else "-"],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=server_log,
            text=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.write(secret + "\n")
        child.stdin.close()
        port = int(child.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        wait_for_approval(url, headers)
        report_one_client(args, url, headers, child.pid)
        args.load_client = load_client(args.load_client)
        if args.load_client == "wrk":
            report_wrk(args, port, secret, child.pid, root)
        else:
            report_load(args, port, secret, child.pid)
    finally:
        if child is not None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        server_log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
