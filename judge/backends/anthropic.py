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

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from judge.backends.base import BatchPoll, BatchResults, Completion, CompletionRequest, ListedBatch
from judge.backends.http_common import (
    MALFORMED,
    HTTPBackend,
    HTTPBackendOptions,
    error_message,
    split_declared,
    transient_error,
)
from judge.errors import BackendError, FatalBackendError

if TYPE_CHECKING:  # the SDK is imported on first use (HTTPBackend.sdk_module)
    from anthropic import AsyncAnthropic  # noqa: F401 - named in the base class below

log = logging.getLogger(__name__)

ANTHROPIC_URL = "https://api.anthropic.com"

_TOOL_NAME = "record_judgment"


class AnthropicBackend(HTTPBackend["AsyncAnthropic"]):
    """Messages from Anthropic's API (or a server speaking its format)."""

    name: ClassVar[str] = "anthropic"
    default_url: ClassVar[str] = ANTHROPIC_URL
    default_context_window: ClassVar[int | None] = 200_000
    sdk_name: ClassVar[str] = "anthropic"
    sdk_client_name: ClassVar[str] = "AsyncAnthropic"
    spec_fields: ClassVar[tuple[str, ...]] = ("structured_output", "send_temperature")

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
        self._temperature_refused = False

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

    def _sends_optional(self, request: CompletionRequest) -> bool:
        return self.sends_temperature()

    def _payload(self, request: CompletionRequest, *, optional: bool) -> dict[str, Any]:
        return self.request_params(request, temperature=optional)

    def _drop_optional(self, error: FatalBackendError) -> bool:
        if self.opts.send_temperature != "auto" or "temperature" not in str(error).lower():
            return False
        if not self._temperature_refused:  # once, not once per batch line
            log.warning("%s rejects temperature (%s); no longer sending it", self.where, error)
        self._temperature_refused = True
        return True

    async def _fetch(self, payload: dict[str, Any]) -> Any:
        client = self._ensure_client()
        # Fields the SDK does not declare (temperature, extra_body) travel as extra body.
        declared, extra = split_declared(client.messages.create, payload)
        with self._request_errors():
            raw = await client.messages.with_raw_response.create(
                **declared, extra_body=extra or None
            )
            return raw.http_response.json()

    def _reply(
        self, data: Mapping[str, Any], request: CompletionRequest, *, latency: float
    ) -> Completion:
        return self.completion_from_json(data, latency=latency)

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
        cost = self._cost(
            uncached=uncached,
            tokens_out=tokens_out,
            cached=cache_read,
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
        with self._batch_errors():
            batch = await client.messages.batches.create(requests=list(lines))  # type: ignore[arg-type]
        return batch.id

    async def poll_batch(self, batch_id: str) -> BatchPoll:
        """Where a batch stands (``lost`` when the provider answers 404 for its id)."""
        client = self._ensure_client()
        with self._batch_errors():
            try:
                batch = await client.messages.batches.retrieve(batch_id)
            except self.sdk_module.NotFoundError as exc:
                return BatchPoll("lost", {}, str(self.sdk_status_error(exc)))
        counts = batch.request_counts.model_dump()
        state: Literal["running", "ended"] = (
            "ended" if batch.processing_status == "ended" else "running"
        )
        return BatchPoll(state, counts, batch.processing_status)

    async def list_batches(self, *, since: datetime) -> list[ListedBatch]:
        """The workspace's batches created at or after ``since``, newest first."""
        client = self._ensure_client()
        out: list[ListedBatch] = []
        with self._batch_errors():
            async for batch in client.messages.batches.list(limit=100):
                created = batch.created_at
                if created.tzinfo is None:
                    created = created.replace(tzinfo=UTC)
                if created < since:
                    break  # the list is newest first
                total = sum(batch.request_counts.model_dump().values())
                out.append(ListedBatch(batch.id, created, total))
        return out

    async def batch_request_keys(self, batch_id: str) -> frozenset[str] | None:
        """The custom ids of an ended batch's results; None while it runs (the API shows
        a batch's requests only through its results)."""
        client = self._ensure_client()
        try:
            with self._batch_errors():
                batch = await client.messages.batches.retrieve(batch_id)
                if batch.processing_status != "ended":
                    return None
                decoder = await client.messages.batches.results(batch_id)
                return frozenset([line.custom_id async for line in decoder])
        except self.sdk_module.AnthropicError as exc:
            raise transient_error(
                "batch results unavailable", str(exc), where=self.where, secrets=self._secrets()
            ) from None

    async def batch_results(
        self, batch_id: str, requests: Mapping[str, CompletionRequest]
    ) -> BatchResults:
        """Every result of an ended batch by custom id; lines it lacks become retryable errors."""
        client = self._ensure_client()
        out = BatchResults()
        try:
            with self._batch_errors():
                decoder = await client.messages.batches.results(batch_id)
                async for line in decoder:
                    if line.custom_id not in requests:
                        out.unknown.append(line.custom_id)
                        continue
                    out.add(line.custom_id, self._batch_result(line.result))
        except self.sdk_module.AnthropicError as exc:  # e.g. no results_url yet
            raise transient_error(
                "batch results unavailable", str(exc), where=self.where, secrets=self._secrets()
            ) from None
        return self._fill_missing(batch_id, requests, out)

    def _batch_result(self, result: Any) -> Completion | BackendError:
        """One result line's outcome; error texts are scrubbed of the key like every path's."""
        if result.type == "succeeded":
            try:
                return self.completion_from_json(
                    result.message.model_dump(), latency=0.0, batch=True
                )
            except MALFORMED as exc:
                return transient_error("malformed batch result", str(exc), secrets=self._secrets())
        if result.type == "errored":
            message, code = error_message(result.error.model_dump(), "batch request errored")
            text = f"batch request errored ({code}): {message}"
            error: BackendError = (
                FatalBackendError(text)
                if code == "invalid_request_error"
                else BackendError(text, retryable=True)
            )
            return self._batch_line_error(error)
        # canceled or expired: never processed
        return BackendError(f"batch request {result.type}", retryable=True)
