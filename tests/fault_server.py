"""A fault-injecting fake of the OpenAI and Anthropic HTTP APIs, on 127.0.0.1.

It speaks the wire formats the judge backends use:

- OpenAI ``POST /v1/chat/completions`` (with ``logprobs`` / ``top_logprobs``), and the
  Batch API: ``POST /v1/files``, ``POST /v1/batches``, ``GET /v1/batches`` (list),
  ``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content``;
- Anthropic ``POST /v1/messages`` (text, forced tool use, ``cache_control`` accounting)
  and Message Batches: ``POST /v1/messages/batches``, ``GET /v1/messages/batches`` (list),
  ``GET /v1/messages/batches/{id}``, ``GET /v1/messages/batches/{id}/results``.

Batch faults (see :class:`Config`): failed, expired, duplicated and unknown result
lines, a create call that answers after the client gave up (the batch exists), errored
lines that echo the caller's key; a batch unknown to the server (after ``/admin/reset``)
answers 404. ``batches_created`` in ``/stats`` counts submissions.

Every reply is a deterministic function of the conversation: the verdict letter and
its top-logprob distribution come from a hash of the messages (:func:`verdict_probs`),
so a test can compute what the backend must report. Faults are injected at
``fault_rate`` per attempt, deterministically from ``seed``, the conversation and the
attempt number: 429 with ``Retry-After``, 500, 529 overloaded, timeouts (the server
sleeps past the client's timeout, then answers 504), malformed JSON and truncated
bodies (a ``Content-Length`` longer than what is sent before the connection closes);
and, only when named, ``empty`` (a 200 answer with empty content).

The server counts requests per conversation fingerprint (:func:`fingerprint`):
``attempts`` (every request) and ``ok`` (complete successful answers, including
batch result lines), served at ``GET /stats``; ``POST /admin/config`` changes the
configuration at run time and ``POST /admin/reset`` clears the counters.

Run it as a process (the SIGKILL test and ``bench/`` do)::

    python tests/fault_server.py --port 8123 --fault-rate 0.2 --latency 0.005

It prints ``READY <port>`` on stdout when it accepts connections. Model names
``fault-400`` and ``fault-404`` make every request fail with that status,
``fault-nologprobs`` rejects ``logprobs`` and ``fault-notemp`` rejects ``temperature``
(400); with ``--api-key`` set, a request with another key gets a 401. A request field
``reply_prefix`` (sent through ``extra_body``) is prepended to the reply. The config's
``model_latency`` delays the answers for chosen model names (a slow jury member).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import random
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

FAULT_KINDS: tuple[str, ...] = ("429", "500", "529", "timeout", "malformed", "truncated")
"""The kinds of fault the server draws from by default."""
EXTRA_FAULT_KINDS: tuple[str, ...] = ("empty",)
"""Kinds it injects only when named (in ``faults`` or ``script``): ``empty`` is a
well-formed 200 answer with empty content (OpenAI: ``""``; Anthropic: no text)."""

# Tokens the fake model may answer with, besides the verdict letters. They share the
# probability mass that the letters leave over.
_FILLERS = ("The", "Response", "Both", "I", "**", "[[", "Assistant", "Output", "It", "In")


@dataclass
class Config:
    """Run-time configuration (``POST /admin/config`` takes any subset as JSON)."""

    latency: float = 0.0
    """Seconds every answer waits before it is sent."""
    fault_rate: float = 0.0
    """Probability that an attempt gets a fault."""
    faults: list[str] = field(default_factory=lambda: list(FAULT_KINDS))
    """Which fault kinds to draw from (uniformly)."""
    retry_after: float = 0.05
    """Seconds sent in ``retry-after-ms`` (and rounded up in ``Retry-After``) with a 429."""
    retry_after_ms_header: bool = True
    """Send ``retry-after-ms`` as well as ``Retry-After`` (off: only whole seconds)."""
    timeout_sleep: float = 3.0
    """How long a ``timeout`` fault sleeps before it answers 504."""
    seed: int = 0
    """Seeds which attempts get faults."""
    api_key: str | None = None
    """When set, any other key gets a 401."""
    batch_delay: float = 0.3
    """Seconds after creation when a batch is done."""
    batch_fault_rate: float = 0.0
    """Probability that one line of a batch errors."""
    batch_create_delay: float = 0.0
    """Seconds a batch create call waits *after* creating the batch before it answers (a
    client that times out first has lost the reply to a batch that exists)."""
    batch_expire_rate: float = 0.0
    """Probability that one line of a batch expires (the batch ends ``expired``)."""
    batch_duplicate_lines: bool = False
    """After each successful result line, add an error line for the same custom_id."""
    batch_unknown_lines: int = 0
    """Extra result lines with custom_ids that no request of the batch has."""
    batch_echo_key: bool = False
    """Errored batch lines echo the caller's API key in their message (a leaky provider)."""
    reply: str = "{verdict}"
    """Template of the reply text; ``{verdict}`` is the verdict letter."""
    script: list[str] = field(default_factory=list)
    """Faults for the first attempts of every conversation, in order (``"ok"``: none);
    later attempts draw at ``fault_rate``."""
    model_latency: dict[str, float] = field(default_factory=dict)
    """Extra seconds before answering requests for these model names."""


