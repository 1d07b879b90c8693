"""Refusals in Claude Code's stream: which layer said no to a tool call, as ``Refused`` events.

Pure and stateful over one run. Fed every event ``parse_line`` returns, in
order, it answers the ``Refused`` events to emit *before* that event (so the
engine knows a tool call was refused before it sees the call's result):

- ``hook``: a ``system/hook_response`` (``--include-hook-events``) of a
  PreToolUse hook whose output is a ``permissionDecision: deny`` marks the tool
  call its ``hook_started`` took up (the oldest one not checked yet); that
  call's error result is the hook's refusal. Without hook events, an error result
  that is exactly one ``orchcore: ...`` line is orch's hook's reason;
- ``cli-permissions``: an error result with the CLI's own denial text
  (``Permission to use Bash with command ... has been denied.``, ``Claude
  requested permissions to ... but you haven't granted it yet.``, verified on
  2.1.197; a tool disallowed outright: ``No such tool available: Bash. Bash exists but
  is not enabled``), and any tool call of the final ``permission_denials`` not reported yet;
- ``sandbox``: an error result (or output) carrying the OS error
  ``Read-only file system`` (EROFS) of a write the sandbox refused; and, once the
  run gave its result, the processes it left running (:func:`left_behind`), which
  the end of the attempt kills (:func:`leftovers_refusal`).
"""

from __future__ import annotations

import json
import re

import attrs

from orchcore.ports.agent import AgentEvent, Finished, Other, Refused, ToolCall, ToolOutput
from orchcore.safety.events import SafetyLayer

Process = tuple[int, int, int]
"""``(pid, parent pid, start ticks)`` of one live process."""

_CLI_DENIALS = (
    re.compile(
        r"^Permission to use (?P<tool>\S+) (with command (?P<command>.*) )?has been denied\.?", re.DOTALL
    ),
    re.compile(r"^Claude requested permissions to .* but you haven't granted it yet\.?", re.DOTALL),
    # a tool the settings disallow outright (--disallowedTools NAME): not listed in permission_denials
    re.compile(
        r"^<tool_use_error>Error: No such tool available: (?P<tool>\S+?)\. \S+ exists but is not enabled"
    ),
)
_OUR_HOOK = re.compile(r"orchcore: [^\n]+")
"""A denial by orch's own hook is its reason alone, one line (a shim's refusal in a Bash result
comes after ``Exit code 126``: that one is recorded by the shim itself)."""
_READ_ONLY = re.compile(r"Read-only file system|\bEROFS\b")
_READING_TOOLS = frozenset({"Read", "Grep", "Glob", "LS", "WebFetch", "WebSearch"})
"""Tools whose result is content: the phrase in a file they show is no refused write."""
_REASON_LIMIT = 300


def _denies(output: object) -> str | None:
    """The reason of a PreToolUse hook output that denies, or None."""
    if not isinstance(output, str):
        return None
    try:
        decision = json.loads(output)
    except ValueError:
        return None
    specific = decision.get("hookSpecificOutput") if isinstance(decision, dict) else None
    if not isinstance(specific, dict) or specific.get("permissionDecision") != "deny":
        return None
    return str(specific.get("permissionDecisionReason", "denied by the hook"))


