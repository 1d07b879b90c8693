"""Opt-in: the examples/n8n workflows in a real n8n 2.8.4, wired to a real `orch serve`.

    .venv/bin/pytest -m n8n tests/integration/test_n8n_real.py

Skipped unless selected with ``-m n8n``. The first run installs n8n 2.8.4 with npm into
``$ORCH_N8N_DIR`` (default ``~/.cache/orchcore/n8n-2.8.4``; ~3-5 minutes, ~2 GB), later
runs reuse it. Everything listens on 127.0.0.1: n8n, `orch serve`, and the fake Telegram
Bot API (tests/fakes/telegram_api.py) that n8n's Telegram credential points at.

It imports the credentials and the three workflows (as a user would, with their
Settings edited), publishes (activates) them, starts n8n, and proves that:
- a Telegram command reaches `orch serve` through n8n and the answer comes back
  (Telegram Trigger → Code → HTTP Request → Telegram), a refusal too, and another chat
  is ignored;
- a notification from orchcore (the n8n channel, through the outbox sender of
  `orch serve`) reaches n8n, which sends it to Telegram;
- the daily-start workflow starts a session (run once with `n8n execute`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.sqlite import SqliteStore
from apps.settings import Settings, load_settings
from apps.web.server import Prepared, prepare
from tests.fakes.telegram_api import FakeTelegram, fake_telegram
from tests.support import wait_until as wait_within

pytestmark = [pytest.mark.n8n, pytest.mark.integration]

N8N_VERSION = "2.8.4"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "n8n"
TOKEN = "424242:n8n-test-token"  # noqa: S105 - the fake Bot API's token
ORCH_SECRET = "orch-webhook-secret"  # noqa: S105 - test secrets
NOTIFY_SECRET = "orch-to-n8n-secret"  # noqa: S105
ME = 111
STRANGER = 666
INSTALL_TIMEOUT_S = 1200
START_TIMEOUT_S = 180
DEADLINE_S = 60


def wait_until(check: Callable[[], object], what: str, timeout: float = DEADLINE_S) -> None:
    """Poll with n8n's longer default deadline (it starts slowly); ``timeout`` overrides it."""
    wait_within(check, what, timeout)


SIMPLE = """# Tasks

## Task 1: Only
**Claude Instruction:**
do it
"""

APPROVAL = """# Tasks

## Task 1: Users table
**Requires Approval:** true
**Claude Instruction:**
make it
"""


def opted_in(config: pytest.Config) -> bool:
    """Whether ``-m`` asks for n8n (``-m n8n``, ``-m "n8n and ..."``), not merely mentions it."""
    words = re.findall(r"\w+", str(config.getoption("markexpr", "")))
    return any(w == "n8n" and (i == 0 or words[i - 1] != "not") for i, w in enumerate(words))


