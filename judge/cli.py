"""The ``judge`` command line: a thin layer over the library.

Options parse into a :class:`~judge.records.RunConfig`; library errors become one-line
messages and exit codes here, at the edge, and nowhere else (:class:`_Edge` catches
them for every command, also from inside an exception group). The exit codes are
listed in ``docs/faults.md``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar, get_args

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from judge.errors import ConfigError, IncompleteRunError, JudgeError, first_error, validation_text
from judge.records import Judgment, RunConfig

if TYPE_CHECKING:
    from judge.executor import Executor


try:  # typer vendors click: its usage errors are not the click package's
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - a typer that uses click itself
    from click.exceptions import UsageError  # type: ignore[assignment]


class _Edge(TyperGroup):
    """Every command's library errors as one line and an exit code, never a traceback;
    a bad option value or a missing argument is one line too (not click's framed box)."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "judge"
            message = " ".join(exc.format_message().split())
            typer.secho(f"error: {message} (see {where} --help)", fg=typer.colors.RED, err=True)
            raise typer.Exit(exc.exit_code) from None
        except JudgeError as exc:
            _fail(exc)
        except BaseExceptionGroup as group:  # a task group's failure: say the first error
            first = first_error(group)
            if not isinstance(first, JudgeError):
                raise
            _fail(first)


app = typer.Typer(
    name="judge",
    help="Run LLM judges on benchmarks and measure whether the judge can be trusted.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Edge,
)

F = TypeVar("F", bound=Callable[..., Any])


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}``; values are JSON where they parse.

    >>> parse_pairs(["temperature=0", "model=gpt-4o", "stop=[\\"\\\\n\\"]"], "-J")
    {'temperature': 0, 'model': 'gpt-4o', 'stop': ['\\n']}

    A key given twice with two values is an error (which one was meant?).
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{option} expects key=value, got {pair!r}")
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        if key in out and out[key] != parsed:
            raise ConfigError(f"{option} {key}= is given twice: {out[key]!r} and {parsed!r}")
        out[key] = parsed
    return out


def _fail(exc: JudgeError) -> NoReturn:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(exc.exit_code)


AllowErrorsOpt = Annotated[
    bool, typer.Option("--allow-errors", help="exit 0 even when judgments ended in errors")
]
BenchmarkOpt = Annotated[str, typer.Option("--benchmark", "-b", help="benchmark name (judge list)")]
JudgeOpt = Annotated[
    str,
    typer.Option("--judge", "-j", help="judge or preset name (judge list), or ./a-preset.toml"),
]
JudgeParams = Annotated[
    list[str] | None,
    typer.Option("--judge-param", "-J", help="judge parameter key=value (repeatable)"),
]
BenchParams = Annotated[
    list[str] | None,
    typer.Option("--benchmark-param", "-B", help="benchmark option key=value (repeatable)"),
]

# Options shared by run, probe and compare: one spelling, one help text.
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit", "-n", help="judge the first N items (every row is still read and checked)"
    ),
]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="results folder")]
NameOpt = Annotated[str | None, typer.Option("--name", help="run folder name (default: derived)")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", "-c", help="requests in flight")]
SeedOpt = Annotated[int, typer.Option(help="seed for sampling, perturbations and the bootstrap")]
OrdersOpt = Annotated[str, typer.Option(help="both | original | swapped")]
ReconcileOpt = Annotated[
    str,
    typer.Option(
        help="inconsistent_tie | average_probabilities | first_order | net_vote | both_orders"
    ),
]
SamplesOpt = Annotated[int, typer.Option(help="samples per request")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="neither read nor write the cache")]
MaxRetriesOpt = Annotated[int, typer.Option(help="retries of retryable backend errors")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]
ResamplesOpt = Annotated[int, typer.Option(help="bootstrap resamples for the CIs")]


