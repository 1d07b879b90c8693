"""The workspace round trip over ssh (Hypothesis): whatever the file names (spaces, tabs, newlines,
non-ASCII) and folders, what the command deletes, changes and creates on the host is exactly
what changes here, and nothing else does."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.ssh.connection import SshTarget
from adapters.ssh.executor import SshExecutor
from orchcore.ports.executor import ExecSpec
from tests.sshd import Sshd

pytestmark = pytest.mark.integration

NAME = st.text(alphabet="abcdmnz xé\t\n-_.", min_size=1, max_size=8).filter(
    lambda n: n not in (".", "..") and not n.startswith(("d", "m"))
)
TREE = st.dictionaries(
    st.lists(NAME, min_size=1, max_size=3).map(tuple),
    st.binary(max_size=64),
    max_size=8,
)
# files whose name starts with d are deleted on the host, with m appended to, new-* created
SCRIPT = (
    "find . -type f -name 'd*' -exec rm -f {} +; "
    "find . -type f -name 'm*' -exec sh -c 'for f; do printf x >> \"$f\"; done' _ {} +; "
    "mkdir -p 'new dir' && printf made > 'new dir/new file'"
)


def local_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def with_roles(tree: dict[tuple[str, ...], bytes]) -> dict[str, bytes]:
    """The generated tree with some leaves renamed d* (to delete) or m* (to change), free of clashes."""
    files: dict[str, bytes] = {}
    for (parts, data), role in zip(tree.items(), itertools.cycle(["", "d", "m"]), strict=False):
        path = "/".join((*parts[:-1], role + parts[-1]))
        if not any(f.startswith(path + "/") or path.startswith(f + "/") for f in files):
            files[path] = data
    return files


@pytest.fixture(scope="module")
def executor(sshd: Sshd, tmp_path_factory: pytest.TempPathFactory) -> SshExecutor:
    target = SshTarget(
        host="127.0.0.1", port=sshd.port, user=sshd.user, key_file=sshd.key_file, known_hosts=sshd.known_hosts
    )
    return SshExecutor(target, remote_dir=str(tmp_path_factory.mktemp("remote")))


def test_the_round_trip_changes_here_exactly_what_the_command_changed_there(
    executor: SshExecutor, tmp_path: Path
) -> None:
    @settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(TREE)
    def round_trip(tree: dict[tuple[str, ...], bytes]) -> None:
        work = tmp_path / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        files = with_roles(tree)
        for path, data in files.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_bytes(data)
        expected = {
            p: (d + b"x" if Path(p).name.startswith("m") else d)
            for p, d in files.items()
            if not Path(p).name.startswith("d")
        } | {"new dir/new file": b"made"}
        prepared = executor.prepare(str(work))
        spec = ExecSpec(
            argv=("sh", "-c", SCRIPT),
            cwd=prepared,
            env={"PATH": "/usr/bin:/bin"},
            log_path=str(tmp_path / "t.log"),
            timeout_s=30,
        )
        assert executor.run(spec, lambda line: None, lambda: None).exit_code == 0
        executor.finish(str(work), prepared)
        assert local_tree(work) == expected

    round_trip()
    executor.close()
