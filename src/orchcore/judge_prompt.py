"""The judge's prompt: the judge templates rendered with an attempt's evidence, fitted to half the
model's window (the other half is the system prompt and the verdict).

The task and its criteria are never cut; then failing checks' output (its tail), the diff
(its head), then passing checks' output. Every secret the attempt wrote or printed is
masked before the judge (maybe a server on another machine) sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchcore.context_budget import Keep, Part, Rank, TokenEstimator
from orchcore.prompt import BuiltPrompt, fit_rendered, shipped_templates, task_variables
from orchcore.safety.events import redact
from orchcore.supervise import Evidence
from orchcore.supervise.leaks import masked
from orchcore.tasks import Task
from orchcore.templating import JUDGE, JUDGE_SYSTEM, Templates

_CHECK_TAIL = 1500  # characters of each check's output the judge reads at most
_MESSAGE_TAIL = 2000  # and of the agent's final message
MIN_JUDGE_TOKENS = 512


def judge_budget(window_tokens: int) -> int:
    """The prompt's share of the judge's window: half of it, at least 512 tokens."""
    return max(window_tokens // 2, MIN_JUDGE_TOKENS)


def judge_system(templates: Templates | None = None) -> str:
    """The judge's system prompt (``judge_system.md.j2``)."""
    return (templates or shipped_templates()).render(JUDGE_SYSTEM, {}).strip()


def fit_judge_prompt(
    task: Task,
    evidence: Evidence,
    window_tokens: int,
    *,
    templates: Templates | None = None,
    estimator: TokenEstimator | None = None,
    model: str = "",
) -> BuiltPrompt:
    """The judge's prompt for ``evidence`` within :func:`judge_budget` of ``window_tokens``, and its cuts."""
    checks = evidence.checks
    parts = [
        Part(
            f"check:{i}:{c.command}",
            masked(c.output_tail[-_CHECK_TAIL:]),
            Rank.CONTEXT if c.passed else Rank.FAILING,
            Keep.TAIL,
        )
        for i, c in enumerate(checks)
    ]
    parts.append(Part("diff", redact(masked(evidence.diff)), Rank.DIFF))
    variables = task_variables(None, task) | {
        "deliverables": [{"path": d.path, "state": d.state.value} for d in evidence.deliverables],
        "final_message": masked(evidence.final_message[-_MESSAGE_TAIL:]),
    }

    def bind(texts: Mapping[str, str]) -> dict[str, Any]:
        return {
            "checks": [
                {"command": c.command, "passed": c.passed, "output": texts[f"check:{i}:{c.command}"].rstrip()}
                for i, c in enumerate(checks)
            ],
            "diff": texts["diff"],
        }

    return fit_rendered(
        templates or shipped_templates(),
        JUDGE,
        variables,
        parts,
        bind,
        judge_budget(window_tokens),
        estimator or TokenEstimator(),
        model,
    )


def judge_prompt(task: Task, evidence: Evidence, window_tokens: int) -> str:
    """:func:`fit_judge_prompt`'s text with the shipped templates and the default estimate."""
    return fit_judge_prompt(task, evidence, window_tokens).text
