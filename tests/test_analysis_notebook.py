"""The bias-exploration notebook runs top to bottom on real (imported) runs."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "bias_exploration.ipynb"


def test_bias_notebook_executes(monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.delenv("JUDGE_RUN", raising=False)  # the default: import published verdicts
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    # position by length gap, length preference, disagreement curve, probes, reliability
    assert len(images) >= 5
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "consistency" in text and "p_judge_longer" in text
    assert "p_target_after" in text and "ece" in text and "entropy" in text
    assert "pandalm: P(label prefers longer) = 0.675" in text
