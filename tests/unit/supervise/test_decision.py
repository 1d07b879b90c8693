"""The decision engine and the confidence a user sees: what is accepted, retried with which
feedback, stopped for whom, failed, and the trail that explains it."""

from __future__ import annotations

from orchcore.ports.supervisor import CriterionVerdict, Judgement, JudgeUnavailable, Verdict
from orchcore.safety.events import SafetyLayer, refusal, violation
from orchcore.supervise import Action, History, Stage, supervise
from orchcore.tasks import Task
from tests.unit.supervise.build import added_file, check, evidence

TASK = Task("1", "Add slugify", type="feature", acceptance_criteria=("handles unicode", "has tests"))
GOOD = added_file("src/slug.py", "def slugify(t):\n    return t.lower()")
PASSING = check("pytest -q", 0, "3 passed in 0.1s")
FAILING = check(
    "pytest -q", 1, "FAILED tests/test_slug.py::test_unicode - assert 'e' == 'é'\n1 failed, 2 passed in 0.1s"
)


def test_good_work_with_passing_checks_is_accepted_with_high_confidence() -> None:
    decision = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING]))
    assert decision.action is Action.ACCEPT
    assert decision.confidence > 0.85


def test_a_failing_check_is_retried_with_its_output_in_the_feedback() -> None:
    decision = supervise(TASK, evidence(TASK, diff=GOOD, checks=[FAILING]))
    assert decision.action is Action.RETRY_WITH_FEEDBACK
    assert decision.reason == "retry 1 of 2: check:pytest -q"
    assert "## check:pytest -q: exited 1 (2 passed, 1 failed)" in decision.feedback
    assert "test_unicode - assert 'e' == 'é'" in decision.feedback


def test_the_judges_unmet_criteria_and_critique_are_the_retry_feedback() -> None:
    verdict = Verdict(
        Judgement.NOT_MET,
        (
            CriterionVerdict("handles unicode", Judgement.NOT_MET, "é is dropped"),
            CriterionVerdict("has tests", Judgement.MET),
        ),
        critique="Use unicodedata.normalize before lowering.",
    )
    decision = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING], judge=verdict))
    assert decision.action is Action.RETRY_WITH_FEEDBACK
    assert "- handles unicode: é is dropped" in decision.feedback
    assert "Use unicodedata.normalize" in decision.feedback
    assert "has tests" not in decision.feedback


def test_feedback_stays_within_its_budget_and_says_where_it_was_cut() -> None:
    huge = check("pytest -q", 1, "E" * 50_000 + "\n1 failed in 0.1s")
    decision = supervise(TASK, evidence(TASK, diff=GOOD, checks=[huge, check("ruff check", 1, "x" * 9000)]))
    assert len(decision.feedback) <= 6000
    assert "ruff check" in decision.feedback


def test_a_judge_that_agrees_raises_the_confidence_and_one_that_disagrees_lowers_it() -> None:
    base = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING])).confidence
    met = Verdict(Judgement.MET, (CriterionVerdict("handles unicode", Judgement.MET),))
    unsure = Verdict(Judgement.UNSURE, (CriterionVerdict("handles unicode", Judgement.UNSURE),))
    with_met = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING], judge=met)).confidence
    with_unsure = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING], judge=unsure)).confidence
    assert with_unsure < base < with_met


def test_claiming_tests_pass_when_a_check_failed_costs_confidence() -> None:
    honest = supervise(TASK, evidence(TASK, diff=GOOD, checks=[FAILING], message="One test still fails."))
    claims = supervise(TASK, evidence(TASK, diff=GOOD, checks=[FAILING], message="Done, all tests pass."))
    assert claims.confidence < honest.confidence


def test_work_without_checks_is_less_certain_than_work_whose_checks_pass() -> None:
    unchecked = supervise(TASK, evidence(TASK, diff=GOOD)).confidence
    checked = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING])).confidence
    assert 0.6 < unchecked < checked


def test_refusals_lower_the_confidence_and_a_violation_fails_the_task() -> None:
    calm = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING]))
    refused = supervise(
        TASK, evidence(TASK, diff=GOOD, checks=[PASSING], safety=[refusal(SafetyLayer.HOOK, "git push")])
    )
    assert refused.action is Action.ACCEPT
    assert refused.confidence < calm.confidence
    caught = violation(SafetyLayer.STREAM_GUARD, "rm -rf /", "forbidden (rm-root)")
    failed = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING], safety=[caught]))
    assert (failed.action, failed.rule) == (Action.FAIL, "safety-violation")
    assert failed.reason == "safety violation: forbidden (rm-root)"


def test_a_stop_for_review_carries_the_evidence_summary() -> None:
    diff = GOOD + added_file("app/migrations/0002_slug.py", "operations = []")
    decision = supervise(
        TASK, evidence(TASK, diff=diff, checks=[PASSING], judge=JudgeUnavailable("timed out"))
    )
    assert (decision.action, decision.rule) == (Action.STOP_FOR_REVIEW, "forbidden-paths")
    assert decision.summary.splitlines()[0].startswith("2 files changed (+3 -0); confidence ")
    assert (
        "gate forbidden-paths: failed (needs a human: added app/migrations/0002_slug.py)" in decision.summary
    )
    assert "judge unavailable: timed out" in decision.summary


