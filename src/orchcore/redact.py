"""One redaction for text that is shown or stored: URL credentials and secret-like parameters.

Every path that writes a URL, a request line or an error (the access log, orch.log,
the outbox, `orch notify`, `orch status`, webhook errors) passes it through
:func:`redact`, so a password in ``user:pass@host`` or a ``?secret=`` never lands anywhere.
Pure text in, text out: idempotent, and text without secrets comes back unchanged.
"""

from __future__ import annotations

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

# scheme://userinfo@ : everything between "//" and the last "@" before the path
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s\"<>]+@")
# ?name=value / &name=value / ;name=value where the name holds a secret word
_PARAM = re.compile(
    r"(?i)([?&;][^=&;#\s\"<>]*(?:" + "|".join(SECRET_WORDS) + r")[^=&;#\s\"<>]*=)[^&;#\s\"<>]*"
)
# Telegram's Bot API puts the token in the path: /bot<id>:<secret>/
_BOT_TOKEN = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    """``text`` with URL credentials, secret-like query parameters and bot tokens replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = _PARAM.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _BOT_TOKEN.sub(f"/bot{REDACTED}", text)
