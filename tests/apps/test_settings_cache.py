"""The settings cache (apps.settings_cache): what it returns is what `load_settings` returns, for
any config; an edit to the file or to an ORCH_* variable shows at once; a bad config is
reported in full every time; damaged or planted entries are never believed."""

from __future__ import annotations

import json
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.settings import JudgeMode, Settings, load_settings
from apps.settings_cache import cached_settings, decode, encode
from apps.settings_lookup import StatusView, status_view
from orchcore.errors import ConfigError
from orchcore.policy import ApprovalMode
from orchcore.sandbox import SandboxMode


def same(a: Settings, b: Settings) -> bool:
    return a == b and repr(a) == repr(b) and (a.source, a.base_dir) == (b.source, b.base_dir)


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "approval": st.fixed_dictionaries(
            {}, optional={"mode": st.sampled_from([m.value for m in ApprovalMode])}
        ),
        "agent": st.fixed_dictionaries(
            {},
            optional={
                "command": st.lists(st.text("abc/-", min_size=1, max_size=5), min_size=1, max_size=3),
                "timeout_s": st.integers(1, 999) | st.floats(1, 999),
                "env_passthrough": st.lists(st.sampled_from(["A", "B_C"]), max_size=2),
                "model": st.text("xyz", max_size=3),  # an agent's own option
            },
        ),
        "budget": st.fixed_dictionaries(
            {},
            optional={"max_daily_cost_usd": st.decimals(0, 100, places=2).map(str), "warn_at": st.just(0.5)},
        ),
        "sandbox": st.sampled_from(["on", "off", "auto"]),
        "supervisor": st.fixed_dictionaries(
            {},
            optional={
                "judge": st.sampled_from([m.value for m in JudgeMode]),
                "checks": st.dictionaries(st.sampled_from(["*", "backend"]), st.lists(st.just("make test"))),
                "breakpoints": st.lists(
                    st.fixed_dictionaries(
                        {
                            "name": st.just("low"),
                            "kind": st.just("confidence_below"),
                            "threshold": st.just(0.5),
                        }
                    ),
                    max_size=1,
                ),
            },
        ),
        "max_parallel": st.sampled_from([1, 2, 4]),
        "paths": st.fixed_dictionaries(
            {}, optional={"state_dir": st.sampled_from(["state", "../elsewhere"])}
        ),
        "logging": st.fixed_dictionaries(
            {}, optional={"file": st.just("logs/orch.log"), "level": st.sampled_from(["debug", "INFO"])}
        ),
        "worktrees": st.fixed_dictionaries(
            {},
            optional={
                "copy": st.lists(st.sampled_from([".env", "config/local.yml"]), max_size=2),
                "setup": st.sampled_from(["npm ci", ["make deps", "true"]]),
                "port_base": st.integers(1000, 65535),
                "ports_per_task": st.integers(0, 50),
            },
        ),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CONFIGS, st.sampled_from([{}, {"ORCH_APPROVAL_MODE": "manual"}, {"ORCH_SANDBOX": "off"}]))
def test_cached_settings_are_the_settings_load_settings_makes(
    in_a_temporary_home: Path, config: dict[str, object], env: dict[str, str]
) -> None:
    folder = in_a_temporary_home / "cache"
    (in_a_temporary_home / ".git").mkdir(exist_ok=True)  # parallel tasks need a repository
    (in_a_temporary_home / "orch.yaml").write_text(json.dumps(config))  # JSON is YAML
    fresh: Settings | None = None
    problems = ""
    try:
        fresh = load_settings(cwd=in_a_temporary_home, environ=env)
    except ConfigError as exc:
        problems = str(exc)
    if fresh is None:
        with pytest.raises(ConfigError) as again:
            cached_settings(cwd=in_a_temporary_home, environ=env, folder=folder)
        assert str(again.value) == problems
        return
    first = cached_settings(cwd=in_a_temporary_home, environ=env, folder=folder)
    second = cached_settings(cwd=in_a_temporary_home, environ=env, folder=folder)
    assert same(first, fresh)
    assert same(second, fresh)
    assert_status_view_of(fresh, status_view(cwd=in_a_temporary_home, environ=env, folder=folder))


def assert_status_view_of(made: Settings, view: StatusView | None) -> None:
    """The status view `orch status` reads says what ``made`` says: state dir, log file, source."""
    assert view is not None
    assert view.state_path() == made.state_dir
    log = made.path(made.logging.file) if made.logging.file else made.state_dir / "orch.log"
    assert (view.log_path(), view.log_level, view.source) == (log, made.logging.level, made.source)


def test_the_status_view_finds_an_old_projects_state_dir_as_the_settings_do(
    in_a_temporary_home: Path,
) -> None:
    folder = in_a_temporary_home / "cache"
    (in_a_temporary_home / "orch.yaml").write_text("approval:\n  mode: manual\n")
    made = cached_settings(folder=folder)
    assert_status_view_of(made, status_view(folder=folder))
    (in_a_temporary_home / ".orch").mkdir()
    (in_a_temporary_home / ".orch" / "state.db").write_bytes(b"")  # an older orch's sessions
    again = cached_settings(folder=folder)
    assert again.state_dir == (in_a_temporary_home / ".orch").resolve()
    assert_status_view_of(again, status_view(folder=folder))


