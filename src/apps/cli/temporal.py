"""`orch worker` and `orch run --backend temporal`: sessions as Temporal workflows (extra `temporal`)."""

import time
from typing import TYPE_CHECKING

import typer

from apps.cli.options import ConfigOption, TaskQueueOption, TemporalOption

if TYPE_CHECKING:
    from apps.bootstrap import Runtime
    from orchcore.tasks import Plan

#: How often `orch run --backend temporal` looks at the workflow while it follows it.
FOLLOW_EVERY_S = 0.5


def worker_command(
    ctx: typer.Context,
    temporal: TemporalOption = None,
    task_queue: TaskQueueOption = None,
    config: ConfigOption = None,
) -> None:
    """Run sessions' workflows and attempts from a Temporal task queue until Ctrl-C (with this
    machine's agent, executor, sandbox, guards and checkpoints)."""
    from apps.bootstrap import run_temporal_worker
    from apps.cli.main import BAD_INPUT, errors, fail, runtime

    with errors():
        rt = runtime(ctx, config)
        temporal = temporal or rt.settings.temporal.address
        if not temporal:
            fail(BAD_INPUT, "orch worker needs --temporal HOST:PORT (or temporal.address in the config)")
        queue = task_queue or rt.settings.temporal.task_queue

        def ready() -> None:
            typer.echo(f"worker polling task queue {queue} at {temporal} (Ctrl-C stops it)")

        try:
            run_temporal_worker(rt, temporal, queue, ready=ready)
        except KeyboardInterrupt:
            typer.echo("worker stopped; attempts it was running are given to another worker")


def run_on_temporal(
    rt: "Runtime",
    plan: "Plan",
    *,
    agent: str,
    auto_approve: bool,
    address: str | None,
    task_queue: str | None,
    detach: bool,
) -> int:
    """Start ``plan`` as a workflow; follow it until it needs a human or ends (unless ``detach``)."""
    from apps.bootstrap import temporal_session_config, temporal_sessions
    from apps.cli.main import BAD_INPUT, fail
    from apps.temporal_sessions import TemporalRef, remember
    from orchcore.service import create_session

    address = address or rt.settings.temporal.address
    if not address:
        fail(BAD_INPUT, "--backend temporal needs --temporal HOST:PORT (or temporal.address in the config)")
    from apps.bootstrap import scratch_store

    store = scratch_store()
    snap = create_session(store, plan, rt.ids, rt.clock, auto_approve=auto_approve, agent=agent)
    events = tuple(store.events(snap.session.id))
    sessions = temporal_sessions(address, task_queue or rt.settings.temporal.task_queue)
    queue = sessions.task_queue
    try:
        ref = TemporalRef(snap.session.id, address, queue, snap.session.created_at.isoformat())
        sessions.start(snap, events, temporal_session_config(rt.settings, rt.routing))
        remember(rt.settings, ref)  # from now on every front end sends its commands there
        n = len(plan.tasks)
        typer.echo(f"session {snap.session.id}: {n} task{'s' if n != 1 else ''} from {plan.source}")
        typer.echo(f"backend: {ref.backend}")
        if detach:
            return 0
        from orchcore.state import SessionState

        while True:
            now = sessions.snapshot(snap.session.id)
            state = now.session.state
            if state is not SessionState.RUNNING:
                reason = f" — {now.session.reason}" if now.session.reason else ""
                typer.echo(f"session {snap.session.id}: {state.value}{reason}")
                if state is SessionState.COMPLETED:
                    return 0
                typer.echo(f"see `orch status -s {snap.session.id}`; the workflow goes on after a command")
                return 0 if state in (SessionState.WAITING_APPROVAL, SessionState.WAITING_ANSWER) else 1
            time.sleep(FOLLOW_EVERY_S)
    finally:
        sessions.close()
