from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def in_a_temporary_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every app test runs in its own folder and home: state dirs, guards and git stay out of
    the checkout and the developer's home."""
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
