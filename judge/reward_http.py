"""A served reward model as a judge: vLLM's (and SGLang's) classification API.

``judge run -j reward -J base_url=http://HOST:8000 -J model=NAME`` scores each response
with a sequence-classification reward model behind an HTTP server instead of loading
it here. No OpenAI ``/v1/rewards`` standard exists; the common wire format is vLLM's
classification API (``vllm serve Skywork/Skywork-Reward-V2-Qwen3-0.6B`` serves it at
``POST /classify``; SGLang serves the same format at ``/v1/classify``):

- request: ``{"model": NAME, "messages": [...], "use_activation": false}``: the chat form,
  so the *server* applies the model's own chat template (the prompt's turns and the
  response as the assistant turn, no generation prompt), exactly as the local
  ``reward`` judge does with the tokenizer; ``use_activation: false`` asks for the raw
  logit (the default applies a sigmoid to a one-label model: verdicts are the same, the
  Bradley-Terry probabilities are not);
- response: ``{"data": [{"index": 0, "probs": [REWARD], "num_classes": 1, ...}], "usage":
  {"prompt_tokens": N, ...}}``; a model with more than one class is refused.

Each distinct (conversation, response) is scored once per run session (the two orders
of a pair share their scores), ``concurrency`` requests at a time; a transient failure
(connection, timeout, HTTP 429 / 5xx) is retried ``max_retries`` times, then the
judgment is an ``error`` (a rerun retries it); a refusal (HTTP 4xx) stops the run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from pydantic import Field, JsonValue, ValidationError

from judge.errors import BackendError, ConfigError, FatalBackendError, validation_text
from judge.records import PairItem, Record, SingleItem
from judge.scoring import Scorer, ScoringJudge, conversation


class RewardHTTPOptions(Record):
    """``-J`` parameters of the ``reward`` judge in front of a server (``base_url`` set)."""

    base_url: str
    """The server's root, e.g. ``http://127.0.0.1:8000`` (a trailing ``/v1`` is kept)."""
    model: str = ""
    """The served model's name (the request's ``model``; empty: left out)."""
    endpoint: str = "/classify"
    """Path of the classification route below ``base_url`` (SGLang: ``/v1/classify``)."""
    api_key_env: str = ""
    """Environment variable holding a bearer token (empty: none sent)."""
    tie_margin: float = Field(default=0.0, ge=0.0)
    """A pair whose rewards differ by at most this is a tie."""
    raw_scores: bool = True
    """Ask for the raw logit (``use_activation: false``); false: the server's default."""
    concurrency: int = Field(default=8, ge=1)
    """Requests in flight at once."""
    timeout: float = Field(default=120.0, gt=0)
    """Seconds per request."""
    max_retries: int = Field(default=3, ge=0)
    """Retries of a transient failure before the judgment is an error."""
    name: str = "reward"
    """The judge's name in results."""


class RewardHTTPJudge(ScoringJudge):
    """A reward model behind vLLM's classification API, scoring each response once."""

    def __init__(self, options: RewardHTTPOptions) -> None:
        self.options = options
        super().__init__(options.name, options.tie_margin, RewardClient(options))

    def spec(self) -> dict[str, JsonValue]:
        opts = self.options.model_dump(
            mode="json",
            include={"model", "endpoint", "tie_margin", "raw_scores"},
        )
        # the served model decides the scores; where it is served does not
        return {"type": "reward_http", "name": self.name, **opts}

    @property
    def batch_size(self) -> int:
        return 4 * self.options.concurrency

    @property
    def max_concurrency(self) -> int | None:
        return 1  # one evaluate at a time; it runs ``concurrency`` requests itself

    def body(self, item: PairItem | SingleItem, response: str) -> dict[str, Any]:
        """The request body that scores ``response`` to ``item``."""
        body: dict[str, Any] = {"messages": conversation(item, response)}
        if self.options.model:
            body["model"] = self.options.model
        if self.options.raw_scores:
            body["use_activation"] = False
        return body

    def unit(self, item: PairItem | SingleItem, response: str) -> JsonValue:
        return self.body(item, response)


