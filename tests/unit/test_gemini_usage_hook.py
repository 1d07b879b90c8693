"""Gemini's AfterModel usage hook and the agent's reading of its file: one line per finished
response, nothing for the chunks before it, never a crash on what the CLI sends."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.gemini.agent import UsageFile
from adapters.gemini.events import RunTally
from adapters.gemini.usage_hook import usage_line


def chunk(finish: str | None, usage: dict[str, int] | None) -> str:
    candidate: dict[str, object] = {"content": {"role": "model", "parts": ["hi"]}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    response: dict[str, object] = {"candidates": [candidate]}
    if usage is not None:
        response["usageMetadata"] = usage
    return json.dumps({"hook_event_name": "AfterModel", "llm_request": {}, "llm_response": response})


USAGE = {"promptTokenCount": 1200, "candidatesTokenCount": 30, "totalTokenCount": 1290}


def test_only_the_chunk_that_ends_a_response_with_its_usage_is_a_line() -> None:
    assert usage_line(chunk(None, None)) is None  # a chunk mid-response
    assert usage_line(chunk(None, USAGE)) is None
    assert usage_line(chunk("STOP", None)) is None
    assert json.loads(usage_line(chunk("STOP", USAGE)) or "") == {"input": 1200, "output": 30, "total": 1290}


@given(
    st.text(max_size=200)
    | st.recursive(st.none() | st.integers() | st.text(max_size=5), st.lists, max_leaves=5).map(json.dumps)
)
def test_the_hook_never_raises_on_what_it_reads(text: str) -> None:
    usage_line(text)


def test_the_agent_reads_complete_lines_once_and_prices_thinking_as_output(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    file = UsageFile(path)
    assert file.new() == []  # not there yet
    path.write_text('{"input": 1200, "output": 30, "total": 1290}\n{"input": 5, "outp')
    assert file.new() == [(1200, 30, 1290)]
    with path.open("a") as out:
        out.write('ut": 1, "total": 6}\nnot json\n')
    assert file.new() == [(5, 1, 6)]
    assert file.new() == []
    report = RunTally(model="gemini-2.5-flash").response_usage(1200, 30, 1290)
    assert report.output_tokens == 90  # 30 candidates + 60 thinking, both billed as output
    assert report.cost_usd == (1200 * Decimal("0.30") + 90 * Decimal("2.50")) / 1_000_000