@app.command()
def run(
    benchmark: BenchmarkOpt = "sample",
    judge: JudgeOpt = "smollm2",
    judge_param: JudgeParams = None,
    benchmark_param: BenchParams = None,
    limit: LimitOpt = None,
    output: OutputOpt = Path("results"),
    name: NameOpt = None,
    concurrency: ConcurrencyOpt = 8,
    seed: SeedOpt = 0,
    orders: OrdersOpt = "both",
    reconcile: ReconcileOpt = "inconsistent_tie",
    samples: SamplesOpt = 1,
    no_cache: NoCacheOpt = False,
    max_retries: MaxRetriesOpt = 8,
    batch: Annotated[
        bool, typer.Option("--batch", help="use the provider's batch API (OpenAI, Anthropic)")
    ] = False,
    poll: Annotated[float, typer.Option(help="seconds between batch status polls")] = 30.0,
    quiet: QuietOpt = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="if another process runs this run, wait for it")
    ] = False,
    extend: Annotated[
        bool,
        typer.Option("--extend", help="judge items added to the data file since the run began"),
    ] = False,
    allow_errors: AllowErrorsOpt = False,
    fresh_cache: Annotated[
        bool,
        typer.Option(
            "--fresh-cache", help="move the response cache aside (e.g. a damaged one); start empty"
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="print requests, tokens, $ and time of what is pending"),
    ] = False,
    tokenizer: Annotated[
        str | None,
        typer.Option(help="--dry-run: count tokens with this GGUF (or 'embedded')"),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", help="stop before the run would exceed this many USD"),
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local (this process) | ray (backends on Ray actors)")
    ] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="--executor ray: the cluster to join (default: start a local one)"),
    ] = None,
    actors: Annotated[
        int | None, typer.Option(help="--executor ray: actors (model replicas) per backend")
    ] = None,
    actor_gpus: Annotated[float | None, typer.Option(help="--executor ray: GPUs per actor")] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="processes sending an HTTP judge's requests (each its own event loop)",
        ),
    ] = 1,
) -> None:
    """Judge a benchmark (default: the bundled sample with the embedded SmolLM2 judge).

    Exit codes: 0 done; 2 bad option; 3 missing extra; 4 bad data; 5 backend failed;
    6 results or cache not writable or damaged; 7 run folder busy; 8 errors left;
    9 --max-cost reached.
    """
    from judge.cache import move_aside
    from judge.run import RetryPolicy, run_judging
    from judge.summary import format_summary, summarize

    config = _run_config(locals(), execution="batch" if batch else "live", workers=workers)
    if dry_run:
        from judge.budget import format_estimate
        from judge.dry_run import estimate_run

        est = estimate_run(config, output=output, run_name=name, tokenizer=tokenizer)
        typer.echo(format_estimate(est))
        return
    if fresh_cache and not no_cache:
        moved = move_aside(output / "cache.sqlite")
        if moved is not None:
            typer.echo(f"moved the response cache aside to {moved}", err=True)
    result = run_judging(
        config,
        output=output,
        run_name=name,
        argv=tuple(sys.argv),
        progress=not quiet,
        retry=RetryPolicy(max_retries=max_retries),
        batch_poll_s=poll,
        wait=wait,
        extend=extend,
        max_cost=max_cost,
        executor=_executor(
            executor, batch=batch, address=ray_address, actors=actors, actor_gpus=actor_gpus
        ),
    )
    typer.echo(format_summary(summarize(result.store, reconcile=config.reconcile)))
    _errors_left(result.new_judgments, allow_errors)


def _errors_left(judgments: Sequence[Judgment], allow_errors: bool) -> None:
    """Exit 8 when judgments ended in errors (retried by running again), unless allowed."""
    errors = [j for j in judgments if j.status == "error"]
    if errors and not allow_errors:
        raise IncompleteRunError(
            f"{len(errors)} judgment(s) ended in an error (first: item "
            f"{errors[0].item_id!r}: {' '.join(str(errors[0].error).split())[:300]}); "
            "run the same command again to retry them, or pass --allow-errors to accept "
            "the run as it is"
        )


