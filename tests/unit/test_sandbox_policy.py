"""The sandbox policy (orchcore) and its compilation into bubblewrap arguments."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.sandbox.bwrap import PathKind, bwrap_argv, program_folder_in_tmp
from orchcore.sandbox import (
    HOME_SECRETS,
    AttemptProcess,
    Network,
    SandboxPolicy,
    SandboxStatus,
    agent_sandbox,
    process_data,
    process_from_data,
    under,
)


def kinds(mapping: Mapping[str, PathKind]) -> object:
    return lambda path: mapping.get(path, PathKind.MISSING)


def mounts(argv: list[str]) -> list[tuple[str, ...]]:
    """The mount operations in order, as (option, *operands)."""
    ops: list[tuple[str, ...]] = []
    i = 1
    while argv[i] != "--":
        option = argv[i]
        arity = {
            "--ro-bind": 2,
            "--bind": 2,
            "--dev": 1,
            "--proc": 1,
            "--tmpfs": 1,
            "--remount-ro": 1,
            "--chdir": 1,
        }.get(option, 0)
        ops.append((option, *argv[i + 1 : i + 1 + arity]))
        i += 1 + arity
    return ops


def test_the_default_argv_is_read_only_with_a_private_tmp_and_its_own_pid_namespace() -> None:
    argv = bwrap_argv(
        SandboxPolicy(writable=["/w"]), ["claude", "-p"], cwd="/w", kind=kinds({"/w": PathKind.DIRECTORY})
    )

    assert argv[:8] == ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    assert ("--tmpfs", "/tmp") in mounts(argv)
    assert ("--bind", "/w", "/w") in mounts(argv)
    for flag in ("--unshare-pid", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert "--unshare-net" not in argv  # agents must reach their API
    assert argv[-3:] == ["--", "claude", "-p"]
    assert argv[argv.index("--chdir") + 1] == "/w"


def test_a_closed_network_unshares_it() -> None:
    argv = bwrap_argv(SandboxPolicy(network=Network.CLOSED), ["true"], cwd="/", kind=kinds({}))
    assert "--unshare-net" in argv


def test_hidden_dirs_get_a_read_only_tmpfs_and_hidden_files_dev_null_even_inside_the_workspace() -> None:
    policy = SandboxPolicy(writable=["/w"], hidden=["/w/.orch", "/w/.env", "/h/.ssh"])
    found = {
        "/w": PathKind.DIRECTORY,
        "/w/.orch": PathKind.DIRECTORY,
        "/w/.env": PathKind.FILE,
        "/h/.ssh": PathKind.DIRECTORY,
    }

    ops = mounts(bwrap_argv(policy, ["true"], cwd="/w", kind=kinds(found)))

    bind = ops.index(("--bind", "/w", "/w"))
    assert ops.index(("--tmpfs", "/w/.orch")) > bind  # mounted over the writable workspace
    assert ops.index(("--ro-bind", "/dev/null", "/w/.env")) > bind
    assert ops.index(("--remount-ro", "/w/.orch")) > ops.index(("--tmpfs", "/w/.orch"))
    assert ("--tmpfs", "/h/.ssh") in ops


def test_missing_paths_are_left_out_so_bwrap_never_creates_them() -> None:
    policy = SandboxPolicy(writable=["/w", "/nope"], hidden=["/h/.aws"], readable=["/gone"])
    argv = bwrap_argv(policy, ["true"], cwd="/w", kind=kinds({"/w": PathKind.DIRECTORY}))
    assert "/nope" not in argv
    assert "/h/.aws" not in argv
    assert "/gone" not in argv


def test_a_readable_path_under_a_hidden_dir_is_shown_read_only_before_the_dir_is_sealed() -> None:
    policy = SandboxPolicy(writable=["/w"], hidden=["/w/.orch"], readable=["/w/.orch/guards"])
    found = {"/w": PathKind.DIRECTORY, "/w/.orch": PathKind.DIRECTORY, "/w/.orch/guards": PathKind.DIRECTORY}

    ops = mounts(bwrap_argv(policy, ["true"], cwd="/w", kind=kinds(found)))

    shown = ops.index(("--ro-bind", "/w/.orch/guards", "/w/.orch/guards"))
    assert ops.index(("--tmpfs", "/w/.orch")) < shown < ops.index(("--remount-ro", "/w/.orch"))


def test_the_agent_policy_hides_home_secrets_orch_files_and_extra_paths() -> None:
    policy = agent_sandbox(
        workdir="/w",
        home="/home/u",
        orch_paths=["/w/.orch", "/w/.env", "/w/orch.yaml"],
        guard_dir="/w/.orch/guards",
        extra_hidden=["~/.config/secret-tool", "/etc/orch-token"],
    )
    assert policy.writable == ("/w",)
    for name in HOME_SECRETS:
        assert f"/home/u/{name}" in policy.hidden
    assert {"/w/.orch", "/w/.env", "/w/orch.yaml", "/home/u/.config/secret-tool", "/etc/orch-token"} <= set(
        policy.hidden
    )
    assert policy.readable == ("/w/.orch/guards",)
    assert policy.network is Network.OPEN


def test_relative_paths_are_refused_with_the_path_named() -> None:
    with pytest.raises(ValueError, match="'work'"):
        SandboxPolicy(writable=["work"])


def test_the_status_line_says_on_or_off_and_why() -> None:
    assert SandboxStatus(True, "bubblewrap").describe() == "sandbox: on (bubblewrap)"
    assert (
        SandboxStatus(False, "bwrap is not installed").describe() == "sandbox: off (bwrap is not installed)"
    )


def test_a_process_report_round_trips_and_junk_is_not_one() -> None:
    process = AttemptProcess(group=4242, leader_start=123456, marker="abc")
    assert process_from_data(process_data(process)) == process
    assert process_from_data({"group": "4242", "leader_start": 1, "marker": "m"}) is None
    assert process_from_data({}) is None


def test_a_remote_process_report_keeps_its_host_and_a_local_group_0_is_never_one() -> None:
    remote = AttemptProcess(group=0, leader_start=0, marker="abc", host="ssh://dev@vm1:22")
    assert process_data(remote)["host"] == "ssh://dev@vm1:22"
    assert process_from_data(process_data(remote)) == remote
    assert (
        process_from_data({"group": 0, "leader_start": 0, "marker": "abc"}) is None
    )  # kill(-0) is our own group
    assert process_from_data({"group": 0, "leader_start": 0, "marker": "", "host": "ssh://x"}) is None


segment = st.sampled_from(["w", "h", ".orch", ".env", "logs", "guards", "a"])
abs_path = st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


@given(
    writable=st.lists(abs_path, max_size=4),
    hidden=st.lists(abs_path, max_size=4),
    readable=st.lists(abs_path, max_size=3),
    dirs=st.sets(abs_path, max_size=8),
    files=st.sets(abs_path, max_size=4),
)
def test_every_existing_hidden_path_ends_covered_unless_shown_again(
    writable: list[str], hidden: list[str], readable: list[str], dirs: set[str], files: set[str]
) -> None:
    found = dict.fromkeys(files, PathKind.FILE) | dict.fromkeys(dirs, PathKind.DIRECTORY)
    policy = SandboxPolicy(writable=writable, hidden=hidden, readable=readable)

    ops = mounts(bwrap_argv(policy, ["true"], cwd="/", kind=kinds(found)))

    for path in policy.hidden:
        if path not in found or any(under(path, r) for r in policy.readable):
            continue
        # the last mount at or above the path decides what the agent sees there
        covering = [op for op in ops if op[0] in ("--bind", "--ro-bind", "--tmpfs") and under(path, op[-1])]
        assert covering, (path, ops)
        last = covering[-1]
        assert last[0] == "--tmpfs" or last[1] == "/dev/null" or last[1] in policy.readable, (path, last)
        if last[0] == "--tmpfs":
            assert ("--remount-ro", last[1]) in ops


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(["group", "leader_start", "marker", "host", "x"]), json_values))
def test_reading_a_process_report_never_crashes_and_only_accepts_a_real_one(data: dict[str, object]) -> None:
    process = process_from_data(data)
    if process is not None:
        keys = (
            ("group", "leader_start", "marker", "host")
            if data.get("host")
            else ("group", "leader_start", "marker")
        )
        assert process_data(process) == {k: data[k] for k in keys}
        assert process.group > 0 or process.host, "a group of 0 means another host's, never this one's"


def test_a_writable_folder_inside_a_hidden_one_is_bound_again_after_what_is_shown_read_only() -> None:
    """The guards record refusals in the state dir: hidden, guards read-only, their refusals folder writable."""
    refusals = "/s/guards/refusals"
    policy = SandboxPolicy(writable=["/w", refusals], hidden=["/s"], readable=["/s/guards"])
    found = dict.fromkeys(("/w", "/s", "/s/guards", refusals), PathKind.DIRECTORY)

    ops = mounts(bwrap_argv(policy, ["true"], cwd="/w", kind=kinds(found)))

    shown = ops.index(("--ro-bind", "/s/guards", "/s/guards"))
    writable_again = len(ops) - 1 - ops[::-1].index(("--bind", refusals, refusals))
    assert ops.index(("--tmpfs", "/s")) < shown < writable_again < ops.index(("--remount-ro", "/s"))


def test_a_folder_kept_in_the_private_tmp_is_shown_after_the_tmpfs_and_before_anything_is_hidden() -> None:
    policy = SandboxPolicy(writable=["/w"], hidden=["/tmp/c/state"])
    found = {"/w": PathKind.DIRECTORY, "/tmp/c": PathKind.DIRECTORY, "/tmp/c/state": PathKind.DIRECTORY}

    ops = mounts(bwrap_argv(policy, ["true"], cwd="/w", kind=kinds(found), kept_in_tmp=["/tmp/c"]))

    kept = ops.index(("--ro-bind", "/tmp/c", "/tmp/c"))
    assert ops.index(("--tmpfs", "/tmp")) < kept < ops.index(("--tmpfs", "/tmp/c/state"))


def test_nothing_is_kept_in_tmp_without_a_private_tmp_or_for_a_missing_folder() -> None:
    found = {"/tmp/c": PathKind.DIRECTORY}
    shared = mounts(
        bwrap_argv(
            SandboxPolicy(private_tmp=False), ["true"], cwd="/", kind=kinds(found), kept_in_tmp=["/tmp/c"]
        )
    )
    missing = mounts(bwrap_argv(SandboxPolicy(), ["true"], cwd="/", kind=kinds({}), kept_in_tmp=["/tmp/c"]))
    assert ("--ro-bind", "/tmp/c", "/tmp/c") not in shared + missing


@pytest.mark.parametrize(
    ("program", "folder"),
    [
        ("/tmp/clone/.tools/claude/bin/claude", "/tmp/clone"),
        ("/var/tmp/clone/.tools/claude", None),
        ("/tmpfoo/bin/x", None),
        ("/tmp", None),
    ],
)
def test_the_folder_kept_is_the_one_directly_under_tmp_that_holds_the_program(
    program: str, folder: str | None
) -> None:
    assert program_folder_in_tmp([program, "--flag"]) == folder
