"""Gemini CLI's AfterModel hook: append the usage of each finished model response to a file.

``python -I -S usage_hook.py USAGE_DIR`` reads the hook input on stdin (``llm_response`` with
``candidates[].finishReason`` and ``usageMetadata``; the CLI calls it for every streamed chunk)
and, for the chunk that ends a response, appends ``{"input": N, "output": M, "total": T}`` as
one line to ``USAGE_DIR/<ORCHCORE_AGENT_RUN>.jsonl``, which the agent reads while the CLI runs:
the budget sees each response's cost as it ends, not only at the run's end. It prints nothing
and always exits 0 (a hook that fails must never stop the CLI). Standard library only, run
without ``site``: it starts on every chunk, so it starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RUN_VAR = "ORCHCORE_AGENT_RUN"


def usage_line(hook_input: str) -> str | None:
    """The line to append for this chunk, or None (not a response's end, or no usage)."""
    try:
        payload = json.loads(hook_input)
        response = payload["llm_response"]
        usage = response.get("usageMetadata") or {}
        ended = any(c.get("finishReason") for c in response.get("candidates") or [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    counts = {
        key: usage.get(name)
        for key, name in (("input", "promptTokenCount"), ("output", "candidatesTokenCount"))
    }
    counts["total"] = usage.get("totalTokenCount")
    if not ended or not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values()):
        return None
    return json.dumps(counts)


def main(argv: list[str]) -> int:
    """Run as the hook; exits 0 whatever happens."""
    run = os.environ.get(RUN_VAR, "")  # noqa: TID251 - a hook is its own process: its environment is its input
    if len(argv) != 1 or not run.isalnum():
        return 0
    line = usage_line(sys.stdin.read())
    if line is not None:
        try:
            with (Path(argv[0]) / f"{run}.jsonl").open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