def test_a_review_remedy_stops_even_with_retries_left() -> None:
    diff = added_file("src/settings.py", 'STRIPE_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"')
    decision = supervise(TASK, evidence(TASK, diff=diff, checks=[FAILING]), history=History(fix_attempts=0))
    assert (decision.action, decision.rule) == (Action.STOP_FOR_REVIEW, "no-secrets")


def test_the_trail_says_what_each_stage_said_in_pipeline_order() -> None:
    decision = supervise(
        TASK, evidence(TASK, diff=GOOD, checks=[PASSING], judge=JudgeUnavailable("connection refused"))
    )
    stages = [t.stage for t in decision.trail]
    order = [Stage.VALIDATOR, Stage.GATE, Stage.JUDGE, Stage.CONFIDENCE, Stage.DECISION]
    assert list(dict.fromkeys(stages)) == order
    texts = [t.text for t in decision.trail]
    assert "judge unavailable: connection refused; gates only" in texts
    assert texts[-1] == "accept: every check passed"


def test_every_result_is_event_data_a_store_can_keep() -> None:
    decision = supervise(TASK, evidence(TASK, diff=GOOD, checks=[FAILING]))
    data = [r.as_data() for r in decision.results]
    assert {d["name"] for d in data} >= {
        "agent-finished",
        "deliverables",
        "check:pytest -q",
        "scope",
        "no-secrets",
    }
    failing = next(d for d in data if d["name"] == "check:pytest -q")
    assert failing["passed"] is False
    assert failing["remedy"] == "retry"
    assert "1 failed, 2 passed" in str(failing["output_tail"])


def test_a_secret_in_a_checks_output_never_reaches_the_feedback_or_the_stored_result() -> None:
    key = "sk-ant-api03-" + "Qx7Lm2Vt8Rz4Kp9Wn3Yb6Hd"
    output = f"ANTHROPIC_API_KEY={key}\nconnecting to https://deploy:hunter2hunter2@ci.example/run?token=abc123\n1 failed in 0.1s"
    decision = supervise(TASK, evidence(TASK, diff=GOOD, checks=[check("pytest -q", 1, output)]))
    assert decision.action is Action.RETRY_WITH_FEEDBACK
    stored = str([r.as_data() for r in decision.results])
    for shown in (decision.feedback, stored):
        assert key not in shown
        assert "hunter2hunter2" not in shown
        assert "abc123" not in shown
    assert "1 failed in 0.1s" in decision.feedback


def test_the_task_checks_run_first_then_its_types_then_everyones_each_once() -> None:
    from orchcore.supervise import SupervisorConfig, check_commands

    config = SupervisorConfig(
        checks_by_type={"feature": ("python -m pytest -q", "mypy src"), "*": ("ruff check",)}
    )
    commands = check_commands(TASK, ["python -m pytest -q tests/test_slug.py", "mypy src"], config)
    assert commands == (
        "python -m pytest -q tests/test_slug.py",
        "mypy src",
        "python -m pytest -q",
        "ruff check",
    )
    assert check_commands(Task("2", "Docs", type="docs"), [], config) == ("ruff check",)


def test_a_stop_is_stored_and_told_by_its_rule_and_confidence() -> None:
    decision = supervise(TASK, evidence(TASK, diff=GOOD, checks=[PASSING], judge=JudgeUnavailable("down")))
    stopped = supervise(
        TASK,
        evidence(TASK, diff=GOOD + added_file("app/migrations/0002.py", "x = 1"), checks=[PASSING]),
    )
    assert decision.line.startswith("accept (confidence 0.")
    assert stopped.line == f"stopped for review: rule forbidden-paths, confidence {stopped.confidence:.2f}"
    data = stopped.as_data()
    assert (data["action"], data["rule"], data["text"]) == (
        "stop_for_review",
        "forbidden-paths",
        stopped.line,
    )
    assert data["trail"][-1] == {"stage": "decision", "text": f"stop_for_review: {stopped.reason}"}


def test_checkpoint_changes_and_diff_counts_become_the_changed_files() -> None:
    from orchcore.ports.checkpoints import FileChange
    from orchcore.supervise import FileStatus, changed_files, diff_stats

    diff = GOOD + added_file("tests/test_slug.py", "def test_a():\n    assert True")
    changes = [
        FileChange("src/slug.py", None, "h1"),
        FileChange("tests/test_slug.py", None, "h2"),
        FileChange("old.txt", "h0", None),
    ]
    files = changed_files(changes, diff_stats(diff), {"src/slug.py": 48})
    assert [(f.path, f.status, f.lines_added, f.size) for f in files] == [
        ("src/slug.py", FileStatus.ADDED, 2, 48),
        ("tests/test_slug.py", FileStatus.ADDED, 2, None),
        ("old.txt", FileStatus.DELETED, 0, None),
    ]


def test_a_secret_on_disk_is_reviewed_before_the_agents_question_is_answered() -> None:
    diff = added_file("src/settings.py", 'STRIPE_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"')
    message = "I added the client.\n\nShould refunds go to the original card or store credit?"
    decision = supervise(TASK, evidence(TASK, diff=diff, checks=[PASSING], message=message))
    assert (decision.action, decision.rule) == (Action.STOP_FOR_REVIEW, "no-secrets")
