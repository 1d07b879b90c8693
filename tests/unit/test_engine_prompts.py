"""The engine's prompts: context files read when the attempt starts, cuts recorded as an event,
and the judge's token estimate corrected by the count its model reports."""

from __future__ import annotations

import attrs

from adapters.memory.store import InMemoryStore
from orchcore.attempt_check import AttemptChecker
from orchcore.context_budget import TokenEstimator
from orchcore.engine import Engine
from orchcore.ports.supervisor import Judgement, JudgeRequest, Verdict
from orchcore.prompt import HouseRule, Prompter
from orchcore.records import EventKind, JsonObject
from orchcore.service import create_session, send_command
from orchcore.state import Command
from orchcore.tasks import Plan, Task
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, ScriptedCheckRunner, SequentialIds
from orchcore.testing.supervisor import ScriptedSupervisor, verdict_for

TASK = Task(
    id="1",
    title="Signup",
    description="add POST /signup",
    acceptance_criteria=("email is unique",),
    context_files=("docs/api.md", "docs/gone.md"),
    checks=("make check",),
)


def run(
    files: dict[str, str], prompter: Prompter, checker: AttemptChecker | None = None
) -> tuple[list[str], list[JsonObject]]:
    store, clock, ids = InMemoryStore(), FakeClock(), SequentialIds()
    agent = ScriptedAgent()
    snap = create_session(store, Plan("t.md", (TASK,)), ids, clock, auto_approve=True)
    send_command(store, snap.session.id, Command.START, clock)
    reader = ScriptedCheckRunner(files=files)
    engine = Engine(
        store, agent, clock, ids, MemoryLogs(), prompter=prompter, context_files=reader, checker=checker
    )
    engine.run(snap.session.id)
    cuts = [e.data for e in store.events(snap.session.id) if e.kind is EventKind.PROMPT]
    return [r.prompt for r in agent.requests], cuts


def test_the_agent_s_prompt_carries_the_context_file_s_contents_and_the_house_rules() -> None:
    rules = (HouseRule("agent_instructions.md", "Agent instructions", "Write the test first.\n"),)
    (prompt,), cuts = run({"docs/api.md": "POST /signup answers 201.\n"}, Prompter(house_rules=rules))
    assert "POST /signup answers 201." in prompt
    assert "Write the test first." in prompt
    assert "- docs/gone.md" in prompt  # listed, though it could not be read when the attempt started
    assert cuts == []


def test_what_the_budget_cut_is_recorded_as_a_prompt_event_of_the_task() -> None:
    big = "".join(f"spec line {i}\n" for i in range(10_000))
    (prompt,), cuts = run({"docs/api.md": big}, Prompter(budget_tokens=1_000))
    assert "email is unique" in prompt
    (event,) = cuts
    assert str(event["text"]).startswith("the context budget cut ")
    cuts_data = event["cuts"]
    assert isinstance(cuts_data, list)
    (cut,) = cuts_data
    assert isinstance(cut, dict)
    assert cut["part"] == "context:docs/api.md"
    assert f"[… {cut['lines']:,} lines cut to fit the context budget …]" in prompt


def test_the_judge_s_reported_prompt_tokens_correct_the_estimate_for_its_model() -> None:
    def counted(request: JudgeRequest) -> Verdict:
        chars = len(request.system) + len(request.prompt)
        return attrs.evolve(verdict_for(request, Judgement.MET, model="qwen"), prompt_tokens=chars // 4)

    estimator = TokenEstimator()
    judge = ScriptedSupervisor.always(counted)
    checker = AttemptChecker(ScriptedCheckRunner(), FakeClock(), judge=judge, estimator=estimator)
    run({"docs/api.md": "x\n"}, Prompter(), checker)
    assert judge.requests
    assert 3.5 < estimator.ratio("qwen") <= 3.6  # 4 characters a token, less the 10 % margin
    assert estimator.ratio("other") == 3.0
