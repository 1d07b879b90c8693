"""One Gemini CLI run's stream lines as orchcore's typed agent events, and how the run ended.

Pure and stateful over one run: feed :class:`RunTally` every value ``parse_line``
returns, in order; ``feed`` answers the events to send. An assistant message
streams as ``delta`` chunks: they are joined and sent as one ``Said`` when the
message ends (at the next event that is not one of its chunks). A tool result
refused by a layer is preceded by its ``Refused``: orch's BeforeTool hook (the
CLI reports ``policy_violation``, ``Tool execution blocked: orchcore: ...``),
the CLI's own policy, its own workspace check on file tools (``Path not in
workspace``) or a tool left out of its registry (``cli-permissions``),
the OS sandbox (``Read-only file system``). The CLI reports usage only in its
final ``result``: one ``UsageReport`` for the whole run, priced here; while it runs, each
response's usage read from the AfterModel hook's file is a ``UsageReport`` of its own
(:meth:`RunTally.response_usage`), and the run's total replaces them at the end. Its own API
retries show only on stderr: :func:`retrying` reads them into ``Retrying``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

from adapters.gemini.prices import PRICES, Price, cost_of, run_cost
from adapters.gemini.stream import (
    GeminiLine,
    Init,
    Message,
    Notice,
    Result,
    Tokens,
    ToolResult,
    ToolUse,
    Unknown,
)
from adapters.gemini.tools import tool_call
from orchcore.ports.agent import (
    AgentResult,
    Finished,
    Other,
    OutputLine,
    Refused,
    Retrying,
    Said,
    ToolOutput,
    TypedAgentEvent,
    UsageReport,
)
from orchcore.records import JsonObject, Outcome
from orchcore.safety.events import SafetyLayer

TEXT_LIMIT = 4000
"""Characters of a tool result kept in an event; the log has it all."""
_TAIL_CHARS = 2000
_REASON_LIMIT = 300

EXIT_REASONS: Mapping[int, str] = {
    41: "gemini could not authenticate (exit code 41): check GEMINI_API_KEY and the auth type",
    42: "gemini rejected its input (exit code 42)",
    53: "max turns reached (exit code 53)",
}
"""What the CLI's documented exit codes mean when it ends without a result."""

_BLOCKED = "Tool execution blocked: "
_READ_ONLY = re.compile(r"Read-only file system|\bEROFS\b")
_STATUS = re.compile(r'"?\bcode"?\s*:\s*(\d{3})\b|\bstatus:?\s+(\d{3})\b')
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT_TEXT = (
    "resource_exhausted",
    "retryablequotaerror",
    "please wait and try again",
    "unavailable",
    "deadline_exceeded",
    "overloaded",
    "fetch failed",
    "econnreset",
    "econnrefused",
    "etimedout",
    "socket hang up",
    "network",
)
_READING = frozenset({"read_file", "read_many_files", "grep_search", "glob", "list_directory", "web_fetch"})


_RETRY = re.compile(
    r"^Attempt (?P<attempt>\d+) failed(?: with status (?P<status>\d{3}))?[.:]?\s*(?P<said>.*?)\s*"
    r"Retrying with backoff\.*\s*(?P<error>.*)$"
)


def retrying(stderr_line: str, max_retries: int | None = None) -> Retrying | None:
    """The CLI's own API retry, from the stderr line it prints for it (0.61.0:
    ``Attempt 1 failed with status 500. Retrying with backoff... _ApiError: {...}``), or None."""
    found = _RETRY.match(stderr_line.strip())
    if found is None:
        return None
    status = found.group("status")
    error = found.group("error") or found.group("said")
    return Retrying(
        attempt=int(found.group("attempt")),
        max_retries=max_retries,
        status=int(status) if status else None,
        error=clip(error, 200),
    )


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


def transient(message: str) -> bool:
    """An API error another attempt may get past (the CLI's own retries ran out)."""
    for match in _STATUS.finditer(message):
        code = next(int(g) for g in match.groups() if g)
        if code in _TRANSIENT_STATUS:
            return True
    lowered = message.lower()
    return any(word in lowered for word in _TRANSIENT_TEXT)


