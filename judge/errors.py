"""The one exception hierarchy of judge-harness.

Every error we raise on purpose subclasses :class:`JudgeError` and the builtin it
is closest to, so callers can catch ours precisely and the CLI can turn each into
a one-line message and an exit code at the edge.
"""

from __future__ import annotations


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


class BudgetExceeded(JudgeError):
    """The next request could take the run past ``--max-cost``: the run stops cleanly,
    with everything finished stored; a rerun with a larger budget resumes it."""

    exit_code = 7
