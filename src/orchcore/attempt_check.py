"""The attempt checker: gathers an attempt's evidence through the ports and asks the pipeline.

The engine calls :meth:`AttemptChecker.check` after the agent returns and records what it
decided with :func:`orchcore.supervision.record_checked`; before a retry it calls
:meth:`AttemptChecker.next_prompt` so the agent gets the feedback. Only I/O through ports
(checkpoints, the check runner, the judge); every decision is the pure pipeline's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from orchcore.checkpoints import task_span
from orchcore.errors import OrchError
from orchcore.ports.agent import AgentResult
from orchcore.ports.checkpoints import Checkpoints, FileChange
from orchcore.ports.checks import CheckRunner
from orchcore.ports.clock import Clock
from orchcore.ports.store import Store
from orchcore.ports.supervisor import JudgeRequest, JudgeUnavailable, Supervisor, Verdict
from orchcore.prompt import build_prompt, feedback_prompt
from orchcore.records import Outcome, Snapshot
from orchcore.safety.events import SafetyEvent, redact
from orchcore.sandbox import SandboxPolicy
from orchcore.state import TaskState
from orchcore.supervise import (
    CheckResult,
    Evidence,
    History,
    SupervisorConfig,
    TestCounts,
    changed_files,
    check_commands,
    deliverable_state,
    diff_stats,
    reported_test_counts,
    supervise,
)
from orchcore.supervise.gates import normalised
from orchcore.supervise.leaks import masked
from orchcore.supervision import Checked, fix_history
from orchcore.tasks import Task

CHECKED_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.ERROR})
"""Outcomes the pipeline judges; a stop, an interruption or a rate limit stays the engine's own."""
_DIFF_CHARS = 60_000  # the diff the pipeline reads; the judge's share is cut to its window
_JUDGE_SYSTEM = (
    "You review the work of a coding agent. For each acceptance criterion say met, not_met or unsure "
    "with a short reason drawn from the evidence (the diff, the checks' output, the agent's message). "
    "Give an overall verdict and, when something is not met, a critique the agent can act on."
)


@attrs.define
class AttemptChecker:
    """Checks every attempt of the tasks it applies to: all of them when ``every_task``, else
    those with gate commands (their own ``checks:`` or their type's)."""

    runner: CheckRunner
    clock: Clock
    config: SupervisorConfig = attrs.field(factory=SupervisorConfig)
    judge: Supervisor | None = None
    judged_types: tuple[str, ...] = ()  # empty: every type is judged when there is a judge
    every_task: bool = False
    check_timeout_s: float = 600.0
    count_tests_before: bool = False  # run the checks before a task's first attempt too, for tests-kept
    sandbox: SandboxPolicy | None = None  # where those first runs happen (the session's sandbox)
    _tests_before: dict[tuple[str, str], dict[str, TestCounts | None]] = attrs.field(factory=dict)

    def applies(self, task: Task, result: AgentResult) -> bool:
        """Whether this attempt is the supervisor's to judge (a transient failure is the retry policy's)."""
        if result.outcome not in CHECKED_OUTCOMES or result.retryable or result.retry_at is not None:
            return False
        return self.covers(task)

    def covers(self, task: Task) -> bool:
        """Whether ``task``'s attempts are checked at all."""
        return self.every_task or bool(check_commands(task, task.checks, self.config))

    def next_prompt(
        self, store: Store, snap: Snapshot, task: Task, prompt: str, resume: str | None
    ) -> tuple[str, str | None]:
        """The prompt (and agent session to resume) of an attempt after a retry decision or a
        human's rejection: the feedback, in the same agent session when it has one."""
        run = snap.run(task.id)
        if run.attempt == 1 and self.count_tests_before and self.covers(task):
            self._count_tests_before(snap.session.id, task)
        if run.attempt < 2 or not self.covers(task):
            return prompt, resume
        feedback = fix_history(store.events(snap.session.id), task.id).feedback
        if not feedback:
            return prompt, resume
        session = resume or run.attempts[-2].agent_session_id
        if session:
            return feedback_prompt(feedback), session
        return build_prompt(snap.plan, task, feedback=feedback), resume

    def check_if_due(
        self,
        store: Store,
        snap: Snapshot,
        task: Task,
        result: AgentResult,
        checkpoints: Checkpoints | None,
        sandbox: SandboxPolicy | None,
    ) -> Checked | None:
        """:meth:`check` when the attempt is the supervisor's to judge, else None (the engine's rules)."""
        if not self.applies(task, result):
            return None
        return self.check(
            store, snap, task, result, checkpoints=checkpoints, sandbox=sandbox, now=self.clock.now()
        )

    def check(
        self,
        store: Store,
        snap: Snapshot,
        task: Task,
        result: AgentResult,
        *,
        checkpoints: Checkpoints | None,
        safety: Sequence[SafetyEvent] = (),
        sandbox: SandboxPolicy | None = None,
        now: datetime,
    ) -> Checked:
        """Gather the evidence of the attempt that just ended, ask the judge, and decide."""
        run = snap.run(task.id)
        events = store.events(snap.session.id)
        known = _changes(checkpoints, snap.session.id, task.id)
        changes, diff = known or ((), "")
        changed_paths = {c.path for c in changes}
        deliverables = []
        for path in task.deliverables:  # "unchanged" only when the checkpoints say so
            after = self.runner.read_text(path)
            unchanged = known is not None and normalised(path) not in changed_paths
            deliverables.append(deliverable_state(path, after if unchanged else None, after))
        before = self._tests_before.get((snap.session.id, task.id), {})
        commands = check_commands(task, task.checks, self.config)
        checks = tuple(self._run(c, sandbox, before.get(c)) for c in commands)
        started = run.attempts[-1].started_at if run.attempts else now
        evidence = Evidence(
            task_id=task.id,
            attempt=run.attempt,
            outcome=result.outcome,
            final_message=result.final_text or result.output_tail,
            error="" if result.outcome is Outcome.SUCCEEDED else redact(result.reason),
            changed=changed_files(changes, diff_stats(diff)),
            diff=diff[:_DIFF_CHARS],
            deliverables=tuple(deliverables),
            checks=checks,
            safety=tuple(safety),
            cost_usd=result.cost_usd or Decimal(0),
            turns=result.turns or 0,
            duration_s=(now - started).total_seconds(),
        )
        if self.judge is not None and (not self.judged_types or task.type in self.judged_types):
            evidence = attrs.evolve(evidence, judge=self._judge(task, evidence))
        history = History(fix_history(events, task.id).fix_attempts, _accepted_types(snap))
        return Checked(evidence, supervise(task, evidence, self.config, history))

    def _count_tests_before(self, session_id: str, task: Task) -> None:
        """What each check reports before the task's first attempt (kept for this run of orch:
        after a crash the tests-kept gate reads the diff alone)."""
        counts = {}
        for command in check_commands(task, task.checks, self.config):
            found = self.runner.run(command, timeout_s=self.check_timeout_s, sandbox=self.sandbox)
            counts[command] = reported_test_counts(found.output_tail)
        self._tests_before[(session_id, task.id)] = counts

    def _run(
        self, command: str, sandbox: SandboxPolicy | None, before: TestCounts | None = None
    ) -> CheckResult:
        found = self.runner.run(command, timeout_s=self.check_timeout_s, sandbox=sandbox)
        return attrs.evolve(found, tests_before=before, tests_after=reported_test_counts(found.output_tail))

    def _judge(self, task: Task, evidence: Evidence) -> Verdict | JudgeUnavailable:
        assert self.judge is not None  # noqa: S101 - checked by the caller
        window = self.judge.context_window() or 4096
        request = JudgeRequest(
            task.id,
            evidence.attempt,
            task.acceptance_criteria,
            _JUDGE_SYSTEM,
            judge_prompt(task, evidence, window),
        )
        return self.judge.judge(request)