@attrs.define
class RunTally:
    """Follows one run: maps each line to events and remembers what decides the outcome."""

    guarded: bool = False
    model: str = ""
    prices: Mapping[str, Price] = attrs.field(factory=lambda: dict(PRICES))
    session_id: str | None = None
    result: Result | None = None
    cost_usd: Decimal | None = None
    last_text: str = ""
    pending_tools: dict[str, str] = attrs.field(factory=dict)
    chunks: list[str] = attrs.field(factory=list)
    calls: dict[str, str] = attrs.field(factory=dict)
    tools: dict[str, str] = attrs.field(factory=dict)
    responses: int = 0  # model responses reported mid-run (from the AfterModel hook)

    @property
    def tool_running(self) -> bool:
        """True between a tool call and its result (the watchdog allows more silence then)."""
        return bool(self.pending_tools)

    def feed(self, line: GeminiLine | None) -> list[TypedAgentEvent]:
        """The events ``line`` reports, in order (a finished message first)."""
        if line is None:
            return []
        if isinstance(line, Message) and line.role == "assistant":
            if not line.delta:
                return [*self._said(), *self._said_now(line.content)]
            self.chunks.append(line.content)
            return []
        events = self._said()
        events.extend(self._event(line))
        return events

    def response_usage(self, input_tokens: int, output_tokens: int, total_tokens: int) -> UsageReport:
        """One finished model response's usage, as the AfterModel hook saw it: priced now, so a
        budget can stop the run before its end (the CLI reports usage only in its result)."""
        self.responses += 1
        tokens = Tokens(input=input_tokens, output=output_tokens, total=total_tokens)
        return UsageReport(
            message_id=f"gemini-response-{self.responses}",
            model=self.model,
            input_tokens=input_tokens,
            output_tokens=tokens.billed_output,
            cost_usd=cost_of(self.model, tokens, self.prices),
        )

    def flush(self) -> list[TypedAgentEvent]:
        """The message still being streamed, at the end of a run that gave no result."""
        return self._said()

    def _said(self) -> list[TypedAgentEvent]:
        if not self.chunks:
            return []
        text, self.chunks = "".join(self.chunks), []
        return self._said_now(text)

    def _said_now(self, text: str) -> list[TypedAgentEvent]:
        self.last_text = text
        return [Said(text, model=self.model or None)] if text else []

    def _event(self, line: GeminiLine) -> list[TypedAgentEvent]:
        if isinstance(line, Init):
            self.session_id = line.session_id or self.session_id
            self.model = line.model or self.model
            return [Other("init", f"gemini model {line.model} session {line.session_id}", _init_data(line))]
        if isinstance(line, Message):  # the user's prompt echoed back: in the log already
            return [Other("message", clip(line.content, 200), {"role": line.role}, stored=False)]
        if isinstance(line, ToolUse):
            call = tool_call(line.tool_name, line.parameters, line.tool_id, guarded=self.guarded)
            self.pending_tools[line.tool_id] = line.tool_name
            self.calls[line.tool_id] = call.summary
            self.tools[line.tool_id] = line.tool_name
            return [call]
        if isinstance(line, ToolResult):
            self.pending_tools.pop(line.tool_id, None)
            refused = self._refusal(line)
            output = ToolOutput(
                line.tool_id, clip(line.output), is_error=not line.ok, truncated=len(line.output) > TEXT_LIMIT
            )
            return [refused, output] if refused is not None else [output]
        if isinstance(line, Notice):
            return [Other("warning", line.message, {"severity": line.severity})]
        if isinstance(line, Result):
            return self._finished(line)
        if isinstance(line, Unknown):
            return [Other("raw", line.name, {"event": line.raw})]
        return [OutputLine(line.text)]

    def _refusal(self, line: ToolResult) -> Refused | None:
        command = self.calls.get(line.tool_id, "")
        message = (line.error_message or line.output).strip()
        if line.error_type == "policy_violation":
            reason = message.removeprefix(_BLOCKED)
            layer = SafetyLayer.HOOK if reason.startswith("orchcore:") else SafetyLayer.CLI_PERMISSIONS
            return Refused(layer, command, reason[:_REASON_LIMIT], call_id=line.tool_id)
        if line.error_type == "invalid_tool_params" and "not in workspace" in message:  # its own path check
            return Refused(
                SafetyLayer.CLI_PERMISSIONS, command, message[:_REASON_LIMIT], call_id=line.tool_id
            )
        if line.error_type == "tool_not_registered":  # excluded by tools.exclude or the approval mode
            return Refused(
                SafetyLayer.CLI_PERMISSIONS, command, message[:_REASON_LIMIT], call_id=line.tool_id
            )
        if self.tools.get(line.tool_id) not in _READING and (found := _READ_ONLY.search(line.output)):
            where = next((ln for ln in line.output.splitlines() if _READ_ONLY.search(ln)), found.group(0))
            return Refused(SafetyLayer.SANDBOX, command, where.strip()[:_REASON_LIMIT], call_id=line.tool_id)
        return None

    def _finished(self, line: Result) -> list[TypedAgentEvent]:
        self.result = line
        self.pending_tools.clear()
        self.cost_usd = run_cost(line.by_model, self.model, line.tokens, self.prices)
        text = self.last_text if line.ok else (line.error_message or line.error_type or "error")
        usage = UsageReport(
            message_id=f"gemini-run-{self.session_id or ''}",
            model=self.model,
            input_tokens=line.tokens.input - min(line.tokens.cached, line.tokens.input),
            output_tokens=line.tokens.billed_output,
            cache_read_tokens=line.tokens.cached,
            cost_usd=self.cost_usd,
        )
        # the run's own total replaces the per-response estimates (zeroed first: never counted twice)
        replaced = [
            UsageReport(message_id=f"gemini-response-{n}", model=self.model, cost_usd=Decimal(0))
            for n in range(1, self.responses + 1)
        ]
        details = {"error_type": line.error_type} if line.error_type else {}
        finished = Finished(
            text,
            is_error=not line.ok,
            cost_usd=self.cost_usd,
            agent_session_id=self.session_id,
            duration_ms=line.duration_ms,
            details={**details, "tool_calls": line.tool_calls},
        )
        return [*replaced, usage, finished]

    def outcome(self, exit_code: int | None, stderr_tail: Sequence[str] = ()) -> AgentResult:
        """How the run ended, given the CLI's exit code and the last lines of its stderr."""
        stderr_text = "\n".join(stderr_tail)[-_TAIL_CHARS:]
        result = self.result
        if result is None:
            last = next((ln.strip() for ln in reversed(stderr_tail) if ln.strip()), "")
            reason = (
                EXIT_REASONS.get(exit_code or 0) or f"gemini ended without a result (exit code {exit_code})"
            )
            return AgentResult(
                Outcome.FAILED if exit_code == 53 else Outcome.ERROR,
                exit_code=exit_code,
                reason=f"{reason}: {last}" if last else reason,
                output_tail=stderr_text or self.last_text[-_TAIL_CHARS:],
                agent_session_id=self.session_id,
                retryable=exit_code not in EXIT_REASONS and transient(stderr_text),
            )
        tokens = result.tokens
        base = AgentResult(
            Outcome.SUCCEEDED,
            exit_code=exit_code,
            cost_usd=self.cost_usd,
            input_tokens=tokens.input,
            output_tokens=tokens.billed_output,
            agent_session_id=self.session_id,
        )
        if result.ok and exit_code in (0, None):
            tail = self.last_text[-_TAIL_CHARS:]
            return attrs.evolve(base, output_tail=tail, final_text=self.last_text)
        message = result.error_message or result.error_type or ""
        if result.ok:
            reason = f"gemini exited with code {exit_code} after a successful result"
        else:
            reason = EXIT_REASONS.get(exit_code or 0) or clip(message, _REASON_LIMIT) or "error"
        tail = message[-_TAIL_CHARS:]
        if stderr_text:
            tail = f"{tail}\n{stderr_text}" if tail else stderr_text
        return attrs.evolve(
            base,
            outcome=Outcome.FAILED,
            reason=reason,
            output_tail=tail,
            retryable=not result.ok and transient(f"{message}\n{stderr_text}"),
        )


def _init_data(line: Init) -> JsonObject:
    return {"session_id": line.session_id, "model": line.model}
