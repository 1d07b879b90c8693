"""Reading a model's answer into a verdict: any text gives a verdict on exactly the asked
criteria or a named problem, never an exception; a verdict written to the schema reads back."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from adapters.ollama.schema import BadAnswer, parse_verdict, verdict_schema
from orchcore.ports.supervisor import CriterionVerdict, Judgement, Verdict

criteria_lists = st.lists(st.text(min_size=1, max_size=40), max_size=5, unique=True).map(tuple)
judgements = st.sampled_from(list(Judgement))


@given(content=st.text(max_size=300), criteria=criteria_lists)
def test_any_text_gives_a_verdict_on_the_asked_criteria_or_a_problem(
    content: str, criteria: tuple[str, ...]
) -> None:
    outcome = parse_verdict(content, criteria)
    if isinstance(outcome, BadAnswer):
        assert outcome.problem
    else:
        assert [c.criterion for c in outcome.criteria] == list(criteria)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@given(
    data=st.fixed_dictionaries(
        {}, optional={"overall": json_values, "critique": json_values, "criteria": json_values}
    ),
    criteria=criteria_lists,
)
def test_any_json_object_gives_a_verdict_or_a_problem(
    data: dict[str, object], criteria: tuple[str, ...]
) -> None:
    outcome = parse_verdict(json.dumps(data), criteria)
    assert isinstance(outcome, BadAnswer | Verdict)
    if isinstance(outcome, Verdict):
        assert [c.criterion for c in outcome.criteria] == list(criteria)


@given(
    criteria=criteria_lists,
    data=st.data(),
)
def test_a_verdict_written_to_the_schema_reads_back(criteria: tuple[str, ...], data: st.DataObject) -> None:
    verdict = Verdict(
        overall=data.draw(judgements),
        criteria=tuple(
            CriterionVerdict(c, data.draw(judgements), data.draw(st.text(max_size=30))) for c in criteria
        ),
        critique=data.draw(st.text(max_size=50)),
    )
    schema = verdict_schema(criteria)
    answer: dict[str, object] = {"overall": verdict.overall.value, "critique": verdict.critique}
    if criteria:
        answer["criteria"] = [
            {"criterion": c.criterion, "judgement": c.judgement.value, "reason": c.reason}
            for c in verdict.criteria
        ]
    assert set(answer) == set(schema["required"])
    assert parse_verdict(json.dumps(answer, indent=2), criteria) == verdict


def test_a_verdict_inside_a_markdown_fence_is_read() -> None:
    answer = json.dumps({"overall": "met", "critique": ""})
    outcome = parse_verdict(f"```json\n{answer}\n```", ())
    assert outcome == Verdict(Judgement.MET)


def test_a_repeated_criterion_is_a_problem() -> None:
    answer = {
        "criteria": [
            {"criterion": "a", "judgement": "met", "reason": ""},
            {"criterion": "a", "judgement": "met", "reason": ""},
        ],
        "overall": "met",
        "critique": "",
    }
    outcome = parse_verdict(json.dumps(answer), ("a", "b"))
    assert isinstance(outcome, BadAnswer)
    assert "missing ['b']" in outcome.problem