@app.command("list")
def list_plugins(
    kind: Annotated[
        str | None,
        typer.Argument(help="backends | judges | benchmarks | perturbations | importers"),
    ] = None,
    name: Annotated[
        str | None, typer.Argument(help="a plugin of that kind: print its options")
    ] = None,
) -> None:
    """List every backend, judge, benchmark, perturbation and importer, and where each is from.

    `judge list KIND NAME` prints one plugin's options, as `judge describe NAME` does."""
    from judge.registry import REGISTRIES

    if name is not None:
        from judge.describe import describe, format_text

        typer.echo(format_text(describe(name, kind)), nl=False)
        return
    kinds = [kind] if kind else list(REGISTRIES)
    for k in kinds:
        if k not in REGISTRIES:
            raise ConfigError(f"unknown kind {k!r}; choose from {', '.join(REGISTRIES)}")
    listed = {k: list(REGISTRIES[k].entries()) for k in kinds}
    entries = [entry for group in listed.values() for entry in group]
    width = max((len(entry.name) for entry in entries), default=0)
    source_width = max((len(entry.source) for entry in entries), default=0)
    for k, group in listed.items():
        typer.secho(k, bold=True)
        for entry in group:
            line = f"  {entry.name:<{width}}  {entry.source:<{source_width}}  {entry.target}"
            typer.echo(line + (f"  (unusable: {entry.problem})" if entry.problem else ""))


@app.command()
def describe(
    name: Annotated[
        str | None, typer.Argument(help="a backend, judge, benchmark, importer or probe name")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="only this kind: backends | judges | benchmarks | importers | ..."),
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="print Markdown")] = False,
    reference: Annotated[
        bool,
        typer.Option("--reference", help="the reference page of every built-in (Markdown)"),
    ] = False,
) -> None:
    """Print a plugin's options with their types, defaults and docs (from its Options model)."""
    from judge.describe import describe as describe_plugin
    from judge.describe import format_markdown, format_text, reference_markdown

    if reference:
        typer.echo(reference_markdown(), nl=False)
        return
    if name is None:
        raise ConfigError("name a plugin (judge list shows them), or pass --reference")
    docs = describe_plugin(name, kind)
    typer.echo(format_markdown(docs) if markdown else format_text(docs), nl=False)


@app.command()
def reparse(
    run_dir: Annotated[Path, typer.Argument(help="a run folder under results/")],
    parser: Annotated[str | None, typer.Option(help="parser name (default: the judge's)")] = None,
    judge_param: JudgeParams = None,
) -> None:
    """Re-parse a run's stored replies (e.g. with a changed parser); no new request."""
    from judge.reparse import reparse_run

    changed, counts = reparse_run(run_dir, parser=parser, overrides=parse_pairs(judge_param, "-J"))
    typer.echo(
        f"reparsed {counts.total} judgments: {changed} changed; "
        f"ok {counts.ok}, unparsed {counts.unparsed}, error {counts.error}"
    )


def _executor(
    name: str, *, batch: bool, address: str | None, actors: int | None, actor_gpus: float | None
) -> Executor | None:
    """The executor ``--executor`` names (``None``: this process); Ray is imported only
    for ``ray``."""
    ray_options = {"address": address, "actors": actors, "actor_gpus": actor_gpus}
    given = {k: v for k, v in ray_options.items() if v is not None}
    if name == "local":
        if given:
            flags = ", ".join(f"--{k.replace('_', '-')}" for k in given)
            raise ConfigError(f"{flags} only apply with --executor ray")
        return None
    if name != "ray":
        raise ConfigError(f"--executor must be local or ray, not {name!r}")
    if batch:
        raise ConfigError("--batch sends the requests to the provider; drop --executor ray")
    from judge.ray_executor import RayExecutor, RayOptions

    try:
        return RayExecutor(RayOptions(**given))
    except ValidationError as exc:
        raise ConfigError(validation_text(exc)) from exc


RUN_CONFIG_OPTIONS = (
    "benchmark",
    "benchmark_param",
    "judge",
    "judge_param",
    "limit",
    "concurrency",
    "seed",
    "orders",
    "reconcile",
    "samples",
    "no_cache",
)
"""The command parameters (of run, probe, compare) that make the run config."""


def _run_config(params: Mapping[str, Any], **fields: Any) -> RunConfig:
    """The run config from a command's parameters (its ``locals()``: those named in
    :data:`RUN_CONFIG_OPTIONS` that it has) and ``fields`` that override them."""
    given = {k: params[k] for k in RUN_CONFIG_OPTIONS if k in params}
    given.update(fields)
    benchmark_param = given.pop("benchmark_param", None)
    judge_param = given.pop("judge_param", None)
    if "no_cache" in given:
        given["use_cache"] = not given.pop("no_cache")
    try:
        return RunConfig(
            benchmark_args=parse_pairs(benchmark_param, "-B"),
            judge_args=parse_pairs(judge_param, "-J"),
            **given,
        )
    except ValidationError as exc:
        raise ConfigError(validation_text(exc)) from exc


