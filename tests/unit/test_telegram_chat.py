"""Pure parts of the Telegram front end: reading commands, escaping, splitting, replies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.telegram.client import MAX_MESSAGE, TelegramClient, cost, escape_markdown, split_text
from adapters.telegram.notifier import render
from apps.commands import CommandError
from apps.telegram.bot import ChatCommand, OffsetFile, parse_command, to_request
from apps.telegram.replies import as_command, refused, success
from orchcore.errors import ConfigError
from orchcore.testing.contracts.notifier import notification
from tests.fakes.telegram_api import parse_markdown_v2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/approve", ChatCommand("approve", "")),
        ("/approve 3", ChatCommand("approve", "3")),
        ("  /Approve@Orch_Test_Bot   3 ", ChatCommand("approve", "3")),
        ("/answer Use UUIDs.\nAnd keep the index.", ChatCommand("answer", "Use UUIDs.\nAnd keep the index.")),
        ("/approve@another_bot 3", None),
        ("approve 3", None),
        ("/", None),
        ("/approve-3", None),
    ],
)
def test_commands_are_read_from_messages(text: str, expected: ChatCommand | None) -> None:
    assert parse_command(text, "orch_test_bot") == expected


def request(text: str, task_ids: tuple[str, ...] = ("1", "2")) -> tuple[str, dict[str, Any]]:
    command = parse_command(text)
    assert command is not None
    return to_request(command, lambda: task_ids)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start today.md", ("start", {"file": "today.md", "new": False, "auto_approve": False})),
        ("/start today.md new auto", ("start", {"file": "today.md", "new": True, "auto_approve": True})),
        ("/status", ("status", {})),
        ("/resume s2", ("resume", {"session": "s2"})),
        ("/approve", ("approve", {})),
        ("/approve 2", ("approve", {"task": "2"})),
        ("/reject 1 not today", ("reject", {"task": "1", "reason": "not today"})),
        ("/reject not today", ("reject", {"reason": "not today"})),
        ("/skip 2", ("skip", {"task": "2"})),
        ("/retry 1", ("retry", {"task": "1"})),
        ("/answer  Postgres 16 ", ("answer", {"text": "Postgres 16"})),
        ("/logs", ("logs", {"lines": 20})),
        ("/logs 50", ("logs", {"lines": 50})),
        ("/logs 2", ("logs", {"task": "2", "lines": 20})),
        ("/logs 2 5", ("logs", {"task": "2", "lines": 5})),
    ],
)
def test_chat_commands_become_remote_commands(text: str, expected: tuple[str, dict[str, Any]]) -> None:
    assert request(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/start", "usage: /start FILE"),
        ("/start today.md later", "usage: /start FILE"),
        ("/skip", "usage: /skip T"),
        ("/skip 1 2", "usage: /skip T"),
        ("/answer", "usage: /answer TEXT"),
        ("/logs 1 many", "usage: /logs"),
        ("/logs 1 0", "lines: must be at least 1"),
        ("/answer " + "x" * 5000, "text: must be at most 4000 characters"),
        ("/dance", "unknown command /dance"),
    ],
)
def test_malformed_commands_are_refused_with_their_usage(text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("[", r"\[")):
        request(text)


def test_suggestions_read_as_chat_commands() -> None:
    assert as_command("approve 3 (then: resume)") == "/approve 3 then /resume"
    assert as_command('answer "..."') == "/answer TEXT"
    assert as_command("logs 2") == "/logs 2"


def test_a_refused_transition_lists_what_is_allowed() -> None:
    reply = refused("illegal_transition", "cannot approve: the session is paused", ["resume", "cancel"])
    assert reply.title == "✗ cannot approve: the session is paused"
    assert reply.text == "Allowed now: /resume   /cancel"


def test_a_logs_answer_shows_the_lines() -> None:
    body = {
        "command": "logs",
        "message": "task 1, attempt 1: 2 lines",
        "session": None,
        "next": ["status"],
        "logs": {"task": "1", "attempt": 1, "lines": ["one", "two"]},
    }
    reply = success(body)
    assert reply.text == "one\ntwo\n\nNext: /status"


def test_a_notification_shows_its_actions_as_commands() -> None:
    title, text = render(notification(actions=("approve 3", "reject 3")))
    assert title == "Task 3 failed: exit code 1"
    assert text.endswith("\n\nNext: /approve 3   /reject 3")


@given(st.text())
def test_escaped_text_is_shown_exactly_as_given(text: str) -> None:
    assert parse_markdown_v2(escape_markdown(text)) == text


@given(st.text(min_size=1), st.integers(min_value=8, max_value=200))
def test_split_pieces_fit_and_lose_only_line_breaks_at_the_cuts(text: str, budget: int) -> None:
    pieces = split_text(text, budget)
    assert all(cost(p) <= budget for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")


def test_split_prefers_line_ends() -> None:
    text = "\n".join(["a" * 30] * 10)
    assert split_text(text, 100) == ["\n".join(["a" * 30] * 3)] * 3 + ["a" * 30]
    assert split_text("x" * (MAX_MESSAGE + 1)) == ["x" * MAX_MESSAGE, "x"]


@pytest.mark.parametrize("token", ["", "12 34:abc", "12/34:abc"])
def test_a_malformed_token_is_a_config_error_that_does_not_show_it(token: str) -> None:
    with httpx.Client() as http, pytest.raises(ConfigError) as raised:
        TelegramClient(token, http)
    assert token == "" or token not in str(raised.value)


def test_the_offset_belongs_to_one_bot_and_a_broken_file_is_ignored(tmp_path: Path) -> None:
    offsets = OffsetFile(tmp_path / "state" / "telegram.json")
    assert offsets.load(1) is None
    offsets.save(1, 120)
    assert offsets.load(1) == 120
    assert offsets.load(2) is None  # another bot (a new token): its own updates
    offsets.path.write_text("{not json")
    assert offsets.load(1) is None
    blocked = OffsetFile(tmp_path / "file" / "telegram.json")
    (tmp_path / "file").write_text("a file where the folder should be")
    blocked.save(1, 5)  # logged, not raised: the bot goes on
    assert blocked.load(1) is None


def test_help_says_a_rejected_review_runs_again() -> None:
    """A task stopped for review is not failed by /reject: it runs again with the reason as feedback."""
    from apps.telegram.replies import help_reply

    reject_line = next(line for line in help_reply().text.splitlines() if line.startswith("/reject"))
    assert "review" in reject_line
    assert "runs again" in reject_line
