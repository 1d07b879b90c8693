"""The Drafter contract on the Ollama adapter (the real ``ollama`` client against a loopback fake
Ollama server) and on the scripted drafter that unit tests of ``orch plan`` use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.ollama import OllamaDrafter, ollama_client
from orchcore.ports.drafter import Drafter, DrafterUnavailable
from orchcore.testing import ScriptedDrafter
from orchcore.testing.contracts import DrafterContract, DrafterFactory
from tests.fakes.ollama_api import Answer, FakeOllama
from tests.fakes.webhook_receiver import free_port

MODEL = "qwen2.5-coder:32b"


class TestOllamaDrafter(DrafterContract):
    pytestmark = pytest.mark.integration

    @pytest.fixture
    def make_drafter(self) -> Iterator[DrafterFactory]:
        fakes: list[FakeOllama] = []
        made: list[OllamaDrafter] = []

        def make(scenario: str) -> Drafter:
            if scenario == "down":
                host = f"http://127.0.0.1:{free_port()}"
            else:
                fake = FakeOllama(then=Answer("# Tasks\n")) if scenario == "up" else FakeOllama(models=[])
                fakes.append(fake.start())
                host = fake.url
            drafter = OllamaDrafter(ollama_client(host, timeout_s=5.0), MODEL, host=host)
            made.append(drafter)
            return drafter

        yield make
        for drafter in made:
            drafter.close()
        for fake in fakes:
            fake.stop()


class TestScriptedDrafter(DrafterContract):
    @pytest.fixture
    def make_drafter(self) -> DrafterFactory:
        def make(scenario: str) -> Drafter:
            if scenario == "up":
                return ScriptedDrafter(then="# Tasks\n")
            if scenario == "down":
                return ScriptedDrafter(then=DrafterUnavailable("scripted: down"))
            return ScriptedDrafter(then=DrafterUnavailable("scripted: no model", "pull one"))

        return make
