"""The OpenAI backend against real servers on 127.0.0.1: llama.cpp's and our fault server."""

from __future__ import annotations

import asyncio
import time

import pytest

from judge.backends.base import Completion, CompletionRequest
from judge.backends.openai import OpenAIBackend
from judge.errors import BackendError, ConfigError, CredentialsError, FatalBackendError
from judge.factory import preset_judge
from judge.judges import Task
from judge.prices import load_prices
from judge.records import Message, PairItem
from judge.registry import backends, benchmarks
from judge.run import Caller, RetryPolicy
from tests.conftest import ask
from tests.fault_server import FaultServerProcess, expected_choice_probs, fingerprint

CHOICES = ("A", "B", "C")
TRANSPORTS = ("sdk", "aiohttp")


def verdict_request(text: str, **kw: object) -> CompletionRequest:
    return CompletionRequest(
        messages=(Message(role="system", content="Judge."), Message(role="user", content=text)),
        max_tokens=1,
        choices=CHOICES,
        **kw,
    )


def messages_of(request: CompletionRequest) -> list[dict[str, str]]:
    return [m.model_dump() for m in request.messages]


@pytest.fixture
def sample_pairs() -> list[PairItem]:
    return [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)][:5]


# -- a real OpenAI-compatible server: llama_cpp.server with the SmolLM2 GGUF --------------


def test_llama_server_probabilities_agree_with_in_process_llama_cpp(
    llama_server: str, sample_pairs: list[PairItem]
) -> None:
    """The same prompts through llama.cpp's server (top-20 logprobs over HTTP) and in process."""
    import llama_cpp
    import numpy as np

    from judge.backends.llamacpp import LlamaCppBackend
    from tests.conftest import smollm2_gguf

    remote = preset_judge("smollm2", backend="openai", base_url=llama_server, model="smollm2")
    local = preset_judge("smollm2", n_threads=1)
    assert isinstance(remote.backend, OpenAIBackend)
    assert isinstance(local.backend, LlamaCppBackend)
    tasks = [Task(item, swapped=s) for item in sample_pairs[:3] for s in (False, True)]
    requests = [remote.request(t) for t in tasks]
    assert requests == [local.request(t) for t in tasks]  # the same rendered prompts

    served = ask(remote.backend, requests)
    embedded = asyncio.run(local.backend.complete(requests))
    # A fresh llama.cpp context evaluating each whole prompt at once, like the server does.
    llm = llama_cpp.Llama(
        model_path=str(smollm2_gguf()), n_ctx=2048, n_threads=1, n_threads_batch=1, verbose=False
    )
    choice_ids = [
        {llm.tokenize(v.encode(), add_bos=False)[0] for v in (c, " " + c)} for c in CHOICES
    ]
    max_gap_embedded = 0.0
    for request, got, ref in zip(requests, served, embedded, strict=True):
        assert isinstance(got, Completion), got
        assert isinstance(ref, Completion), ref
        assert got.choice_probs is not None and ref.choice_probs is not None
        assert got.tokens_in > 50 and got.tokens_out == 1
        tokens = llm.tokenize(
            local.backend.format_prompt(request).encode(), add_bos=False, special=True
        )
        llm.reset()  # type: ignore[no-untyped-call]
        llm.eval(tokens)
        pointer = llm._ctx.get_logits_ith(-1)  # the last position's logits
        logits = np.ctypeslib.as_array(pointer, shape=(llm.n_vocab(),)).astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        for choice, ids in zip(CHOICES, choice_ids, strict=True):
            direct = float(sum(probs[i] for i in ids))
            assert got.choice_probs[choice] == pytest.approx(direct, abs=0.005), (choice, request)
            gap = abs(got.choice_probs[choice] - ref.choice_probs[choice])
            max_gap_embedded = max(max_gap_embedded, gap)
    # The embedded backend evaluates in fixed 64-token chunks and a 1-token tail chunk takes
    # llama.cpp's matrix-vector path: its numbers differ slightly from a one-shot eval.
    assert max_gap_embedded < 0.03


