"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, TGI, llama.cpp server) as a judge.

One backend, ``base_url`` chooses the server. Requests go through the official async
``openai`` SDK on its aiohttp transport (about 2.3x the throughput of its default
transport), or, with ``-J transport=aiohttp``, through a lean raw-aiohttp path that
speaks the same wire format with a fraction of the client CPU (see ``bench/``).

Verdict probabilities: when a request names ``choices``, one token is generated with
``logprobs`` and ``top_logprobs`` and :attr:`Completion.choice_probs` holds, per
choice, the summed probability of the listed tokens equal to it after stripping
whitespace ("A" and " A"). With ``logprobs="auto"`` (the default) a server that
refuses logprobs is asked again without them, and the judge parses the text.

The SDK's own retries are off: the runner's caller retries, guided by the
``retryable`` and ``retry_after`` fields this backend sets on every error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, cast

import openai
from pydantic import Field, JsonValue

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.backends.http_common import (
    BatchPoll,
    HTTPBackendOptions,
    RateLimiter,
    choice_probs,
    error_message,
    estimate_tokens,
    is_local_url,
    public_url,
    redact,
    resolve_api_key,
    split_declared,
    status_error,
    transient_error,
)
from judge.errors import BackendError, ConfigError, FatalBackendError
from judge.prices import PriceTable, load_prices

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"


