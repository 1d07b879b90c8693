"""Secrets an attempt wrote into a file: credentials in the added lines of its diff.

Two kinds of evidence: a value in a known token format (private key blocks, AWS,
GitHub, Slack, Stripe, Google, OpenAI/Anthropic ``sk-`` keys, Telegram bot tokens,
a password in a URL), and a quoted or ``.env`` value assigned to a name holding one of
:data:`orchcore.redact.SECRET_WORDS` that looks random (long, mixed, high entropy) and is
not a placeholder (``changeme``, ``${VAR}``, ``<token>``, ``example``...). What is shown
never holds the secret: only where it is and its first characters.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import attrs

from orchcore.redact import SECRET_WORDS
from orchcore.supervise.diffs import FileDiff

_FORMATS = (
    ("private key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("Stripe key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{16,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("API key", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{32,}")),
    ("Telegram bot token", re.compile(r"\b\d{8,10}:AA[A-Za-z0-9_-]{33}\b")),
    (
        "password in a URL",
        re.compile(r"\b[a-z][a-z0-9+.-]{0,30}://[^/\s:@]{1,256}:([^@\s/]{6,256})@", re.IGNORECASE),
    ),
)
_WORDS = (*(w for w in SECRET_WORDS if len(w) > 3), "apikey", "api_key", "access_key", "private_key")
# a name of at most 64 characters, not inside a longer word: bounded, so a 200 KB minified line
# is read in linear time (a free ``[\w.-]*`` on both sides of the word backtracks for minutes)
_ASSIGNED = re.compile(
    r"(?<![\w.-])([A-Za-z_][\w.-]{0,63})['\"]?\s*[:=]\s*"
    r"(?:['\"]([^'\"\s]{12,256})['\"]|([^\s'\"#,;]{12,256})\s*$)"
)
# a value in a token format is a placeholder only when it says so (AWS's own docs key ends in EXAMPLE)
_FORMAT_PLACEHOLDER = re.compile(r"(?i)(?:example|x{4,}|\*{3}|<[^>]*>|\$\{|\{\{|your[_-])")
_PLACEHOLDER = re.compile(
    r"(?i)(?:change.?me|example|dummy|fake|sample|placeholder|your[_-]|xxx|\*\*\*|<[^>]*>|\$\{|\{\{|"
    r"^\$|environ|getenv|process\.env|settings\.|config\.|test|redacted|secret_?name)"
)


@attrs.frozen
class Leak:
    """One secret written to a file: where (``path:line``) and what kind, with a masked preview."""

    path: str
    line: int
    kind: str
    preview: str

    @property
    def text(self) -> str:
        """``config.py:12: AWS access key (AKIA***)``."""
        return f"{self.path}:{self.line}: {self.kind} ({self.preview})"


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _looks_random(value: str) -> bool:
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^A-Za-z0-9]"))
    return classes >= 2 and _entropy(value) >= 3.0 and not _PLACEHOLDER.search(value)


def _mask(value: str) -> str:
    return value[:4] + "***"


def leaks_in_line(path: str, number: int, line: str) -> list[Leak]:
    """The secrets one added line holds (none for a placeholder or an environment lookup)."""
    found = []
    for kind, pattern in _FORMATS:
        match = pattern.search(line)
        if match is not None:
            value = match.group(match.lastindex or 0)
            if not _FORMAT_PLACEHOLDER.search(value):
                found.append(Leak(path, number, kind, _mask(value)))
    if found:
        return found
    for assigned in _ASSIGNED.finditer(line):
        name = assigned.group(1).lower()
        value = assigned.group(2) or assigned.group(3) or ""
        if any(word in name for word in _WORDS) and _looks_random(value):
            found.append(Leak(path, number, "secret-like value", _mask(value)))
            break
    return found


def leaks_in(diffs: list[FileDiff]) -> list[Leak]:
    """Every secret the added lines of ``diffs`` hold, in diff order."""
    found: list[Leak] = []
    for part in diffs:
        numbers = part.added_at or tuple(range(1, len(part.added) + 1))
        for number, line in zip(numbers, part.added, strict=False):
            found.extend(leaks_in_line(part.path, number, line))
    return found


def _secret_values(line: str) -> list[str]:
    values = []
    for _kind, pattern in _FORMATS[1:]:  # a private key block is cut line by line in masked()
        for match in pattern.finditer(line):
            value = match.group(match.lastindex or 0)
            if not _FORMAT_PLACEHOLDER.search(value):
                values.append(value)
    for assigned in _ASSIGNED.finditer(line):
        value = assigned.group(2) or assigned.group(3) or ""
        if any(word in assigned.group(1).lower() for word in _WORDS) and _looks_random(value):
            values.append(value)
    return values


def masked(text: str) -> str:
    """``text`` with each secret a line holds cut to its first characters and private key blocks
    left out: what a judge (maybe a server on another machine) may read of a diff or an output."""
    lines, in_key = [], False
    for line in text.split("\n"):
        if "PRIVATE KEY-----" in line:
            in_key = "-----BEGIN" in line
            if in_key:
                lines.append(line[: line.index("-----BEGIN")] + "[a private key, left out]")
            continue
        if in_key:
            continue
        for value in _secret_values(line):
            line = line.replace(value, _mask(value))
        lines.append(line)
    return "\n".join(lines)
