"""One engine driving up to ``max_parallel`` attempts at once, each in its own git worktree.

The main loop decides on the freshest state as the serial engine does (``decide``, then
``tasks_to_start`` for the free slots) and commits every started task as running before its
worktree is made or its agent starts. Each attempt then runs through the Workers port with an
engine of its own whose workspace, guards and checks are the worktree's; every store write,
from any attempt, goes through one lock. When the attempt ends, orch (never the agent) records
its work as the one commit on the task's branch, then its result.

A budget halt or an error in orch stops every running attempt (each agent's process tree is
killed by its own adapter when the engine tells it to stop); a cancel stops them all as it
stops one; a pause lets the running ones finish and starts nothing new, as in a serial run. A
hung agent holds its own slot only, until its timeout.

A task that depends on others starts from a base holding their work: the session's base
commit when none of them changed anything, else the commits on their branches merged
(``Worktrees.combine``). ``orch diff`` and ``orch apply`` of the dependent show and bring in
its own change only, so apply tasks in dependency order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import attrs

from orchcore.budget import BudgetStatus, Level, SharedSpend
from orchcore.decide import (
    Action,
    AwaitAnswer,
    AwaitApproval,
    Finish,
    Halt,
    StartTask,
    Wait,
    await_answer,
    begin,
    decide,
    finish,
    gate,
    halt,
    record_result,
    wait,
)
from orchcore.errors import ConfigError, WorktreeError
from orchcore.graph import TaskGraph
from orchcore.parallel import assign_ports, task_commit_message, tasks_to_start
from orchcore.ports.agent import AgentResult
from orchcore.ports.file_watch import Watching
from orchcore.ports.store import Store
from orchcore.ports.workers import Job, Workers
from orchcore.ports.workspace import Workspace
from orchcore.ports.worktrees import PortRange, Worktree, Worktrees, WorktreeSetup
from orchcore.records import Event, EventKind, JsonObject, Mutation, Outcome, Snapshot
from orchcore.state import SessionState, TaskState

if TYPE_CHECKING:
    from orchcore.attempt_check import AttemptChecker
    from orchcore.engine import Engine, RunOutcome
    from orchcore.ports.checks import CheckRunner
    from orchcore.ports.questions import QuestionBox
    from orchcore.sandbox import SandboxPolicy


@attrs.frozen
class SlotParts:
    """What an attempt in the worktree at a path gets instead of the user tree's: its guards,
    question box, supervisor (checks run in the worktree) and sandbox boundary."""

    workspace: Workspace | None = None
    questions: QuestionBox | None = None
    checker: AttemptChecker | None = None
    context_files: CheckRunner | None = None
    sandbox: SandboxPolicy | None = None


def _no_parts(_: str) -> SlotParts:
    return SlotParts()


@attrs.define(eq=False)
class _Slot:
    task_id: str
    ports: PortRange
    job: Job | None = None
    ready: bool = False  # its worktree, guards and file watch are set: its agent starts now
    made_ahead: bool = False  # its set-up is a `_Prepared` job's: it waits on that, not the other way
    freed: bool = False  # its agent and checks are done: orch's commit and record go on beside the next agent

    def setting_up(self) -> bool:
        """Making its own worktree, guards and watch: the work that delays its agent."""
        return not self.ready and not self.made_ahead

    def recording(self) -> bool:
        """Its agent is done and orch commits and records its work: git and the store, beside
        the next agents' start."""
        return self.freed and self.job is not None and not self.job.done()

    def in_the_way(self) -> bool:
        """Whether work made ahead should wait for this slot: setting up, or recording (both
        compete for the same cores with the next agents' start). A slot starting from work made
        ahead is neither: it waits on that work, so that work must never wait on it."""
        return self.setting_up() or self.recording()


_READY_POLL_S = 0.005
_READY_WAIT_S = 30.0  # a slot whose setup commands take longer no longer holds the next ones back