def test_llama_server_generates_text(llama_server: str) -> None:
    backend = OpenAIBackend(model="smollm2", base_url=llama_server, api_key_env="")
    request = CompletionRequest(
        messages=(Message(role="user", content="Say hello."),), max_tokens=8
    )
    (result,) = ask(backend, [request])
    assert isinstance(result, Completion), result
    assert result.text.strip()
    assert result.choice_probs is None
    assert 0 < result.tokens_out <= 8
    assert result.cost == 0.0 and result.latency_s > 0


# -- the fault server -----------------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_choice_probabilities_sum_token_variants(
    fault_server: FaultServerProcess, transport: str
) -> None:
    backend = OpenAIBackend(
        model="gpt-4o-mini", base_url=fault_server.openai_url, transport=transport
    )
    requests = [verdict_request(f"pair {i}") for i in range(12)]
    results = ask(backend, requests)
    for request, result in zip(requests, results, strict=True):
        assert isinstance(result, Completion), result
        expected = expected_choice_probs(messages_of(request), CHOICES)
        assert result.choice_probs is not None
        for choice in CHOICES:
            assert result.choice_probs[choice] == pytest.approx(expected[choice], abs=1e-9)
        best = max(expected, key=lambda c: expected[c])
        assert result.text == best
        price = load_prices().lookup("gpt-4o-mini")
        assert price is not None
        want = (result.tokens_in * price.input + result.tokens_out * price.output) / 1e6
        assert result.cost == pytest.approx(want) and result.cost > 0


def test_top_logprobs_limits_what_is_counted(fault_server: FaultServerProcess) -> None:
    backend = OpenAIBackend(model="m", base_url=fault_server.openai_url, top_logprobs=2)
    request = verdict_request("few alternatives")
    (result,) = ask(backend, [request])
    assert isinstance(result, Completion) and result.choice_probs is not None
    expected = expected_choice_probs(messages_of(request), CHOICES, top=2)
    assert result.choice_probs == pytest.approx(expected)
    assert sum(1 for p in result.choice_probs.values() if p > 0) <= 2


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", ["429", "500", "529", "timeout", "malformed", "truncated"])
def test_every_fault_is_a_retryable_error(
    fault_server: FaultServerProcess, kind: str, transport: str
) -> None:
    fault_server.configure(script=[kind], retry_after=0.25, timeout_sleep=1.5)
    timeout = 0.3 if kind == "timeout" else 5.0
    backend = OpenAIBackend(
        model="m", base_url=fault_server.openai_url, timeout=timeout, transport=transport
    )
    request = verdict_request(f"fault {kind} {transport}")
    (first,) = ask(backend, [request])
    assert isinstance(first, BackendError) and not isinstance(first, FatalBackendError), first
    assert first.retryable
    if kind == "429":
        assert first.retry_after == pytest.approx(0.25)
        assert "429" in str(first) and "Rate limit reached" in str(first)
    (second,) = ask(backend, [request])  # the script faults only the first attempt
    assert isinstance(second, Completion), second


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_400_and_401_are_fatal_with_the_servers_message(
    fault_server: FaultServerProcess, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-test-wrong-0123456789")
    fault_server.configure(api_key="sk-test-right")
    backend = OpenAIBackend(
        model="m",
        base_url=fault_server.openai_url,
        api_key_env="JUDGE_TEST_KEY",
        transport=transport,
    )
    (result,) = ask(backend, [verdict_request("unauthorised")])
    assert isinstance(result, FatalBackendError)
    assert "401" in str(result) and "Incorrect API key provided." in str(result)
    assert "sk-test-wrong" not in str(result)

    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-test-right")
    backend = OpenAIBackend(
        model="fault-400",
        base_url=fault_server.openai_url,
        api_key_env="JUDGE_TEST_KEY",
        transport=transport,
    )
    (result,) = ask(backend, [verdict_request("bad request")])
    assert isinstance(result, FatalBackendError)
    assert "400" in str(result) and "rejects every request" in str(result)


def test_fatal_error_stops_a_run_at_once(
    fault_server: FaultServerProcess, tmp_path: object
) -> None:
    from pathlib import Path

    from judge.records import RunConfig
    from judge.run import run_judging

    items = [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)]
    judge = preset_judge(
        "smollm2", backend="openai", base_url=fault_server.openai_url, model="fault-400"
    )
    started = time.monotonic()
    with pytest.raises(FatalBackendError, match="rejects every request"):
        run_judging(
            RunConfig(judge="smollm2", concurrency=4),
            output=Path(str(tmp_path)),
            judge=judge,
            items=items,
        )
    assert time.monotonic() - started < 10
    # Stopped at once: of 132 tasks, only the requests already in flight were sent.
    assert 1 <= fault_server.stats()["rejected"] <= 8


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [({"retry_after_ms_header": True}, 0.6), ({"retry_after_ms_header": False}, 1.0)],
)
def test_retry_after_is_honoured_by_the_caller(
    fault_server: FaultServerProcess, headers: dict[str, bool], retry_after: float
) -> None:
    """``retry-after-ms: 600`` waits 0.6 s; ``Retry-After: 1`` (whole seconds) waits 1 s."""
    fault_server.configure(script=["429"], retry_after=0.6, **headers)
    backend = OpenAIBackend(model="m", base_url=fault_server.openai_url)
    caller = Caller(None, RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.02), seed=0)
    request = verdict_request(f"retry after {retry_after}")

    async def go() -> tuple[float, list[object]]:
        started = time.monotonic()
        try:
            out = await caller(backend, [request], [0])
        finally:
            await backend.aclose()
        return time.monotonic() - started, list(out)

    elapsed, (result,) = asyncio.run(go())
    assert isinstance(result.result, Completion)  # type: ignore[attr-defined]
    assert retry_after <= elapsed < retry_after + 1.0  # waited the server's delay, not more
    fp = fingerprint(messages_of(request))
    assert fault_server.stats()["attempts"][fp] == 2


