"""A backend that stands in for the one a run used and never completes (re-parsing,
showing a stored judgment's prompt)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import JsonValue

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.errors import BackendError, FatalBackendError


class StoredReplies(Backend):
    """A backend that only stands in for the one a run used; it never completes."""

    name: ClassVar[str] = "stored-replies"

    def __init__(self, spec: dict[str, JsonValue]) -> None:
        super().__init__()
        self._spec = spec

    def spec(self) -> dict[str, JsonValue]:
        return self._spec

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        raise FatalBackendError("re-parsing never sends a request")
