"""An agent asks a human; the answer continues the task, in the same agent session."""

from __future__ import annotations

import pytest

from adapters.memory.store import InMemoryStore
from orchcore.engine import Engine
from orchcore.errors import IllegalTransition
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.questions import question_in
from orchcore.records import EventKind, Gate, Outcome
from orchcore.service import create_session, send_command, suggestions
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing import FakeClock, MemoryLogs, MemoryQuestions, ScriptedAgent, SequentialIds


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("I added the table.\n\nShould email be unique per tenant?", "Should email be unique per tenant?"),
        (
            "Which port should the server use? 8080 or 9000?",
            "Which port should the server use? 8080 or 9000?",
        ),
        ("**Should I also migrate the old rows?**", "**Should I also migrate the old rows?**"),
        ("Done. I wondered whether X? was right, and it was.", None),
        ("Should I? No.\n\nAll done, tests pass.", None),
        ("", None),
    ],
)
def test_only_a_final_paragraph_ending_in_a_question_mark_is_a_question(
    text: str, question: str | None
) -> None:
    assert question_in(text) == question


def asks(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(
        Outcome.SUCCEEDED,
        exit_code=0,
        final_text="Schema drafted.\n\nUUIDs or integers for ids?",
        agent_session_id="cc-1",
    )


def done(_: AgentRequest, __: EventSink) -> AgentResult:
    return AgentResult(
        Outcome.SUCCEEDED, exit_code=0, final_text="Done: used UUIDs.", agent_session_id="cc-1"
    )


class World:
    def __init__(self, *tasks: str) -> None:
        self.store = InMemoryStore()
        self.clock = FakeClock()
        self.agent = ScriptedAgent()
        self.box = MemoryQuestions()
        plan = Plan("today.md", tuple(Task(t, f"Task {t}", instruction=f"do {t}") for t in tasks))
        self.sid = create_session(self.store, plan, SequentialIds(), self.clock).session.id
        send_command(self.store, self.sid, Command.START, self.clock)

    def run(self) -> SessionState:
        engine = Engine(
            self.store, self.agent, self.clock, SequentialIds("e"), MemoryLogs(), questions=self.box
        )
        return engine.run(self.sid).session.state


def test_a_question_in_the_final_message_stops_the_session_until_answered() -> None:
    world = World("1", "2")
    world.agent.scripts["1"] = [asks, done]
    assert world.run() is SessionState.WAITING_ANSWER
    snap = world.store.load(world.sid)
    assert (snap.session.waiting_for, snap.session.gate) == ("1", Gate.ANSWER)
    assert snap.run("1").state is TaskState.WAITING_ANSWER
    assert snap.run("1").question == "UUIDs or integers for ids?"
    assert snap.run("1").attempts[0].outcome is Outcome.ASKED
    assert world.agent.ran() == ["1"]  # task 2 waits too: one question at a time, nothing runs past it
    assert [e.data["text"] for e in world.store.events(world.sid) if e.kind is EventKind.QUESTION] == [
        "UUIDs or integers for ids?"
    ]
    assert suggestions(snap, engine_attached=False)[0] == 'answer "..." (then: resume)'

    send_command(world.store, world.sid, Command.ANSWER, world.clock, text="UUIDs, please.")
    assert world.run() is SessionState.COMPLETED
    second = world.agent.requests[1]
    assert second.resume_agent_session == "cc-1"
    assert "UUIDs or integers for ids?" in second.prompt
    assert "UUIDs, please." in second.prompt
    assert world.box.answers == {"1": "UUIDs, please."}  # the answer file, for agents using the file protocol


def test_a_question_file_stops_the_session_and_the_answer_is_written_back() -> None:
    world = World("1")

    def writes_question(_: AgentRequest, __: EventSink) -> AgentResult:
        world.box.ask("1", "Which database: Postgres or SQLite?")
        return AgentResult(Outcome.SUCCEEDED, exit_code=0, final_text="See questions/1.md")

    world.agent.scripts["1"] = [writes_question, done]
    assert world.run() is SessionState.WAITING_ANSWER
    send_command(world.store, world.sid, Command.ANSWER, world.clock, text="SQLite")
    assert world.run() is SessionState.COMPLETED
    # no agent session to continue: the full prompt carries the question and the answer
    assert world.agent.requests[1].resume_agent_session is None
    assert "## Your earlier question\nWhich database: Postgres or SQLite?" in world.agent.requests[1].prompt
    assert "## The human's answer\nSQLite" in world.agent.requests[1].prompt


def test_an_empty_answer_or_one_with_nothing_asked_changes_nothing() -> None:
    world = World("1")
    world.agent.scripts["1"] = [asks, done]
    with pytest.raises(IllegalTransition, match="cannot answer: the session is running"):
        send_command(world.store, world.sid, Command.ANSWER, world.clock, text="early")
    world.run()
    before = world.store.load(world.sid)
    with pytest.raises(IllegalTransition, match="answer without text"):
        send_command(world.store, world.sid, Command.ANSWER, world.clock, text="  ")
    assert world.store.load(world.sid) == before


def test_a_question_still_open_after_pause_and_resume_is_asked_again() -> None:
    world = World("1")
    world.agent.scripts["1"] = [asks, done]
    world.run()
    send_command(world.store, world.sid, Command.PAUSE, world.clock)
    send_command(world.store, world.sid, Command.RESUME, world.clock)
    assert world.run() is SessionState.WAITING_ANSWER
    assert world.agent.ran() == ["1"]
