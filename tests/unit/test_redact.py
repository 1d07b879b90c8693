"""One redaction for every place a URL or a request line is shown or stored (issue 8, item 10)."""

from __future__ import annotations

import string

from hypothesis import assume, given
from hypothesis import strategies as st

from orchcore.redact import REDACTED, redact

VALUE = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%!$'()*+,", min_size=6, max_size=30)
NAMES = st.sampled_from(
    [
        "secret",
        "token",
        "key",
        "password",
        "passwd",
        "sig",
        "signature",
        "api_key",
        "access_token",
        "X-Orch-Secret",
        "auth",
    ]
)


def test_url_credentials_are_redacted_and_the_host_kept() -> None:
    assert redact("n8n at http://orch:pa55@n8n.example.com:5678/webhook/x") == (
        f"n8n at http://{REDACTED}@n8n.example.com:5678/webhook/x"
    )


def test_secret_query_parameters_are_redacted_and_others_kept() -> None:
    line = '127.0.0.1:5 - "POST /webhook/command?secret=hunter2&lines=5&api_key=k HTTP/1.1" 200'
    assert (
        redact(line)
        == f'127.0.0.1:5 - "POST /webhook/command?secret={REDACTED}&lines=5&api_key={REDACTED} HTTP/1.1" 200'
    )


def test_a_telegram_bot_token_in_a_url_is_redacted() -> None:
    assert redact("https://api.telegram.org/bot123456:AAE-x_y/sendMessage") == (
        f"https://api.telegram.org/bot{REDACTED}/sendMessage"
    )


def test_text_without_secrets_is_unchanged() -> None:
    text = "task 1 failed: 3 tests, see http://127.0.0.1:8765/health?lines=5 (key points: none)"
    assert redact(text) == text


def test_no_secret_survives_in_any_position() -> None:
    @given(
        user=VALUE,
        password=VALUE,
        name=NAMES,
        value=VALUE,
        before=st.sampled_from(["", "a=1&", "x=y;"]),
        after=st.sampled_from(["", "&b=2", "#frag", " HTTP/1.1", '"']),
        scheme=st.sampled_from(["http", "https", "HTTPS", "ws"]),
    )
    def check(user: str, password: str, name: str, value: str, before: str, after: str, scheme: str) -> None:
        url = f"{scheme}://{user}:{password}@host.example:80/p?{before}{name}={value}{after}"
        public = f"failed: {scheme}://{user}:@host.example:80/p?{before}{name}={after}{REDACTED}"
        assume(password not in public and value not in public)  # a secret spelled like the rest can't be told
        out = redact(f"failed: {url}")
        assert password not in out
        assert value not in out
        assert "host.example:80/p" in out
        assert redact(out) == out  # idempotent: redacting stored text again changes nothing

    check()
