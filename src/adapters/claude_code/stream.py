"""Claude Code's ``--output-format stream-json`` lines as orchcore AgentEvents, and how a run ended.

Pure: no I/O, no clock. ``parse_line`` never raises: a line that is not a JSON
object becomes an ``output`` event and an event type it does not know becomes a
``raw`` one, so a newer CLI cannot break a run by adding fields or events.

Kinds produced (``data`` keys in brackets; never ``kind`` or ``text``, which the
engine stores beside them):

- ``init``        system/init [session_id, model, cwd, permission_mode, claude_code_version, tools]
- ``text``        an assistant text block [message_id, model, parent_tool_use_id?, error?]
- ``thinking``    an assistant thinking block [message_id]
- ``tool_use``    an assistant tool call [id, name, input, parent_tool_use_id?]
- ``tool_result`` a tool's answer [tool_use_id, is_error, truncated?]
- ``api_retry``   system/api_retry [attempt, max_retries, retry_delay_ms, error_status, error]
- ``result``      the final line [subtype, is_error, result, errors, total_cost_usd, usage,
                  model_usage, num_turns, duration_ms, session_id, api_error_status,
                  stop_reason, terminal_reason, permission_denials]
- ``raw``         anything else that is a JSON object [event]; ``text`` names its type
- ``output``      a line that is not a JSON object (``persist=False``: it is in the log)
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import attrs

from orchcore.ports.agent import AgentEvent, AgentResult
from orchcore.records import JsonObject, JsonValue, Outcome

TEXT_LIMIT = 4000
"""Characters of a tool result or thinking block kept in an event; the log has it all."""

_SUMMARY_LIMIT = 200


def _null_constant(_: str) -> None:
    """NaN and Infinity are not JSON: they become null."""
    return


def _json(value: object) -> JsonValue:
    """``value`` (from json.loads) as a JsonValue, recursively; anything odd becomes its str."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)  # a number in the log; money is read from the exact token instead
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return str(value)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


def _pick(obj: Mapping[str, object], *keys: str) -> JsonObject:
    return {k: _json(obj[k]) for k in keys if k in obj}


def parse_line(line: str) -> list[AgentEvent]:
    """The events one stdout line of ``claude -p --output-format stream-json --verbose`` carries.

    An assistant or user line yields one event per content block (usually one); a
    blank line yields none. Never raises.
    """
    stripped = line.strip()
    if not stripped:
        return []
    try:
        # JSON numbers stay exact (Decimal) until we know what they are: costs must not go via float
        obj = json.loads(stripped, parse_constant=_null_constant, parse_float=Decimal)
    except ValueError:
        return [AgentEvent("output", text=line.rstrip("\r\n"), persist=False)]
    if not isinstance(obj, dict):
        return [AgentEvent("output", text=line.rstrip("\r\n"), persist=False)]
    return parse_object(obj)


def parse_object(obj: Mapping[str, object]) -> list[AgentEvent]:
    """The events of one decoded stream-json object (see ``parse_line``)."""
    kind = obj.get("type")
    subtype = obj.get("subtype")
    if kind == "system" and subtype == "init":
        return [_init(obj)]
    if kind == "system" and subtype == "api_retry":
        return [_api_retry(obj)]
    if kind == "assistant":
        events = _assistant(obj)
        if events is not None:
            return events
    if kind == "user":
        events = _user(obj)
        if events is not None:
            return events
    if kind == "result":
        return [_result(obj)]
    if kind == "rate_limit_event":
        return [_rate_limit(obj)]
    return [_raw(obj)]


def _raw(obj: Mapping[str, object]) -> AgentEvent:
    name = str(obj.get("type", "?"))
    if isinstance(obj.get("subtype"), str):
        name = f"{name}/{obj['subtype']}"
    return AgentEvent("raw", text=name, data={"event": _json(dict(obj))})


