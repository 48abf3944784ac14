"""What the HTTP judge backends share: keys, rate limits, error classification, logprobs.

- :func:`resolve_api_key` reads a key from a *named* environment variable (never from
  options or files), so keys never reach a spec, manifest, cache or log.
- :class:`RateLimiter` paces requests to a requests-per-minute and a tokens-per-minute
  budget (the caps API providers enforce).
- :func:`status_error` turns an HTTP error status into :class:`~judge.errors.BackendError`
  (``retryable=True``, with ``retry_after`` from the headers: 408, 409, 429, 5xx, 529) or
  :class:`~judge.errors.FatalBackendError` (400, 401, 403, 404, ...: the run stops), with
  the server's own message and any secret removed.
- :func:`choice_probs` reads the verdict-token probabilities from ``top_logprobs``.
- :class:`HTTPBackend` is the base of the SDK-backed backends: key, prices, rate limit,
  one client per event loop, the request loop and the SDK's errors, with provider hooks.

The retry loop itself (exponential backoff with jitter, honouring ``retry_after``) is the
runner's business; backends only set the fields right.
"""

from __future__ import annotations

import asyncio
import email.utils
import importlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, JsonValue

from judge.backends.base import (  # the batch records live with the interface
    Backend,
    BackendOptions,
    BatchResults,
    Completion,
    CompletionRequest,
    OptionRefused,
)
from judge.errors import BackendError, ConfigError, CredentialsError, FatalBackendError
from judge.prices import PriceTable, load_prices
from judge.records import redact_url_credentials

NO_KEY_PLACEHOLDER = "no-key-needed"
"""The key sent to a server that needs none (``api_key_env=""`` or a local ``base_url``)."""

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
"""Client-error statuses that a retry can fix; every status >= 500 (529 too) is retryable."""

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})


def is_local_url(url: str | None) -> bool:
    """True when ``url`` points at this machine.

    >>> is_local_url("http://127.0.0.1:8000/v1"), is_local_url("https://api.openai.com/v1")
    (True, False)
    >>> is_local_url(None)
    False
    """
    if not url:
        return False
    return (urlsplit(url).hostname or "") in LOCAL_HOSTS