def _changes(
    checkpoints: Checkpoints | None, session_id: str, task_id: str
) -> tuple[Sequence[FileChange], str] | None:
    """What the task changed from its first checkpoint to the one after its latest attempt (the
    workspace now when there is none), and the diff; None when not known. The engine took that
    checkpoint already, so the workspace is not scanned again, and files this attempt's checks
    write are not counted."""
    if checkpoints is None:
        return None
    try:
        first, last = task_span(checkpoints.checkpoints(session_id), task_id)
        return checkpoints.changes(first, last), checkpoints.diff(first, last)
    except OrchError:  # no checkpoint (it could not be taken): what changed is not known
        return None


def _accepted_types(snap: Snapshot) -> frozenset[str]:
    """Task types this session completed before (``first_of_type`` reads it)."""
    return frozenset(snap.plan.task(t).type for t, r in snap.runs.items() if r.state is TaskState.COMPLETED)


def judge_prompt(task: Task, evidence: Evidence, window_tokens: int) -> str:
    """The judge's prompt: the task and its criteria first, then failing checks, the agent's message
    and the diff, cut to about half the model's window (4 characters a token, conservatively 3)."""
    budget = max(window_tokens // 2, 512) * 3
    parts = [f"# Task {task.id}: {task.title}"]
    if task.description or task.instruction:
        parts.append((task.description + "\n" + task.instruction).strip())
    if task.acceptance_criteria:
        parts.append("## Acceptance criteria\n" + "\n".join(f"- {c}" for c in task.acceptance_criteria))
    if task.deliverables:
        parts.append(
            "## Deliverables\n" + "\n".join(f"- {d.path}: {d.state.value}" for d in evidence.deliverables)
        )
    for check in evidence.checks:
        verdict = "passed" if check.passed else "FAILED"
        parts.append(f"## Check `{check.command}`: {verdict}\n{masked(check.output_tail[-1500:])}".rstrip())
    parts.append(f"## The agent's final message\n{masked(evidence.final_message[-2000:])}")
    head = "\n\n".join(parts)
    room = max(budget - len(head) - 40, 0)
    shown = redact(masked(evidence.diff))  # secrets the attempt wrote never reach the judge
    diff = shown if len(shown) <= room else shown[:room] + "\n[…diff cut to fit…]"
    return f"{head}\n\n## The diff\n{diff or '(nothing changed)'}\n"
