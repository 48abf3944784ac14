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

from judge.backends.local import import_transformers
from judge.errors import ConfigError, validation_text
from judge.hashing import sha256_json
from judge.judges import Caller, Task
from judge.records import Judgment, PairItem, Record, SingleItem
from judge.scoring import ScoringJudge, conversation, responses_of
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


class RewardJudge(ScoringJudge):
    """A sequence-classification reward model scoring each response once."""

    def __init__(self, options: RewardOptions, *, model: Any = None, tokenizer: Any = None):
        self.options = options
        self.name = options.name
        self.tie_margin = options.tie_margin
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
        chat = conversation(item, response)
        if getattr(tok, "chat_template", None):
            return str(tok.apply_chat_template(chat, tokenize=False))
        return "\n\n".join(t["content"] for t in chat)

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

    async def evaluate(self, tasks: Sequence[Task], call: Caller) -> list[Judgment]:
        return await asyncio.to_thread(self._evaluate, tasks)

    def _evaluate(self, tasks: Sequence[Task]) -> list[Judgment]:
        wanted = [(task.item, r) for task in tasks for r in responses_of(task.item)]
        return self.judgments(tasks, self._score(wanted))


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
