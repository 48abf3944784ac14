"""Test doubles shared by the runner tests.

``ScriptedBackend`` is an in-process backend registered like any other (the way
inspect_ai tests through its mock provider): it answers "A", "B" or "C" by a fixed rule
and can fail chosen prompts, so the runner's cache, retry and resume logic can be
checked exactly. The real model is exercised in test_llamacpp.py and test_cli.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

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


def tiny_reward_model(folder: Path) -> Path:
    """Save a 2-layer random ``LlamaForSequenceClassification`` (one output) with
    SmolLM2's tokenizer (read from the embedded GGUF) to ``folder``: a real reward model
    in seconds, offline."""
    import torch
    from transformers import AutoTokenizer, LlamaForSequenceClassification

    from judge.backends.llamacpp import embedded_model_path

    gguf = embedded_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    torch.manual_seed(0)
    model = LlamaForSequenceClassification(tiny_llama_config(tokenizer, num_labels=1))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_llama_config(tokenizer: Any, **extra: Any) -> Any:
    """A 2-layer Llama config sized for ``tokenizer`` (tiny random models, offline)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **extra,
    )


def dequantize_gguf(source: Path, target: Path) -> Path:
    """Write ``source`` GGUF to ``target`` with every tensor dequantized to float32.

    Metadata (architecture, tokenizer, chat template ...) is copied key by key, as in
    gguf-py's ``gguf_new_metadata.py``; only ``general.file_type`` becomes ``ALL_F32``.
    The values are those transformers computes when it loads ``source`` (it dequantizes
    with the same ``gguf.quants`` code), so llama.cpp running ``target`` uses the same
    weights as transformers without quantized arithmetic.
    """
    import gguf
    import numpy as np

    reader = gguf.GGUFReader(source)
    arch = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    assert arch is not None, f"{source} has no architecture"
    writer = gguf.GGUFWriter(target, str(arch.contents()))  # writes general.architecture
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = int(gguf.LlamaFileType.ALL_F32)
        writer.add_key_value(field.name, value, vtype, sub_type=sub_type)
    for tensor in reader.tensors:
        weights = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        writer.add_tensor(tensor.name, np.ascontiguousarray(weights, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


# -- a `judge run` killed mid-run (tests/test_faults.py, tests/test_ray.py) ---------------

JudgmentKey = tuple[str, bool, int]


def run_and_kill(
    command: list[str], env: dict[str, str], run_dir: Path, lines: int
) -> tuple[int, set[JudgmentKey]]:
    """Start ``command`` (a ``judge run``), SIGKILL it once ``run_dir`` holds ``lines``
    judgment lines; its pid and the keys of the judgments it finished."""
    import signal
    import subprocess
    import time

    from judge.store import RunStore

    run = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    store = RunStore(run_dir)
    # generous: on a loaded 2-core machine (the fast lane's 4 xdist workers) a Ray driver
    # and its actors took over 60 s to store their first judgments
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and run.poll() is None:
        path = store.judgments_path
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            break
        time.sleep(0.02)
    assert run.poll() is None, f"the run ended before it could be killed: {run.stderr}"
    run.send_signal(signal.SIGKILL)
    run.wait()
    if run.stderr is not None:
        run.stderr.close()
    return run.pid, {(j.item_id, j.swapped, j.sample) for j in store.all_judgments()}


def assert_finished_not_repeated(
    run_dir: Path,
    finished: set[JudgmentKey],
    before: dict[str, int],
    after: dict[str, dict[str, int]],
    openai_url: str,
    total: int,
) -> None:
    """After a rerun of a killed run: ``total`` judgments, each stored once, all ``ok``,
    and no request whose judgment was ``finished`` before the kill asked again
    (``before``/``after``: the fault server's attempts and stats)."""
    from judge.factory import preset_judge
    from judge.judges import Task
    from judge.store import RunStore
    from tests.fault_server import fingerprint

    store = RunStore(run_dir)
    judge = preset_judge("smollm2", backend="openai", base_url=openai_url, model="gpt-4o-mini")
    items = {i.id: i for i in store.items()}
    final = store.all_judgments()
    assert Counter((j.item_id, j.swapped, j.sample) for j in final).most_common(1)[0][1] == 1
    assert len(final) == total and all(j.status == "ok" for j in final)
    for item_id, swapped, sample in finished:
        task = Task(items[item_id], swapped=swapped, sample=sample)
        fp = fingerprint([m.model_dump() for m in judge.request(task).messages])
        assert after["attempts"][fp] == before[fp], f"finished request repeated: {item_id}"
        assert after["ok"][fp] == 1
