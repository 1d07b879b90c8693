"""Claude Code's ``--output-format stream-json`` lines as orchcore's typed agent events.

Pure: no I/O, no clock. ``parse_line`` never raises: a line that is not a JSON
object becomes an ``OutputLine`` and an event type it does not know becomes
``Other("raw")``, so a newer CLI cannot break a run by adding fields or events.

What each line becomes:

- system/init         ``Other("init")`` [session_id, model, cwd, permission_mode, claude_code_version, tools]
- assistant text      ``Said`` (message id, model, parent tool call, error)
- assistant thinking  ``Other("thinking")`` [message_id]
- assistant tool_use  ``ToolCall``: Claude's tool names mapped to actions in ``tools.py``
- assistant usage     ``UsageReport``, priced here with ``prices.py`` (the latest per message counts)
- user tool_result    ``ToolOutput``
- system/api_retry    ``Retrying``
- rate_limit_event    ``RateLimited``
- result              ``Finished``; the line's fields in ``details`` [subtype, is_error, result, errors,
                      total_cost_usd, usage, model_usage, num_turns, duration_ms, session_id,
                      api_error_status, stop_reason, terminal_reason, permission_denials]
- anything else       ``Other("raw")`` [event]; its text names the type
- not a JSON object   ``OutputLine`` (shown, not stored: it is in the log)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation

from adapters.claude_code.prices import DEFAULT_PRICES, Price, Usage, cost_of
from adapters.claude_code.tools import clip, tool_call
from orchcore.ports.agent import (
    AgentEvent,
    Finished,
    Other,
    OutputLine,
    RateLimited,
    Retrying,
    Said,
    ToolCall,
    ToolOutput,
    UsageReport,
    from_unix,
)
from orchcore.records import JsonObject, JsonValue

TEXT_LIMIT = 4000
"""Characters of a tool result or thinking block kept in an event; the log has it all."""


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


def _text(value: object) -> str | None:
    """A JSON value as text for a typed field (None stays None)."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(_json(value))


def _pick(obj: Mapping[str, object], *keys: str) -> JsonObject:
    return {k: _json(obj[k]) for k in keys if k in obj}


def parse_line(line: str, prices: Mapping[str, Price] = DEFAULT_PRICES) -> list[AgentEvent]:
    """The events one stdout line of ``claude -p --output-format stream-json --verbose`` carries.

    An assistant or user line yields one event per content block (usually one), and a
    ``UsageReport`` priced with ``prices`` when it says what the message used; a blank
    line yields none. Never raises.
    """
    stripped = line.strip()
    if not stripped:
        return []
    try:
        # JSON numbers stay exact (Decimal) until we know what they are: costs must not go via float
        obj = json.loads(stripped, parse_constant=_null_constant, parse_float=Decimal)
    except (ValueError, RecursionError):
        return [OutputLine(line.rstrip("\r\n"))]
    if not isinstance(obj, dict):
        return [OutputLine(line.rstrip("\r\n"))]
    return parse_object(obj, prices)


def parse_object(obj: Mapping[str, object], prices: Mapping[str, Price] = DEFAULT_PRICES) -> list[AgentEvent]:
    """The events of one decoded stream-json object (see ``parse_line``)."""
    kind = obj.get("type")
    subtype = obj.get("subtype")
    if kind == "system" and subtype == "init":
        return [_init(obj)]
    if kind == "system" and subtype == "api_retry":
        return [_api_retry(obj)]
    if kind == "assistant":
        events = _assistant(obj, prices)
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


def _raw(obj: Mapping[str, object]) -> Other:
    name = str(obj.get("type", "?"))
    if isinstance(obj.get("subtype"), str):
        name = f"{name}/{obj['subtype']}"
    return Other("raw", text=name, data={"event": _json(dict(obj))})


def _init(obj: Mapping[str, object]) -> Other:
    data = _pick(obj, "session_id", "model", "cwd", "claude_code_version", "tools")
    if "permissionMode" in obj:
        data["permission_mode"] = _json(obj["permissionMode"])
    text = f"claude {obj.get('claude_code_version', '?')} model {obj.get('model', '?')} session {obj.get('session_id', '?')}"
    return Other("init", text=text, data=data)


