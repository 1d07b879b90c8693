"""The judge's prompt: the task and its criteria first, then the checks and the agent's message,
the diff last and cut to the model's window with a visible marker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchcore.attempt_check import judge_prompt
from orchcore.supervise import CheckResult, Evidence
from orchcore.tasks import Task

TASK = Task(id="7", title="Signup", description="POST /signup", acceptance_criteria=("email is unique",))


def test_the_task_and_its_criteria_come_before_the_checks_the_message_and_the_diff() -> None:
    evidence = Evidence(
        "7",
        1,
        final_message="Done.",
        diff="+def signup(): ...\n",
        checks=(CheckResult("pytest -q", 1, output_tail="E assert 409 == 201"),),
    )
    prompt = judge_prompt(TASK, evidence, 8192)
    order = [
        prompt.index(s) for s in ("# Task 7: Signup", "email is unique", "FAILED", "Done.", "+def signup")
    ]
    assert order == sorted(order)
    assert "E assert 409 == 201" in prompt


@given(diff_lines=st.integers(0, 20_000), window=st.integers(256, 32_768))
def test_the_prompt_fits_half_the_window_and_says_how_many_diff_lines_were_cut(
    diff_lines: int, window: int
) -> None:
    diff = "".join(f"+line {i}\n" for i in range(diff_lines))
    prompt = judge_prompt(TASK, Evidence("7", 1, diff=diff), window)
    budget = max(window // 2, 512) * 3
    assert len(prompt) <= budget + 200
    assert ("lines cut to fit the context budget …]" in prompt) == (diff not in prompt)
    assert "email is unique" in prompt


def test_secrets_the_attempt_wrote_or_printed_never_reach_the_judge() -> None:
    aws = "AKIA" + "Q7WJ3K2L5M6N8P4R"
    password = "Zx9#mQ2!vL7pR4tB"  # noqa: S105 - a made-up secret the judge must not see
    key_body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    diff = (
        "diff --git a/settings.py b/settings.py\n"
        f'+AWS_ACCESS_KEY_ID = "{aws}"\n'
        f'+DB_PASSWORD = "{password}"\n'
        "+DATABASE_URL = postgres://app:hunter2secret@db/app\n"
        "+-----BEGIN PRIVATE KEY-----\n"
        f"+{key_body}\n"
        "+-----END PRIVATE KEY-----\n"
        "+DEBUG = True\n"
    )
    evidence = Evidence(
        "7",
        1,
        final_message=f"Done; I set the key to {aws}.",
        diff=diff,
        checks=(CheckResult("pytest -q", 1, output_tail=f"E KeyError: {aws}"),),
    )
    prompt = judge_prompt(TASK, evidence, 8192)
    for secret in (aws, password, "hunter2secret", key_body):
        assert secret not in prompt
    assert "AKIA***" in prompt  # where it was stays visible: the judge can still flag it
    assert "+DEBUG = True" in prompt
