"""The `sandbox:` settings and what bootstrap makes of them on this machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from apps.bootstrap import agent_sandbox_for
from apps.settings import load_settings
from apps.settings_cache import cache_dir as settings_cache_dir
from orchcore.errors import AgentUnavailable, ConfigError
from orchcore.sandbox import Network, SandboxMode

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)


def settings_from(tmp_path: Path, text: str, **environ: str):  # type: ignore[no-untyped-def]
    (tmp_path / "orch.yaml").write_text(text)
    return load_settings(cwd=tmp_path, environ=environ)


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("", SandboxMode.AUTO),
        ("sandbox: off\n", SandboxMode.OFF),
        ("sandbox: on\n", SandboxMode.ON),
        ("sandbox: {mode: auto}\n", SandboxMode.AUTO),
        ("sandbox:\n  mode: off\n", SandboxMode.OFF),
    ],
)
def test_the_mode_reads_in_short_and_full_form(tmp_path: Path, text: str, mode: SandboxMode) -> None:
    assert settings_from(tmp_path, text).sandbox.mode is mode


def test_network_and_extra_hidden_paths_are_read(tmp_path: Path) -> None:
    s = settings_from(tmp_path, "sandbox:\n  network: closed\n  hide: [~/.config/tool, /srv/keys]\n")
    assert s.sandbox.network is Network.CLOSED
    assert s.sandbox.hide == ("~/.config/tool", "/srv/keys")


def test_the_environment_overrides_the_file(tmp_path: Path) -> None:
    assert settings_from(tmp_path, "sandbox: on\n", ORCH_SANDBOX="off").sandbox.mode is SandboxMode.OFF


def test_a_wrong_mode_names_the_file_the_key_and_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, "sandbox: sometimes\n")
    message = str(caught.value)
    assert (
        f"{tmp_path / 'orch.yaml'}:1: sandbox.mode: found 'sometimes', expected one of: auto, on, off"
        in message
    )
    assert "SandboxMode" not in message  # the user's terms, never a Python type name


def test_off_is_an_explicit_choice_and_says_so(tmp_path: Path) -> None:
    policy, status = agent_sandbox_for(settings_from(tmp_path, "sandbox: off\n"))
    assert policy is None
    assert status.describe() == "sandbox: off (turned off in the config)"
    assert status.wanted is False  # an explicit choice: no warning


def test_where_bwrap_is_missing_auto_falls_back_loudly_and_on_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # a machine without bubblewrap

    policy, status = agent_sandbox_for(settings_from(tmp_path, "sandbox: auto\n"))

    assert policy is None
    assert (
        status.describe() == "sandbox: off (bubblewrap (bwrap) is not installed: apt-get install bubblewrap)"
    )
    assert "WITHOUT the OS sandbox" in caplog.text
    assert status.wanted is True
    with pytest.raises(AgentUnavailable, match="sandbox: on, but bubblewrap"):
        agent_sandbox_for(settings_from(tmp_path, "sandbox: on\n"))


@needs_bwrap
def test_the_policy_hides_orchs_files_in_the_readme_layout_and_home_secrets(tmp_path: Path) -> None:
    home = tmp_path / "home"
    s = settings_from(tmp_path, "sandbox:\n  hide: [.config/tool]\npaths:\n  state_dir: .orch\n")

    policy, status = agent_sandbox_for(s, {"HOME": str(home), "PATH": "/usr/bin:/bin"})

    assert policy is not None
    assert status.describe() == "sandbox: on (bubblewrap, network open)"
    workspace, refusals = policy.writable  # and the guards' refusals folder, inside the hidden state dir
    assert workspace == str(tmp_path)
    assert refusals == str((s.state_dir / "guards" / "refusals").resolve())
    for hidden in (
        tmp_path / ".orch",
        tmp_path / ".env",
        tmp_path / "orch.yaml",
        home / ".ssh",
        home / ".config/tool",
        settings_cache_dir(),  # it holds what the config says
    ):
        assert str(hidden) in policy.hidden
    assert policy.readable == (str(tmp_path / ".orch" / "guards"),)


def test_a_relative_hidden_path_without_a_home_is_a_config_error(tmp_path: Path) -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed: the policy is only built where it runs")
    s = settings_from(tmp_path, "sandbox:\n  hide: [.config/tool]\npaths:\n  state_dir: .orch\n")
    with pytest.raises(ConfigError, match="sandbox: sandbox paths must be absolute"):
        agent_sandbox_for(s, {"PATH": "/usr/bin:/bin"})


def test_orch_run_warns_when_the_sandbox_was_wanted_but_cannot_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "tasks.md").write_text("# Tasks - 2026-12-01\n\n## Task 1: One\n**Claude Instruction:**\nx\n")
    (tmp_path / "orch.yaml").write_text('agent:\n  command: ["true"]\n')
    orch = str(Path(sys.executable).with_name("orch"))
    # a PATH with the agent and git but no bwrap: a machine where the sandbox cannot run
    (tmp_path / "bin").mkdir()
    for program in ("true", "git", "sh"):
        (tmp_path / "bin" / program).symlink_to(shutil.which(program) or f"/bin/{program}")
    env = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [orch, "run", "tasks.md"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING: sandbox: off (bubblewrap (bwrap) is not installed" in done.stdout
