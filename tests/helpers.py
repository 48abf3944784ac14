"""Test doubles shared by the runner tests.

``ScriptedBackend`` is an in-process backend registered like any other (the way
inspect_ai tests through its mock provider): it answers "A", "B" or "C" by a fixed rule
and can fail chosen prompts, so the runner's cache, retry and resume logic can be
checked exactly. The real model is exercised in test_llamacpp.py and test_cli.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

from judge.backends.base import Backend, BackendOptions, Completion, CompletionRequest
from judge.errors import BackendError, FatalBackendError


class ScriptedBackend(Backend):
    name: ClassVar[str] = "scripted"
    calls: ClassVar[Counter[str]] = Counter()
    """Requests seen, by last user message (class-level so tests can read it)."""

    class Options(BackendOptions):
        answer: str = "A"
        """Reply text for every request."""
        fail_marker: str = ""
        """Prompts containing this fail ..."""
        fail_times: int = 0
        """... this many times (retryable), then succeed; -1 = always (not retryable)."""
        fatal_marker: str = ""
        """Prompts containing this raise a fatal error."""

    batch_size = 2

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        out: list[Completion | BackendError] = []
        for req in requests:
            text = req.messages[-1].content
            self.calls[text] += 1
            opts = self.options
            if opts.fatal_marker and opts.fatal_marker in text:
                raise FatalBackendError("401 invalid credentials (scripted)")
            if opts.fail_marker and opts.fail_marker in text:
                if opts.fail_times < 0:
                    out.append(BackendError("400 bad request (scripted)"))
                    continue
                if self.calls[text] <= opts.fail_times:
                    out.append(
                        BackendError("503 overloaded (scripted)", retryable=True, retry_after=0)
                    )
                    continue
            probs = None
            if req.choices:
                probs = {c: (0.7 if c == opts.answer else 0.1) for c in req.choices}
            out.append(
                Completion(
                    text=opts.answer, choice_probs=probs, tokens_in=len(text) // 4, tokens_out=1
                )
            )
        return out
