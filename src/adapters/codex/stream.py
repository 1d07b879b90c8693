"""``codex exec --json`` lines as orchcore's typed agent events, and how a run ended.

Pure: no I/O, no clock. ``CodexStream.feed`` never raises: a line that is not a JSON
object is an ``OutputLine``, an event or item type it does not know is an ``Other``,
so a newer CLI cannot break a run by adding fields or events. Mapping (0.171.0):

- ``thread.started``                 -> Other("init") [session_id]: the id ``exec resume`` takes
- ``item.started``/``item.completed`` of a ``command_execution`` -> ToolCall(SHELL) once, then
  ToolOutput; ``file_change`` -> ToolCall(WRITE/EDIT, paths) and ToolOutput; ``web_search``
  -> ToolCall(FETCH); ``mcp_tool_call`` -> ToolCall(OTHER); ``agent_message`` -> Said;
  ``reasoning`` -> Other("thinking"); an ``error`` item -> Other("warning") (it is not fatal:
  e.g. "Model metadata ... not found"); a result showing ``Read-only file system`` ->
  Refused(SANDBOX) before its ToolOutput
- top-level ``error`` "Reconnecting... N/M (why)" -> Retrying (the CLI retries itself); any
  other top-level ``error`` -> Other("error"), remembered as the failure's reason
- ``turn.completed`` -> UsageReport (priced here) then Finished; ``turn.failed`` -> Finished(is_error)
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import PurePosixPath

import attrs

from adapters.codex.prices import DEFAULT_PRICES, ModelPrice, price_for, turn_cost
from orchcore.ports.agent import (
    AgentResult,
    Finished,
    Other,
    OutputLine,
    Refused,
    Retrying,
    Said,
    ToolAction,
    ToolCall,
    ToolOutput,
    TypedAgentEvent,
    UsageReport,
)
from orchcore.records import JsonObject, JsonValue, Outcome
from orchcore.safety.events import SafetyLayer

TEXT_LIMIT = 4000
"""Characters of a command's output kept in an event; the task log has it all."""

_SUMMARY_LIMIT = 200
_TAIL_CHARS = 2000
_SHELLS = frozenset({"bash", "sh", "zsh", "dash"})
_RECONNECTING = re.compile(r"^Reconnecting\.\.\.\s*(\d+)/(\d+)\s*(?:\((.*)\))?\s*$", re.DOTALL)
_STATUS = re.compile(r"\b(?:status:?\s*)?([45]\d\d)\b(?:\s+[A-Z][A-Za-z ]+)?")
_READ_ONLY = re.compile(r"Read-only file system|\bEROFS\b")
_TRANSIENT_TEXT = (
    "exceeded retry limit",
    "stream disconnected",
    "high demand",
    "rate limit",
    "overloaded",
    "timed out",
    "timeout",
    "connection",
    "temporarily",
)
_TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def _json(value: object) -> JsonValue:
    """``value`` (from json.loads) as a JsonValue, recursively; anything odd becomes its str."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return str(value)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


def shell_script(command: str) -> str:
    """The script of ``/bin/bash -lc '<script>'`` (how Codex runs every command); else ``command``."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(words) == 3 and PurePosixPath(words[0]).name in _SHELLS and words[1] in ("-c", "-lc", "-l -c"):
        return words[2]
    return command


def is_transient(message: str) -> bool:
    """A failure another attempt may get past: a 429/5xx, an overload, a dropped stream, the network."""
    lowered = message.lower()
    if any(word in lowered for word in _TRANSIENT_TEXT):
        return not any(f"status {code}" in lowered or f" {code} " in lowered for code in (400, 401, 403, 404))
    return any(int(code) in _TRANSIENT_STATUS for code in _STATUS.findall(message))


def sandbox_refusal(call: ToolCall, output: str) -> Refused | None:
    """The CLI's sandbox refused ``call``: its failed output names a read-only file system (EROFS)."""
    if call.action not in (ToolAction.SHELL, ToolAction.WRITE, ToolAction.EDIT) or not _READ_ONLY.search(
        output
    ):
        return None
    line = next((ln for ln in output.splitlines() if _READ_ONLY.search(ln)), output)
    return Refused(SafetyLayer.SANDBOX, call.summary, _clip(line.strip(), 300), call_id=call.call_id)


