"""orch.yaml as a user writes it: found next to the task file, every mistake named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

from apps.settings import load_settings
from orchcore.errors import ConfigError


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    path = tmp_path / "orch.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_settings(str(path), environ=environ or {})
    return str(refused.value).splitlines()


def test_bad_values_are_all_named_with_file_line_and_what_is_allowed(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "notifications:\n"
        "  channels: [slack]\n"
        "  timeout_s: -5\n"
        "budget:\n"
        "  warn_at: 75\n"
        "logging:\n"
        "  level: LOUD\n"
        "approval:\n"
        "  mode: sometimes\n",
    )
    path = tmp_path / "orch.yaml"
    assert found == [
        f"{path}:2: notifications.channels: found 'slack', expected one of: console, n8n, telegram",
        f"{path}:3: notifications.timeout_s: found -5, expected a number of seconds above 0",
        f"{path}:5: budget.warn_at: found 75, expected a fraction above 0 and at most 1: 0.75 for 75%",
        f"{path}:7: logging.level: found 'LOUD', expected one of: DEBUG, INFO, WARNING, ERROR, CRITICAL",
        f"{path}:9: approval.mode: found 'sometimes', expected one of: required, auto, manual",
    ]


def test_no_message_names_a_python_type(tmp_path: Path) -> None:
    text = "approval: [a, b]\nbudget:\n  max_daily_cost_usd: lots\nagent:\n  timeout_s: {x: 1}\n  command: [true]\n"
    joined = "\n".join(problems(tmp_path, text))
    for word in (
        "ApprovalMode",
        "object has no attribute",
        "dict",
        "str",
        "Decimal",
        "NoneType",
        "Traceback",
    ):
        assert word not in joined
    assert (
        ":1: approval: found a list, expected a mapping with keys: mode, checkpoint_after, auto_approve"
        in joined
    )
    assert ":3: budget.max_daily_cost_usd: found 'lots', expected an amount in USD" in joined
    assert ":5: agent.timeout_s: found a mapping, expected a number" in joined


def test_a_date_that_does_not_exist_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    found = problems(tmp_path, "paths:\n  state_dir: .orch\nbudget:\n  timezone: 2026-13-45\n")
    assert found == [
        f"{tmp_path / 'orch.yaml'}:4: budget.timezone: found '2026-13-45', expected local, UTC or a zone such as Europe/Berlin"
    ]


def test_unknown_keys_are_named_with_the_keys_that_exist(tmp_path: Path) -> None:
    found = problems(tmp_path, "budget:\n  max_daily_cost: 5\n  warn_at: 0.5\nbugdet: {}\n")
    path = tmp_path / "orch.yaml"
    assert found[0] == f"{path}:2: budget.max_daily_cost: is not an orch key: use budget.max_daily_cost_usd"
    assert found[1].startswith(
        f"{path}:4: bugdet: unknown key; sections: approval, paths, logging, agent, budget"
    )


def test_the_seed_style_config_is_answered_with_the_orch_keys(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "orchestrator:\n"
        "  approval_mode: required\n"
        "claude:\n"
        "  flags: [--verbose]\n"
        "  timeout: 600\n"
        "server:\n"
        "  host: 0.0.0.0\n",
    )
    path = tmp_path / "orch.yaml"
    assert found == [
        f"{path}:2: orchestrator.approval_mode: is not an orch key: use approval.mode",
        f"{path}:4: claude.flags: is not an orch key: use agent.extra_args (with agent.name: claude)",
        f"{path}:5: claude.timeout: is not an orch key: use agent.timeout_s",
        f"{path}:7: server.host: is not an orch key: use `orch serve --host HOST`",
    ]


def test_environment_problems_name_the_variable(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "agent:\n  name: command\n", {"ORCH_AGENT_TIMEOUT_S": "soon", "ORCH_APPROVAL_MODE": "maybe"}
    )
    assert "ORCH_AGENT_TIMEOUT_S: agent.timeout_s: found 'soon', expected a number" in found
    assert (
        "ORCH_APPROVAL_MODE: approval.mode: found 'maybe', expected one of: required, auto, manual" in found
    )


def test_a_good_config_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "orch.yaml"
    path.write_text(
        "approval: {mode: auto}\nbudget: {warn_at: 0.5, max_daily_cost_usd: '$5', timezone: UTC}\n"
        "agent: {name: claude, timeout_s: 60, model: sonnet, extra_args: [--verbose]}\n"
        "notifications: {channels: [console], events: [default]}\nlogging: {level: info}\n"
    )
    settings = load_settings(str(path), environ={"ORCH_AGENT_TIMEOUT_S": "90"})
    assert settings.agent.timeout_s == 90
    assert settings.agent.options["model"] == "sonnet"
    assert settings.source == str(path)


def test_config_next_to_the_task_file_wins_over_the_current_folder(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "orch.yaml").write_text("approval: {mode: auto}\n")
    (tmp_path / "orch.yaml").write_text("approval: {mode: manual}\n")
    settings = load_settings(cwd=tmp_path, near=day, environ={})
    assert settings.source == str(day / "orch.yaml")
    assert load_settings(cwd=tmp_path, environ={}).source == str(tmp_path / "orch.yaml")


def orch(*args: str) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from apps.cli.main import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


TASKS = "# Tasks\n\n## Task 1: One\n**Claude Instruction:**\nsay hi\n"


@pytest.mark.parametrize(
    "args", [["status"], ["report"], ["logs"], ["budget"], ["sessions"], ["validate", "day/tasks.md"]]
)
def test_read_only_commands_create_no_state_dir(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "day").mkdir()
    (tmp_path / "day" / "tasks.md").write_text(TASKS)
    orch(*args)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day", "home"]
    assert not (tmp_path / "home" / ".local" / "state" / "orchcore").exists()  # the default state dir


def test_run_uses_the_config_next_to_the_task_file_and_status_names_it(tmp_path: Path) -> None:
    day = tmp_path / "day"
    day.mkdir()
    (day / "tasks.md").write_text(TASKS)
    (day / "orch.yaml").write_text(
        "agent:\n  name: command\n  command: [/bin/true]\napproval: {mode: auto}\n"
    )
    code, _, err = orch("run", "day/tasks.md")
    assert code == 0, err
    # the state of the project the config names (its folder), in the user's state dir
    (state,) = (tmp_path / "home" / ".local" / "state" / "orchcore" / "projects").glob("day-*/state.db")
    assert state.is_file()
    assert not (day / ".orch").exists()
    assert not (tmp_path / ".orch").exists()
    code, out, err = orch("status", "-c", str(day / "orch.yaml"))
    assert code == 0, err
    assert f"config: {day / 'orch.yaml'}" in out


def test_the_cli_prints_every_config_problem_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "orch.yaml").write_text("budget:\n  warn_at: 75\nlogging:\n  level: LOUD\n")
    code, out, err = orch("status")
    assert code == 2
    assert f"{tmp_path / 'orch.yaml'}:2: budget.warn_at: found 75" in err
    assert f"{tmp_path / 'orch.yaml'}:4: logging.level: found 'LOUD'" in err
    assert "orch: config: 2 problems found" in err
    assert out == ""


KEYS = ["approval", "paths", "logging", "agent", "budget", "notifications", "safety", "mode", "level"]
KEYS += ["warn_at", "timeout_s", "channels", "events", "prices", "timezone", "command", "name", "claude"]
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def test_any_yaml_document_loads_or_is_a_config_error() -> None:
    import tempfile

    import yaml
    from hypothesis import given

    from apps.settings import Settings

    @given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5) | VALUES)
    def check(document: object) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "orch.yaml"
            path.write_text(yaml.safe_dump(document))
            try:
                settings = load_settings(str(path), environ={})
            except ConfigError as exc:
                text = str(exc)
                assert text
                for line in text.split("\n"):
                    assert line.startswith(str(path)), line
                for word in ("NoneType", "object has no attribute", "Traceback"):
                    assert word not in text
            else:
                assert isinstance(settings, Settings)

    check()


def test_a_yaml_boolean_in_a_command_asks_for_quotes(tmp_path: Path) -> None:
    found = problems(tmp_path, "agent:\n  command: [true]\n")
    assert found == [
        f"{tmp_path / 'orch.yaml'}:2: agent.command: found true in the list, expected words (quote it if it is one: 'true')"
    ]


def test_hints_after_a_run_with_the_config_beside_the_task_file_carry_it(tmp_path: Path) -> None:
    import shlex

    day = tmp_path / "day"
    day.mkdir()
    (day / "tasks.md").write_text(
        TASKS.replace("**Claude Instruction:**", "**Requires Approval:** true\n**Claude Instruction:**")
    )
    (day / "orch.yaml").write_text("agent:\n  name: command\n  command: [/bin/true]\n")
    code, out, err = orch("run", "day/tasks.md")
    assert code == 0, err
    hint = next(line for line in out.splitlines() if line.startswith("next: ")).split("   ")[0][
        len("next: ") :
    ]
    assert hint == f"orch approve 1 -c {day / 'orch.yaml'} && orch resume -c {day / 'orch.yaml'}"
    for part in hint.split(" && "):
        code, _, err = orch(*shlex.split(part)[1:])
        assert code == 0, err
    _, out, _ = orch("status", "-c", str(day / "orch.yaml"))
    assert "completed" in out


def test_no_config_file_gives_the_settings_a_file_of_defaults_gives(tmp_path: Path) -> None:
    """Without a file (and no ORCH_* variable) the defaults are taken as they are, unconverted:
    they must be exactly what the checked and converted path makes of the same values."""
    empty = tmp_path / "no-config-here"
    empty.mkdir()
    path = tmp_path / "orch.yaml"
    path.write_text(
        "approval:\n  mode: required\nagent:\n  name: command\n  timeout_s: 1800\n"
        "budget:\n  warn_at: 0.75\nsandbox: auto\n"
    )
    assert load_settings(cwd=empty, environ={}) == load_settings(str(path), environ={})
    assert load_settings(cwd=empty, environ={}).source == ""


def test_each_file_is_read_on_its_own_though_the_converter_is_shared(tmp_path: Path) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("agent:\n  name: claude\n  model: opus\n  command: [a]\n")
    second.write_text("agent:\n  command: [b]\nbudget:\n  max_daily_cost_usd: 5\n")
    one, two = load_settings(str(first), environ={}), load_settings(str(second), environ={})
    assert (one.agent.name, one.agent.options, one.agent.command) == ("claude", {"model": "opus"}, ("a",))
    assert (two.agent.name, two.agent.options, two.agent.command) == ("command", {}, ("b",))
    assert (one.budget.max_daily_cost_usd, str(two.budget.max_daily_cost_usd)) == (None, "5")
