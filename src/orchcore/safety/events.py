"""Safety events: which layer stopped (or caught) what an agent tried, as one typed value.

A *refusal* is a layer saying no before the operation ran (a PATH shim, the
pre-tool hook, a git hook, the agent CLI's own permission rules, the sandbox's
read-only file system): the agent was stopped, its work may still be fine, so a
refusal alone does not fail the task. A *violation* is an operation that got
past the layers that should have refused it (the stream guard saw it run, a git
ref moved): it fails the task. Both are stored as ``EventKind.SAFETY`` events
whose data is ``SafetyEvent.as_data()``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

import attrs

from orchcore.records import Event, EventKind, JsonObject, JsonValue

_TEXT_LIMIT = 500


class SafetyLayer(enum.StrEnum):
    """The layer that stopped or caught an operation."""

    SHIM = "shim"  # a PATH shim refused to run a forbidden program invocation
    HOOK = "hook"  # the agent's pre-tool hook denied the tool call
    GIT_HOOK = "git-hook"  # a git hook put in force for agent runs refused a commit, push, ref update
    CLI_PERMISSIONS = "cli-permissions"  # the agent CLI's own permission rules denied the tool call
    SANDBOX = "sandbox"  # the OS sandbox refused a write (read-only file system)
    STREAM_GUARD = "stream-guard"  # orch saw a forbidden tool call in the agent's stream and stopped it
    REFS = "refs"  # a git ref or HEAD moved during the task
    CHECKPOINT = (
        "checkpoint"  # the comparison with the attempt's checkpoint found the user's edits thrown away
    )


REFUSING_LAYERS = frozenset(
    {
        SafetyLayer.SHIM,
        SafetyLayer.HOOK,
        SafetyLayer.GIT_HOOK,
        SafetyLayer.CLI_PERMISSIONS,
        SafetyLayer.SANDBOX,
    }
)
"""Layers that say no before anything happens: what they report is a refusal, never a violation."""


_SECRETS = (
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE), r"\1***@"),  # URL password
    (
        re.compile(r"(\b[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY)[A-Z0-9_]*=)\S+", re.IGNORECASE),
        r"\1***",
    ),
    (re.compile(r"(--?(?:password|passwd|token|secret|api-key)[= ])\S+", re.IGNORECASE), r"\1***"),
    (re.compile(r"\b(sk-[a-z]*-?)[A-Za-z0-9_-]{8,}", re.IGNORECASE), r"\1***"),
)


def redact(text: str) -> str:
    """``text`` with what looks like a credential masked: a safety event is sent to chats and webhooks."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _clip(text: str) -> str:
    flat = redact(" ".join(str(text).split()))
    return flat if len(flat) <= _TEXT_LIMIT else flat[: _TEXT_LIMIT - 1] + "…"


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class SafetyEvent:
    """One refusal or violation: the ``layer`` that acted, the ``command`` (or tool call) and why.

    ``refused`` is True when the layer stopped the operation before it ran (the
    task goes on), False for a violation that got through (the task fails).
    """

    layer: SafetyLayer = attrs.field(converter=SafetyLayer)
    command: str = attrs.field(default="", converter=_clip)
    reason: str = attrs.field(default="", converter=_clip)
    refused: bool = True
    restored: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    """What orch put back from the attempt's checkpoint after this violation."""

    @property
    def text(self) -> str:
        """One line for people: ``refused by hook: Bash git commit -m x (forbidden (git-commit))``."""
        verb = "refused by" if self.refused else "violation caught by"
        what = self.command or "an operation"
        line = f"{verb} {self.layer.value}: {what}" + (f" ({self.reason})" if self.reason else "")
        return line + (f"; restored from the checkpoint: {', '.join(self.restored)}" if self.restored else "")

    @property
    def failure(self) -> str:
        """Why a violation fails its task: the ref that moved, or the rule broken."""
        return f"git ref changed: {self.command}" if self.layer is SafetyLayer.REFS else self.reason

    def as_data(self) -> JsonObject:
        """The event data this is stored as (``text`` too, for readers that only show a line)."""
        return {
            "layer": self.layer.value,
            "command": self.command,
            "reason": self.reason,
            "refused": self.refused,
            "text": self.text,
        } | ({"restored": list(self.restored)} if self.restored else {})


def refusal(layer: SafetyLayer | str, command: str = "", reason: str = "") -> SafetyEvent:
    """A refusal by ``layer``."""
    return SafetyEvent(SafetyLayer(layer), command, reason, refused=True)


def violation(layer: SafetyLayer | str, command: str = "", reason: str = "") -> SafetyEvent:
    """A violation that ``layer`` caught after it got through."""
    return SafetyEvent(SafetyLayer(layer), command, reason, refused=False)


def _str(data: Mapping[str, JsonValue], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def safety_events_in(event: Event) -> tuple[SafetyEvent, ...]:
    """The safety events one stored SAFETY event holds (none for other kinds).

    Reads the current shape (``layer``...) and the older one of a failed task,
    ``{"violations": [...], "text": ...}``, whose lines become violations of an
    unknown layer (shown as ``stream-guard``, or ``refs`` for a moved ref).
    """
    data = event.data
    layer = _str(data, "layer")
    restored = data.get("restored")
    if layer in {m.value for m in SafetyLayer}:
        return (
            SafetyEvent(
                SafetyLayer(layer),
                _str(data, "command"),
                _str(data, "reason"),
                refused=data.get("refused") is not False,
                restored=tuple(str(r) for r in restored) if isinstance(restored, list) else (),
            ),
        )
    lines = data.get("violations")
    texts = [str(v) for v in lines] if isinstance(lines, list) else [_str(data, "text")]
    return tuple(
        violation(SafetyLayer.REFS if t.startswith("git ref changed") else SafetyLayer.STREAM_GUARD, "", t)
        for t in texts
        if t
    )


def parse_refusal(data: Mapping[str, JsonValue]) -> SafetyEvent | None:
    """A refusal from a guard's record or an agent's ``refusal`` event data (``layer``, ``command``,
    ``reason``); None when it names no known refusing layer (a guard cannot report a violation)."""
    layer = _str(data, "layer")
    if layer not in {m.value for m in REFUSING_LAYERS}:
        return None
    return refusal(layer, _str(data, "command"), _str(data, "reason"))


@attrs.frozen
class RecordedSafetyEvent:
    """A safety event as stored for a task: which task and attempt, when, and what."""

    task_id: str | None
    attempt: int | None
    at: datetime
    event: SafetyEvent


def recorded_safety_events(events: Iterable[Event]) -> list[RecordedSafetyEvent]:
    """Every safety event among a session's stored events, oldest first."""
    return [
        RecordedSafetyEvent(e.task_id, e.attempt, e.at, found)
        for e in events
        if e.kind is EventKind.SAFETY
        for found in safety_events_in(e)
    ]
