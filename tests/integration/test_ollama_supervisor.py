"""The Ollama judge with the real ``ollama`` client against a loopback fake Ollama server:
what it sends, what it makes of each answer, and how it retries (waits on a recording
clock: no test waits for a backoff)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.ollama import OllamaSupervisor, ollama_client
from adapters.ollama.schema import MAX_CRITIQUE_CHARS, MAX_REASON_CHARS, answer_token_limit, verdict_schema
from orchcore.ports.supervisor import CriterionVerdict, Judgement, JudgeRequest, JudgeUnavailable, Verdict
from tests.fakes.ollama_api import (
    QUEUE_FULL,
    Answer,
    ErrorMidStream,
    Fail,
    FakeOllama,
    Model,
    Stall,
    Step,
    agreeing,
    verdict_json,
)
from tests.fakes.webhook_receiver import WebhookReceiver, free_port

pytestmark = pytest.mark.integration

MODEL = "qwen2.5-coder:32b"
CRITERIA = ("tests pass", "the README documents --dry-run")
REQUEST = JudgeRequest(
    task_id="t7",
    attempt=2,
    criteria=CRITERIA,
    system="You review a coding agent's work.",
    prompt="# Task t7\n\n1. tests pass\n2. the README documents --dry-run\n",
)
GOOD = verdict_json(CRITERIA, "met")


@attrs.define
class RecordingClock:
    """The Clock port: time moves only by the waits, which are recorded."""

    current: datetime = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    waits: list[float] = attrs.field(factory=list)

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


_open: list[OllamaSupervisor] = []


@pytest.fixture(autouse=True)
def _close_judges() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def judge_on(
    host: str, clock: RecordingClock, *, timeout_s: float = 5.0, api_key: str | None = None, **kw: object
) -> OllamaSupervisor:
    """The adapter on ``host`` (closed after the test)."""
    client = ollama_client(host, timeout_s, api_key=api_key)
    secrets = (api_key,) if api_key else ()
    judge = OllamaSupervisor(client, MODEL, clock=clock, host=host, secrets=secrets, **kw)  # type: ignore[arg-type]
    _open.append(judge)
    return judge


# -- what the client sends ---------------------------------------------------------------


def test_the_chat_asks_for_the_verdict_schema_deterministically_with_the_models_window(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    fake.play(Answer(GOOD))
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, Verdict), outcome
    (show,) = [r for r in fake.requests if r.path == "/api/show"]
    assert show.json["model"] == MODEL
    (chat,) = fake.chats
    body = chat.json
    assert body["model"] == MODEL
    assert body["stream"] is True
    assert body["keep_alive"] == "10m"
    assert body["options"] == {
        "temperature": 0,
        "seed": 7,
        "num_ctx": 32768,
        "num_predict": answer_token_limit(CRITERIA),
    }
    assert body["format"] == verdict_schema(CRITERIA)
    system, user = body["messages"]
    assert system["role"] == "system"
    assert system["content"].startswith("You review a coding agent's work.")
    assert json.dumps(verdict_schema(CRITERIA)) in system["content"]
    assert user == {"role": "user", "content": REQUEST.prompt}


def test_the_schema_names_only_the_asked_criteria_and_bounds_every_string() -> None:
    schema = verdict_schema(CRITERIA)
    items = schema["properties"]["criteria"]
    assert (items["minItems"], items["maxItems"]) == (2, 2)
    fields = items["items"]["properties"]
    assert fields["criterion"]["enum"] == list(CRITERIA)
    assert fields["judgement"]["enum"] == ["met", "not_met", "unsure"]
    assert fields["reason"]["maxLength"] == MAX_REASON_CHARS
    assert schema["properties"]["overall"]["enum"] == ["met", "not_met", "unsure"]
    assert schema["properties"]["critique"]["maxLength"] == MAX_CRITIQUE_CHARS
    assert "criteria" not in verdict_schema(())["properties"]


def test_the_verdict_keeps_each_criterions_judgement_reason_and_the_models_token_count(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    content = json.dumps(
        {
            "criteria": [
                {"criterion": "tests pass", "judgement": "met", "reason": "14 passed"},
                {"criterion": "the README documents --dry-run", "judgement": "not_met", "reason": "no"},
            ],
            "overall": "not_met",
            "critique": "Document --dry-run in README.md.",
        }
    )
    fake.play(Answer(content, chunks=7, prompt_eval_count=1234))
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert outcome == Verdict(
        overall=Judgement.NOT_MET,
        criteria=(
            CriterionVerdict("tests pass", Judgement.MET, "14 passed"),
            CriterionVerdict("the README documents --dry-run", Judgement.NOT_MET, "no"),
        ),
        critique="Document --dry-run in README.md.",
        model=MODEL,
        duration_s=0.0,
        prompt_tokens=1234,
    )


def test_the_authorization_header_is_sent_when_an_api_key_is_given(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    fake.play(Answer(GOOD))
    judge_on(fake.url, clock, api_key="sk-ollama-123").judge(REQUEST)
    assert {r.headers.get("authorization") for r in fake.requests} == {"Bearer sk-ollama-123"}


# -- the context window ------------------------------------------------------------------


def test_the_context_window_comes_from_api_show_once_per_model(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    fake.play(Answer(GOOD), Answer(GOOD))
    judge = judge_on(fake.url, clock)
    assert judge.context_window() == 32768
    judge.judge(REQUEST)
    judge.judge(REQUEST)
    assert len([r for r in fake.requests if r.path == "/api/show"]) == 1


def test_max_num_ctx_caps_the_window_the_model_is_loaded_with(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    fake.play(Answer(GOOD))
    judge = judge_on(fake.url, clock, max_num_ctx=8192)
    assert judge.context_window() == 8192
    judge.judge(REQUEST)
    assert fake.chats[0].json["options"]["num_ctx"] == 8192


def test_a_model_whose_window_is_not_shown_gets_a_conservative_one_and_a_warning(
    clock: RecordingClock, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeOllama([Answer(GOOD)], models=[Model(MODEL, context_length=None)]) as server:
        judge = judge_on(server.url, clock)
        with caplog.at_level(logging.WARNING, "adapters.ollama"):
            assert judge.context_window() == 4096
        assert isinstance(judge.judge(REQUEST), Verdict)
        assert server.chats[0].json["options"]["num_ctx"] == 4096
    assert "names no context length" in caplog.text


# -- failures: the right outcome and a clear reason --------------------------------------


def test_a_model_not_pulled_says_ollama_pull_and_is_not_retried(clock: RecordingClock) -> None:
    with FakeOllama(models=[Model("llama3.2:1b")]) as server:
        outcome = judge_on(server.url, clock).judge(REQUEST)
        assert server.chats == []
    assert isinstance(outcome, JudgeUnavailable)
    assert outcome.hint == f"ollama pull {MODEL}"
    assert "not found" in outcome.reason
    assert MODEL in outcome.reason
    assert clock.waits == []


def test_a_chat_answered_404_model_not_found_is_not_retried(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(Fail(404, f'model "{MODEL}" not found, try pulling it first'), Answer(GOOD))
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert outcome.hint == f"ollama pull {MODEL}"
    assert len(fake.chats) == 1
    assert clock.waits == []


def test_a_failing_server_is_retried_with_doubling_waits_then_skipped(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    fake.play(*[Fail(500, "llama runner process has terminated")] * 4)
    judge = judge_on(fake.url, clock, retries=3, backoff_s=1.5)
    outcome = judge.judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert outcome.reason.startswith(f"Ollama at {fake.url} answered HTTP 500 on /api/chat")
    assert "gave up after 4 tries" in outcome.reason
    assert clock.waits == [1.5, 3.0, 6.0]
    # nothing listening on a loopback port is not retried: tests/integration/test_ollama_down.py


def test_after_giving_up_on_the_server_the_next_calls_try_once_until_a_verdict(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    boom = Fail(500, "llama runner process has terminated")
    fake.play(boom, boom, boom, boom, Answer(GOOD), boom, Answer(GOOD))
    judge = judge_on(fake.url, clock)
    first = judge.judge(REQUEST)
    assert isinstance(first, JudgeUnavailable)
    assert "gave up after 3 tries" in first.reason
    second = judge.judge(REQUEST)
    assert isinstance(second, JudgeUnavailable)
    assert "one try: it was unavailable on the previous call too" in second.reason
    assert clock.waits == [1.0, 2.0]  # the second call did not wait
    assert isinstance(judge.judge(REQUEST), Verdict)  # one try, and it answered
    assert isinstance(judge.judge(REQUEST), Verdict)  # retries are back: the 500 is retried
    assert clock.waits == [1.0, 2.0, 1.0]
    assert len(fake.chats) == 7


def test_bad_answers_do_not_cost_the_next_task_its_retries(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(Answer("nope"), Answer("nope"), Answer("nope"), Answer("nope"), Answer(GOOD))
    judge = judge_on(fake.url, clock)
    assert isinstance(judge.judge(REQUEST), JudgeUnavailable)
    assert isinstance(judge.judge(REQUEST), Verdict)
    assert clock.waits == [1.0, 2.0, 1.0]


def test_waits_stop_growing_at_max_backoff(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(*[Fail(500, "runner crashed")] * 6)
    judge = judge_on(fake.url, clock, retries=5, backoff_s=1.0, max_backoff_s=5.0)
    judge.judge(REQUEST)
    assert clock.waits == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_no_retries_means_one_try(clock: RecordingClock) -> None:
    outcome = judge_on(f"http://127.0.0.1:{free_port()}", clock, retries=0).judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "gave up" not in outcome.reason
    assert clock.waits == []


def test_a_full_queue_is_retried_and_the_next_answer_is_used(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(Fail.queue_full(), Answer(GOOD))
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, Verdict)
    assert clock.waits == [1.0]
    assert outcome.duration_s == 1.0  # the whole call, waits included


def test_a_queue_that_stays_full_says_busy(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(*[Fail.queue_full()] * 3)
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "busy (HTTP 503)" in outcome.reason
    assert QUEUE_FULL in outcome.reason
    assert "OLLAMA_MAX_QUEUE" in outcome.hint


def test_a_500_is_retried(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(Fail(500, "llama runner process has terminated: signal: killed"), Answer(GOOD))
    assert isinstance(judge_on(fake.url, clock).judge(REQUEST), Verdict)
    assert len(fake.chats) == 2


def test_an_error_line_mid_stream_is_retried(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(ErrorMidStream(), Answer(GOOD))
    assert isinstance(judge_on(fake.url, clock).judge(REQUEST), Verdict)
    assert len(fake.chats) == 2


def test_an_error_line_every_time_names_the_servers_error(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(*[ErrorMidStream("out of memory")] * 3)
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "failed mid-answer: out of memory" in outcome.reason


def test_a_reply_that_stalls_past_the_timeout_is_retried_then_skipped(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    fake.play(Stall(chunks=0), Stall(content='{"overall":', chunks=2))
    outcome = judge_on(fake.url, clock, timeout_s=0.3, retries=1).judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "timed out waiting for the answer" in outcome.reason
    assert "gave up after 2 tries" in outcome.reason
    assert "supervisor.timeout_s" in outcome.hint
    assert len(fake.chats) == 2


def test_a_slow_answer_that_keeps_coming_is_not_cut_by_the_timeout(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    # 6 pauses of 0.15 s: 0.9 s in all, three times the timeout, but never 0.3 s without a line
    fake.play(Answer(GOOD, chunks=5, delay_s=0.15))
    outcome = judge_on(fake.url, clock, timeout_s=0.3, retries=0).judge(REQUEST)
    assert isinstance(outcome, Verdict), outcome


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("The work looks fine to me.", "not valid JSON"),
        ('{"overall": "met", "critique": ""', "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (verdict_json(CRITERIA[:1]), "missing ['the README documents --dry-run']"),
        (verdict_json((*CRITERIA, "something else")), "not asked ['something else']"),
        (verdict_json((CRITERIA[0], CRITERIA[0])), "missing ['the README documents --dry-run']"),
        (verdict_json(CRITERIA, "done"), "expected one of met, not_met, unsure"),
    ],
)
def test_an_answer_that_is_not_a_verdict_on_the_asked_criteria_is_a_failed_try(
    fake: FakeOllama, clock: RecordingClock, content: str, problem: str
) -> None:
    fake.play(*[Answer(content)] * 3)
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert problem in outcome.reason
    assert "gave up after 3 tries" in outcome.reason


def test_criteria_answered_in_another_order_are_put_back_in_the_asked_order(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    answer = json.loads(verdict_json(CRITERIA[::-1], "met"))
    answer["criteria"][0]["judgement"] = "not_met"  # the README one, answered first
    fake.play(Answer(json.dumps(answer)))
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, Verdict), outcome
    assert [(c.criterion, c.judgement) for c in outcome.criteria] == [
        ("tests pass", Judgement.MET),
        ("the README documents --dry-run", Judgement.NOT_MET),
    ]
    assert len(fake.chats) == 1


def test_each_retry_after_a_bad_answer_uses_the_next_seed(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(Answer("nope"), Answer("still nope"), agreeing("unsure"))
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, Verdict)
    assert outcome.overall is Judgement.UNSURE
    assert [c.json["options"]["seed"] for c in fake.chats] == [7, 8, 9]


def test_an_answer_cut_off_by_num_predict_says_so(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(*[Answer(GOOD[:40], done_reason="length")] * 3)
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "cut off: done_reason length" in outcome.reason


def test_a_request_the_server_refuses_is_not_retried(fake: FakeOllama, clock: RecordingClock) -> None:
    fake.play(Fail(400, f'"{MODEL}" does not support insert'), Answer(GOOD))
    outcome = judge_on(fake.url, clock).judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "refused the request (HTTP 400 on /api/chat)" in outcome.reason
    assert len(fake.chats) == 1


def test_a_host_that_is_not_ollama_is_not_retried(clock: RecordingClock) -> None:
    receiver = WebhookReceiver().start()  # answers 200 and a body that is not Ollama's
    try:
        outcome = judge_on(f"http://127.0.0.1:{receiver.port}", clock).judge(REQUEST)
    finally:
        receiver.stop()
    assert isinstance(outcome, JudgeUnavailable)
    assert "not Ollama's JSON on /api/show" in outcome.reason
    assert "does not look like Ollama" in outcome.hint
    assert clock.waits == []


# -- secrets -----------------------------------------------------------------------------


def test_the_api_key_never_appears_in_a_reason_or_a_log_line_even_when_the_server_echoes_it(
    fake: FakeOllama, clock: RecordingClock, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-ollama-very-secret"
    fake.play(*[Fail(500, f"upstream said: bad header authorization: Bearer {key}")] * 3)
    judge = judge_on(fake.url, clock, api_key=key)
    with caplog.at_level(logging.DEBUG):
        outcome = judge.judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "upstream said" in outcome.reason
    assert "upstream said" in caplog.text
    assert key not in outcome.reason + outcome.hint + repr(judge) + caplog.text


def test_credentials_refused_are_not_retried_and_name_the_variable(
    fake: FakeOllama, clock: RecordingClock
) -> None:
    fake.play(Fail(401, "unauthorized"))
    outcome = judge_on(fake.url, clock, api_key="sk-wrong").judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "refused the credentials (HTTP 401" in outcome.reason
    assert "OLLAMA_API_KEY" in outcome.hint
    assert "sk-wrong" not in outcome.reason + outcome.hint


def test_url_credentials_in_the_host_are_redacted(clock: RecordingClock) -> None:
    host = f"http://judge:hunter2@127.0.0.1:{free_port()}"
    judge = judge_on(host, clock, retries=0)
    outcome = judge.judge(REQUEST)
    assert isinstance(outcome, JudgeUnavailable)
    assert "hunter2" not in outcome.reason + repr(judge)
    assert "http://***@127.0.0.1" in outcome.reason


# -- the retry policy, as a property ----------------------------------------------------

RETRYABLE: dict[str, Step] = {
    "bad json": Answer("not a verdict"),
    "500": Fail(500, "runner crashed"),
    "503": Fail.queue_full(),
    "error line": ErrorMidStream("mid-stream failure"),
}
FINAL: dict[str, Step] = {
    "404": Fail(404, f'model "{MODEL}" not found, try pulling it first'),
    "400": Fail(400, "invalid options"),
}


def test_any_sequence_of_answers_gets_the_first_verdict_within_the_tries_or_stops_where_it_must() -> None:
    names = st.sampled_from(["good", *RETRYABLE, *FINAL])

    @settings(max_examples=40, deadline=None)
    @given(script=st.lists(names, min_size=1, max_size=6), retries=st.integers(0, 4))
    def check(script: list[str], retries: int) -> None:
        steps = [Answer(GOOD) if n == "good" else {**RETRYABLE, **FINAL}[n] for n in script]
        clock = RecordingClock()
        with FakeOllama(steps) as server:
            judge = judge_on(server.url, clock, retries=retries)
            outcome = judge.judge(REQUEST)
            chats = len(server.chats)
            judge.close()
            _open.remove(judge)
        tried = [*script, *["500"] * (retries + 1)][: retries + 1]  # a used-up fake answers 500
        stop = next((i for i, n in enumerate(tried) if n == "good" or n in FINAL), None)
        expected_tries = len(tried) if stop is None else stop + 1
        assert chats == expected_tries
        assert clock.waits == [1.0 * 2**i for i in range(expected_tries - 1)]
        if stop is not None and tried[stop] == "good":
            assert isinstance(outcome, Verdict)
        else:
            assert isinstance(outcome, JudgeUnavailable)
            assert outcome.reason

    check()
