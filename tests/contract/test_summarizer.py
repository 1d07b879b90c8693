"""The Summarizer contract on the Ollama adapter (the real ``ollama`` client against the loopback
fake Ollama server) and on the scripted summarizer unit tests use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.ollama import OllamaSummarizer, ollama_client
from orchcore.ports.summarizer import Summarizer, Summary, SummaryUnavailable
from orchcore.testing import ScriptedSummarizer
from orchcore.testing.contracts import SummarizerContract, SummarizerFactory
from orchcore.testing.contracts.summarizer import REQUEST
from tests.fakes.ollama_api import Answer, FakeOllama
from tests.fakes.webhook_receiver import free_port

pytestmark = pytest.mark.integration

MODEL = "qwen2.5-coder:32b"


class TestOllamaSummarizer(SummarizerContract):
    @pytest.fixture
    def make_summarizer(self) -> Iterator[SummarizerFactory]:
        fakes: list[FakeOllama] = []
        made: list[OllamaSummarizer] = []

        def make(scenario: str) -> Summarizer:
            if scenario == "down":
                host = f"http://127.0.0.1:{free_port()}"
            else:
                fake = FakeOllama(then=lambda _: Answer("- two tasks done\n- one failed twice")).start()
                fakes.append(fake)
                host = fake.url
            summarizer = OllamaSummarizer(ollama_client(host, timeout_s=5.0), MODEL, host=host)
            made.append(summarizer)
            return summarizer

        yield make
        for summarizer in made:
            summarizer.close()
        for fake in fakes:
            fake.stop()


class TestScriptedSummarizer(SummarizerContract):
    @pytest.fixture
    def make_summarizer(self) -> SummarizerFactory:
        def make(scenario: str) -> Summarizer:
            if scenario == "down":
                return ScriptedSummarizer(SummaryUnavailable("scripted: down"))
            return ScriptedSummarizer()

        return make


def test_ollama_is_asked_with_the_facts_at_temperature_0_and_a_bounded_answer() -> None:
    with FakeOllama(then=lambda _: Answer("- fine")) as fake:
        summarizer = OllamaSummarizer(ollama_client(fake.url, timeout_s=5.0), MODEL, host=fake.url)
        answer = summarizer.summarize(REQUEST)
        summarizer.close()
        [chat] = fake.chats
    assert answer == Summary("- fine", MODEL)
    body = chat.json
    assert body["messages"] == [
        {"role": "system", "content": REQUEST.system},
        {"role": "user", "content": REQUEST.prompt},
    ]
    assert body["options"]["temperature"] == 0
    assert body["options"]["num_predict"] > 0


def test_a_model_that_is_not_pulled_says_how_to_pull_it() -> None:
    with FakeOllama(models=[]) as fake:
        summarizer = OllamaSummarizer(ollama_client(fake.url, timeout_s=5.0), MODEL, host=fake.url)
        answer = summarizer.summarize(REQUEST)
        summarizer.close()
    assert isinstance(answer, SummaryUnavailable)
    assert "is not pulled" in answer.reason
    assert answer.hint == f"ollama pull {MODEL}"


def test_credentials_in_the_host_never_reach_the_reason() -> None:
    host = f"http://orch:s3cret-pw@127.0.0.1:{free_port()}"
    summarizer = OllamaSummarizer(ollama_client(host, timeout_s=2.0), MODEL, host=host)
    answer = summarizer.summarize(REQUEST)
    summarizer.close()
    assert isinstance(answer, SummaryUnavailable)
    assert "s3cret-pw" not in answer.reason + answer.hint
    assert "not reachable" in answer.reason
