"""Judging a run on a Ray cluster: ``judge run ... --executor ray``.

What leaves the driver (the ``judge run`` process) is only the expensive part of a
judgment: a backend's ``complete(requests)``, or a scoring judge's (the ``reward``
judge's) ``score(units)``. Each backend of the judge, and each scorer, gets a pool of
Ray actors; each actor holds one replica of it, built once from its class and options,
its model loaded once (llama.cpp, transformers, vLLM, a reward model, or an HTTP
client), and completes (scores) batches. Everything else stays in the driver,
unchanged from a local run: rendering the prompts (a reward judge's texts), the
response cache (looked up before anything is dispatched, so cached and already-stored
tasks never reach an actor), coalescing, retries, the budget, parsing, and the run
folder, of which the driver stays the only writer, appending each judgment as its
reply arrives. So a killed driver loses nothing stored and a rerun resumes as any run
does; the same requests give the same judgments as in-process (the request keys are
the backend's, a scoring judge's the judge's own).

Why plain Ray actors rather than Ray Data's actor pools (``map_batches`` with a
callable class): a Ray Data pipeline is a static dataset flowing through the pool,
with its own retry and ordering rules; the runner's loop is dynamic (cache hits never
enter it, retries are decided by the reply, identical requests are coalesced, a
budget can stop it) and must see each reply as it arrives. A pool of actors driven
by that loop keeps those semantics as they are and costs one remote call per batch.

Failures: an actor that dies is restarted by Ray (``max_restarts``), its model loaded
again. Its calls in flight are retried by Ray where that is safe, i.e. for in-process
models (a repeat costs compute only); an HTTP call (a backend's, or a served reward
model's) is not retried, as the provider may have answered (and billed) it: that task
becomes an ``error`` judgment with the actor's message, which a rerun asks again. A
pool with no live actor left answers every call with that error, so a run never waits
on a dead cluster.

``ray`` is imported only here, and this module only by ``--executor ray``.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Sequence
from typing import Any

from pydantic import Field, JsonValue

from judge.backends.base import Backend, Completion, CompletionRequest
from judge.errors import (
    BackendError,
    ConfigError,
    FatalBackendError,
    JudgeError,
    MissingDependencyError,
)
from judge.executor import Executor
from judge.judges import Judge, PromptJudge, Task
from judge.records import ExecutorInfo, Judgment, Record, RunConfig, redact_url_credentials
from judge.scoring import Scorer, ScoringJudge
from judge.store import RunStore

Reply = tuple[str, Any]
"""An actor's answer to one request: ``("ok", Completion)`` or ``("error", details)``
(our exceptions cross the process boundary as data, not as pickled objects)."""


class RayOptions(Record):
    """Where and how wide a Ray run is (``judge run --executor ray ...``)."""

    address: str | None = None
    """The cluster to join (``host:port``, ``ray://host:10001``, ``auto``); ``None``
    starts a local Ray instance for the run."""
    actors: int = Field(default=1, ge=1)
    """Actors per backend, each holding one replica of the backend (its model)."""
    actor_gpus: float = Field(default=0.0, ge=0)
    """GPUs each actor reserves (1 for one model replica per GPU)."""
    actor_cpus: float = Field(default=1.0, ge=0)
    """CPUs each actor reserves."""
    max_restarts: int = Field(default=3, ge=0)
    """How often Ray restarts a dead actor (reloading its model) before giving it up."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """How long to wait for a ``host:port`` address to answer before giving up."""
    start_timeout_s: float = Field(default=900.0, gt=0)
    """How long the actors may take to start and load their models (a cluster without
    free CPUs or GPUs for them would otherwise keep them waiting forever)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("ray", "ray") from exc
    return ray


def backends_of(judge: Judge) -> list[Backend]:
    """The backends a judge calls through the runner's caller (a jury: its members')."""
    from judge.jury import Jury

    if isinstance(judge, PromptJudge):
        return [judge.backend]
    if isinstance(judge, Jury):
        return [backend for _, member in judge.members for backend in backends_of(member)]
    return []


def scoring_judges_of(judge: Judge) -> list[ScoringJudge]:
    """The judges that score responses through their own scorer (a jury: its members')."""
    from judge.jury import Jury

    if isinstance(judge, ScoringJudge):
        return [judge]
    if isinstance(judge, Jury):
        return [s for _, member in judge.members for s in scoring_judges_of(member)]
    return []


def safe_to_retry(backend: Backend) -> bool:
    """Whether a call lost with its actor may be sent again without asking twice for
    something that may be billed: true for in-process models, false for HTTP backends."""
    return not backend.remote


def check_address(address: str, timeout: float) -> None:
    """Refuse a ``host:port`` cluster address nothing answers on, at once (Ray itself
    would retry for minutes). ``auto``, ``local`` and ``ray://`` addresses are Ray's.

    >>> check_address("auto", 1.0)
    >>> try:
    ...     check_address("no-port", 1.0)
    ... except ConfigError as exc:
    ...     print(exc)
    --ray-address 'no-port' is not host:port, ray://host:port, auto or local
    """
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"--ray-address {address!r} is not host:port, ray://host:port, auto or local"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"cannot reach the Ray cluster at --ray-address {address} ({reason}); "
            "start one with `ray start --head`, or leave --ray-address out to start a "
            "local instance"
        ) from exc