@pytest.mark.parametrize(
    "damage", [None, {"source": ""}, {"state_dir": 7}, {"log_level": None}, {"extra": "x"}, "not a view"]
)
def test_no_status_view_without_an_entry_or_from_a_damaged_one(
    in_a_temporary_home: Path, damage: object
) -> None:
    folder = in_a_temporary_home / "cache"
    (in_a_temporary_home / "orch.yaml").write_text("approval:\n  mode: manual\n")
    assert status_view(folder=folder) is None
    cached_settings(folder=folder)
    [entry] = entries(folder)
    data = json.loads(entry.read_text())
    data["status"] = {**data["status"], **damage} if isinstance(damage, dict) else damage
    if isinstance(damage, dict) and "source" in damage:
        del data["status"]["state_dir"]  # a field missing
    entry.write_text(json.dumps(data))
    assert status_view(folder=folder) is None  # status goes the long way: the settings
    assert cached_settings(folder=folder).approval.mode is ApprovalMode.MANUAL


def test_a_parallel_projects_status_view_holds_only_while_it_is_in_a_git_repository(
    in_a_temporary_home: Path,
) -> None:
    folder = in_a_temporary_home / "cache"
    (in_a_temporary_home / ".git").mkdir()
    (in_a_temporary_home / "orch.yaml").write_text("max_parallel: 2\n")
    cached_settings(folder=folder)
    assert status_view(folder=folder) is not None
    (in_a_temporary_home / ".git").rmdir()
    assert status_view(folder=folder) is None


def test_the_second_load_comes_from_the_cache_and_an_edit_shows_at_once(in_a_temporary_home: Path) -> None:
    folder = in_a_temporary_home / "cache"
    config = in_a_temporary_home / "orch.yaml"
    config.write_text("approval:\n  mode: manual\n")
    assert cached_settings(folder=folder).approval.mode is ApprovalMode.MANUAL
    [entry] = entries(folder)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    entry.write_text(entry.read_text().replace('"manual"', '"required"'))  # prove it is read
    assert cached_settings(folder=folder).approval.mode is ApprovalMode.REQUIRED
    config.write_text("approval:\n  mode: auto\n")  # same size, same second: the bytes decide
    assert cached_settings(folder=folder).approval.mode is ApprovalMode.AUTO
    env = {"ORCH_APPROVAL_MODE": "manual", "_": "/usr/bin/orch"}
    assert cached_settings(folder=folder, environ=env).approval.mode is ApprovalMode.MANUAL
    env["_"] = "/usr/local/bin/orch"  # what bash sets per command: the same entry
    assert cached_settings(folder=folder, environ=env).approval.mode is ApprovalMode.MANUAL
    assert len(entries(folder)) == 3


def test_a_bad_config_is_never_cached_and_always_reported_in_full(in_a_temporary_home: Path) -> None:
    folder = in_a_temporary_home / "cache"
    (in_a_temporary_home / "orch.yaml").write_text(
        "approval:\n  mode: sometimes\nagent:\n  timeout_s: soon\n"
    )
    for _ in range(2):
        with pytest.raises(ConfigError) as caught:
            cached_settings(folder=folder)
        assert "approval.mode" in str(caught.value)
        assert "agent.timeout_s" in str(caught.value)
    assert entries(folder) == []


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        '{"format": "orch settings cache 2", "settings": {"attrs": "os:system", "fields": {"command": "id"}}}',
        '{"format": "orch settings cache 2", "settings": {"attrs": "apps.settings:Path", "fields": {}}}',
        '{"format": "orch settings cache 2", "settings": {"enum": "apps.settings:JudgeMode", "value": "x"}}',
        '{"format": "orch settings cache 0", "settings": null}',
    ],
)
def test_a_damaged_or_planted_entry_is_ignored_and_replaced(in_a_temporary_home: Path, damage: str) -> None:
    folder = in_a_temporary_home / "cache"
    (in_a_temporary_home / "orch.yaml").write_text("sandbox: off\n")
    cached_settings(folder=folder)
    [entry] = entries(folder)
    entry.write_text(damage)
    assert cached_settings(folder=folder).sandbox.mode is SandboxMode.OFF
    assert json.loads(entry.read_text())["format"] == "orch settings cache 2"  # written again


def test_parallel_settings_are_cached_while_the_workspace_is_still_in_a_git_repository(
    in_a_temporary_home: Path,
) -> None:
    """max_parallel above 1 needs a git repository, which the entry's name does not cover: each
    hit looks again, and once it is gone the config's error is reported as without a cache."""
    folder = in_a_temporary_home / "cache"
    (in_a_temporary_home / ".git").mkdir()
    (in_a_temporary_home / "orch.yaml").write_text("max_parallel: 2\n")
    assert cached_settings(folder=folder).max_parallel == 2
    assert len(entries(folder)) == 1
    assert cached_settings(folder=folder).max_parallel == 2  # from the entry
    (in_a_temporary_home / ".git").rmdir()
    with pytest.raises(ConfigError, match="is not in a git repository"):
        cached_settings(folder=folder)


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.decimals(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=3) | st.integers(), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(VALUES)
def test_entry_values_keep_their_types(value: object) -> None:
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value
    assert repr(back) == repr(value)  # 1 is not True, a list is not a tuple
    if isinstance(value, Decimal):
        assert isinstance(back, Decimal)
