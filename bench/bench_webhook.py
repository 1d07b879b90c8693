"""Webhook throughput: 50 concurrent clients hammering POST /webhook/status.

The server runs as `orch serve` would (SQLite store, real secret check,
uvicorn) in a child process on 127.0.0.1, with a 10-task session waiting for
approval. Clients are httpx AsyncClients with keep-alive in this process.
Prints requests/second and p50/p99 latency; asserts nothing.

Usage: python bench/bench_webhook.py [--clients 50] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MAX_REQUESTS = 500_000

SERVER = """
import sys
from apps.settings import load_settings
from apps.web.server import prepare

secret = sys.stdin.readline().strip()  # not in argv, where `ps` would show it
settings = load_settings(sys.argv[1], environ={})
environ = {"ORCH_WEBHOOK_SECRET": secret}
ready = prepare(settings, "127.0.0.1", 0, False, environ=environ, access_log=False, log_config=None)
print(ready.port, flush=True)
ready.run()
"""


def task_file(n: int) -> str:
    parts = ["# Tasks - 2026-11-23", ""]
    for i in range(1, n + 1):
        approval = "**Requires Approval:** true\n" if i == 1 else ""
        dep = f"**Depends On:** {i - 1}\n" if i > 1 else ""
        parts.append(f"## Task {i}: task {i}\n{approval}{dep}**Claude Instruction:**\ndo {i}\n\n---\n")
    return "\n".join(parts)


async def client_loop(
    url: str, headers: dict[str, str], stop_at: float, out: list[float], errors: list[int]
) -> None:
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as client:
        while time.perf_counter() < stop_at and len(out) < MAX_REQUESTS:
            start = time.perf_counter()
            response = await client.post("/webhook/status", json={})
            elapsed = time.perf_counter() - start
            if response.status_code == 200:
                out.append(elapsed)
            else:
                errors.append(response.status_code)


async def hammer(
    url: str, headers: dict[str, str], clients: int, seconds: float
) -> tuple[list[float], list[int], float]:
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    stop_at = start + seconds
    await asyncio.gather(*(client_loop(url, headers, stop_at, latencies, errors) for _ in range(clients)))
    return latencies, errors, time.perf_counter() - start


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="orch-bench-web-"))
    secret = secrets.token_urlsafe(24)
    headers = {"X-Orch-Secret": secret}
    child = None
    try:
        true = shutil.which("true") or "/bin/true"
        (root / "orch.yaml").write_text(f'agent:\n  command: ["{true}"]\n  timeout_s: 30\n')
        (root / "tasks").mkdir()
        (root / "tasks" / "today.md").write_text(task_file(10))
        child = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(root / "orch.yaml")],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        child.stdin.write(secret + "\n")
        child.stdin.close()
        port = int(child.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        wait_for_approval(url, headers)

        asyncio.run(hammer(url, headers, args.clients, 0.5))  # warm up
        latencies, errors, took = asyncio.run(hammer(url, headers, args.clients, args.seconds))
        latencies.sort()
        n = len(latencies)
        p50 = statistics.median(latencies) * 1000
        p99 = latencies[min(n - 1, int(n * 0.99))] * 1000
        print(
            f"POST /webhook/status, {args.clients} concurrent clients, {took:.1f} s, SQLite store, 10-task session"
        )
        print(f"  requests:    {n} ok, {len(errors)} failed")
        print(f"  throughput:  {n / took:.0f} requests/s")
        print(f"  latency:     p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {latencies[-1] * 1000:.1f} ms")
    finally:
        if child is not None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
