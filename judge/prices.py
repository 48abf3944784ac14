"""API prices: US dollars per million tokens, from a built-in table the user can extend.

The built-in table (:data:`DEFAULT_PRICES`) holds list prices of common judge models as
published by OpenAI and Anthropic (checked 2025; prices change: verify before trusting a
total). A user extends or overrides it with a TOML file, named by ``-J prices=PATH`` or
the environment variable ``JUDGE_HARNESS_PRICES``::

    # my-prices.toml: USD per 1M tokens
    [models."gpt-4o-mini"]
    input = 0.15
    output = 0.60
    cached_input = 0.075     # optional: prompt tokens read from the provider's cache
    cache_write = 0.1875     # optional: prompt tokens written to the cache (Anthropic)

    [models."my-finetune"]
    input = 1.0
    output = 2.0

A model name matches the longest table entry it starts with, so dated snapshots
(``gpt-4o-mini-2024-07-18``, ``claude-3-5-haiku-20241022``) find their family. The Batch
APIs cost half (:data:`BATCH_DISCOUNT`). A model with no entry costs 0 and the backend
says so once in the log.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError

from judge.errors import ConfigError, validation_text
from judge.records import Record

PRICES_ENV = "JUDGE_HARNESS_PRICES"
"""Environment variable naming a user price file."""

BATCH_DISCOUNT = 0.5
"""Batch API requests cost this fraction of the list price (OpenAI and Anthropic)."""


class Price(Record):
    """Prices of one model in US dollars per million tokens."""

    input: float = Field(ge=0)
    """Uncached prompt tokens."""
    output: float = Field(ge=0)
    """Generated tokens."""
    cached_input: float | None = Field(default=None, ge=0)
    """Prompt tokens read from the provider's prompt cache (default: ``input``)."""
    cache_write: float | None = Field(default=None, ge=0)
    """Prompt tokens written to the prompt cache (Anthropic; default: ``input``)."""


def _p(
    input: float, output: float, cached: float | None = None, write: float | None = None
) -> Price:
    return Price(input=input, output=output, cached_input=cached, cache_write=write)


def _anthropic(input: float, output: float) -> Price:
    # Anthropic: cache writes (5-minute TTL) cost 1.25x input, cache reads 0.1x.
    return _p(input, output, cached=round(input * 0.1, 6), write=round(input * 1.25, 6))


DEFAULT_PRICES: dict[str, Price] = {
    # OpenAI (platform.openai.com/docs/pricing); cached input is half or less of input.
    "gpt-5": _p(1.25, 10.0, 0.125),
    "gpt-5-mini": _p(0.25, 2.0, 0.025),
    "gpt-5-nano": _p(0.05, 0.40, 0.005),
    "gpt-4.1": _p(2.0, 8.0, 0.5),
    "gpt-4.1-mini": _p(0.40, 1.60, 0.10),
    "gpt-4.1-nano": _p(0.10, 0.40, 0.025),
    "gpt-4o": _p(2.50, 10.0, 1.25),
    "gpt-4o-mini": _p(0.15, 0.60, 0.075),
    "gpt-4-turbo": _p(10.0, 30.0),
    "gpt-4": _p(30.0, 60.0),
    "gpt-3.5-turbo": _p(0.50, 1.50),
    "o1": _p(15.0, 60.0, 7.5),
    "o1-mini": _p(1.10, 4.40, 0.55),
    "o3": _p(2.0, 8.0, 0.5),
    "o3-mini": _p(1.10, 4.40, 0.55),
    "o4-mini": _p(1.10, 4.40, 0.275),
    # Anthropic (docs.anthropic.com/en/docs/about-claude/pricing).
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-1": _anthropic(15.0, 75.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-sonnet-4-5": _anthropic(3.0, 15.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "claude-3-7-sonnet": _anthropic(3.0, 15.0),
    "claude-3-5-sonnet": _anthropic(3.0, 15.0),
    "claude-3-5-haiku": _anthropic(0.80, 4.0),
    "claude-3-opus": _anthropic(15.0, 75.0),
    "claude-3-haiku": _anthropic(0.25, 1.25),
}


class PriceTable:
    """Model name -> :class:`Price`, matched by longest prefix.

    >>> table = PriceTable({"gpt-4o": _p(2.5, 10.0), "gpt-4o-mini": _p(0.15, 0.6)})
    >>> table.lookup("gpt-4o-mini-2024-07-18").input
    0.15
    >>> table.cost("gpt-4o", tokens_in=1_000_000, tokens_out=100_000)
    3.5
    >>> table.cost("unknown-model", tokens_in=10, tokens_out=10)
    0.0
    """

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = dict(prices)
        self._by_length = sorted(self.prices, key=len, reverse=True)
        self._found: dict[str, Price | None] = {}

    def lookup(self, model: str) -> Price | None:
        """The price of ``model``: an exact entry, else the longest entry it starts with."""
        if model not in self._found:
            self._found[model] = self._lookup(model)
        return self._found[model]

    def _lookup(self, model: str) -> Price | None:
        if model in self.prices:
            return self.prices[model]
        bare = model.rsplit("/", 1)[-1]  # "openai/gpt-4o" style names
        for name in self._by_length:
            if bare.startswith(name):
                return self.prices[name]
        return None

    def cost(
        self,
        model: str,
        *,
        tokens_in: int,
        tokens_out: int,
        cached_in: int = 0,
        cache_write: int = 0,
        batch: bool = False,
    ) -> float:
        """US dollars for one request; ``tokens_in`` excludes ``cached_in`` and ``cache_write``.

        >>> t = PriceTable({"m": _p(1.0, 2.0, cached=0.1, write=1.25)})
        >>> round(t.cost("m", tokens_in=1e6, tokens_out=1e6, cached_in=1e6, cache_write=1e6), 4)
        4.35
        >>> t.cost("m", tokens_in=1e6, tokens_out=0, batch=True)
        0.5
        """
        price = self.lookup(model)
        if price is None:
            return 0.0
        cached_rate = price.input if price.cached_input is None else price.cached_input
        write_rate = price.input if price.cache_write is None else price.cache_write
        dollars = (
            tokens_in * price.input
            + tokens_out * price.output
            + cached_in * cached_rate
            + cache_write * write_rate
        ) / 1e6
        return dollars * (BATCH_DISCOUNT if batch else 1.0)


def read_price_file(path: str | Path) -> dict[str, Price]:
    """Read a user price file (see the module docstring for its format)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read price file {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"price file {path}: {exc}") from exc
    models = data.get("models")
    unknown = set(data) - {"models"}
    if not isinstance(models, dict) or unknown:
        raise ConfigError(f'price file {path}: expected only a [models."NAME"] table per model')
    out: dict[str, Price] = {}
    for name, entry in models.items():
        try:
            out[name] = Price.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(f"price file {path}, model {name!r}: {validation_text(exc)}") from exc
    return out


def load_prices(path: str | Path | None = None) -> PriceTable:
    """The built-in table, extended by ``path`` or else by the file in ``$JUDGE_HARNESS_PRICES``."""
    chosen = path if path is not None else os.environ.get(PRICES_ENV) or None
    return _load(str(chosen) if chosen is not None else None)


@cache
def _load(path: str | None) -> PriceTable:
    prices = dict(DEFAULT_PRICES)
    if path is not None:
        prices.update(read_price_file(path))
    return PriceTable(prices)
