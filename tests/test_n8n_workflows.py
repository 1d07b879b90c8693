"""The n8n workflow exports in examples/n8n are importable as they are.

What n8n 2.8.4 accepts was read from its n8n-nodes-base package (each node's
``version`` list in dist/nodes/*/*.node.js) and, for the versions used here, proven
by importing, activating and running the workflows in a real n8n 2.8.4
(tests/integration/test_n8n_real.py, opt-in). ../shared/reference/n8n-facts.md
lists webhook 2/2.1 and httpRequest 4.2/4.4 as measured.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from adapters.n8n.notifier import payload
from apps.web import schema
from orchcore.testing.contracts.notifier import notification
from tests.fakes.telegram_api import telegram_shows

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "n8n"
WORKFLOWS = sorted(EXAMPLES.glob("*.json"))

# node type -> typeVersions allowed here, and why
ALLOWED: dict[str, set[float]] = {
    # measured (n8n-facts.md); 2.8.4 knows 1, 1.1, 2, 2.1
    "n8n-nodes-base.webhook": {2, 2.1},
    # measured (n8n-facts.md); 2.8.4 knows 3, 4, 4.1-4.4
    "n8n-nodes-base.httpRequest": {4.2, 4.4},
    # 2.8.4 knows 1, 1.1, 1.2; 1.2 checks Telegram's secret token and has "Restrict to Chat IDs"
    "n8n-nodes-base.telegramTrigger": {1.2},
    # 2.8.4 knows 1, 1.1, 1.2; 1.1+ has the appendAttribution option we switch off
    "n8n-nodes-base.telegram": {1.2},
    # 2.8.4 knows 1, 1.1, 1.2, 1.3 (cron expressions since 1.1)
    "n8n-nodes-base.scheduleTrigger": {1.2},
    # "Edit Fields (Set)": 2.8.4 knows 3 to 3.4 (assignments since 3.3)
    "n8n-nodes-base.set": {3.4},
    # 2.8.4 knows 1 and 2 (the "Code" node, runOnceForEachItem)
    "n8n-nodes-base.code": {2},
    "n8n-nodes-base.manualTrigger": {1},
}
TRIGGERS = {"n8n-nodes-base.webhook", "n8n-nodes-base.telegramTrigger", "n8n-nodes-base.scheduleTrigger",
            "n8n-nodes-base.manualTrigger"}  # fmt: skip
WEBHOOKS = {"n8n-nodes-base.webhook", "n8n-nodes-base.telegramTrigger"}
SECRET_KEYS = re.compile(r"secret|password|token|apikey|api_key|accesstoken|authorization", re.IGNORECASE)
BOT_TOKEN = re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}")


def load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def nodes_by_name(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in workflow["nodes"]}


def strings(value: object, path: str = "") -> list[tuple[str, str]]:
    """Every (key path, string) in a JSON value."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in strings(v, f"{path}[{i}]")]
    return []


