"""Claude Code stream-json parsing speed: parse_line + StreamAccumulator over ~100k recorded lines.

The stream is the verbatim 2.1.197 write transcript (tests/data) repeated; the
baseline is bare ``json.loads`` of the same lines, to show the parser's own cost.
Prints events/s, lines/s and MB/s (median of several runs); asserts nothing.
Usage: python bench/bench_stream_parser.py [lines]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from adapters.claude_code.stream import StreamAccumulator, parse_line

TRANSCRIPT = Path(__file__).resolve().parent.parent / "tests" / "data" / "claude-code-2.1.197-write.ndjson"
RUNS = 5


def build_stream(target_lines: int) -> list[str]:
    lines = TRANSCRIPT.read_text(encoding="utf-8").splitlines()
    repeats = max(1, target_lines // len(lines))
    return lines * repeats


def parse_all(lines: list[str]) -> int:
    summary = StreamAccumulator()
    events = 0
    for line in lines:
        for event in parse_line(line):
            summary.feed(event)
            events += 1
    summary.outcome(0)
    return events


def loads_all(lines: list[str]) -> int:
    return sum(1 for line in lines if json.loads(line))


def timed(fn: Callable[[list[str]], int], lines: list[str]) -> tuple[float, int]:
    samples = []
    count = 0
    for _ in range(RUNS):
        start = time.perf_counter()
        count = fn(lines)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), count


def main() -> None:
    target = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    lines = build_stream(target)
    megabytes = sum(len(line.encode()) + 1 for line in lines) / 1e6
    print(f"stream: {len(lines):,} lines, {megabytes:.1f} MB (2.1.197 write transcript x{len(lines) // 5:,})")
    for name, fn in (("json.loads only", loads_all), ("parse_line + accumulator", parse_all)):
        seconds, count = timed(fn, lines)
        print(
            f"{name:26s} {seconds:6.3f} s  {count / seconds:>12,.0f} events/s  "
            f"{len(lines) / seconds:>10,.0f} lines/s  {megabytes / seconds:7.1f} MB/s"
        )


if __name__ == "__main__":
    main()
