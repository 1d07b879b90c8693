"""The ``supervisor:`` section as a user writes it, and the judge bootstrap builds from it
(the real adapter and client against a loopback fake Ollama)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.bootstrap import build_runtime
from apps.settings import JudgeMode, SupervisorSettings, load_settings
from orchcore.errors import ConfigError
from orchcore.ports.supervisor import Judgement, JudgeRequest, JudgeUnavailable, Verdict
from tests.fakes.ollama_api import Fail, FakeOllama, agreeing

REQUEST = JudgeRequest("t1", 1, ("tests pass",), "Review the work.", "# Task t1\n")


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "orch.yaml"
    path.write_text(text)
    return str(path)


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, text), environ=environ or {})
    return str(refused.value).splitlines()


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(then=agreeing("met")) as server:
        yield server


def test_defaults_judge_with_the_users_model_on_the_local_ollama(tmp_path: Path) -> None:
    sv = load_settings(cwd=tmp_path, environ={}).supervisor
    assert sv == SupervisorSettings()
    assert (sv.judge, sv.host, sv.model) == (JudgeMode.OLLAMA, "http://127.0.0.1:11434", "qwen2.5-coder:32b")
    assert (sv.timeout_s, sv.retries, sv.judge_types, sv.keep_alive_value) == (120.0, 2, (), "10m")
    assert sv.judges("testing")
    assert sv.judges(None)


def test_the_file_sets_every_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "supervisor:\n"
        "  judge: ollama\n"
        "  host: http://gpu-box:11434\n"
        "  model: qwen2.5-coder:14b\n"
        "  timeout_s: 300\n"
        "  retries: 0\n"
        "  judge_types: [feature, testing]\n"
        "  keep_alive: -1\n"
        "  num_ctx: 16384\n",
    )
    sv = load_settings(path, environ={}).supervisor
    assert sv.host == "http://gpu-box:11434"
    assert (sv.model, sv.timeout_s, sv.retries, sv.num_ctx) == ("qwen2.5-coder:14b", 300.0, 0, 16384)
    assert sv.judge_types == ("feature", "testing")
    assert sv.keep_alive_value == -1.0
    assert sv.judges("testing")
    assert not sv.judges("docs")
    assert not sv.judges(None)


def test_judge_off_as_yaml_reads_it_turns_the_judge_off(tmp_path: Path) -> None:
    sv = load_settings(write(tmp_path, "supervisor:\n  judge: off\n"), environ={}).supervisor
    assert sv.judge is JudgeMode.OFF
    assert not sv.judges("testing")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "supervisor:\n  model: a\n  host: http://a:1\n")
    env = {
        "ORCH_SUPERVISOR_MODEL": "qwen2.5-coder:7b",
        "ORCH_SUPERVISOR_HOST": "http://b:2",
        "ORCH_SUPERVISOR_TIMEOUT_S": "45",
        "ORCH_SUPERVISOR_RETRIES": "5",
        "ORCH_SUPERVISOR_JUDGE_TYPES": "feature,bugfix",
        "ORCH_SUPERVISOR_JUDGE": "off",
    }
    sv = load_settings(path, environ=env).supervisor
    assert (sv.model, sv.host, sv.timeout_s, sv.retries) == ("qwen2.5-coder:7b", "http://b:2", 45.0, 5)
    assert sv.judge_types == ("feature", "bugfix")
    assert sv.judge is JudgeMode.OFF


def test_ollama_host_replaces_only_the_default_host(tmp_path: Path) -> None:
    env = {"OLLAMA_HOST": "gpu-box:11434"}
    assert load_settings(cwd=tmp_path, environ=env).supervisor.host == "gpu-box:11434"
    path = write(tmp_path, "supervisor:\n  host: http://127.0.0.1:9999\n")
    assert load_settings(path, environ=env).supervisor.host == "http://127.0.0.1:9999"


def test_bad_values_are_all_named_with_file_line_and_what_is_allowed(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "supervisor:\n"
        "  judge: gpt\n"
        "  host: ftp://gpu-box\n"
        "  model: ''\n"
        "  timeout_s: 0\n"
        "  retries: -1\n"
        "  num_ctx: 100\n"
        "  keep_alive: forever\n"
        "  temperature: 0.2\n",
    )
    path = tmp_path / "orch.yaml"
    assert found == [
        f"{path}:2: supervisor.judge: found 'gpt', expected one of: ollama, off",
        f"{path}:3: supervisor.host: found 'ftp://gpu-box', expected Ollama's address, e.g. "
        "http://127.0.0.1:11434 or gpu-box:11434",
        f"{path}:4: supervisor.model: found '', expected a model name such as qwen2.5-coder:32b",
        f"{path}:5: supervisor.timeout_s: found 0, expected a number of seconds above 0",
        f"{path}:6: supervisor.retries: found -1, expected 0 or more",
        f"{path}:7: supervisor.num_ctx: found 100, expected 256 tokens or more",
        f"{path}:8: supervisor.keep_alive: found 'forever', expected a duration such as 10m, 1h or -1",
        f"{path}:9: supervisor.temperature: unknown key; keys of supervisor: judge, host, model, "
        "timeout_s, retries, judge_types, keep_alive, num_ctx, enabled, checks, check_timeout_s, "
        "max_fix_attempts, count_tests_before, scope, forbidden, breakpoints, confidence",
    ]


def test_a_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    found = problems(tmp_path, "", {"ORCH_SUPERVISOR_RETRIES": "-2", "ORCH_SUPERVISOR_TIMEOUT_S": "soon"})
    assert "ORCH_SUPERVISOR_TIMEOUT_S: supervisor.timeout_s: found 'soon', expected a number" in found
    assert "ORCH_SUPERVISOR_RETRIES: supervisor.retries: found -2, expected 0 or more" in found


FIELDS = [
    *("judge", "host", "model", "timeout_s", "retries", "judge_types", "keep_alive", "num_ctx"),
    *("enabled", "checks", "check_timeout_s", "max_fix_attempts", "scope", "forbidden", "breakpoints"),
    "count_tests_before",
]
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=16)
SUPERVISOR_VALUES = (
    SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(st.text(max_size=4), SCALARS, max_size=2)
)


def test_a_whole_number_written_with_a_point_is_checked_like_the_number(tmp_path: Path) -> None:
    path = tmp_path / "orch.yaml"
    path.write_text("supervisor:\n  num_ctx: 0.0\n  retries: -1.0\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(str(path))
    assert f"{path}:2: supervisor.num_ctx: found 0, expected 256 tokens or more" in str(caught.value)
    assert f"{path}:3: supervisor.retries: found -1, expected 0 or more" in str(caught.value)


def test_any_supervisor_section_loads_or_is_a_config_error_with_its_line() -> None:
    @settings(max_examples=150, deadline=None)
    @given(
        section=st.dictionaries(st.sampled_from(FIELDS), SUPERVISOR_VALUES, max_size=5) | SUPERVISOR_VALUES
    )
    def check(section: object) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "orch.yaml"
            path.write_text(yaml.safe_dump({"supervisor": section}))
            try:
                loaded = load_settings(str(path), environ={})
            except ConfigError as exc:
                for line in str(exc).split("\n"):
                    assert line.startswith(f"{path}:"), line
                    assert "supervisor" in line, line
                    for word in ("NoneType", "object has no attribute", "Traceback", "JudgeMode"):
                        assert word not in line
            else:
                sv = loaded.supervisor
                assert sv.timeout_s > 0
                assert sv.retries >= 0
                assert sv.num_ctx is None or sv.num_ctx >= 256
                assert sv.max_fix_attempts >= 0
                assert sv.check_timeout_s > 0
                assert all(isinstance(c, str) for cs in sv.checks.values() for c in cs)
                sv.pipeline()  # every rule that loaded is a rule the pipeline takes

    check()


# -- the judge bootstrap builds ------------------------------------------------------------


def test_judge_off_builds_no_supervisor(tmp_path: Path) -> None:
    runtime = build_runtime(load_settings(write(tmp_path, "supervisor: {judge: off}\n"), environ={}))
    try:
        assert runtime.supervisor() is None
    finally:
        runtime.close()


def test_the_configured_judge_asks_the_configured_model_on_the_configured_host(
    tmp_path: Path, fake: FakeOllama
) -> None:
    path = write(tmp_path, f"supervisor:\n  host: {fake.url}\n  keep_alive: 30m\n  num_ctx: 8192\n")
    runtime = build_runtime(load_settings(path, environ={}))
    try:
        judge = runtime.supervisor(environ={})
        assert judge is not None
        assert judge.context_window() == 8192
        outcome = judge.judge(REQUEST)
    finally:
        runtime.close()
    assert isinstance(outcome, Verdict), outcome
    assert outcome.criteria[0].judgement is Judgement.MET
    (chat,) = fake.chats
    assert chat.json["model"] == "qwen2.5-coder:32b"
    assert chat.json["keep_alive"] == "30m"
    assert "authorization" not in chat.headers


def test_the_api_key_from_the_environment_is_sent_and_never_shown(tmp_path: Path) -> None:
    key = "sk-ollama-from-env"
    with FakeOllama([Fail(502, f"proxy: token {key} rejected")] * 3) as server:
        path = write(tmp_path, f"supervisor:\n  host: {server.url}\n  retries: 0\n")
        runtime = build_runtime(load_settings(path, environ={}))
        try:
            judge = runtime.supervisor(environ={"OLLAMA_API_KEY": key})
            assert judge is not None
            outcome = judge.judge(REQUEST)
        finally:
            runtime.close()
        assert server.requests[0].headers["authorization"] == f"Bearer {key}"
    assert isinstance(outcome, JudgeUnavailable)
    assert "proxy: token *** rejected" in outcome.reason
    assert key not in outcome.reason + outcome.hint + repr(judge)
