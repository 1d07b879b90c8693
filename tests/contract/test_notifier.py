"""The Notifier contract on the n8n notifier (a real loopback HTTP receiver) and the console one,
plus what only the n8n notifier promises: payload, headers, and which answers may pass."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import pytest

from adapters.console.notifier import ConsoleNotifier, line
from adapters.n8n.notifier import N8nNotifier
from orchcore.errors import ConfigError, NotifyError
from orchcore.testing.contracts import NotifierContract, NotifierFactory, NotifierRig
from orchcore.testing.contracts.notifier import notification
from orchcore.testing.fakes import RecordingNotifier
from tests.fakes.webhook_receiver import WebhookReceiver, free_port

pytestmark = pytest.mark.integration

SECRET = "s3cret"  # noqa: S105 - a test value


class TestN8nNotifier(NotifierContract):
    @pytest.fixture
    def make_notifier(self) -> Iterator[NotifierFactory]:
        receivers: list[WebhookReceiver] = []
        clients: list[httpx.Client] = []

        def make(scenario: str) -> NotifierRig:
            client = httpx.Client(timeout=5.0)
            clients.append(client)
            if scenario == "down":
                refused = WebhookReceiver(free_port())  # never started: the port refuses connections
                return NotifierRig(N8nNotifier(refused.url, client), shown=refused.keys_shown)
            receiver = WebhookReceiver(secret=SECRET).start()
            receivers.append(receiver)
            if scenario == "rejecting":
                receiver.answers.extend([400] * 10)
            return NotifierRig(N8nNotifier(receiver.url, client, secret=SECRET), shown=receiver.keys_shown)

        yield make
        for receiver in receivers:
            receiver.stop()
        for client in clients:
            client.close()


class TestConsoleNotifier(NotifierContract):
    @pytest.fixture
    def make_notifier(self) -> NotifierFactory:
        def make(scenario: str) -> NotifierRig:
            if scenario == "rejecting":
                pytest.skip("a stream takes every line or fails for a reason that may pass")
            stream = io.StringIO()
            if scenario == "down":
                stream.close()

            def shown() -> list[str]:
                if stream.closed:
                    return []
                return [text.rsplit("[", 1)[1].rstrip("]") for text in stream.getvalue().splitlines()]

            return NotifierRig(ConsoleNotifier(stream), shown=shown)

        return make


class TestRecordingNotifier(NotifierContract):
    @pytest.fixture
    def make_notifier(self) -> NotifierFactory:
        def make(scenario: str) -> NotifierRig:
            failures = {
                "down": [NotifyError("down", retryable=True)],
                "rejecting": [NotifyError("rejected", retryable=False)],
            }.get(scenario, [])
            fake = RecordingNotifier(failures=failures)
            return NotifierRig(fake, shown=fake.delivered_keys, idempotent=False)

        return make


# -- n8n only ---------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as http:
        yield http


def test_n8n_posts_the_documented_payload_with_the_idempotency_key(
    receiver: WebhookReceiver, client: httpx.Client
) -> None:
    N8nNotifier(receiver.url, client, secret=SECRET).send(notification())
    (got,) = receiver.requests
    assert got.key == "s1:3:0:task_failed"
    assert got.headers["x-orch-secret"] == SECRET
    assert got.headers["content-type"] == "application/json"
    assert got.body == {
        "key": "s1:3:0:task_failed",
        "session": "s1",
        "kind": "task_failed",
        "title": "Task 3 failed: exit code 1",
        "text": 'Task 3 "Users table" failed in 12.5 s, attempt 1 (session s1 (today.md)).\ntests failed',
        "task": "3",
        "actions": ["logs 3", "retry 3", "skip 3"],
        "data": {"event": "task_finished", "exit_code": 1, "state": "failed", "attempt": 1},
        "created_at": "2026-11-23T09:00:00+00:00",
    }


def test_n8n_without_a_secret_sends_no_secret_header(receiver: WebhookReceiver, client: httpx.Client) -> None:
    N8nNotifier(receiver.url, client).send(notification())
    assert "x-orch-secret" not in receiver.requests[0].headers


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (502, True),
        (503, True),
        (429, True),
        (408, True),
        (400, False),
        (401, False),
        (404, False),
    ],
)
def test_n8n_answers_other_than_2xx_say_whether_a_retry_may_help(
    receiver: WebhookReceiver, client: httpx.Client, status: int, retryable: bool
) -> None:
    receiver.answers.append(status)
    with pytest.raises(NotifyError) as raised:
        N8nNotifier(receiver.url, client).send(notification())
    assert raised.value.retryable is retryable
    assert f"HTTP {status}" in str(raised.value)


def test_n8n_a_receiver_that_hangs_is_a_retryable_timeout(receiver: WebhookReceiver) -> None:
    receiver.hold()
    with httpx.Client(timeout=0.3) as http, pytest.raises(NotifyError, match="timed out") as raised:
        N8nNotifier(receiver.url, http).send(notification())
    assert raised.value.retryable is True
    receiver.release()


def test_n8n_errors_name_the_host_but_never_the_path_or_the_secret(client: httpx.Client) -> None:
    url = f"http://127.0.0.1:{free_port()}/webhook/9f1c-secret-path"
    notifier = N8nNotifier(url, client, secret=SECRET)
    with pytest.raises(NotifyError) as raised:
        notifier.send(notification())
    message = str(raised.value) + repr(notifier)
    assert "127.0.0.1" in message
    assert "secret-path" not in message
    assert SECRET not in message


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http:///path-only"])
def test_n8n_refuses_a_url_it_cannot_post_to(client: httpx.Client, url: str) -> None:
    with pytest.raises(ConfigError):
        N8nNotifier(url, client)


def test_n8n_with_a_mock_transport_sends_json_that_round_trips() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        N8nNotifier("https://n8n.example/webhook/x", http).send(notification(text="ünï 🚀\n*x*"))
    assert json.loads(seen[0].content)["text"] == "ünï 🚀\n*x*"


def test_console_line_is_one_line_with_the_actions_and_the_key() -> None:
    text = line(notification())
    assert "\n" not in text
    assert text.endswith("[s1:3:0:task_failed]")
    assert "Task 3 failed: exit code 1" in text
    assert "next: logs 3 | retry 3 | skip 3" in text
