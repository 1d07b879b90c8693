"""Codex's own session record (``$CODEX_HOME/sessions/**/rollout-*-<thread>.jsonl``), followed live.

Why: ``codex exec --json`` (0.171.0) prints no ``command_execution`` item for a command its
sandbox refused (the model gets ``Read-only file system`` back; the stream shows nothing), and
reports usage only when the turn ends. The rollout file the CLI writes as it goes has both:
every ``function_call`` with its ``function_call_output``, and a ``token_count`` after every
model response. ``RolloutTail`` reads what was appended (I/O); ``RolloutEvents`` turns those
records into the typed events the stream missed (pure): a refused call becomes ToolCall +
Refused(SANDBOX) + ToolOutput, and the turn's usage so far a UsageReport (budget mid-turn).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import attrs

from adapters.codex.stream import CodexStream, sandbox_refusal, shell_script
from orchcore.ports.agent import ToolAction, ToolCall, ToolOutput, TypedAgentEvent

_SUMMARY_LIMIT = 200
_TEXT_LIMIT = 4000
_SHELL_TOOLS = frozenset({"exec_command", "shell", "local_shell"})


def _arguments(raw: object) -> Mapping[str, object]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@attrs.define
class RolloutEvents:
    """Maps rollout records to the events ``stream`` did not show; ``feed`` never raises."""

    stream: CodexStream
    pending: dict[str, str] = attrs.field(factory=dict)  # call_id -> the command's script
    turn_usage: tuple[int, int, int] = (0, 0, 0)
    turn: int = 0

    def feed(self, record: Mapping[str, object]) -> list[TypedAgentEvent]:
        """The events one rollout record adds to what the stream said."""
        payload = record.get("payload")
        if not isinstance(payload, dict):
            return []
        kind = payload.get("type")
        if record.get("type") == "response_item" and kind == "function_call":
            if payload.get("name") in _SHELL_TOOLS:
                args = _arguments(payload.get("arguments"))
                cmd = args.get("cmd", args.get("command"))
                if isinstance(cmd, list):
                    cmd = " ".join(map(str, cmd))
                if isinstance(cmd, str):
                    self.pending[str(payload.get("call_id"))] = shell_script(cmd)
            return []
        if record.get("type") == "response_item" and kind == "function_call_output":
            return self._output(str(payload.get("call_id")), payload.get("output"))
        if record.get("type") == "event_msg" and kind == "token_count":
            return self._tokens(payload.get("info"))
        return []

    def _output(self, call_id: str, output: object) -> list[TypedAgentEvent]:
        script = self.pending.pop(call_id, None)
        if script is None:
            return []
        if script in self.stream.shown:  # the stream reported this one itself
            self.stream.shown.remove(script)
            return []
        text = output if isinstance(output, str) else json.dumps(output)
        summary = f"shell {script[:_SUMMARY_LIMIT]}"
        call = ToolCall(
            call_id, "exec_command", ToolAction.SHELL, summary, command=script, input={"cmd": script}
        )
        refused = sandbox_refusal(call, text)
        if refused is None:  # not a refusal: the stream shows it (perhaps later)
            return []
        # reported only once the CLI's sandbox refused it: its refusal comes before its result, so
        # the stream guard records a refusal, not a violation (as for a call a pre-tool hook checked)
        call = attrs.evolve(call, guarded=True)
        clipped = text[:_TEXT_LIMIT]
        return [call, refused, ToolOutput(call_id, clipped, is_error=True, truncated=len(text) > _TEXT_LIMIT)]

    def _tokens(self, info: object) -> list[TypedAgentEvent]:
        """Usage after one model response: the turn's running total as a UsageReport."""
        last = info.get("last_token_usage") if isinstance(info, dict) else None
        if not isinstance(last, dict):
            return []
        if self.stream.completed_turns >= self.stream.turns:
            return []  # turn.completed came first and said it all
        if self.turn != self.stream.turns:
            self.turn, self.turn_usage = self.stream.turns, (0, 0, 0)
        fresh, cached, output = self.turn_usage
        self.turn_usage = (
            fresh + _count(last.get("input_tokens")),
            cached + _count(last.get("cached_input_tokens")),
            output + _count(last.get("output_tokens")),
        )
        return [self.stream.usage(*self.turn_usage)]


@attrs.define
class RolloutTail:
    """Reads the lines appended to the run's rollout file since the last call (complete lines only).

    ``skip`` holds the sizes rollout files had before the run: a resumed thread appends to its
    old file, and what an earlier attempt wrote is not this run's.
    """

    sessions: Path
    skip: dict[str, int] = attrs.field(factory=dict)
    path: Path | None = None
    offset: int = 0
    partial: bytes = b""

    @classmethod
    def before_run(cls, sessions: Path) -> RolloutTail:
        """A tail that ignores everything the rollout files hold now."""
        sizes: dict[str, int] = {}
        if sessions.is_dir():
            for found in sessions.rglob("rollout-*.jsonl"):
                try:
                    sizes[str(found)] = found.stat().st_size
                except OSError:
                    continue
        return cls(sessions, sizes)

    def read(self, thread_id: str | None) -> list[Mapping[str, object]]:
        """The records appended since the last read ([] until the thread's file exists)."""
        if self.path is None:
            if thread_id is None or not self.sessions.is_dir():
                return []
            found = sorted(self.sessions.rglob(f"rollout-*{thread_id}.jsonl"))
            if not found:
                return []
            self.path = found[-1]
            self.offset = self.skip.get(str(self.path), 0)
        try:
            with self.path.open("rb") as file:
                file.seek(self.offset)
                data = file.read()
        except OSError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        records: list[Mapping[str, object]] = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records
