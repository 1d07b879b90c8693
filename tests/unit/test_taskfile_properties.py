"""Properties of both task-file formats: rendering round-trips, and no input crashes a parser."""

from __future__ import annotations

import re
from decimal import Decimal

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchcore.errors import TaskFileError
from orchcore.taskfile import parse_task_file, render_markdown, render_yaml
from orchcore.tasks import Complexity, Plan, Priority, Task

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# No control characters (tabs, CR, form feeds) and no Unicode line or paragraph separators:
# str.splitlines() treats several of them as line ends.
_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
# What starts a special line in the markdown format (headings, fields, list items, separators).
_SPECIAL_START = ("#", "*", "-", "+")
# Words that mean "no dependencies" when written alone.
_NONE_WORDS = {"none", "no", "n/a", "nothing"}


def _is_plain_line(text: str) -> bool:
    return bool(text) and text == text.strip() and not text.startswith(_SPECIAL_START)


plain_line = st.text(_CHARS, min_size=1, max_size=24).map(str.strip).filter(_is_plain_line)
item = st.text(_CHARS, min_size=1, max_size=24).map(str.strip).filter(bool)
task_id = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,6}", fullmatch=True).filter(
    # "task1" in a dependency list means task 1; none-words mean no dependency at all
    lambda s: s.lower() not in _NONE_WORDS and not re.match(r"(?i)task\d", s)
)
task_type = st.from_regex(r"[a-z][a-z0-9_-]{0,9}", fullmatch=True)


@st.composite
def multi_line(draw: st.DrawFn) -> str:
    """Description text: plain lines, with blank lines only inside."""
    lines = draw(st.lists(plain_line | st.just(""), min_size=1, max_size=4))
    first, last = draw(plain_line), draw(plain_line)
    return "\n".join([first, *lines, last][: draw(st.integers(1, len(lines) + 2))]).strip()


instruction_line = (
    st.text(_CHARS, max_size=30)
    .map(str.rstrip)
    .filter(lambda s: not s.lstrip().startswith(("##", "---", "```", "~~~")))
    | st.sampled_from(["**Bold:** kept as written", "- a list item", "* another", "# a heading", "1. step"])
    | st.just("")
)


@st.composite
def instruction(draw: st.DrawFn) -> str:
    """Free text up to the separator: anything but a separator or a task heading."""
    lines = draw(st.lists(instruction_line, min_size=1, max_size=6))
    text = "\n".join(lines)
    # blank lines at either end are not part of the block
    kept = text.split("\n")
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


@st.composite
def plans(draw: st.DrawFn, source: str) -> Plan:
    ids = draw(st.lists(task_id, min_size=1, max_size=5, unique=True))
    # dependencies only point to tasks earlier in a random order, so the graph is acyclic
    rank = draw(st.permutations(range(len(ids))))
    tasks = []
    for i, tid in enumerate(ids):
        earlier = [ids[j] for j in range(len(ids)) if rank[j] < rank[i]]
        deps = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if earlier else []
        description = draw(st.just("") | multi_line())
        text = draw(instruction()) if description else draw(instruction().filter(bool))
        tasks.append(
            Task(
                id=tid,
                title=draw(item),
                type=draw(task_type),
                priority=draw(st.sampled_from(Priority)),
                requires_approval=draw(st.booleans()),
                description=description,
                acceptance_criteria=tuple(draw(st.lists(item, max_size=3))),
                instruction=text,
                depends_on=tuple(deps),
                context_files=tuple(draw(st.lists(item, max_size=3))),
                deliverables=tuple(draw(st.lists(item, max_size=2))),
                module=draw(st.just("") | plain_line),
                estimated_complexity=draw(st.none() | st.sampled_from(Complexity)),
            )
        )
    title = draw(st.just("") | item)
    date = draw(st.just("") | st.dates().map(str) | plain_line.filter(lambda s: " - " not in s))
    if " - " in title and not date:
        # markdown reads "# Tasks - 2026-11-23" as naming the date; a plan from that file has one
        date = title.rsplit(" - ", 1)[1].strip() or "2026-11-23"
    max_cost = draw(
        st.none()
        | st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False, allow_infinity=False)
    )
    return Plan(source=source, tasks=tuple(tasks), date=date, title=title, max_cost_usd=max_cost)


@PROPERTY
@given(plans("today.md"))
def test_rendered_markdown_parses_back_to_the_same_plan(plan: Plan) -> None:
    assert parse_task_file(render_markdown(plan), plan.source) == plan


@PROPERTY
@given(plans("today.yaml"))
def test_rendered_yaml_parses_back_to_the_same_plan(plan: Plan) -> None:
    assert parse_task_file(render_yaml(plan), plan.source) == plan


@PROPERTY
@given(plans("today.md"))
def test_parsed_tasks_remember_the_line_they_start_on(plan: Plan) -> None:
    text = render_markdown(plan)
    lines = text.splitlines()
    for task in parse_task_file(text, plan.source).tasks:
        assert lines[task.line - 1].startswith(f"## Task {task.id}:")


def _parses_or_reports(text: str, filename: str) -> None:
    """A Plan or a TaskFileError whose every problem is located; any other exception fails."""
    try:
        plan = parse_task_file(text, filename)
    except TaskFileError as exc:
        problems = exc.problems
    else:
        assert plan.tasks
        assert plan.source == filename
        return
    assert problems
    last_line = max(1, len(text.splitlines()))
    for problem in problems:
        assert problem.file == filename
        assert 1 <= problem.line <= last_line
        assert problem.field.strip()
        assert problem.message