def public_url(url: str) -> str:
    """``url`` without credentials, query or fragment: safe to store in a spec.

    >>> public_url("http://user:secret@host:8000/v1/?key=x#y")
    'http://host:8000/v1'
    """
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def resolve_api_key(
    api_key_env: str,
    *,
    base_url: str | None,
    backend: str,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The API key from the environment variable named ``api_key_env``.

    ``api_key_env=""`` means the server needs no key (only with a ``base_url``); a
    local ``base_url`` (127.0.0.1, localhost) works without the variable too. Otherwise
    a missing variable raises :class:`~judge.errors.CredentialsError` naming it.

    >>> resolve_api_key("MY_KEY", base_url=None, backend="openai", environ={"MY_KEY": "sk-1"})
    'sk-1'
    >>> resolve_api_key("MY_KEY", base_url="http://127.0.0.1:8000/v1", backend="openai", environ={})
    'no-key-needed'
    >>> resolve_api_key("MY_KEY", base_url=None, backend="openai", environ={})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    judge.errors.CredentialsError: backend 'openai' needs an API key in ... MY_KEY ...
    """
    env = os.environ if environ is None else environ
    if api_key_env == "":
        if not base_url:
            raise CredentialsError(
                f"backend {backend!r}: api_key_env is empty, which is only allowed with a base_url "
                "pointing at a server that needs no key"
            )
        return NO_KEY_PLACEHOLDER
    key = env.get(api_key_env, "").strip()
    if key:
        return key
    if is_local_url(base_url):
        return NO_KEY_PLACEHOLDER
    raise CredentialsError(
        f"backend {backend!r} needs an API key in the environment variable {api_key_env} "
        "(set it, or point base_url at a server that needs none and pass -J api_key_env=)"
    )


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***``.

    >>> redact("bad key sk-123 given", ["sk-123"])
    'bad key *** given'
    """
    for secret in secrets:
        if secret and secret != NO_KEY_PLACEHOLDER:
            text = text.replace(secret, "***")
    return text


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date).

    >>> parse_retry_after({"retry-after-ms": "250"})
    0.25
    >>> parse_retry_after({"Retry-After": "3"})
    3.0
    >>> parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0)
    10.0
    >>> parse_retry_after({}) is None
    True
    """
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lower.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / divisor
        except ValueError:
            if name != "retry-after":
                continue
            parsed = email.utils.parsedate_tz(raw)
            if parsed is None:
                continue
            when = email.utils.mktime_tz(parsed)
            value = when - (time.time() if now is None else now)
        if math.isfinite(value):
            return max(0.0, value)
    return None


def status_error(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    where: str = "",
    code: str | None = None,
    secrets: Sequence[str] = (),
) -> BackendError:
    """The error for an HTTP error ``status``, carrying the server's ``message``.

    >>> err = status_error(429, "slow down", headers={"retry-after": "2"}, where="api.x")
    >>> type(err).__name__, err.retryable, err.retry_after, str(err)
    ('BackendError', True, 2.0, 'HTTP 429 from api.x: slow down')
    >>> err = status_error(401, "Incorrect API key provided: sk-9", secrets=["sk-9"])
    >>> type(err).__name__, err.retryable, str(err)
    ('FatalBackendError', False, 'HTTP 401: Incorrect API key provided: ***')
    >>> status_error(429, "quota", code="insufficient_quota").retryable
    False
    """
    text = redact(f"HTTP {status}{' from ' + where if where else ''}: {message}".strip(), secrets)
    retry_after = parse_retry_after(headers)
    if code == "insufficient_quota":  # a 429 that waiting cannot fix: the account is out of credit
        return FatalBackendError(text)
    if status in RETRYABLE_STATUS or status >= 500:
        return BackendError(text, retryable=True, retry_after=retry_after)
    return FatalBackendError(text)


def error_message(body: Any, fallback: str) -> tuple[str, str | None]:
    """The message and code of an OpenAI- or Anthropic-style error body.

    >>> error_message({"error": {"message": "no", "code": "x"}}, "?")
    ('no', 'x')
    >>> error_message({"type": "error", "error": {"type": "overloaded", "message": "busy"}}, "?")
    ('busy', 'overloaded')
    >>> error_message("plain text", "?")
    ('plain text', None)
    """
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            message = err.get("message")
            code = err.get("code") or err.get("type")
            if message:
                return str(message), str(code) if code else None
        elif isinstance(err, str):
            return err, None
    if isinstance(body, str) and body.strip():
        return body.strip()[:2000], None
    return fallback, None


def transient_error(
    kind: str, detail: str, *, where: str = "", secrets: Sequence[str] = ()
) -> BackendError:
    """A retryable error that has no HTTP status (timeout, connection, malformed body).

    >>> transient_error("timeout", "no answer in 5 s", where="h").retryable
    True
    """
    text = f"{kind}{' from ' + where if where else ''}: {detail}"
    return BackendError(redact(text, secrets), retryable=True)


def choice_probs(
    top_logprobs: Iterable[tuple[str, float]],
    choices: Sequence[str],
    *,
    sampled: tuple[str, float] | None = None,
) -> dict[str, float]:
    """P(each choice) at one position: the sum of ``exp(logprob)`` over listed tokens
    whose text equals the choice once whitespace is stripped ("A" and " A").

    ``sampled`` (the generated token) counts too when the list does not hold it.
    A choice absent from the list gets 0.

    >>> import math
    >>> top = [("A", math.log(0.5)), (" A", math.log(0.1)), ("B", math.log(0.3))]
    >>> {k: round(v, 6) for k, v in choice_probs(top, ("A", "B", "C")).items()}
    {'A': 0.6, 'B': 0.3, 'C': 0.0}
    """
    wanted = {c.strip(): c for c in choices}
    out = dict.fromkeys(choices, 0.0)
    seen: set[str] = set()
    for token, logprob in top_logprobs:
        seen.add(token)
        key = token.strip()
        if key in wanted and logprob is not None and logprob > -math.inf:
            out[wanted[key]] += math.exp(logprob)
    if sampled is not None and sampled[0] not in seen:
        key = sampled[0].strip()
        if key in wanted and sampled[1] > -math.inf:
            out[wanted[key]] += math.exp(sampled[1])
    return out


def split_declared(
    method: Callable[..., Any], params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``params`` split into the keyword arguments ``method`` declares and the rest.

    The SDKs reject undeclared keywords; the rest travels as ``extra_body``.

    >>> def create(*, model: str, max_tokens: int, **_options: object) -> None: ...
    >>> split_declared(create, {"model": "m", "max_tokens": 1, "top_k": 5})
    ({'model': 'm', 'max_tokens': 1}, {'top_k': 5})
    """
    names = _declared_names(method)
    declared = {k: v for k, v in params.items() if k in names}
    extra = {k: v for k, v in params.items() if k not in names}
    return declared, extra


