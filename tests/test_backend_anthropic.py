"""The Anthropic backend against our fault server on 127.0.0.1 (its wire format, no mocks)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from judge.backends.anthropic import AnthropicBackend
from judge.backends.base import Completion, CompletionRequest
from judge.errors import BackendError, ConfigError, CredentialsError, FatalBackendError
from judge.factory import preset_judge
from judge.prices import load_prices
from judge.records import Message, PairItem, RunConfig
from judge.registry import backends, benchmarks
from judge.run import RetryPolicy, run_judging
from tests.conftest import ask
from tests.fault_server import FaultServerProcess, fingerprint, verdict_of

MODEL = "claude-haiku-4-5-20251001"


def request(text: str, system: str = "You are a fair judge.", **kw: object) -> CompletionRequest:
    return CompletionRequest(
        messages=(Message(role="system", content=system), Message(role="user", content=text)),
        max_tokens=4,
        **kw,
    )


def test_text_verdicts_usage_and_prompt_cache_pricing(fault_server: FaultServerProcess) -> None:
    system = "Judge carefully. " * 200  # long enough to be worth caching
    backend = AnthropicBackend(model=MODEL, base_url=fault_server.url)
    params = backend.request_params(request("x", system))
    assert params["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert [m["role"] for m in params["messages"]] == ["user"]

    first = ask(backend, [request("pair 0", system)])
    rest = ask(backend, [request(f"pair {i}", system) for i in range(1, 4)])
    price = load_prices().lookup(MODEL)
    assert price is not None and price.cached_input is not None and price.cache_write is not None
    for i, result in enumerate(first + rest):
        assert isinstance(result, Completion), result
        req = request(f"pair {i}", system)
        assert result.text == verdict_of(fingerprint([m.model_dump() for m in req.messages]))
        assert result.choice_probs is None  # the API has no logprobs: text parsing
        assert result.tokens_out == 1 and result.tokens_in > 700
    # The first request writes the cache, later ones read it at a tenth of the price.
    assert first[0].cost > 5 * rest[0].cost  # type: ignore[union-attr]
    cached_tokens = len(system) // 4  # the fault server counts 4 characters per token
    uncached = first[0].tokens_in - cached_tokens  # type: ignore[union-attr]
    want_first = (uncached * price.input + cached_tokens * price.cache_write + price.output) / 1e6
    assert first[0].cost == pytest.approx(want_first)  # type: ignore[union-attr]

    no_cache = AnthropicBackend(model=MODEL, base_url=fault_server.url, prompt_cache=False)
    assert no_cache.request_params(request("x", system))["system"] == system


def test_structured_output_through_a_forced_tool(fault_server: FaultServerProcess) -> None:
    schema = {"type": "object", "properties": {"verdict": {"enum": ["A", "B", "C"]}}}
    backend = AnthropicBackend(model=MODEL, base_url=fault_server.url)
    req = request("json please", json_schema=schema)
    params = backend.request_params(req)
    assert params["tools"][0]["input_schema"] == schema
    assert params["tool_choice"] == {"type": "tool", "name": params["tools"][0]["name"]}
    (result,) = ask(backend, [req])
    assert isinstance(result, Completion)
    assert json.loads(result.text)["verdict"] in ("A", "B", "C")
    assert result.finish_reason == "tool_use"


@pytest.mark.parametrize("kind", ["429", "500", "529", "timeout", "malformed", "truncated"])
def test_every_fault_is_a_retryable_error(fault_server: FaultServerProcess, kind: str) -> None:
    fault_server.configure(script=[kind], retry_after=0.4, timeout_sleep=1.5)
    timeout = 0.3 if kind == "timeout" else 5.0
    backend = AnthropicBackend(model=MODEL, base_url=fault_server.url, timeout=timeout)
    req = request(f"fault {kind}")
    (first,) = ask(backend, [req])
    assert isinstance(first, BackendError) and not isinstance(first, FatalBackendError), first
    assert first.retryable
    if kind == "429":
        assert first.retry_after == pytest.approx(0.4)
    if kind == "529":
        assert "529" in str(first) and "Overloaded" in str(first)
    (second,) = ask(backend, [req])
    assert isinstance(second, Completion), second


def test_401_and_400_are_fatal_with_the_servers_message(
    fault_server: FaultServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-987654321")
    fault_server.configure(api_key="sk-ant-right")
    backend = AnthropicBackend(model=MODEL, base_url=fault_server.url)
    (result,) = ask(backend, [request("who am I")])
    assert isinstance(result, FatalBackendError)
    assert "401" in str(result) and "Incorrect API key provided." in str(result)
    assert "sk-ant-wrong" not in str(result)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-right")
    backend = AnthropicBackend(model="fault-400", base_url=fault_server.url)
    (result,) = ask(backend, [request("bad")])
    assert isinstance(result, FatalBackendError) and "rejects every request" in str(result)


def test_temperature_is_dropped_once_the_model_rejects_it(
    fault_server: FaultServerProcess,
) -> None:
    auto = AnthropicBackend(model="fault-notemp", base_url=fault_server.url)
    results = ask(auto, [request("t1")])
    assert isinstance(results[0], Completion), results[0]
    assert "temperature" not in auto.request_params(request("t2"))
    forced = AnthropicBackend(
        model="fault-notemp", base_url=fault_server.url, send_temperature=True
    )
    (result,) = ask(forced, [request("t3")])
    assert isinstance(result, FatalBackendError) and "temperature" in str(result)


def test_missing_key_is_an_error_before_any_work(
    fault_server: FaultServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(CredentialsError, match="ANTHROPIC_API_KEY"):
        AnthropicBackend(model=MODEL)
    with pytest.raises(CredentialsError, match="ANTHROPIC_API_KEY"):
        preset_judge("smollm2", backend="anthropic", model=MODEL)
    assert fault_server.stats()["total_attempts"] == 0
    assert backends.get("anthropic") is AnthropicBackend
    with pytest.raises(ConfigError, match="model"):
        AnthropicBackend(base_url=fault_server.url)


def test_key_never_reaches_results_cache_or_logs(
    fault_server: FaultServerProcess,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A run through a key-checking server, with faults and a 401 at the end: grep every file."""
    key = "sk-ant-api03-SECRET-judge-harness-test-key"
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    fault_server.configure(api_key=key, fault_rate=0.3, seed=3, retry_after=0.01)
    items = [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)][:10]
    judge = preset_judge(
        "smollm2", backend="anthropic", base_url=fault_server.url, model=MODEL, timeout=1.0
    )
    fault_server.configure(timeout_sleep=1.5)
    with caplog.at_level("DEBUG"):
        result = run_judging(
            RunConfig(judge="smollm2", concurrency=8),
            output=tmp_path,
            judge=judge,
            items=items,
            retry=RetryPolicy(base_delay=0.01, max_delay=0.05),
        )
        assert result.manifest.complete and result.manifest.counts.ok == 20
        assert result.manifest.totals.cost > 0
        # Now the key is revoked: the run stops with the server's message, without the key.
        monkeypatch.setenv("ANTHROPIC_API_KEY", key + "-old")
        fault_server.configure(fault_rate=0.0)
        more = [
            i.model_copy(update={"id": i.id + "-2", "response_a": i.response_a + " (2)"})
            for i in items
        ]
        judge2 = preset_judge(
            "smollm2", backend="anthropic", base_url=fault_server.url, model=MODEL
        )
        started = time.monotonic()
        with pytest.raises(FatalBackendError) as failure:
            run_judging(RunConfig(judge="smollm2"), output=tmp_path, judge=judge2, items=more)
        assert time.monotonic() - started < 10
    assert "Incorrect API key provided." in str(failure.value)
    assert key not in str(failure.value)
    assert key not in caplog.text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "judgments.jsonl" for p in files)
    assert any(p.name == "manifest.json" for p in files)
    assert any(p.name.startswith("cache.sqlite") for p in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), path


def test_extra_body_reaches_the_server(fault_server: FaultServerProcess) -> None:
    extra = {"top_k": 3, "reply_prefix": "x"}
    backend = AnthropicBackend(model=MODEL, base_url=fault_server.url, extra_body=extra)
    assert backend.request_params(request("x"))["top_k"] == 3
    (result,) = ask(backend, [request("extra body")])
    assert isinstance(result, Completion), result
    assert result.text.startswith("x")
