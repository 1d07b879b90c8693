"""Refusals in Claude Code's stream: which layer said no, on verbatim streams of 2.1.197."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.claude_code.refusals import RefusalDetector
from adapters.claude_code.stream import parse_line
from orchcore.ports.agent import AgentEvent, Finished, Other, Refused, Said, ToolAction, ToolCall, ToolOutput
from orchcore.records import JsonObject
from orchcore.safety.events import REFUSING_LAYERS, SafetyLayer, parse_refusal
from tests.support import Seen

DATA = Path(__file__).parent.parent / "data"


def detected(lines: list[str]) -> list[Seen]:
    """Every event a run would hand the engine, refusals in their place (before what revealed them)."""
    detector = RefusalDetector()
    out: list[AgentEvent] = []
    for line in lines:
        for event in parse_line(line):
            out += [*detector.feed(event), event]
    return [Seen.of(event) for event in out]


def recorded(name: str) -> list[Seen]:
    return detected((DATA / name).read_text(encoding="utf-8").splitlines())


def refusals(events: list[Seen]) -> list[Seen]:
    return [e for e in events if isinstance(e.event, Refused)]


def test_a_denial_by_the_cli_permission_rules_is_one_cli_permissions_refusal_before_its_result() -> None:
    events = recorded("claude-code-2.1.197-denied-bash.ndjson")
    (refused,) = refusals(events)
    assert refused.data["layer"] == "cli-permissions"
    assert refused.data["command"] == "Bash git commit --allow-empty -m x"
    assert str(refused.data["reason"]).startswith("Permission to use Bash with command git commit")
    after = events[events.index(refused) + 1]
    assert (after.kind, after.data["tool_use_id"]) == ("tool_result", refused.data["tool_use_id"])


def test_a_denial_by_the_pre_tool_hook_is_one_hook_refusal_though_permission_denials_lists_it_too() -> None:
    (refused,) = refusals(recorded("claude-code-2.1.197-hook-deny.ndjson"))
    assert refused.data["layer"] == "hook"
    assert refused.data["command"] == "Bash rm -rf ./victim"
    assert refused.data["reason"] == "BLOCKED by guard_json: rm -rf is not allowed"


def test_a_run_without_denials_reports_no_refusal() -> None:
    assert refusals(recorded("claude-code-2.1.197-write.ndjson")) == []


def _tool_use(tool_use_id: str, command: str) -> str:
    block = {"type": "tool_use", "id": tool_use_id, "name": "Bash", "input": {"command": command}}
    return json.dumps({"type": "assistant", "message": {"id": "m1", "content": [block]}})


def _tool_result(tool_use_id: str, text: str, *, is_error: bool) -> str:
    block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": text, "is_error": is_error}
    return json.dumps({"type": "user", "message": {"content": [block]}})


def test_a_write_the_sandbox_refused_is_a_sandbox_refusal_even_when_the_command_ends_0() -> None:
    lines = [
        _tool_use("t1", "echo x > /etc/marker; true"),
        _tool_result("t1", "/bin/sh: 1: cannot create /etc/marker: Read-only file system", is_error=False),
    ]
    (refused,) = refusals(detected(lines))
    assert refused.data["layer"] == "sandbox"
    assert refused.data["reason"] == "/bin/sh: 1: cannot create /etc/marker: Read-only file system"


def test_an_ordinary_failing_command_is_no_refusal() -> None:
    lines = [_tool_use("t1", "pytest -q"), _tool_result("t1", "1 failed, 3 passed", is_error=True)]
    assert refusals(detected(lines)) == []


def test_a_denial_only_listed_at_the_end_is_still_reported_once() -> None:
    result = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "permission_denials": [
            {"tool_name": "Write", "tool_use_id": "w1", "tool_input": {"file_path": "/x"}}
        ],
    }
    (refused,) = refusals(detected([json.dumps(result), json.dumps(result)]))
    assert refused.data["layer"] == "cli-permissions"
    assert refused.data["tool_use_id"] == "w1"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
kinds = st.sampled_from(["tool_use", "tool_result", "raw", "result", "text", "init"])
texts = st.text(max_size=40) | st.sampled_from(["system/hook_started", "system/hook_response"])


def as_event(kind: str, text: str, data: JsonObject) -> AgentEvent:
    """An arbitrary event of ``kind`` as the stream parser could hand it over."""
    if kind == "tool_use":
        return ToolCall(str(data.get("id")), "Bash", ToolAction.SHELL, text, input=data)
    if kind == "tool_result":
        return ToolOutput(str(data.get("tool_use_id")), text, is_error=data.get("is_error") is True)
    if kind == "result":
        return Finished(text, details=data)
    if kind == "text":
        return Said(text)
    return Other(kind, text, data)


def test_whatever_the_stream_holds_the_detector_never_raises_and_names_only_refusing_layers() -> None:
    @given(
        st.lists(
            st.tuples(kinds, texts, st.dictionaries(st.text(max_size=12), json_values)),
            max_size=12,
        )
    )
    def check(items: list[tuple[str, str, JsonObject]]) -> None:
        detector = RefusalDetector()
        for kind, text, data in items:
            for event in detector.feed(as_event(kind, text, data)):
                found = parse_refusal(event.record().data)
                assert found is not None
                assert found.layer in REFUSING_LAYERS
                assert found.layer is not SafetyLayer.STREAM_GUARD

    check()


def _hook(subtype: str, hook_id: str, output: str = "") -> str:
    event = {"type": "system", "subtype": subtype, "hook_id": hook_id, "hook_event": "PreToolUse"}
    if subtype == "hook_response":
        event |= {"output": output, "stdout": output, "exit_code": 0}
    return json.dumps(event)


def test_with_two_calls_the_hook_denial_goes_to_the_call_its_hook_checked() -> None:
    deny = json.dumps(
        {"hookSpecificOutput": {"permissionDecision": "deny", "permissionDecisionReason": "no"}}
    )
    lines = [
        _tool_use("a", "ls"),
        _tool_use("b", "git push"),
        _hook("hook_started", "h1"),
        _hook("hook_started", "h2"),
        _hook("hook_response", "h1", ""),
        _hook("hook_response", "h2", deny),
        _tool_result("a", "ls: cannot access 'x'", is_error=True),
        _tool_result("b", "no", is_error=True),
    ]
    (refused,) = refusals(detected(lines))
    assert (refused.data["layer"], refused.data["tool_use_id"], refused.data["command"]) == (
        "hook",
        "b",
        "Bash git push",
    )


def test_a_file_that_mentions_the_error_shown_by_a_reading_tool_is_no_refusal() -> None:
    call = {"type": "tool_use", "id": "r1", "name": "Read", "input": {"file_path": "/w/notes.md"}}
    lines = [
        json.dumps({"type": "assistant", "message": {"id": "m1", "content": [call]}}),
        _tool_result("r1", "1\tEROFS means Read-only file system", is_error=False),
    ]
    assert refusals(detected(lines)) == []


def test_a_call_to_a_tool_the_settings_disallow_outright_is_a_cli_permissions_refusal() -> None:
    text = (
        "<tool_use_error>Error: No such tool available: Bash. Bash exists but is not enabled in this "
        "context.</tool_use_error>"
    )
    (refused,) = refusals(detected([_tool_use("t1", "rm -rf x"), _tool_result("t1", text, is_error=True)]))
    assert (refused.data["layer"], refused.data["command"]) == ("cli-permissions", "Bash rm -rf x")


SHIM_IN_BASH = (
    "Exit code 126\norchcore: forbidden (git-commit): agents never commit: the orchestrator reviews "
    "the work and commits it: git commit -am x"
)  # verbatim from 2.1.197: a shim refusing inside a Bash command


def test_without_hook_events_our_hooks_one_line_reason_is_still_a_hook_refusal() -> None:
    reason = "orchcore: forbidden (git-commit): agents never commit: git -C . commit -am x"
    lines = [_tool_use("t1", "git -C . commit -am x"), _tool_result("t1", reason, is_error=True)]
    (refused,) = refusals(detected(lines))
    assert (refused.data["layer"], refused.data["reason"]) == ("hook", reason)


def test_a_shim_refusal_inside_a_bash_result_is_left_to_the_shims_own_record() -> None:
    lines = [_tool_use("t1", "python3 x.py"), _tool_result("t1", SHIM_IN_BASH, is_error=True)]
    assert refusals(detected(lines)) == []


@given(
    chain=st.integers(min_value=1, max_value=3),
    extras=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 10_000)), max_size=6),
)
def test_whatever_is_not_the_clis_own_chain_is_left_behind(chain: int, extras: list[tuple[int, int]]) -> None:
    """bwrap -> its init -> the CLI are the run; any later process (a setsid job reparented to the
    namespace's init, a child of the CLI) is left behind, however it hangs in the tree."""
    from adapters.claude_code.refusals import cli_chain, left_behind

    own = [(100 + n, 100 + n - 1 if n else 1, n) for n in range(chain)]  # oldest at each level
    left = [(1000 + i, 100 + min(level, chain - 1), 50 + start) for i, (level, start) in enumerate(extras)]
    others = [(7, 1, 0), (8, 7, 1)]  # the rest of the machine: not the run's
    marked = {pid for pid, _, _ in own + left}

    cli = cli_chain(others + own + left, leader=100, chain=chain)

    assert cli == {pid for pid, _, _ in own}
    assert left_behind(marked, cli) == sorted(p for p, _, _ in left)
    # at the result the CLI may be gone already: what it left is still named, never the CLI
    assert left_behind(marked - {100 + chain - 1}, cli) == sorted(p for p, _, _ in left)


def test_processes_left_running_are_one_sandbox_refusal_naming_how_many() -> None:
    from adapters.claude_code.refusals import leftovers_refusal
    from orchcore.safety.events import parse_refusal

    assert leftovers_refusal([]) is None
    event = leftovers_refusal([41, 42])
    assert event is not None
    found = parse_refusal(event.record().data)
    assert found is not None
    assert (found.layer.value, found.refused) == ("sandbox", True)
    assert found.reason == "killed 2 processes the attempt left running"
    one = leftovers_refusal([7])
    assert one is not None
    assert one.reason == "killed 1 process the attempt left running"