def test_the_three_workflows_are_there() -> None:
    assert {p.stem for p in WORKFLOWS} == {"telegram-to-orch", "orch-to-telegram", "daily-start"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_an_export_has_the_shape_n8n_imports(path: Path) -> None:
    workflow = load(path)
    assert isinstance(workflow["name"], str)
    assert workflow["name"]
    assert workflow["settings"] == {"executionOrder": "v1"}
    assert "id" not in workflow, "an id would overwrite the user's workflow with that id on import"
    assert workflow.get("active", False) is False
    names = [n["name"] for n in workflow["nodes"]]
    assert len(names) == len(set(names))
    for node in workflow["nodes"]:
        assert uuid.UUID(node["id"])
        assert isinstance(node["parameters"], dict)
        assert len(node["position"]) == 2
        assert node["type"] in ALLOWED, f"{node['name']}: node type {node['type']} is not allowed"
        assert node["typeVersion"] in ALLOWED[node["type"]], (
            f"{node['name']}: {node['type']} typeVersion {node['typeVersion']} is not one n8n 2.8.4 accepts here"
        )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_connections_join_existing_nodes_and_every_node_is_reached(path: Path) -> None:
    workflow = load(path)
    nodes = nodes_by_name(workflow)
    targets: set[str] = set()
    for source, outputs in workflow["connections"].items():
        assert source in nodes, f"connection from unknown node {source!r}"
        assert set(outputs) == {"main"}
        for branch in outputs["main"]:
            for link in branch:
                assert link["node"] in nodes, f"connection to unknown node {link['node']!r}"
                assert link["type"] == "main"
                assert link["index"] == 0
                targets.add(link["node"])
    for name, node in nodes.items():
        if node["type"] in TRIGGERS:
            assert name not in targets
        else:
            assert name in targets, f"{name} is never reached"
    for _, text in strings(workflow["nodes"]):
        for referenced in re.findall(r"\$\('([^']+)'\)", text):
            assert referenced in nodes, f"an expression reads unknown node {referenced!r}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_webhook_nodes_have_an_id_and_a_path(path: Path) -> None:
    for node in load(path)["nodes"]:
        if node["type"] not in WEBHOOKS:
            continue
        assert uuid.UUID(node["webhookId"])
        if node["type"] == "n8n-nodes-base.webhook":
            params = node["parameters"]
            assert params["httpMethod"] == "POST"
            assert re.fullmatch(r"[a-z0-9][a-z0-9/-]*", params["path"])
            assert params["responseMode"] in ("onReceived", "lastNode")
            assert params["authentication"] == "headerAuth"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_credentials_are_references_and_no_secret_is_inline(path: Path) -> None:
    workflow = load(path)
    for node in workflow["nodes"]:
        for kind, ref in node.get("credentials", {}).items():
            assert kind in ("telegramApi", "httpHeaderAuth")
            assert set(ref) == {"id", "name"}, f"{node['name']}: a credential must be a reference"
        params = node["parameters"]
        if node["type"] == "n8n-nodes-base.httpRequest":
            assert params["authentication"] == "genericCredentialType"
            assert params["genericAuthType"] == "httpHeaderAuth"
            assert "httpHeaderAuth" in node["credentials"]
            assert not params.get("sendHeaders"), "the secret comes from the credential, not a header field"
    for where, text in strings(workflow):
        assert not BOT_TOKEN.search(text), f"{where} looks like a bot token"
    for where, _ in strings([n["parameters"] for n in workflow["nodes"]]):
        leaf = where.rsplit(".", 1)[-1]
        assert not SECRET_KEYS.search(leaf), f"parameter {where} would hold a secret inline"


def test_commands_go_to_the_command_endpoint_with_command_and_params() -> None:
    for path in WORKFLOWS:
        for node in load(path)["nodes"]:
            if node["type"] != "n8n-nodes-base.httpRequest":
                continue
            params = node["parameters"]
            assert params["method"] == "POST"
            assert params["url"].endswith("/webhook/command")
            assert params["sendBody"] is True
            assert params["specifyBody"] == "json"
            assert params["jsonBody"].startswith("={{ JSON.stringify({ command: ")
            assert "params:" in params["jsonBody"]
            assert params["options"]["response"]["response"]["neverError"] is True  # errors are answered


def test_the_notification_flow_reads_fields_orchcore_sends() -> None:
    workflow = load(EXAMPLES / "orch-to-telegram.json")
    sent = set(payload(notification()))
    (send,) = [n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.telegram"]
    used = set(re.findall(r"\bn\.(\w+)", send["parameters"]["text"]))
    assert used
    assert used <= sent


def parse_code() -> str:
    (node,) = [
        n for n in load(EXAMPLES / "telegram-to-orch.json")["nodes"] if n["type"] == "n8n-nodes-base.code"
    ]
    code = node["parameters"]["jsCode"]
    assert isinstance(code, str)
    return code


def test_the_command_parser_knows_every_command() -> None:
    code = parse_code()
    for command in schema.COMMANDS:
        assert f"case '{command}'" in code


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(
    ("text", "command", "params"),
    [
        ("/start today.md", "start", {"file": "today.md", "new": False, "auto_approve": False}),
        ("/start@orch_bot today.md new", "start", {"file": "today.md", "new": True, "auto_approve": False}),
        ("/start", "help", {}),
        ("/status", "status", {}),
        ("/approve 3", "approve", {"task": "3"}),
        ("/reject 3 not today", "reject", {"task": "3", "reason": "not today"}),
        ("/reject not today", "reject", {"reason": "not today"}),
        ("/skip 2", "skip", {"task": "2"}),
        ("/answer Use Postgres.\nVersion 16.", "answer", {"text": "Use Postgres.\nVersion 16."}),
        ("/logs", "logs", {"lines": 20}),
        ("/logs 2 5", "logs", {"lines": 5, "task": "2"}),
        ("/logs 15", "logs", {"lines": 15}),
        ("/logs build", "logs", {"lines": 20, "task": "build"}),
        ("/report", "report", {}),
        ("hello", "help", {}),
        ("/dance", "help", {}),
    ],
)
def test_the_command_parser_builds_valid_requests(text: str, command: str, params: dict[str, Any]) -> None:
    harness = (
        "const $json = JSON.parse(process.argv[1]);\n"
        f"const result = (() => {{\n{parse_code()}\n}})();\n"
        "process.stdout.write(JSON.stringify(result.json));\n"
    )
    update = {"message": {"text": text, "chat": {"id": 42}}}
    done = subprocess.run(
        ["node", "-e", harness, json.dumps(update)], capture_output=True, text=True, check=True, timeout=30
    )
    out = json.loads(done.stdout)
    assert out == {"command": command, "params": params, "chat_id": 42}
    assert schema.validate({"command": out["command"], "params": out["params"]}, schema.COMMAND_REQUEST) == []


# ---- what the Telegram nodes send, as Telegram parses it (issue 8, item 13) ----------------------

HOSTILE_TITLE = "Task fix_user_table: *bold* `x` <b>&co [link](y)"


def telegram_nodes() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.stem, node)
        for path in WORKFLOWS
        for node in load(path)["nodes"]
        if node["type"] == "n8n-nodes-base.telegram"
    ]


