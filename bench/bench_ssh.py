"""What running an attempt on an SSH host costs orch beside the command itself: copying the
workspace there (prepare), starting the command and killing nothing (run of ``true``), and bringing
the changes back (finish), against the local executor doing the same.

Starts its own sshd on 127.0.0.1 (tests/sshd.py: root, Debian openssh-server) and a workspace of
N files of 1 KiB in nested folders where the command changes 5. Prints medians and ratios; asserts
nothing. Usage: python bench/bench_ssh.py [--files N] [--attempts K]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.sshd, from a checkout

from tests.sshd import running_sshd

from adapters.process.executor import LocalExecutor
from adapters.ssh.connection import SshTarget
from adapters.ssh.executor import SshExecutor
from orchcore.ports.executor import ExecSpec

SCRIPT = "for i in 1 2 3 4 5; do echo changed >> d$i/f$i.txt; done"


def workspace(root: Path, files: int) -> None:
    for i in range(files):
        folder = root / f"d{i % 50}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.txt").write_bytes(b"x" * 1024)


def attempt(executor: LocalExecutor | SshExecutor, work: Path, log: Path) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    prepared = executor.prepare(str(work))
    t1 = time.perf_counter()
    spec = ExecSpec(
        argv=("sh", "-c", SCRIPT),
        cwd=prepared,
        env={"PATH": "/usr/bin:/bin"},
        log_path=str(log),
        timeout_s=60,
    )
    result = executor.run(spec, lambda line: None, lambda: None)
    assert result.exit_code == 0, result
    t2 = time.perf_counter()
    executor.finish(str(work), prepared)
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def measure(tmp: Path, files: int, attempts: int) -> dict[str, list[float]]:
    """Median prepare, run and finish seconds per executor."""
    (tmp / "sshd").mkdir()
    with running_sshd(tmp / "sshd") as sshd:
        work = tmp / "work"
        workspace(work, files)
        target = SshTarget(
            "127.0.0.1", sshd.user, port=sshd.port, key_file=sshd.key_file, known_hosts=sshd.known_hosts
        )
        ssh = SshExecutor(target, remote_dir=str(tmp / "remote"))
        ssh.check("sh", {})  # log in once: the connection is kept for every attempt
        rows: dict[str, list[float]] = {}
        for name, executor in (("local", LocalExecutor()), ("ssh", ssh)):
            times = [attempt(executor, work, tmp / f"{name}.log") for _ in range(attempts)]
            rows[name] = [statistics.median(t[i] for t in times) for i in range(3)]
        ssh.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--attempts", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(Path(tmp), args.files, args.attempts)
    print(f"{args.files} files of 1 KiB, 5 changed per attempt; medians of {args.attempts} attempts (ms)")
    print(f"{'':8}{'prepare':>10}{'run':>10}{'finish':>10}{'total':>10}")
    for name, (p, r, f) in rows.items():
        print(f"{name:8}{p * 1e3:10.1f}{r * 1e3:10.1f}{f * 1e3:10.1f}{(p + r + f) * 1e3:10.1f}")
    local, remote = sum(rows["local"]), sum(rows["ssh"])
    print(f"ssh / local: {remote / local:.1f}x; ssh overhead per attempt: {(remote - local) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
