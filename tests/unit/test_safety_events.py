"""Safety events: one typed value per refusal or violation, stored as event data and read back."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from orchcore.records import Event, EventKind
from orchcore.safety.events import SafetyEvent, SafetyLayer, parse_refusal, safety_events_in

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


def test_a_safety_event_reads_back_from_the_data_it_is_stored_as() -> None:
    @given(st.sampled_from(SafetyLayer), st.text(max_size=600), st.text(max_size=600), st.booleans())
    def check(layer: SafetyLayer, command: str, reason: str, refused: bool) -> None:
        found = SafetyEvent(layer, command, reason, refused)
        (back,) = safety_events_in(Event(EventKind.SAFETY, T0, "1", 1, found.as_data()))
        assert back == found
        assert len(back.command) <= 500
        assert "\n" not in back.text

    check()


def test_a_violation_stored_in_the_older_shape_still_reads_as_a_violation_with_a_layer() -> None:
    data = {"violations": ["forbidden (git-push): x", "git ref changed: HEAD moved a -> b"], "text": "..."}
    found = safety_events_in(Event(EventKind.SAFETY, T0, "1", 1, data))  # type: ignore[arg-type]
    assert [(f.layer, f.refused) for f in found] == [
        (SafetyLayer.STREAM_GUARD, False),
        (SafetyLayer.REFS, False),
    ]


def test_a_guard_can_only_report_a_refusal_never_a_violation_or_an_unknown_layer() -> None:
    assert parse_refusal({"layer": "refs", "command": "x"}) is None
    assert parse_refusal({"layer": "stream-guard"}) is None
    assert parse_refusal({"layer": "moon"}) is None
    assert parse_refusal({"layer": "shim", "command": "git push", "refused": False}) == SafetyEvent(
        SafetyLayer.SHIM, "git push", "", refused=True
    )


def test_any_event_data_reads_without_raising() -> None:
    @given(st.dictionaries(st.text(max_size=12), json_values, max_size=6))
    def check(data: dict[str, object]) -> None:
        for found in safety_events_in(Event(EventKind.SAFETY, T0, data=data)):  # type: ignore[arg-type]
            assert isinstance(found.layer, SafetyLayer)
        parse_refusal(data)  # type: ignore[arg-type]

    check()


def test_the_stream_guard_fails_exactly_the_guarded_forbidden_calls_that_ran_unrefused() -> None:
    from orchcore.ports.agent import Refused, ToolAction, ToolCall, ToolOutput
    from orchcore.safety import DEFAULT_POLICY
    from orchcore.safety.stream_guard import StreamGuard

    commands = st.sampled_from(["ls", "pytest -q", "git commit -am x", "git push --force"])
    calls = st.lists(st.tuples(commands, st.booleans()), min_size=1, max_size=6)  # (command, refused?)

    @given(calls)
    def check(plan: list[tuple[str, bool]]) -> None:
        guard = StreamGuard(DEFAULT_POLICY, "/work/project")
        for n, (command, refused) in enumerate(plan):
            call = ToolCall(
                f"t{n}", "Bash", ToolAction.SHELL, f"Bash {command}", command=command, guarded=True
            )
            guard.feed(call)
            if refused:
                assert guard.feed(Refused(SafetyLayer.HOOK, command, "no", call_id=f"t{n}")) is not None
            guard.feed(ToolOutput(f"t{n}", "", is_error=refused))
            if guard.violation is not None:
                break
        ran_forbidden = [c for c, refused in plan if c.startswith("git") and not refused]
        if ran_forbidden:
            assert guard.violation is not None
            assert guard.violation.layer is SafetyLayer.STREAM_GUARD
            assert not guard.violation.refused
            assert ran_forbidden[0] in guard.violation.command
        else:
            assert guard.violation is None

    check()


def test_credentials_in_a_refused_command_are_masked_before_it_is_stored_or_sent() -> None:
    from orchcore.safety.events import refusal

    found = refusal(
        SafetyLayer.SHIM,
        "psql postgres://app:hunter2@db/prod -c 'drop table x' PGPASSWORD=hunter2 --password=hunter2",
        "ANTHROPIC_API_KEY=sk-ant-abcdefghijkl",
    )
    assert "hunter2" not in found.command
    assert "abcdefghijkl" not in found.reason
    assert "postgres://app:***@db/prod" in found.command
    assert "hunter2" not in str(found.as_data())
