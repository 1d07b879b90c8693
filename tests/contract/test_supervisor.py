"""The Supervisor contract on the Ollama adapter (the real ``ollama`` client against a loopback
fake Ollama server) and on the scripted supervisor that unit tests of the pipeline use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.ollama import OllamaSupervisor, ollama_client
from orchcore.ports.supervisor import CriterionVerdict, Judgement, JudgeUnavailable, Supervisor, Verdict
from orchcore.testing import FakeClock, ScriptedSupervisor
from orchcore.testing.contracts import SupervisorContract, SupervisorFactory
from orchcore.testing.contracts.supervisor import request
from tests.fakes.ollama_api import Answer, FakeOllama, agreeing
from tests.fakes.webhook_receiver import free_port

pytestmark = pytest.mark.integration

MODEL = "qwen2.5-coder:32b"


class TestOllamaSupervisor(SupervisorContract):
    @pytest.fixture
    def make_supervisor(self) -> Iterator[SupervisorFactory]:
        fakes: list[FakeOllama] = []
        made: list[OllamaSupervisor] = []

        def make(scenario: str) -> Supervisor:
            if scenario == "down":
                host = f"http://127.0.0.1:{free_port()}"  # nothing listens there: refused
            else:
                fake = {
                    "up": lambda: FakeOllama(then=agreeing("met")),
                    "garbled": lambda: FakeOllama(then=Answer("Looks good to me!")),
                    "misconfigured": lambda: FakeOllama(models=[]),  # the model is not pulled
                }[scenario]().start()
                fakes.append(fake)
                host = fake.url
            supervisor = OllamaSupervisor(
                ollama_client(host, timeout_s=5.0), MODEL, clock=FakeClock(), host=host, retries=2
            )
            made.append(supervisor)
            return supervisor

        yield make
        for supervisor in made:
            supervisor.close()
        for fake in fakes:
            fake.stop()


class TestScriptedSupervisor(SupervisorContract):
    @pytest.fixture
    def make_supervisor(self) -> SupervisorFactory:
        def make(scenario: str) -> Supervisor:
            if scenario == "up":
                return ScriptedSupervisor.always(Judgement.MET)
            if scenario == "down":
                return ScriptedSupervisor.always(JudgeUnavailable("scripted: down"), window=None)
            wrong = Verdict(Judgement.MET, (CriterionVerdict("something else", Judgement.MET),))
            if scenario == "garbled":
                return ScriptedSupervisor.always(wrong)
            return ScriptedSupervisor.always(JudgeUnavailable("scripted: no model", hint="pull one"))

        return make


# -- the scripted supervisor only -------------------------------------------------------


def test_scripted_steps_are_played_in_order_then_the_default_answers() -> None:
    supervisor = ScriptedSupervisor([Judgement.NOT_MET, JudgeUnavailable("busy")])
    first = supervisor.judge(request())
    assert isinstance(first, Verdict)
    assert first.overall is Judgement.NOT_MET
    assert {c.judgement for c in first.criteria} == {Judgement.NOT_MET}
    assert supervisor.judge(request()) == JudgeUnavailable("busy")
    exhausted = supervisor.judge(request())
    assert isinstance(exhausted, JudgeUnavailable)
    assert "used up" in exhausted.reason
    assert len(supervisor.requests) == 3


def test_scripted_verdict_on_other_criteria_is_refused_like_a_bad_answer() -> None:
    wrong = Verdict(Judgement.MET, (CriterionVerdict("not asked", Judgement.MET),))
    outcome = ScriptedSupervisor([wrong]).judge(request(("asked",)))
    assert isinstance(outcome, JudgeUnavailable)
    assert "not asked" in outcome.reason


def test_scripted_step_may_be_made_from_the_request() -> None:
    def by_attempt(req: object) -> Judgement:
        return Judgement.MET if getattr(req, "attempt", 0) > 1 else Judgement.NOT_MET

    supervisor = ScriptedSupervisor.always(by_attempt)
    first, second = supervisor.judge(request(attempt=1)), supervisor.judge(request(attempt=2))
    assert isinstance(first, Verdict)
    assert isinstance(second, Verdict)
    assert (first.overall, second.overall) == (Judgement.NOT_MET, Judgement.MET)
