"""The engine on the real SQLite store, with commands sent through a second store on the
same file (as `orch skip` from another process): its per-session cache and decision
index never hide a change committed between two steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sqlite import SqliteStore
from orchcore.engine import Engine
from orchcore.ports.agent import AgentRequest, AgentResult, EventSink
from orchcore.records import Outcome
from orchcore.service import create_session, send_command
from orchcore.state import Command, SessionState, TaskState
from orchcore.tasks import Plan, Task
from orchcore.testing.fakes import FakeClock, MemoryLogs, ScriptedAgent, SequentialIds

pytestmark = pytest.mark.integration


def test_commands_from_another_store_between_steps_are_obeyed_in_a_plan_of_many_chunks(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "state.db")
    engine_store, cli_store = SqliteStore(path), SqliteStore(path)
    clock, ids = FakeClock(), SequentialIds()
    try:
        # 200 tasks in a chain: each waits for the one before, so a skip unblocks the next
        tasks = tuple(Task(str(i), f"t{i}", depends_on=(str(i - 1),) if i > 1 else ()) for i in range(1, 201))
        sid = create_session(engine_store, Plan("big.md", tasks), ids, clock).session.id
        send_command(engine_store, sid, Command.START, clock)

        def skip_far_ahead(_: AgentRequest, __: EventSink) -> AgentResult:
            # while task 1 runs, another process skips task 150, far ahead in another chunk
            send_command(cli_store, sid, Command.SKIP, clock, task_id="150")
            return AgentResult(Outcome.SUCCEEDED, exit_code=0)

        def pause_now(_: AgentRequest, __: EventSink) -> AgentResult:
            send_command(cli_store, sid, Command.PAUSE, clock)
            return AgentResult(Outcome.SUCCEEDED, exit_code=0)

        agent = ScriptedAgent(scripts={"1": [skip_far_ahead], "120": [pause_now]})
        outcome = Engine(engine_store, agent, clock, ids, MemoryLogs()).run(sid)
        assert outcome.session.state is SessionState.PAUSED
        assert agent.ran() == [str(i) for i in range(1, 121)]

        send_command(cli_store, sid, Command.RESUME, clock)
        outcome = Engine(engine_store, agent, clock, ids, MemoryLogs()).run(sid)
        assert outcome.session.state is SessionState.COMPLETED
        assert "150" not in agent.ran()
        assert len(agent.ran()) == 199
        snap = cli_store.load(sid)
        assert snap.run("150").state is TaskState.SKIPPED
        assert all(snap.run(str(i)).state is TaskState.COMPLETED for i in range(1, 201) if i != 150)
    finally:
        engine_store.close()
        cli_store.close()
