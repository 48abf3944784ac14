"""HTTP judge throughput against its ceiling: concurrency / latency.

A server that answers every request after ``latency`` seconds, driven with
``concurrency`` requests in flight, can serve at most ``concurrency / latency``
requests per second (256 / 0.1 s = 2,560/s). This benchmark runs our fault server
(no faults) as a separate process and reports, per client path, judgments per second
as a ratio of that limit and the client's CPU milliseconds per judgment
(``time.process_time`` of this process, all threads) and the server's:

- ``raw-aiohttp``: a minimal aiohttp loop, the ceiling of this machine;
- ``openai-sdk`` / ``openai-aiohttp`` / ``anthropic-sdk``: our backends' ``complete``;
- ``runner``: the whole pipeline (``run_judging``: prompt rendering, cache, store), over
  distinct items (each copy's prompt numbered, so nothing is coalesced or cached);
- ``runner-workers``: the same with ``--workers`` processes (default 2); its CPU is this
  process's plus the workers' (``RUSAGE_CHILDREN``), start-up included;
- ``threadpool``: FastChat ``gen_judgment.py``-style ``ThreadPoolExecutor`` of sync
  ``openai`` clients (FastChat 0.2.36 itself calls ``openai.ChatCompletion``, removed
  in openai 1.0, so it cannot run against a current SDK);
- ``alpaca-eval``: AlpacaEval's own pool, ``alpaca_eval.decoders.openai.openai_completions``,
  when ``alpaca-eval`` is installed.

Usage::

    python bench/http_throughput.py                      # 256 concurrent, 100 ms
    python bench/http_throughput.py --latency 0.1,0.25,1 --modes raw-aiohttp,runner
    python bench/http_throughput.py --concurrency 64 --latency 0.05 --modes openai-aiohttp
    python bench/http_throughput.py --pin --json bench/results/http_throughput.json
    python bench/http_throughput.py --modes raw-aiohttp,runner,runner-workers --repeat 5

It ends with the runner's client CPU per judgment against the bare aiohttp loop's, from
the same run (medians of ``--repeat``; user + system CPU, which a shared machine blurs
less than wall time), their ratio (target <= 2.0), and ``--workers 1`` against N.

Client and server share the machine's cores, so on a small machine the ratio measures
how little CPU a client path needs as much as how well it overlaps waiting. A Python
client runs on one core: it can reach the limit only while its CPU milliseconds per
judgment times the limit stay below 1,000 (the ``cpu_bound`` column: the limit one core
allows at the measured client CPU time). ``--pin`` puts the server on the last core and
the client on the first so that they do not take turns on the same one. One-time costs
(imports, building the judge) are outside the timed region.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from judge.backends.base import CompletionRequest  # noqa: E402
from judge.factory import preset_judge  # noqa: E402
from judge.judges import PromptJudge, Task  # noqa: E402
from judge.records import PairItem  # noqa: E402
from judge.registry import benchmarks  # noqa: E402
from tests.fault_server import FaultServerProcess, spawn  # noqa: E402

MODES = (
    "raw-aiohttp",
    "openai-sdk",
    "openai-aiohttp",
    "anthropic-sdk",
    "runner",
    "runner-workers",
    "threadpool",
    "alpaca-eval",
)
MODEL = "gpt-4o-mini-2024-07-18"


@dataclass
class Result:
    mode: str
    judgments: int
    seconds: float
    per_second: float
    limit: float
    ratio: float
    client_cpu_ms: float
    server_cpu_ms: float
    latency_s: float = 0.0
    cpu_bound: float = 0.0
    """Judgments per second one core allows at ``client_cpu_ms``."""
    workers_cpu_ms: float = 0.0
    """Of ``client_cpu_ms``, what the ``--workers`` processes spent (startup included)."""
    note: str = ""


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's ended, waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sample_requests(n: int) -> tuple[PromptJudge, list[Task]]:
    """``n`` judge tasks over the bundled sample pairs (repeated with new sample indices)."""
    items = [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)]
    tasks: list[Task] = []
    sample = 0
    while len(tasks) < n:
        for item in items:
            for swapped in (False, True):
                tasks.append(Task(item, swapped=swapped, sample=sample))
        sample += 1
    judge = preset_judge("smollm2", backend="llamacpp")  # only renders prompts
    return judge, tasks[:n]


def distinct_items(n: int) -> list[PairItem]:
    """``n`` pair items: the bundled sample pairs, each copy's prompt numbered, so every
    request differs (no sample index, render cache or coalescing makes it cheaper)."""
    items = [i for i in benchmarks.get("sample")().load() if isinstance(i, PairItem)]
    return [
        item.model_copy(update={"id": f"{item.id}-{k}", "prompt": f"{item.prompt} (#{k})"})
        for k in range(n // len(items) + 1)
        for item in items
    ][:n]


async def drive(n: int, concurrency: int, one: Callable[[int], Awaitable[object]]) -> None:
    """Call ``one(i)`` for i < n with ``concurrency`` workers (as the runner does)."""
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await one(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def measure(
    mode: str, n: int, args: argparse.Namespace, server: FaultServerProcess, run: Callable[[], Any]
) -> Result:
    limit = args.concurrency / args.latency
    cpu0, kids0, srv0, t0 = (
        time.process_time(),
        children_cpu_seconds(),
        server_cpu_seconds(server.process.pid),
        time.perf_counter(),
    )
    note = run() or ""
    seconds = time.perf_counter() - t0
    # user + sys of this process and of the worker processes it waited for (--workers)
    kids = children_cpu_seconds() - kids0
    cpu = time.process_time() - cpu0 + kids
    srv = server_cpu_seconds(server.process.pid) - srv0
    rate = n / seconds
    return Result(
        mode=mode,
        judgments=n,
        seconds=round(seconds, 3),
        per_second=round(rate, 1),
        limit=round(limit, 1),
        ratio=round(rate / limit, 3),
        client_cpu_ms=round(cpu / n * 1000, 3),
        server_cpu_ms=round(srv / n * 1000, 3),
        latency_s=args.latency,
        cpu_bound=round(n / cpu, 1) if cpu > 0 else 0.0,
        workers_cpu_ms=round(kids / n * 1000, 3),
        note=str(note),
    )


def run_mode(mode: str, args: argparse.Namespace, server: FaultServerProcess) -> Result | None:
    n = args.requests or args.concurrency * 20
    judge, tasks = sample_requests(n)
    requests: list[CompletionRequest] = [judge.request(t) for t in tasks]
    bodies: list[dict[str, Any]] = [
        {
            "model": MODEL,
            "messages": [m.model_dump() for m in r.messages],
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": 20,
        }
        for r in requests
    ]
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-bench")

    if mode == "raw-aiohttp":

        def run() -> str:
            import aiohttp

            async def go() -> None:
                connector = aiohttp.TCPConnector(limit=args.concurrency)
                async with aiohttp.ClientSession(connector=connector) as session:

                    async def one(i: int) -> None:
                        url = f"{server.openai_url}/chat/completions"
                        async with session.post(url, json=bodies[i]) as resp:
                            json.loads(await resp.read())

                    await drive(n, args.concurrency, one)

            asyncio.run(go())
            return ""

        return measure(mode, n, args, server, run)

    if mode in ("openai-sdk", "openai-aiohttp", "anthropic-sdk"):
        from judge.backends.anthropic import AnthropicBackend
        from judge.backends.openai import OpenAIBackend

        backend: OpenAIBackend | AnthropicBackend
        if mode == "anthropic-sdk":
            backend = AnthropicBackend(
                model="claude-haiku-4-5", base_url=server.url, max_connections=args.concurrency
            )
        else:
            backend = OpenAIBackend(
                model=MODEL,
                base_url=server.openai_url,
                max_connections=args.concurrency,
                transport="sdk" if mode == "openai-sdk" else "aiohttp",
            )

        def run() -> str:
            failures = 0

            async def go() -> None:
                nonlocal failures

                async def one(i: int) -> None:
                    nonlocal failures
                    (result,) = await backend.complete([requests[i]])
                    failures += not hasattr(result, "text")

                try:
                    await drive(n, args.concurrency, one)
                finally:
                    await backend.aclose()

            asyncio.run(go())
            return f"{failures} failed" if failures else ""

        return measure(mode, n, args, server, run)

    if mode in ("runner", "runner-workers"):
        import tempfile

        from judge.records import RunConfig
        from judge.run import RetryPolicy, run_judging

        items = distinct_items(max(1, n // 2))
        total = 2 * len(items)

        runner_judge = preset_judge(  # built (and its SDK imported) untimed
            "smollm2",
            backend="openai",
            base_url=server.openai_url,
            model=MODEL,
            max_connections=args.concurrency,
            transport=args.runner_transport,
        )

        workers = args.workers if mode == "runner-workers" else 1

        def run() -> str:
            with tempfile.TemporaryDirectory() as tmp:
                result = run_judging(
                    RunConfig(judge="smollm2", concurrency=args.concurrency, workers=workers),
                    output=tmp,
                    judge=runner_judge,
                    items=items,
                    retry=RetryPolicy(),
                )
                ok = result.manifest.counts.ok
            return (
                f"workers={workers}; transport={args.runner_transport}; {ok} ok; "
                "cache + flushed store"
            )

        return measure(mode, total, args, server, run)

    if mode == "threadpool":
        import openai

        client = openai.OpenAI(
            api_key="sk-bench", base_url=server.openai_url, max_retries=0, timeout=60
        )

        def call(i: int) -> str:
            body = bodies[i]
            out = client.chat.completions.create(
                model=MODEL,
                messages=body["messages"],
                max_tokens=1,
                temperature=0.0,
                logprobs=True,
                top_logprobs=20,
            )
            return out.choices[0].message.content or ""

        def run() -> str:
            with ThreadPoolExecutor(args.concurrency) as pool:
                list(pool.map(call, range(n)))
            client.close()
            return "sync openai.OpenAI in a ThreadPoolExecutor (FastChat gen_judgment style)"

        return measure(mode, n, args, server, run)

    if mode == "alpaca-eval":
        os.environ["OPENAI_API_BASE"] = server.openai_url  # read at alpaca_eval import time
        try:
            from alpaca_eval.decoders.openai import openai_completions
            from alpaca_eval.utils import prompt_to_chatml  # noqa: F401
        except ImportError:
            print("alpaca-eval is not installed: skipping its pool", file=sys.stderr)
            return None
        import logging

        logging.getLogger().setLevel(logging.ERROR)
        chatml = [
            "".join(
                f"<|im_start|>{m['role']}\n{m['content']}\n<|im_end|>\n" for m in body["messages"]
            )
            for body in bodies
        ]

        def run() -> str:
            out = openai_completions(
                chatml,
                model_name=MODEL,
                max_tokens=1,
                num_procs=args.concurrency,
                temperature=0.0,
            )
            empty = sum(1 for c in out["completions"] if not c.strip())
            return f"alpaca_eval.decoders.openai.openai_completions; {empty} empty"

        return measure(mode, n, args, server, run)

    raise SystemExit(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")


def summary(results: list[Result], latencies: list[float], workers: int, cores: int) -> None:
    """The figures the runner is held to: client CPU per judgment against the bare loop
    (medians of the repeats, in this run), and throughput with 1 worker against N."""

    def median(mode: str, latency: float, field: str) -> float | None:
        values = sorted(
            getattr(r, field) for r in results if r.mode == mode and r.latency_s == latency
        )
        return values[len(values) // 2] if values else None

    for latency in latencies:
        where = f"{latency * 1000:.0f} ms"
        runner, bare, one, many = (
            median("runner", latency, "client_cpu_ms"),
            median("raw-aiohttp", latency, "client_cpu_ms"),
            median("runner", latency, "per_second"),
            median("runner-workers", latency, "per_second"),
        )
        if runner is not None and bare is not None:
            print(
                f"\n{where}: runner client CPU {runner:.3f} ms/judgment, bare aiohttp loop "
                f"{bare:.3f} ms/judgment (user+sys, same run): ratio {runner / bare:.2f} "
                "(target <= 2.0)"
            )
        if one is not None and many is not None:
            print(
                f"{where}: runner throughput --workers 1 {one:,.0f}/s, --workers {workers} "
                f"{many:,.0f}/s ({many / one:.2f}x; CPU ms/judgment "
                f"{median('runner', latency, 'client_cpu_ms'):.3f} vs "
                f"{median('runner-workers', latency, 'client_cpu_ms'):.3f}, parent + workers, "
                f"of which workers {median('runner-workers', latency, 'workers_cpu_ms'):.3f} "
                "with their ~1.2 s each of start-up imports)"
            )
            if cores <= 2:
                print(
                    f"  note: {cores} cores hold the server, the parent and {workers} workers; "
                    "a second worker can only help while one core is idle, so here the "
                    "figure shows the cost of the pipe and the extra process, not the gain a "
                    "many-core machine driving vLLM gets"
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument(
        "--latency", default="0.1", help="server seconds per request; a comma list sweeps"
    )
    parser.add_argument("--requests", type=int, default=0, help="default: 20 x concurrency")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated")
    parser.add_argument("--runner-transport", default="aiohttp", choices=("sdk", "aiohttp"))
    parser.add_argument("--workers", type=int, default=2, help="processes of runner-workers")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode (medians)")
    parser.add_argument(
        "--pin", action="store_true", help="server on the last core, client on the first"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    latencies = [float(x) for x in args.latency.split(",") if x.strip()]
    cores = sorted(os.sched_getaffinity(0))
    server = spawn("--latency", str(latencies[0]))
    if args.pin and len(cores) > 1:
        os.sched_setaffinity(server.process.pid, {cores[-1]})
        os.sched_setaffinity(0, {cores[0]})
    results: list[Result] = []
    try:
        for latency in latencies:
            args.latency = latency
            server.configure(latency=latency)
            for mode in [m.strip() for _ in range(args.repeat) for m in args.modes.split(",")]:
                server.reset()
                result = run_mode(mode, args, server)
                if result is not None:
                    results.append(result)
                    print(
                        f"{latency * 1000:5.0f} ms {result.mode:15} {result.per_second:8.1f}/s  "
                        f"ratio {result.ratio:.3f}  client {result.client_cpu_ms:.2f} ms  "
                        f"server {result.server_cpu_ms:.2f} ms  {result.note}",
                        flush=True,
                    )
    finally:
        server.stop()
    print(
        f"\n{args.concurrency} concurrent; cores: {len(cores)}"
        f" ({'client and server pinned apart' if args.pin else 'client and server share them'})\n"
    )
    print(
        "| latency | limit/s | path | judgments/s | ratio to limit | client CPU ms/judgment "
        "| one-core bound/s | server CPU ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.latency_s * 1000:.0f} ms | {r.limit:,.0f} | {r.mode} | {r.per_second:,.0f} "
            f"| {r.ratio:.2f} | {r.client_cpu_ms:.2f} | {r.cpu_bound:,.0f} "
            f"| {r.server_cpu_ms:.2f} |"
        )
    summary(results, latencies, args.workers, len(cores))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "concurrency": args.concurrency,
            "latencies_s": latencies,
            "cpu_count": len(cores),
            "pinned": args.pin,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
