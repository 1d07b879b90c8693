"""The dashboard's speed as a browser sees it, against a real `orch serve` (SQLite, log files,
the command agent, uvicorn on 127.0.0.1; in this process, so the client shares its CPU).

1. SSE latency: the agent prints ``time.time()`` every 100 ms; each line travels agent stdout ->
   the attempt's log file -> the output stream (which polls every 250 ms) -> this client, which
   prints how old each line is on arrival (p50/p99/max).
2. Page render: ``GET /ui/`` of a 10-task session with a login cookie, one request after another.

Asserts nothing. Usage: python bench/bench_dashboard.py [--lines 40] [--pages 200]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from apps.settings import load_settings  # noqa: E402
from apps.web.server import prepare  # noqa: E402

SECRET = "bench-secret-0123456789"  # a throwaway secret for a local bench

AGENT = """\
import sys, time
prompt = sys.stdin.read()
if "Ticker" in prompt:
    for _ in range({lines}):
        print(repr(time.time()), flush=True)
        time.sleep(0.1)
"""


def task_file(n: int) -> str:
    parts = ["# Tasks - bench\n", "## Task 1: Ticker\n**Claude Instruction:**\ntick\n"]
    parts += [f"---\n## Task {i}: Task number {i}\n**Claude Instruction:**\nwork\n" for i in range(2, n + 1)]
    return "\n".join(parts)


def stats(name: str, values_ms: list[float]) -> None:
    values = sorted(values_ms)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    print(
        f"{name}: n={len(values)} p50={statistics.median(values):.1f} ms p99={p99:.1f} ms max={values[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        base = Path(tmp)
        (base / "agent.py").write_text(AGENT.format(lines=args.lines))
        (base / "tasks").mkdir()
        (base / "tasks" / "bench.md").write_text(task_file(10))
        (base / "orch.yaml").write_text(
            f"approval:\n  mode: auto\npaths:\n  state_dir: {base / 'state'}\n"
            f"agent:\n  name: command\n  command: [{sys.executable}, {base / 'agent.py'}]\n  timeout_s: 120\n"
        )
        settings = load_settings(str(base / "orch.yaml"), environ={})
        ready = prepare(
            settings,
            "127.0.0.1",
            0,
            False,
            environ={"ORCH_WEBHOOK_SECRET": SECRET},
            access_log=False,
            log_config=None,
        )
        thread = threading.Thread(target=ready.run, daemon=True)
        thread.start()
        while not ready.server.started:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{ready.port}"
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                form = http.get("/ui/login").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', form)
                assert csrf
                http.post("/ui/login", data={"csrf": csrf.group(1), "secret": SECRET})
                start = http.post(
                    "/webhook/start", json={"file": "bench.md"}, headers={"X-Orch-Secret": SECRET}
                )
                sid = start.json()["session"]["id"]
                while ready.runtime.store.load(sid).runs["1"].attempt == 0:
                    time.sleep(0.01)
                ages: list[float] = []
                with http.stream("GET", f"/ui/live/{sid}/1/1") as stream:
                    event = ""
                    for line in stream.iter_lines():
                        if line.startswith("event: "):
                            event = line[7:]
                        elif line.startswith("data: ") and event == "line":
                            ages.append((time.time() - float(line[6:])) * 1000)
                        elif line.startswith("data: ") and event == "end":
                            break
                stats("SSE line latency (agent print -> client)", ages)
                while ready.runtime.store.session(sid).state.value == "running":
                    time.sleep(0.05)
                renders: list[float] = []
                for _ in range(args.pages):
                    t0 = time.perf_counter()
                    page = http.get(f"/ui/?session={sid}")
                    renders.append((time.perf_counter() - t0) * 1000)
                    assert page.status_code == 200
                stats(f"page render GET /ui/ (10 tasks, {len(page.content)} bytes)", renders)
        finally:
            ready.server.should_exit = True
            thread.join(20)


if __name__ == "__main__":
    main()