def _init(obj: Mapping[str, object]) -> AgentEvent:
    data = _pick(obj, "session_id", "model", "cwd", "claude_code_version", "tools")
    if "permissionMode" in obj:
        data["permission_mode"] = _json(obj["permissionMode"])
    text = f"claude {obj.get('claude_code_version', '?')} model {obj.get('model', '?')} session {obj.get('session_id', '?')}"
    return AgentEvent("init", text=text, data=data)


def _api_retry(obj: Mapping[str, object]) -> AgentEvent:
    data = _pick(obj, "attempt", "max_retries", "retry_delay_ms", "error_status", "error")
    delay = obj.get("retry_delay_ms")
    delay_text = f"{delay:.0f} ms" if isinstance(delay, int | float | Decimal) else "?"
    text = (
        f"API retry {obj.get('attempt', '?')}/{obj.get('max_retries', '?')} in {delay_text} "
        f"({obj.get('error_status') or '-'} {obj.get('error', '?')})"
    )
    return AgentEvent("api_retry", text=text, data=data)


def _tool_summary(name: str, tool_input: object) -> str:
    if isinstance(tool_input, dict):
        for key in ("command", "file_path", "path", "pattern", "url", "description"):
            value = tool_input.get(key)
            if isinstance(value, str):
                return f"{name} {_clip(value, _SUMMARY_LIMIT)}"
    return f"{name} {_clip(json.dumps(tool_input, ensure_ascii=False, default=str), _SUMMARY_LIMIT)}"


_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _assistant(obj: Mapping[str, object]) -> list[AgentEvent] | None:
    message = obj.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return None
    common: JsonObject = _pick(message, "model")
    if "id" in message:
        common["message_id"] = _json(message["id"])
    if obj.get("parent_tool_use_id") is not None:
        common["parent_tool_use_id"] = _json(obj["parent_tool_use_id"])
    if "error" in obj:
        common["error"] = _json(obj["error"])
    events: list[AgentEvent] = []
    usage = message.get("usage")
    if isinstance(usage, dict) and "message_id" in common:
        # repeated for every block of a message as it grows: the engine keeps the latest per message
        counts: JsonObject = {k: _count(usage.get(k)) for k in _USAGE_KEYS}
        events.append(
            AgentEvent(
                "usage",
                data={"model": common.get("model", ""), "message_id": common["message_id"], **counts},
                persist=False,
            )
        )
    for block in message["content"]:
        block_type = block.get("type") if isinstance(block, dict) else None
        if block_type == "text":
            events.append(AgentEvent("text", text=str(block.get("text", "")), data=dict(common)))
        elif block_type == "tool_use":
            name = str(block.get("name", "?"))
            tool_input = block.get("input", {})
            data: JsonObject = {"id": _json(block.get("id")), "name": name, "input": _json(tool_input)}
            if "parent_tool_use_id" in common:
                data["parent_tool_use_id"] = common["parent_tool_use_id"]
            events.append(AgentEvent("tool_use", text=_tool_summary(name, tool_input), data=data))
        elif block_type == "thinking":
            text = _clip(str(block.get("thinking", "")))
            events.append(AgentEvent("thinking", text=text, data=_pick(common, "message_id")))
        else:
            events.append(AgentEvent("raw", text=f"assistant/{block_type}", data={"event": _json(block)}))
    return events


def _tool_result_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            str(b.get("text", ""))
            if isinstance(b, dict) and b.get("type") == "text"
            else f"[{_block_name(b)}]"
            for b in content
        ]
        return "\n".join(parts)
    return "" if content is None else json.dumps(content, default=str)


def _block_name(block: object) -> str:
    return str(block.get("type", "?")) if isinstance(block, dict) else type(block).__name__


