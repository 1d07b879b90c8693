"""`orch doctor` on real conditions: a PATH without the CLI, a state dir that cannot be made, a
port in use, the fake Ollama with and without the model, a channel that refuses connections."""

from __future__ import annotations

import json
import socket
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from tests.fakes.ollama_api import FakeOllama, Model
from tests.fakes.webhook_receiver import WebhookReceiver, free_port

SECRET = "s3cr3t-value-for-the-doctor-test-0123456789"  # noqa: S105 - a test value


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama(models=[Model("qwen2.5-coder:7b", context_length=16384)]) as fake:
        yield fake


def write_config(folder: Path, ollama_url: str, extra: str = "") -> None:
    (folder / "orch.yaml").write_text(
        "agent:\n"
        f"  command: [{sys.executable}, -c, 'print(1)']\n"
        "supervisor:\n"
        f"  host: {ollama_url}\n"
        "  model: qwen2.5-coder:7b\n" + extra
    )


def doctor(*args: str) -> tuple[int, dict[str, dict[str, str]], str]:
    """Exit code, the checks by name (from --json), and the text output of the same run's twin."""
    result = CliRunner().invoke(app, ["doctor", "--json", "--port", str(free_port()), *args])
    report = json.loads(result.stdout)
    text = CliRunner().invoke(app, ["doctor", "--port", str(free_port()), *args]).stdout
    return result.exit_code, {c["name"]: c for c in report["checks"]}, text


