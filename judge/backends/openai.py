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

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from pydantic import Field

from judge.backends.base import BatchPoll, BatchResults, Completion, CompletionRequest, ListedBatch
from judge.backends.http_common import (
    MALFORMED,
    HTTPBackend,
    HTTPBackendOptions,
    choice_probs,
    error_message,
    redact,
    split_declared,
    status_error,
    transient_error,
)
from judge.errors import BackendError, FatalBackendError

if TYPE_CHECKING:  # the SDK is imported on first use (HTTPBackend.sdk_module)
    from openai import AsyncOpenAI  # noqa: F401 - named in the base class below

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"


class OpenAIBackend(HTTPBackend["AsyncOpenAI"]):
    """Chat completions from OpenAI or any OpenAI-compatible server."""

    name: ClassVar[str] = "openai"
    default_url: ClassVar[str] = OPENAI_URL
    default_context_window: ClassVar[int | None] = 128_000
    sdk_name: ClassVar[str] = "openai"
    sdk_client_name: ClassVar[str] = "AsyncOpenAI"
    spec_fields: ClassVar[tuple[str, ...]] = (
        "logprobs",
        "top_logprobs",
        "structured_output",
        "strict_schema",
    )

    class Options(HTTPBackendOptions):
        api_key_env: str = "OPENAI_API_KEY"
        """Environment variable holding the key; ``""`` for a server that needs none."""
        logprobs: bool | Literal["auto"] = "auto"
        """Ask for verdict-token logprobs when a request names choices (auto: fall back to
        text when the server refuses them)."""
        top_logprobs: int = Field(default=20, ge=1, le=20)
        """How many alternatives to list at the verdict position."""
        structured_output: Literal["json_schema", "json_object", "json_object_schema", "off"] = (
            "json_schema"
        )
        """How a request's JSON schema is sent: ``response_format`` json_schema (OpenAI,
        vLLM), json_object (servers with JSON mode only), json_object_schema
        (``{"type": "json_object", "schema": ...}``: llama-cpp-python's server, which
        refuses the json_schema type), or not at all."""
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
        if opts.max_tokens_field == "auto":
            official = opts.base_url is None or "api.openai.com" in self.base_url
            self.max_tokens_field = "max_completion_tokens" if official else "max_tokens"
        else:
            self.max_tokens_field = opts.max_tokens_field
        self._logprobs_refused = False
        self._session: Any = None  # aiohttp.ClientSession for transport="aiohttp"

    # -- clients -------------------------------------------------------------------------

    def _forget_clients(self) -> None:
        super()._forget_clients()
        self._session = None

    def _prepare_clients(self) -> None:
        self._ensure_clients()

    def _ensure_clients(self, *, sdk: bool = False) -> None:
        """Make the clients in the running loop (they are bound to the loop they are made in)."""
        if self.opts.transport == "aiohttp" and not sdk:
            self._bind_loop()
            if self._session is None:
                import aiohttp

                connector = aiohttp.TCPConnector(limit=self.opts.max_connections)
                self._session = aiohttp.ClientSession(
                    connector=connector,
                    timeout=aiohttp.ClientTimeout(total=self.opts.timeout),
                    headers={"Authorization": f"Bearer {self._api_key}"},
                )
        else:
            self._ensure_client()

    async def aclose(self) -> None:
        session, self._session = self._session, None
        await super().aclose()
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
            elif mode == "json_object_schema":
                body["response_format"] = {"type": "json_object", "schema": request.json_schema}
        body.update(self.opts.extra_body)
        return body

    def _sends_optional(self, request: CompletionRequest) -> bool:
        return self.wants_logprobs(request)

    def _payload(self, request: CompletionRequest, *, optional: bool) -> dict[str, Any]:
        return self.request_body(request, logprobs=optional)

    def _drop_optional(self, error: FatalBackendError) -> bool:
        if self.opts.logprobs != "auto" or "logprob" not in str(error).lower():
            return False
        # The server refuses logprobs for this model: judge by text from now on.
        if not self._logprobs_refused:  # once, not once per batch line
            log.warning("%s refuses logprobs (%s); parsing reply text instead", self.where, error)
        self._logprobs_refused = True
        return True

    async def _fetch(self, payload: dict[str, Any]) -> Any:
        if self.opts.transport == "aiohttp":
            return await self._post_raw(payload)
        return await self._post_sdk(payload)

    def _reply(
        self, data: Mapping[str, Any], request: CompletionRequest, *, latency: float
    ) -> Completion:
        return self.completion_from_json(data, request, latency=latency)

    async def _post_sdk(self, body: dict[str, Any]) -> Any:
        assert self._client is not None
        with self._request_errors():
            create = self._client.chat.completions.with_raw_response.create
            declared, extra = split_declared(self._client.chat.completions.create, body)
            raw = await create(**declared, extra_body=extra or None)
            return raw.http_response.json()

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
        cost = self._cost(
            uncached=tokens_in - cached, tokens_out=tokens_out, cached=cached, batch=batch
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
        client = self._ensure_client()
        blob = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode(
            "utf-8"
        )
        with self._batch_errors():
            upload = await client.files.create(
                file=("judge-batch.jsonl", blob, "application/jsonl"), purpose="batch"
            )
            batch = await client.batches.create(
                input_file_id=upload.id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata=dict(metadata),
            )
        return batch.id

    async def poll_batch(self, batch_id: str) -> BatchPoll:
        """Where a batch stands (``lost`` when the provider answers 404 for its id)."""
        client = self._ensure_client()
        with self._batch_errors():
            try:
                batch = await client.batches.retrieve(batch_id)
            except self.sdk_module.NotFoundError as exc:
                return BatchPoll("lost", {}, str(self.sdk_status_error(exc)))
        counts = batch.request_counts.model_dump() if batch.request_counts is not None else {}
        if batch.status == "failed":
            errors = batch.errors.data or [] if batch.errors is not None else []
            detail = "; ".join(str(e.message) for e in errors if e.message)
            return BatchPoll("failed", counts, redact(detail, self._secrets()))
        if batch.status in ("completed", "expired", "cancelled"):
            return BatchPoll("ended", counts, batch.status)
        return BatchPoll("running", counts, batch.status)

    async def list_batches(self, *, since: datetime) -> list[ListedBatch]:
        """The account's batches created at or after ``since``, newest first."""
        client = self._ensure_client()
        out: list[ListedBatch] = []
        with self._batch_errors():
            async for batch in client.batches.list(limit=100):
                created = datetime.fromtimestamp(batch.created_at, UTC)
                if created < since:
                    break  # the list is newest first
                total = batch.request_counts.total if batch.request_counts is not None else 0
                metadata = {str(k): str(v) for k, v in (batch.metadata or {}).items()}
                out.append(ListedBatch(batch.id, created, total, metadata))
        return out

    async def batch_request_keys(self, batch_id: str) -> frozenset[str] | None:
        """The custom ids of a batch's input file."""
        client = self._ensure_client()
        try:
            with self._batch_errors():
                batch = await client.batches.retrieve(batch_id)
                content = await client.files.content(batch.input_file_id)
            return frozenset(
                str(json.loads(line).get("custom_id"))
                for line in content.text.splitlines()
                if line.strip()
            )
        except ValueError as exc:
            raise transient_error("malformed batch input", str(exc), where=self.where) from None

    async def batch_results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> BatchResults:
        """Every result of an ended batch by custom id; lines it lacks become retryable errors."""
        client = self._ensure_client()
        out = BatchResults()
        try:
            with self._batch_errors():
                batch = await client.batches.retrieve(batch_id)
                # The output file first: a success is kept over a later error line.
                for file_id in (batch.output_file_id, batch.error_file_id):
                    if not file_id:
                        continue
                    content = await client.files.content(file_id)
                    for line in content.text.splitlines():
                        if line.strip():
                            self._batch_result_line(json.loads(line), requests, out)
        except ValueError as exc:
            raise transient_error("malformed batch output", str(exc), where=self.where) from None
        return self._fill_missing(batch_id, requests, out)

    def _batch_result_line(
        self,
        line: Mapping[str, Any],
        requests: Mapping[str, CompletionRequest],
        out: BatchResults,
    ) -> None:
        custom_id = str(line.get("custom_id"))
        request = requests.get(custom_id)
        if request is None:
            out.unknown.append(custom_id)
            return
        response = line.get("response") or {}
        status = int(response.get("status_code") or 0)
        if not response and line.get("error"):  # no reply: expired, cancelled, timed out
            message, code = error_message({"error": line["error"]}, "batch request not run")
            label = {"batch_expired": "expired", "batch_cancelled": "cancelled"}.get(
                code or "", "failed"
            )
            text = redact(f"batch request {label} ({code}): {message}", self._secrets())
            out.add(custom_id, BackendError(text, retryable=True))
            return
        if line.get("error") or status != 200:
            message, code = error_message(
                response.get("body") or line.get("error"), "batch request failed"
            )
            err = status_error(
                status or 500, message, where=self.where, code=code, secrets=self._secrets()
            )
            out.add(custom_id, self._batch_line_error(err))
            return
        try:
            out.add(
                custom_id,
                self.completion_from_json(response["body"], request, latency=0.0, batch=True),
            )
        except MALFORMED as exc:
            out.add(
                custom_id,
                transient_error(
                    "malformed batch result",
                    f"{type(exc).__name__}: {exc}",
                    secrets=self._secrets(),
                ),
            )
