"""The validator: the work was done, and the agent did not ask, refuse or fail instead."""

from __future__ import annotations

import pytest

from orchcore.questions import question_in
from orchcore.records import Outcome
from orchcore.supervise import Action, DeliverableState, deliverable_state, supervise, validate
from orchcore.tasks import Task
from tests.unit.supervise.build import added_file, check, evidence

TASK = Task("1", "Add slugify", type="feature", deliverables=("src/slug.py",))
SLUG = 'def slugify(text: str) -> str:\n    return "-".join(text.lower().split())\n'
DONE = added_file("src/slug.py", SLUG)
PASSING = check("pytest -q", 0, "3 passed in 0.01s")


@pytest.mark.parametrize(
    "message",
    [
        "Added slugify with tests; all tests pass.\n\nAnything else?",
        "Done: src/slug.py.\n\nWould you like me to add more tests?",
        "Implemented it. Let me know if you want any changes?",
        "Finished.\n\nDoes this look good?",
    ],
)
def test_finished_work_that_ends_with_a_courtesy_question_is_accepted(message: str) -> None:
    assert question_in(message) is not None  # the engine's rule today: this would wait for an answer
    decision = supervise(TASK, evidence(TASK, diff=DONE, message=message, checks=[PASSING]))
    assert decision.action is Action.ACCEPT, decision.trail


def test_a_real_question_with_no_work_done_waits_for_an_answer() -> None:
    message = "Before I start: should slugs keep unicode letters or transliterate them?"
    decision = supervise(TASK, evidence(TASK, message=message))
    assert decision.action is Action.AWAIT_ANSWER
    assert decision.question == message


def test_a_courtesy_question_with_no_work_done_is_not_finished_work() -> None:
    decision = supervise(TASK, evidence(TASK, message="Anything else I can help with?"))
    assert decision.action is Action.RETRY_WITH_FEEDBACK
    assert "src/slug.py: missing" in decision.feedback


def test_a_real_question_after_some_work_still_waits_for_the_answer() -> None:
    message = "I added the module.\n\nShould email be unique per tenant?"
    decision = supervise(TASK, evidence(TASK, diff=DONE, message=message, checks=[PASSING]))
    assert decision.action is Action.AWAIT_ANSWER


@pytest.mark.parametrize(
    "message",
    [
        "I can't help with modifying this repository.",
        "I'm unable to complete this task.",
        "I cannot do that.",
    ],
)
def test_a_refusal_that_changed_nothing_fails_the_validator(message: str) -> None:
    validation = validate(TASK, evidence(TASK, message=message))
    failing = [r.name for r in validation.results if not r.passed]
    assert failing[0] == "not-a-refusal"


def test_saying_i_cannot_while_delivering_the_work_is_not_a_refusal() -> None:
    message = "Done. I can't run the browser tests here, but the unit tests pass."
    validation = validate(TASK, evidence(TASK, diff=DONE, message=message, checks=[PASSING]))
    assert validation.ok


def test_an_agent_that_ended_in_error_fails_the_first_rule_with_its_reason() -> None:
    validation = validate(TASK, evidence(TASK, message="", outcome=Outcome.ERROR))
    first = validation.results[0]
    assert (first.name, first.passed) == ("agent-finished", False)
    assert "error" in first.detail


def test_an_api_error_as_the_last_message_is_not_finished_work() -> None:
    validation = validate(TASK, evidence(TASK, message="API Error: 500 Internal Server Error"))
    assert not validation.results[0].passed


def test_a_task_that_asks_for_changes_and_changed_nothing_fails() -> None:
    task = Task("2", "Fix the typo in the README", type="docs")
    validation = validate(task, evidence(task, message="Fixed the typo."))
    result = next(r for r in validation.results if r.name == "something-changed")
    assert not result.passed


def test_a_review_task_may_change_nothing() -> None:
    task = Task("3", "Review the auth module", type="review")
    assert validate(task, evidence(task, message="The module is fine; two nits: ...")).ok


@pytest.mark.parametrize(
    ("text", "state"),
    [
        (None, DeliverableState.MISSING),
        ("", DeliverableState.EMPTY),
        ("\n  \n", DeliverableState.EMPTY),
        ("def slugify(text):\n    pass\n", DeliverableState.PLACEHOLDER),
        ("def slugify(text):\n    raise NotImplementedError\n", DeliverableState.PLACEHOLDER),
        ('def slugify(text):\n    """Slug."""\n    ...\n', DeliverableState.PLACEHOLDER),
        ("# TODO: write the module\n", DeliverableState.PLACEHOLDER),
        ('"""Slugs."""\n', DeliverableState.PLACEHOLDER),
        ("def slugify(text):\n    # TODO: unicode\n    return text.lower()\n", DeliverableState.PRESENT),
        ("class Port(Protocol):\n    def get(self) -> int: ...\n", DeliverableState.PRESENT),
        (SLUG, DeliverableState.PRESENT),
    ],
)
def test_a_python_deliverable_is_judged_by_its_code(text: str | None, state: DeliverableState) -> None:
    assert deliverable_state("src/slug.py", None, text).state is state


@pytest.mark.parametrize(
    ("path", "text", "state"),
    [
        ("docs/guide.md", "# Guide\n\nLorem ipsum dolor sit amet.\n", DeliverableState.PLACEHOLDER),
        ("docs/guide.md", "# Guide\n\nTODO\n", DeliverableState.PLACEHOLDER),
        ("docs/guide.md", "# Guide\n\nRun `orch run` to start.\n", DeliverableState.PRESENT),
        (
            "src/slug.ts",
            'export function slugify(t: string): string {\n  throw new Error("not implemented");\n}\n',
            DeliverableState.PLACEHOLDER,
        ),
        ("src/lib.rs", "pub fn slugify(t: &str) -> String {\n    todo!()\n}\n", DeliverableState.PLACEHOLDER),
        ("src/slug.ts", "export const slugify = (t: string) => t.toLowerCase();\n", DeliverableState.PRESENT),
    ],
)
def test_other_deliverables_are_judged_by_their_text(path: str, text: str, state: DeliverableState) -> None:
    assert deliverable_state(path, None, text).state is state


def test_a_deliverable_left_as_it_was_is_unchanged() -> None:
    assert deliverable_state("src/slug.py", SLUG, SLUG).state is DeliverableState.UNCHANGED


def test_a_package_init_that_only_documents_the_package_is_present() -> None:
    assert (
        deliverable_state("src/shop/__init__.py", None, '"""The shop."""\n').state is DeliverableState.PRESENT
    )
