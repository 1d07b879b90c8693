"""Fitting a prompt's parts into a model's context budget, by priority, with visible cuts.

Pure: the caller renders the template around the parts and records the cuts as an event.
Token counts are estimated from characters (:class:`TokenEstimator`): 3 characters a token
to start with, an overestimate for English and code (BPE tokenizers average 3.5 to 4.5),
so a prompt that fits by the estimate fits the model; each usage the model reports then
corrects the ratio for that model, keeping a 10 % margin.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping

import attrs

from orchcore.records import JsonObject


class Rank(enum.IntEnum):
    """What is kept first when the budget is short: the lower, the earlier."""

    TASK = 0  # the task and its acceptance criteria: never cut
    FAILING = 1  # the output of failing gates (what a retry must fix)
    DIFF = 2  # what the attempt changed
    CONTEXT = 3  # context files and house documents


class Keep(enum.StrEnum):
    """Which end of a part survives a cut: a diff's head, a failing command's tail."""

    HEAD = "head"
    TAIL = "tail"


@attrs.frozen
class Part:
    """One piece of a prompt under the budget; ``name`` says what it is in the cut list."""

    name: str
    text: str
    rank: Rank
    keep: Keep = Keep.HEAD

    @property
    def required(self) -> bool:
        """Whether this part is shown whole whatever the budget (the task and its criteria)."""
        return self.rank is Rank.TASK


@attrs.frozen
class Cut:
    """What the budget took out of one part: lines and characters, and whether all of it went."""

    part: str
    lines: int
    chars: int
    dropped: bool = False

    def as_data(self) -> JsonObject:
        """The cut as event data."""
        return {"part": self.part, "lines": self.lines, "chars": self.chars, "dropped": self.dropped}


@attrs.frozen
class Fitted:
    """The parts as they fit (same names, cut texts), what was cut, and the tokens they use."""

    texts: Mapping[str, str]
    cuts: tuple[Cut, ...]
    tokens: int


DEFAULT_CHARS_PER_TOKEN = 3.0
_MARGIN = 0.9  # the measured ratio is lowered by 10 %: a next prompt may tokenize worse
_MIN_RATIO, _MAX_RATIO = 1.5, 6.0


@attrs.define
class TokenEstimator:
    """Tokens of a text for a model, from characters; corrected by what each model reports."""

    default_ratio: float = DEFAULT_CHARS_PER_TOKEN
    _ratios: dict[str, float] = attrs.field(factory=dict)

    def ratio(self, model: str) -> float:
        """Characters per token assumed for ``model`` now."""
        return self._ratios.get(model, self.default_ratio)

    def tokens(self, text: str, model: str = "") -> int:
        """The estimated tokens of ``text`` (rounded up)."""
        return math.ceil(len(text) / self.ratio(model))

    def chars(self, tokens: int, model: str = "") -> int:
        """How many characters fit in ``tokens`` (rounded down)."""
        return max(int(tokens * self.ratio(model)), 0)

    def observe(self, model: str, prompt_chars: int, reported_tokens: int | None) -> None:
        """Correct the ratio of ``model`` from a prompt of ``prompt_chars`` the model counted as
        ``reported_tokens`` (Ollama's ``prompt_eval_count``, Claude's input tokens)."""
        if not reported_tokens or reported_tokens <= 0 or prompt_chars <= 0:
            return
        measured = prompt_chars / reported_tokens * _MARGIN
        self._ratios[model] = min(max(measured, _MIN_RATIO), _MAX_RATIO)


def cut_marker(lines: int) -> str:
    """The line that stands where ``lines`` lines were cut (visible to the model and the user)."""
    return f"[… {lines:,} lines cut to fit the context budget …]"


def fit(parts: Iterable[Part], budget_tokens: int, estimator: TokenEstimator, model: str = "") -> Fitted:
    """``parts`` cut to ``budget_tokens`` together: the task whole, then by rank (file order within
    a rank), each part as much as is left, cut by whole lines with a marker where lines went."""
    ordered = list(parts)
    room = estimator.chars(budget_tokens, model)
    texts: dict[str, str] = {}
    for part in ordered:
        if part.required:
            texts[part.name] = part.text
            room -= len(part.text)
    cuts: list[Cut] = []
    for part in sorted((p for p in ordered if not p.required), key=lambda p: p.rank):
        shown, cut = _cut(part, max(room, 0))
        texts[part.name] = shown
        room -= len(shown)
        if cut is not None:
            cuts.append(cut)
    used = sum(estimator.tokens(texts[p.name], model) for p in ordered)
    return Fitted({p.name: texts[p.name] for p in ordered}, tuple(cuts), used)


def _cut(part: Part, room: int) -> tuple[str, Cut | None]:
    """``part.text`` in at most ``room`` characters, marker included; the cut, if any.

    Lines end at ``\n`` only; only the window that can be kept is scanned, so cutting a
    file of megabytes costs what is kept, not what is cut."""
    text = part.text
    if len(text) <= room:
        return text, None
    total = text.count("\n") + (not text.endswith("\n"))
    reserve = len(cut_marker(total)) + 1  # the longest the marker can be
    if reserve > room:
        return "", Cut(part.name, total, len(text), dropped=True)
    chars = room - reserve
    if part.keep is Keep.HEAD:
        window = text[:chars]
        body = window[: window.rfind("\n") + 1]
        kept = body.count("\n")
    else:
        window = text[len(text) - chars :] if chars else ""
        whole_first = len(window) == len(text) or text[len(text) - len(window) - 1] == "\n"
        body = window if whole_first else window[window.find("\n") + 1 :] if "\n" in window else ""
        kept = body.count("\n") + (bool(body) and not body.endswith("\n"))
    gone = total - kept
    marker = cut_marker(gone)
    shown = body + marker if part.keep is Keep.HEAD else marker + "\n" + body
    return shown, Cut(part.name, gone, len(text) - len(body), dropped=not body)