@attrs.define
class RefusalDetector:
    """Follows one run's events and says which ones report a refusal."""

    calls: dict[str, str] = attrs.field(factory=dict)  # tool_use id -> "Bash git commit ..."
    order: list[str] = attrs.field(factory=list)  # tool_use ids without a result yet, oldest first
    hook_denied: dict[str, str] = attrs.field(factory=dict)  # tool_use id -> the hook's reason
    checking: dict[str, str] = attrs.field(factory=dict)  # hook id -> the tool_use id it checks
    checked: set[str] = attrs.field(factory=set)  # tool_use ids a PreToolUse hook took up
    reported: set[str] = attrs.field(factory=set)

    def feed(self, event: AgentEvent) -> list[Refused]:
        """The ``Refused`` events ``event`` reveals (to emit before it), usually none."""
        match event:
            case ToolCall(call_id=call_id, summary=summary):
                self.calls[call_id] = summary
                self.order.append(call_id)
            case Other(name="raw", text="system/hook_started", data=data):
                self._hook_started(data.get("event"))
            case Other(name="raw", text="system/hook_response", data=data):
                self._hook_response(data.get("event"))
            case ToolOutput(call_id=call_id, text=text, is_error=is_error):
                if call_id in self.order:
                    self.order.remove(call_id)
                found = self._classify(call_id, text, errored=is_error)
                if found is not None:
                    return [found]
            case Finished(details=details):
                return self._listed(details.get("permission_denials"))
            case _:
                pass
        return []

    def _hook_started(self, raw: object) -> None:
        if not isinstance(raw, dict) or raw.get("hook_event") != "PreToolUse":
            return
        waiting = next((i for i in self.order if i not in self.checked), None)
        if waiting is not None:  # the CLI checks calls in the order it streamed them
            self.checked.add(waiting)
            self.checking[str(raw.get("hook_id"))] = waiting

    def _hook_response(self, raw: object) -> None:
        if not isinstance(raw, dict) or raw.get("hook_event") != "PreToolUse":
            return
        reason = _denies(raw.get("output")) or _denies(raw.get("stdout"))
        if reason is None:
            return
        tool_use_id = self.checking.get(str(raw.get("hook_id")))
        if tool_use_id is None:  # no hook_started seen: the oldest call not yet denied
            tool_use_id = next((i for i in self.order if i not in self.hook_denied), None)
        if tool_use_id is not None:
            self.hook_denied[tool_use_id] = reason

    def _classify(self, tool_use_id: str, text: str, *, errored: bool) -> Refused | None:
        if errored and tool_use_id in self.hook_denied:
            return self._refusal(SafetyLayer.HOOK, tool_use_id, self.hook_denied[tool_use_id])
        if errored and _OUR_HOOK.fullmatch(text.strip()):  # without hook events: our hook's one-line reason
            return self._refusal(SafetyLayer.HOOK, tool_use_id, text.strip())
        matched = next((m for p in _CLI_DENIALS if (m := p.match(text.strip()))), None) if errored else None
        if matched is not None:
            named = matched.groupdict()
            if tool_use_id not in self.calls and named.get("tool"):
                self.calls[tool_use_id] = " ".join(filter(None, (named["tool"], named.get("command"))))
            return self._refusal(SafetyLayer.CLI_PERMISSIONS, tool_use_id, text.strip())
        tool = self.calls.get(tool_use_id, "").partition(" ")[0]
        if tool not in _READING_TOOLS and _READ_ONLY.search(text):  # a command may end 0 after it: any result
            line = next((ln for ln in text.splitlines() if _READ_ONLY.search(ln)), text)
            return self._refusal(SafetyLayer.SANDBOX, tool_use_id, line.strip())
        return None

    def _listed(self, denials: object) -> list[Refused]:
        found = []
        for denial in denials if isinstance(denials, list) else []:
            if not isinstance(denial, dict):
                continue
            tool_use_id = str(denial.get("tool_use_id"))
            if tool_use_id in self.reported:
                continue
            if tool_use_id not in self.calls:
                self.calls[tool_use_id] = (
                    f"{denial.get('tool_name', '?')} {json.dumps(denial.get('tool_input'))}"
                )
            layer = SafetyLayer.HOOK if tool_use_id in self.hook_denied else SafetyLayer.CLI_PERMISSIONS
            reason = self.hook_denied.get(tool_use_id, "listed in the CLI's permission denials")
            found.append(self._refusal(layer, tool_use_id, reason))
        return found

    def _refusal(self, layer: SafetyLayer, tool_use_id: str, reason: str) -> Refused:
        self.reported.add(tool_use_id)
        return Refused(layer, self.calls.get(tool_use_id, ""), reason[:_REASON_LIMIT], call_id=tool_use_id)


def cli_chain(processes: list[Process], leader: int, chain: int) -> set[int]:
    """The CLI's own processes: ``leader`` and, ``chain`` - 1 levels down among all ``processes``,
    each one's oldest child (bwrap, its PID namespace's init, then the CLI). Taken while the CLI
    runs: once it has written its result it may be gone, and a job it left would look like it."""
    ours, current = {leader}, leader
    for _ in range(chain - 1):
        children = sorted((start, pid) for pid, parent, start in processes if parent == current)
        if not children:
            break
        current = children[0][1]
        ours.add(current)
    return ours


def left_behind(marked: set[int], cli: set[int]) -> list[int]:
    """The run's ``marked`` processes still running at its result that are not the ``cli`` itself:
    a ``setsid`` or ``nohup`` job, a daemon, which the end of the attempt kills."""
    return sorted(marked - cli)


def leftovers_refusal(pids: list[int]) -> Refused | None:
    """The ``sandbox`` refusal for the processes the attempt left running (killed at its end), or None."""
    if not pids:
        return None
    count = len(pids)
    reason = f"killed {count} process{'es' if count != 1 else ''} the attempt left running"
    return Refused(SafetyLayer.SANDBOX, f"pids {' '.join(map(str, pids))}", reason)
