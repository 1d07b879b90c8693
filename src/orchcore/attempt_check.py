"""The attempt checker: gathers an attempt's evidence through the ports and asks the pipeline.

The engine calls :meth:`AttemptChecker.check` after the agent returns and records what it
decided with :func:`orchcore.supervision.record_checked`; before a retry it calls
:meth:`AttemptChecker.next_prompt` so the agent gets the feedback. Only I/O through ports
(checkpoints, the check runner, the judge); every decision is the pure pipeline's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from orchcore.checkpoints import task_span
from orchcore.context_budget import Cut, TokenEstimator
from orchcore.errors import OrchError
from orchcore.judge_prompt import fit_judge_prompt, judge_prompt, judge_system
from orchcore.ports.agent import AgentResult
from orchcore.ports.checkpoints import Checkpoints, FileChange
from orchcore.ports.checks import CheckRunner
from orchcore.ports.clock import Clock
from orchcore.ports.store import Store
from orchcore.ports.supervisor import JudgeRequest, JudgeUnavailable, Supervisor, Verdict
from orchcore.prompt import Prompter
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
from orchcore.supervision import Checked, fix_history
from orchcore.tasks import Task

CHECKED_OUTCOMES = frozenset({Outcome.SUCCEEDED, Outcome.FAILED, Outcome.TIMED_OUT, Outcome.ERROR})
"""Outcomes the pipeline judges; a stop, an interruption or a rate limit stays the engine's own."""
_DIFF_CHARS = 60_000  # the diff the pipeline reads; the judge's share is cut to its window
__all__ = ["CHECKED_OUTCOMES", "AttemptChecker", "judge_prompt"]


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
    prompter: Prompter = attrs.field(factory=Prompter)  # the templates: the retry's and the judge's
    estimator: TokenEstimator = attrs.field(factory=TokenEstimator)  # the judge's, corrected by its usage
    judge_cuts: tuple[Cut, ...] = attrs.field(default=(), init=False)  # what the last judge prompt cut
    _judge_model: str = attrs.field(default="", init=False)
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
        self,
        store: Store,
        snap: Snapshot,
        task: Task,
        prompt: str,
        resume: str | None,
        rebuild: Callable[[str], str] | None = None,
    ) -> tuple[str, str | None]:
        """The prompt (and agent session to resume) of an attempt after a retry decision or a
        human's rejection: the feedback, in the same agent session when it has one; else the
        whole task prompt with the feedback (``rebuild(feedback)``, by default the shipped one)."""
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
            return self.prompter.retry(feedback), session
        if rebuild is not None:
            return rebuild(feedback), resume
        return self.prompter.task(snap.plan, task, feedback=feedback).text, resume

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
        templates = self.prompter.templates
        system = judge_system(templates)
        built = fit_judge_prompt(
            task, evidence, window, templates=templates, estimator=self.estimator, model=self._judge_model
        )
        self.judge_cuts = built.cuts
        request = JudgeRequest(task.id, evidence.attempt, task.acceptance_criteria, system, built.text)
        verdict = self.judge.judge(request)
        if isinstance(verdict, Verdict) and verdict.prompt_tokens:  # the model's count corrects the estimate
            self._judge_model = verdict.model
            self.estimator.observe(verdict.model, len(system) + len(built.text), verdict.prompt_tokens)
        return verdict


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
