"""The rules `orch doctor` judges probes by, and the probes that read files (mounts)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from adapters.host import filesystem_type
from orchcore.doctor import (
    NETWORK_FILESYSTEMS,
    Status,
    clock_check,
    exit_code,
    fail,
    ok,
    sandbox_check,
    state_dir_check,
    summary,
    warn,
)
from orchcore.sandbox import SandboxMode

MOUNTS = """\
overlay / overlay rw,relatime 0 0
proc /proc proc rw 0 0
server:/export /srv/orch nfs4 rw,vers=4.2 0 0
/dev/sda1 /srv/orch/local ext4 rw 0 0
/dev/sdb1 /mnt/with\\040space xfs rw 0 0
"""


def test_the_longest_mount_point_above_a_path_names_its_file_system(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    assert filesystem_type(Path("/srv/orch/state"), mounts) == "nfs4"
    assert filesystem_type(Path("/srv/orch/local/state"), mounts) == "ext4"
    assert filesystem_type(Path("/srv/orchestra"), mounts) == "overlay"
    assert filesystem_type(Path("/mnt/with space/x"), mounts) == "xfs"
    assert filesystem_type(Path("/x"), tmp_path / "missing") is None


def test_a_state_dir_on_nfs_fails_and_says_to_move_it() -> None:
    check = state_dir_check("/srv/orch", writable=None, filesystem="nfs4", schema=6, expected_schema=6)
    assert check.status is Status.FAIL
    assert "network file system (nfs4)" in check.detail
    assert "local disk" in check.fix


def test_an_older_schema_is_fine_and_said() -> None:
    check = state_dir_check("/s", writable=None, filesystem="ext4", schema=4, expected_schema=6)
    assert check.status is Status.OK
    assert "schema 4: upgraded to 6" in check.detail


def test_clock_rules() -> None:
    assert clock_check("Europe/Berlin", True, 0.4).status is Status.OK
    off = clock_check("Europe/Berlin", True, -42.0)
    assert off.status is Status.FAIL
    assert "-42 s off" in off.detail
    assert clock_check("UTC", False, None).status is Status.WARN
    unnamed = clock_check(None, None, None)
    assert unnamed.status is Status.WARN
    assert "budget.timezone" in unnamed.fix


def test_sandbox_auto_without_bwrap_warns_and_on_fails() -> None:
    why = "bwrap cannot create a sandbox here (setting up uid map: Permission denied)"
    assert sandbox_check(SandboxMode.AUTO, None, None, why).status is Status.WARN
    on = sandbox_check(SandboxMode.ON, None, None, why)
    assert on.status is Status.FAIL
    assert why in on.detail
    assert sandbox_check(SandboxMode.ON, "ssh host box", None, "").status is Status.SKIP
    assert sandbox_check(SandboxMode.OFF, None, None, "").status is Status.SKIP


checks = st.lists(
    st.builds(
        lambda kind, name: {"ok": ok(name, "d"), "warn": warn(name, "d", "f"), "fail": fail(name, "d", "f")}[
            kind
        ],
        st.sampled_from(["ok", "warn", "fail"]),
        st.text("abc xyz", min_size=1, max_size=8),
    ),
    max_size=12,
)


def test_exit_code_and_summary_agree_on_failures() -> None:
    @given(checks)
    def prop(found: list) -> None:  # type: ignore[type-arg]
        failed = [c for c in found if c.status is Status.FAIL]
        assert exit_code(found) == (1 if failed else 0)
        line = summary(found)
        assert line.startswith("not ready" if failed else "ready")
        assert (f"{len(failed)} failed" in line) == bool(failed)

    prop()


def test_network_file_systems_include_the_usual_ones() -> None:
    assert {"nfs", "nfs4", "cifs", "fuse.sshfs"} <= NETWORK_FILESYSTEMS
