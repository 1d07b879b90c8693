"""Working fakes of the small ports, for unit tests of code built on orchcore."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import attrs

from orchcore.errors import AgentUnavailable, NotifyError
from orchcore.ports.agent import AgentEvent, AgentRequest, AgentResult, EventSink
from orchcore.ports.notifier import Notification
from orchcore.ports.questions import WrittenAnswer
from orchcore.records import Outcome


@attrs.define
class FakeClock:
    """A clock that moves only when told to (or by ``step`` on every read)."""

    current: datetime = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    step: timedelta = timedelta(0)

    def now(self) -> datetime:
        value = self.current
        self.current = self.current + self.step
        return value

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """Time passes at once: tests never wait."""
        self.advance(max(0.0, seconds))


@attrs.define
class SequentialIds:
    """Ids ``s1``, ``s2``, ...: predictable in assertions."""

    prefix: str = "s"
    counter: int = 0

    def new_id(self) -> str:
        self.counter += 1
        return f"{self.prefix}{self.counter}"


@attrs.define
class MemoryLogs:
    """Task logs held in memory; ``write`` plays the agent's part."""

    contents: dict[str, list[str]] = attrs.field(factory=dict)

    def path(self, session_id: str, task_id: str, attempt: int) -> str:
        safe = [part.replace("/", "_") for part in (session_id, task_id)]
        return f"mem://{safe[0]}/{safe[1]}/{attempt}"

    def write(self, path: str, line: str) -> None:
        self.contents.setdefault(path, []).append(line)

    def tail(self, session_id: str, task_id: str, attempt: int, lines: int) -> list[str]:
        return self.contents.get(self.path(session_id, task_id, attempt), [])[-lines:] if lines > 0 else []


Script = Callable[[AgentRequest, EventSink], AgentResult]


def succeed(_: AgentRequest, __: EventSink) -> AgentResult:
    """A script step: the agent succeeds at once."""
    return AgentResult(Outcome.SUCCEEDED, exit_code=0)


@attrs.define
class ScriptedAgent:
    """An agent whose behaviour per task is a function; records every request.

    ``scripts`` maps a task id to a list of steps, one per attempt (the last
    repeats); tasks without a script succeed. ``events`` are sent to the sink
    before each step runs.
    """

    scripts: dict[str, list[Script]] = attrs.field(factory=dict)
    events: Iterable[AgentEvent] = ()
    available: bool = True
    requests: list[AgentRequest] = attrs.field(factory=list)

    def check(self) -> None:
        if not self.available:
            raise AgentUnavailable("scripted agent switched off")

    def run(self, request: AgentRequest, on_event: EventSink) -> AgentResult:
        self.requests.append(request)
        for event in self.events:
            if on_event(event) is not None:
                return AgentResult(Outcome.STOPPED, reason="stopped")
        steps = self.scripts.get(request.task_id, [succeed])
        step = steps[min(request.attempt - 1, len(steps) - 1)]
        return step(request, on_event)

    def ran(self) -> list[str]:
        """Task ids in the order they were run (one per attempt)."""
        return [r.task_id for r in self.requests]


@attrs.define
class MemoryQuestions:
    """A QuestionBox in memory; ``ask`` plays the agent leaving a question file."""

    asked: dict[str, str] = attrs.field(factory=dict)
    answers: dict[str, str] = attrs.field(factory=dict)

    def ask(self, task_id: str, text: str) -> None:
        self.asked[task_id] = text
        self.answers.pop(task_id, None)

    def question(self, task_id: str) -> str | None:
        return None if task_id in self.answers else self.asked.get(task_id)

    written: dict[str, WrittenAnswer] = attrs.field(factory=dict)

    def reply(self, task_id: str, text: str, at: datetime) -> None:
        """Play the human writing an answer into the box at ``at``."""
        self.written[task_id] = WrittenAnswer(text, at)

    def answer(self, task_id: str, text: str) -> None:
        self.answers[task_id] = text

    def written_answer(self, task_id: str) -> WrittenAnswer | None:
        found = self.written.get(task_id)
        if found is None or not found.text.strip():
            return None
        return WrittenAnswer(found.text.strip(), found.at)


@attrs.define
class RecordingNotifier:
    """A Notifier that keeps what it accepted; ``failures`` are raised, in order, by the
    next sends (each consumes one) before it accepts anything again."""

    sent: list[Notification] = attrs.field(factory=list)
    failures: list[NotifyError] = attrs.field(factory=list)
    calls: int = 0

    def send(self, notification: Notification) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(notification)

    def delivered_keys(self) -> list[str]:
        """Keys of the accepted notifications, in order."""
        return [n.key for n in self.sent]
