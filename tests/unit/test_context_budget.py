"""The context budget: the task is never cut, the rest is kept by rank, and every cut shows."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchcore.context_budget import Cut, Keep, Part, Rank, TokenEstimator, cut_marker, fit

LINES = st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=80), max_size=300)


def text_of(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


@st.composite
def prompts(draw: st.DrawFn) -> tuple[list[Part], int]:
    task = Part("task", text_of(draw(st.lists(st.text(max_size=40), min_size=1, max_size=5))), Rank.TASK)
    others = [
        Part(
            f"part{i}",
            text_of(draw(LINES)),
            draw(st.sampled_from(list(Rank)[1:])),
            draw(st.sampled_from(Keep)),
        )
        for i in range(draw(st.integers(0, 5)))
    ]
    budget = draw(st.integers(0, 4000))
    return [task, *others], budget


def test_parts_that_fit_are_kept_whole_and_nothing_is_cut() -> None:
    parts = [Part("task", "# Task 1\n", Rank.TASK), Part("diff", "+a\n+b\n", Rank.DIFF)]
    fitted = fit(parts, 1000, TokenEstimator())
    assert fitted.texts == {"task": "# Task 1\n", "diff": "+a\n+b\n"}
    assert fitted.cuts == ()


def test_a_long_diff_keeps_its_head_and_says_how_many_lines_were_cut() -> None:
    diff = "".join(f"+line {i}\n" for i in range(2000))
    fitted = fit(
        [Part("task", "# Task 1\n", Rank.TASK), Part("diff", diff, Rank.DIFF)], 300, TokenEstimator()
    )
    shown = fitted.texts["diff"]
    assert shown.startswith("+line 0\n")
    (cut,) = fitted.cuts
    assert cut.part == "diff"
    assert shown.endswith(cut_marker(cut.lines))
    assert "lines cut to fit the context budget" in shown
    assert cut.lines == 2000 - shown.count("+line ")
    assert "," in cut_marker(1234)  # thousands are grouped: [… 1,234 lines cut …]


def test_failing_output_keeps_its_tail_where_the_error_is() -> None:
    output = "".join(f"collected {i}\n" for i in range(500)) + "E   assert 1 == 2\n"
    fitted = fit(
        [Part("task", "t\n", Rank.TASK), Part("check", output, Rank.FAILING, Keep.TAIL)],
        100,
        TokenEstimator(),
    )
    assert fitted.texts["check"].endswith("E   assert 1 == 2\n")
    assert fitted.texts["check"].startswith("[… ")


def test_failing_output_is_kept_before_the_diff_and_the_diff_before_context_files() -> None:
    block = "".join(f"line {i}\n" for i in range(100))
    parts = [
        Part("task", "t\n", Rank.TASK),
        Part("context:a.md", block, Rank.CONTEXT),
        Part("diff", block, Rank.DIFF),
        Part("check", block, Rank.FAILING),
    ]
    fitted = fit(parts, (len(block) * 3 // 2) // 3, TokenEstimator())
    assert fitted.texts["check"] == block
    assert [c.part for c in fitted.cuts] == ["diff", "context:a.md"]


def test_the_model_s_reported_usage_corrects_its_ratio_with_a_margin() -> None:
    estimator = TokenEstimator()
    assert estimator.tokens("x" * 300, "qwen") == 100
    estimator.observe("qwen", 4000, 1000)  # the model counted 4 characters a token
    assert estimator.ratio("qwen") == 3.6
    assert estimator.ratio("claude") == 3.0  # per model
    estimator.observe("qwen", 4000, None)  # no usage reported: unchanged
    assert estimator.ratio("qwen") == 3.6


@given(prompts())
def test_never_over_the_budget_never_drops_the_task_and_every_cut_is_marked(
    case: tuple[list[Part], int],
) -> None:
    parts, budget = case
    estimator = TokenEstimator()
    fitted = fit(parts, budget, estimator)
    task = parts[0]
    assert fitted.texts["task"] == task.text
    room = estimator.chars(budget)
    if len(task.text) <= room:
        assert sum(len(t) for t in fitted.texts.values()) <= room
    else:
        assert all(fitted.texts[p.name] == "" for p in parts[1:] if p.text)
    cut = {c.part: c for c in fitted.cuts}
    for part in parts[1:]:
        shown = fitted.texts[part.name]
        if part.name not in cut:
            assert shown == part.text
            continue
        found: Cut = cut[part.name]
        assert found.lines > 0
        assert cut_marker(found.lines) in shown or (found.dropped and shown == "")
