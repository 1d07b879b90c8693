import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=50, deadline=None)
settings.register_profile("default", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

_BASETEMP: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    """Test folders live under /var/tmp, not /tmp: agents run in the OS sandbox, whose /tmp is
    private, so a script or folder a test made under /tmp (outside the workspace) would not be
    there for the agent, as it would not be for a user's agent."""
    if config.option.basetemp is None and Path("/var/tmp").is_dir():
        base = Path(tempfile.mkdtemp(prefix="orch-tests-", dir="/var/tmp"))
        config.option.basetemp = str(base)
        _BASETEMP.append(base)


def pytest_unconfigure(config: pytest.Config) -> None:
    for base in _BASETEMP:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(autouse=True)
def _state_home_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """orch's default state dir (platformdirs: $XDG_STATE_HOME) goes to a temp dir, for `orch`
    subprocesses too: no test writes into the developer's real home."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))


CHECKOUT = Path(__file__).resolve().parent.parent


def _checkout_state() -> tuple[str, bool]:
    """The checkout's `git status --porcelain` and whether a `.orch/` state dir is in it."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=CHECKOUT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    except OSError:  # no git: the .orch check still holds
        status = ""
    return status, (CHECKOUT / ".orch").exists()


@pytest.fixture(scope="session", autouse=True)
def checkout_left_untouched() -> Iterator[None]:
    """Tests work in temporary directories: the developer's checkout is the same after them."""
    before_status, before_orch = _checkout_state()
    yield
    after_status, after_orch = _checkout_state()
    assert not (after_orch and not before_orch), f"the tests created {CHECKOUT / '.orch'}"
    assert after_status == before_status, f"the tests changed the checkout:\n{after_status}"


@pytest.fixture
def in_a_temporary_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a folder and home of its own: state dirs, guards and git stay out of the
    checkout and the developer's home. Autouse in tests/apps and tests/web (not everywhere:
    hypothesis refuses function-scoped autouse fixtures on top-level @given tests)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(home))
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(name, str(home / sub))
    for name in ("ORCH_CONFIG", "GIT_DIR", "GIT_WORK_TREE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
