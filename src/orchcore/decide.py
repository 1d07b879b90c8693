"""The functional core: from a stored snapshot to the next action, and from an
outcome to the mutation that records it. Pure functions of their arguments.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from orchcore.budget import BudgetStatus, Level
from orchcore.graph import TaskGraph
from orchcore.policy import ApprovalPolicy, RetryPolicy
from orchcore.progress import Progress
from orchcore.records import Attempt, Event, EventKind, Gate, JsonObject, Mutation, Outcome, Snapshot, TaskRun
from orchcore.state import (
    DEAD_TASK,
    DONE_TASK,
    Command,
    SessionState,
    Step,
    TaskState,
    next_session_state,
    next_task_state,
)

if TYPE_CHECKING:  # for annotations only: `orch status` needs blocked_tasks, not the Agent port
    from orchcore.ports.agent import AgentResult


@attrs.frozen
class StartTask:
    """Run the next attempt of ``task_id``."""

    task_id: str
    attempt: int


@attrs.frozen
class AwaitApproval:
    """Stop: a human must approve ``task_id`` before it starts, or review it after."""

    task_id: str
    gate: Gate


@attrs.frozen
class Finish:
    """Nothing is left to run: end the session in ``state``."""

    state: SessionState
    reason: str


@attrs.frozen
class Idle:
    """The session is not runnable now (paused, waiting, ended): the engine stops."""

    state: SessionState
    reason: str


@attrs.frozen
class AwaitAnswer:
    """Stop: the agent asked a question and a human must answer it."""

    task_id: str


@attrs.frozen
class Wait:
    """Nothing can start before ``until`` (a backoff, or a usage limit's reset)."""

    until: datetime
    task_id: str
    why: str


@attrs.frozen
class Halt:
    """The budget is spent: stop the session until a new day or a raised limit."""

    budget: BudgetStatus


Action = StartTask | AwaitApproval | AwaitAnswer | Finish | Idle | Halt | Wait


def decide(
    snap: Snapshot,
    policy: ApprovalPolicy,
    graph: TaskGraph,
    budget: BudgetStatus | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Action:
    """The next thing the engine should do for this session.

    With the budget exceeded, nothing new starts (nor asks for approval): Halt.
    Given ``now``, a task whose last attempt may not be retried yet is not ready;
    when only such tasks are left: Wait. ``progress``, kept by the caller between
    steps of one session (built from ``graph`` and ``policy``), makes a step cost
    what changed since the last one instead of the whole plan; the answer is the same.
    """
    session = snap.session
    if session.state is not SessionState.RUNNING:
        return Idle(session.state, session.reason)
    if progress is None:
        progress = Progress(snap.plan, graph, policy, snap.runs)
    elif progress.graph is not graph or progress.policy != policy:
        raise ValueError("decide: progress was built for another graph or policy")
    else:
        progress.sync(snap.runs)
    runs, ids = snap.runs, graph.ids
    if progress.attention:
        task_id = ids[min(progress.attention)]  # the first in file order
        state = runs[task_id].state
        if state is TaskState.WAITING_APPROVAL:
            return AwaitApproval(task_id, Gate.BEFORE)  # still waiting after a pause and resume
        if state is TaskState.WAITING_ANSWER:
            return AwaitAnswer(task_id)
        if state is TaskState.WAITING_REVIEW:
            return AwaitApproval(task_id, Gate.REVIEW)  # the supervisor stopped it for a human
        return AwaitApproval(task_id, Gate.AFTER)
    ready: list[int] = []
    waiting: list[tuple[datetime, str]] = []
    for i in progress.retrying:
        retry_at = progress.retry_at(i)
        if now is not None and retry_at is not None and retry_at > now:
            waiting.append((retry_at, ids[i]))
        elif progress.unmet(i) == 0:
            ready.append(i)
    best = progress.best_ready()
    if best is not None:
        ready.append(best)
    if not ready and waiting:
        until, task_id = min(waiting)
        return Wait(until, task_id, runs[task_id].reason)
    if ready and budget is not None and budget.level is Level.EXCEEDED:
        return Halt(budget)
    if ready:
        task_id = ids[min(ready, key=graph.rank_at)]
        run = runs[task_id]
        task = snap.plan.task(task_id)
        if (
            not run.approved
            and run.state is TaskState.PENDING
            and policy.before(task, auto_approve_run=session.auto_approve)
        ):
            return AwaitApproval(task_id, Gate.BEFORE)
        return StartTask(task_id, run.attempt + 1)
    if progress.all_done:
        return Finish(SessionState.COMPLETED, "all tasks done")
    return Finish(SessionState.FAILED, failure_summary(snap, graph))


def await_answer(snap: Snapshot, action: AwaitAnswer, now: datetime) -> Mutation:
    """Stop the session again for a question still unanswered (after a pause and resume)."""
    state = next_session_state(snap.session.state, Step.ASK)
    reason = f"task {action.task_id} asks: {snap.run(action.task_id).question}"
    session = attrs.evolve(
        snap.session, state=state, waiting_for=action.task_id, gate=Gate.ANSWER, reason=reason, updated_at=now
    )
    return Mutation(session=session, events=(_session_event(now, state, reason, action.task_id),))


def wait(snap: Snapshot, action: Wait, now: datetime) -> Mutation:
    """Say in the session why and until when it waits (written once per wait)."""
    reason = (
        f"waiting until {action.until:%Y-%m-%d %H:%M:%S} UTC to retry task {action.task_id}: {action.why}"
    )
    if snap.session.reason == reason:
        return Mutation()
    session = attrs.evolve(snap.session, reason=reason, updated_at=now)
    return Mutation(
        session=session, events=(_session_event(now, snap.session.state, reason, action.task_id),)
    )


def failure_summary(snap: Snapshot, graph: TaskGraph) -> str:
    """Why nothing more can run: failed tasks and what they block."""
    dead = {t for t, r in snap.runs.items() if r.state in DEAD_TASK}
    parts = [f"task {t} {snap.runs[t].state.value}" for t in snap.plan.ids if t in dead]
    not_done = {t for t, r in snap.runs.items() if r.state not in DONE_TASK}
    blocked = [
        t
        for t in snap.plan.ids
        if snap.runs[t].state is TaskState.PENDING and graph.blocked_by(t, not_done) is not None
    ]
    if blocked:
        parts.append(f"blocked: {', '.join(blocked)}")
    return "; ".join(parts) or "nothing can run"


def blocked_tasks(snap: Snapshot, graph: TaskGraph | None = None) -> dict[str, str]:
    """Pending tasks that wait on a failed or cancelled dependency: task -> that dependency.

    ``graph`` is the plan's, built here only when some task is dead (else nothing is blocked):
    `orch status` on 1,000 finished tasks builds none."""
    dead = {t for t, r in snap.runs.items() if r.state in DEAD_TASK}
    out: dict[str, str] = {}
    if not dead:
        return out
    graph = TaskGraph(snap.plan.tasks) if graph is None else graph
    # walk in schedule order so transitively blocked tasks are found in one pass
    unsatisfiable = set(dead)
    for task_id in graph.schedule():
        if snap.runs[task_id].state is not TaskState.PENDING:
            continue
        dep = graph.blocked_by(task_id, unsatisfiable)
        if dep is not None:
            out[task_id] = dep
            unsatisfiable.add(task_id)
    return out


def _retry_plan(
    attempt: int, result: AgentResult, now: datetime, retry: RetryPolicy | None
) -> tuple[datetime | None, str]:
    """When (if ever) to try again after this result, and the reason to record."""
    if retry is None or result.outcome is Outcome.SUCCEEDED:
        return None, result.reason
    if result.outcome is Outcome.RATE_LIMITED and result.retry_at is not None:
        # a usage limit with a known reset is not the task's fault: wait for it, however often
        return result.retry_at, f"{result.reason}; resumes at {result.retry_at:%Y-%m-%d %H:%M} UTC"
    if not result.retryable:
        return None, result.reason
    if attempt >= retry.max_attempts:
        return None, f"{result.reason} (gave up after {attempt} attempts)"
    at = result.retry_at or now + timedelta(seconds=retry.delay_s(attempt))
    return at, f"{result.reason}; retry {attempt + 1} of {retry.max_attempts} at {at:%H:%M:%S} UTC"


def _session_event(now: datetime, state: SessionState, reason: str, task_id: str | None = None) -> Event:
    return Event(EventKind.SESSION_STATE, now, task_id=task_id, data={"state": state.value, "reason": reason})


def gate(snap: Snapshot, action: AwaitApproval, now: datetime) -> Mutation:
    """Stop the session until a human approves (before) or reviews (after) a task."""
    task_id = action.task_id
    run = snap.run(task_id)
    state = next_session_state(snap.session.state, Step.GATE)
    if action.gate is Gate.BEFORE:
        reason = f"task {task_id} needs approval before it starts"
        task_run = run
        if run.state is TaskState.PENDING:
            task_run = attrs.evolve(run, state=next_task_state(task_id, run.state, Step.GATE))
    elif action.gate is Gate.REVIEW:
        reason = f"task {task_id} {run.reason or 'stopped for review'}"
        task_run = run
    else:
        reason = f"checkpoint: review task {task_id} before the session goes on"
        task_run = run
    session = attrs.evolve(
        snap.session, state=state, waiting_for=task_id, gate=action.gate, reason=reason, updated_at=now
    )
    events = (
        Event(
            EventKind.APPROVAL_NEEDED,
            now,
            task_id=task_id,
            data={"gate": action.gate.value, "title": snap.plan.task(task_id).title},
        ),
        _session_event(now, state, reason, task_id),
    )
    return Mutation(session=session, runs=(task_run,), events=events)


def begin(snap: Snapshot, task_id: str, now: datetime) -> Mutation:
    """Mark ``task_id`` running as its next attempt. Committed before the agent starts."""
    run = snap.run(task_id)
    state = next_task_state(task_id, run.state, Step.BEGIN)
    attempt = Attempt(number=run.attempt + 1, started_at=now)
    task_run = attrs.evolve(run, state=state, attempts=(*run.attempts, attempt), reason="")
    event = Event(
        EventKind.TASK_STARTED,
        now,
        task_id=task_id,
        attempt=attempt.number,
        data={"title": snap.plan.task(task_id).title},
    )
    session = attrs.evolve(snap.session, updated_at=now)
    return Mutation(session=session, runs=(task_run,), events=(event,))


def record_result(
    snap: Snapshot,
    task_id: str,
    result: AgentResult,
    now: datetime,
    *,
    interrupted: bool = False,
    extra: tuple[Event, ...] = (),
    retry: RetryPolicy | None = None,
    question: str | None = None,
) -> Mutation:
    """Record how the running attempt of ``task_id`` ended.

    If the session was cancelled while the agent ran, the task is cancelled
    whatever the agent did. A pause takes effect after this, at the next step; a
    question asked meanwhile is kept and asked when the session resumes.
    """
    run = snap.run(task_id)
    asking = (
        question is not None
        and result.outcome is Outcome.SUCCEEDED
        and snap.session.state in (SessionState.RUNNING, SessionState.PAUSED)
    )
    if asking:
        result = attrs.evolve(result, outcome=Outcome.ASKED, reason="asked a question")
    retry_at, reason = _retry_plan(run.attempt, result, now, retry)
    finished = attrs.evolve(
        run.attempts[-1],
        finished_at=now,
        outcome=result.outcome,
        exit_code=result.exit_code,
        cost_usd=result.cost_usd,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        agent_session_id=result.agent_session_id,
        retry_at=retry_at,
        reason=reason,
    )
    if snap.session.state is SessionState.CANCELLED:
        step = Step.STOP
    elif asking:
        step = Step.ASK
    elif interrupted or retry_at is not None:
        step = Step.INTERRUPT  # stopped for a reason that is not the task's fault: run it again later
    elif result.outcome is Outcome.SUCCEEDED:
        step = Step.SUCCEED
    else:
        step = Step.FAIL
    state = next_task_state(task_id, run.state, step)
    task_run = attrs.evolve(run, state=state, attempts=(*run.attempts[:-1], finished), reason=reason)
    session = attrs.evolve(snap.session, updated_at=now)
    asked: tuple[Event, ...] = ()
    if asking and question is not None:
        task_run = attrs.evolve(task_run, question=question, answer="")
        asked = (
            Event(EventKind.QUESTION, now, task_id=task_id, attempt=finished.number, data={"text": question}),
        )
        if snap.session.state is SessionState.RUNNING:  # paused: it stays so; resuming asks (await_answer)
            gated = next_session_state(snap.session.state, Step.ASK)
            why = f"task {task_id} asks: {question}"
            session = attrs.evolve(session, state=gated, waiting_for=task_id, gate=Gate.ANSWER, reason=why)
            asked = (*asked, _session_event(now, gated, why, task_id))
    data: JsonObject = {
        "outcome": result.outcome.value,
        "state": state.value,
        "reason": reason,
        "exit_code": result.exit_code,
        "cost_usd": None if result.cost_usd is None else str(result.cost_usd),
        "duration_s": round((now - finished.started_at).total_seconds(), 3),
    }
    event = Event(EventKind.TASK_FINISHED, now, task_id=task_id, attempt=finished.number, data=data)
    return Mutation(session=session, runs=(task_run,), events=(event, *asked, *extra))


def halt(snap: Snapshot, action: Halt, now: datetime, resume_at: datetime) -> Mutation:
    """Stop the session: the budget that binds is spent."""
    state = next_session_state(snap.session.state, Step.HALT)
    b = action.budget
    reason = (
        f"{b.describe()}; nothing starts until {resume_at:%Y-%m-%d %H:%M} UTC or a raised limit"
        if b.scope == "day"
        else f"{b.describe()}; raise max_cost_usd in the task file to go on"
    )
    session = attrs.evolve(
        snap.session, state=state, reason=reason, waiting_for=None, gate=None, updated_at=now
    )
    return Mutation(session=session, events=(budget_event(now, b), _session_event(now, state, reason)))


def budget_event(now: datetime, budget: BudgetStatus, task_id: str | None = None) -> Event:
    """A record of the budget reaching a level (warn or exceeded)."""
    data: JsonObject = {
        "level": budget.level.value,
        "scope": budget.scope,
        "spent_usd": str(budget.spent),
        "limit_usd": None if budget.limit is None else str(budget.limit),
        "text": budget.describe(),
    }
    return Event(EventKind.BUDGET, now, task_id=task_id, data=data)


def budget_crossings(
    before: BudgetStatus, after: BudgetStatus, now: datetime, task_id: str
) -> tuple[Event, ...]:
    """The warning (once, when spend crosses the warn line) and the exceeded
    notice an attempt's cost causes."""
    order = [Level.OK, Level.WARN, Level.EXCEEDED]
    if order.index(after.level) > order.index(before.level):
        return (budget_event(now, after, task_id),)
    return ()


def finish(snap: Snapshot, action: Finish, now: datetime) -> Mutation:
    """End the session as ``action`` says."""
    step = Step.FINISH if action.state is SessionState.COMPLETED else Step.FINISH_FAILED
    state = next_session_state(snap.session.state, step)
    session = attrs.evolve(
        snap.session, state=state, reason=action.reason, waiting_for=None, gate=None, updated_at=now
    )
    return Mutation(session=session, events=(_session_event(now, state, action.reason),))


def interrupt_running(
    snap: Snapshot, now: datetime, why: str = "the orchestrator stopped while the task ran"
) -> Mutation:
    """Tasks stored as running were cut off (a crash, Ctrl-C): mark them interrupted, so
    the next run gives them another attempt (cancelled if the session was cancelled
    meanwhile: nothing will run them again)."""
    runs: list[TaskRun] = []
    events: list[Event] = []
    cancelled = snap.session.state is SessionState.CANCELLED
    step = Step.STOP if cancelled else Step.INTERRUPT
    reason = why + (" and the session was cancelled" if cancelled else "")
    for task_id in snap.plan.ids:
        run = snap.runs[task_id]
        if run.state is not TaskState.RUNNING:
            continue
        state = next_task_state(task_id, run.state, step)
        last = attrs.evolve(run.attempts[-1], finished_at=now, outcome=Outcome.INTERRUPTED, reason=reason)
        runs.append(attrs.evolve(run, state=state, attempts=(*run.attempts[:-1], last), reason=last.reason))
        events.append(
            Event(
                EventKind.TASK_STATE,
                now,
                task_id=task_id,
                attempt=last.number,
                data={"state": state.value, "reason": last.reason},
            )
        )
    return Mutation(runs=tuple(runs), events=tuple(events))


def stop_on_error(snap: Snapshot, now: datetime, why: str) -> Mutation:
    """orch itself failed while driving the session: its running tasks are interrupted and a
    running session is paused with ``why``, so no front end shows it `running` with nobody
    driving it; `orch resume` goes on once the cause is fixed."""
    interrupted = interrupt_running(snap, now, why)
    if snap.session.state is not SessionState.RUNNING:
        return interrupted
    state = next_session_state(snap.session.state, Command.PAUSE)
    reason = f"{why}; fix the cause, then `orch resume`"
    session = attrs.evolve(
        snap.session, state=state, reason=reason, waiting_for=None, gate=None, updated_at=now
    )
    return attrs.evolve(
        interrupted, session=session, events=(*interrupted.events, _session_event(now, state, reason))
    )


def running_tasks(snap: Snapshot) -> Iterable[str]:
    """Ids of tasks stored as running."""
    return (t for t in snap.plan.ids if snap.runs[t].state is TaskState.RUNNING)
