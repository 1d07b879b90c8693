"""A tool call naming a path the sandbox hides is a `sandbox` refusal (the call itself saw nothing)."""

from __future__ import annotations

import shlex

from hypothesis import given
from hypothesis import strategies as st

from adapters.claude_code.tools import tool_call
from orchcore.ports.agent import ToolAction, ToolCall
from orchcore.records import JsonObject
from orchcore.safety.events import SafetyLayer
from orchcore.safety.hidden_paths import hidden_path_among, resolve
from orchcore.safety.stream_guard import StreamGuard
from orchcore.sandbox import agent_sandbox

WORK, HOME = "/w/project", "/h/me"
SANDBOX = agent_sandbox(
    workdir=WORK,
    home=HOME,
    orch_paths=[f"{WORK}/.orch", f"{WORK}/.env", f"{WORK}/orch.yaml"],
    guard_dir=f"{WORK}/.orch/guards",
)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_.-", min_size=1, max_size=12).filter(
    lambda n: n not in {".", ".."} and not n.startswith("-")
)


def named(tool_input: JsonObject) -> str | None:
    """The hidden path a Claude tool call with ``tool_input`` names (Bash, Grep or Read by its keys)."""
    tool = "Bash" if "command" in tool_input else "Grep" if "path" in tool_input else "Read"
    call = tool_call(tool, tool_input)
    return hidden_path_among(SANDBOX, call.paths, call.command, WORK)


@given(
    secret=st.sampled_from([".ssh", ".aws", ".config/gh", ".netrc", ".docker"]),
    rest=st.lists(names, max_size=3),
)
def test_any_path_under_a_home_secret_is_named_however_it_is_spelled(secret: str, rest: list[str]) -> None:
    tail = "/".join([secret, *rest])
    absolute = f"{HOME}/{tail}"
    for spelling in (absolute, f"~/{tail}", f"$HOME/{tail}", f"{WORK}/../../../h/me/{tail}"):
        assert named({"file_path": spelling}) == absolute, spelling
        assert (
            named({"command": f"cat {shlex.quote(spelling) if spelling[0] == '/' else spelling} | head"})
            == absolute
        )
    assert named({"command": f"python3 -c \"print(open('{absolute}').read())\""}) == absolute


@given(rest=st.lists(names, min_size=1, max_size=3))
def test_paths_in_the_workspace_that_are_not_orchs_are_never_named(rest: list[str]) -> None:
    relative = "/".join(["src", *rest])
    assert named({"file_path": f"{WORK}/{relative}"}) is None
    assert named({"command": f"cat {relative} > out.txt; ls -la {WORK}/src"}) is None


@given(rest=st.lists(names, max_size=2))
def test_the_guards_stay_visible_under_the_hidden_state_dir(rest: list[str]) -> None:
    guards = "/".join([".orch/guards", *rest])
    assert named({"command": f"cat {guards}"}) is None
    assert named({"command": "ls -A .orch"}) == f"{WORK}/.orch"


def test_relative_paths_are_under_the_workspace() -> None:
    assert named({"command": "cat .env"}) == f"{WORK}/.env"
    assert named({"command": "echo x;cat<orch.yaml"}) == f"{WORK}/orch.yaml"
    assert named({"path": ".orch/state.db", "pattern": "x"}) == f"{WORK}/.orch/state.db"
    assert named({"command": "cat 'unclosed .env"}) == f"{WORK}/.env"  # a broken quote still names it


def test_home_cannot_be_resolved_without_one_and_flags_are_no_paths() -> None:
    assert resolve("~/.ssh", WORK, None) is None
    assert resolve("--file", WORK, HOME) is None
    assert resolve("~", WORK, HOME) == HOME


def test_the_stream_guard_records_a_sandbox_refusal_for_a_hidden_read() -> None:
    guard = StreamGuard(None, WORK, sandbox=SANDBOX)
    read = ToolCall(
        "t1",
        "Read",
        ToolAction.READ,
        "Read ~/.ssh/id_ed25519",
        paths=("~/.ssh/id_ed25519",),
        input={"file_path": "~/.ssh/id_ed25519"},
    )

    found = guard.feed(read)

    assert found is not None
    assert (found.layer, found.refused) == (SafetyLayer.SANDBOX, True)
    assert found.reason == f"hidden by the sandbox: {HOME}/.ssh/id_ed25519"
    assert found.command == "Read ~/.ssh/id_ed25519"
    assert guard.violation is None  # a refusal: the task goes on


def test_without_a_sandbox_nothing_is_hidden_and_nothing_is_claimed() -> None:
    guard = StreamGuard(None, WORK)
    event = ToolCall("t1", "Bash", ToolAction.SHELL, "Bash cat ~/.ssh/id", command="cat ~/.ssh/id")
    assert guard.feed(event) is None