@attrs.define
class CodexStream:
    """Follows one ``codex exec --json`` run: ``feed`` maps a line to events, ``outcome`` says how it ended."""

    model: str = ""
    price: ModelPrice = attrs.field(factory=lambda: price_for("", DEFAULT_PRICES))
    session_id: str | None = None
    turns: int = 0
    completed_turns: int = 0
    cost_usd: Decimal | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    last_text: str = ""
    last_error: str = ""
    finished: Finished | None = None
    running: dict[str, str] = attrs.field(factory=dict)  # item id -> summary of a call without a result
    called: set[str] = attrs.field(factory=set)
    done_cost: Decimal = Decimal(0)  # what the completed turns cost
    done_input: int = 0
    done_output: int = 0
    turn_counts: tuple[int, int, int] = (0, 0, 0)  # the current turn: input (cached included), cached, output
    shown: list[str] = attrs.field(factory=list)  # scripts of the command_executions the stream showed

    @property
    def tool_running(self) -> bool:
        """True between a tool call's start and its result (the watchdog allows more silence)."""
        return bool(self.running)

    def feed(self, line: str) -> list[TypedAgentEvent]:
        """The events one stdout line carries (none for a blank line). Never raises."""
        stripped = line.strip()
        if not stripped:
            return []
        try:
            obj = json.loads(stripped)
        except (ValueError, RecursionError):
            return [OutputLine(line.rstrip("\r\n"))]
        if not isinstance(obj, dict):
            return [OutputLine(line.rstrip("\r\n"))]
        try:
            return self._event(obj)
        except (
            TypeError,
            ValueError,
            AttributeError,
            RecursionError,
        ):  # a shape no CLI sends: kept, not read
            return [Other("raw", text=str(obj.get("type", "?")), data={"event": _json(obj)})]

    def _event(self, obj: Mapping[str, object]) -> list[TypedAgentEvent]:
        kind = obj.get("type")
        if kind == "thread.started":
            self.session_id = _str(obj.get("thread_id")) or self.session_id
            return [
                Other("init", text=f"codex thread {self.session_id}", data={"session_id": self.session_id})
            ]
        if kind == "turn.started":
            self.turns += 1
            return [Other("turn", text="turn started", stored=False)]
        item = obj.get("item")
        if kind in ("item.started", "item.updated", "item.completed") and isinstance(item, dict):
            return self._item(item, done=kind == "item.completed")
        if kind == "turn.completed":
            return self._turn_completed(obj.get("usage"))
        if kind == "turn.failed":
            error = obj.get("error")
            message = _str(error.get("message")) if isinstance(error, dict) else None
            self.last_error = message or self.last_error or "the turn failed"
            self.finished = Finished(
                self.last_error, is_error=True, turns=self.turns, agent_session_id=self.session_id
            )
            return [self.finished]
        if kind == "error":
            return [self._error(_str(obj.get("message")) or "")]
        return [Other("raw", text=str(kind), data={"event": _json(dict(obj))})]

    def _error(self, message: str) -> TypedAgentEvent:
        retry = _RECONNECTING.match(message)
        if retry is not None:
            why = retry.group(3) or ""
            status = next((int(c) for c in _STATUS.findall(why)), None)
            return Retrying(
                attempt=int(retry.group(1)), max_retries=int(retry.group(2)), status=status, error=why
            )
        self.last_error = message
        return Other("error", text=message)

    def _item(self, item: Mapping[str, object], done: bool) -> list[TypedAgentEvent]:
        item_id = str(item.get("id", ""))
        item_type = item.get("type")
        if item_type == "agent_message":
            if not done:
                return []
            self.last_text = str(item.get("text", ""))
            return [Said(self.last_text, message_id=item_id, model=self.model or None)]
        if item_type == "reasoning":
            return [Other("thinking", text=_clip(str(item.get("text", ""))))] if done else []
        if item_type == "error":
            return [Other("warning", text=str(item.get("message", "")))] if done else []
        call = self._call(item_id, item_type, item)
        if call is None:
            return [Other("raw", text=f"item/{item_type}", data={"event": _json(dict(item)), "done": done})]
        events: list[TypedAgentEvent] = []
        if item_id not in self.called:
            self.called.add(item_id)
            if call.command is not None:
                self.shown.append(call.command)
            self.running[item_id] = call.summary
            events.append(call)
        if done:
            self.running.pop(item_id, None)
            events.extend(self._result(item_id, item_type, item, call))
        return events

    def _call(self, item_id: str, item_type: object, item: Mapping[str, object]) -> ToolCall | None:
        if item_type == "command_execution":
            raw = str(item.get("command", ""))
            script = shell_script(raw)
            return ToolCall(
                item_id,
                "command_execution",
                ToolAction.SHELL,
                f"shell {_clip(script, _SUMMARY_LIMIT)}",
                command=script,
                input={"command": raw},
            )
        if item_type == "file_change":
            listed = item.get("changes")
            changes = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
            paths = tuple(str(c.get("path", "")) for c in changes)
            kinds = {str(c.get("kind", "")) for c in changes}
            action = ToolAction.WRITE if kinds <= {"add"} else ToolAction.EDIT
            summary = "file_change " + _clip(
                ", ".join(f"{c.get('kind', '?')} {c.get('path', '?')}" for c in changes), _SUMMARY_LIMIT
            )
            return ToolCall(
                item_id, "file_change", action, summary, paths=paths, input={"changes": _json(changes)}
            )
        if item_type == "web_search":
            query = str(item.get("query", ""))
            return ToolCall(
                item_id, "web_search", ToolAction.FETCH, f"web_search {query}", input={"query": query}
            )
        if item_type == "mcp_tool_call":
            name = f"mcp:{item.get('server', '?')}/{item.get('tool', '?')}"
            return ToolCall(
                item_id, name, ToolAction.OTHER, name, input={"arguments": _json(item.get("arguments"))}
            )
        return None

    def _result(
        self, item_id: str, item_type: object, item: Mapping[str, object], call: ToolCall
    ) -> list[TypedAgentEvent]:
        status = item.get("status")
        if item_type == "command_execution":
            text = str(item.get("aggregated_output") or "")
            exit_code = item.get("exit_code")
            failed = status == "failed" or (isinstance(exit_code, int) and exit_code != 0)
        else:
            text = str(item.get("error") or item.get("status") or "")
            failed = status == "failed"
        events: list[TypedAgentEvent] = []
        if (
            failed
            and call.action in (ToolAction.SHELL, ToolAction.WRITE, ToolAction.EDIT)
            and _READ_ONLY.search(text)
        ):
            line = next((ln for ln in text.splitlines() if _READ_ONLY.search(ln)), text)
            events.append(
                Refused(SafetyLayer.SANDBOX, call.summary, _clip(line.strip(), 300), call_id=item_id)
            )
        events.append(ToolOutput(item_id, _clip(text), is_error=failed, truncated=len(text) > TEXT_LIMIT))
        return events

    def usage(self, fresh_and_cached: int, cached: int, output: int) -> UsageReport:
        """The current turn's usage so far (cumulative within the turn), priced; totals follow it."""
        self.turn_counts = (fresh_and_cached, cached, output)
        cost = turn_cost(self.price, fresh_and_cached, cached, output)
        self.cost_usd = self.done_cost + cost
        self.input_tokens = self.done_input + fresh_and_cached
        self.output_tokens = self.done_output + output
        return UsageReport(
            message_id=f"{self.session_id or 'thread'}:turn-{self.turns}",
            model=self.model,
            input_tokens=fresh_and_cached - min(cached, fresh_and_cached),
            output_tokens=output,
            cache_read_tokens=cached,
            cost_usd=cost,
        )

    def _turn_completed(self, usage: object) -> list[TypedAgentEvent]:
        counts = usage if isinstance(usage, dict) else {}
        report = self.usage(
            _int(counts.get("input_tokens")),
            _int(counts.get("cached_input_tokens")),
            _int(counts.get("output_tokens")),
        )
        self.done_cost = self.cost_usd or Decimal(0)
        self.done_input, self.done_output = self.input_tokens or 0, self.output_tokens or 0
        self.turn_counts = (0, 0, 0)
        self.completed_turns = self.turns
        details: JsonObject = {"usage": _json(counts)}
        self.finished = Finished(
            self.last_text,
            cost_usd=self.cost_usd,
            turns=self.turns,
            agent_session_id=self.session_id,
            details=details,
        )
        return [report, self.finished]

    def outcome(self, exit_code: int | None, stderr_tail: Sequence[str] = ()) -> AgentResult:
        """How the run ended, from what it printed, its exit code and the end of its stderr.

        A completed turn and exit 0 is SUCCEEDED; a failed turn, a fatal error or no
        turn at all is FAILED (ERROR when nothing came at all: a bad flag, a crash),
        retryable when the error is transient (the CLI's own retries ran out).
        """
        stderr_text = "\n".join(stderr_tail)[-_TAIL_CHARS:]
        result = AgentResult(
            Outcome.FAILED,
            exit_code=exit_code,
            cost_usd=self.cost_usd,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            agent_session_id=self.session_id,
        )
        done = self.finished
        if done is not None and not done.is_error and exit_code in (0, None):
            return attrs.evolve(
                result, outcome=Outcome.SUCCEEDED, output_tail=done.text[-_TAIL_CHARS:], final_text=done.text
            )
        if done is None and self.session_id is None and not self.last_error:
            last = next((ln.strip() for ln in reversed(stderr_tail) if ln.strip()), "")
            reason = f"codex ended without a result (exit code {exit_code})"
            return attrs.evolve(
                result,
                outcome=Outcome.ERROR,
                reason=f"{reason}: {last}" if last else reason,
                output_tail=stderr_text,
            )
        reason = self.last_error or (done.text if done is not None and done.is_error else "")
        if not reason:
            when = " after a completed turn" if done else " before the turn ended"
            reason = f"codex exited with code {exit_code}{when}"
        tail = f"{reason}\n{stderr_text}" if stderr_text else reason
        return attrs.evolve(
            result,
            reason=_clip(reason, _SUMMARY_LIMIT),
            output_tail=tail[-_TAIL_CHARS:],
            retryable=is_transient(reason),
        )