_DECLARED: dict[Any, frozenset[str]] = {}


def _declared_names(method: Callable[..., Any]) -> frozenset[str]:
    key = getattr(method, "__func__", method)
    if key not in _DECLARED:
        import inspect

        params = inspect.signature(method).parameters.values()
        named = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        _DECLARED[key] = frozenset(named - {"extra_body", "extra_headers", "extra_query"})
    return _DECLARED[key]


def estimate_tokens(texts: Iterable[str]) -> int:
    """A rough token count (4 characters per token) for rate limiting.

    >>> estimate_tokens(["abcd" * 10, "xy"])
    11
    """
    return sum(len(t) for t in texts) // 4 + 1


class _Pacer:
    """A token bucket for ``per_minute`` units, refilled continuously.

    It admits a burst of one second's worth; a request bigger than the bucket waits
    until the bucket is full and then drives it into debt, so large requests are never
    starved.
    """

    def __init__(self, per_minute: float, clock: Callable[[], float]) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.clock = clock
        self.updated = clock()

    def delay(self, cost: float) -> float:
        """Reserve ``cost`` units; return how long the caller must wait first."""
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        need = min(cost, self.capacity)
        wait = 0.0 if self.level >= need else (need - self.level) / self.rate
        self.level -= cost
        return wait


class RateLimiter:
    """Paces calls to ``rpm`` requests and ``tpm`` tokens per minute (either may be None).

    Reservations are taken in arrival order without awaiting in between, so concurrent
    callers queue fairly.

    >>> async def demo() -> float:
    ...     limiter = RateLimiter(rpm=600)  # 10 per second
    ...     start = time.monotonic()
    ...     for _ in range(13):  # a burst of 10, then 3 paced at 0.1 s
    ...         await limiter.acquire()
    ...     return time.monotonic() - start
    >>> 0.25 < asyncio.run(demo()) < 0.6
    True
    """

    def __init__(
        self,
        rpm: float | None = None,
        tpm: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.requests = _Pacer(rpm, clock) if rpm else None
        self.tokens = _Pacer(tpm, clock) if tpm else None

    @property
    def active(self) -> bool:
        return self.requests is not None or self.tokens is not None

    async def acquire(self, tokens: int = 0) -> None:
        """Wait until one request of about ``tokens`` tokens fits both budgets."""
        wait = 0.0
        if self.requests is not None:
            wait = max(wait, self.requests.delay(1.0))
        if self.tokens is not None:
            wait = max(wait, self.tokens.delay(float(tokens)))
        if wait > 0:
            await asyncio.sleep(wait)


class HTTPBackendOptions(BackendOptions):
    """Options every HTTP judge backend takes."""

    base_url: str | None = None
    """Server URL (default: the provider's API)."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for one reply before it counts as a (retryable) timeout."""
    rpm: float | None = Field(default=None, gt=0)
    """Requests per minute to stay under (the account's rate limit)."""
    tpm: float | None = Field(default=None, gt=0)
    """Tokens per minute to stay under (prompt estimate + max_tokens)."""
    max_connections: int = Field(default=64, ge=1)
    """Most requests in flight at once."""
    prices: str | None = None
    """A TOML price file extending the built-in table (see :mod:`judge.prices`)."""
    extra_body: dict[str, JsonValue] = Field(default_factory=dict)
    """Extra JSON fields sent with every request (server-specific parameters)."""
    api_key_env: str
    """Environment variable holding the key; ``""`` for a server that needs none (each
    backend sets its provider's variable as the default)."""
    context_window: int | None = Field(default=None, gt=0)
    """The model's context window in tokens (default: the provider's usual one); a prompt
    estimated above it is logged as a warning before it is sent."""


MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError)
"""What reading a reply body that lacks the expected fields raises."""

