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
import threading
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, JsonValue, ValidationError

from judge.backends.local import hf_loading, import_transformers, torch_device, torch_dtype
from judge.errors import ConfigError, validation_text
from judge.records import PairItem, Record, SingleItem
from judge.scoring import Scorer, ScoringJudge, conversation
from judge.scoring import pair_fields as pair_fields


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


class RewardModel(Scorer):
    """The reward judge's compute: a sequence classifier scoring texts in batches (loaded
    once per process; on a Ray actor, once per actor)."""

    def __init__(self, options: RewardOptions, *, model: Any = None, tokenizer: Any = None):
        self.options = options
        self.name = options.name
        self._model = model
        self._tokenizer = tokenizer
        self.in_memory = model is not None
        self._device: Any = None
        self._lock = threading.RLock()

    def replica(self) -> tuple[type[Scorer], dict[str, Any]]:
        if self.in_memory:
            raise ConfigError(
                f"reward judge {self.name!r} wraps an in-memory model, which cannot be built "
                "on another process: give it -J model=FOLDER_OR_HUB_ID"
            )
        return RewardModel, {"options": self.options}

    def prepare(self) -> None:
        self._load()

    def tokenizer(self) -> Any:
        """The tokenizer alone (what formatting the texts needs; the model is not loaded)."""
        with self._lock:
            if self._tokenizer is None:
                opts = self.options
                if not opts.model and not opts.tokenizer:
                    raise ConfigError("the reward judge needs a model: -J model=FOLDER_OR_HUB_ID")
                with hf_loading(f"the tokenizer of {opts.model!r}"):
                    self._tokenizer = import_transformers(
                        torch=False
                    ).AutoTokenizer.from_pretrained(
                        opts.tokenizer or opts.model, **self._hub_kwargs()
                    )
            if self._tokenizer.pad_token is None:
                self._tokenizer.pad_token = self._tokenizer.eos_token
            return self._tokenizer

    def _hub_kwargs(self) -> dict[str, Any]:
        opts = self.options
        kwargs: dict[str, Any] = {
            "trust_remote_code": opts.trust_remote_code,
            "local_files_only": opts.local_files_only,
        }
        if opts.revision:
            kwargs["revision"] = opts.revision
        return kwargs

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            return self._load_locked()

    def _load_locked(self) -> tuple[Any, Any]:
        device = self._device or torch_device(self.options.device)  # before any loading
        tok = self.tokenizer()
        if self._model is not None and self._device is not None:
            return self._model, tok
        transformers = import_transformers(torch=False)
        opts = self.options
        self._device = device
        if self._model is None:
            with hf_loading(f"reward model {opts.model!r}"):
                self._model = transformers.AutoModelForSequenceClassification.from_pretrained(
                    opts.model, dtype=torch_dtype(opts.dtype, self._device), **self._hub_kwargs()
                )
        labels = int(getattr(self._model.config, "num_labels", 1))
        if labels != 1:
            raise ConfigError(
                f"reward model {opts.model!r} has {labels} outputs; a reward model has one"
            )
        if getattr(self._model.config, "pad_token_id", None) is None:
            self._model.config.pad_token_id = tok.pad_token_id
        self._model = self._model.to(self._device).eval()
        return self._model, tok

    async def score(self, units: Sequence[JsonValue]) -> list[float | str]:
        return list(await asyncio.to_thread(self.score_texts, [str(u) for u in units]))

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """Rewards of ``texts`` (batched; right padding, so each score equals the
        unpadded forward pass)."""
        import torch

        out: list[float] = []
        with self._lock, torch.inference_mode():
            model, tok = self._load_locked()
            chat = bool(getattr(tok, "chat_template", None))
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


class RewardJudge(ScoringJudge):
    """A sequence-classification reward model scoring each response once."""

    def __init__(self, options: RewardOptions, *, model: Any = None, tokenizer: Any = None):
        self.options = options
        self.model = RewardModel(options, model=model, tokenizer=tokenizer)
        """The local model (its tokenizer formats the texts wherever they are scored)."""
        super().__init__(options.name, options.tie_margin, self.model)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **options: Any) -> RewardJudge:
        """Wrap a loaded model and tokenizer (tests, notebooks)."""
        return cls(_options(options), model=model, tokenizer=tokenizer)

    def spec(self) -> dict[str, JsonValue]:
        opts = self.options.model_dump(
            mode="json", exclude={"batch_size", "device", "local_files_only", "name"}
        )
        if self.model.in_memory:
            opts["model"] = f"<in memory {type(self.model._model).__name__}>"
        return {"type": "reward", "name": self.name, **opts}

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    @property
    def max_concurrency(self) -> int | None:
        return 1

    def text(self, item: PairItem | SingleItem, response: str) -> str:
        """The exact string scored for ``response``: the tokenizer's chat template over
        the prompt's turns and the response as the assistant turn (plain text joined by a
        blank line when the tokenizer defines no template)."""
        tok = self.model.tokenizer()
        chat = conversation(item, response)
        if getattr(tok, "chat_template", None):
            return str(tok.apply_chat_template(chat, tokenize=False))
        return "\n\n".join(t["content"] for t in chat)

    def unit(self, item: PairItem | SingleItem, response: str) -> JsonValue:
        return self.text(item, response)


def _options(params: dict[str, Any]) -> RewardOptions:
    try:
        return RewardOptions(**params)
    except ValidationError as exc:
        raise ConfigError(f"reward judge: {validation_text(exc)}") from exc


def reward_judge(**params: Any) -> ScoringJudge:
    """The ``reward`` judge's factory (``-J model=... -J tie_margin=0.1``); with
    ``-J base_url=...`` the model is served (:mod:`judge.reward_http`)."""
    if "base_url" in params:
        from judge.reward_http import reward_http_judge

        return reward_http_judge(**params)
    return RewardJudge(_options(params))
