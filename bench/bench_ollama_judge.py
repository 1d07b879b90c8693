"""What one judgement costs: OllamaSupervisor.judge timed end to end through the real client.

Without --ollama the judge runs against the loopback fake Ollama of the test suite, which
answers at once. That measures orch's own cost per judgement (schema, client, NDJSON
parsing, verdict), streaming against one non-streaming chat of the same answer, and the
cost of one chunk per token. With --ollama URL --model M it times a real server and model
(the figure docs/supervisor.md asks for: seconds per task on the user's GPU), and prints
the server's own token counts and speeds. Prints figures; asserts nothing.

Usage: python bench/bench_ollama_judge.py [--calls 30] [--criteria 5] [--ollama URL --model M]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.fakes, from a checkout

import ollama
from tests.fakes.ollama_api import Answer, FakeOllama, verdict_json

from adapters.ollama import OllamaSupervisor, ollama_client
from adapters.ollama.schema import verdict_schema
from orchcore.ports.supervisor import JudgeRequest, Verdict

MODEL = "qwen2.5-coder:32b"


class WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def request(n: int) -> JudgeRequest:
    criteria = tuple(
        f"criterion {i}: the change does thing number {i} and its test covers it" for i in range(n)
    )
    diff = "\n".join(f"+ line {i} of the change" for i in range(200))
    return JudgeRequest(
        task_id="bench",
        attempt=1,
        criteria=criteria,
        system="You review a coding agent's work against acceptance criteria. Be strict.",
        prompt="# Task: add --dry-run\n\n## Acceptance criteria\n"
        + "\n".join(f"- {c}" for c in criteria)
        + f"\n\n## Diff\n{diff}\n",
    )


def interleaved(calls: int, fns: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Each function timed ``calls`` times, round-robin, so load on the machine hits all alike."""
    out: dict[str, list[float]] = {label: [] for label in fns}
    for _ in range(calls):
        for label, fn in fns.items():
            start = time.perf_counter()
            fn()
            out[label].append(time.perf_counter() - start)
    return out


def show(label: str, times: list[float]) -> float:
    p50 = statistics.median(times)
    print(f"{label:48s} p50 {p50 * 1000:8.2f} ms   max {max(times) * 1000:8.2f} ms   ({len(times)} calls)")
    return p50


def against_fake(calls: int, criteria: int) -> None:
    req = request(criteria)
    content = verdict_json(req.criteria, "met", "Looks complete.")
    tokens = max(1, len(content) // 4)  # about a token per 4 characters: the chunks a real stream has
    messages = [{"role": "user", "content": req.prompt}]
    schema = verdict_schema(req.criteria)
    with (
        FakeOllama(then=Answer(content, chunks=1)) as one,
        FakeOllama(then=Answer(content, chunks=tokens)) as many,
    ):
        judge_one = OllamaSupervisor(ollama_client(one.url, 30.0), clock=WallClock(), host=one.url)
        judge_many = OllamaSupervisor(ollama_client(many.url, 30.0), clock=WallClock(), host=many.url)
        client = ollama.Client(host=one.url)
        judge_one.context_window()
        judge_many.context_window()
        times = interleaved(
            calls,
            {
                "raw client.chat(stream=False)": lambda: client.chat(MODEL, messages, format=schema),
                "raw client.chat(stream=True), 1 chunk": lambda: list(
                    client.chat(MODEL, messages, format=schema, stream=True)
                ),
                "judge(), 1 chunk": lambda: judge_one.judge(req),
                f"judge(), {tokens} chunks (1 per token)": lambda: judge_many.judge(req),
            },
        )
        for closer in (judge_one.close, judge_many.close, client.close):
            closer()
    p50 = {label: show(label, t) for label, t in times.items()}
    plain, raw_stream, judged, per_token = p50.values()
    print(f"\nstreaming vs not, raw client:  {raw_stream / plain:.2f}x")
    print(f"judge() vs the raw stream:     {judged / raw_stream:.2f}x (schema, prompt, parsing the verdict)")
    per_chunk = (per_token - judged) / max(1, tokens - 1)
    print(f"per streamed chunk:            {per_chunk * 1e6:.0f} us (a 32B model takes ~25,000 us per token)")


def against_server(url: str, model: str, calls: int, criteria: int) -> None:
    req = request(criteria)
    judge = OllamaSupervisor(ollama_client(url, 300.0), model, clock=WallClock(), host=url, retries=0)
    print(f"context window: {judge.context_window()}")
    times, prompt_tokens = [], []
    for i in range(calls):
        start = time.perf_counter()
        outcome = judge.judge(req)
        times.append(time.perf_counter() - start)
        if isinstance(outcome, Verdict):
            prompt_tokens.append(outcome.prompt_tokens or 0)
            print(
                f"call {i + 1}: {times[-1]:.2f} s, {outcome.overall.value}, prompt {outcome.prompt_tokens} tokens"
            )
        else:
            print(f"call {i + 1}: {times[-1]:.2f} s, no verdict: {outcome.reason}")
    judge.close()
    show(f"judge() on {model}", times)
    print(f"first call (may include loading the model): {times[0]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--criteria", type=int, default=5)
    parser.add_argument("--ollama", help="a real Ollama server, e.g. http://127.0.0.1:11434")
    parser.add_argument("--model", default="qwen2.5-coder:32b")
    args = parser.parse_args()
    if args.ollama:
        against_server(args.ollama, args.model, args.calls, args.criteria)
    else:
        against_fake(args.calls, args.criteria)


if __name__ == "__main__":
    main()