@app.command()
def compare(
    outputs: Annotated[list[Path], typer.Argument(help="two or more model-output files")],
    judge: JudgeOpt = "smollm2",
    judge_param: JudgeParams = None,
    limit: LimitOpt = None,
    output: OutputOpt = Path("results"),
    name: NameOpt = None,
    concurrency: ConcurrencyOpt = 8,
    seed: SeedOpt = 0,
    reconcile: ReconcileOpt = "inconsistent_tie",
    lenient: Annotated[
        bool, typer.Option("--lenient", help="drop prompts only one file answers")
    ] = False,
    questions: Annotated[
        Path | None,
        typer.Option(help="MT-Bench question.jsonl (default: found beside model_answer/)"),
    ] = None,
    resamples: ResamplesOpt = 1000,
    quiet: QuietOpt = False,
    baseline: Annotated[
        str | None,
        typer.Option(help="model to compare every other against (default: a round robin)"),
    ] = None,
    difficulty: Annotated[
        Path | None,
        typer.Option(help="CSV of instruction_difficulty per prompt_key/instruction (LC GLM)"),
    ] = None,
    gamed: Annotated[
        list[str] | None,
        typer.Option(help="a compared model that is a length-gamed variant of the baseline"),
    ] = None,
    allow_errors: AllowErrorsOpt = False,
) -> None:
    """Judge models' outputs on the same prompts (both orders): win/tie/loss, CIs, ranking,
    and discrete / probability-weighted / length-controlled win rates and a style-controlled
    Bradley-Terry ranking."""
    from judge.compare import compare_outputs, format_comparison
    from judge.run import RetryPolicy

    config = _run_config(locals(), benchmark="compare")
    result = compare_outputs(
        outputs,
        config=config,
        output=output,
        run_name=name,
        argv=tuple(sys.argv),
        progress=not quiet,
        retry=RetryPolicy(),
        strict=not lenient,
        n_resamples=resamples,
        questions=questions,
        baseline=baseline,
        difficulty=difficulty,
        gamed=tuple(gamed or ()),
    )
    typer.echo(format_comparison(result))
    _errors_left(result.run.new_judgments, allow_errors)


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="run folders to analyse together")],
    out: Annotated[
        Path | None,
        typer.Option("--output", "-o", "--out", help="report folder (default: <first run>/report)"),
    ] = None,
    resamples: ResamplesOpt = 1000,
    confidence: Annotated[float, typer.Option(help="confidence level of the intervals")] = 0.95,
    seed: SeedOpt = 0,
    failures: Annotated[
        str, typer.Option(help="unparsed/error verdicts: wrong (count as wrong) | exclude")
    ] = "wrong",
    data_root: Annotated[
        Path | None, typer.Option(help="datasets folder for reference figures")
    ] = None,
    viewer_url: Annotated[
        str,
        typer.Option(
            help="where `judge view` serves these runs: counts of items link there ('' for none)"
        ),
    ] = "http://127.0.0.1:8765",
    self_model: Annotated[
        list[str] | None,
        typer.Option(
            "--self-model",
            help="JUDGE=MODEL[,MODEL]: the judge's own model (or family) among the compared "
            "ones; reports its favouritism against humans / other judges (repeatable)",
        ),
    ] = None,
) -> None:
    """Write a Markdown and HTML report: agreement, kappa, position and length bias, vs humans."""
    from judge.analysis.report import write_report

    if failures not in ("wrong", "exclude"):
        raise ConfigError(f"--failures must be wrong or exclude, not {failures!r}")
    own: dict[str, list[str]] = {}
    for spec in self_model or []:
        judge_name, sep, models = spec.partition("=")
        if not sep or not judge_name or not models:
            raise ConfigError(f"--self-model {spec!r}: expected JUDGE=MODEL[,MODEL]")
        own.setdefault(judge_name, []).extend(m for m in models.split(",") if m)
    target = out or runs[0] / "report"
    paths = write_report(
        runs,
        target,
        n_resamples=resamples,
        confidence=confidence,
        seed=seed,
        failures=failures,  # type: ignore[arg-type]
        datasets_dir=data_root,
        viewer_url=viewer_url or None,
        self_models=own,
    )
    for kind, path in paths.items():
        typer.echo(f"{kind:<10} {path}")