@attrs.define(eq=False)
class _Prepared:
    """A ready task's worktree made (and its guards written) while the running attempts work,
    so that its agent starts as soon as a slot frees: ``tree`` once ``job`` is done, if it worked."""

    ports: PortRange
    job: Job | None = None
    tree: Worktree | None = None
    parts: SlotParts | None = None
    watching: Watching | None = None  # its live file tracking, started too
    wanted: bool = False  # a slot waits for it: it waits for no other slot any more

    def close(self) -> None:
        if self.watching is not None:
            self.watching.close()
            self.watching = None


@attrs.define
class ParallelDrive:
    """How a session's tasks run side by side: how many, where (``worktrees``), on what
    (``workers``), set up how, on which ports, and with which per-worktree parts."""

    max_parallel: int
    worktrees: Worktrees
    workers: Workers
    setup: WorktreeSetup = attrs.field(factory=WorktreeSetup)
    port_base: int = 20000
    ports_per_task: int = 10
    parts: Callable[[str], SlotParts] = _no_parts
    _running: dict[str, _Slot] = attrs.field(factory=dict, init=False)
    _prepared: dict[str, _Prepared] = attrs.field(factory=dict, init=False)
    _stopping: str | None = attrs.field(default=None, init=False)
    _ending: bool = attrs.field(default=False, init=False)  # the drive returns: nothing more is made ahead
    _spend: SharedSpend = attrs.field(factory=SharedSpend, init=False)  # what the running attempts spend

    def drive(self, engine: Engine, session_id: str, graph: TaskGraph) -> RunOutcome:
        """The serial drive loop's counterpart: returns once nothing runs and nothing can start."""
        from orchcore.engine import RunOutcome

        self._running, self._prepared, self._stopping, self._spend = {}, {}, None, SharedSpend()
        self._ending = False
        own_store, own_watch = engine.store, engine.watch
        engine.store = cast(Store, _Serialized(own_store, self.workers))
        engine.watch = _locked(own_watch, self.workers)  # what the attempts show, one line at a time
        tasks_run = 0
        try:
            base = self._session_base(engine, session_id)
            while True:
                self._collect()
                action, snap, starts, ahead, spent_today = self._step(engine, session_id, graph)
                for start in starts:
                    tasks_run += 1
                    self._launch(engine, snap, start, graph, base, spent_today)
                for task_id in ahead:
                    self._prepare(engine, session_id, task_id, base)
                if self._running:
                    jobs = [s.job for s in self._running.values() if s.job is not None]
                    self.workers.wait_any(jobs, engine.poll_interval_s)
                    continue
                if starts:
                    continue
                if isinstance(action, Wait):
                    remaining = (action.until - engine.clock.now()).total_seconds()
                    engine.clock.sleep(min(max(remaining, 0.0), engine.wait_step_s))
                    continue
                if snap.session.state is SessionState.CANCELLED:
                    self._settle_prepared()
                    self._remove_cancelled(engine, snap)
                return RunOutcome(snap.session, tasks_run)
        except BaseException as exc:
            self._stop_all(f"orch stopped: {type(exc).__name__}: {exc}" if str(exc) else "orch stopped")
            raise
        finally:
            self._drop_prepared(engine, session_id)
            engine.store, engine.watch = own_store, own_watch

    def _remove_cancelled(self, engine: Engine, snap: Snapshot) -> None:
        """A cancelled session's unfinished tasks lose their worktree and branch; the completed
        ones keep theirs for review and `orch apply`."""
        for tree in self.worktrees.worktrees(snap.session.id):
            run = snap.runs.get(tree.task_id)
            if run is None or run.state is not TaskState.CANCELLED:
                continue
            try:
                self.worktrees.remove(tree)
            except WorktreeError as exc:
                data: JsonObject = {"text": f"task {tree.task_id}: its worktree was not removed: {exc}"}
                engine.store.append_events(
                    snap.session.id, [Event(EventKind.WARNING, engine.clock.now(), tree.task_id, data=data)]
                )

    def _stop_all(self, why: str) -> None:
        """Tell every running attempt to stop, and wait until each has recorded how it ended."""
        self._stopping = self._stopping or why
        while self._running:
            jobs = [s.job for s in self._running.values() if s.job is not None]
            self.workers.wait_any(jobs, 1.0)
            self._running = {t: s for t, s in self._running.items() if s.job is not None and not s.job.done()}

    def _collect(self) -> None:
        """Forget the attempts that ended; an error one of them raised stops the others, then is raised."""
        failed: BaseException | None = None
        for task_id, slot in list(self._running.items()):
            if slot.job is not None and slot.job.done():
                del self._running[task_id]
                failed = failed or slot.job.error()
        if failed is not None:
            raise failed

    def _session_base(self, engine: Engine, session_id: str) -> str:
        """The commit every worktree of the session starts from: recorded when the first parallel
        drive began, so a resume after the user committed more keeps the same base."""
        for event in engine.store.events(session_id, kinds=(EventKind.WORKTREE,)):
            if event.task_id is None and isinstance(event.data.get("base"), str):
                return str(event.data["base"])
        base = self.worktrees.base_commit()
        told = Event(
            EventKind.WORKTREE, engine.clock.now(), data={"base": base, "max_parallel": self.max_parallel}
        )
        engine.store.append_events(session_id, [told])
        return base

    def _step(
        self, engine: Engine, session_id: str, graph: TaskGraph
    ) -> tuple[Action | None, Snapshot, tuple[StartTask, ...], tuple[str, ...], Decimal]:
        """Decide and commit in one transaction: what starts now beside the running attempts,
        and which ready tasks' worktrees to make ahead (``_ahead``).
        The budget counts what the running ones have streamed so far; each started attempt's own
        check counts, from now on, what the others spend (read under the one lock, so that no
        attempt that ends meanwhile is counted twice or not at all); the day's spend read."""
        chosen: list[tuple[Action | None, tuple[StartTask, ...]]] = [(None, ())]
        ahead: list[str] = []
        running = tuple(self._running)
        shared = self._spend

        def step(s: Snapshot) -> Mutation:
            now = engine.clock.now()
            # under the lock work_done frees a slot in: a freed slot's cost is in ``shared`` already
            freed = sum(1 for slot in self._running.values() if slot.freed)  # their slots hold no agent
            budget = engine._budget_status(s, spent_today, shared.running)
            agents = len(running) - freed  # what a halt would stop: a freed slot's agent is done
            if agents and budget.level is Level.EXCEEDED and s.session.state is SessionState.RUNNING:
                halted = Halt(budget)  # what the finished attempts cost ends the others too
                chosen[0] = (halted, ())
                return halt(s, halted, now, engine.budget.next_day(now))
            action = decide(s, engine.policy, graph, budget, now, engine._progress)
            if isinstance(action, StartTask):
                starts = tasks_to_start(
                    s, engine.policy, graph, self.max_parallel + freed, running, budget, now, engine._progress
                )
                chosen[0] = (action, starts)
                ahead[:] = self._ahead(
                    s, engine, graph, (*running, *(t.task_id for t in starts)), freed, budget, now
                )
                return _begin_all(s, starts, now)
            chosen[0] = (action, ())
            if isinstance(action, AwaitApproval):
                return gate(s, action, now)
            if isinstance(action, AwaitAnswer):
                return await_answer(s, action, now)
            if isinstance(action, Halt):
                return halt(s, action, now, engine.budget.next_day(now))
            if running:  # a task still runs: the session is not finished, nor waiting for a retry
                return Mutation()
            if isinstance(action, Finish):
                return finish(s, action, now)
            if isinstance(action, Wait):
                return wait(s, action, now)
            return Mutation()

        with self.workers.lock():
            spent_today = engine._spent_today()
            snap = engine._commit(session_id, step)
            action, starts = chosen[0]
            for start in starts:
                shared.begin(start.task_id, start.attempt)
        if running and snap.session.state is SessionState.HALTED:
            self._stopping = self._stopping or snap.session.reason or "the budget is spent"
        return action, snap, starts, tuple(ahead), spent_today

    def _ahead(
        self,
        snap: Snapshot,
        engine: Engine,
        graph: TaskGraph,
        busy: Sequence[str],
        freed: int,
        budget: BudgetStatus,
        now: datetime,
    ) -> list[str]:
        """The ready tasks that start next when slots free, up to ``max_parallel`` made ahead at
        once: those with no dependency only (their base is the session's; a dependent's is
        merged from its dependencies' branches when it starts)."""
        room = self.max_parallel - len(self._prepared)
        if room <= 0 or len(busy) - freed < self.max_parallel:
            return []  # a free slot starts its task at once: nothing to gain
        found = tasks_to_start(
            snap, engine.policy, graph, len(busy) + self.max_parallel, busy, budget, now, engine._progress
        )
        fresh = [
            t.task_id
            for t in found
            if t.task_id not in self._prepared and not graph.dependencies_at(graph.position(t.task_id))
        ]
        return fresh[:room]

    def _prepare(self, engine: Engine, session_id: str, task_id: str, base: str) -> None:
        """Make ``task_id``'s worktree now, and write its guards, beside the running attempts."""
        if self.worktrees.find(session_id, task_id) is not None:
            return  # an earlier drive made it: `_launch` takes it as it is
        taken = self._ports_in_use()
        try:
            ports = assign_ports(self.port_base, self.ports_per_task, taken)
        except ConfigError:
            return  # made when it starts, which says why if it still cannot
        prepared = _Prepared(ports)
        self._prepared[task_id] = prepared
        policy = engine.safety if engine.safety is not None and engine.safety.enabled else None

        def work() -> None:
            waited = 0.0  # the starting agents' own set-up, and the recording of the ones done, first
            while (
                not prepared.wanted
                and any(s.in_the_way() for s in tuple(self._running.values()))
                and waited < _READY_WAIT_S
            ):
                if self._stopping is not None or self._ending:
                    return
                engine.clock.sleep(_READY_POLL_S)
                waited += _READY_POLL_S
            if self._stopping is not None or self._ending:
                return
            prepared.tree = self.worktrees.create(session_id, task_id, base, ports, self.setup)
            parts = self.parts(prepared.tree.path)
            if parts.workspace is not None and policy is not None:
                parts.workspace.guard_env(policy, engine.agent_path)  # written now, only checked at its start
            prepared.parts = parts
            if engine.file_watcher is not None:
                try:
                    prepared.watching = engine.file_watcher.watch(prepared.tree.path)
                except Exception:  # noqa: BLE001 - as Engine._start_watching: the attempt tries again
                    prepared.watching = None

        prepared.job = self.workers.start(work)

    def _ports_in_use(self) -> list[PortRange]:
        """The port ranges of the agents running (a freed slot's agent is done) and of the
        worktrees made ahead."""
        taken = [s.ports for s in self._running.values() if not s.freed]
        return taken + [p.ports for p in self._prepared.values()]

    def _take_prepared(self, task_id: str) -> _Prepared | None:
        """The task's worktree made ahead, once its making has ended (None if it failed: the
        attempt then makes it, and says why if that fails too)."""
        prepared = self._prepared.pop(task_id, None)
        if prepared is None or prepared.job is None:
            return None
        prepared.wanted = True  # its slot is free: what it waited for no longer matters
        self._wait_done(prepared.job)
        if prepared.tree is None or prepared.job.error() is not None:
            prepared.close()
            return None
        return prepared

    def _settle_prepared(self) -> None:
        """Wait until every worktree being made ahead is made (or failed)."""
        for prepared in self._prepared.values():
            if prepared.job is not None:
                self._wait_done(prepared.job)

    def _wait_done(self, job: Job) -> None:
        while not job.done():
            self.workers.wait_any([job], 1.0)

    def _drop_prepared(self, engine: Engine, session_id: str) -> None:
        """The drive ends: the worktrees made ahead for tasks that did not start are removed (a
        worktree exists only for a task that started; a resume makes them again)."""
        self._ending = True
        self._settle_prepared()
        for task_id, prepared in self._prepared.items():
            prepared.close()
            if prepared.tree is None:
                continue
            try:
                self.worktrees.remove(prepared.tree)
            except WorktreeError as exc:
                data: JsonObject = {"text": f"task {task_id}: its worktree made ahead was not removed: {exc}"}
                with contextlib.suppress(Exception):  # the drive may be ending on the store's own error
                    engine.store.append_events(
                        session_id, [Event(EventKind.WARNING, engine.clock.now(), task_id, data=data)]
                    )
        self._prepared = {}

    def _launch(
        self,
        engine: Engine,
        snap: Snapshot,
        start: StartTask,
        graph: TaskGraph,
        base: str,
        spent_today: Decimal,
    ) -> None:
        """Start ``start``'s attempt in its worktree (made now unless an earlier attempt left it),
        its budget as read by the step that chose it (``snap``, ``spent_today``)."""
        session_id, task_id = snap.session.id, start.task_id
        taken = self._ports_in_use()
        prepared = self._prepared.get(task_id)
        existing = self.worktrees.find(session_id, task_id) if prepared is None else None
        try:
            if prepared is not None:
                ports = prepared.ports
            elif existing is not None and not _overlaps(existing.ports, taken):
                ports = existing.ports
            else:
                ports = assign_ports(self.port_base, self.ports_per_task, taken)
            start_from = (
                base
                if existing is not None or prepared is not None
                else self._base_for(snap, task_id, graph, base)
            )
        except (WorktreeError, ConfigError) as exc:
            self._fail_to_start(engine, session_id, start, str(exc))
            return
        slot = _Slot(task_id, ports, made_ahead=prepared is not None)
        self._running[task_id] = slot

        def work() -> None:
            made = self._take_prepared(task_id) if prepared is not None else None
            try:
                tree = (
                    made.tree
                    if made is not None and made.tree is not None
                    else existing
                    or self.worktrees.find(session_id, task_id)  # made ahead, but its guards failed
                    or self.worktrees.create(session_id, task_id, start_from, ports, self.setup)
                )
            except (WorktreeError, ConfigError) as exc:
                self._fail_to_start(engine, session_id, start, str(exc))
                return
            data: JsonObject = {
                "path": tree.path,
                "branch": tree.branch,
                "base": tree.base,
                "ports": [ports.base, ports.last],
            }
            event = Event(EventKind.WORKTREE, engine.clock.now(), task_id, start.attempt, data)
            engine._commit(session_id, lambda _: Mutation(events=(event,)))  # where, before the agent starts
            slot_engine = self._slot_engine(
                engine, snap, tree, ports, made.parts if made is not None else None, slot, start.attempt
            )
            watching = made.watching if made is not None else None
            slot_engine._watching = (
                watching or slot_engine._start_watching()
            )  # live file tracking of the worktree
            guarded, policy = slot_engine.workspace, slot_engine.safety
            if guarded is not None and policy is not None and policy.enabled:
                with contextlib.suppress(ConfigError):  # the attempt writes them again, and says why
                    guarded.guard_env(policy, slot_engine.agent_path)
            slot.ready = True
            try:
                slot_engine._run_task(snap, start, spent_today)
            finally:
                if slot_engine._watching is not None:
                    slot_engine._watching.close()

        slot.job = self.workers.start(work)

    def _base_for(self, snap: Snapshot, task_id: str, graph: TaskGraph, base: str) -> str:
        """The session base with the work of ``task_id``'s dependencies (their branches) merged in."""
        session_id = snap.session.id
        tips: list[str] = []
        for dep in graph.dependencies_at(graph.position(task_id)):
            dep_id = graph.ids[dep]
            tree = self.worktrees.find(session_id, dep_id)
            message = task_commit_message(session_id, snap.plan.task(dep_id))
            tip = self.worktrees.commit(tree, message) if tree is not None else None
            if tip is not None:
                tips.append(tip)
        if not tips:
            return base
        return self.worktrees.combine(tips, f"orch: the dependencies of task {task_id}\n")

    def _fail_to_start(self, engine: Engine, session_id: str, start: StartTask, why: str) -> None:
        result = AgentResult(Outcome.ERROR, reason=f"its worktree could not be made: {why}")
        with self.workers.lock():
            engine._commit(session_id, lambda s: record_result(s, start.task_id, result, engine.clock.now()))
            self._spend.end(start.task_id, start.attempt, Decimal(0))

    def _slot_engine(
        self,
        engine: Engine,
        snap: Snapshot,
        tree: Worktree,
        ports: PortRange,
        parts: SlotParts | None,
        slot: _Slot,
        attempt: int,
    ) -> Engine:
        """An engine for one attempt: the same store (serialized), agent and policies, the
        worktree's workspace, guards, checks, sandbox and file watch, and no checkpoints.
        Once its agent and checks are done, its slot is free: the next agent starts while orch
        records this task's commit and result, its final cost already counted for the budget."""
        parts = parts or self.parts(tree.path)

        def work_done(result: AgentResult) -> None:
            with self.workers.lock():  # the next step sees both or neither: the cost and the free slot
                self._spend.spend(tree.task_id, attempt, result.cost_usd or Decimal(0))
                slot.freed = True
            self.workers.wake()
            try:
                commit = self.worktrees.commit(
                    tree, task_commit_message(snap.session.id, snap.plan.task(tree.task_id))
                )
            except WorktreeError as exc:
                data: JsonObject = {
                    "text": f"task {tree.task_id}: its work could not be committed on {tree.branch}: {exc}"
                }
                warned = Event(EventKind.WARNING, engine.clock.now(), tree.task_id, data=data)
                engine.store.append_events(snap.session.id, [warned])
                return
            done = Event(
                EventKind.WORKTREE,
                engine.clock.now(),
                tree.task_id,
                data={"branch": tree.branch, "commit": commit},
            )
            engine.store.append_events(snap.session.id, [done])

        workspace = _OwnRefs(parts.workspace, tree.branch) if parts.workspace is not None else None
        checker = parts.checker
        return attrs.evolve(
            engine,
            workdir=tree.path,
            workspace=cast(Workspace, workspace) if workspace is not None else None,
            checkpoints=None,
            questions=parts.questions,
            checker=checker,
            prompter=checker.prompter if checker is not None else engine.prompter,
            context_files=parts.context_files if parts.context_files is not None else engine.context_files,
            sandbox=parts.sandbox,
            parallel=None,
            extra_env={"ORCH_PORT_BASE": str(ports.base), "ORCH_PORT_COUNT": str(ports.size)},
            stop_all=lambda: self._stopping,
            shared_spend=cast(SharedSpend, _Serialized(self._spend, self.workers)),
            work_done=work_done,
        )


