"""The Drafter port on a model served by Ollama, through the official ``ollama`` client (``orch plan``).

One streaming ``/api/chat`` per draft, temperature 0 with a fixed seed (the same log gives the
same draft), ``num_predict`` from the request. Streamed for the timeout, as the supervisor's judge
is: httpx's read timeout applies to each read, so ``timeout_s`` means "no progress for that long"
and a slow model that keeps writing a long task file is not cut off. No retries: the user is at the terminal and runs
the command again. What fails is a :class:`DrafterUnavailable` whose hint says what to do (start
Ollama, pull the model, set the host); reasons never hold the API key nor URL credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx
import ollama

from adapters.ollama.supervisor import CLIENT_ERRORS, DEFAULT_HOST, DEFAULT_MODEL, DEFAULT_SEED
from orchcore.ports.drafter import Draft, DrafterUnavailable, DraftRequest
from orchcore.redact import REDACTED, redact

log = logging.getLogger("adapters.ollama")
PROMPT_CHARS_PER_TOKEN = 3  # an overestimate of a prompt's tokens for English and markdown
MIN_ANSWER_TOKENS = 256


class OllamaDrafter:
    """Satisfies orchcore.ports.Drafter with ``model`` on the Ollama server ``client`` talks to."""

    def __init__(
        self,
        client: ollama.Client,
        model: str = DEFAULT_MODEL,
        *,
        host: str = DEFAULT_HOST,
        num_ctx: int | None = None,
        keep_alive: str | float = "10m",
        seed: int = DEFAULT_SEED,
        secrets: Sequence[str] = (),
    ) -> None:
        self._client = client
        self.model = model
        self._host = redact(host)
        self._num_ctx = num_ctx
        self._keep_alive = keep_alive
        self._seed = seed
        self._secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"OllamaDrafter(model={self.model!r}, host={self._host!r})"

    def close(self) -> None:
        """Close the HTTP connections of the client."""
        self._client.close()  # type: ignore[no-untyped-call]  # ollama's close() is unannotated

    def draft(self, request: DraftRequest) -> Draft | DrafterUnavailable:
        """The model's answer to ``request``, or why there is none (never raises)."""
        limit = request.max_tokens
        options: dict[str, Any] = {"temperature": 0, "seed": self._seed}
        if self._num_ctx is not None:
            # the answer must fit beside the prompt: a model that writes on past its window slows
            # to a crawl (or cuts the prompt), so the draft is bounded by what the window leaves
            prompt_tokens = (len(request.system) + len(request.prompt)) // PROMPT_CHARS_PER_TOKEN
            limit = max(MIN_ANSWER_TOKENS, min(limit, self._num_ctx - prompt_tokens))
            options["num_ctx"] = self._num_ctx
        options["num_predict"] = limit
        messages = [
            {"role": "system", "content": request.system},
            {"role": "user", "content": request.prompt},
        ]
        content: list[str] = []
        answer: ollama.ChatResponse | None = None
        try:
            for part in self._client.chat(
                self.model, messages, stream=True, options=options, keep_alive=self._keep_alive
            ):
                content.append(part.message.content or "")
                if part.done:
                    answer = part
        except CLIENT_ERRORS as exc:
            return self._unavailable(exc)
        if answer is None:
            return DrafterUnavailable(f"Ollama at {self._host} ended its answer before its last line (done)")
        text = "".join(content)
        if not text.strip():
            return DrafterUnavailable(
                f"{self.model} on Ollama at {self._host} answered with nothing",
                "a larger model may do better: set supervisor.model",
            )
        if answer.done_reason == "length":
            log.warning(
                "plan: %s stopped at num_predict %d: the draft may be cut", self.model, request.max_tokens
            )
        return Draft(text, answer.model or self.model)

    def _unavailable(self, exc: Exception) -> DrafterUnavailable:
        where = f"Ollama at {self._host}"
        pull = f"ollama pull {self.model}"
        if isinstance(exc, ollama.ResponseError):
            status, error = exc.status_code, str(exc.error)[:300]
            if status == 404 and "model" in error:
                why, hint = f"model {self.model!r} is not pulled on {where}: {error}", pull
            elif status in (401, 403):
                why, hint = f"{where} refused the credentials (HTTP {status})", "set OLLAMA_API_KEY"
            else:
                why, hint = (
                    f"{where} answered HTTP {status}: {error}",
                    "check supervisor.host and supervisor.model",
                )
        elif isinstance(exc, httpx.TimeoutException):
            why = f"{where} timed out ({type(exc).__name__})"
            hint = "raise supervisor.timeout_s: it must cover loading the model and writing the draft"
        elif isinstance(exc, ConnectionError | httpx.ConnectError):
            why = f"{where} is not reachable (connection refused or no such host)"
            hint = f"install and start Ollama (`ollama serve`), then `{pull}`; or set supervisor.host (OLLAMA_HOST)"
        elif isinstance(exc, ValueError):
            why, hint = f"{where} sent a reply that is not Ollama's JSON", "check supervisor.host"
        else:
            why, hint = f"{where}: {type(exc).__name__}: {exc}"[:300], ""
        return DrafterUnavailable(self._scrub(why), self._scrub(hint))

    def _scrub(self, text: str) -> str:
        text = redact(text)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text