ImportParams = Annotated[
    list[str] | None,
    typer.Option("--import-param", "-I", help="importer option key=value (repeatable)"),
]


@app.command("import")
def import_verdicts(
    importer: Annotated[
        str, typer.Argument(help="importer name: table | alpaca_eval | judgebench | pandalm ...")
    ],
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="files to import (pandalm: gpt-3.5 | pandalm-7b)"),
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option("--benchmark", "-b", help="benchmark the verdicts are about (table)"),
    ] = None,
    benchmark_param: BenchParams = None,
    import_param: ImportParams = None,
    value_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="verdict value map VALUE=A|B|tie|failed (repeatable), e.g. --map 1=A"
        ),
    ] = None,
    judge_name: Annotated[
        str | None, typer.Option("--judge-name", help="name of the imported judge")
    ] = None,
    lenient: Annotated[
        bool,
        typer.Option("--lenient", help="skip and count rows whose id is not in the benchmark"),
    ] = False,
    data_root: Annotated[
        Path | None, typer.Option(help="folder holding the datasets (default: ../shared/datasets)")
    ] = None,
    output: OutputOpt = Path("results"),
    name: NameOpt = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing run folder")] = False,
) -> None:
    """Import verdicts made elsewhere as runs, to analyse like any other (judge list importers)."""
    from judge.importers import ImportRequest, run_import
    from judge.table_import import Target

    options = parse_pairs(import_param, "-I")
    if value_map:
        mapping = {}
        for pair in value_map:
            value, sep, target = pair.rpartition("=")
            if not sep or target not in get_args(Target):
                raise ConfigError(f"--map expects VALUE=A|B|tie|failed, got {pair!r}")
            mapping[value] = target
        options["map"] = {**options.get("map", {}), **mapping}
    request = ImportRequest(
        sources=tuple(sources or ()),
        benchmark=benchmark,
        benchmark_args=parse_pairs(benchmark_param, "-B"),
        judge=judge_name,
        data_root=data_root,
        lenient=lenient,
    )
    written = run_import(
        importer,
        request,
        options=options,
        output=output,
        run_name=name,
        overwrite=overwrite,
        argv=tuple(sys.argv),
    )
    for store, run in written:
        counts = store.read_manifest().counts
        typer.echo(
            f"imported {counts.total} judgments into {store.path} "
            f"({counts.ok} ok, {counts.unparsed} unparsed, {counts.error} error)"
        )
        for message in run.messages:
            typer.echo(f"  {message}")


# -- judge render: a self-contained block ------------------------------------------------


