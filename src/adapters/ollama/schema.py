"""The judge's answer as Ollama structured output: the JSON schema sent as ``format``, and
the reading of ``message.content`` back into a :class:`Verdict`.

The schema is built per request so the model can only name the criteria it was asked
about (an ``enum`` of their texts), only answer ``met | not_met | unsure`` (an ``enum``),
and only write bounded reasons (``maxLength``): a grammar-constrained sampler then cannot
ramble past the answer, and a cut-off answer shows up as invalid JSON. Anything that does
not fit (not JSON, a missing, extra or repeated criterion) is a failed try; criteria answered in
another order are put back in the asked order.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs

from orchcore.ports.supervisor import CriterionVerdict, Judgement, Verdict

MAX_REASON_CHARS = 300
MAX_CRITIQUE_CHARS = 1200
JUDGEMENTS = tuple(j.value for j in Judgement)
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*\n(.*)\n\s*```\s*$", re.DOTALL)


@attrs.frozen
class BadAnswer:
    """Why ``message.content`` is not a verdict on the asked criteria (a failed try)."""

    problem: str


def verdict_schema(criteria: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of a verdict on ``criteria``, in the order asked (``format`` of /api/chat)."""
    properties: dict[str, Any] = {}
    required = []
    if criteria:
        properties["criteria"] = {
            "type": "array",
            "minItems": len(criteria),
            "maxItems": len(criteria),
            "items": {
                "type": "object",
                "properties": {
                    "criterion": {"type": "string", "enum": list(dict.fromkeys(criteria))},
                    "judgement": {"type": "string", "enum": list(JUDGEMENTS)},
                    "reason": {"type": "string", "maxLength": MAX_REASON_CHARS},
                },
                "required": ["criterion", "judgement", "reason"],
                "additionalProperties": False,
            },
        }
        required.append("criteria")
    properties["overall"] = {"type": "string", "enum": list(JUDGEMENTS)}
    properties["critique"] = {"type": "string", "maxLength": MAX_CRITIQUE_CHARS}
    required += ["overall", "critique"]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def answer_token_limit(criteria: Sequence[str]) -> int:
    """An upper bound on the tokens of a valid answer (``num_predict``): one token per character
    of the longest answer the schema allows, plus room for whitespace. It never cuts a valid
    answer and stops a model that loops (e.g. on whitespace) instead of closing the JSON."""
    per_item = 60 + max((len(c) for c in criteria), default=0) + MAX_REASON_CHARS
    return 128 + MAX_CRITIQUE_CHARS + len(criteria) * per_item


def _judgement(value: object, where: str) -> Judgement | BadAnswer:
    if isinstance(value, str) and value in JUDGEMENTS:
        return Judgement(value)
    return BadAnswer(f"{where}: found {json.dumps(value)[:40]}, expected one of {', '.join(JUDGEMENTS)}")


def parse_verdict(content: str, criteria: Sequence[str]) -> Verdict | BadAnswer:
    """``content`` (the model's JSON text) as a verdict on ``criteria`` in order, or what is wrong.

    A markdown fence around the JSON is tolerated: a server that ignores ``format`` (an
    Ollama-compatible shim without grammars) often writes one.
    """
    fenced = _FENCE.match(content)
    try:
        data = json.loads(fenced.group(1) if fenced else content)
    except json.JSONDecodeError as exc:
        return BadAnswer(f"the answer is not valid JSON ({exc.msg} at character {exc.pos})")
    except RecursionError:
        return BadAnswer("the answer is not valid JSON (nested too deep)")
    if not isinstance(data, dict):
        return BadAnswer("the answer is not a JSON object")
    overall = _judgement(data.get("overall"), "overall")
    if isinstance(overall, BadAnswer):
        return overall
    critique = data.get("critique", "")
    if not isinstance(critique, str):
        return BadAnswer("critique: expected text")
    found = data.get("criteria", [])
    if not isinstance(found, list):
        return BadAnswer("criteria: expected a list")
    verdicts: list[CriterionVerdict] = []
    for index, item in enumerate(found):
        if not isinstance(item, dict):
            return BadAnswer(f"criteria[{index}]: expected an object")
        judgement = _judgement(item.get("judgement"), f"criteria[{index}].judgement")
        if isinstance(judgement, BadAnswer):
            return judgement
        reason = item.get("reason", "")
        verdicts.append(
            CriterionVerdict(
                str(item.get("criterion", "")), judgement, reason if isinstance(reason, str) else ""
            )
        )
    named = [v.criterion for v in verdicts]
    if Counter(named) != Counter(criteria):
        missing = list((Counter(criteria) - Counter(named)).elements())
        extra = list((Counter(named) - Counter(criteria)).elements())
        detail = f"missing {missing!r}" if missing else f"not asked {extra!r}"
        return BadAnswer(f"the answer does not match the asked criteria: {detail}"[:300])
    # each asked criterion answered once: a model that changed the order loses nothing
    unused = list(verdicts)
    in_order = [unused.pop(next(i for i, v in enumerate(unused) if v.criterion == c)) for c in criteria]
    return Verdict(overall=overall, criteria=tuple(in_order), critique=critique)