def test_logprobs_auto_falls_back_to_text(fault_server: FaultServerProcess) -> None:
    request = verdict_request("no logprobs here")
    auto = OpenAIBackend(model="fault-nologprobs", base_url=fault_server.openai_url)
    (result,) = ask(auto, [request])
    assert isinstance(result, Completion), result
    assert result.choice_probs is None and result.text in CHOICES
    assert auto._logprobs_refused  # later requests skip logprobs without a failed attempt

    forced = OpenAIBackend(
        model="fault-nologprobs", base_url=fault_server.openai_url, logprobs=True
    )
    (result,) = ask(forced, [request])
    assert isinstance(result, FatalBackendError) and "logprobs" in str(result)

    off = OpenAIBackend(model="m", base_url=fault_server.openai_url, logprobs=False)
    (result,) = ask(off, [request])
    assert isinstance(result, Completion) and result.choice_probs is None


def test_structured_output_sends_the_schema(fault_server: FaultServerProcess) -> None:
    import json

    schema = {"type": "object", "properties": {"verdict": {"enum": ["A", "B", "C"]}}}
    backend = OpenAIBackend(model="m", base_url=fault_server.openai_url, strict_schema=True)
    request = CompletionRequest(
        messages=(Message(role="user", content="json please"),), max_tokens=50, json_schema=schema
    )
    body = backend.request_body(request)
    assert body["response_format"]["json_schema"] == {
        "name": "judgment",
        "schema": schema,
        "strict": True,
    }
    (result,) = ask(backend, [request])
    assert isinstance(result, Completion)
    assert json.loads(result.text)["verdict"] in CHOICES


def test_rate_limits_pace_requests(fault_server: FaultServerProcess) -> None:
    # 1,200 rpm = 20/s with a one-second burst: 40 requests need about one second.
    backend = OpenAIBackend(model="m", base_url=fault_server.openai_url, rpm=1200)
    started = time.monotonic()
    results = ask(backend, [verdict_request(f"rpm {i}") for i in range(40)])
    elapsed = time.monotonic() - started
    assert all(isinstance(r, Completion) for r in results)
    assert 0.9 <= elapsed < 3.0
    # 60,000 tpm = 1,000 tokens/s; each request is counted as prompt estimate + max_tokens.
    backend = OpenAIBackend(model="m", base_url=fault_server.openai_url, tpm=60_000)
    started = time.monotonic()
    big = "x" * 1600  # about 400 tokens
    results = ask(backend, [verdict_request(f"{big} {i}") for i in range(6)])
    assert all(isinstance(r, Completion) for r in results)
    assert 1.2 <= time.monotonic() - started < 4.0