@app.command("render")
def render_prompt(
    judge: JudgeOpt = "smollm2",
    benchmark: BenchmarkOpt = "sample",
    item: Annotated[str, typer.Option("--item", help="the item id to render")] = "",
    judge_param: JudgeParams = None,
    benchmark_param: BenchParams = None,
    tokens: Annotated[
        bool, typer.Option("--tokens", help="also print the token ids (local backends)")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per order")] = False,
) -> None:
    """Print the exact prompt (and token ids) a judge's backend sends for an item, both orders."""
    from judge.render import format_rendered, render_item

    if not item:
        raise ConfigError("--item is required (an item id of the benchmark)")
    rendered = render_item(
        judge,
        benchmark,
        item,
        judge_args=parse_pairs(judge_param, "-J"),
        benchmark_args=parse_pairs(benchmark_param, "-B"),
        tokens=tokens,
    )
    typer.echo(format_rendered(rendered, as_json=as_json))


# -- judge probe (bias probes; docs/probes.md) ------------------------------------------


@app.command()
def probe(
    benchmark: BenchmarkOpt = "sample",
    judge: JudgeOpt = "smollm2",
    judge_param: JudgeParams = None,
    benchmark_param: BenchParams = None,
    probes: Annotated[
        list[str] | None,
        typer.Option("--probe", "-p", help="perturbation name (repeatable; default: all)"),
    ] = None,
    probe_param: Annotated[
        list[str] | None,
        typer.Option("--probe-param", "-P", help="perturbation option NAME.key=value"),
    ] = None,
    target: Annotated[str, typer.Option(help="worse | better | A | B")] = "worse",
    limit: LimitOpt = None,
    output: OutputOpt = Path("results"),
    report_dir: Annotated[
        Path | None,
        typer.Option("--report", help="report folder (default: <unperturbed run>/probe-report)"),
    ] = None,
    concurrency: ConcurrencyOpt = 8,
    seed: SeedOpt = 0,
    orders: OrdersOpt = "both",
    reconcile: ReconcileOpt = "inconsistent_tie",
    samples: SamplesOpt = 1,
    no_cache: NoCacheOpt = False,
    max_retries: MaxRetriesOpt = 8,
    resamples: ResamplesOpt = 1000,
    confidence: Annotated[float, typer.Option(help="confidence level of the intervals")] = 0.95,
    quiet: QuietOpt = False,
    allow_errors: AllowErrorsOpt = False,
) -> None:
    """Bias probes: perturb one side of each pair, judge again, measure how far verdicts move."""
    from judge.analysis.frame import load_frame
    from judge.analysis.probes import probe_table
    from judge.analysis.report import write_report
    from judge.probes.run import (
        ProbeSpec,
        format_probe_table,
        load_probe_design,
        run_probes,
    )
    from judge.registry import perturbations
    from judge.run import RetryPolicy

    if target not in ("worse", "better", "A", "B"):
        raise ConfigError(f"--target must be worse, better, A or B, not {target!r}")
    config = _run_config(locals())
    names = probes or perturbations.names()
    options: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, value in parse_pairs(probe_param, "-P").items():
        name, dot, option = key.partition(".")
        if not dot or name not in options:
            raise ConfigError(
                f"-P expects NAME.key=value with NAME one of the probes run, got {key!r}"
            )
        options[name][option] = value
    specs = [ProbeSpec(perturbation=name, args=options[name]) for name in names]
    runs = run_probes(
        config,
        specs,
        target=target,  # type: ignore[arg-type]  # checked above
        output=output,
        argv=tuple(sys.argv),
        progress=not quiet,
        retry=RetryPolicy(max_retries=max_retries),
    )
    frame = load_frame(runs.run_dirs)
    table = probe_table(
        frame,
        load_probe_design(runs.run_dirs),
        n_resamples=resamples,
        confidence=confidence,
        seed=seed,
    )
    typer.echo(f"unperturbed run  {runs.baseline}")
    typer.echo(format_probe_table(table, confidence))
    paths = write_report(
        runs.run_dirs,
        report_dir or runs.baseline / "probe-report",
        n_resamples=resamples,
        confidence=confidence,
        seed=seed,
    )
    typer.echo(f"report           {paths['html']}")
    _errors_left(runs.new_judgments, allow_errors)


# -- judge new-judge: a self-contained block ---------------------------------------------


@app.command("new-judge")
def new_judge(
    name: Annotated[str, typer.Argument(help="the judge's name (file NAME.toml)")],
    kind: Annotated[str, typer.Option(help="pair | single")] = "pair",
    folder: Annotated[Path, typer.Option("--dir", help="where to write it")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Write a commented starter preset (NAME.toml + templates) to use as -j ./NAME.toml."""
    from judge.starter import write_starter

    paths = write_starter(name, folder, kind=kind, force=force)  # type: ignore[arg-type]
    for path in paths:
        typer.echo(f"wrote {path}")
    typer.echo(f"edit them, then try: judge render -j {paths[0]} -b BENCHMARK --item ID")


@app.command()
def view(
    runs: Annotated[list[Path], typer.Argument(help="run folders to browse (one or more)")],
    port: Annotated[
        int | None,
        typer.Option(help="port on 127.0.0.1 (default: 8765 if free, else any free port)"),
    ] = None,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="do not open a browser")] = False,
) -> None:
    """Browse every judgment in a local, read-only web viewer (127.0.0.1 only)."""
    from judge.view.server import serve

    try:
        serve(runs, port=port, open_browser=not no_browser, echo=typer.echo)
    except KeyboardInterrupt:  # Ctrl-C outside the serving loop (opening, closing): a stop
        typer.echo("stopped")
    except JudgeError as exc:
        _fail(exc)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
