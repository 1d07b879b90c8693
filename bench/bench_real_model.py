"""The real-model test path, timed: installing the model (cached, and with --cold from the
registries into a temporary dir), starting the Ollama shim (model load), and seconds per
schema-constrained verdict through the official ollama client, with the model's tok/s.

Also the prompt evaluation speed of a diff-sized prompt (what a judge's prompt costs before
its first token). Prints medians, and start-up plus the first verdict against the 60 s the real-model test may take
in CI; asserts nothing. The machine's load moves every figure: compare runs taken together.
Usage: python bench/bench_real_model.py [--verdicts N] [--threads T] [--cold]
"""

from __future__ import annotations

import argparse
import os
import selectors
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import ollama

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "scripts" / "install-local-model.sh"
SHIM = ROOT / "scripts" / "ollama-shim" / "server.mjs"
CI_BUDGET_S = 60.0
JUDGEMENT = {"type": "string", "enum": ["met", "not_met", "unsure"]}
CRITERION = {
    "type": "object",
    "properties": {"judgement": JUDGEMENT, "reason": {"type": "string", "maxLength": 48}},
    "required": ["judgement", "reason"],
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "criteria": {
            "type": "object",
            "properties": {"c1": CRITERION, "c2": CRITERION},
            "required": ["c1", "c2"],
        },
        "overall": JUDGEMENT,
        "critique": {"type": "string", "maxLength": 96},
    },
    "required": ["criteria", "overall", "critique"],
}
CASES = (
    "Gate results: python -m pytest -q: 3 failed, 9 passed.\nAgent's final message: Done.",
    "Gate results: python -m pytest -q: 12 passed.\nAgent's final message: I added ISO parsing and two tests.",
    "Gate results: none ran.\nAgent's final message: Should I also handle time zones?",
)


def install(env: dict[str, str] | None = None) -> tuple[float, dict[str, str]]:
    started = time.perf_counter()
    done = subprocess.run([str(INSTALL), "--paths"], capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - started, dict(line.split("=", 1) for line in done.stdout.splitlines())


def start(paths: dict[str, str], threads: int) -> tuple[subprocess.Popen[str], str, float]:
    started = time.perf_counter()
    command = [
        "node",
        str(SHIM),
        "--runtime",
        paths["runtime"],
        "--model",
        paths["model"],
        "--threads",
        str(threads),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.select(timeout=120)
        url = process.stdout.readline().removeprefix("listening on ").strip()
    httpx.get(f"{url}/api/version", timeout=10).raise_for_status()
    return process, url, time.perf_counter() - started


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


def verdict(client: ollama.Client, case: str) -> tuple[float, ollama.ChatResponse]:
    started = time.perf_counter()
    answer = client.chat(
        model="smollm2:135m",
        messages=[
            {
                "role": "system",
                "content": "You check a coding agent's work against acceptance criteria. Answer in JSON.",
            },
            {
                "role": "user",
                "content": "Task: add ISO date parsing to parse_date.\nCriteria:\nc1. parse_date accepts ISO 8601 dates\n"
                f"c2. the test suite passes\n{case}",
            },
        ],
        format=SCHEMA,
        options={"temperature": 0, "seed": 7, "num_ctx": 2048},
    )
    return time.perf_counter() - started, answer


def prompt_rate(client: ollama.Client, lines: int) -> tuple[int, float]:
    """Prompt tokens and their evaluation speed for a long, uncached prompt (a diff-sized text)."""
    diff = "\n".join(f"+    value_{i} = compute(value_{i - 1}, {i})  # line {i}" for i in range(lines))
    answer = client.chat(
        model="smollm2:135m",
        messages=[{"role": "user", "content": f"run {time.time_ns()}\n{diff}\nSummarise the diff."}],
        options={"temperature": 0, "num_predict": 1, "num_ctx": 4096},
    )
    tokens = answer.prompt_eval_count or 0
    return tokens, tokens / ((answer.prompt_eval_duration or 1) / 1e9)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verdicts", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--cold", action="store_true", help="also install from the registries into a temp dir"
    )
    options = parser.parse_args()

    if options.cold:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,  # noqa: TID251 - npm and pip need the user's PATH, HOME and proxy settings
                "LOCAL_MODEL_TOOLS_DIR": tmp,
                "npm_config_cache": f"{tmp}/npm-cache",
                "PIP_NO_CACHE_DIR": "1",
            }
            cold, _ = install(env)
        print(f"install, cold (npm + PyPI downloads): {cold:6.1f} s")
    install()
    cached = statistics.median(install()[0] for _ in range(5))
    paths = install()[1]
    print(f"install, cached:                       {cached * 1000:6.0f} ms")

    process, url, load = start(paths, options.threads)
    try:
        with ollama.Client(host=url, timeout=300) as client:
            first, _ = verdict(client, CASES[0])  # builds the 2048-token context first
            timed = [verdict(client, CASES[i % len(CASES)]) for i in range(options.verdicts)]
            prompt_rate(client, 10)  # builds the 4096-token context
            long_prompt, prompt_speed = prompt_rate(client, 100)
    finally:
        stop(process)
    seconds = [s for s, _ in timed]
    tokens = [a.eval_count or 0 for _, a in timed]
    rates = [(a.eval_count or 0) / (a.eval_duration or 1) * 1e9 for _, a in timed]
    per_verdict = statistics.median(seconds)
    print(f"shim start (model load, threads={options.threads}):   {load:6.2f} s")
    print(f"first verdict (context created):       {first:6.2f} s")
    print(
        f"seconds per verdict (median of {len(seconds)}):     {per_verdict:6.2f} s  (min {min(seconds):.2f}, max {max(seconds):.2f})"
    )
    print(f"tokens per verdict (median):           {statistics.median(tokens):6.0f}")
    print(f"generation speed (median):             {statistics.median(rates):6.1f} tok/s")
    print(f"prompt evaluation ({long_prompt} tokens, uncached): {prompt_speed:6.1f} tok/s")
    share = (load + first) / CI_BUDGET_S
    print(
        f"shim start + first verdict:            {load + first:6.2f} s = {share:.2f} x the {CI_BUDGET_S:.0f} s CI budget"
    )


if __name__ == "__main__":
    main()
