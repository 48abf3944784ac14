"""The one exception hierarchy of judge-harness.

Every error we raise on purpose subclasses :class:`JudgeError` and the builtin it
is closest to, so callers can catch ours precisely and the CLI can turn each into
a one-line message and an exit code at the edge.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


class JudgeError(Exception):
    """Base class of every error judge-harness raises on purpose."""

    exit_code: int = 1


class ConfigError(JudgeError, ValueError):
    """A configuration value, option or parameter is invalid."""

    exit_code = 2


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup missed; the message suggests close names."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want plain text
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(JudgeError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

    exit_code = 3

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'judge-harness[{extra}]'"
        )
        self.package = package
        self.extra = extra


class DataError(JudgeError, ValueError):
    """Input data is malformed. The message names the file and line where known."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = str(path)
            if line is not None:
                where += f":{line}"
            where += ": "
        if field is not None:
            message = f"field {field!r}: {message}"
        super().__init__(where + message)
        self.path = path
        self.line = line
        self.field = field


class TemplateError(JudgeError, ValueError):
    """A prompt template is invalid or rendered with a missing variable."""

    exit_code = 2


class BackendError(JudgeError, RuntimeError):
    """A judge backend failed. ``retryable`` says whether trying again may help."""

    exit_code = 5

    def __init__(
        self, message: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class FatalBackendError(BackendError):
    """A backend error that no retry can fix (bad key, bad request): stop the run."""


class CredentialsError(ConfigError):
    """An API key is missing. Raised before any work starts."""


class StoreError(JudgeError, RuntimeError):
    """The results store or cache is inconsistent or cannot be written."""

    exit_code = 6


class RunLockedError(StoreError):
    """Another process holds the run folder's lock (``judge run --wait`` waits for it)."""

    exit_code = 7


class IncompleteRunError(JudgeError, RuntimeError):
    """A run ended with error judgments left; a rerun retries them (``--allow-errors``
    makes this exit 0)."""

    exit_code = 8


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first of our own errors in an exception group (however nested), else the
    group's first exception: what a task group's failure was, stated once.

    >>> first_error(ExceptionGroup("tasks", [ValueError("x"), ExceptionGroup("inner",
    ...     [StoreError("disk full")])]))
    StoreError('disk full')
    """
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            stack[:0] = list(exc.exceptions)
        else:
            leaves.append(exc)
    ours = [e for e in leaves if isinstance(e, JudgeError)]
    return (ours or leaves)[0]


def validation_text(
    exc: ValidationError, *, root: str = "", model: type[BaseModel] | None = None
) -> str:
    """A pydantic error as one line: ``field: message; field: message``.

    pydantic's own text spans several lines per error; this keeps the field path and
    message, drops the ``Value error,`` prefix and an empty path (no stray ``: :``), and
    says why a text that should have been a JSON object or list did not parse. ``root``
    names an error of the whole record (an empty path), e.g. ``query``. With ``model`` (the
    options model that refused the input), an unknown option gets "did you mean" its
    close field names.

    >>> from pydantic import BaseModel
    >>> class Options(BaseModel):
    ...     extra_body: dict[str, int] = {}
    >>> try:
    ...     Options(extra_body="{temperature: 1}")
    ... except Exception as exc:
    ...     print(validation_text(exc))
    extra_body: expected a JSON object, got text that is not valid JSON (Expecting property name enclosed in double quotes at column 2)
    >>> from pydantic import ConfigDict
    >>> class Strict(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     subset: str = "natural"
    >>> try:
    ...     Strict(subsett="adversarial")
    ... except Exception as exc:
    ...     print(validation_text(exc, model=Strict))
    subsett: Extra inputs are not permitted; did you mean 'subset'?
    """  # noqa: E501
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or root
        message = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if err["type"] in ("dict_type", "list_type") and isinstance(value, str):
            shape = "a JSON object" if err["type"] == "dict_type" else "a JSON list"
            try:
                json.loads(value)
            except json.JSONDecodeError as bad:
                message = (
                    f"expected {shape}, got text that is not valid JSON "
                    f"({bad.msg} at column {bad.colno})"
                )
        if err["type"] == "extra_forbidden" and model is not None and len(err["loc"]) == 1:
            message += did_you_mean(str(err["loc"][0]), model.model_fields)
        message = " ".join(message.split())  # never more than one line
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


class BudgetExceeded(JudgeError):
    """The next request could take the run past ``--max-cost``: the run stops cleanly,
    with everything finished stored; a rerun with a larger budget resumes it."""

    exit_code = 9


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the known names close to ``name``, else ``""``.

    >>> did_you_mean("n_ctxx", ["n_ctx", "model"]), did_you_mean("zzz", ["model"])
    ("; did you mean 'n_ctx'?", '')
    """
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def validation_message(exc: ValidationError) -> tuple[str | None, str]:
    """The first failing field (None for the record as a whole) and its message, for
    errors that name one field beside a file and line (:func:`validation_text` gives all).

    >>> from pydantic import BaseModel
    >>> class Item(BaseModel):
    ...     id: str
    >>> try:
    ...     Item(id=1)
    ... except Exception as exc:
    ...     print(validation_message(exc))
    ('id', 'Input should be a valid string')
    """
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or None
    return field, str(err["msg"])


def plugin_failure(what: str, exc: Exception) -> DataError:
    """A plugin's own bug (an exception that is not a :class:`JudgeError`) as one line:
    ``what`` failed, where in the plugin's code, and the exception, never a traceback
    (benchmark loaders, importers, perturbations; the caller wraps a backend's in a
    :class:`FatalBackendError`).

    A pydantic ``ValidationError`` (the plugin built an invalid record) gives its fields.
    The place is the innermost frame outside judge-harness, pydantic and the standard
    library: the plugin's line, not ours.

    >>> try:
    ...     {}["question"]
    ... except KeyError as exc:
    ...     print(plugin_failure("benchmark 'mine' failed while loading", exc))
    benchmark 'mine' failed while loading, at <doctest ...>:2: KeyError: 'question'
    """
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        detail = f"invalid record: {validation_text(exc)}"
    else:
        detail = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    return DataError(f"{what}, at {_plugin_frame(exc)}: {detail}")


def _plugin_frame(exc: BaseException) -> str:
    import sysconfig
    import traceback
    from pathlib import Path

    import pydantic

    ours = (
        str(Path(__file__).parent),
        str(Path(pydantic.__file__).parent),
        sysconfig.get_paths()["stdlib"],
    )
    frames = traceback.extract_tb(exc.__traceback__)
    theirs = [f for f in frames if not f.filename.startswith((*ours, "<frozen "))]
    frame = (theirs or frames)[-1] if frames else None
    return f"{frame.filename}:{frame.lineno}" if frame is not None else "an unknown place"
