"""The Summarizer port on a model served by Ollama, through the judge's client (``ollama_client``).

One streamed ``/api/chat`` per summary (so ``timeout_s`` means "no progress for that long", as
for the judge), temperature 0 and a bounded answer. No retries: a summary is a nicety at the end
of a day, and the report has its rules without it. Whatever goes wrong comes back as
``SummaryUnavailable`` with a reason free of credentials and a hint; nothing is raised.
"""

from __future__ import annotations

import httpx
import ollama

from adapters.ollama.reach import START_OLLAMA
from adapters.ollama.supervisor import CLIENT_ERRORS, DEFAULT_MODEL
from orchcore.ports.summarizer import Summary, SummaryRequest, SummaryUnavailable
from orchcore.redact import redact

SUMMARY_TOKENS = 600  # num_predict: a dozen lines of markdown


class OllamaSummarizer:
    """Satisfies orchcore.ports.Summarizer with ``model`` on the server ``client`` talks to."""

    def __init__(
        self,
        client: ollama.Client,
        model: str = DEFAULT_MODEL,
        *,
        host: str = "",
        max_tokens: int = SUMMARY_TOKENS,
    ) -> None:
        self._client = client
        self.model = model
        self._max_tokens = max_tokens
        self._host = redact(host) or "Ollama"

    def __repr__(self) -> str:
        return f"OllamaSummarizer(model={self.model!r}, host={self._host!r})"

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]  # ollama's close() is unannotated

    def summarize(self, request: SummaryRequest) -> Summary | SummaryUnavailable:
        messages = [
            {"role": "system", "content": request.system},
            {"role": "user", "content": request.prompt},
        ]
        parts: list[str] = []
        done = False
        try:
            for part in self._client.chat(
                self.model,
                messages,
                stream=True,
                options={"temperature": 0, "num_predict": self._max_tokens},
            ):
                parts.append(part.message.content or "")
                done = done or bool(part.done)
        except CLIENT_ERRORS as exc:
            return self._unavailable(exc)
        text = "".join(parts).strip()
        if not done:
            return SummaryUnavailable(f"{self._where} ended its answer before the last line")
        if not text:
            return SummaryUnavailable(f"{self.model} on {self._where} answered with no text")
        return Summary(text, self.model)

    @property
    def _where(self) -> str:
        return f"Ollama at {self._host}"

    def _unavailable(self, exc: Exception) -> SummaryUnavailable:
        if isinstance(exc, ollama.ResponseError):
            status, error = exc.status_code, redact(str(exc.error))[:300]
            if status == 404 and "model" in error:
                return SummaryUnavailable(
                    f"model {self.model!r} is not pulled on {self._where}", hint=f"ollama pull {self.model}"
                )
            return SummaryUnavailable(f"{self._where} answered HTTP {status}: {error}")
        if isinstance(exc, httpx.TimeoutException):
            return SummaryUnavailable(
                f"{self._where} timed out ({type(exc).__name__})", hint="raise supervisor.timeout_s"
            )
        if isinstance(exc, ConnectionError | httpx.ConnectError):
            return SummaryUnavailable(
                f"{self._where} is not reachable (connection refused)", hint=START_OLLAMA
            )
        return SummaryUnavailable(f"{self._where}: {type(exc).__name__}: {redact(str(exc))}"[:300])
