"""Reward models as judges: a sequence classifier scores each response once.

``judge run -j reward -J model=PATH`` runs any transformers
``AutoModelForSequenceClassification`` with one output (the preference models
RewardBench and JudgeBench evaluate). Each (prompt, response) is formatted with the
tokenizer's own chat template (user turn + assistant turn; plain text joined by a blank
line when the tokenizer has none), scored in batches, and:

- a pair's verdict is the sign of the score difference ``d = r_A - r_B`` (``tie`` when
  ``|d| <= tie_margin``), its probabilities the Bradley-Terry ``P(A) = sigmoid(d)``;
- a single item's score is its reward.

There is no order to swap: a response's score does not depend on the other response,
so both presentation orders give the same judgment (position bias is 0 by
construction; pass ``--orders original`` to skip the second, which is never computed
anyway: scores are kept per text).
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, JsonValue, ValidationError

from judge.backends.local import import_transformers
from judge.errors import ConfigError, validation_text
from judge.hashing import sha256_json
from judge.judges import Caller, Judge, Task
from judge.records import Judgment, PairItem, Record, SingleItem, Verdict


class RewardOptions(Record):
    """``-J`` parameters of the reward judge."""

    model: str = ""
    """Local folder or hub id of a sequence-classification model with one output."""
    tokenizer: str | None = None
    """Tokenizer path (default: the model's)."""
    revision: str | None = None
    """Hub revision."""
    device: str = "auto"
    """``auto``, ``cpu``, ``cuda``, ``cuda:1`` ..."""
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    """Weights' dtype (``auto``: float32 on CPU, the checkpoint's on a GPU)."""
    batch_size: int = Field(default=8, ge=1)
    """Texts per forward pass."""
    max_length: int | None = Field(default=None, ge=8)
    """Truncate longer texts to this many tokens (from the end); unset: never truncate."""
    tie_margin: float = Field(default=0.0, ge=0.0)
    """A pair whose rewards differ by at most this is a tie."""
    name: str = "reward"
    """The judge's name in results."""
    trust_remote_code: bool = False
    """Allow the model's own code (some reward models need it)."""
    local_files_only: bool = False
    """Never reach the hub."""


def pair_fields(reward_a: float, reward_b: float, tie_margin: float = 0.0) -> dict[str, Any]:
    """Verdict and Bradley-Terry probabilities of a pair from its two rewards.

    >>> out = pair_fields(1.0, 0.0)
    >>> out["verdict"], round(out["probabilities"]["A"], 4)
    ('A', 0.7311)
    >>> pair_fields(0.5, 0.45, tie_margin=0.1)["verdict"]
    'tie'
    """
    d = reward_a - reward_b
    verdict: Verdict = "tie" if abs(d) <= tie_margin else ("A" if d > 0 else "B")
    p_a = 1.0 / (1.0 + math.exp(-d)) if d > -700 else 0.0
    return {
        "verdict": verdict,
        "probabilities": {"A": p_a, "B": 1.0 - p_a},
        "scores": (reward_a, reward_b),
    }


class RewardJudge(Judge):
    """A sequence-classification reward model scoring each response once."""

    def __init__(self, options: RewardOptions, *, model: Any = None, tokenizer: Any = None):
        self.options = options
        self.name = options.name
        self._model = model
        self._tokenizer = tokenizer
        self._in_memory = model is not None
        self._device: Any = None
        self._scores: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **options: Any) -> RewardJudge:
        """Wrap a loaded model and tokenizer (tests, notebooks)."""
        return cls(_options(options), model=model, tokenizer=tokenizer)

    def spec(self) -> dict[str, JsonValue]:
        opts = self.options.model_dump(
            mode="json", exclude={"batch_size", "device", "local_files_only", "name"}
        )
        if self._in_memory:
            opts["model"] = f"<in memory {type(self._model).__name__}>"
        return {"type": "reward", "name": self.name, **opts}

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    @property
    def max_concurrency(self) -> int | None:
        return 1

    # -- loading ---------------------------------------------------------------------

    def _load(self) -> tuple[Any, Any]:
        if self._model is not None and self._tokenizer is not None and self._device is not None:
            return self._model, self._tokenizer
        transformers = import_transformers(torch=False)
        import torch

        opts = self.options
        kwargs: dict[str, Any] = {
            "trust_remote_code": opts.trust_remote_code,
            "local_files_only": opts.local_files_only,
        }
        if opts.revision:
            kwargs["revision"] = opts.revision
        if self._tokenizer is None:
            if not opts.model and not opts.tokenizer:
                raise ConfigError("the reward judge needs a model: -J model=FOLDER_OR_HUB_ID")
            try:
                self._tokenizer = transformers.AutoTokenizer.from_pretrained(
                    opts.tokenizer or opts.model, **kwargs
                )
            except OSError as exc:
                raise ConfigError(f"cannot load the tokenizer of {opts.model!r}: {exc}") from exc
        device = opts.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self._device = torch.device(device)
        if self._model is None:
            dtype: Any = (
                (torch.float32 if device == "cpu" else "auto")
                if opts.dtype == "auto"
                else getattr(torch, opts.dtype)
            )
            try:
                self._model = transformers.AutoModelForSequenceClassification.from_pretrained(
                    opts.model, dtype=dtype, **kwargs
                )
            except OSError as exc:
                raise ConfigError(f"cannot load reward model {opts.model!r}: {exc}") from exc
        labels = int(getattr(self._model.config, "num_labels", 1))
        if labels != 1:
            raise ConfigError(
                f"reward model {opts.model!r} has {labels} outputs; a reward model has one"
            )
        tok = self._tokenizer
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        if getattr(self._model.config, "pad_token_id", None) is None:
            self._model.config.pad_token_id = tok.pad_token_id
        self._model = self._model.to(self._device).eval()
        return self._model, tok

    # -- scoring ---------------------------------------------------------------------

    def text(self, item: PairItem | SingleItem, response: str) -> str:
        """The exact string scored for ``response``: the tokenizer's chat template over
        the prompt's turns and the response as the assistant turn (plain text joined by a
        blank line when the tokenizer defines no template)."""
        _, tok = self._load()
        turns = (
            [{"role": "user", "content": item.prompt}]
            if isinstance(item.prompt, str)
            else [m.model_dump() for m in item.prompt]
        )
        if getattr(tok, "chat_template", None):
            conversation = [*turns, {"role": "assistant", "content": response}]
            return str(tok.apply_chat_template(conversation, tokenize=False))
        return "\n\n".join([*(t["content"] for t in turns), response])

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """Rewards of ``texts`` (batched; right padding, so each score equals the
        unpadded forward pass)."""
        import torch

        model, tok = self._load()
        chat = bool(getattr(tok, "chat_template", None))
        out: list[float] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.options.batch_size):
                chunk = list(texts[start : start + self.options.batch_size])
                tok.padding_side = "right"
                enc = tok(
                    chunk,
                    return_tensors="pt",
                    padding=True,
                    truncation=self.options.max_length is not None,
                    max_length=self.options.max_length,
                    add_special_tokens=not chat,  # a chat template writes its own BOS
                ).to(self._device)
                logits = model(**enc).logits
                out.extend(float(x) for x in logits[:, 0].float().cpu())
        return out

    def _score(self, pairs: Sequence[tuple[PairItem | SingleItem, str]]) -> list[float]:
        texts = [self.text(item, response) for item, response in pairs]
        keys = [sha256_json(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in self._scores})
        by_key = dict(zip(keys, texts, strict=True))
        if todo:
            scores = self.score_texts([by_key[k] for k in todo])
            self._scores.update(zip(todo, scores, strict=True))
        return [self._scores[k] for k in keys]

    def request_key(self, task: Task) -> str:
        item = task.item
        responses = (
            [item.response_a, item.response_b] if isinstance(item, PairItem) else [item.response]
        )
        prompt: Any = (
            item.prompt if isinstance(item.prompt, str) else [m.model_dump() for m in item.prompt]
        )
        payload = {"judge": self.spec(), "prompt": prompt, "responses": responses}
        return sha256_json({**payload, "swapped": task.swapped, "sample": task.sample})

    async def evaluate(self, tasks: Sequence[Task], call: Caller) -> list[Judgment]:
        return await asyncio.to_thread(self._evaluate, tasks)

    def _evaluate(self, tasks: Sequence[Task]) -> list[Judgment]:
        wanted: list[tuple[PairItem | SingleItem, str]] = []
        for task in tasks:
            item = task.item
            if isinstance(item, PairItem):
                wanted += [(item, item.response_a), (item, item.response_b)]
            else:
                wanted.append((item, item.response))
        scores = iter(self._score(wanted))
        out = []
        for task in tasks:
            base: dict[str, Any] = {
                "item_id": task.item.id,
                "judge": self.name,
                "judge_hash": self.judge_hash,
                "request_key": self.request_key(task),
                "swapped": task.swapped,
                "sample": task.sample,
                "status": "ok",
            }
            if isinstance(task.item, PairItem):
                a, b = next(scores), next(scores)
                fields = pair_fields(a, b, self.options.tie_margin)
                raw = {"reward_a": a, "reward_b": b}
            else:
                s = next(scores)
                fields, raw = {"score": s}, {"reward": s}
            out.append(Judgment(**base, **fields, raw=json.dumps(raw)))
        return out


def _options(params: dict[str, Any]) -> RewardOptions:
    try:
        return RewardOptions(**params)
    except ValidationError as exc:
        raise ConfigError(f"reward judge: {validation_text(exc)}") from exc


def reward_judge(**params: Any) -> RewardJudge:
    """The ``reward`` judge's factory (``-J model=... -J tie_margin=0.1``)."""
    return RewardJudge(_options(params))
