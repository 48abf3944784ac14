"""``hf``: a Hugging Face ``datasets`` dataset by hub id, ``revision`` and ``split`` (or a
local folder: ``save_to_disk`` output or data files), with the ``table`` loader's column
mapping (:mod:`benchmarks.mapping`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from judge.benchmark import AnyItem, Benchmark
from judge.errors import ConfigError, DataError, MissingDependencyError
from judge.formats import Where

from .mapping import (
    MappingOptions,
    RowConverter,
    convert_rows,
)


class HFDatasetBenchmark(Benchmark):
    """A Hugging Face ``datasets`` dataset (hub id + revision + split, or a local folder)."""

    name: ClassVar[str] = "hf"
    description: ClassVar[str] = "a Hugging Face dataset by hub id, revision and split"

    class Options(MappingOptions):
        dataset: str
        """Hub id (``org/name``) or a local folder (``save_to_disk`` output or data files)."""
        revision: str | None = None
        """Git revision (commit, tag or branch) on the hub; pin it for reproducible runs."""
        split: str = "test"
        """Which split."""
        subset: str | None = None
        """The dataset configuration name, where it has several."""
        cache_dir: str | None = None
        """Where ``datasets`` caches downloads (default: its own cache folder)."""

    options: Options  # type: ignore[assignment]  # the base class types it as its own Options

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.skipped: list[DataError] = []

    def files(self) -> list[Path]:
        local = Path(self.options.dataset).expanduser()
        if local.is_dir():
            return sorted(p for p in local.rglob("*") if p.is_file())
        return []

    def _dataset(self) -> Any:
        try:
            import datasets
        except ImportError as exc:
            raise MissingDependencyError("datasets", "datasets") from exc
        o = self.options
        local = Path(o.dataset).expanduser()
        saved = local.is_dir() and any(
            (local / f).exists() for f in ("state.json", "dataset_dict.json")
        )
        try:
            if saved:
                loaded = datasets.load_from_disk(str(local))
            else:
                return datasets.load_dataset(
                    o.dataset, o.subset, revision=o.revision, split=o.split, cache_dir=o.cache_dir
                )
        except (OSError, ValueError, datasets.exceptions.DatasetNotFoundError) as exc:
            # OSError covers FileNotFoundError and the hub's ConnectionError
            raise DataError(
                f"cannot load dataset {o.dataset!r} (split {o.split!r}): {exc}"
            ) from exc
        if isinstance(loaded, datasets.DatasetDict):
            if o.split not in loaded:
                raise ConfigError(f"split {o.split!r} not in {local} (has {', '.join(loaded)})")
            return loaded[o.split]
        return loaded

    def load(self) -> Iterator[AnyItem]:
        self.skipped = []
        dataset = self._dataset()
        source = Path(f"{self.options.dataset}[{self.options.split}]")
        rows = ((Where(source, n), dict(row)) for n, row in enumerate(dataset, start=1))
        converter = RowConverter(self.options, self.name)
        yield from convert_rows(rows, converter, lenient=self.options.lenient, skipped=self.skipped)