def _text_of(content: Any) -> str:
    """The text of an OpenAI or Anthropic message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def fingerprint(messages: list[dict[str, Any]]) -> str:
    """Identity of a conversation: sha256 of its roles and texts (system first).

    Both API formats map to the same fingerprint, so tests compute it from the
    judge's rendered messages.

    >>> fingerprint([{"role": "user", "content": "hi"}]) == fingerprint(
    ...     [{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    True
    """
    canon = [[str(m.get("role", "")), _text_of(m.get("content"))] for m in messages]
    blob = json.dumps(canon, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def verdict_probs(fp: str) -> list[tuple[str, float]]:
    """The fake model's first-token distribution for a conversation, most likely first.

    Each verdict letter's mass is split between ``"X"`` and ``" X"`` (two tokens with
    the same stripped text, as real tokenizers have), fillers share the rest.

    >>> probs = verdict_probs("0" * 64)
    >>> round(sum(p for _, p in probs), 9) <= 1.0
    True
    """
    h = int(fp[:16], 16)
    winner = "ABC"[h % 3]
    p_win = 0.45 + (h >> 4) % 45 / 100  # 0.45 .. 0.89
    others = [c for c in "ABC" if c != winner]
    share = (h >> 12) % 60 / 100 + 0.2  # 0.2 .. 0.79 of the rest to the first other letter
    rest = 1.0 - p_win
    letter_mass = {
        winner: p_win,
        others[0]: rest * share * 0.8,
        others[1]: rest * (1 - share) * 0.6,
    }
    out: list[tuple[str, float]] = []
    for letter, mass in letter_mass.items():
        out.append((letter, mass * 0.8))
        out.append((" " + letter, mass * 0.2))
    left = 1.0 - sum(p for _, p in out)
    weights = [1.0 / (i + 2) for i in range(len(_FILLERS))]
    total = sum(weights)
    out.extend((tok, left * w / total) for tok, w in zip(_FILLERS, weights, strict=True))
    out.sort(key=lambda tp: -tp[1])
    return out


def expected_choice_probs(
    messages: list[dict[str, Any]], choices: tuple[str, ...], top: int = 20
) -> dict[str, float]:
    """What a correct backend reports as ``choice_probs`` for ``messages`` (top ``top`` tokens)."""
    probs = verdict_probs(fingerprint(messages))[:top]
    return {c: sum(p for tok, p in probs if tok.strip() == c) for c in choices}


def verdict_of(fp: str) -> str:
    """The verdict letter the fake model answers for a conversation."""
    return verdict_probs(fp)[0][0].strip()


class FaultServer:
    """The aiohttp application and its state."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.attempts: Counter[str] = Counter()
        self.ok: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.rejected = 0
        """Requests answered 400/401/404 by the precheck (not counted as attempts)."""
        self.in_flight = 0
        self.max_in_flight = 0
        self.files: dict[str, bytes] = {}
        self.openai_batches: dict[str, dict[str, Any]] = {}
        self.anthropic_batches: dict[str, dict[str, Any]] = {}
        self.cache_seen: set[str] = set()

    # -- app ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=512 * 1024**2)
        app.router.add_post("/v1/chat/completions", self.chat_completions)
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/files", self.upload_file)
        app.router.add_get("/v1/files/{file_id}/content", self.file_content)
        app.router.add_post("/v1/batches", self.create_openai_batch)
        app.router.add_get("/v1/batches", self.list_openai_batches)
        app.router.add_get("/v1/batches/{batch_id}", self.retrieve_openai_batch)
        app.router.add_post("/v1/messages/batches", self.create_anthropic_batch)
        app.router.add_get("/v1/messages/batches", self.list_anthropic_batches)
        app.router.add_get("/v1/messages/batches/{batch_id}", self.retrieve_anthropic_batch)
        app.router.add_get("/v1/messages/batches/{batch_id}/results", self.anthropic_results)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/stats", self.stats)
        app.router.add_post("/admin/config", self.set_config)
        app.router.add_post("/admin/reset", self.reset)
        return app

    # -- admin -------------------------------------------------------------------------

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "attempts": dict(self.attempts),
                "ok": dict(self.ok),
                "faults": dict(self.faults),
                "total_attempts": sum(self.attempts.values()),
                "total_ok": sum(self.ok.values()),
                "max_in_flight": self.max_in_flight,
                "rejected": self.rejected,
                "batches_created": len(self.openai_batches) + len(self.anthropic_batches),
                "config": asdict(self.config),
            }
        )

    async def set_config(self, request: web.Request) -> web.Response:
        data = await request.json()
        known = {f.name for f in fields(Config)}
        unknown = set(data) - known
        if unknown:
            return web.json_response(
                {"error": f"unknown config keys {sorted(unknown)}"}, status=400
            )
        for key, value in data.items():
            setattr(self.config, key, value)
        return web.json_response(asdict(self.config))

    async def reset(self, request: web.Request) -> web.Response:
        self.attempts.clear()
        self.ok.clear()
        self.faults.clear()
        self.rejected = 0
        self.max_in_flight = self.in_flight
        self.cache_seen.clear()
        self.openai_batches.clear()
        self.anthropic_batches.clear()
        self.files.clear()
        return web.json_response({"reset": True})

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    # -- shared ------------------------------------------------------------------------

    def _key_of(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[len("Bearer ") :]
        return request.headers.get("x-api-key")

    def _draw_fault(self, fp: str, attempt: int) -> str | None:
        cfg = self.config
        if attempt < len(cfg.script):
            scripted = cfg.script[attempt]
            return None if scripted == "ok" else scripted
        if cfg.fault_rate <= 0 or not cfg.faults:
            return None
        rng = random.Random(f"{cfg.seed}:{fp}:{attempt}")
        if rng.random() >= cfg.fault_rate:
            return None
        return rng.choice(cfg.faults)

    def _error(
        self, flavour: str, status: int, kind: str, message: str, **headers: str
    ) -> web.Response:
        if flavour == "anthropic":
            body = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        return web.json_response(body, status=status, headers=headers)

    def _precheck(
        self, request: web.Request, flavour: str, model: str, body: dict[str, Any] | None = None
    ) -> web.Response | None:
        cfg = self.config
        if cfg.api_key is not None and self._key_of(request) != cfg.api_key:
            kind = "authentication_error" if flavour == "anthropic" else "invalid_request_error"
            return self._error(flavour, 401, kind, "Incorrect API key provided.")
        if model == "fault-400":
            kind = "invalid_request_error"
            return self._error(flavour, 400, kind, "The model fault-400 rejects every request.")
        if model == "fault-404":
            kind = "not_found_error" if flavour == "anthropic" else "invalid_request_error"
            return self._error(flavour, 404, kind, "The model fault-404 does not exist.")
        body = body or {}
        if model == "fault-nologprobs" and body.get("logprobs"):
            kind = "invalid_request_error"
            return self._error(flavour, 400, kind, "logprobs is not supported with this model.")
        if model == "fault-notemp" and "temperature" in body:
            kind = "invalid_request_error"
            return self._error(flavour, 400, kind, "temperature is not supported with this model.")
        return None

    async def _fault(
        self, request: web.Request, flavour: str, kind: str, body: dict[str, Any]
    ) -> web.StreamResponse:
        cfg = self.config
        self.faults[kind] += 1
        if kind == "429":
            headers = {"Retry-After": str(max(1, math.ceil(cfg.retry_after)))}
            if cfg.retry_after_ms_header:
                headers["retry-after-ms"] = str(int(cfg.retry_after * 1000))
            err = "rate_limit_error" if flavour == "anthropic" else "rate_limit_exceeded"
            return self._error(flavour, 429, err, "Rate limit reached (injected).", **headers)
        if kind == "500":
            err = "api_error" if flavour == "anthropic" else "server_error"
            return self._error(flavour, 500, err, "The server had an error (injected).")
        if kind == "529":
            return self._error(flavour, 529, "overloaded_error", "Overloaded (injected).")
        if kind == "timeout":
            await asyncio.sleep(cfg.timeout_sleep)
            return self._error(flavour, 504, "timeout_error", "Timed out (injected).")
        if kind == "malformed":
            return web.Response(
                body=b'{"id": "broken", "choices": [{"index": 0, "message": {"role": "assis',
                status=200,
                content_type="application/json",
            )
        if kind == "empty":
            return web.json_response(_empty_answer(flavour, str(body.get("model", "fake"))))
        if kind == "truncated":
            full = json.dumps({"id": "cut", "padding": "x" * 256}).encode()
            resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            resp.content_length = len(full)
            await resp.prepare(request)
            await resp.write(full[: len(full) // 2])
            assert request.transport is not None
            request.transport.close()
            return resp
        raise AssertionError(f"unknown fault kind {kind!r}")

    async def _handle(self, request: web.Request, flavour: str) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            try:
                body = await request.json()
            except json.JSONDecodeError:
                return self._error(flavour, 400, "invalid_request_error", "Body is not JSON.")
            model = str(body.get("model", ""))
            rejected = self._precheck(request, flavour, model, body)
            if rejected is not None:
                self.rejected += 1
                return rejected
            messages = _conversation(body, flavour)
            fp = fingerprint(messages)
            attempt = self.attempts[fp]
            self.attempts[fp] += 1
            delay = self.config.latency + self.config.model_latency.get(model, 0.0)
            if delay > 0:
                await asyncio.sleep(delay)
            kind = self._draw_fault(fp, attempt)
            if kind is not None:
                return await self._fault(request, flavour, kind, body)
            if flavour == "anthropic":
                answer = self._anthropic_message(body, messages, fp)
            else:
                answer = _openai_completion(body, messages, fp, self.config.reply)
            payload = json.dumps(answer).encode()
            resp = web.Response(body=payload, content_type="application/json")
            await resp.prepare(request)
            await resp.write_eof()
            self.ok[fp] += 1
            return resp
        finally:
            self.in_flight -= 1

    # -- OpenAI ------------------------------------------------------------------------

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai")

    async def upload_file(self, request: web.Request) -> web.Response:
        rejected = self._precheck(request, "openai", "")
        if rejected is not None:
            return rejected
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return self._error("openai", 400, "invalid_request_error", "No file uploaded.")
        data = upload.file.read()
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        self.files[file_id] = data
        return web.json_response(
            _file_object(file_id, data, upload.filename, str(form.get("purpose", "batch")))
        )

    async def file_content(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.files:
            return self._error("openai", 404, "invalid_request_error", f"No such file: {file_id}")
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    async def create_openai_batch(self, request: web.Request) -> web.Response:
        rejected = self._precheck(request, "openai", "")
        if rejected is not None:
            return rejected
        body = await request.json()
        file_id = body.get("input_file_id")
        if file_id not in self.files:
            return self._error("openai", 400, "invalid_request_error", f"No such file: {file_id}")
        lines = [json.loads(line) for line in self.files[file_id].splitlines() if line.strip()]
        ids = [line["custom_id"] for line in lines]
        if len(set(ids)) != len(ids):
            return self._error(
                "openai", 400, "invalid_request_error", "Duplicate custom_id in batch."
            )
        batch_id = f"batch_{uuid.uuid4().hex[:24]}"
        self.openai_batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body.get("endpoint", "/v1/chat/completions"),
            "errors": None,
            "input_file_id": file_id,
            "completion_window": body.get("completion_window", "24h"),
            "status": "in_progress",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "in_progress_at": int(time.time()),
            "completed_at": None,
            "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "_created": time.monotonic(),
            "_lines": lines,
            "_key": self._key_of(request) or "",
        }
        if self.config.batch_create_delay > 0:  # the batch exists; the reply comes late
            await asyncio.sleep(self.config.batch_create_delay)
        return web.json_response(_public(self.openai_batches[batch_id]))

    async def list_openai_batches(self, request: web.Request) -> web.Response:
        rejected = self._precheck(request, "openai", "")
        if rejected is not None:
            return rejected
        page = _newest_page(self.openai_batches, request.query.get("after"), request.query)
        return web.json_response({"object": "list", **page})

    async def retrieve_openai_batch(self, request: web.Request) -> web.Response:
        batch = self.openai_batches.get(request.match_info["batch_id"])
        if batch is None:
            return self._error("openai", 404, "invalid_request_error", "No such batch.")
        if (
            batch["status"] == "in_progress"
            and time.monotonic() - batch["_created"] >= self.config.batch_delay
        ):
            self._finish_openai_batch(batch)
        return web.json_response(_public(batch))

    def _openai_error_line(
        self, custom_id: str, status: int | None, message: str, kind: str
    ) -> str:
        """An error line of an output or error file (``status`` None: never executed)."""
        line: dict[str, Any] = {
            "id": f"batch_req_{uuid.uuid4().hex[:16]}",
            "custom_id": custom_id,
            "response": None,
            "error": None,
        }
        if status is None:
            line["error"] = {"code": kind, "message": message}
        else:
            line["response"] = {
                "status_code": status,
                "request_id": f"req_{uuid.uuid4().hex[:16]}",
                "body": {"error": {"message": message, "type": kind}},
            }
        return json.dumps(line)

    def _finish_openai_batch(self, batch: dict[str, Any]) -> None:
        cfg = self.config
        out: list[str] = []
        errors: list[str] = []
        expired = 0
        for line in batch["_lines"]:
            body = line["body"]
            custom_id = line["custom_id"]
            messages = _conversation(body, "openai")
            fp = fingerprint(messages)
            model = str(body.get("model", ""))
            if model == "fault-nologprobs" and body.get("logprobs"):
                self.rejected += 1
                message = "logprobs is not supported with this model."
                errors.append(
                    self._openai_error_line(custom_id, 400, message, "invalid_request_error")
                )
                continue
            self.attempts[fp] += 1
            if self._batch_line_expires(fp):
                expired += 1
                message = "This request could not be executed before the completion window expired."
                errors.append(self._openai_error_line(custom_id, None, message, "batch_expired"))
                continue
            if self._batch_line_fails(fp):
                self.faults["batch_line"] += 1
                message = "injected batch line error"
                if cfg.batch_echo_key:
                    message += f" (request made with key {batch['_key']})"
                errors.append(self._openai_error_line(custom_id, 500, message, "server_error"))
                continue
            self.ok[fp] += 1
            out.append(
                json.dumps(
                    {
                        "id": f"batch_req_{uuid.uuid4().hex[:16]}",
                        "custom_id": custom_id,
                        "response": {
                            "status_code": 200,
                            "request_id": f"req_{uuid.uuid4().hex[:16]}",
                            "body": _openai_completion(body, messages, fp, cfg.reply),
                        },
                        "error": None,
                    }
                )
            )
            if cfg.batch_duplicate_lines:  # a later error line for the same request
                message = "duplicate line (injected)"
                errors.append(self._openai_error_line(custom_id, 500, message, "server_error"))
        for _ in range(cfg.batch_unknown_lines):
            unknown = f"unknown-{uuid.uuid4().hex[:12]}"
            errors.append(self._openai_error_line(unknown, 500, "not yours", "server_error"))
        out_id = f"file-{uuid.uuid4().hex[:24]}"
        self.files[out_id] = "".join(x + "\n" for x in out).encode()
        batch["output_file_id"] = out_id
        if errors:
            err_id = f"file-{uuid.uuid4().hex[:24]}"
            self.files[err_id] = "".join(x + "\n" for x in errors).encode()
            batch["error_file_id"] = err_id
        batch["status"] = "expired" if expired else "completed"
        batch["completed_at"] = int(time.time())
        batch["request_counts"] = {
            "total": len(batch["_lines"]),
            "completed": len(out),
            "failed": len(batch["_lines"]) - len(out),
        }

    def _batch_line_fails(self, fp: str) -> bool:
        rate = self.config.batch_fault_rate
        if rate <= 0:
            return False
        attempt = self.attempts[fp]
        return random.Random(f"batch:{self.config.seed}:{fp}:{attempt}").random() < rate

    def _batch_line_expires(self, fp: str) -> bool:
        rate = self.config.batch_expire_rate
        if rate <= 0:
            return False
        attempt = self.attempts[fp]
        return random.Random(f"expire:{self.config.seed}:{fp}:{attempt}").random() < rate

    # -- Anthropic ---------------------------------------------------------------------

    async def messages(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "anthropic")

    def _anthropic_message(
        self, body: dict[str, Any], messages: list[dict[str, Any]], fp: str
    ) -> dict[str, Any]:
        verdict = verdict_of(fp)
        system = body.get("system")
        cached_text = ""
        if isinstance(system, list):
            cached_text = "".join(
                str(b.get("text", ""))
                for b in system
                if isinstance(b, dict) and b.get("cache_control")
            )
        prompt_tokens = _count_tokens(messages)
        cache_creation = cache_read = 0
        if cached_text:
            cached_tokens = max(1, len(cached_text) // 4)
            key = hashlib.sha256(cached_text.encode()).hexdigest()
            if key in self.cache_seen:
                cache_read = cached_tokens
            else:
                self.cache_seen.add(key)
                cache_creation = cached_tokens
            prompt_tokens = max(0, prompt_tokens - cached_tokens)
        tool_choice = body.get("tool_choice") or {}
        if tool_choice.get("type") == "tool":
            content: list[dict[str, Any]] = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{fp[:20]}",
                    "name": tool_choice.get("name", "verdict"),
                    "input": {"verdict": verdict},
                }
            ]
            stop_reason = "tool_use"
        else:
            text = str(body.get("reply_prefix", "")) + self.config.reply.format(verdict=verdict)
            limit = int(body.get("max_tokens", 16))
            stop_reason = "end_turn" if limit >= len(text) else "max_tokens"
            content = [{"type": "text", "text": text[: max(1, limit)]}]
        return {
            "id": f"msg_{fp[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "fake"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": prompt_tokens,
                "output_tokens": 1,
                "cache_creation_input_tokens": cache_creation,
                "cache_read_input_tokens": cache_read,
            },
        }

    async def create_anthropic_batch(self, request: web.Request) -> web.Response:
        rejected = self._precheck(request, "anthropic", "")
        if rejected is not None:
            return rejected
        body = await request.json()
        reqs = body.get("requests", [])
        ids = [r["custom_id"] for r in reqs]
        if len(set(ids)) != len(ids):
            return self._error(
                "anthropic", 400, "invalid_request_error", "Duplicate custom_id in batch."
            )
        batch_id = f"msgbatch_{uuid.uuid4().hex[:24]}"
        now = datetime.now(UTC)
        self.anthropic_batches[batch_id] = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "in_progress",
            "request_counts": {
                "processing": len(reqs),
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "ended_at": None,
            "created_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=24)).isoformat(),
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": None,
            "_created": time.monotonic(),
            "_requests": reqs,
            "_results": b"",
            "_key": self._key_of(request) or "",
        }
        if self.config.batch_create_delay > 0:  # the batch exists; the reply comes late
            await asyncio.sleep(self.config.batch_create_delay)
        return web.json_response(_public(self.anthropic_batches[batch_id]))

    async def list_anthropic_batches(self, request: web.Request) -> web.Response:
        rejected = self._precheck(request, "anthropic", "")
        if rejected is not None:
            return rejected
        page = _newest_page(self.anthropic_batches, request.query.get("after_id"), request.query)
        return web.json_response({**page})

    async def retrieve_anthropic_batch(self, request: web.Request) -> web.Response:
        batch = self.anthropic_batches.get(request.match_info["batch_id"])
        if batch is None:
            return self._error("anthropic", 404, "not_found_error", "No such batch.")
        if (
            batch["processing_status"] == "in_progress"
            and time.monotonic() - batch["_created"] >= self.config.batch_delay
        ):
            self._finish_anthropic_batch(batch, f"{request.scheme}://{request.host}")
        return web.json_response(_public(batch))

    def _finish_anthropic_batch(self, batch: dict[str, Any], origin: str) -> None:
        cfg = self.config
        lines: list[str] = []
        late: list[str] = []  # lines that come after all the others
        counts = Counter[str]()
        for req in batch["_requests"]:
            params = req["params"]
            messages = _conversation(params, "anthropic")
            fp = fingerprint(messages)
            result: dict[str, Any]
            if params.get("model") == "fault-notemp" and "temperature" in params:
                self.rejected += 1
                message = "temperature is not supported with this model."
                result = {
                    "type": "errored",
                    "error": {
                        "type": "error",
                        "error": {"type": "invalid_request_error", "message": message},
                    },
                }
                lines.append(json.dumps({"custom_id": req["custom_id"], "result": result}))
                counts["errored"] += 1
                continue
            self.attempts[fp] += 1
            if self._batch_line_expires(fp):
                result = {"type": "expired"}
            elif self._batch_line_fails(fp):
                self.faults["batch_line"] += 1
                message = "injected batch line error"
                if cfg.batch_echo_key:
                    message += f" (request made with key {batch['_key']})"
                result = {
                    "type": "errored",
                    "error": {"type": "error", "error": {"type": "api_error", "message": message}},
                }
            else:
                self.ok[fp] += 1
                result = {
                    "type": "succeeded",
                    "message": self._anthropic_message(params, messages, fp),
                }
                if cfg.batch_duplicate_lines:
                    duplicate = {
                        "type": "errored",
                        "error": {
                            "type": "error",
                            "error": {"type": "api_error", "message": "duplicate line (injected)"},
                        },
                    }
                    late.append(json.dumps({"custom_id": req["custom_id"], "result": duplicate}))
            counts[result["type"]] += 1
            lines.append(json.dumps({"custom_id": req["custom_id"], "result": result}))
        for _ in range(cfg.batch_unknown_lines):
            unknown = {
                "type": "errored",
                "error": {"type": "error", "error": {"type": "api_error", "message": "not yours"}},
            }
            late.append(
                json.dumps({"custom_id": f"unknown-{uuid.uuid4().hex[:12]}", "result": unknown})
            )
        # Order is not guaranteed: reversed, with the extra lines last.
        batch["_results"] = "".join(x + "\n" for x in [*reversed(lines), *late]).encode()
        batch["processing_status"] = "ended"
        batch["ended_at"] = datetime.now(UTC).isoformat()
        batch["request_counts"] = {
            "processing": 0,
            "succeeded": counts["succeeded"],
            "errored": counts["errored"],
            "canceled": 0,
            "expired": counts["expired"],
        }
        batch["results_url"] = f"{origin}/v1/messages/batches/{batch['id']}/results"

    async def anthropic_results(self, request: web.Request) -> web.Response:
        batch = self.anthropic_batches.get(request.match_info["batch_id"])
        if batch is None or batch["processing_status"] != "ended":
            return self._error("anthropic", 404, "not_found_error", "No results for this batch.")
        return web.Response(body=batch["_results"], content_type="application/binary")


def _newest_page(
    batches: dict[str, dict[str, Any]], after: str | None, query: Any
) -> dict[str, Any]:
    """One page of a provider's batch list, newest first, after the batch id ``after``
    (both providers page the same way; only the name of ``after`` differs)."""
    newest_first = sorted(batches.values(), key=lambda b: b["_created"], reverse=True)
    if after is not None:
        ids = [b["id"] for b in newest_first]
        newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
    limit = int(query.get("limit", "20"))
    page = newest_first[:limit]
    return {
        "data": [_public(b) for b in page],
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(newest_first) > limit,
    }


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _file_object(file_id: str, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(data),
        "created_at": int(time.time()),
        "filename": filename,
        "purpose": purpose,
        "status": "processed",
    }


def _empty_answer(flavour: str, model: str) -> dict[str, Any]:
    """A well-formed answer with nothing in it (the ``empty`` fault)."""
    usage_in, usage_out = 10, 0
    if flavour == "anthropic":
        return {
            "id": f"msg_empty_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
        }
    return {
        "id": f"chatcmpl-empty-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ""},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": usage_in,
            "completion_tokens": usage_out,
            "total_tokens": usage_in + usage_out,
        },
    }


