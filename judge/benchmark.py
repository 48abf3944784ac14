"""The benchmark plugin protocol.

A benchmark is a class with a ``name``, a nested strict ``Options`` model and a
``load()`` that yields :class:`~judge.records.PairItem` or
:class:`~judge.records.SingleItem`. ``files()`` names the data files it reads, so
the run manifest can record their hashes. Register a third-party benchmark with an
entry point in the ``judge_harness.benchmarks`` group (see ``docs/plugins.md``).
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from judge.errors import ConfigError, DataError, JudgeError, plugin_failure, validation_text
from judge.errors import validation_message as validation_message  # for loader plugins
from judge.records import PairItem, Record, SingleItem

AnyItem = PairItem | SingleItem


class BenchmarkOptions(Record):
    """Options every benchmark takes (subclasses add fields)."""


class PublishedFigure(Record):
    """A judge's figure as its benchmark's authors published it, shown beside ours."""

    judge: str
    """The judge's name as published; matched against a run's judge name ignoring case
    and punctuation (``GRM-Gemma-2B`` matches ``reward_model/Ray2333_GRM-Gemma-2B-...``)."""
    metric: str = "accuracy"
    """Which figure: ``accuracy`` (a fraction in [0, 1])."""
    policy: str | None = None
    """The reconcile policy that computes the same figure (e.g. ``net_vote``)."""
    value: float
    """The published value (a fraction, not a percentage)."""
    source: str = ""
    """Where it was read (file name and what it is)."""


class Benchmark(ABC):
    """Base class of benchmark loaders."""

    name: ClassVar[str]
    """Registry name; also the ``benchmark`` field of every item."""
    description: ClassVar[str] = ""
    first_is_correct: ClassVar[bool] = False
    """True where the source always puts the better response first (judge both orders!)."""

    class Options(BenchmarkOptions):
        pass

    def __init__(self, **options: Any) -> None:
        try:
            self.options = self.Options(**options)
        except ValidationError as exc:
            raise ConfigError(
                f"invalid options for benchmark {self.name!r}: "
                f"{validation_text(exc, model=self.Options)}"
            ) from exc

    @abstractmethod
    def load(self) -> Iterator[AnyItem]:
        """Yield every item, in a stable order."""

    def files(self) -> list[Path]:
        """The data files this benchmark reads (hashed into the run manifest)."""
        return []

    @classmethod
    def published_figures(cls, data_root: Path | None = None) -> list[PublishedFigure]:
        """Judges' figures published for this benchmark, read from its data files.

        ``judge report`` shows each beside the matching run. ``data_root`` is the
        datasets folder (default: the benchmark's own default). None by default;
        a benchmark whose source publishes judge figures overrides this and must read
        them from files at call time, never from numbers copied into code.
        """
        return []


def _name_key(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def match_published(figures: Iterable[PublishedFigure], judge: str) -> PublishedFigure | None:
    """The published figure whose judge name is part of ``judge`` (ignoring case and
    punctuation); the longest such name wins, None if there is none.

    >>> figures = [PublishedFigure(judge="internlm2-7b-reward", value=0.59),
    ...            PublishedFigure(judge="InternLM2-20B-reward", value=0.63)]
    >>> match_published(figures, "judgebench/reward_model/internlm_internlm2-20b-reward").value
    0.63
    >>> match_published(figures, "o1-mini") is None
    True
    """
    key = _name_key(judge)
    found = [f for f in figures if _name_key(f.judge) and _name_key(f.judge) in key]
    return max(found, key=lambda f: len(_name_key(f.judge))) if found else None


def load_items(benchmark: Benchmark, *, limit: int | None = None) -> list[AnyItem]:
    """Load a benchmark's items, check ids are unique, and apply ``limit``.

    Every item is loaded and checked even with ``limit`` (``judge run --limit N``): a
    bad row anywhere in the data file is reported before a small trial run looks
    fine. Reading a whole file costs little beside judging.
    """
    items: list[AnyItem] = []
    seen: set[str] = set()
    try:
        for item in benchmark.load():
            if not isinstance(item, PairItem | SingleItem):
                raise DataError(
                    f"benchmark {benchmark.name!r} yielded a {type(item).__name__}, not a "
                    "PairItem or SingleItem (judge.records)"
                )
            if item.id in seen:
                raise DataError(f"benchmark {benchmark.name!r}: duplicate item id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    except JudgeError:
        raise
    except Exception as exc:  # a loader's (a plugin's) own bug: where, not a traceback
        raise plugin_failure(f"benchmark {benchmark.name!r} failed while loading", exc) from exc
    return items if limit is None else items[:limit]


def items_hash(items: Iterable[AnyItem]) -> str:
    """Content hash of the loaded items."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(json.dumps(item.model_dump(mode="json"), sort_keys=True).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def item_digest(item: AnyItem) -> str:
    """Content hash of one item (what :func:`items_hash` hashes, item by item)."""
    text = json.dumps(item.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ItemChanges:
    """How a benchmark's items differ from the items a run holds, by id."""

    changed: tuple[str, ...] = ()
    """Ids whose content differs."""
    added: tuple[str, ...] = ()
    """Ids the run does not hold."""
    removed: tuple[str, ...] = ()
    """Ids the run holds that the benchmark no longer yields."""

    def describe(self) -> str:
        """``2 changed ('a', 'b'), 1 removed ('c')``: the non-empty parts.

        >>> ItemChanges(changed=("a", "b"), removed=tuple("cdefg")).describe()
        "2 changed ('a', 'b'), 5 removed ('c', 'd', 'e', ...)"
        """
        parts = []
        for what, ids in (("changed", self.changed), ("added", self.added)):
            if ids:
                parts.append(f"{len(ids)} {what} ({_some(ids)})")
        if self.removed:
            parts.append(f"{len(self.removed)} removed ({_some(self.removed)})")
        return ", ".join(parts)


def _some(ids: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(repr(i) for i in ids[:n])
    return shown + (", ..." if len(ids) > n else "")


def compare_items(
    stored: Sequence[AnyItem],
    loaded: Sequence[AnyItem],
    *,
    everything: Sequence[AnyItem] | None = None,
) -> ItemChanges:
    """How a run's ``stored`` items differ from the ``loaded`` ones, by id and content.

    ``everything`` is the benchmark's whole item set where it is known (``loaded`` may
    be cut by a limit): stored items are then compared with it, and a stored id missing
    from it was removed. New ids count as added only when they are in ``loaded``.
    """
    current = {item.id: item_digest(item) for item in (everything or loaded)}
    if everything is not None:
        current.update({item.id: item_digest(item) for item in loaded})
    before = {item.id: item_digest(item) for item in stored}
    return ItemChanges(
        changed=tuple(i for i, d in before.items() if i in current and current[i] != d),
        added=tuple(item.id for item in loaded if item.id not in before),
        removed=tuple(i for i in before if i not in current) if everything is not None else (),
    )


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` from a JSONL file; malformed lines name file and line.

    Blank lines are skipped. Invalid UTF-8, invalid JSON, a non-object line and a
    truncated last line each raise :class:`DataError` naming the file and line.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"invalid UTF-8 at byte {exc.start} of the line", path=str(path), line=number
            ) from exc
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            last = number == len(lines) and not raw.endswith(b"\n")
            what = "truncated last line" if last else "invalid JSON"
            raise DataError(
                f"{what}: {exc.msg} (column {exc.colno})", path=str(path), line=number
            ) from exc
        if not isinstance(obj, dict):
            raise DataError(
                f"expected a JSON object, got {type(obj).__name__}", path=str(path), line=number
            )
        yield number, obj