class RewardClient(Scorer):
    """The served reward judge's compute: posts request bodies, ``concurrency`` at a
    time (on a Ray actor, each actor its own client; a lost call is never sent again)."""

    retry_safe = False  # the server may have answered (and billed) it

    def __init__(self, options: RewardHTTPOptions) -> None:
        self.options = options
        self.name = options.name
        self.url = options.base_url.rstrip("/") + "/" + options.endpoint.lstrip("/")
        self._session: Any = None
        self._token: str | None = None

    def replica(self) -> tuple[type[Scorer], dict[str, Any]]:
        return RewardClient, {"options": self.options}

    def prepare(self) -> None:
        if self.options.api_key_env:
            from judge.backends.http_common import resolve_api_key

            self._token = resolve_api_key(
                self.options.api_key_env, base_url=self.options.base_url, backend="reward"
            )

    async def score(self, units: Sequence[JsonValue]) -> list[float | str]:
        limit = asyncio.Semaphore(self.options.concurrency)

        async def one(body: JsonValue) -> float | str:
            async with limit:
                try:
                    return await self._post(body)
                except FatalBackendError:
                    raise
                except BackendError as exc:
                    return str(exc)

        return list(await asyncio.gather(*(one(u) for u in units)))

    async def _post(self, body: JsonValue) -> float:
        import aiohttp

        from judge.backends.http_common import status_error, transient_error

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.options.timeout)
            )
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        secrets = [self._token] if self._token else []
        attempt = 0
        while True:
            try:
                async with self._session.post(self.url, json=body, headers=headers) as resp:
                    text = await resp.text()
                    if resp.status >= 400:
                        raise status_error(
                            resp.status,
                            _error_text(text),
                            headers=dict(resp.headers),
                            where=self.url,
                            secrets=secrets,
                        )
                    return _reward(text, self.url)
            except FatalBackendError:
                raise
            except BackendError as exc:
                error = exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = transient_error(type(exc).__name__, str(exc), where=self.url)
            if not error.retryable or attempt >= self.options.max_retries:
                raise error
            await asyncio.sleep(error.retry_after or 0.5 * 2**attempt)
            attempt += 1

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _error_text(text: str) -> str:
    from judge.backends.http_common import error_message

    try:
        body: Any = json.loads(text)
    except json.JSONDecodeError:
        body = text
    return error_message(body, "no message")[0]


def _reward(text: str, url: str) -> float:
    """The reward in a classification response (one class), else a fatal error.

    >>> _reward('{"data": [{"index": 0, "probs": [1.5], "num_classes": 1}]}', "u")
    1.5
    >>> _reward('{"data": [{"index": 0, "probs": [0.2, 0.8], "num_classes": 2}]}', "u")
    Traceback (most recent call last):
    ...
    judge.errors.FatalBackendError: u: the model has 2 classes; a reward model has one
    """
    try:
        data = json.loads(text)["data"]
        probs = data[0]["probs"]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
        raise FatalBackendError(
            f"{url}: not a classification response ({type(exc).__name__}: {exc}): {text[:200]}"
        ) from None
    if not isinstance(probs, list) or not all(isinstance(p, int | float) for p in probs):
        raise FatalBackendError(f"{url}: 'probs' is not a list of numbers: {text[:200]}")
    if len(probs) != 1:
        raise FatalBackendError(
            f"{url}: the model has {len(probs)} classes; a reward model has one"
        )
    return float(probs[0])


def reward_http_judge(**params: Any) -> RewardHTTPJudge:
    """The ``reward`` judge in front of a server (``-J base_url=...``)."""
    try:
        return RewardHTTPJudge(RewardHTTPOptions(**params))
    except ValidationError as exc:
        raise ConfigError(f"reward judge: {validation_text(exc)}") from exc
