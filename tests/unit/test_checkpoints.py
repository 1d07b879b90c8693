"""The pure part of checkpoints (which edits an attempt threw away) and the engine's hook:
a checkpoint before every attempt, and no agent without one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
from hypothesis import given
from hypothesis import strategies as st

from adapters.memory.store import InMemoryStore
from orchcore.checkpoints import discarded_edits
from orchcore.engine import Engine
from orchcore.errors import CheckpointError
from orchcore.ports.checkpoints import Checkpoint, FileChange, Moment
from orchcore.service import create_session, send_command
from orchcore.state import Command, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

blobs = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))


def test_a_dirty_file_back_at_the_committed_version_is_discarded() -> None:
    changes = [FileChange("f", "mine", "head"), FileChange("g", "mine", "other"), FileChange("h", None, "x")]
    assert discarded_edits(changes, {"f": "head", "g": "head", "h": "x"}) == ["f"]


@given(st.lists(st.tuples(st.sampled_from(["p", "q", "r"]), blobs, blobs, blobs), unique_by=lambda t: t[0]))
def test_only_paths_that_end_at_the_committed_version_from_another_are_reported(
    rows: list[tuple[str, str | None, str | None, str | None]],
) -> None:
    changes = [FileChange(path, before, after) for path, before, after, _ in rows]
    committed = {path: head for path, _, _, head in rows}
    found = discarded_edits(changes, committed)
    for path, before, after, head in rows:
        assert (path in found) == (head is not None and after == head and before not in (None, head))


@attrs.define
class FakeCheckpoints:
    """Records what was taken; ``broken`` makes every take fail as a real adapter would."""

    broken: bool = False
    taken: list[tuple[str, int, Moment]] = attrs.field(factory=list)

    def take(self, session_id: str, task_id: str, attempt: int, moment: Moment) -> Checkpoint:
        if self.broken:
            raise CheckpointError("checkpoint: disk full")
        self.taken.append((task_id, attempt, moment))
        return Checkpoint(str(len(self.taken)), len(self.taken), session_id, task_id, attempt, moment)

    def checkpoints(self, session_id: str) -> Sequence[Checkpoint]:
        return []

    def changes(self, old: Checkpoint, new: Checkpoint | None) -> Sequence[FileChange]:
        return []

    def diff(self, old: Checkpoint, new: Checkpoint | None, *, stat: bool = False) -> str:
        return ""

    def committed(self, checkpoint: Checkpoint, paths: Sequence[str]) -> Mapping[str, str | None]:
        return dict.fromkeys(paths)

    def restore_files(self, source: Checkpoint, paths: Sequence[str]) -> None:
        return None

    def refs(self) -> Mapping[str, str]:
        return {}

    def restore_refs(self, source: Checkpoint, names: Sequence[str] | None = None) -> Sequence[str]:
        return []


def run_two_tasks(checkpoints: FakeCheckpoints) -> tuple[ScriptedAgent, dict[str, TaskState]]:
    store, clock, agent = InMemoryStore(), FakeClock(), ScriptedAgent()
    plan = Plan("today.md", (Task("a", "A", instruction="x"), Task("b", "B", instruction="y")))
    sid = create_session(store, plan, SequentialIds(), clock).session.id
    send_command(store, sid, Command.START, clock)
    engine = Engine(store, agent, clock, SequentialIds("e"), MemoryLogs(), checkpoints=checkpoints)
    engine.run(sid)
    return agent, {t: store.load(sid).run(t).state for t in ("a", "b")}


def test_every_attempt_is_checkpointed_before_and_after() -> None:
    checkpoints = FakeCheckpoints()
    _, states = run_two_tasks(checkpoints)
    assert states == {"a": TaskState.COMPLETED, "b": TaskState.COMPLETED}
    assert checkpoints.taken == [
        ("a", 1, Moment.BEFORE),
        ("a", 1, Moment.AFTER),
        ("b", 1, Moment.BEFORE),
        ("b", 1, Moment.AFTER),
    ]


def test_no_agent_starts_when_its_checkpoint_cannot_be_taken() -> None:
    agent, states = run_two_tasks(FakeCheckpoints(broken=True))
    assert agent.requests == []
    assert states["a"] is not TaskState.COMPLETED
