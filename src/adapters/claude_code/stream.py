"""How a Claude Code run ended, from the typed events its stream-json lines parse into.

Pure: no I/O, no clock. The line parser lives in ``lines.py``; its names are
re-exported here (``parse_line``, ``parse_object``, ``TEXT_LIMIT``), so the stream's
reader and its summary are imported from one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import attrs

from adapters.claude_code.lines import TEXT_LIMIT, parse_line, parse_object
from adapters.claude_code.tools import SUMMARY_LIMIT, clip
from orchcore.ports.agent import (
    AgentEvent,
    AgentResult,
    Finished,
    Other,
    RateLimited,
    Retrying,
    Said,
    ToolCall,
    ToolOutput,
)
from orchcore.records import JsonValue, Outcome

__all__ = ["TEXT_LIMIT", "StreamAccumulator", "parse_line", "parse_object"]


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_SUBTYPE_REASONS = {
    "error_max_turns": "max turns reached",
    "error_max_budget_usd": "max budget reached",
}
_TAIL_CHARS = 2000


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
    and the final ``Finished``.
    """

    session_id: str | None = None
    model: str | None = None
    result: Finished | None = None
    last_text: str = ""
    api_retries: int = 0
    events_seen: int = 0
    pending_tools: dict[str, str] = attrs.field(factory=dict)
    rejected_until: datetime | None = None

    def feed(self, event: AgentEvent) -> None:
        """Take one event into account."""
        self.events_seen += 1
        match event:
            case Other(name="init", data=data):
                self.session_id = _str(data.get("session_id")) or self.session_id
                self.model = _str(data.get("model")) or self.model
            case Said(text=text):
                self.last_text = text
            case ToolCall(call_id=call_id, tool=tool):
                self.pending_tools[call_id] = tool
            case ToolOutput(call_id=call_id):
                self.pending_tools.pop(call_id, None)
            case Retrying():
                self.api_retries += 1
            case RateLimited(resets_at=resets_at) if event.rejected and resets_at is not None:
                self.rejected_until = resets_at
            case Finished():
                self.result = event
                self.session_id = event.agent_session_id or self.session_id
                self.pending_tools.clear()
            case _:
                pass

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
        data = self.result.details
        subtype = _str(data.get("subtype")) or ""
        if not self.result.is_error and subtype == "success":
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
                _SUBTYPE_REASONS.get(subtype) or clip(self.result.text, SUMMARY_LIMIT) or subtype or "error"
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
            cost_usd=self.result.cost_usd,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            agent_session_id=self.session_id,
            retryable=retryable,
            retry_at=retry_at,
            final_text=self.result.text if outcome is Outcome.SUCCEEDED else "",
            turns=self.result.turns,
        )
