"""The validator, first and agent-independent: is the attempt a complete, well-formed piece of work?

It runs before the quality gates and answers whether the work was done at all:

* ``agent-finished``: the agent ended normally, and its last message is not an error;
* ``not-a-refusal``: it did not decline ("I can't", "I'm unable to") and leave nothing;
* ``not-a-question``: it did not stop to ask instead of working. A final question is
  a real question unless it is a courtesy ("Anything else?", "Would you like me to add
  tests?", "Let me know if…"), which asks for no decision and is ignored (whether work
  was done is then the other rules' answer); a real question waits for an answer
  (remedy ASK). This replaces the engine's rule that any final "?" waits
  (``orchcore.questions.question_in`` still finds the question);
* ``deliverables``: each file the task names exists and is real work (not missing,
  empty, a placeholder, or left as it was);
* ``something-changed``: a task that asks for changes changed a file (types in
  ``ValidatorConfig.no_change_types`` and tasks whose work is the message do not need to).
"""

from __future__ import annotations

import re

import attrs

from orchcore.questions import question_in
from orchcore.records import Outcome
from orchcore.supervise.evidence import DeliverableState, Evidence
from orchcore.supervise.results import GateResult, Remedy, Stage, failed, passed
from orchcore.tasks import Task

_REFUSAL = re.compile(
    r"\b(?:I\s+(?:can(?:no|')t|cannot|won't|will not|am unable to|am not able to)|"
    r"I'm\s+(?:unable|not able) to|I\s+must\s+(?:decline|refuse)|unable to (?:comply|help with))\b",
    re.IGNORECASE,
)
_ERROR_MESSAGE = re.compile(r"^\s*(?:API Error\b|Error:|error:|Traceback \(most recent call last\))")
_COURTESY = re.compile(
    r"(?:\banything else\b|\bwould you like (?:me|us) to\b|\b(?:do you )?want me to\b|"
    r"\blet me know\b|\bshall I (?:also|go on|continue|proceed)\b|\bany (?:other )?(?:questions|changes)\b|"
    r"\bdoes (?:this|that|everything) (?:look (?:good|right|ok(?:ay)?)|work for you|help)\b|"
    r"\bhow does (?:this|that) look\b|\bneed anything else\b|\bhelp with anything\b)",
    re.IGNORECASE,
)
_NOT_DONE = {
    DeliverableState.MISSING,
    DeliverableState.EMPTY,
    DeliverableState.PLACEHOLDER,
    DeliverableState.UNCHANGED,
}


@attrs.frozen
class ValidatorConfig:
    """What the validator may be told: task types whose work needs no file changed."""

    no_change_types: frozenset[str] = frozenset({"review", "research", "analysis", "planning", "question"})


@attrs.frozen
class Validation:
    """The validator's results in order, and the agent's question when it asked a real one."""

    results: tuple[GateResult, ...]
    question: str | None = None

    @property
    def ok(self) -> bool:
        """Every rule passed."""
        return all(r.passed for r in self.results)


def is_courtesy_question(question: str) -> bool:
    """Whether ``question`` only offers more help ("Anything else?") rather than asking for a decision."""
    return bool(_COURTESY.search(question))


def work_done(evidence: Evidence) -> bool:
    """Whether the attempt left any work: a changed file, or a deliverable that is present."""
    return bool(evidence.changed) or any(d.state is DeliverableState.PRESENT for d in evidence.deliverables)


def _finished(evidence: Evidence) -> GateResult:
    name = "agent-finished"
    if evidence.outcome not in {Outcome.SUCCEEDED, Outcome.ASKED}:
        why = evidence.error or "no reason given"
        return failed(
            name, f"the agent ended {evidence.outcome.value}: {why}", evidence.error, stage=Stage.VALIDATOR
        )
    if _ERROR_MESSAGE.match(evidence.final_message) and not work_done(evidence):
        first = evidence.final_message.strip().splitlines()[0]
        return failed(name, f"its last message is an error: {first[:200]}", stage=Stage.VALIDATOR)
    return passed(name, stage=Stage.VALIDATOR)


def _refusal(evidence: Evidence) -> GateResult:
    name = "not-a-refusal"
    found = _REFUSAL.search(evidence.final_message)
    if found is not None and not work_done(evidence):
        return failed(
            name,
            f"the agent declined and changed nothing: {found.group(0)!r}",
            evidence.final_message,
            stage=Stage.VALIDATOR,
        )
    return passed(name, stage=Stage.VALIDATOR)


def _question(evidence: Evidence) -> tuple[GateResult, str | None]:
    name = "not-a-question"
    question = question_in(evidence.final_message)
    if question is None:
        return passed(name, stage=Stage.VALIDATOR), None
    if is_courtesy_question(question):  # it asks for no decision; the other rules say if work was done
        return passed(name, "only a courtesy question", stage=Stage.VALIDATOR), None
    result = failed(
        name,
        "the agent asked a question instead of finishing",
        question,
        stage=Stage.VALIDATOR,
        remedy=Remedy.ASK,
    )
    return result, question


def _deliverables(evidence: Evidence) -> GateResult:
    name = "deliverables"
    bad = [d for d in evidence.deliverables if d.state in _NOT_DONE]
    if not bad:
        count = len(evidence.deliverables)
        return passed(name, f"{count} present" if count else "none named", stage=Stage.VALIDATOR)
    lines = [f"{d.path}: {d.state.value}" + (f" ({d.detail})" if d.detail else "") for d in bad]
    return failed(name, "; ".join(lines), "\n".join(lines), stage=Stage.VALIDATOR)


def changes_expected(task: Task, config: ValidatorConfig) -> bool:
    """Whether ``task`` asks for files to change: it names deliverables, or its type is not a no-change one."""
    return bool(task.deliverables) or task.type not in config.no_change_types


def _changed(task: Task, evidence: Evidence, config: ValidatorConfig) -> GateResult:
    name = "something-changed"
    if evidence.changed:
        return passed(name, f"{len(evidence.changed)} files changed", stage=Stage.VALIDATOR)
    if not changes_expected(task, config):
        return passed(name, f"a {task.type} task needs no change", stage=Stage.VALIDATOR)
    return failed(name, "the task asks for changes and no file changed", stage=Stage.VALIDATOR)


def validate(task: Task, evidence: Evidence, config: ValidatorConfig | None = None) -> Validation:
    """Every validator rule over ``evidence``, in order; the question, when it is a real one."""
    config = config or ValidatorConfig()
    question_result, question = _question(evidence)
    results = (
        _finished(evidence),
        _refusal(evidence),
        question_result,
        _deliverables(evidence),
        _changed(task, evidence, config),
    )
    return Validation(results, question)