def evaluate(expression: str, items: dict[str, Any], current: dict[str, Any]) -> str:
    """An n8n ``={{ ... }}`` expression run by node, with ``$json`` and ``$('Node').item.json``."""
    assert expression.startswith("={{")
    assert expression.endswith("}}")
    harness = (
        "const [items, current] = JSON.parse(process.argv[1]);\n"
        "const $json = current;\n"
        "const $ = (name) => ({ item: { json: items[name] } });\n"
        f"process.stdout.write(String({expression[3:-2]}));\n"
    )
    done = subprocess.run(
        ["node", "-e", harness, json.dumps([items, current])],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(
    ("flow", "node"), telegram_nodes(), ids=lambda v: v if isinstance(v, str) else v["name"]
)
def test_telegram_accepts_what_each_node_sends_and_shows_it_as_written(
    flow: str, node: dict[str, Any]
) -> None:
    notification = {"title": HOSTILE_TITLE, "text": "Question: use a_b or c*d?", "actions": ["approve"]}
    answer = {"ok": True, "message": HOSTILE_TITLE, "next": ["approve 1"], "logs": None}
    items = {
        "Notification from orch": {"body": notification},
        "Parse command": {"chat_id": 42, "command": "status"},
        "Settings": {"chat_id": "42"},
        "Start the day's session": {"ok": False, "error": {"message": HOSTILE_TITLE}},
    }
    error = {"error": {"message": "connect ECONNREFUSED 127.0.0.1:8765"}, "ok": False}
    for current in (answer, error, items["Start the day's session"], {"chat_id": "42"}):
        text = evaluate(node["parameters"]["text"], items, current)
        mode = node["parameters"]["additionalFields"].get("parse_mode") or "Markdown"  # n8n's default
        shown = telegram_shows(text, mode)  # raises as Telegram refuses: "can't parse entities"
        assert HOSTILE_TITLE in shown or "ECONNREFUSED" in shown or "orch" in shown


def test_the_fake_bot_api_refuses_what_telegram_refuses() -> None:
    with pytest.raises(ValueError, match="parse entities"):
        telegram_shows("Task fix_users done", "Markdown")
    with pytest.raises(ValueError, match="parse entities"):
        telegram_shows("a <b unclosed", "HTML")
    with pytest.raises(ValueError, match="parse entities"):
        telegram_shows("1 + 1 = 2.", "MarkdownV2")
    assert telegram_shows("*bold* and \\_x", "Markdown") == "bold and _x"
    assert telegram_shows("&lt;b&gt; <b>x</b> &amp;", "HTML") == "<b> x &"


def test_an_unreachable_orch_gets_the_user_a_reply() -> None:
    for name in ("telegram-to-orch", "daily-start"):
        workflow = load(EXAMPLES / f"{name}.json")
        (http,) = [n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.httpRequest"]
        assert http.get("onError") == "continueErrorOutput", name
        outputs = workflow["connections"][http["name"]]["main"]
        assert len(outputs) == 2, f"{name}: the error output must lead somewhere"
        (on_error,) = outputs[1]
        assert workflow_node(workflow, on_error["node"])["type"] == "n8n-nodes-base.telegram"


def test_the_daily_start_tells_the_user_when_the_day_has_no_file() -> None:
    workflow = load(EXAMPLES / "daily-start.json")
    (http,) = [n for n in workflow["nodes"] if n["type"] == "n8n-nodes-base.httpRequest"]
    (answered,) = workflow["connections"][http["name"]]["main"][0]  # 200, or orch's 404 for no file
    tell = workflow_node(workflow, answered["node"])
    assert tell["type"] == "n8n-nodes-base.telegram"
    missing = {"ok": False, "error": {"code": "not_found", "message": "no task file for today (2026-11-23)"}}
    items = {"Settings": {"chat_id": "42", "orch_url": "http://127.0.0.1:8765"}}
    shown = telegram_shows(evaluate(tell["parameters"]["text"], items, missing), "HTML")
    assert "did not start" in shown
    assert "no task file for today (2026-11-23)" in shown


def workflow_node(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    (node,) = [n for n in workflow["nodes"] if n["name"] == name]
    return node


def test_the_notification_webhook_answers_after_telegram_took_the_message() -> None:
    (hook,) = [
        n for n in load(EXAMPLES / "orch-to-telegram.json")["nodes"] if n["type"] == "n8n-nodes-base.webhook"
    ]
    assert hook["parameters"]["responseMode"] == "lastNode"  # a refusal is a 500 to orch: not delivered