# -- the actor ---------------------------------------------------------------------------


class _Replica:
    """A Ray actor's state: one replica of a backend or scorer, its model loaded once."""

    def _prepare(self, spec: dict[str, JsonValue] | None) -> None:
        raise NotImplementedError

    def start(self, spec: dict[str, JsonValue] | None = None) -> dict[str, Any]:
        """Load the model (checking the replica is the driver's); where it runs."""
        import ray

        try:
            self._prepare(spec)
        except JudgeError as exc:
            return {"error": _error_details(exc)}
        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}

    def pid(self) -> int:
        return os.getpid()


class BackendReplica(_Replica):
    """One replica of a backend, built once from its class and options."""

    def __init__(self, backend_class: type[Backend], options: dict[str, Any]) -> None:
        self.backend = backend_class(**options)

    def _prepare(self, spec: dict[str, JsonValue] | None) -> None:
        if self.backend.spec() != spec:
            raise ConfigError(
                f"the replica of backend {self.backend.name!r} differs from the driver's "
                f"({self.backend.spec()} != {spec}); is the same judge-harness installed "
                "on every node?"
            )
        self.backend.prepare()

    async def complete(self, requests: list[CompletionRequest]) -> list[Reply]:
        try:
            results = await self.backend.complete(requests)
        except BackendError as exc:  # a whole-batch failure
            results = [exc] * len(requests)
        return [
            ("ok", r) if isinstance(r, Completion) else ("error", _error_details(r))
            for r in results
        ]


class ScorerReplica(_Replica):
    """One replica of a scoring judge's scorer (a reward model: loaded once per actor)."""

    def __init__(self, scorer_class: type[Scorer], options: dict[str, Any]) -> None:
        self.scorer = scorer_class(**options)

    def _prepare(self, spec: dict[str, JsonValue] | None) -> None:
        self.scorer.prepare()

    async def score(self, units: list[JsonValue]) -> Reply:
        try:
            return ("ok", await self.scorer.score(units))
        except JudgeError as exc:  # a refusal that stops the run
            return ("error", _error_details(exc))


def _error_details(exc: JudgeError) -> dict[str, Any]:
    details: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, BackendError):
        details.update(retryable=exc.retryable, retry_after=exc.retry_after)
    if isinstance(exc, MissingDependencyError):
        details.update(package=exc.package, extra=exc.extra)
    return details


def _backend_error(details: dict[str, Any]) -> BackendError:
    cls = FatalBackendError if details["type"] == "FatalBackendError" else BackendError
    return cls(
        details["message"],
        retryable=bool(details.get("retryable")),
        retry_after=details.get("retry_after"),
    )


