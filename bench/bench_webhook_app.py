"""The webhook app's own cost per request, without sockets or clients: N `POST /webhook/status`
(or another endpoint) through the real ASGI app (Starlette, secret check, schema, thread pool,
Commands, SQLite store, JSON) with a 10-task session waiting for approval.

Prints the CPU per request of this process (every thread), which a loaded machine disturbs far
less than bench_webhook.py's wall-clock throughput. For a figure no load changes at all, run it
under callgrind at two sizes and take the difference per request:

    valgrind --tool=callgrind python bench/bench_webhook_app.py --requests 100
    valgrind --tool=callgrind python bench/bench_webhook_app.py --requests 400

Usage: python bench/bench_webhook_app.py [--endpoint status] [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_webhook import ENDPOINTS, task_file

SECRET = "bench-secret"
Message = MutableMapping[str, Any]


def request_scope(path: str, method: str, body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1"), (b"x-orch-secret", SECRET.encode())]
    if method == "POST":
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def call(app: Callable[..., Awaitable[None]], scope: dict[str, Any], body: bytes) -> list[Message]:
    """One request through the ASGI app; the messages it sent back."""
    given = False

    async def receive() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays: the app never reads past the body
        return {}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def measure(app: Any, endpoint: str, requests: int, rounds: int) -> None:
    method, path, payload = ENDPOINTS[endpoint]
    body = b"" if payload is None else json.dumps(payload).encode()
    scope = request_scope(path, method, body)
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    ready = asyncio.Event()

    async def life_send(message: Message) -> None:
        if message["type"].startswith("lifespan.startup"):
            ready.set()

    life = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, life_send))
    await inbox.put({"type": "lifespan.startup"})
    await ready.wait()
    first = await call(app, dict(scope), body)
    assert first[0]["status"] == 200, first
    for _ in range(50):  # warm: caches, the pool's threads
        await call(app, dict(scope), body)
    best = None
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(requests):
            await call(app, dict(scope), body)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        best = cpu if best is None else min(best, cpu)
        print(
            f"  {requests} x {method} {path}: {cpu / requests * 1e6:6.0f} us CPU, {wall / requests * 1e6:6.0f} us wall each"
        )
    assert best is not None
    print(f"  best: {best / requests * 1e6:.0f} us CPU per request ({len(first[1]['body'])} bytes answered)")
    await inbox.put({"type": "lifespan.shutdown"})
    await life


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="status")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="orch-bench-webapp-", dir="/var/tmp"))
    try:
        true = shutil.which("true") or "/bin/true"
        config = root / "orch.yaml"
        config.write_text(
            f'agent:\n  command: ["{true}"]\n  timeout_s: 30\npaths:\n  state_dir: {root / "state"}\n'
        )
        (root / "tasks").mkdir()
        (root / "tasks" / "today.md").write_text(task_file(10))
        orch = str(Path(sys.executable).with_name("orch"))
        env = {**os.environ, "ORCH_CONFIG": str(config)}  # noqa: TID251 - the child reads it
        subprocess.run([orch, "run", "tasks/today.md"], cwd=root, env=env, check=True, capture_output=True)
        os.chdir(root)
        from apps.bootstrap import build_runtime
        from apps.settings import load_settings
        from apps.web.app import create_app

        runtime = build_runtime(load_settings(str(config), environ={}))
        app = create_app(runtime, secret=SECRET)
        print(f"{args.endpoint}: a 10-task session waiting for approval, in-process ASGI app")
        asyncio.run(measure(app, args.endpoint, args.requests, args.rounds))
        runtime.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
