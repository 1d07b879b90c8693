"""The Summarizer contract on the Ollama adapter (the real ``ollama`` client against the loopback
fake Ollama server) and on the scripted summarizer unit tests use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.ollama import OllamaSummarizer, ollama_client
from orchcore.ports.summarizer import Summarizer, SummaryUnavailable
from orchcore.testing import ScriptedSummarizer
from orchcore.testing.contracts import SummarizerContract, SummarizerFactory
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
