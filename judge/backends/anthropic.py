"""Anthropic's Messages API as a judge, on the official async ``anthropic`` SDK.

System messages go into the ``system`` field, marked with ``cache_control`` (prompt
caching) so that a judge's long shared instructions are billed at the cache-read price
after the first request; the provider only caches prompts above a minimum length
(1,024 tokens on most models), and shorter ones are simply billed as usual. The API
has no token log-probabilities, so verdicts are always parsed from the reply text.
A request with a JSON schema is answered through a forced tool call whose input is
the JSON object (``-J structured_output=off`` sends no tool).

The SDK's own retries are off: the runner's caller retries, guided by the
``retryable`` and ``retry_after`` fields set on every error (429, 5xx and 529
"overloaded" are retryable; 400, 401, 403, 404 stop the run).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, cast

import anthropic
from pydantic import JsonValue

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.backends.http_common import (
    BatchPoll,
    HTTPBackendOptions,
    RateLimiter,
    error_message,
    estimate_tokens,
    is_local_url,
    public_url,
    resolve_api_key,
    split_declared,
    status_error,
    transient_error,
)
from judge.errors import BackendError, ConfigError, FatalBackendError
from judge.prices import PriceTable, load_prices

log = logging.getLogger(__name__)

ANTHROPIC_URL = "https://api.anthropic.com"

_TOOL_NAME = "record_judgment"


class AnthropicBackend(Backend):
    """Messages from Anthropic's API (or a server speaking its format)."""

    name: ClassVar[str] = "anthropic"

    class Options(HTTPBackendOptions):
        api_key_env: str = "ANTHROPIC_API_KEY"
        """Environment variable holding the key; ``""`` for a server that needs none."""
        prompt_cache: bool = True
        """Mark the system prompt with ``cache_control`` (prompt caching)."""
        structured_output: Literal["tool", "off"] = "tool"
        """How a request's JSON schema is honoured: a forced tool call, or not at all."""
        send_temperature: bool | Literal["auto"] = "auto"
        """Send the request's ``temperature`` (the SDK no longer declares it, so it travels
        as an extra field); auto: stop sending it once the API rejects it for this model."""

    @property
    def opts(self) -> AnthropicBackend.Options:
        """The options, typed as this backend's own model."""
        return cast(AnthropicBackend.Options, self.options)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        opts = self.opts
        if not opts.model:
            raise ConfigError(f"backend {self.name!r} needs a model: -J model=NAME")
        self.base_url = (opts.base_url or ANTHROPIC_URL).rstrip("/")
        self._api_key = resolve_api_key(opts.api_key_env, base_url=opts.base_url, backend=self.name)
        self.max_concurrency = opts.max_connections
        self.limiter = RateLimiter(opts.rpm, opts.tpm)
        self.where = public_url(self.base_url)
        self.prices: PriceTable = load_prices(opts.prices)
        if not is_local_url(self.base_url) and self.prices.lookup(opts.model) is None:
            log.warning(
                "no price for model %r: its cost counts as 0 (see judge.prices)", opts.model
            )
        self._temperature_refused = False
        self._client: anthropic.AsyncAnthropic | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never show the key
        return f"AnthropicBackend(model={self.opts.model!r}, base_url={self.where!r})"

    def spec(self) -> dict[str, JsonValue]:
        opts = self.opts
        return {
            "backend": self.name,
            "model": opts.model,
            "base_url": self.where,
            "structured_output": opts.structured_output,
            "send_temperature": opts.send_temperature,
            "extra_body": opts.extra_body,
        }

    # -- client --------------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def _ensure_client(self) -> anthropic.AsyncAnthropic:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._client is None:
            self._client = self.make_client()
            self._loop = loop
        return self._client

    def make_client(self) -> anthropic.AsyncAnthropic:
        """An SDK client on the aiohttp transport, with the SDK's retries off."""
        import httpx2

        limits = httpx2.Limits(
            max_connections=self.opts.max_connections,
            max_keepalive_connections=self.opts.max_connections,
        )
        timeout = self.opts.timeout
        try:
            http_client = anthropic.DefaultAioHttpClient(limits=limits, timeout=timeout)
        except RuntimeError:  # the SDK's aiohttp extra is missing: its default transport
            http_client = anthropic.DefaultAsyncHttpxClient(limits=limits, timeout=timeout)
        return anthropic.AsyncAnthropic(
            api_key=self._api_key,
            base_url=self.base_url,
            max_retries=0,
            timeout=timeout,
            http_client=http_client,
        )

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.close()

    # -- requests ------------------------------------------------------------------------

    def sends_temperature(self) -> bool:
        mode = self.opts.send_temperature
        return mode is True or (mode == "auto" and not self._temperature_refused)

    def request_params(
        self, request: CompletionRequest, *, temperature: bool | None = None
    ) -> dict[str, Any]:
        """The Messages API parameters for ``request``."""
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        params: dict[str, Any] = {
            "model": self.opts.model,
            "max_tokens": request.max_tokens,
            "messages": [
                {"role": m.role, "content": m.content}
                for m in request.messages
                if m.role != "system"
            ],
        }
        if self.sends_temperature() if temperature is None else temperature:
            params["temperature"] = request.temperature
        if system:
            if self.opts.prompt_cache:
                params["system"] = [
                    {"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}
                ]
            else:
                params["system"] = system
        if request.stop:
            params["stop_sequences"] = list(request.stop)
        if request.json_schema is not None and self.opts.structured_output == "tool":
            params["tools"] = [
                {
                    "name": _TOOL_NAME,
                    "description": "Record the judgment.",
                    "input_schema": request.json_schema,
                }
            ]
            params["tool_choice"] = {"type": "tool", "name": _TOOL_NAME}
        params.update(self.opts.extra_body)
        return params

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        client = self._ensure_client()
        if len(requests) == 1:  # the usual case: no task to schedule
            return [await self._complete_one(client, requests[0])]
        return list(await asyncio.gather(*(self._complete_one(client, r) for r in requests)))

    async def _complete_one(
        self, client: anthropic.AsyncAnthropic, request: CompletionRequest
    ) -> Completion | BackendError:
        if self.limiter.active:
            texts = [m.content for m in request.messages]
            await self.limiter.acquire(estimate_tokens(texts) + request.max_tokens)
        with_temperature = self.sends_temperature()
        result = await self._post(
            client, self.request_params(request, temperature=with_temperature)
        )
        if (
            isinstance(result, FatalBackendError)
            and with_temperature
            and self.opts.send_temperature == "auto"
            and "temperature" in str(result).lower()
        ):
            log.warning("%s rejects temperature (%s); no longer sending it", self.where, result)
            self._temperature_refused = True
            result = await self._post(client, self.request_params(request, temperature=False))
        return result

    async def _post(
        self, client: anthropic.AsyncAnthropic, params: dict[str, Any]
    ) -> Completion | BackendError:
        # Fields the SDK does not declare (temperature, extra_body) travel as extra body.
        declared, extra = split_declared(client.messages.create, params)
        started = time.perf_counter()
        try:
            raw = await client.messages.with_raw_response.create(
                **declared, extra_body=extra or None
            )
            data = raw.http_response.json()
        except anthropic.APIStatusError as exc:
            return self.sdk_status_error(exc)
        except anthropic.APITimeoutError:
            return transient_error(
                "timeout", f"no reply within {self.opts.timeout} s", where=self.where
            )
        except anthropic.APIConnectionError as exc:
            return transient_error(
                "connection error",
                str(exc.__cause__ or exc),
                where=self.where,
                secrets=self._secrets(),
            )
        except anthropic.APIResponseValidationError as exc:
            return transient_error("malformed response", str(exc), where=self.where)
        except ValueError as exc:  # json.JSONDecodeError: a malformed body
            return transient_error("malformed response", str(exc), where=self.where)
        latency = time.perf_counter() - started
        try:
            return self.completion_from_json(data, latency=latency)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            return transient_error(
                "malformed response", f"{type(exc).__name__}: {exc}", where=self.where
            )

    def sdk_status_error(self, exc: anthropic.APIStatusError) -> BackendError:
        message, code = error_message(exc.body, exc.message)
        return status_error(
            exc.status_code,
            message,
            headers=exc.response.headers,
            where=self.where,
            code=code,
            secrets=self._secrets(),
        )

    def completion_from_json(
        self, data: Mapping[str, Any], *, latency: float, batch: bool = False
    ) -> Completion:
        """A :class:`Completion` from a Messages API JSON body (raises on a malformed one)."""
        import json

        parts: list[str] = []
        for block in data["content"]:
            if block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_use" and block.get("name") == _TOOL_NAME:
                parts.append(json.dumps(block.get("input", {}), ensure_ascii=False))
        usage = data.get("usage") or {}
        uncached = int(usage.get("input_tokens") or 0)
        cache_write = int(usage.get("cache_creation_input_tokens") or 0)
        cache_read = int(usage.get("cache_read_input_tokens") or 0)
        tokens_out = int(usage.get("output_tokens") or 0)
        cost = self.prices.cost(
            self.opts.model,
            tokens_in=uncached,
            tokens_out=tokens_out,
            cached_in=cache_read,
            cache_write=cache_write,
            batch=batch,
        )
        return Completion(
            text="".join(parts),
            tokens_in=uncached + cache_write + cache_read,
            tokens_out=tokens_out,
            latency_s=latency,
            cost=cost,
            finish_reason=data.get("stop_reason"),
        )

    # -- Message Batches (see judge.batch) -----------------------------------------------

    batch_provider: ClassVar[str] = "anthropic"

    def batch_line(self, request: CompletionRequest, custom_id: str) -> dict[str, Any]:
        """One request of a Message Batch."""
        return {"custom_id": custom_id, "params": self.request_params(request)}

    async def submit_batch(
        self, lines: Sequence[Mapping[str, Any]], *, metadata: Mapping[str, str]
    ) -> str:
        """Create a Message Batch; return its id (``metadata`` is not sent: the API has none)."""
        client = self._ensure_client()
        try:
            batch = await client.messages.batches.create(requests=list(lines))  # type: ignore[arg-type]
        except anthropic.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except anthropic.APIConnectionError as exc:
            raise transient_error(
                "connection error", str(exc.__cause__ or exc), where=self.where
            ) from None
        return batch.id

    async def poll_batch(self, batch_id: str) -> BatchPoll:
        """Where a batch stands."""
        client = self._ensure_client()
        try:
            batch = await client.messages.batches.retrieve(batch_id)
        except anthropic.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except anthropic.APIConnectionError as exc:
            raise transient_error(
                "connection error", str(exc.__cause__ or exc), where=self.where
            ) from None
        counts = batch.request_counts.model_dump()
        state: Literal["running", "ended"] = (
            "ended" if batch.processing_status == "ended" else "running"
        )
        return BatchPoll(state, counts, batch.processing_status)

    async def batch_results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> dict[str, Completion | BackendError]:
        """Every result of an ended batch by custom id; lines it lacks become retryable errors."""
        client = self._ensure_client()
        out: dict[str, Completion | BackendError] = {}
        try:
            decoder = await client.messages.batches.results(batch_id)
            async for line in decoder:
                if line.custom_id not in requests:
                    continue
                result = line.result
                if result.type == "succeeded":
                    try:
                        out[line.custom_id] = self.completion_from_json(
                            result.message.model_dump(), latency=0.0, batch=True
                        )
                    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
                        out[line.custom_id] = transient_error("malformed batch result", str(exc))
                elif result.type == "errored":
                    payload = result.error.model_dump()
                    message, code = error_message(payload, "batch request errored")
                    retryable = code != "invalid_request_error"
                    text = f"batch request errored ({code}): {message}"
                    out[line.custom_id] = BackendError(text, retryable=retryable)
                else:  # canceled or expired: never processed
                    out[line.custom_id] = BackendError(
                        f"batch request {result.type}", retryable=True
                    )
        except anthropic.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except anthropic.APIConnectionError as exc:
            raise transient_error(
                "connection error", str(exc.__cause__ or exc), where=self.where
            ) from None
        except anthropic.AnthropicError as exc:  # e.g. no results_url yet
            raise transient_error("batch results unavailable", str(exc), where=self.where) from None
        for custom_id in requests:
            out.setdefault(
                custom_id,
                BackendError(
                    f"batch {batch_id} returned no result for this request", retryable=True
                ),
            )
        return out
