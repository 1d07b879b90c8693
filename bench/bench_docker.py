"""What running an attempt in a Docker container costs beside running it here: a command that
does nothing (`true`), one that prints N lines, and a timeout's stop, on the Docker executor
(a private real dockerd, started and wiped by this script) and on the local executor.

Prints medians over N runs and the docker/local ratios; asserts nothing. Root and Debian's
docker.io are needed (scripts/start-dockerd.sh installs it when missing).
Usage: python bench/bench_docker.py [--runs N] [--lines N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from adapters.docker.executor import from_config
from adapters.process.executor import LocalExecutor
from orchcore.ports.executor import ExecSpec, Executor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the private dockerd lives in tests/

from tests.integration.docker.daemon import build_test_image, running_dockerd


def timed(executor: Executor, work: Path, script: str, *, timeout_s: float = 60) -> float:
    spec = ExecSpec(
        argv=("sh", "-c", script),
        cwd=executor.prepare(str(work)),
        env={"PATH": "/usr/bin:/bin"},
        log_path=str(work.parent / "bench.log"),
        timeout_s=timeout_s,
    )
    started = time.perf_counter()
    executor.run(spec, lambda _: None, lambda: None)
    return time.perf_counter() - started


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lines", type=int, default=10_000)
    args = parser.parse_args()
    with running_dockerd() as daemon, tempfile.TemporaryDirectory(prefix="bench-docker.") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        image = build_test_image(daemon.base_url)
        docker_ex = from_config({"kind": "docker", "image": image, "host": daemon.base_url})
        local = LocalExecutor()
        cases = {
            "true": ("true", 60.0),
            f"{args.lines} lines": (f"seq 1 {args.lines}", 60.0),
            "timeout 1 s (sleep 60)": ("sleep 60", 1.0),
        }
        print(f"{'case':<26}{'local s':>10}{'docker s':>10}{'ratio':>8}{'docker - local s':>18}")
        for name, (script, timeout_s) in cases.items():
            here = median(args.runs, lambda s=script, t=timeout_s: timed(local, work, s, timeout_s=t))
            there = median(args.runs, lambda s=script, t=timeout_s: timed(docker_ex, work, s, timeout_s=t))
            print(f"{name:<26}{here:>10.3f}{there:>10.3f}{there / here:>8.1f}{there - here:>18.3f}")


if __name__ == "__main__":
    main()