def test_a_set_up_machine_exits_0(
    tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCH_WEBHOOK_SECRET", SECRET)
    write_config(tmp_path, ollama.url)

    code, checks, text = doctor()

    assert code == 0, text
    assert checks["judge"]["status"] == "ok"
    assert "context 16384 tokens" in checks["judge"]["detail"]
    assert checks["webhook secret"]["status"] == "ok"
    assert checks["config"]["detail"].endswith("orch.yaml: no problems")
    assert SECRET not in text
    assert text.splitlines()[-1].startswith("ready: ")


def test_an_agent_cli_not_on_the_path_fails_with_the_install_hint(
    tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}:/usr/bin:/bin")
    write_config(tmp_path, ollama.url, "")
    (tmp_path / "orch.yaml").write_text(
        f"agent:\n  name: claude\n  executable: orch-test-no-such-claude\nsupervisor:\n  host: {ollama.url}\n"
    )

    code, checks, text = doctor()

    assert code == 1
    agent = checks["agent claude"]
    assert agent["status"] == "fail"
    assert "orch-test-no-such-claude" in agent["detail"]
    assert "not found" in agent["detail"]
    assert "fix: " in text
    assert "1 failed (agent claude)" in text.splitlines()[-1]


def test_a_state_dir_that_cannot_be_made_fails(
    tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    write_config(tmp_path, ollama.url, f"paths:\n  state_dir: {blocker}/state\n")

    code, checks, _ = doctor()

    assert code == 1
    state = checks["state dir"]
    assert state["status"] == "fail"
    assert f"{blocker} is not a folder" in state["detail"]
    assert "paths.state_dir" in state["fix"]


def test_a_state_db_newer_than_this_orch_fails(
    tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / "state.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    write_config(tmp_path, ollama.url, f"paths:\n  state_dir: {state}\n")

    code, checks, _ = doctor()

    assert code == 1
    assert "schema version 99" in checks["state dir"]["detail"]
    assert "upgrade orch" in checks["state dir"]["fix"]


def test_the_serve_port_in_use_fails(tmp_path: Path, ollama: FakeOllama) -> None:
    write_config(tmp_path, ollama.url)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = CliRunner().invoke(app, ["doctor", "--json", "--port", str(port)])

    assert result.exit_code == 1
    check = {c["name"]: c for c in json.loads(result.stdout)["checks"]}[f"port {port}"]
    assert check["status"] == "fail"
    assert "in use" in check["detail"]
    assert "--port" in check["fix"]


def test_ollama_without_the_model_warns_with_the_pull_command(tmp_path: Path) -> None:
    with FakeOllama(models=[Model("llama3:8b")]) as other:
        write_config(tmp_path, other.url)
        _, checks, _ = doctor()

    judge = checks["judge"]
    assert judge["status"] == "warn"
    assert "not pulled" in judge["detail"]
    assert judge["fix"] == "ollama pull qwen2.5-coder:7b"


def test_ollama_down_warns_and_the_judge_off_skips(tmp_path: Path) -> None:
    write_config(tmp_path, f"http://127.0.0.1:{free_port()}")
    _, checks, _ = doctor()
    assert checks["judge"]["status"] == "warn"
    assert "not reachable" in checks["judge"]["detail"]
    assert "ollama serve" in checks["judge"]["fix"]

    write_config(tmp_path, "http://127.0.0.1:1", "  judge: off\n")
    _, checks, _ = doctor()
    assert checks["judge"]["status"] == "skip"


def test_config_problems_are_listed_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "orch.yaml").write_text("agent:\n  timeout_s: soon\nbudget:\n  warn_at: lots\n")

    code, checks, text = doctor()

    assert code == 1
    detail = checks["config"]["detail"]
    assert "orch.yaml:2" in detail
    assert "orch.yaml:4" in detail
    assert "orch.yaml:4" in text


def test_an_unset_webhook_secret_warns_with_where_to_put_it(tmp_path: Path, ollama: FakeOllama) -> None:
    write_config(tmp_path, ollama.url)

    _, checks, _ = doctor()

    secret = checks["webhook secret"]
    assert secret["status"] == "warn"
    assert "ORCH_WEBHOOK_SECRET" in secret["fix"]
    assert str(tmp_path / ".env") in secret["fix"]


def test_a_channel_that_refuses_connections_fails_and_send_test_delivers(
    tmp_path: Path, ollama: FakeOllama
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/webhook/orch"
    write_config(tmp_path, ollama.url, f"notifications:\n  channels: [n8n]\n  n8n_url: {dead}\n")
    code, checks, _ = doctor()
    assert code == 1
    assert checks["channel n8n"]["status"] == "fail"
    assert "cannot connect" in checks["channel n8n"]["detail"]

    receiver = WebhookReceiver().start()
    try:
        write_config(tmp_path, ollama.url, f"notifications:\n  channels: [n8n]\n  n8n_url: {receiver.url}\n")
        result = CliRunner().invoke(app, ["doctor", "--json", "--send-test", "--port", str(free_port())])
    finally:
        receiver.stop()
    channel = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["channel n8n"]
    assert channel == {"name": "channel n8n", "status": "ok", "detail": "test message sent", "fix": ""}
    assert len(receiver.shown) == 1


def test_a_telegram_channel_without_a_token_fails_naming_the_variable(
    tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCH_TELEGRAM_BOT_TOKEN", raising=False)
    write_config(tmp_path, ollama.url, "notifications:\n  channels: [telegram]\n")

    _, checks, _ = doctor()

    assert checks["channel telegram"]["status"] == "fail"
    assert "ORCH_TELEGRAM_BOT_TOKEN" in checks["channel telegram"]["detail"]


def test_sandbox_on_without_bwrap_fails(
    tmp_path: Path, ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    write_config(tmp_path, ollama.url, "sandbox: on\n")
    monkeypatch.setenv("PATH", str(empty))

    code, checks, _ = doctor()

    assert code == 1
    sandbox = checks["sandbox"]
    assert sandbox["status"] == "fail"
    assert "bubblewrap (bwrap) is not installed" in sandbox["detail"]
    assert "apt-get install bubblewrap" in sandbox["fix"]
    assert checks["git"]["status"] == "fail"
    assert "apt-get install git" in checks["git"]["fix"]
