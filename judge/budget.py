"""Know the cost before paying it: ``judge run --dry-run`` and ``--max-cost USD``.

:func:`estimate_run` renders every *pending* request of a run (a resumed run counts only
what is missing), counts its prompt tokens and prices it, without sending anything:

- prompt tokens come from the judge's own tokenizer for local backends (llama.cpp,
  transformers: the exact ids the model receives), from a GGUF named by ``tokenizer``
  for an HTTP backend in front of a llama.cpp server (the same chat template and
  vocabulary the server uses, so the count equals the ``prompt_tokens`` it reports),
  and otherwise from the documented estimate :func:`estimate_tokens` (4 characters a
  token plus 4 per message: tiktoken's encodings cannot be used offline);
- output tokens are the request's ``max_tokens`` (an upper bound: a judge that stops
  early costs less);
- dollars come from the backend's price table (:mod:`judge.prices`);
- time is the larger of the rate limits' floor (``rpm``, ``tpm``) and, where neither is
  set, nothing: the estimate says "unknown".

:class:`BudgetGuard` wraps the runner's caller: before a request is sent, its upper
bound (prompt estimate + ``max_tokens`` at the price) plus what was spent and what is
in flight must stay within the budget. A request that does not fit beside those in
flight waits for them (their real cost is usually far below their bound); one that does
not fit with nothing in flight raises :class:`BudgetExceeded`, which stops the run
cleanly (everything finished is stored; a rerun with a larger budget resumes). So the
concurrency never stops a run early: it ends with spent <= budget < spent + the next
request's bound.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from judge.backends.base import Backend, CompletionRequest
from judge.errors import BudgetExceeded, ConfigError
from judge.judges import CallResult, PromptJudge, Task
from judge.records import Record

CHARS_PER_TOKEN = 4
"""The documented estimate: about 4 characters of English a token (OpenAI's rule of thumb)."""
TOKENS_PER_MESSAGE = 4
"""Chat formatting overhead per message in the estimate (role markers, separators)."""


class CostEstimate(Record):
    """What a run's pending requests will cost, before any is sent."""

    judge: str
    """The judge's name."""
    requests: int
    """Pending requests (tasks not yet stored)."""
    prompt_tokens: int
    """Prompt tokens of those requests."""
    max_output_tokens: int
    """Upper bound of the generated tokens (``max_tokens`` per request)."""
    dollars: float
    """Estimated US dollars (prompt + maximum output at the price table's rates)."""
    seconds: float | None
    """Lower bound of the time the rate limits allow; ``None`` when none is set."""
    token_source: str
    """How prompt tokens were counted (tokenizer or estimate)."""
    per_request_tokens: tuple[int, ...] = ()
    """Prompt tokens of each pending request, in task order."""


def estimate_tokens(request: CompletionRequest) -> int:
    """The documented estimate of a request's prompt tokens (no tokenizer).

    >>> from judge.records import Message
    >>> estimate_tokens(CompletionRequest(messages=(Message(role="user", content="x" * 40),)))
    14
    """
    chars = sum(len(m.content) for m in request.messages)
    return math.ceil(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(request.messages)


class TokenCounter:
    """Counts a request's prompt tokens with the best tokenizer at hand."""

    def __init__(self, backend: Backend, tokenizer: str | None = None) -> None:
        self.counter: Any = None
        if tokenizer is not None:
            from judge.factory import build_backend

            gguf = "" if tokenizer == "embedded" else tokenizer
            if gguf and not Path(gguf).is_file():
                raise ConfigError(f"--tokenizer {tokenizer}: no such GGUF file")
            self.counter = build_backend("llamacpp", {"model": gguf, "n_threads": 1})
            self.source = f"llama.cpp tokenizer of {tokenizer}"
        elif callable(getattr(backend, "prompt_token_ids", None)):
            self.counter = backend
            self.source = f"the {backend.name} backend's own tokenizer"
        else:
            self.source = (
                f"estimate: {CHARS_PER_TOKEN} characters a token + "
                f"{TOKENS_PER_MESSAGE} per message (no tokenizer for this backend offline)"
            )

    def __call__(self, request: CompletionRequest) -> int:
        if self.counter is None:
            return estimate_tokens(request)
        return len(self.counter.prompt_token_ids(request))


def request_cost(
    backend: Backend, prompt_tokens: int, max_tokens: int, *, batch: bool = False
) -> float:
    """Upper-bound dollars of one request at the backend's prices (0 without a table);
    ``batch``: at the batch API's discount."""
    prices = getattr(backend, "prices", None)
    model = getattr(getattr(backend, "options", None), "model", None)
    if prices is None or not model:
        return 0.0
    return float(
        prices.cost(str(model), tokens_in=prompt_tokens, tokens_out=max_tokens, batch=batch)
    )


def estimate(
    judge: PromptJudge, tasks: Sequence[Task], *, tokenizer: str | None = None
) -> CostEstimate:
    """Render every task's request and estimate tokens, dollars and time."""
    counter = TokenCounter(judge.backend, tokenizer)
    tokens: list[int] = []
    dollars = 0.0
    out_tokens = 0
    for task in tasks:
        request = judge.request(task)
        n = counter(request)
        tokens.append(n)
        out_tokens += request.max_tokens
        dollars += request_cost(judge.backend, n, request.max_tokens)
    options = getattr(judge.backend, "options", None)
    rpm = getattr(options, "rpm", None)
    tpm = getattr(options, "tpm", None)
    floors = []
    if rpm:
        floors.append(len(tasks) / rpm * 60)
    if tpm:
        floors.append((sum(tokens) + out_tokens) / tpm * 60)
    return CostEstimate(
        judge=judge.name,
        requests=len(tasks),
        prompt_tokens=sum(tokens),
        max_output_tokens=out_tokens,
        dollars=dollars,
        seconds=max(floors) if floors else None,
        token_source=counter.source,
        per_request_tokens=tuple(tokens),
    )


def format_estimate(est: CostEstimate) -> str:
    """The dry-run report.

    >>> print(format_estimate(CostEstimate(judge="j", requests=2, prompt_tokens=100,
    ...     max_output_tokens=32, dollars=0.00123, seconds=None, token_source="estimate")))
    dry run of judge j: nothing was sent
      requests            2
      prompt tokens       100 (estimate)
      output tokens       <= 32 (max_tokens per request)
      estimated cost      $0.0012 (prompt + maximum output, price table)
      estimated time      unknown (no rpm/tpm limit set)
    """
    time_text = (
        "unknown (no rpm/tpm limit set)"
        if est.seconds is None
        else f">= {est.seconds:.0f} s at the configured rate limits"
    )
    return "\n".join(
        [
            f"dry run of judge {est.judge}: nothing was sent",
            f"  requests            {est.requests}",
            f"  prompt tokens       {est.prompt_tokens} ({est.token_source})",
            f"  output tokens       <= {est.max_output_tokens} (max_tokens per request)",
            f"  estimated cost      ${est.dollars:.4f} (prompt + maximum output, price table)",
            f"  estimated time      {time_text}",
        ]
    )


class BatchBudget:
    """``--max-cost`` for ``--batch``: which requests may still be submitted.

    Each request's upper bound (the estimate of :class:`BudgetGuard`, at batch prices)
    is committed once, when first submitted (or, for batches an earlier session left in
    flight, at the start); a request that would take ``spent`` plus everything committed
    past the budget is held back. Batches already submitted are still collected (they
    bill anyway); then :meth:`check` stops the run, resumable with a larger budget.
    """

    def __init__(self, backend: Backend, budget: float, *, spent: float = 0.0) -> None:
        if budget <= 0:
            raise ConfigError(f"--max-cost must be positive, not {budget}")
        self.backend = backend
        self.budget = budget
        self.spent = spent
        self.committed: dict[str, float] = {}
        self.held_back: set[str] = set()

    def bound(self, request: CompletionRequest) -> float:
        """The request's upper-bound dollars at batch prices."""
        return request_cost(self.backend, estimate_tokens(request), request.max_tokens, batch=True)

    def commit(self, key: str, request: CompletionRequest) -> None:
        """Count a request already in flight (a batch of an earlier session)."""
        self.committed.setdefault(key, self.bound(request))

    def fit(self, keys: Sequence[str], requests: Mapping[str, CompletionRequest]) -> list[str]:
        """The keys that may be submitted, in order; the rest are held back for good."""
        allowed = []
        for key in keys:
            if key in self.committed:  # submitted before (a refused line sent again)
                allowed.append(key)
                continue
            bound = self.bound(requests[key])
            if self.spent + sum(self.committed.values()) + bound > self.budget:
                self.held_back.add(key)
                continue
            self.committed[key] = bound
            allowed.append(key)
        return allowed

    def check(self) -> None:
        """Raise :class:`BudgetExceeded` if any request was held back."""
        if self.held_back:
            committed = sum(self.committed.values())
            raise BudgetExceeded(
                f"stopped before exceeding --max-cost ${self.budget:.4f}: spent "
                f"${self.spent:.4f} before this session, submitted up to ${committed:.4f} "
                f"in batches (collected); {len(self.held_back)} request(s) not submitted; "
                "rerun with a larger budget to resume"
            )


class BudgetGuard:
    """The runner's caller, refusing any request that could take the run past ``budget``.

    ``spent`` starts at what the run already billed (a resumed run keeps its budget).
    """

    def __init__(self, caller: Any, budget: float, *, spent: float = 0.0) -> None:
        if budget <= 0:
            raise ConfigError(f"--max-cost must be positive, not {budget}")
        self.caller = caller
        self.budget = budget
        self.spent = spent
        self.reserved = 0.0
        self.in_flight = 0  # counted, not read off ``reserved`` (float sums leave residue)
        self._settled = asyncio.Condition()  # a request in flight finished

    def __getattr__(self, name: str) -> Any:  # counters of the wrapped caller
        return getattr(self.caller, name)

    async def __call__(
        self, backend: Backend, requests: Sequence[CompletionRequest], samples: Sequence[int]
    ) -> list[CallResult]:
        bound = sum(request_cost(backend, estimate_tokens(r), r.max_tokens) for r in requests)
        async with self._settled:
            while self.spent + self.reserved + bound > self.budget:
                if not self.in_flight:  # nothing in flight can free room: stop here
                    raise BudgetExceeded(
                        f"stopped before exceeding --max-cost ${self.budget:.4f}: spent "
                        f"${self.spent:.4f}, the next request could cost up to ${bound:.4f}; "
                        "rerun with a larger budget to resume"
                    )
                await self._settled.wait()
            self.reserved += bound
            self.in_flight += 1
        results: list[CallResult] | None = None
        try:
            results = await self.caller(backend, requests, samples)
        finally:
            async with self._settled:
                self.reserved -= bound
                self.in_flight -= 1
                for res in results or ():
                    if not res.cache_hit and not res.coalesced and hasattr(res.result, "cost"):
                        self.spent += float(res.result.cost)
                self._settled.notify_all()
        return results