def _overlaps(ports: PortRange, taken: Sequence[PortRange]) -> bool:
    return any(r.base <= ports.last and ports.base <= r.last for r in taken)


def _begin_all(snap: Snapshot, starts: Sequence[StartTask], now: Any) -> Mutation:
    """Every chosen task marked running as its next attempt, in one transaction."""
    mutations = [begin(snap, s.task_id, now) for s in starts]
    if not mutations:
        return Mutation()
    return Mutation(
        session=mutations[-1].session,
        runs=tuple(r for m in mutations for r in m.runs),
        events=tuple(e for m in mutations for e in m.events),
    )


def _locked(watch: Callable[[Event], None], workers: Workers) -> Callable[[Event], None]:
    def shown(event: Event) -> None:
        with workers.lock():
            watch(event)

    return shown


class _Serialized:
    """An object (the store, the shared spend) with every call made under the workers' lock:
    one caller at a time."""

    def __init__(self, store: object, workers: Workers) -> None:
        self._store, self._workers = store, workers

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if not callable(found):
            return found
        workers = self._workers

        def locked(*args: Any, **kwargs: Any) -> Any:
            with workers.lock():
                return found(*args, **kwargs)

        return locked


class _OwnRefs:
    """A worktree's workspace whose refs check leaves out the other tasks' branches, which orch
    itself makes and moves while this attempt runs (this task's own branch is still checked)."""

    def __init__(self, workspace: Workspace, branch: str) -> None:
        self._workspace = workspace
        self._own = f"refs/heads/{branch}"
        self._theirs = f"refs/heads/{branch.rsplit('/', 1)[0]}/"

    def refs(self) -> Mapping[str, str]:
        return {
            name: value
            for name, value in self._workspace.refs().items()
            if name == self._own or not name.startswith(self._theirs)
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self._workspace, name)