def _conversation(body: dict[str, Any], flavour: str) -> list[dict[str, Any]]:
    messages = list(body.get("messages", []))
    if flavour == "anthropic" and body.get("system"):
        messages.insert(0, {"role": "system", "content": body["system"]})
    return messages


def _count_tokens(messages: list[dict[str, Any]]) -> int:
    return max(1, sum(len(_text_of(m.get("content"))) for m in messages) // 4)


def _openai_completion(
    body: dict[str, Any], messages: list[dict[str, Any]], fp: str, reply: str
) -> dict[str, Any]:
    probs = verdict_probs(fp)
    verdict = probs[0][0].strip()
    text = str(body.get("reply_prefix", "")) + reply.format(verdict=verdict)
    limit = body.get("max_tokens") or body.get("max_completion_tokens") or 16
    finish = "stop" if int(limit) >= len(text) else "length"
    text = text[: max(1, int(limit))]
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": finish,
        "logprobs": None,
    }
    if body.get("response_format", {}).get("type") in ("json_schema", "json_object"):
        choice["message"]["content"] = json.dumps({"verdict": verdict})
    if body.get("logprobs"):
        top = int(body.get("top_logprobs") or 0)
        first_token, first_p = probs[0]
        choice["logprobs"] = {
            "content": [
                {
                    "token": first_token,
                    "logprob": math.log(first_p),
                    "bytes": list(first_token.encode()),
                    "top_logprobs": [
                        {"token": tok, "logprob": math.log(p), "bytes": list(tok.encode())}
                        for tok, p in probs[:top]
                    ],
                }
            ],
            "refusal": None,
        }
    prompt_tokens = _count_tokens(messages)
    return {
        "id": f"chatcmpl-{fp[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 1,
            "total_tokens": prompt_tokens + 1,
        },
    }