ClientT = TypeVar("ClientT")
"""The provider SDK's async client (``openai.AsyncOpenAI``, ``anthropic.AsyncAnthropic``)."""


class SDKStatusError(Protocol):
    """What :class:`HTTPBackend` reads from an SDK's ``APIStatusError``."""

    @property
    def body(self) -> object: ...
    @property
    def message(self) -> str: ...
    @property
    def status_code(self) -> int: ...
    @property
    def response(self) -> Any: ...


class HTTPBackend(Backend, Generic[ClientT]):
    """The base of the judge backends that call a provider's API through its async SDK.

    It holds what they share: the key (never shown), the price table, the rate limiter,
    one SDK client per event loop, the request loop (:meth:`complete`), the mapping of
    SDK exceptions to :class:`~judge.errors.BackendError` and the batch bookkeeping.
    A provider sets the class attributes and implements the hooks under "provider hooks".
    """

    remote: ClassVar[bool] = True
    default_url: ClassVar[str]
    """The provider's API, used when ``base_url`` is not set."""
    sdk_name: ClassVar[str]
    """The provider's SDK (``openai``, ``anthropic``): its transports and exceptions.

    Imported on first use (:attr:`sdk_module`), not with the backend's module: each SDK
    takes about a second to import, which every ``judge`` command and notebook would pay.
    """
    sdk_client_name: ClassVar[str]
    """The SDK's async client class, by name (``AsyncOpenAI``)."""
    spec_fields: ClassVar[tuple[str, ...]] = ()
    """Options that change the output, listed in :meth:`spec` between base_url and extra_body."""
    default_context_window: ClassVar[int | None] = None
    """The provider's usual context window, for the warning about prompts that cannot fit."""

    @property
    def sdk_module(self) -> ModuleType:
        """The provider's SDK, imported on first use."""
        return importlib.import_module(self.sdk_name)

    @property
    def opts(self) -> HTTPBackendOptions:
        """The options, typed as the HTTP options (providers narrow it to their own model)."""
        return cast(HTTPBackendOptions, self.options)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        opts = self.opts
        if not opts.model:
            raise ConfigError(f"backend {self.name!r} needs a model: -J model=NAME")
        if opts.base_url and "@" in urlsplit(opts.base_url).netloc:
            # Keys come only from the environment, so they never reach a spec, manifest or
            # log; the SDKs send the key as a bearer header, not as URL credentials.
            raise ConfigError(
                f"backend {self.name!r}: base_url {redact_url_credentials(opts.base_url)!r} "
                "carries credentials; remove them and put the key in the environment "
                f"variable {opts.api_key_env or 'named by -J api_key_env='}"
            )
        self.base_url = (opts.base_url or self.default_url).rstrip("/")
        self._api_key = resolve_api_key(opts.api_key_env, base_url=opts.base_url, backend=self.name)
        self.max_concurrency = opts.max_connections
        self.limiter = RateLimiter(opts.rpm, opts.tpm)
        self.where = public_url(self.base_url)
        self.local = is_local_url(self.base_url)
        self.prices: PriceTable = load_prices(opts.prices)
        if not self.local and self.prices.lookup(opts.model) is None:
            self._log.warning(
                "no price for model %r: its cost counts as 0 (see judge.prices)", opts.model
            )
        self._client: ClientT | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def _log(self) -> logging.Logger:
        """The provider module's logger."""
        return logging.getLogger(type(self).__module__)

    @property
    def context_window(self) -> int | None:
        return self.opts.context_window or self.default_context_window

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(model={self.opts.model!r}, base_url={self.where!r})"

    def spec(self) -> dict[str, JsonValue]:
        opts = self.opts
        spec: dict[str, JsonValue] = {
            "backend": self.name,
            "model": opts.model,
            "base_url": self.where,
        }
        spec.update({name: getattr(opts, name) for name in self.spec_fields})
        spec["extra_body"] = opts.extra_body
        return spec

    # -- client --------------------------------------------------------------------------

    def _secrets(self) -> tuple[str, ...]:
        return (self._api_key,)

    def __getstate__(self) -> dict[str, Any]:
        """The backend without its live clients, for a ``--workers`` process (which
        makes its own in its own event loop)."""
        state = dict(self.__dict__)
        for name in ("_client", "_session", "_loop"):
            if name in state:
                state[name] = None
        return state

    def _bind_loop(self) -> None:
        """Forget the clients made in another event loop (a client is bound to its loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._forget_clients()
            self._loop = loop

    def _forget_clients(self) -> None:
        self._client = None

    def _ensure_client(self) -> ClientT:
        """The SDK client of the running event loop, made on first use."""
        self._bind_loop()
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def make_client(self) -> ClientT:
        """An SDK client on the aiohttp transport, with the SDK's retries off."""
        import httpx2

        limits = httpx2.Limits(
            max_connections=self.opts.max_connections,
            max_keepalive_connections=self.opts.max_connections,
        )
        timeout = self.opts.timeout
        sdk = self.sdk_module
        try:
            http_client = sdk.DefaultAioHttpClient(limits=limits, timeout=timeout)
        except RuntimeError:  # the SDK's aiohttp extra is missing: its default transport
            http_client = sdk.DefaultAsyncHttpxClient(limits=limits, timeout=timeout)
        client = getattr(sdk, self.sdk_client_name)(
            api_key=self._api_key,
            base_url=self.base_url,
            max_retries=0,
            timeout=timeout,
            http_client=http_client,
        )
        return cast(ClientT, client)

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.close()  # type: ignore[attr-defined]

    # -- errors --------------------------------------------------------------------------

    def sdk_status_error(self, exc: SDKStatusError) -> BackendError:
        """The error for an SDK's ``APIStatusError``, with the server's message."""
        message, code = error_message(exc.body, exc.message)
        return status_error(
            exc.status_code,
            message,
            headers=exc.response.headers,
            where=self.where,
            code=code,
            secrets=self._secrets(),
        )

    def _connection_error(self, exc: BaseException, *, secrets: Sequence[str] = ()) -> BackendError:
        return transient_error(
            "connection error", str(exc.__cause__ or exc), where=self.where, secrets=secrets
        )

    @contextmanager
    def _request_errors(self) -> Iterator[None]:
        """SDK exceptions of one request raised as :class:`~judge.errors.BackendError`."""
        sdk = self.sdk_module
        try:
            yield
        except sdk.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except sdk.APITimeoutError:
            raise transient_error(
                "timeout", f"no reply within {self.opts.timeout} s", where=self.where
            ) from None
        except sdk.APIConnectionError as exc:
            raise self._connection_error(exc, secrets=self._secrets()) from None
        except sdk.APIResponseValidationError as exc:
            raise transient_error("malformed response", str(exc), where=self.where) from None
        except ValueError as exc:  # json.JSONDecodeError: a malformed body
            raise transient_error("malformed response", str(exc), where=self.where) from None

    @contextmanager
    def _batch_errors(self) -> Iterator[None]:
        """SDK exceptions of a batch call raised as :class:`~judge.errors.BackendError`."""
        sdk = self.sdk_module
        try:
            yield
        except sdk.APIStatusError as exc:
            raise self.sdk_status_error(exc) from None
        except sdk.APIConnectionError as exc:
            raise self._connection_error(exc) from None

    # -- requests ------------------------------------------------------------------------

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        self._prepare_clients()
        if len(requests) == 1:  # the usual case: no task to schedule
            return [await self._complete_one(requests[0])]
        return list(await asyncio.gather(*(self._complete_one(r) for r in requests)))

    async def _complete_one(self, request: CompletionRequest) -> Completion | BackendError:
        if self.limiter.active:
            texts = [m.content for m in request.messages]
            await self.limiter.acquire(estimate_tokens(texts) + request.max_tokens)
        optional = self._sends_optional(request)
        result = await self._post(self._payload(request, optional=optional), request)
        if optional and isinstance(result, FatalBackendError) and self._drop_optional(result):
            result = await self._post(self._payload(request, optional=False), request)
        return result

    async def _post(
        self, payload: dict[str, Any], request: CompletionRequest
    ) -> Completion | BackendError:
        started = time.perf_counter()
        try:
            data = await self._fetch(payload)
        except BackendError as exc:
            return exc
        latency = time.perf_counter() - started
        try:
            return self._reply(data, request, latency=latency)
        except MALFORMED as exc:
            return transient_error(
                "malformed response", f"{type(exc).__name__}: {exc}", where=self.where
            )

    def _cost(
        self,
        *,
        uncached: int,
        tokens_out: int,
        cached: int = 0,
        cache_write: int = 0,
        batch: bool = False,
    ) -> float:
        """US dollars for one reply's usage at this model's price (0 when unknown)."""
        return self.prices.cost(
            self.opts.model,
            tokens_in=uncached,
            tokens_out=tokens_out,
            cached_in=cached,
            cache_write=cache_write,
            batch=batch,
        )

    @staticmethod
    def _fill_missing(
        batch_id: str, requests: Mapping[str, CompletionRequest], out: BatchResults
    ) -> BatchResults:
        """``out`` with a retryable error for every request the batch returned nothing for."""
        for custom_id in requests:
            out.results.setdefault(
                custom_id,
                BackendError(
                    f"batch {batch_id} returned no result for this request", retryable=True
                ),
            )
        return out

    def _batch_line_error(self, error: BackendError) -> BackendError:
        """The error stored for one failed batch line, its text scrubbed of the key.

        Within a batch no error stops the run (a rerun resubmits what is retryable),
        except that a line refused for the optional field the backend can stop sending
        (logprobs, temperature) becomes :class:`OptionRefused`, as live mode retries
        without it.
        """
        text = redact(str(error), self._secrets())
        if isinstance(error, FatalBackendError) and self._drop_optional(error):
            return OptionRefused(text)
        return BackendError(text, retryable=error.retryable)

    # -- provider hooks ------------------------------------------------------------------

    def _prepare_clients(self) -> None:
        """Make what :meth:`_fetch` needs in the running event loop."""
        self._ensure_client()

    def _sends_optional(self, request: CompletionRequest) -> bool:
        """Whether ``request`` goes with the one field a server may refuse (none here)."""
        return False

    def _drop_optional(self, error: FatalBackendError) -> bool:
        """Whether ``error`` is the server refusing that field; if so, stop sending it."""
        return False

    def _payload(self, request: CompletionRequest, *, optional: bool) -> dict[str, Any]:
        """The JSON body for ``request``, with or without the refusable field."""
        raise NotImplementedError

    async def _fetch(self, payload: dict[str, Any]) -> Any:
        """POST ``payload``; the reply's JSON body (raises :class:`BackendError`)."""
        raise NotImplementedError

    def _reply(
        self, data: Mapping[str, Any], request: CompletionRequest, *, latency: float
    ) -> Completion:
        """A :class:`Completion` from a reply body (raises on a malformed one)."""
        raise NotImplementedError
