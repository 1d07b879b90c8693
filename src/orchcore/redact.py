"""One redaction for text that is shown or stored: URL credentials and secret-like parameters.

Every path that writes a URL, a request line or an error (the access log, orch.log,
the outbox, `orch notify`, `orch status`, webhook errors) passes it through
:func:`redact`, so a password in ``user:pass@host`` or a ``?secret=`` never lands anywhere.
Pure text in, text out: idempotent, and text without secrets comes back unchanged.
"""

from __future__ import annotations

import functools
import re

__all__ = ["REDACTED", "SECRET_WORDS", "redact"]

REDACTED = "***"
SECRET_WORDS = (
    "secret",
    "token",
    "key",
    "password",
    "passwd",
    "pwd",
    "sig",
    "signature",
    "auth",
    "credential",
    "session_id",
)


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Compiled on the first redaction, not at import (`orch status` imports this and redacts nothing)."""
    # scheme://userinfo@ : everything between "//" and the last "@" before the path
    userinfo = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s\"<>]+@")
    # ?name=value / &name=value / ;name=value where the name holds a secret word
    param = re.compile(
        r"(?i)([?&;][^=&;#\s\"<>]*(?:" + "|".join(SECRET_WORDS) + r")[^=&;#\s\"<>]*=)[^&;#\s\"<>]*"
    )
    # Telegram's Bot API puts the token in the path: /bot<id>:<secret>/
    bot_token = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")
    return userinfo, param, bot_token


def redact(text: str) -> str:
    """``text`` with URL credentials, secret-like query parameters and bot tokens replaced by ``***``."""
    userinfo, param, bot_token = _patterns()
    text = userinfo.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = param.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return bot_token.sub(f"/bot{REDACTED}", text)