class FaultServerProcess:
    """A fault server running as a child process (see :func:`spawn`)."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        """Base URL: the Anthropic backend's ``base_url``."""
        self.openai_url = f"{self.url}/v1"
        """The OpenAI backend's ``base_url``."""

    @staticmethod
    def defaults() -> dict[str, Any]:
        return asdict(Config())

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def configure(self, **config: Any) -> dict[str, Any]:
        """Change the server's :class:`Config` fields."""
        result: dict[str, Any] = self._post("/admin/config", config)
        return result

    def reset(self) -> None:
        """Clear the request counters."""
        self._post("/admin/reset", {})

    def stats(self) -> dict[str, Any]:
        """``attempts`` and ``ok`` per fingerprint, ``faults`` per kind, totals."""
        with urllib.request.urlopen(self.url + "/stats", timeout=30) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def spawn(*args: str, timeout: float = 30.0) -> FaultServerProcess:
    """Start ``python tests/fault_server.py --port 0 ARGS...``; return once it accepts requests."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("READY "):
            return FaultServerProcess(process, int(line.split()[1]))
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"fault server did not start (exit code {process.poll()})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    defaults = Config()
    parser.add_argument("--latency", type=float, default=defaults.latency)
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate)
    parser.add_argument(
        "--faults", default=",".join(FAULT_KINDS), help="comma-separated fault kinds"
    )
    parser.add_argument("--retry-after", type=float, default=defaults.retry_after)
    parser.add_argument("--timeout-sleep", type=float, default=defaults.timeout_sleep)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--batch-delay", type=float, default=defaults.batch_delay)
    parser.add_argument("--batch-fault-rate", type=float, default=defaults.batch_fault_rate)
    args = parser.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    known = (*FAULT_KINDS, *EXTRA_FAULT_KINDS)
    unknown = set(faults) - set(known)
    if unknown:
        parser.error(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(known)}")
    config = Config(
        latency=args.latency,
        fault_rate=args.fault_rate,
        faults=faults,
        retry_after=args.retry_after,
        timeout_sleep=args.timeout_sleep,
        seed=args.seed,
        api_key=args.api_key,
        batch_delay=args.batch_delay,
        batch_fault_rate=args.batch_fault_rate,
    )
    asyncio.run(_serve(FaultServer(config), args.host, args.port))


async def _serve(server: FaultServer, host: str, port: int) -> None:
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    addresses = runner.addresses
    bound = int(addresses[0][1]) if addresses else port
    print(f"READY {bound}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main(sys.argv[1:])
