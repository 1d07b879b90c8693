"""The fake Ollama server speaks the wire protocol the official client reads (so the adapter's
tests test the adapter, not a misunderstanding): each endpoint through the real client or httpx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.fakes.ollama_api import QUEUE_FULL, VERSION, Answer, ErrorMidStream, Fail, FakeOllama, Model

pytestmark = pytest.mark.integration

MODEL = "qwen2.5-coder:32b"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(
        models=[Model(MODEL), Model("llama3.2:1b", architecture="llama", context_length=131072)]
    ) as f:
        yield f


@pytest.fixture
def client(fake: FakeOllama) -> Iterator[ollama.Client]:
    with ollama.Client(host=fake.url, timeout=httpx.Timeout(5.0)) as c:
        yield c


def test_root_and_version_answer_like_ollama(fake: FakeOllama) -> None:
    with httpx.Client(base_url=fake.url) as http:
        assert http.get("/").text == "Ollama is running"
        assert http.get("/api/version").json() == {"version": VERSION}


def test_tags_and_show_parse_in_the_client(client: ollama.Client) -> None:
    names = [m.model for m in client.list().models]
    assert names == [MODEL, "llama3.2:1b"]
    shown = client.show("llama3.2:1b")
    assert shown.modelinfo is not None
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.modelinfo["llama.context_length"] == 131072


def test_a_non_streaming_chat_is_one_object_with_the_stats(fake: FakeOllama, client: ollama.Client) -> None:
    fake.play(Answer('{"ok": true}', prompt_eval_count=11, eval_count=5))
    reply = client.chat(MODEL, HELLO, format={"type": "object"}, options={"temperature": 0}, keep_alive="5m")
    assert reply.message.content == '{"ok": true}'
    assert (reply.done, reply.done_reason, reply.prompt_eval_count, reply.eval_count) == (True, "stop", 11, 5)
    assert reply.eval_duration is not None
    assert reply.total_duration is not None
    assert reply.total_duration > reply.eval_duration > 0
    (chat,) = fake.chats
    assert chat.json["stream"] is False
    assert chat.json["keep_alive"] == "5m"
    assert chat.json["format"] == {"type": "object"}


def test_a_streamed_chat_is_ndjson_chunks_then_done(fake: FakeOllama) -> None:
    fake.play(Answer("abcdefghi", chunks=3))
    body = {"model": MODEL, "messages": HELLO, "stream": True}
    with httpx.Client(base_url=fake.url) as http, http.stream("POST", "/api/chat", json=body) as response:
        assert response.headers["content-type"] == "application/x-ndjson"
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert [line["message"]["content"] for line in lines] == ["abc", "def", "ghi", ""]
    assert [line["done"] for line in lines] == [False, False, False, True]
    assert lines[-1]["done_reason"] == "stop"
    assert {"prompt_eval_count", "eval_count", "eval_duration", "load_duration"} <= set(lines[-1])


def test_a_chat_with_no_messages_loads_the_model_and_takes_no_step(
    fake: FakeOllama, client: ollama.Client
) -> None:
    fake.play(Answer("kept"))
    assert client.chat(MODEL, []).done_reason == "load"
    assert fake.remaining == 1


def test_a_model_not_pulled_gets_the_real_404_bodies(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as chat:
        client.chat("qwen2.5-coder:7b", HELLO)
    assert (chat.value.status_code, chat.value.error) == (
        404,
        'model "qwen2.5-coder:7b" not found, try pulling it first',
    )
    with pytest.raises(ollama.ResponseError) as show:
        client.show("qwen2.5-coder:7b")
    assert (show.value.status_code, show.value.error) == (404, "model 'qwen2.5-coder:7b' not found")


def test_an_error_line_mid_stream_raises_in_the_client_with_no_status(
    fake: FakeOllama, client: ollama.Client
) -> None:
    fake.play(ErrorMidStream("boom"), ErrorMidStream("boom"))
    with pytest.raises(ollama.ResponseError) as raised:
        list(client.chat(MODEL, HELLO, stream=True))
    assert (raised.value.status_code, raised.value.error) == (-1, "boom")
    with pytest.raises(ollama.ResponseError) as plain:
        client.chat(MODEL, HELLO)  # non-streaming, the server answers 500 with the error
    assert (plain.value.status_code, plain.value.error) == (500, "boom")


def test_a_full_queue_is_a_503_and_an_exhausted_script_a_500(fake: FakeOllama, client: ollama.Client) -> None:
    fake.play(Fail.queue_full())
    with pytest.raises(ollama.ResponseError) as busy:
        client.chat(MODEL, HELLO)
    assert (busy.value.status_code, busy.value.error) == (503, QUEUE_FULL)
    with pytest.raises(ollama.ResponseError) as exhausted:
        client.chat(MODEL, HELLO)
    assert exhausted.value.status_code == 500
    assert fake.exhausted == 1