class OpenAIBackend(Backend):
    """Chat completions from OpenAI or any OpenAI-compatible server."""

    name: ClassVar[str] = "openai"

    class Options(HTTPBackendOptions):
        api_key_env: str = "OPENAI_API_KEY"
        """Environment variable holding the key; ``""`` for a server that needs none."""
        logprobs: bool | Literal["auto"] = "auto"
        """Ask for verdict-token logprobs when a request names choices (auto: fall back to
        text when the server refuses them)."""
        top_logprobs: int = Field(default=20, ge=1, le=20)
        """How many alternatives to list at the verdict position."""
        structured_output: Literal["json_schema", "json_object", "off"] = "json_schema"
        """How a request's JSON schema is sent: ``response_format`` json_schema (OpenAI,
        vLLM), json_object (servers with JSON mode only), or not at all."""
        strict_schema: bool = False
        """Send ``strict: true`` with a JSON schema (OpenAI's strict structured outputs)."""
        max_tokens_field: Literal["auto", "max_tokens", "max_completion_tokens"] = "auto"
        """Name of the length limit (auto: max_completion_tokens for OpenAI's API, which
        newer models require, max_tokens for other servers)."""
        transport: Literal["sdk", "aiohttp"] = "sdk"
        """``sdk``: the openai SDK on aiohttp; ``aiohttp``: a lean raw-HTTP path."""

    @property
    def opts(self) -> OpenAIBackend.Options:
        """The options, typed as this backend's own model."""
        return cast(OpenAIBackend.Options, self.options)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        opts = self.opts
        if not opts.model:
            raise ConfigError(f"backend {self.name!r} needs a model: -J model=NAME")
        self.base_url = (opts.base_url or OPENAI_URL).rstrip("/")
        self._api_key = resolve_api_key(opts.api_key_env, base_url=opts.base_url, backend=self.name)
        self.max_concurrency = opts.max_connections
        self.limiter = RateLimiter(opts.rpm, opts.tpm)
        self.where = public_url(self.base_url)
        self.local = is_local_url(self.base_url)
        self.prices: PriceTable = load_prices(opts.prices)
        if not self.local and self.prices.lookup(opts.model) is None:
            log.warning(
                "no price for model %r: its cost counts as 0 (see judge.prices)", opts.model
            )
        if opts.max_tokens_field == "auto":
            official = opts.base_url is None or "api.openai.com" in self.base_url
            self.max_tokens_field = "max_completion_tokens" if official else "max_tokens"
        else:
            self.max_tokens_field = opts.max_tokens_field
        self._logprobs_refused = False
        self._client: openai.AsyncOpenAI | None = None
        self._session: Any = None  # aiohttp.ClientSession for transport="aiohttp"
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIBackend(model={self.opts.model!r}, base_url={self.where!r})"

    # -- spec ----------------------------------------------------------------------------

    def spec(self) -> dict[str, JsonValue]:
        opts = self.opts
        return {
            "backend": self.name,
            "model": opts.model,
            "base_url": self.where,
            "logprobs": opts.logprobs,
            "top_logprobs": opts.top_logprobs,
            "structured_output": opts.structured_output,
            "strict_schema": opts.strict_schema,
            "extra_body": opts.extra_body,
        }

    # -- clients -------------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def _ensure_clients(self, *, sdk: bool = False) -> None:
        """Make the clients in the running loop (they are bound to the loop they are made in)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._client = None
            self._session = None
            self._loop = loop
        if self.opts.transport == "aiohttp" and not sdk:
            if self._session is None:
                import aiohttp

                connector = aiohttp.TCPConnector(limit=self.opts.max_connections)
                self._session = aiohttp.ClientSession(
                    connector=connector,
                    timeout=aiohttp.ClientTimeout(total=self.opts.timeout),
                    headers={"Authorization": f"Bearer {self._api_key}"},
                )
        elif self._client is None:
            self._client = self.make_client()

    def make_client(self) -> openai.AsyncOpenAI:
        """An SDK client on the aiohttp transport, with the SDK's retries off."""
        import httpx2

        limits = httpx2.Limits(
            max_connections=self.opts.max_connections,
            max_keepalive_connections=self.opts.max_connections,
        )
        try:
            http_client = openai.DefaultAioHttpClient(limits=limits, timeout=self.opts.timeout)
        except RuntimeError:  # the SDK's aiohttp extra is missing: its default transport
            http_client = openai.DefaultAsyncHttpxClient(limits=limits, timeout=self.opts.timeout)
        return openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            max_retries=0,
            timeout=self.opts.timeout,
            http_client=http_client,
        )

    async def aclose(self) -> None:
        client, session = self._client, self._session
        self._client = self._session = None
        self._loop = None
        if client is not None:
            await client.close()
        if session is not None:
            await session.close()

    # -- requests ------------------------------------------------------------------------

    def wants_logprobs(self, request: CompletionRequest) -> bool:
        if request.choices is None or self.opts.logprobs is False:
            return False
        return not (self.opts.logprobs == "auto" and self._logprobs_refused)

    def request_body(
        self, request: CompletionRequest, *, logprobs: bool | None = None
    ) -> dict[str, Any]:
        """The chat-completions JSON body for ``request``."""
        body: dict[str, Any] = {
            "model": self.opts.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            self.max_tokens_field: request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.seed is not None:
            body["seed"] = request.seed
        if self.wants_logprobs(request) if logprobs is None else logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.opts.top_logprobs
        if request.json_schema is not None and request.choices is None:
            mode = self.opts.structured_output
            if mode == "json_schema":
                schema: dict[str, Any] = {"name": "judgment", "schema": request.json_schema}
                if self.opts.strict_schema:
                    schema["strict"] = True
                body["response_format"] = {"type": "json_schema", "json_schema": schema}
            elif mode == "json_object":
                body["response_format"] = {"type": "json_object"}
        body.update(self.opts.extra_body)
        return body

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        self._ensure_clients()
        if len(requests) == 1:  # the usual case: no task to schedule
            return [await self._complete_one(requests[0])]
        return list(await asyncio.gather(*(self._complete_one(r) for r in requests)))

    async def _complete_one(self, request: CompletionRequest) -> Completion | BackendError:
        if self.limiter.active:
            texts = [m.content for m in request.messages]
            await self.limiter.acquire(estimate_tokens(texts) + request.max_tokens)
        asked_logprobs = self.wants_logprobs(request)
        body = self.request_body(request, logprobs=asked_logprobs)
        result = await self._post(body, request)
        if (
            isinstance(result, FatalBackendError)
            and asked_logprobs
            and self.opts.logprobs == "auto"
            and "logprob" in str(result).lower()
        ):
            # The server refuses logprobs for this model: judge by text from now on.
            log.warning("%s refuses logprobs (%s); parsing reply text instead", self.where, result)
            self._logprobs_refused = True
            result = await self._post(self.request_body(request, logprobs=False), request)
        return result

    async def _post(
        self, body: dict[str, Any], request: CompletionRequest
    ) -> Completion | BackendError:
        started = time.perf_counter()
        try:
            if self.opts.transport == "aiohttp":
                data = await self._post_raw(body)
            else:
                data = await self._post_sdk(body)
        except BackendError as exc:
            return exc
        latency = time.perf_counter() - started
        try:
            return self.completion_from_json(data, request, latency=latency)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            return transient_error(
                "malformed response", f"{type(exc).__name__}: {exc}", where=self.where
            )

    async def _post_sdk(self, body: dict[str, Any]) -> Any:
        assert self._client is not None
        try:
            create = self._client.chat.completions.with_raw_response.create
            declared, extra = split_declared(self._client.chat.completions.create, body)
            raw = await create(**declared, extra_body=extra or None)
            return raw.http_response.json()
        except openai.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except openai.APITimeoutError:
            raise transient_error(
                "timeout", f"no reply within {self.opts.timeout} s", where=self.where
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            raise transient_error(
                "connection error", str(cause), where=self.where, secrets=self._secrets()
            ) from None
        except openai.APIResponseValidationError as exc:
            raise transient_error("malformed response", str(exc), where=self.where) from None
        except ValueError as exc:  # json.JSONDecodeError: a malformed body
            raise transient_error("malformed response", str(exc), where=self.where) from None

    def sdk_status_error(self, exc: openai.APIStatusError) -> BackendError:
        message, code = error_message(exc.body, exc.message)
        return status_error(
            exc.status_code,
            message,
            headers=exc.response.headers,
            where=self.where,
            code=code,
            secrets=self._secrets(),
        )

    async def _post_raw(self, body: dict[str, Any]) -> Any:
        import aiohttp

        assert self._session is not None
        try:
            async with self._session.post(f"{self.base_url}/chat/completions", json=body) as resp:
                payload = await resp.read()
                if resp.status >= 400:
                    parsed: Any
                    try:
                        parsed = json.loads(payload)
                    except ValueError:
                        parsed = payload.decode("utf-8", "replace")
                    message, code = error_message(parsed, resp.reason or "")
                    raise status_error(
                        resp.status,
                        message,
                        headers=resp.headers,
                        where=self.where,
                        code=code,
                        secrets=self._secrets(),
                    )
        except TimeoutError:
            raise transient_error(
                "timeout", f"no reply within {self.opts.timeout} s", where=self.where
            ) from None
        except aiohttp.ClientError as exc:
            raise transient_error(
                "connection error",
                f"{type(exc).__name__}: {exc}",
                where=self.where,
                secrets=self._secrets(),
            ) from None
        try:
            return json.loads(payload)
        except ValueError as exc:
            raise transient_error("malformed response", str(exc), where=self.where) from None

    # -- responses -----------------------------------------------------------------------

    def completion_from_json(
        self,
        data: Mapping[str, Any],
        request: CompletionRequest,
        *,
        latency: float,
        batch: bool = False,
    ) -> Completion:
        """A :class:`Completion` from a chat-completion JSON body (raises on a malformed one)."""
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
        probs: dict[str, float] | None = None
        if request.choices is not None:
            logprobs = choice.get("logprobs") or {}
            content = logprobs.get("content") or []
            if content:
                first = content[0]
                top = [(t["token"], float(t["logprob"])) for t in first.get("top_logprobs") or []]
                probs = choice_probs(
                    top, request.choices, sampled=(first["token"], float(first["logprob"]))
                )
        usage = data.get("usage") or {}
        tokens_in = int(usage.get("prompt_tokens") or 0)
        tokens_out = int(usage.get("completion_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        cached = int(details.get("cached_tokens") or 0)
        cost = self.prices.cost(
            self.opts.model,
            tokens_in=tokens_in - cached,
            tokens_out=tokens_out,
            cached_in=cached,
            batch=batch,
        )
        return Completion(
            text=text,
            choice_probs=probs,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_s=latency,
            cost=cost,
            finish_reason=choice.get("finish_reason"),
        )

    # -- Batch API (see judge.batch) ----------------------------------------------------

    batch_provider: ClassVar[str] = "openai"

    def batch_line(self, request: CompletionRequest, custom_id: str) -> dict[str, Any]:
        """One line of a Batch API input file."""
        return {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": self.request_body(request),
        }

    async def submit_batch(
        self, lines: Sequence[Mapping[str, Any]], *, metadata: Mapping[str, str]
    ) -> str:
        """Upload the input file and create the batch; return its id."""
        self._ensure_clients(sdk=True)
        assert self._client is not None
        blob = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode(
            "utf-8"
        )
        try:
            upload = await self._client.files.create(
                file=("judge-batch.jsonl", blob, "application/jsonl"), purpose="batch"
            )
            batch = await self._client.batches.create(
                input_file_id=upload.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata=dict(metadata),
            )
        except openai.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except openai.APIConnectionError as exc:
            raise transient_error(
                "connection error", str(exc.__cause__ or exc), where=self.where
            ) from None
        return batch.id

    async def poll_batch(self, batch_id: str) -> BatchPoll:
        """Where a batch stands."""
        self._ensure_clients(sdk=True)
        assert self._client is not None
        try:
            batch = await self._client.batches.retrieve(batch_id)
        except openai.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except openai.APIConnectionError as exc:
            raise transient_error(
                "connection error", str(exc.__cause__ or exc), where=self.where
            ) from None
        counts = batch.request_counts.model_dump() if batch.request_counts is not None else {}
        if batch.status == "failed":
            errors = batch.errors.data or [] if batch.errors is not None else []
            detail = "; ".join(str(e.message) for e in errors if e.message)
            return BatchPoll("failed", counts, redact(detail, self._secrets()))
        if batch.status in ("completed", "expired", "cancelled"):
            return BatchPoll("ended", counts, batch.status)
        return BatchPoll("running", counts, batch.status)

    async def batch_results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> dict[str, Completion | BackendError]:
        """Every result of an ended batch by custom id; lines it lacks become retryable errors."""
        self._ensure_clients(sdk=True)
        assert self._client is not None
        out: dict[str, Completion | BackendError] = {}
        try:
            batch = await self._client.batches.retrieve(batch_id)
            for file_id in (batch.output_file_id, batch.error_file_id):
                if not file_id:
                    continue
                content = await self._client.files.content(file_id)
                for line in content.text.splitlines():
                    if line.strip():
                        self._batch_result_line(json.loads(line), requests, out)
        except openai.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except openai.APIConnectionError as exc:
            raise transient_error(
                "connection error", str(exc.__cause__ or exc), where=self.where
            ) from None
        except ValueError as exc:
            raise transient_error("malformed batch output", str(exc), where=self.where) from None
        for custom_id in requests:
            out.setdefault(
                custom_id,
                BackendError(
                    f"batch {batch_id} returned no result for this request", retryable=True
                ),
            )
        return out

    def _batch_result_line(
        self,
        line: Mapping[str, Any],
        requests: Mapping[str, CompletionRequest],
        out: dict[str, Completion | BackendError],
    ) -> None:
        custom_id = str(line.get("custom_id"))
        request = requests.get(custom_id)
        if request is None:
            return  # not ours (or from an older submission of the same batch file)
        response = line.get("response") or {}
        status = int(response.get("status_code") or 0)
        if line.get("error") or status != 200:
            message, code = error_message(
                response.get("body") or line.get("error"), "batch request failed"
            )
            err = status_error(
                status or 500, message, where=self.where, code=code, secrets=self._secrets()
            )
            # Within a batch no error stops the run: a rerun resubmits what is retryable.
            out[custom_id] = BackendError(str(err), retryable=err.retryable)
            return
        try:
            out[custom_id] = self.completion_from_json(
                response["body"], request, latency=0.0, batch=True
            )
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            out[custom_id] = transient_error(
                "malformed batch result", f"{type(exc).__name__}: {exc}"
            )