@pytest.fixture(scope="module", autouse=True)
def _opt_in(request: pytest.FixtureRequest) -> None:
    """Skip before any other fixture of this module runs (the install is module-scoped)."""
    if not opted_in(request.config):
        pytest.skip("opt-in: run with -m n8n (installs n8n 2.8.4; see docs/remote-control.md)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def n8n_dir() -> Path:
    default = Path.home() / ".cache" / "orchcore" / f"n8n-{N8N_VERSION}"
    return Path(os.environ.get("ORCH_N8N_DIR", str(default))).expanduser()


@pytest.fixture(scope="module")
def n8n_bin(request: pytest.FixtureRequest) -> Path:
    """The n8n executable, installed on first use (npm; the xlsx override lets it install offline)."""
    if not opted_in(request.config):
        pytest.skip("opt-in: run with -m n8n")
    folder = n8n_dir()
    binary = folder / "node_modules" / ".bin" / "n8n"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: n8n cannot be installed")
    folder.mkdir(parents=True, exist_ok=True)
    package = {
        "name": "orchcore-n8n-test",
        "private": True,
        "dependencies": {"n8n": N8N_VERSION},
        "overrides": {"xlsx": "0.18.5"},
    }
    (folder / "package.json").write_text(json.dumps(package, indent=2))
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        check=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert binary.exists()
    return binary


def set_value(workflow: dict[str, Any], node: str, name: str, value: str) -> None:
    """Edit a Settings assignment, as a user does after importing."""
    (found,) = [n for n in workflow["nodes"] if n["name"] == node]
    (assignment,) = [a for a in found["parameters"]["assignments"]["assignments"] if a["name"] == name]
    assignment["value"] = value


class N8n:
    """n8n with its own user folder (SQLite, encryption key) on a free loopback port."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "N8N_USER_FOLDER": str(home),
            "N8N_ENCRYPTION_KEY": "orchcore-test-key",
            "N8N_PORT": str(self.port),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "WEBHOOK_URL": f"{self.url}/",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false",
            "DB_SQLITE_POOL_SIZE": "2",
            "GENERIC_TIMEZONE": "UTC",
            "N8N_RUNNERS_BROKER_PORT": str(free_port()),  # not the default 5679: another n8n may run
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log = home / "n8n.log"

    def cli(self, *args: str) -> str:
        """An n8n CLI command on the same user folder (its own task broker port)."""
        done = subprocess.run(
            [str(self.binary), *args],
            env={**self.env, "N8N_RUNNERS_BROKER_PORT": str(free_port())},
            capture_output=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        output = (done.stdout + done.stderr).decode(errors="replace")
        assert done.returncode == 0, f"n8n {' '.join(args)} failed:\n{output}"
        return output

    def start(self) -> None:
        out = self.log.open("wb")
        self.process = subprocess.Popen(
            [str(self.binary), "start"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def orch_settings(tmp_path: Path, n8n_url: str) -> Settings:
    tasks = tmp_path / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "simple.md").write_text(SIMPLE)
    (tasks / "approval.md").write_text(APPROVAL)
    (tasks / "daily.md").write_text(SIMPLE)
    config = tmp_path / "orch.yaml"
    config.write_text(
        'agent:\n  command: ["true"]\n  timeout_s: 30\n'
        f"notifications:\n  channels: [n8n]\n  n8n_url: {n8n_url}/webhook/orch-notifications\n"
    )
    # the secrets as a user keeps them: a .env file next to the config
    (tmp_path / ".env").write_text(f"ORCH_WEBHOOK_SECRET={ORCH_SECRET}\nORCH_N8N_SECRET={NOTIFY_SECRET}\n")
    return load_settings(str(config), environ={})


@pytest.fixture
def world(tmp_path: Path, n8n_bin: Path) -> Iterator[tuple[N8n, FakeTelegram, Prepared, Settings]]:
    n8n = N8n(n8n_bin, tmp_path / "n8n")
    n8n.home.mkdir()
    settings = orch_settings(tmp_path / "orch", n8n.url)
    ready = prepare(settings, "127.0.0.1", 0, False, access_log=False, log_config=None)
    orch_url = f"http://127.0.0.1:{ready.port}"
    server = threading.Thread(target=ready.run, daemon=True)
    server.start()
    wait_until(lambda: ready.server.started, "orch serve to start")
    with fake_telegram(TOKEN) as telegram:
        try:
            import_everything(n8n, tmp_path, telegram, orch_url)
            n8n.start()
            yield n8n, telegram, ready, settings
        finally:
            n8n.stop()
            ready.server.should_exit = True
            server.join(30)


def import_everything(n8n: N8n, tmp_path: Path, telegram: FakeTelegram, orch_url: str) -> None:
    """Credentials and workflows through n8n's CLI, then publish (activate) each workflow."""
    credentials = [
        {
            "id": "orchTelegramBot",
            "name": "Telegram bot (orch)",
            "type": "telegramApi",
            "data": {"accessToken": TOKEN, "baseUrl": telegram.base_url},
        },
        {
            "id": "orchWebhookSecret",
            "name": "orch webhook secret (X-Orch-Secret)",
            "type": "httpHeaderAuth",
            "data": {"name": "X-Orch-Secret", "value": ORCH_SECRET},
        },
        {
            "id": "orchNotifySecret",
            "name": "orch notifications secret (X-Orch-Secret)",
            "type": "httpHeaderAuth",
            "data": {"name": "X-Orch-Secret", "value": NOTIFY_SECRET},
        },
    ]
    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps(credentials))
    n8n.cli("import:credentials", f"--input={creds}")
    edits: dict[str, Callable[[dict[str, Any]], None]] = {
        "telegram-to-orch": lambda wf: (
            set_value(wf, "Settings", "orch_url", orch_url),
            wf["nodes"][0]["parameters"]["additionalFields"].update(chatIds=str(ME)),
        ),
        "orch-to-telegram": lambda wf: set_value(wf, "Settings", "chat_id", str(ME)),
        "daily-start": lambda wf: (
            set_value(wf, "Settings", "orch_url", orch_url),
            set_value(wf, "Settings", "task_file", "daily.md"),
            set_value(wf, "Settings", "chat_id", str(ME)),
        ),
    }
    for name, edit in edits.items():
        workflow = json.loads((EXAMPLES / f"{name}.json").read_text())
        edit(workflow)
        workflow["id"] = name.replace("-", "")[:16]
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(workflow))
        n8n.cli("import:workflow", f"--input={path}")
        n8n.cli("publish:workflow", f"--id={workflow['id']}")