def _number(value: object) -> float | None:
    """A JSON number as a finite float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def _api_retry(obj: Mapping[str, object]) -> Retrying:
    error = obj.get("error")
    return Retrying(
        attempt=_int(obj.get("attempt")),
        max_retries=_int(obj.get("max_retries")),
        delay_ms=_number(obj.get("retry_delay_ms")),
        status=_int(obj.get("error_status")),
        error=_text(error) or "",
    )


_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _usage(message: Mapping[str, object], message_id: str, prices: Mapping[str, Price]) -> UsageReport | None:
    """What the message used so far, priced (repeated for every block of a message as it grows)."""
    usage = message.get("usage")
    if not isinstance(usage, dict):
        return None
    model = _text(message.get("model")) or ""
    counts = Usage(model, *(_count(usage.get(k)) for k in _USAGE_KEYS))
    return UsageReport(
        message_id=message_id,
        model=model,
        input_tokens=counts.input_tokens,
        output_tokens=counts.output_tokens,
        cache_write_tokens=counts.cache_creation_input_tokens,
        cache_read_tokens=counts.cache_read_input_tokens,
        cost_usd=cost_of(counts, prices),
    )


def _assistant(obj: Mapping[str, object], prices: Mapping[str, Price]) -> list[AgentEvent] | None:
    message = obj.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return None
    message_id = _text(message.get("id"))
    model = _text(message.get("model"))
    parent = _text(obj.get("parent_tool_use_id"))
    error = _text(obj.get("error"))
    events: list[AgentEvent] = []
    if message_id is not None:
        usage = _usage(message, message_id, prices)
        if usage is not None:
            events.append(usage)
    for block in message["content"]:
        block_type = block.get("type") if isinstance(block, dict) else None
        if block_type == "text":
            events.append(Said(str(block.get("text", "")), message_id, model, parent, error))
        elif block_type == "tool_use":
            events.append(_tool_use(block, parent))
        elif block_type == "thinking":
            text = clip(str(block.get("thinking", "")), TEXT_LIMIT)
            data: JsonObject = {} if message_id is None else {"message_id": message_id}
            events.append(Other("thinking", text=text, data=data))
        else:
            events.append(Other("raw", text=f"assistant/{block_type}", data={"event": _json(block)}))
    return events


def _tool_use(block: Mapping[str, object], parent: str | None) -> ToolCall:
    raw_input = block.get("input", {})
    tool_input = _json(raw_input)
    return tool_call(
        str(block.get("name", "?")),
        tool_input if isinstance(tool_input, dict) else {"value": tool_input},
        _text(block.get("id")) or "",
        parent_call_id=parent,
        shown_input=None if isinstance(tool_input, dict) else raw_input,
    )


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
    return "" if content is None else json.dumps(_json(content))


def _block_name(block: object) -> str:
    return str(block.get("type", "?")) if isinstance(block, dict) else type(block).__name__


def _user(obj: Mapping[str, object]) -> list[AgentEvent] | None:
    message = obj.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return None
    events: list[AgentEvent] = []
    parent = _text(obj.get("parent_tool_use_id"))
    for block in message["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_result":
            full = _tool_result_text(block.get("content"))
            events.append(
                ToolOutput(
                    call_id=_text(block.get("tool_use_id")) or "",
                    text=clip(full, TEXT_LIMIT),
                    is_error=block.get("is_error") is True,
                    truncated=len(full) > TEXT_LIMIT,
                    parent_call_id=parent,
                )
            )
        else:
            events.append(Other("raw", text=f"user/{_block_name(block)}", data={"event": _json(block)}))
    return events


def _resets_at(value: object) -> datetime | None:
    seconds = _number(value)
    if seconds is None:
        return None
    try:
        return from_unix(seconds)
    except (OverflowError, OSError, ValueError):  # a time no calendar holds: unknown
        return None


def _rate_limit(obj: Mapping[str, object]) -> RateLimited:
    """The subscription's rate-limit state: ``status`` allowed/allowed_warning/rejected,
    ``resetsAt`` (unix seconds) and the window (``five_hour``, ``seven_day``, ...)."""
    info = obj.get("rate_limit_info")
    info = info if isinstance(info, dict) else {}
    return RateLimited(
        status=_text(info.get("status")),
        resets_at=_resets_at(info.get("resetsAt")),
        window=_text(info.get("rateLimitType")),
    )


_RESULT_DETAILS = (
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
"""The result line's fields kept in the stored row as the CLI wrote them (the typed ones win)."""


def _result(obj: Mapping[str, object]) -> Finished:
    details = _pick(obj, *_RESULT_DETAILS)
    if isinstance(cost := obj.get("total_cost_usd"), Decimal):
        details["total_cost_usd"] = str(cost)  # money as the CLI wrote it, as a string: never a float
    if "modelUsage" in obj:
        details["model_usage"] = _json(obj["modelUsage"])
    result_text = _str(obj.get("result"))
    errors = obj.get("errors")
    if result_text is None and isinstance(errors, list):
        result_text = "; ".join(str(e) for e in errors)
    subtype = _str(obj.get("subtype")) or ""
    is_error = obj.get("is_error")
    return Finished(
        text=result_text or str(obj.get("subtype", "")),
        # API errors end with subtype success and is_error true; no is_error: the subtype says
        is_error=is_error is True or (is_error is None and subtype != "success"),
        cost_usd=_decimal(obj.get("total_cost_usd")),
        turns=_int(obj.get("num_turns")),
        agent_session_id=_str(obj.get("session_id")),
        duration_ms=_int(obj.get("duration_ms")),
        details=details,
    )


def _decimal(value: object) -> Decimal | None:
    """A cost as Decimal: the exact token ``parse_line`` kept (a float only from a caller's dict)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        amount = (
            value if isinstance(value, Decimal) else Decimal(value if isinstance(value, str) else repr(value))
        )
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
