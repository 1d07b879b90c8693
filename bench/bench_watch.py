"""Live file tracking: how soon a file an agent writes shows up, and what starting the watch costs.

For workspaces of 100 / 2,000 / 10,000 files (a tree of small source files, plus a .git and a
node_modules the watcher skips), prints the time to start watching (the baseline scan and the
inotify registration, paid once per session and workspace) and, over --writes writes of one file
each (a new file, then a change to a known one, alternating), the delay from the write to
``take()`` returning it: median, p95 and max, and the p95 against the 1 s target.

Then ``settle`` (what the engine calls as an attempt ends, so that what the agent wrote as it
exited is that attempt's): over --settles rounds, a file written and ``settle()`` called at once,
then one ``take()``: settle's median and p95, and how many writes that take missed. With
``--busy N``, N processes spin on the CPU meanwhile (a saturated machine). Asserts nothing.
Usage: python bench/bench_watch.py [--writes 60] [--sizes 100,2000,10000] [--settles 300] [--busy 0]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adapters.watch import WatchfilesWatcher

TARGET_S = 1.0


def _workspace(root: Path, files: int) -> None:
    for n in range(files):
        folder = root / "src" / f"pkg{n // 100}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{n}.py").write_text(f"VALUE = {n}\n")
    (root / ".git" / "objects").mkdir(parents=True)
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("module.exports = 1\n")


def _one(files: int, writes: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory(prefix="orch-bench-watch-") as tmp:
        root = Path(tmp)
        _workspace(root, files)
        started = time.perf_counter()
        watching = WatchfilesWatcher().watch(str(root))
        start_s = time.perf_counter() - started
        delays = []
        try:
            for n in range(writes):
                path = root / "src" / "pkg0" / (f"new{n}.py" if n % 2 == 0 else "m0.py")
                wrote = time.perf_counter()
                path.write_text(f"# write {n}\n")
                relative = path.relative_to(root).as_posix()
                while not any(change.path == relative for change in watching.take()):
                    if time.perf_counter() - wrote > 10:
                        print(f"  write {n} not seen within 10 s", file=sys.stderr)
                        break
                    time.sleep(0.002)
                delays.append(time.perf_counter() - wrote)
                time.sleep(0.05)  # the next write lands in its own debounce window
        finally:
            watching.close()
        return start_s, delays


def _settles(rounds: int, busy: int) -> tuple[list[float], int]:
    """Seconds per settle, and the writes a take right after it missed."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        with tempfile.TemporaryDirectory(prefix="orch-bench-settle-") as tmp:
            root = Path(tmp)
            _workspace(root, 100)
            watching = WatchfilesWatcher().watch(str(root))
            times, missed = [], 0
            try:
                for n in range(rounds):
                    relative = f"src/pkg0/exit{n}.txt"
                    (root / relative).write_text(f"written as the agent exits {n}\n")
                    started = time.perf_counter()
                    watching.settle()
                    times.append(time.perf_counter() - started)
                    if not any(change.path == relative for change in watching.take()):
                        missed += 1
            finally:
                watching.close()
            return times, missed
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=60)
    parser.add_argument("--sizes", default="100,2000,10000")
    parser.add_argument("--settles", type=int, default=300, help="settle rounds (0: skip)")
    parser.add_argument("--busy", type=int, default=0, help="CPU-spinning processes during the settles")
    args = parser.parse_args()
    print(f"{'files':>7}  {'start':>9}  {'median':>9}  {'p95':>9}  {'max':>9}  p95 vs {TARGET_S:g} s target")
    for files in (int(s) for s in args.sizes.split(",")):
        start_s, delays = _one(files, args.writes)
        delays.sort()
        p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
        verdict = "met" if p95 <= TARGET_S else "MISSED"
        print(
            f"{files:>7}  {start_s * 1000:>7.1f}ms  {statistics.median(delays) * 1000:>7.1f}ms  "
            f"{p95 * 1000:>7.1f}ms  {delays[-1] * 1000:>7.1f}ms  {p95 / TARGET_S:.3f}x ({verdict})"
        )
    if args.settles:
        times, missed = _settles(args.settles, args.busy)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(
            f"settle ({args.settles} rounds, {args.busy} busy process(es)): median "
            f"{statistics.median(times) * 1000:.1f}ms  p95 {p95 * 1000:.1f}ms  max {times[-1] * 1000:.1f}ms  "
            f"writes missed by the take after it: {missed}/{args.settles}"
        )


if __name__ == "__main__":
    main()
