"""Where the real meta-evaluation datasets live: the one data-folder search.

The datasets are not shipped with the package: they sit in ``../shared/datasets``
beside a checkout (that is where CI puts them), or wherever ``JUDGE_HARNESS_DATA``
points. Every loader also takes an explicit ``path`` option.
"""

from __future__ import annotations

import os
from pathlib import Path

from judge.errors import DataError

ENV_VAR = "JUDGE_HARNESS_DATA"


def repo_root() -> Path:
    """The checkout (or installed tree) this package lives in."""
    return Path(__file__).resolve().parents[1]


def candidate_roots() -> list[Path]:
    """Where a data root may be, in the order searched: ``$JUDGE_HARNESS_DATA``, then
    ``../shared/datasets`` from the current directory and from the repository root."""
    env = os.environ.get(ENV_VAR)
    found = [Path(env).expanduser()] if env else []
    found += [Path.cwd().parent / "shared" / "datasets", repo_root().parent / "shared" / "datasets"]
    return list(dict.fromkeys(found))


def default_data_root() -> Path:
    """The folder holding one sub-folder per dataset.

    Checked in order: ``$JUDGE_HARNESS_DATA``; ``../shared/datasets`` from the current
    directory; ``../shared/datasets`` from the repository root. Read at call time.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser()
        if not root.is_dir():
            raise DataError(f"${ENV_VAR} points to {root}, which is not a folder")
        return root
    candidates = candidate_roots()
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"dataset folder not found (tried {tried}); set ${ENV_VAR} to the folder that holds "
        "pandalm/, llmbar/, judgebench/ ..., or pass -B path=<folder>"
    )


def dataset_path(path: str | None, name: str) -> Path:
    """``path`` if given, else ``<data root>/<name>``; it must exist."""
    resolved = Path(path).expanduser() if path else default_data_root() / name
    if not resolved.exists():
        raise DataError(f"dataset {name!r} not found at {resolved}")
    return resolved


def find_data_file(relative: str | Path, datasets_dir: str | Path | None = None) -> Path | None:
    """The first ``<root>/<relative>`` that is a file, trying ``datasets_dir`` and then
    :func:`candidate_roots`; None if none is."""
    roots = [Path(datasets_dir)] if datasets_dir is not None else []
    for root in [*roots, *candidate_roots()]:
        if (root / relative).is_file():
            return root / relative
    return None
