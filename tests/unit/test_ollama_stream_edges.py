"""Answers a real server rarely sends, through httpx.MockTransport: a stream cut before its
``done`` line, a line that is not JSON, and a line whose fields are not Ollama's."""

from __future__ import annotations

import json

import httpx
import pytest

from adapters.ollama import OllamaSupervisor, ollama_client
from orchcore.ports.supervisor import JudgeRequest, JudgeUnavailable, Verdict
from orchcore.testing import FakeClock

MODEL = "qwen2.5-coder:32b"
REQUEST = JudgeRequest("t1", 1, (), "Review.", "# Task t1\n")
SHOW = {"model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}}
GOOD = json.dumps({"overall": "met", "critique": ""})


def chunk(content: str, *, done: bool = False) -> str:
    line = {"model": MODEL, "message": {"role": "assistant", "content": content}, "done": done}
    return json.dumps({**line, "done_reason": "stop", "prompt_eval_count": 9} if done else line)


def judge_with(*bodies: str) -> tuple[OllamaSupervisor, list[httpx.Request]]:
    """A judge whose chats get ``bodies`` in turn (NDJSON text), and the requests it sent."""
    seen: list[httpx.Request] = []
    replies = list(bodies)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/api/show":
            return httpx.Response(200, json=SHOW)
        return httpx.Response(200, text=replies.pop(0), headers={"content-type": "application/x-ndjson"})

    client = ollama_client("http://ollama.test:11434", 5.0, transport=httpx.MockTransport(handler))
    return OllamaSupervisor(client, MODEL, clock=FakeClock(), host="http://ollama.test:11434"), seen


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (chunk('{"overall": "met", ') + "\n", "ended before its last line"),
        (chunk("{") + "\n{not json\n", "not Ollama's JSON on /api/chat"),
        (json.dumps({"model": MODEL, "message": 5, "done": True}) + "\n", "not Ollama's JSON on /api/chat"),
    ],
)
def test_a_broken_stream_is_a_failed_try_that_is_retried(body: str, reason: str) -> None:
    judge, seen = judge_with(body, chunk(GOOD) + "\n" + chunk("", done=True) + "\n")
    with judge:
        outcome = judge.judge(REQUEST)
    assert isinstance(outcome, Verdict), outcome
    assert outcome.prompt_tokens == 9
    assert [r.url.path for r in seen] == ["/api/show", "/api/chat", "/api/chat"]

    judge, _ = judge_with(body, body, body)
    with judge:
        failed = judge.judge(REQUEST)
    assert isinstance(failed, JudgeUnavailable)
    assert reason in failed.reason