def telegram_update(chat_id: int, text: str, update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Alice", "username": "alice"},
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def sessions(settings: Settings) -> list[tuple[str, str]]:
    store = SqliteStore(str(settings.db_path))
    try:
        return [(Path(s.source).name, s.state.value) for s in store.sessions()]
    finally:
        store.close()


def test_commands_and_notifications_flow_through_n8n(
    world: tuple[N8n, FakeTelegram, Prepared, Settings],
) -> None:
    n8n, telegram, ready, settings = world
    http = httpx.Client(timeout=30)
    try:
        # the Telegram Trigger registers its webhook with "Telegram" (our fake) when activated
        telegram.wait_for(
            lambda: bool(telegram.webhook.get("url")), "n8n to call setWebhook", START_TIMEOUT_S
        )
        hook = str(telegram.webhook["url"])
        assert hook.startswith(n8n.url)
        secret_header = {"X-Telegram-Bot-Api-Secret-Token": str(telegram.webhook["secret_token"])}

        def registered() -> bool:
            try:
                return http.post(f"{n8n.url}/webhook/orch-notifications", json={}).status_code != 404
            except httpx.TransportError:
                return False

        wait_until(registered, "n8n's webhooks to be registered", START_TIMEOUT_S)

        # 1. a command from the whitelisted chat reaches orch serve; the answer comes back
        before = len(telegram.sent_to(ME))
        answer = http.post(hook, json=telegram_update(ME, "/start approval.md", 1), headers=secret_header)
        assert answer.status_code == 200, answer.text
        telegram.wait_messages(ME, before + 1, DEADLINE_S)
        replies = [m.shown for m in telegram.sent_to(ME)]
        assert any("started: 1 task from approval.md" in r for r in replies), replies
        wait_until(lambda: sessions(settings) == [("approval.md", "waiting_approval")], "the approval gate")

        # 2. orchcore's "approval needed" notification reaches n8n, which sends it to the chat
        telegram.wait_for(
            lambda: any("Task 1 needs approval" in m.shown for m in telegram.sent_to(ME)),
            "the approval notification through n8n",
            DEADLINE_S,
        )

        # 3. another chat is ignored: the trigger drops it, nothing reaches orch
        http.post(hook, json=telegram_update(STRANGER, "/approve", 2), headers=secret_header)
        count = len(telegram.sent_to(ME))
        http.post(hook, json=telegram_update(ME, "/approve", 3), headers=secret_header)
        telegram.wait_for(
            lambda: any("approved task 1" in m.shown for m in telegram.sent_to(ME)[count:]),
            "the answer to /approve",
            DEADLINE_S,
        )
        assert telegram.sent_to(STRANGER) == []
        wait_until(lambda: sessions(settings) == [("approval.md", "completed")], "the session to complete")

        # a refusal (409: nothing waits) is answered too, not swallowed by n8n
        count = len(telegram.sent_to(ME))
        http.post(hook, json=telegram_update(ME, "/approve", 4), headers=secret_header)
        telegram.wait_for(
            lambda: any(m.shown.startswith("✗ cannot approve") for m in telegram.sent_to(ME)[count:]),
            "the refusal of /approve",
            DEADLINE_S,
        )

        # /logs N answers with the lines, /report with the report
        count = len(telegram.sent_to(ME))
        http.post(hook, json=telegram_update(ME, "/logs 5", 5), headers=secret_header)
        http.post(hook, json=telegram_update(ME, "/report", 6), headers=secret_header)
        telegram.wait_messages(ME, count + 2, DEADLINE_S)
        answers = [m.shown for m in telegram.sent_to(ME)[count:]]
        event_line = re.compile(r"^\d+ \d\d:\d\d:\d\d [a-z_]+", re.MULTILINE)
        assert any("the last 5 events of session" in a and event_line.search(a) for a in answers), answers
        assert any("Users table" in a and "completed" in a for a in answers), answers

        # a title Telegram's legacy Markdown would refuse is shown as written, and counted only then
        count = len(telegram.sent_to(ME))
        odd = {"key": "k-odd", "title": "Task fix_users <b> *done", "text": "", "actions": []}
        sent = http.post(
            f"{n8n.url}/webhook/orch-notifications", json=odd, headers={"X-Orch-Secret": NOTIFY_SECRET}
        )
        assert sent.status_code == 200, sent.text
        assert [m.shown for m in telegram.sent_to(ME)[count:]] == ["Task fix_users <b> *done"]

        # 4. a wrong secret is refused by n8n (header auth on the notification webhook)
        refused = http.post(
            f"{n8n.url}/webhook/orch-notifications", json={"title": "x"}, headers={"X-Orch-Secret": "wrong"}
        )
        assert refused.status_code == 403
    finally:
        http.close()

    # 5. the daily start, run once by hand: it starts a session from the configured file
    count = len(telegram.sent_to(ME))
    n8n.cli("execute", "--id=dailystart")
    wait_until(lambda: ("daily.md", "completed") in sessions(settings), "the daily session")
    telegram.wait_messages(ME, count + 1, DEADLINE_S)
    assert any("started: 1 task from daily.md" in m.shown for m in telegram.sent_to(ME)[count:])

    # 6. a day without its file: orch's 404 reaches the user
    settings.path(settings.paths.tasks_dir).joinpath("daily.md").unlink()
    count = len(telegram.sent_to(ME))
    n8n.cli("execute", "--id=dailystart")
    telegram.wait_messages(ME, count + 1, DEADLINE_S)
    told = telegram.sent_to(ME)[-1].shown
    assert "did not start" in told, told
    assert "daily.md" in told, told

    # 7. orch serve down: the user still gets a reply saying so
    port = ready.port
    ready.server.should_exit = True
    wait_until(lambda: not port_open(port), "orch serve to stop")
    count = len(telegram.sent_to(ME))
    with httpx.Client(timeout=30) as client:
        client.post(hook, json=telegram_update(ME, "/status", 7), headers=secret_header)
    telegram.wait_messages(ME, count + 1, DEADLINE_S)
    assert "orch serve is not reachable" in telegram.sent_to(ME)[-1].shown