@PROPERTY
@given(st.text())
def test_arbitrary_text_never_crashes_the_markdown_parser(text: str) -> None:
    _parses_or_reports(text, "today.md")


@PROPERTY
@given(st.text())
def test_arbitrary_text_never_crashes_the_yaml_parser(text: str) -> None:
    _parses_or_reports(text, "today.yaml")


_MARKDOWN_LINES = st.sampled_from(
    [
        "# Tasks - 2026-11-23",
        "## Task 1: One",
        "## Task 2: Two",
        "## Task 1",
        "## Notes",
        "**Type:** backend",
        "**Type:** two words",
        "**Priority:** high",
        "**Priority:** urgent",
        "**Requires Approval:** maybe",
        "**Description:** do it",
        "**Description:**",
        "**Acceptance Criteria:**",
        "**Depends On:** 1, 2",
        "**Depends On:** Task 1 and Task 3",
        "**Depends On:**",
        "**Depends On:** 1 2",
        "**Context Files:** a.py, b.py",
        "**Deliverables:**",
        "**Module:** core",
        "**Estimated Complexity:** high",
        "**Claude Instruction:**",
        "**Date:** 2026-11-23",
        "**Max Cost USD:** $5",
        "**Max Cost USD:** NaN",
        "**Colour:** red",
        "- an item",
        "  continued",
        "---",
        "",
        "free text",
    ]
)


@PROPERTY
@given(st.lists(_MARKDOWN_LINES | st.text(max_size=20), max_size=30))
def test_markdown_like_text_never_crashes_the_parser(lines: list[str]) -> None:
    _parses_or_reports("\n".join(lines), "today.md")


_YAML_LINES = st.sampled_from(
    [
        "tasks:",
        "date: 2026-11-23",
        "max_cost_usd: 5",
        "max_cost_usd: [1]",
        "title: {a: b}",
        "  - id: 1",
        "  - id: [1]",
        "  - id: ~",
        "    name: x",
        "    name: {a: b}",
        "    description: y",
        "    instruction: |",
        "      text",
        "    depends_on: [1, 2]",
        "    depends_on: 1 2",
        "    depends_on: {a: 1}",
        "    priority: urgent",
        "    requires_approval: yes",
        "    context_files: a, b",
        "    deliverables: [[x]]",
        "  - &a {id: 2, name: z, description: q}",
        "  - *a",
        "  - *missing",
        "? [complex, key]",
        ": value",
        "- top level list",
        "!!binary aGk=",
        "'unclosed",
        "  \t- tab",
        "---",
        "...",
        "",
    ]
)


@PROPERTY
@given(st.lists(_YAML_LINES | st.text(max_size=20), max_size=30))
def test_yaml_like_text_never_crashes_the_parser(lines: list[str]) -> None:
    _parses_or_reports("\n".join(lines), "today.yaml")


_TASK_KEYS = ["id", "name", "title", "description", "instruction", "depends_on", "type", "priority"]
# st.deferred: Hypothesis's source check of st.recursive's extend lambda misreads multi-line lambdas
_yaml_values: st.SearchStrategy[object] = st.deferred(
    lambda: (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=10)
        | st.lists(_yaml_values, max_size=3)
        | st.dictionaries(
            st.sampled_from(["tasks", "date", *_TASK_KEYS]) | st.text(max_size=5), _yaml_values, max_size=3
        )
    )
)


@PROPERTY
@given(_yaml_values)
def test_valid_yaml_of_any_shape_never_crashes_the_parser(document: object) -> None:
    _parses_or_reports(yaml.safe_dump(document), "today.yaml")


def test_money_is_kept_exactly() -> None:
    plan = parse_task_file("max_cost_usd: 0.10\ntasks: [{id: 1, name: a, description: x}]\n", "t.yaml")
    assert plan.max_cost_usd == Decimal("0.10")
    assert isinstance(plan.max_cost_usd, Decimal)


# a line opening a fence of its own is not prose
_prose = plain_line.filter(lambda s: not s.startswith(("```", "~~~")))
_fence_body_line = st.sampled_from(
    [
        "---",
        "----",
        "## Task 9: not a task",
        "# heading",
        "**Type:** inside",
        "- item",
        "",
        "| a | b |",
        "x = 1",
    ]
)
_table = st.just("| col | other |\n|-----|-------|\n| 1   | 2     |")
_heading = st.sampled_from(["# Heading", "### Step 2", "## Notes", "#### deep"])


@st.composite
def _fenced_block(draw: st.DrawFn) -> str:
    char = draw(st.sampled_from("`~"))
    fence = char * draw(st.integers(3, 5))
    info = draw(st.sampled_from(["", "yaml", "python", "md"])) if char == "`" else ""
    body = draw(st.lists(_fence_body_line | _prose, max_size=5))
    return "\n".join([fence + info, *body, fence])


@st.composite
def rich_instruction(draw: st.DrawFn) -> str:
    """Instructions as people write them: prose, headings, tables and fences holding ``---``."""
    blocks = draw(st.lists(_fenced_block() | _table | _heading | _prose, min_size=1, max_size=6))
    text = "\n".join([draw(_prose), *blocks])
    return text.rstrip()


@PROPERTY
@given(rich_instruction(), rich_instruction())
def test_instructions_with_fences_headings_and_tables_round_trip(first: str, second: str) -> None:
    plan = Plan(
        source="today.md",
        tasks=(
            Task(id="1", title="First", instruction=first),
            Task(id="2", title="Second", instruction=second),
        ),
    )
    assert parse_task_file(render_markdown(plan), "today.md") == plan
