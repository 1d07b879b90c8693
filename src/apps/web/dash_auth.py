"""Logins of the dashboard: the webhook secret once, then a session cookie.

A login trades the secret for a random token (the cookie) that the server remembers with an
expiry and a CSRF token of its own. Only the token's SHA-256 is kept, so a memory dump holds no
usable cookie. Failed logins never touch the table of logins: a flood of wrong secrets costs
the flooder a rate limit, never another user their session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

import attrs

SESSION_COOKIE = "orch_dash"
LOGIN_COOKIE = "orch_login"  # the double-submit CSRF token of the login form, before any session
SESSION_TTL_S = 12 * 3600.0
MAX_LOGINS = 1000  # beyond this the oldest login is dropped: memory stays bounded


def new_token() -> str:
    """32 random bytes, URL-safe: a cookie or CSRF value nobody can guess."""
    return secrets.token_urlsafe(32)


def same(a: str, b: str) -> bool:
    """Constant-time equality of two tokens (False for an empty one)."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@attrs.frozen
class Login:
    """One logged-in browser: its CSRF token and when it expires (monotonic seconds)."""

    csrf: str
    expires: float


@attrs.define
class Logins:
    """Server-side logins keyed by the digest of their cookie; expired ones are forgotten."""

    now: Callable[[], float]
    ttl_s: float = SESSION_TTL_S
    max_logins: int = MAX_LOGINS
    _by_digest: dict[str, Login] = attrs.field(factory=dict)

    def open(self) -> tuple[str, Login]:
        """A new login: the cookie value to hand out (never stored) and its record."""
        self._forget_expired()
        while len(self._by_digest) >= self.max_logins:
            del self._by_digest[next(iter(self._by_digest))]  # dicts keep order: the oldest first
        token = new_token()
        login = Login(csrf=new_token(), expires=self.now() + self.ttl_s)
        self._by_digest[_digest(token)] = login
        return token, login

    def find(self, token: str | None) -> Login | None:
        """The live login of a cookie, or None (unknown, expired, or no cookie)."""
        if not token:
            return None
        key = _digest(token)
        login = self._by_digest.get(key)
        if login is None:
            return None
        if login.expires <= self.now():
            del self._by_digest[key]
            return None
        return login

    def close(self, token: str | None) -> None:
        """Log out: the cookie is worthless from now on."""
        if token:
            self._by_digest.pop(_digest(token), None)

    def __len__(self) -> int:
        return len(self._by_digest)

    def _forget_expired(self) -> None:
        now = self.now()
        for key in [k for k, v in self._by_digest.items() if v.expires <= now]:
            del self._by_digest[key]


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None, path: str = "/") -> str:
    """A Set-Cookie value: HttpOnly and SameSite=Strict always; Secure when asked."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