def _start_error(details: dict[str, Any], where: str) -> JudgeError:
    """An actor's start-up failure as the driver's own error (same exit code)."""
    if details["type"] == "MissingDependencyError":
        return MissingDependencyError(details["package"], details["extra"])
    message = f"{where}: {details['message']}"
    if details["type"] in ("BackendError", "FatalBackendError"):
        return BackendError(message)
    return ConfigError(message)


# -- the driver's side ----------------------------------------------------------------


class _Pool:
    """The actors holding replicas of one backend or scorer; a call goes to the least
    busy one."""

    def __init__(self, what: str, handles: list[Any], pids: list[int], *, ray: Any) -> None:
        self.what = what
        """What the actors hold, for messages: ``backend 'NAME'``, ``scorer 'NAME'``."""
        self.handles = handles
        self.pids = pids
        self.busy = [0] * len(handles)
        self.dead: set[int] = set()
        self.ray = ray

    async def call(self, method: str, batch: list[Any]) -> Any:
        """``method(batch)`` on the least busy live actor; a lost actor or a crash is a
        :class:`BackendError` (the batch's error)."""
        live = [i for i in range(len(self.handles)) if i not in self.dead]
        if not live:
            raise BackendError(
                f"no live Ray actor is left for {self.what} "
                "(they died and used up their restarts); run the same command again"
            )
        index = min(live, key=lambda i: self.busy[i])
        self.busy[index] += 1
        try:
            return await getattr(self.handles[index], method).remote(batch)
        except self.ray.exceptions.RayActorError as exc:
            # ActorUnavailableError: Ray is restarting it; ActorDiedError: gone for good.
            if isinstance(exc, self.ray.exceptions.ActorDiedError):
                self.dead.add(index)
            raise BackendError(
                f"the Ray actor of {self.what} was lost during the call "
                f"({_first_line(exc)}); run the same command again to ask again"
            ) from None
        except self.ray.exceptions.RayTaskError as exc:  # a bug in the backend, not ours
            raise BackendError(f"{self.what} failed: {_first_line(exc)}") from None
        finally:
            self.busy[index] -= 1

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        try:
            replies: list[Reply] = await self.call("complete", list(requests))
        except BackendError as error:
            return [error] * len(requests)
        return [value if kind == "ok" else _backend_error(value) for kind, value in replies]

    async def score(self, units: Sequence[JsonValue]) -> list[float | str]:
        try:
            kind, value = await self.call("score", list(units))
        except BackendError as error:
            return [str(error)] * len(units)
        if kind != "ok":
            raise _backend_error(value)
        return list(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _RemoteBackend:
    """A backend whose ``complete`` runs on the pool; everything else (its name, spec,
    tokenizer, prices) is the driver's own backend, so request keys are unchanged."""

    def __init__(self, backend: Backend, pool: _Pool) -> None:
        self._backend = backend
        self._pool = pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    async def complete(
        self, requests: Sequence[CompletionRequest]
    ) -> list[Completion | BackendError]:
        return await self._pool.complete(requests)


class _RemoteScorer(Scorer):
    """A scorer whose ``score`` runs on the pool (the judge formats its units here)."""

    def __init__(self, scorer: Scorer, pool: _Pool) -> None:
        self.name = scorer.name
        self._scorer = scorer
        self._pool = pool

    def replica(self) -> tuple[type[Scorer], dict[str, Any]]:
        return self._scorer.replica()

    async def score(self, units: Sequence[JsonValue]) -> list[float | str]:
        return await self._pool.score(units)


class _RemoteCaller:
    """The runner's caller (cache, retries, coalescing, budget), reaching each backend
    through its pool of actors."""

    def __init__(self, caller: Any, remotes: dict[int, _RemoteBackend]) -> None:
        self._caller = caller
        self._remotes = remotes

    def __getattr__(self, name: str) -> Any:  # the wrapped caller's counters
        return getattr(self._caller, name)

    async def __call__(
        self, backend: Backend, requests: Sequence[CompletionRequest], samples: Sequence[int]
    ) -> Any:
        remote = self._remotes.get(id(backend))
        if remote is None:
            raise ConfigError(
                f"backend {backend.name!r} was not started on the Ray cluster "
                "(the judge called a backend it did not declare)"
            )
        return await self._caller(remote, requests, samples)


def actor_resources(options: RayOptions) -> dict[str, Any]:
    """What each actor reserves, and the GPUs it may see.

    Ray sets ``CUDA_VISIBLE_DEVICES`` for an actor that reserves GPUs, but leaves it alone
    for one that reserves none, which then sees every GPU of its node: seen on an H200,
    an actor with ``--actor-gpus 0`` and ``device=cuda`` ran on the GPU that Ray had not
    given it. Without ``--actor-gpus``, actors see no GPU (``device=auto`` is the CPU,
    ``device=cuda`` a clear error), so GPU use is always what the cluster accounts for.

    >>> actor_resources(RayOptions(actor_gpus=0))["runtime_env"]
    {'env_vars': {'CUDA_VISIBLE_DEVICES': ''}}
    >>> "runtime_env" in actor_resources(RayOptions(actor_gpus=1))
    False
    """
    out: dict[str, Any] = {"num_cpus": options.actor_cpus, "num_gpus": options.actor_gpus}
    if options.actor_gpus == 0:
        out["runtime_env"] = {"env_vars": {"CUDA_VISIBLE_DEVICES": ""}}
    return out


class RayExecutor(Executor):
    """Judge a run's pending tasks with pools of Ray actors (see the module docstring)."""

    def __init__(self, options: RayOptions | None = None) -> None:
        self.options = options or RayOptions()
        self._ray: Any = None
        self._owns_ray = False
        self._pools: dict[int, _Pool] = {}
        self._info = ExecutorInfo(name="ray", actors=self.options.actors)

    # -- set-up --------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._ray is not None:
            return self._ray
        ray = _ray()
        if not ray.is_initialized():
            if self.options.address is not None:
                check_address(self.options.address, self.options.connect_timeout_s)
            try:
                ray.init(
                    address=self.options.address,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.options.address or "a local instance"
                raise ConfigError(f"cannot start Ray ({where}): {_first_line(exc)}") from exc
            self._owns_ray = True
        self._ray = ray
        resources = ray.cluster_resources()
        address = self.options.address
        self._info = ExecutorInfo(
            name="ray",
            address=redact_url_credentials(address) if address else None,
            actors=self.options.actors,
            actor_gpus=self.options.actor_gpus,
            nodes=sum(1 for node in ray.nodes() if node.get("Alive")),
            cpus=float(resources.get("CPU", 0.0)),
            gpus=float(resources.get("GPU", 0.0)),
        )
        return ray

    def prepare(self, judge: Judge) -> None:
        """Connect to (or start) Ray and start the actors of each backend and scorer,
        loading their models."""
        backends = [b for b in backends_of(judge) if id(b) not in self._pools]
        scorers = [j.scorer for j in scoring_judges_of(judge) if id(j.scorer) not in self._pools]
        if not backends and not scorers and not self._pools:
            raise ConfigError(
                f"judge {judge.name!r} calls neither a backend nor a scorer; "
                "--executor ray runs those on actors: run this judge without it"
            )
        if not backends and not scorers:
            return
        replicas = [scorer.replica() for scorer in scorers]  # an in-memory model: refused
        ray = self._connect()
        self._check_room(ray, len(backends) + len(scorers))
        started: list[tuple[int, str, list[Any], list[Any]]] = []
        for backend in backends:
            handles = self._actors(
                ray,
                BackendReplica,
                (type(backend), backend.options.model_dump()),
                retry=safe_to_retry(backend),
                concurrency=backend.max_concurrency or 1000,
            )
            starts = [h.start.remote(backend.spec()) for h in handles]
            started.append((id(backend), f"backend {backend.name!r}", handles, starts))
        for scorer, replica in zip(scorers, replicas, strict=True):
            handles = self._actors(
                ray,
                ScorerReplica,
                replica,
                retry=scorer.retry_safe,
                concurrency=scorer.max_concurrency,
            )
            starts = [h.start.remote() for h in handles]
            started.append((id(scorer), f"scorer {scorer.name!r}", handles, starts))
        try:
            for key, what, handles, starts in started:
                where = f"a Ray actor of {what}"
                try:
                    infos = ray.get(starts, timeout=self.options.start_timeout_s)
                except ray.exceptions.RayError as exc:
                    raise ConfigError(f"{where} could not start: {_first_line(exc)}") from exc
                for info in infos:
                    if "error" in info:
                        raise _start_error(info["error"], where)
                pids = [int(info["pid"]) for info in infos]
                self._pools[key] = _Pool(what, handles, pids, ray=ray)
        except JudgeError:
            for key, _, handles, _ in started:  # none of them is of use now
                self._pools.pop(key, None)
                for handle in handles:
                    ray.kill(handle, no_restart=True)
            raise

    def _actors(
        self, ray: Any, replica: type, args: tuple[Any, ...], *, retry: bool, concurrency: int
    ) -> list[Any]:
        """``--actors`` actors holding a replica each (``replica(*args)``)."""
        actor_class = ray.remote(replica).options(
            **actor_resources(self.options),
            max_restarts=self.options.max_restarts,
            max_task_retries=self.options.max_restarts if retry else 0,
            max_concurrency=concurrency,
        )
        return [actor_class.remote(*args) for _ in range(self.options.actors)]

    def _check_room(self, ray: Any, n_pools: int) -> None:
        """Refuse actors the cluster can never place (Ray would wait for them forever)."""
        resources = ray.cluster_resources()
        wanted = {
            "CPU": self.options.actor_cpus * self.options.actors * n_pools,
            "GPU": self.options.actor_gpus * self.options.actors * n_pools,
        }
        for kind, need in wanted.items():
            have = float(resources.get(kind, 0.0))
            if need > have + 1e-9:
                raise ConfigError(
                    f"{self.options.actors} actor(s) x {n_pools} backend(s) or scorer(s) need "
                    f"{need:g} {kind}s; the Ray cluster has {have:g}: lower --actors, "
                    "--actor-gpus or the actors' CPUs"
                )

    def info(self) -> ExecutorInfo:
        return self._info

    def actor_pids(self) -> list[int]:
        """The process ids of the actors as they started (for diagnostics)."""
        return [pid for pool in self._pools.values() for pid in pool.pids]

    # -- running -------------------------------------------------------------------

    async def execute(
        self,
        judge: Judge,
        pending: Sequence[Task],
        caller: Any,
        store: RunStore,
        config: RunConfig,
        progress: bool,
    ) -> list[Judgment]:
        from judge.run import execute_tasks

        if not pending:
            return []
        self.prepare(judge)
        remotes = {
            id(b): _RemoteBackend(b, self._pools[id(b)])
            for b in backends_of(judge)
            if id(b) in self._pools
        }
        # A scoring judge formats its units here and scores them on its pool, for this run.
        scoring = [(j, j.scorer) for j in scoring_judges_of(judge) if id(j.scorer) in self._pools]
        for scoring_judge, scorer in scoring:
            scoring_judge.scorer = _RemoteScorer(scorer, self._pools[id(scorer)])
        per_actor = judge.max_concurrency or config.concurrency
        try:
            return await execute_tasks(
                judge,
                pending,
                _RemoteCaller(caller, remotes),  # type: ignore[arg-type]  # a Caller in all but name
                store,
                config,
                progress,
                max_concurrency=per_actor * self.options.actors,
            )
        finally:
            for scoring_judge, scorer in scoring:
                scoring_judge.scorer = scorer

    async def aclose(self) -> None:
        ray, self._ray = self._ray, None
        pools, self._pools = self._pools, {}
        if ray is None:
            return
        for pool in pools.values():
            for handle in pool.handles:
                ray.kill(handle, no_restart=True)
        if self._owns_ray:
            await asyncio.to_thread(ray.shutdown)
