"""The `orch plan` use case on a scripted drafter: what is asked, what is repaired, what is refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchcore.daily_plan import draft_task_file, task_file_text, template
from orchcore.ports.drafter import DrafterUnavailable
from orchcore.testing import ScriptedDrafter

GOOD = "# Tasks\n\n## Task 1: Health\n**Type:** backend\n**Description:** add /health\n**Acceptance Criteria:**\n- GET /health answers 200\n"
NO_APPROVAL = GOOD.replace("backend", "deployment")


def test_a_valid_first_draft_is_taken_as_it_is_with_one_request() -> None:
    drafter = ScriptedDrafter([GOOD])
    result = draft_task_file("add a health endpoint", "daily_logs/2026-12-01.md", "t.md", drafter)
    assert not isinstance(result, DrafterUnavailable)
    assert result.valid
    assert not result.repaired
    assert result.tries == 1
    assert len(drafter.requests) == 1
    assert "add a health endpoint" in drafter.requests[0].prompt
    assert "# Tasks - 2026-12-01" in drafter.requests[0].prompt  # the day from the log's name


def test_a_deployment_task_without_approval_is_sent_back_and_the_repair_is_checked_again() -> None:
    drafter = ScriptedDrafter([NO_APPROVAL, NO_APPROVAL])
    result = draft_task_file("deploy", "log.md", "t.md", drafter)
    assert not isinstance(result, DrafterUnavailable)
    assert not result.valid
    assert result.tries == 2
    assert [(p.line, p.field) for p in result.problems] == [(3, "Requires Approval")]
    assert "line 3: Requires Approval" in drafter.requests[1].prompt


def test_no_model_at_all_is_unavailable_and_a_failed_repair_keeps_the_first_problems() -> None:
    down = DrafterUnavailable("down", "start it")
    assert draft_task_file("x", "log.md", "t.md", ScriptedDrafter(then=down)) == down
    result = draft_task_file("x", "log.md", "t.md", ScriptedDrafter(["no tasks here"], then=down))
    assert not isinstance(result, DrafterUnavailable)
    assert not result.valid
    assert result.repair_failed == "down"
    assert result.problems[0].field == "tasks"


def test_the_template_is_a_valid_plan() -> None:
    result = draft_task_file("x", "log.md", "t.md", ScriptedDrafter([template("2026-12-01")]))
    assert not isinstance(result, DrafterUnavailable)
    assert result.valid


@given(st.text(max_size=300), st.sampled_from(["", "Sure! Here it is:\n", "```markdown\n"]))
def test_the_task_file_in_an_answer_is_found_whatever_surrounds_it(chatter: str, opening: str) -> None:
    text = task_file_text(opening + GOOD + ("```\nHope this helps.\n" if opening.startswith("```") else ""))
    assert text == GOOD
    assert task_file_text(chatter).endswith("\n")  # never raises, always one final newline
