"""Gemini CLI's ``--output-format stream-json`` lines as typed values (the input side of the adapter).

Pure: no I/O, no clock. ``parse_line`` never raises: a line that is not a JSON
object is a :class:`NotJson`, a type it does not know an :class:`Unknown`, a
field of the wrong type is read as absent, so a newer CLI cannot break a run by
adding fields or events. Shapes verified on 0.61.0 (``shared/reference/streams``):

- ``init``        session_id, model
- ``message``     role (user|assistant), content, delta (assistant chunks)
- ``tool_use``    tool_name, tool_id, parameters
- ``tool_result`` tool_id, status (success|error), output, error {type, message}
- ``error``       severity, message (non-fatal warnings)
- ``result``      status (success|error), error {type, message}, stats {total_tokens,
                  input_tokens, output_tokens, cached, input, duration_ms, tool_calls,
                  models {name: {same token keys}}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

import attrs

from orchcore.records import JsonObject, JsonValue


@attrs.frozen
class Tokens:
    """Token counts of a run (or one model in it): ``total`` counts thinking too, ``cached`` is part of ``input``."""

    input: int = 0
    output: int = 0
    cached: int = 0
    total: int = 0

    @property
    def billed_output(self) -> int:
        """Output as billed: candidates plus thinking (what the total holds beyond the input)."""
        return max(self.output, self.total - self.input)


@attrs.frozen
class Init:
    session_id: str | None
    model: str | None


@attrs.frozen
class Message:
    role: str
    content: str
    delta: bool


@attrs.frozen
class ToolUse:
    tool_name: str
    tool_id: str
    parameters: JsonObject


@attrs.frozen
class ToolResult:
    tool_id: str
    ok: bool
    output: str
    error_type: str | None = None
    error_message: str | None = None


@attrs.frozen
class Notice:
    """A non-fatal ``error`` event (a warning the CLI carries on after)."""

    severity: str
    message: str


@attrs.frozen
class Result:
    ok: bool
    error_type: str | None
    error_message: str | None
    tokens: Tokens
    by_model: Mapping[str, Tokens]
    duration_ms: int | None
    tool_calls: int | None


@attrs.frozen
class Unknown:
    """A JSON object of a type this parser does not know; ``name`` is its ``type``."""

    name: str
    raw: JsonObject


@attrs.frozen
class NotJson:
    """A line that is no JSON object (a warning the CLI printed to stdout)."""

    text: str


GeminiLine = Init | Message | ToolUse | ToolResult | Notice | Result | Unknown | NotJson


def _null_constant(_: str) -> None:
    """NaN and Infinity are not JSON: they become null."""
    return


def json_value(value: object) -> JsonValue:
    """``value`` (from json.loads) as a JsonValue, recursively; anything odd becomes its str."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tokens(stats: object) -> Tokens:
    if not isinstance(stats, dict):
        return Tokens()
    return Tokens(
        input=_count(stats.get("input_tokens")),
        output=_count(stats.get("output_tokens")),
        cached=_count(stats.get("cached")),
        total=_count(stats.get("total_tokens")),
    )


def _error(obj: Mapping[str, object]) -> tuple[str | None, str | None]:
    error = obj.get("error")
    if not isinstance(error, dict):
        return None, _str(error)
    return _str(error.get("type")), _str(error.get("message"))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(json_value(value), ensure_ascii=False)


def parse_line(line: str) -> GeminiLine | None:
    """What one stdout line of ``gemini -p ... --output-format stream-json`` says; None for a blank line."""
    stripped = line.strip()
    if not stripped:
        return None
    try:
        obj = json.loads(stripped, parse_constant=_null_constant)
    except (ValueError, RecursionError):
        return NotJson(line.rstrip("\r\n"))
    if not isinstance(obj, dict):
        return NotJson(line.rstrip("\r\n"))
    return parse_object(obj)


def parse_object(obj: Mapping[str, object]) -> GeminiLine:
    """What one decoded stream-json object says (see ``parse_line``)."""
    kind = obj.get("type")
    if kind == "init":
        return Init(_str(obj.get("session_id")), _str(obj.get("model")))
    if kind == "message":
        return Message(_str(obj.get("role")) or "", _text(obj.get("content")), obj.get("delta") is True)
    if kind == "tool_use":
        parameters = obj.get("parameters")
        return ToolUse(
            _str(obj.get("tool_name")) or "?",
            _text(obj.get("tool_id")),
            {str(k): json_value(v) for k, v in parameters.items()} if isinstance(parameters, dict) else {},
        )
    if kind == "tool_result":
        error_type, error_message = _error(obj)
        return ToolResult(
            _text(obj.get("tool_id")),
            obj.get("status") == "success",
            _text(obj.get("output")) or (error_message or ""),
            error_type,
            error_message,
        )
    if kind == "error":
        return Notice(_str(obj.get("severity")) or "error", _text(obj.get("message")))
    if kind == "result":
        error_type, error_message = _error(obj)
        stats = obj.get("stats")
        models = stats.get("models") if isinstance(stats, dict) else None
        return Result(
            ok=obj.get("status") == "success",
            error_type=error_type,
            error_message=error_message,
            tokens=_tokens(stats),
            by_model={str(k): _tokens(v) for k, v in models.items()} if isinstance(models, dict) else {},
            duration_ms=_int(stats.get("duration_ms")) if isinstance(stats, dict) else None,
            tool_calls=_int(stats.get("tool_calls")) if isinstance(stats, dict) else None,
        )
    return Unknown(str(kind) if kind is not None else "?", {str(k): json_value(v) for k, v in obj.items()})