def _user(obj: Mapping[str, object]) -> list[AgentEvent] | None:
    message = obj.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return None
    events: list[AgentEvent] = []
    for block in message["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            full = _tool_result_text(block.get("content"))
            data: JsonObject = {
                "tool_use_id": _json(block.get("tool_use_id")),
                "is_error": block.get("is_error") is True,
            }
            if len(full) > TEXT_LIMIT:
                data["truncated"] = True
            if obj.get("parent_tool_use_id") is not None:
                data["parent_tool_use_id"] = _json(obj["parent_tool_use_id"])
            events.append(AgentEvent("tool_result", text=_clip(full), data=data))
        else:
            events.append(AgentEvent("raw", text=f"user/{_block_name(block)}", data={"event": _json(block)}))
    return events


def _rate_limit(obj: Mapping[str, object]) -> AgentEvent:
    """The subscription's rate-limit state: ``status`` allowed/allowed_warning/rejected,
    ``resets_at`` (unix seconds) and the window (``five_hour``, ``seven_day``, ...)."""
    info = obj.get("rate_limit_info")
    info = info if isinstance(info, dict) else {}
    data: JsonObject = {
        "status": _json(info.get("status")),
        "resets_at": _json(info.get("resetsAt")),
        "window": _json(info.get("rateLimitType")),
    }
    return AgentEvent("rate_limit", text=str(info.get("status", "")), data=data)


def _result(obj: Mapping[str, object]) -> AgentEvent:
    data = _pick(
        obj,
        "subtype",
        "is_error",
        "result",
        "errors",
        "total_cost_usd",
        "usage",
        "num_turns",
        "duration_ms",
        "session_id",
        "api_error_status",
        "stop_reason",
        "terminal_reason",
        "permission_denials",
    )
    if isinstance(cost := obj.get("total_cost_usd"), Decimal):
        data["total_cost_usd"] = str(cost)  # money as the CLI wrote it, as a string: never a float
    if "modelUsage" in obj:
        data["model_usage"] = _json(obj["modelUsage"])
    result_text = _str(obj.get("result"))
    errors = obj.get("errors")
    if result_text is None and isinstance(errors, list):
        result_text = "; ".join(str(e) for e in errors)
    return AgentEvent("result", text=result_text or str(obj.get("subtype", "")), data=data)


# -- how the run ended ---------------------------------------------------------------------

_SUBTYPE_REASONS = {
    "error_max_turns": "max turns reached",
    "error_max_budget_usd": "max budget reached",
}
_TAIL_CHARS = 2000


def _decimal(value: JsonValue) -> Decimal | None:
    """A cost as Decimal: the exact token ``parse_line`` kept as a string (a float only from a caller's dict)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(value if isinstance(value, str) else repr(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _tokens(result: Mapping[str, JsonValue]) -> tuple[int | None, int | None]:
    """(input, output) tokens; input counts cache writes and reads too.

    ``modelUsage`` is preferred: after a non-streaming fallback ``usage`` is all
    zeros while ``modelUsage`` (summed over models) is right.
    """
    by_model = result.get("model_usage")
    if isinstance(by_model, dict) and by_model:
        fields = (
            ("inputTokens", "cacheCreationInputTokens", "cacheReadInputTokens"),
            ("outputTokens",),
        )
        totals = [0, 0]
        for usage in by_model.values():
            if not isinstance(usage, dict):
                continue
            for i, names in enumerate(fields):
                totals[i] += sum(_int(usage.get(n)) or 0 for n in names)
        return totals[0], totals[1]
    usage = result.get("usage")
    if not isinstance(usage, dict):
        return None, None
    parts = [
        _int(usage.get(n)) for n in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    known = [p for p in parts if p is not None]
    return (sum(known) if known else None), _int(usage.get("output_tokens"))


_TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
_TRANSIENT_TEXT = (
    "overloaded",
    "rate limit",
    "timed out",
    "unable to connect",
    "connection",
    "econnreset",
    "socket hang up",
)


def _transient(data: Mapping[str, object], text: str) -> bool:
    """An API error another attempt may get past (the CLI's own retries ran out)."""
    status = data.get("api_error_status")
    if isinstance(status, int) and status in _TRANSIENT_STATUS:
        return True
    lowered = text.lower()
    return lowered.startswith("api error") and any(word in lowered for word in _TRANSIENT_TEXT)


@attrs.define
class StreamAccumulator:
    """Follows a run's events and says how it ended (the fields of an AgentResult).

    Feed it every event ``parse_line`` returns, in order. It remembers the session
    id from ``init`` (so a run cut short can still be resumed), which tool calls are
    still unanswered (the agent's watchdog allows more silence while a tool runs),
    and the final ``result``.
    """

    session_id: str | None = None
    model: str | None = None
    result: AgentEvent | None = None
    last_text: str = ""
    api_retries: int = 0
    events_seen: int = 0
    pending_tools: dict[str, str] = attrs.field(factory=dict)
    rejected_until: datetime | None = None

    def feed(self, event: AgentEvent) -> None:
        """Take one event into account."""
        self.events_seen += 1
        data = event.data
        if event.kind == "init":
            self.session_id = _str(data.get("session_id")) or self.session_id
            self.model = _str(data.get("model")) or self.model
        elif event.kind == "text":
            self.last_text = event.text
        elif event.kind == "tool_use":
            self.pending_tools[str(data.get("id"))] = str(data.get("name", "?"))
        elif event.kind == "tool_result":
            self.pending_tools.pop(str(data.get("tool_use_id")), None)
        elif event.kind == "api_retry":
            self.api_retries += 1
        elif event.kind == "rate_limit":
            resets = data.get("resets_at")
            if (
                data.get("status") == "rejected"
                and isinstance(resets, int | float)
                and not isinstance(resets, bool)
            ):
                self.rejected_until = datetime.fromtimestamp(resets, UTC)
        elif event.kind == "result":
            self.result = event
            self.session_id = _str(data.get("session_id")) or self.session_id
            self.pending_tools.clear()

    @property
    def tool_running(self) -> bool:
        """True between a tool call and its result."""
        return bool(self.pending_tools)

    def outcome(self, exit_code: int | None, stderr_tail: Sequence[str] = ()) -> AgentResult:
        """How the run ended, given the CLI's exit code and the last lines of its stderr.

        ``is_error`` decides, not ``subtype``: API errors end with subtype
        ``success`` and ``is_error: true``. No result line at all means the CLI
        failed before or outside the conversation (bad flag, unknown session, crash):
        outcome ERROR with the stderr tail.
        """
        stderr_text = "\n".join(stderr_tail)[-_TAIL_CHARS:]
        if self.result is None:
            last = next((line.strip() for line in reversed(stderr_tail) if line.strip()), "")
            reason = f"claude ended without a result (exit code {exit_code})"
            return AgentResult(
                Outcome.ERROR,
                exit_code=exit_code,
                reason=f"{reason}: {last}" if last else reason,
                output_tail=stderr_text or self.last_text[-_TAIL_CHARS:],
                agent_session_id=self.session_id,
            )
        data = self.result.data
        subtype = _str(data.get("subtype")) or ""
        is_error = data.get("is_error")
        failed = is_error is True or (is_error is None and subtype != "success")
        if not failed and subtype == "success":
            outcome = Outcome.SUCCEEDED
            reason = ""
            if exit_code not in (0, None):
                outcome, reason = (
                    Outcome.FAILED,
                    f"claude exited with code {exit_code} after a successful result",
                )
        else:
            outcome = Outcome.FAILED
            reason = (
                _SUBTYPE_REASONS.get(subtype) or _clip(self.result.text, _SUMMARY_LIMIT) or subtype or "error"
            )
        retry_at: datetime | None = None
        retryable = False
        if outcome is not Outcome.SUCCEEDED:
            if self.rejected_until is not None:
                outcome, retry_at = Outcome.RATE_LIMITED, self.rejected_until
                reason = f"usage limit reached ({reason})"
            else:
                retryable = _transient(data, self.result.text)
        input_tokens, output_tokens = _tokens(data)
        tail = self.result.text[-_TAIL_CHARS:]
        if stderr_text:
            tail = f"{tail}\n{stderr_text}" if tail else stderr_text
        return AgentResult(
            outcome,
            exit_code=exit_code,
            reason=reason,
            output_tail=tail,
            cost_usd=_decimal(data.get("total_cost_usd")),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            agent_session_id=self.session_id,
            retryable=retryable,
            retry_at=retry_at,
            final_text=self.result.text if outcome is Outcome.SUCCEEDED else "",
        )
