"""The project's prompt files: its templates (overriding the shipped ones by name) and house rules.

Read once when a run starts; every template is compiled and tried on a sample task there,
so a broken one stops `orch run` before any task starts, naming its file and line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from apps.settings import Settings
from orchcore.context_budget import TokenEstimator
from orchcore.errors import ConfigError
from orchcore.judge_prompt import fit_judge_prompt, judge_system
from orchcore.prompt import ContextFile, HouseRule, Prompter
from orchcore.supervise import CheckResult, Evidence
from orchcore.tasks import Plan, Task
from orchcore.templates import shipped_sources
from orchcore.templating import TEMPLATE_NAMES, Templates, TemplateSource

HOUSE_RULE_FILES = ("agent_instructions.md", "code_quality_standards.md", "task_execution_patterns.md")
"""The house-rules files, in the order the prompt gives them; any other ``*.md`` there follows."""
_MAX_RULES_BYTES = 256 * 1024  # a house-rules file larger than this is refused, not read


def rules_folder(settings: Settings) -> Path:
    """``paths.rules_dir``, resolved against the config's folder."""
    return settings.path(settings.paths.rules_dir)


def templates_folder(settings: Settings) -> Path:
    """``paths.templates_dir``; by default ``<rules_dir>/templates``."""
    chosen = settings.paths.templates_dir
    return settings.path(chosen) if chosen else rules_folder(settings) / "templates"


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > _MAX_RULES_BYTES:
            raise ConfigError(f"{path}: larger than {_MAX_RULES_BYTES // 1024} KiB, expected a text file")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def project_templates(folder: Path) -> Templates:
    """The shipped templates, each replaced by ``folder/NAME`` when the project has one;
    ConfigError for a file there orch does not know (a misspelt name would be ignored)."""
    sources = dict(shipped_sources())
    problems = []
    if folder.is_dir():
        for path in sorted(folder.glob("*.j2")):
            if path.name not in TEMPLATE_NAMES:
                problems.append(f"{path}: unknown template, expected one of {', '.join(TEMPLATE_NAMES)}")
                continue
            sources[path.name] = TemplateSource(path.name, _read(path), str(path))
    if problems:
        raise ConfigError("\n".join(problems))
    key = tuple(sorted(sources.items()))
    templates = _MADE.get(key)
    if templates is None:  # Jinja compiles each one (~20 ms): once per process for the same texts
        templates = Templates(sources)
        tried(templates)
        _MADE[key] = templates
    return templates


_MADE: dict[tuple[tuple[str, TemplateSource], ...], Templates] = {}


def tried(templates: Templates) -> None:
    """Render every template once on a sample task: an unknown variable fails now, located."""
    task = Task("1", "Sample", description="d", acceptance_criteria=("c",), context_files=("a.md",))
    plan = Plan("sample.md", (task,))
    prompter = Prompter(templates)
    prompter.task(plan, task, context=(ContextFile("a.md", "text"),), feedback="f", question="q", answer="a")
    prompter.retry("f")
    prompter.answer("q", "a")
    judge_system(templates)
    evidence = Evidence("1", 1, final_message="done", diff="+x\n", checks=(CheckResult("true", 0),))
    fit_judge_prompt(task, evidence, 4096, templates=templates)


def _title(name: str, text: str) -> str:
    """A rules file's first ``# heading``, else its name as words."""
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return Path(name).stem.replace("_", " ").capitalize()


def house_rules(folder: Path) -> tuple[HouseRule, ...]:
    """The house-rules files in ``folder`` (the three named ones first, then other ``*.md`` sorted):
    none when the folder does not exist."""
    if not folder.is_dir():
        return ()
    named = [folder / n for n in HOUSE_RULE_FILES if (folder / n).is_file()]
    others = sorted(p for p in folder.glob("*.md") if p.name not in HOUSE_RULE_FILES and p.is_file())
    found = []
    for path in (*named, *others):
        text = _read(path)
        if text.strip():
            found.append(HouseRule(path.name, _title(path.name, text), text))
    return tuple(found)


def prompter_for(
    settings: Settings,
    estimator: TokenEstimator | None = None,
    lessons: Mapping[str, Sequence[str]] | None = None,
) -> Prompter:
    """The run's prompter: the project's templates and house rules, the agent's context budget,
    and the lessons from feedback by task type."""
    return Prompter(
        project_templates(templates_folder(settings)),
        house_rules(rules_folder(settings)),
        budget_tokens=settings.agent.context_tokens,
        estimator=estimator or TokenEstimator(),
        model=str(settings.agent.options.get("model", "")),
        lessons_by_type=dict(lessons or {}),
    )


def existing_templates(folder: Path) -> list[Path]:
    """The templates :func:`export_templates` would overwrite in ``folder``."""
    return [folder / name for name in TEMPLATE_NAMES if (folder / name).exists()]


def export_templates(folder: Path) -> list[Path]:
    """Write the shipped templates into ``folder`` (OSError is the caller's to report)."""
    targets = [folder / name for name in TEMPLATE_NAMES]
    folder.mkdir(parents=True, exist_ok=True)
    for path in targets:
        path.write_text(shipped_sources()[path.name].text, encoding="utf-8")
    return targets


def write_starters(folder: Path, *, force: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the starter house rules into ``folder``: those written, and those kept as they were."""
    from importlib import resources

    starters = resources.files("apps").joinpath("starters")
    folder.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for name in HOUSE_RULE_FILES:
        path = folder / name
        if path.exists() and not force:
            kept.append(path)
            continue
        path.write_text(starters.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
        written.append(path)
    return written, kept