def test_concurrency_is_bounded_by_max_connections(fault_server: FaultServerProcess) -> None:
    fault_server.configure(latency=0.05)
    backend = OpenAIBackend(model="m", base_url=fault_server.openai_url, max_connections=5)
    assert backend.max_concurrency == 5
    results = ask(backend, [verdict_request(f"conc {i}") for i in range(30)])
    assert all(isinstance(r, Completion) for r in results)
    assert fault_server.stats()["max_in_flight"] <= 5


# -- keys and configuration -------------------------------------------------------------


def test_missing_key_fails_before_any_request(
    fault_server: FaultServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(CredentialsError, match="OPENAI_API_KEY"):
        OpenAIBackend(model="gpt-4o-mini")
    with pytest.raises(CredentialsError, match="JUDGE_NOPE"):
        OpenAIBackend(model="m", base_url="http://10.1.2.3:8000/v1", api_key_env="JUDGE_NOPE")
    with pytest.raises(CredentialsError):
        preset_judge("smollm2", backend="openai", model="gpt-4o-mini")
    assert fault_server.stats()["total_attempts"] == 0
    # A local server needs no key; neither does any server with api_key_env="".
    OpenAIBackend(model="m", base_url=fault_server.openai_url)
    OpenAIBackend(model="m", base_url="http://10.1.2.3:8000/v1", api_key_env="")


def test_spec_names_what_changes_output_and_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-secret-abcdef")
    a = OpenAIBackend(
        model="gpt-4o", base_url="http://example.com:9000/v1/#x", api_key_env="JUDGE_TEST_KEY"
    )
    with pytest.raises(ConfigError, match=r"'http://\*\*\*@example.com:9000/v1/'") as refused:
        OpenAIBackend(model="gpt-4o", base_url="http://user:pw@example.com:9000/v1/")
    assert "pw" not in str(refused.value)  # URL credentials are refused, never shown
    b = OpenAIBackend(
        model="gpt-4o",
        base_url="http://example.com:9000/v1",
        api_key_env="JUDGE_TEST_KEY",
        timeout=5,
        max_connections=3,
        rpm=10,
        transport="aiohttp",
    )
    assert a.spec() == b.spec()  # timeouts, limits, transport and fragments do not count
    assert a.spec()["base_url"] == "http://example.com:9000/v1"
    assert "sk-secret" not in repr(a.spec()) + repr(a) + repr(vars(a.options))
    c = OpenAIBackend(
        model="gpt-4o-mini", base_url="http://example.com:9000/v1", api_key_env="JUDGE_TEST_KEY"
    )
    assert c.spec() != a.spec()


def test_options_are_strict_and_registered() -> None:
    assert backends.get("openai") is OpenAIBackend
    with pytest.raises(ConfigError, match="temprature"):
        OpenAIBackend(model="m", base_url="http://127.0.0.1:1/v1", temprature=0)
    with pytest.raises(ConfigError, match="model"):
        OpenAIBackend(base_url="http://127.0.0.1:1/v1")


def test_max_tokens_field_defaults_by_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    request = verdict_request("x")
    official = OpenAIBackend(model="gpt-4o").request_body(request)
    local = OpenAIBackend(model="m", base_url="http://127.0.0.1:1/v1").request_body(request)
    assert official["max_completion_tokens"] == 1 and "max_tokens" not in official
    assert local["max_tokens"] == 1 and "max_completion_tokens" not in local
    assert official["logprobs"] is True and official["top_logprobs"] == 20


def test_connection_refused_is_retryable() -> None:
    backend = OpenAIBackend(model="m", base_url="http://127.0.0.1:9/v1", timeout=2)
    (result,) = ask(backend, [verdict_request("nobody home")])
    assert isinstance(result, BackendError) and result.retryable


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_extra_body_reaches_the_server(fault_server: FaultServerProcess, transport: str) -> None:
    """Server-specific fields (vLLM's top_k, ...) travel although the SDK does not declare them."""
    backend = OpenAIBackend(
        model="m",
        base_url=fault_server.openai_url,
        transport=transport,
        extra_body={"top_k": 5, "reply_prefix": "x"},
    )
    assert backend.spec()["extra_body"] == {"top_k": 5, "reply_prefix": "x"}
    request = CompletionRequest(messages=(Message(role="user", content="extra"),), max_tokens=9)
    (result,) = ask(backend, [request])
    assert isinstance(result, Completion), result
    assert result.text.startswith("x")
