"""A small reward server on 127.0.0.1 speaking vLLM's classification API (``POST /classify``).

It computes each reward with a real transformers ``AutoModelForSequenceClassification``
(the tests pass the tiny random Llama classifier): the chat form's ``messages`` through
the tokenizer's own chat template, as vLLM's chat classification request does, no
generation prompt; ``use_activation: false`` gives the raw logit, otherwise the sigmoid
of a one-label model (vLLM's default activation). Responses have vLLM's shape:
``{"id", "object": "list", "created", "model", "data": [{"index", "label", "probs",
"num_classes"}], "usage": {"prompt_tokens", "total_tokens", "completion_tokens"}}``.

``/admin/fail?n=K&status=S`` makes the next K requests answer HTTP S (retry tests);
``/stats`` counts requests.

    python tests/reward_server.py --model FOLDER [--port 0] [--served-name NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

if __package__ in (None, ""):  # run as a script: the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fault_server import FaultServerProcess


def serve(model_dir: str, host: str, port: int, served_name: str) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, dtype=torch.float32
    ).eval()
    state: dict[str, Any] = {"requests": 0, "fail": 0, "fail_status": 503}
    lock = asyncio.Lock()

    def reward(messages: list[dict[str, str]]) -> tuple[list[float], int]:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            logits = model(**ids).logits[0].float().tolist()
        return logits, int(ids["input_ids"].shape[1])

    async def classify(request: web.Request) -> web.Response:
        state["requests"] += 1
        if state["fail"] > 0:
            state["fail"] -= 1
            return web.json_response(
                {"error": {"message": "injected failure", "code": state["fail_status"]}},
                status=state["fail_status"],
            )
        body = await request.json()
        if body.get("model") not in (None, served_name):
            return web.json_response(
                {"error": {"message": f"The model `{body['model']}` does not exist."}},
                status=404,
            )
        messages = body.get("messages")
        if not isinstance(messages, list):
            return web.json_response({"error": {"message": "messages required"}}, status=400)
        async with lock:  # one forward pass at a time, as a single-GPU server batches
            logits, n_tokens = await asyncio.to_thread(reward, messages)
        activation = body.get("use_activation", True)
        probs = [1 / (1 + math.exp(-x)) for x in logits] if activation else logits
        return web.json_response(
            {
                "id": f"classify-{state['requests']}",
                "object": "list",
                "created": int(time.time()),
                "model": served_name,
                "data": [
                    {"index": 0, "label": "LABEL_0", "probs": probs, "num_classes": len(probs)}
                ],
                "usage": {
                    "prompt_tokens": n_tokens,
                    "total_tokens": n_tokens,
                    "completion_tokens": 0,
                },
            }
        )

    async def fail(request: web.Request) -> web.Response:
        state["fail"] = int(request.query.get("n", "1"))
        state["fail_status"] = int(request.query.get("status", "503"))
        return web.json_response({"fail": state["fail"]})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"requests": state["requests"]})

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/classify", classify)
        app.router.add_post("/admin/fail", fail)
        app.router.add_get("/stats", stats)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"READY {bound}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


class RewardServer:
    """The server as a child process; ``url`` is its root (the judge's ``base_url``)."""

    def __init__(self, model_dir: Path, served_name: str = "tiny-rm", timeout: float = 120) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--model",
                str(model_dir),
                "--served-name",
                served_name,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("READY "):
                self.url = f"http://127.0.0.1:{int(line.split()[1])}"
                return
            if not line and self.process.poll() is not None:
                break
        self.process.kill()
        raise RuntimeError(f"reward server did not start (exit code {self.process.poll()})")

    def post(self, path: str) -> Any:
        import json
        import urllib.request

        req = urllib.request.Request(self.url + path, data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, int]:
        import json
        import urllib.request

        with urllib.request.urlopen(self.url + "/stats", timeout=30) as resp:
            result: dict[str, int] = json.loads(resp.read())
        return result

    close = FaultServerProcess.stop  # the same child-process shutdown


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--served-name", default="tiny-rm")
    args = parser.parse_args()
    serve(args.model, args.host, args.port, args.served_name)
