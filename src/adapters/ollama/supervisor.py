"""The Supervisor port on a model served by Ollama, through the official ``ollama`` client.

Each try streams ``/api/chat`` (NDJSON) with ``format`` = the verdict's JSON schema,
temperature 0, a fixed seed, ``num_ctx`` from ``/api/show`` (asked once per model) and
``num_predict`` bounded by the schema. Streaming is chosen for the timeout: httpx's read
timeout applies to each read, so with a stream ``timeout_s`` means "no progress for that
long" (a 32B model that writes 40 tokens/s for a minute is fine; one that stops is not),
whereas a non-streaming answer arrives only when it is complete, making the same number
a limit on the whole generation. The first line still waits for the model to load and
read the prompt, so ``timeout_s`` must cover a cold load.

Connection refused, timeouts, 5xx/503, an ``{"error": ...}`` line mid-stream and an answer
that is not a verdict on the asked criteria are retried with exponential backoff (waited
on the Clock port, so tests never wait); each retry uses the next seed, because at
temperature 0 the same seed would repeat the same bad answer. A model that is not pulled,
credentials refused and other 4xx answers are not retried. After a call that gave up on the
server, later calls try once until one succeeds. A connection refused on a loopback
address is not retried: nothing listens there (no Ollama on this machine), so that one
probe marks the judge unavailable and the calls of the next ``probe_again_s`` (5 min)
make no request at all — a session with no Ollama pays one refused connection, not
seconds of backoff per task. What the caller gets is a
Verdict or ``JudgeUnavailable(reason, hint)``; nothing is raised. Reasons never hold the
API key nor URL credentials.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import httpx
import ollama

from adapters.ollama.reach import is_loopback
from adapters.ollama.schema import BadAnswer, answer_token_limit, parse_verdict, verdict_schema
from orchcore.ports.clock import Clock
from orchcore.ports.supervisor import JudgeRequest, JudgeUnavailable, Verdict
from orchcore.redact import REDACTED, redact

log = logging.getLogger("adapters.ollama")

DEFAULT_HOST = "http://127.0.0.1:11434"
DEFAULT_MODEL = "qwen2.5-coder:32b"
DEFAULT_NUM_CTX = 4096  # when /api/show names no context length: small enough for any model
DEFAULT_SEED = 7
CONNECT_TIMEOUT_S = 5.0
PROBE_AGAIN_S = 300.0  # after a refused loopback connection, how long the judge is skipped
# what the client raises for a server that is down, slow, failing or answering nonsense: the
# built-in ConnectionError (refused, non-streaming), httpx errors (refused while streaming,
# timeouts, broken streams), ResponseError (HTTP errors, an error line), ValueError (a line
# that is not JSON, or a reply whose fields do not fit the client's pydantic models)
CLIENT_ERRORS = (ollama.ResponseError, ollama.RequestError, ConnectionError, httpx.HTTPError, ValueError)


@attrs.frozen
class _Failure:
    """Why one try gave no verdict, and whether another try may help."""

    reason: str
    retryable: bool
    hint: str = ""
    server: bool = True  # the server failed (False: it answered, but not with a verdict)
    absent: bool = False  # nothing listens there: skip the judge for a while, no retries


def ollama_client(
    host: str,
    timeout_s: float,
    *,
    api_key: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ollama.Client:
    """An ``ollama.Client`` for ``host`` whose read timeout is ``timeout_s`` (per read: see the module).

    ``api_key`` becomes ``authorization: Bearer`` (Ollama behind an authenticating proxy).
    """
    headers = {"authorization": f"Bearer {api_key}"} if api_key else None
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
    extra: dict[str, Any] = {} if transport is None else {"transport": transport}
    return ollama.Client(host=host, timeout=timeout, headers=headers, **extra)


class OllamaSupervisor:
    """Satisfies orchcore.ports.Supervisor with ``model`` on the Ollama server ``client`` talks to.

    ``retries`` is how many more tries follow a failed one (0: one try only); the waits
    double from ``backoff_s`` up to ``max_backoff_s``. ``max_num_ctx`` caps the context the
    model is loaded with (a GPU's memory may not hold the full window's cache).
    """

    def __init__(
        self,
        client: ollama.Client,
        model: str = DEFAULT_MODEL,
        *,
        clock: Clock,
        host: str = DEFAULT_HOST,
        retries: int = 2,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        keep_alive: str | float = "10m",
        seed: int = DEFAULT_SEED,
        max_num_ctx: int | None = None,
        secrets: Sequence[str] = (),
        probe_again_s: float = PROBE_AGAIN_S,
    ) -> None:
        self._client = client
        self.model = model
        self._clock = clock
        self._host = redact(host)
        self.retries = max(0, retries)
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._keep_alive = keep_alive
        self._seed = seed
        self._max_num_ctx = max_num_ctx
        self._secrets = tuple(s for s in secrets if s)
        self._window: int | None = None
        self._server_failing = False
        self._loopback = is_loopback(host)
        self._probe_again = timedelta(seconds=probe_again_s)
        self._absent: tuple[datetime, _Failure] | None = None  # until when, and why

    def __repr__(self) -> str:
        return f"OllamaSupervisor(model={self.model!r}, host={self._host!r})"

    def close(self) -> None:
        """Close the HTTP connections of the client."""
        self._client.close()  # type: ignore[no-untyped-call]  # ollama's close() is unannotated

    def __enter__(self) -> OllamaSupervisor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the port ----------------------------------------------------------------------

    def context_window(self) -> int | None:
        """The ``num_ctx`` a judge call uses: the model's context length from ``/api/show``
        (capped by ``max_num_ctx``); None while the server cannot tell."""
        window = self._context_window()
        return window if isinstance(window, int) else None

    def probe(self) -> int | JudgeUnavailable:
        """For `orch doctor`: the model's context window, or why the judge cannot run (server down,
        model not pulled, credentials refused), with the fix as the hint. One request, no retries."""
        window = self._context_window()
        if isinstance(window, int):
            return window
        return JudgeUnavailable(self._scrub(window.reason), window.hint)

    def judge(self, request: JudgeRequest) -> Verdict | JudgeUnavailable:
        """The verdict on ``request``, or why there is none after the retries.

        Once a call has given up on the server (down, too slow, failing), the next calls make
        one try each until one gets a verdict: a day's run with Ollama down pays the retries
        once, not once per task.
        """
        started = self._clock.now()
        if self._absent is not None:
            until, why = self._absent
            if started < until:
                reason = (
                    f"{why.reason}; the judge is skipped for this session (probed again at {until:%H:%M} UTC)"
                )
                return JudgeUnavailable(self._scrub(reason), self._scrub(why.hint))
            self._absent = None
        failure = _Failure("no try was made", retryable=False)
        limit = 1 if self._server_failing else self.retries + 1
        tries = 0
        for attempt in range(limit):
            if attempt:
                delay = min(self._max_backoff_s, self._backoff_s * 2 ** (attempt - 1))
                log.info("judge: retrying in %.1f s (try %d of %d)", delay, attempt + 1, limit)
                self._clock.sleep(delay)
            tries += 1
            outcome = self._try(request, self._seed + attempt)
            if isinstance(outcome, Verdict):
                self._server_failing = False
                elapsed = (self._clock.now() - started).total_seconds()
                return attrs.evolve(outcome, model=self.model, duration_s=elapsed)
            failure = outcome
            log.warning(
                "judge: try %d of %d for task %s gave no verdict: %s",
                attempt + 1,
                limit,
                request.task_id,
                self._scrub(failure.reason),
            )
            if failure.absent:
                self._absent = (self._clock.now() + self._probe_again, failure)
            if not failure.retryable:
                break
        self._server_failing = failure.retryable and failure.server
        if limit == 1 and self.retries:
            tail = " (one try: it was unavailable on the previous call too)"
        else:
            tail = f" (gave up after {tries} tries)" if tries > 1 else ""
        return JudgeUnavailable(self._scrub(failure.reason + tail), self._scrub(failure.hint))

    # -- one try -----------------------------------------------------------------------

    def _try(self, request: JudgeRequest, seed: int) -> Verdict | _Failure:
        window = self._context_window()
        if isinstance(window, _Failure):
            return window
        schema = verdict_schema(request.criteria)
        system = "Answer with one JSON object that follows this JSON schema:\n" + json.dumps(schema)
        messages = [
            {"role": "system", "content": f"{request.system}\n\n{system}" if request.system else system},
            {"role": "user", "content": request.prompt},
        ]
        options = {
            "temperature": 0,
            "seed": seed,
            "num_ctx": window,
            "num_predict": answer_token_limit(request.criteria),
        }
        content: list[str] = []
        final: ollama.ChatResponse | None = None
        try:
            stream = self._client.chat(
                self.model,
                messages,
                stream=True,
                format=schema,
                options=options,
                keep_alive=self._keep_alive,
            )
            for part in stream:
                content.append(part.message.content or "")
                if part.done:
                    final = part
        except CLIENT_ERRORS as exc:
            return self._failure(exc, "/api/chat")
        if final is None:
            return _Failure("Ollama's answer ended before its last line (done)", retryable=True)
        verdict = parse_verdict("".join(content), request.criteria)
        if isinstance(verdict, BadAnswer):
            cut = " (cut off: done_reason length)" if final.done_reason == "length" else ""
            return _Failure(
                f"{self.model} gave no usable verdict: {verdict.problem}{cut}",
                retryable=True,
                hint="the model does not follow the verdict schema; a larger model may",
                server=False,
            )
        used = (final.prompt_eval_count or 0) + (final.eval_count or 0)
        if used >= window:
            log.warning(
                "judge: the prompt filled num_ctx %d (%d tokens): Ollama may have cut it", window, used
            )
        return attrs.evolve(verdict, prompt_tokens=final.prompt_eval_count)

    def _context_window(self) -> int | _Failure:
        if self._window is not None:
            return self._window
        try:
            shown = self._client.show(self.model)
        except CLIENT_ERRORS as exc:
            return self._failure(exc, "/api/show")
        info = shown.modelinfo or {}
        arch = info.get("general.architecture")
        length = info.get(f"{arch}.context_length") if arch else None
        if length is None:
            length = next((v for k, v in info.items() if k.endswith(".context_length")), None)
        if isinstance(length, int) and not isinstance(length, bool) and length > 0:
            window = length
        else:
            log.warning(
                "judge: /api/show names no context length for %s; using num_ctx %d",
                self.model,
                DEFAULT_NUM_CTX,
            )
            window = DEFAULT_NUM_CTX
        if self._max_num_ctx is not None:
            window = min(window, self._max_num_ctx)
        self._window = window
        return window

    def _failure(self, exc: Exception, path: str) -> _Failure:
        """A client exception as a reason and whether to retry (the classification of the module doc)."""
        where = f"Ollama at {self._host}"
        if isinstance(exc, ollama.ResponseError):
            status, error = exc.status_code, str(exc.error)[:300]
            if status == 404 and "model" in error:
                return _Failure(
                    f"model {self.model!r} is not pulled on {where}: {error}",
                    retryable=False,
                    hint=f"ollama pull {self.model}",
                )
            if status in (401, 403):
                return _Failure(
                    f"{where} refused the credentials (HTTP {status} on {path})",
                    retryable=False,
                    hint="set OLLAMA_API_KEY to a key the server accepts",
                )
            if status == -1:
                return _Failure(f"{where} failed mid-answer: {error}", retryable=True)
            if status == 503:
                return _Failure(
                    f"{where} is busy (HTTP 503): {error}",
                    retryable=True,
                    hint="Ollama's queue is full (OLLAMA_MAX_QUEUE); the judge was skipped",
                )
            if status >= 500 or status in (408, 429, 499):
                return _Failure(f"{where} answered HTTP {status} on {path}: {error}", retryable=True)
            return _Failure(
                f"{where} refused the request (HTTP {status} on {path}): {error}",
                retryable=False,
                hint="check supervisor.host and supervisor.model",
            )
        if isinstance(exc, httpx.TimeoutException):
            kind = "connecting" if isinstance(exc, httpx.ConnectTimeout) else "waiting for the answer"
            return _Failure(
                f"{where} timed out {kind} on {path} ({type(exc).__name__})",
                retryable=True,
                hint="raise supervisor.timeout_s: it must cover loading the model and reading the prompt",
            )
        if isinstance(exc, ConnectionError | httpx.ConnectError):
            if self._loopback and _refused(exc):
                return _Failure(
                    f"{where} is not reachable (connection refused)",
                    retryable=False,
                    hint="start Ollama (`ollama serve`) or set supervisor.host (OLLAMA_HOST)",
                    absent=True,
                )
            return _Failure(
                f"{where} is not reachable (connection refused or no such host)",
                retryable=True,
                hint="start Ollama (`ollama serve`) or set supervisor.host (OLLAMA_HOST)",
            )
        if isinstance(exc, httpx.TransportError):
            return _Failure(f"{where}: the connection broke on {path} ({type(exc).__name__})", retryable=True)
        if isinstance(exc, ValueError):  # a line that is not JSON, or fields that do not fit the client
            # mid-answer it may pass; a /api/show that is not Ollama's is a wrong host
            return _Failure(
                f"{where} sent a reply that is not Ollama's JSON on {path}",
                retryable=path == "/api/chat",
                hint="" if path == "/api/chat" else "check supervisor.host: it does not look like Ollama",
            )
        return _Failure(f"{where}: {type(exc).__name__} on {path}: {exc}"[:300], retryable=False)

    def _scrub(self, text: str) -> str:
        text = redact(text)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def _refused(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a refused connection, not a timeout or an unknown name."""
    seen: BaseException | None = exc
    for _ in range(8):  # the client wraps httpx's error, which wraps httpcore's, which wraps the OSError
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False
