"""The real-data loaders reproduce the counts and figures stated in each PROVENANCE.md.

Data: ``../shared/datasets`` beside the checkout (never copied into the repo).
Numbers marked "PROVENANCE" are quoted from that dataset's PROVENANCE.md; a few
marked "computed" are not stated there and were counted from the files.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from statistics import mean

import pytest
from sklearn.metrics import cohen_kappa_score

from judge.benchmark import AnyItem, load_items
from judge.data_paths import ENV_VAR, default_data_root
from judge.errors import ConfigError, DataError
from judge.records import PairItem, SingleItem
from judge.registry import benchmarks

DATA = Path(__file__).parents[1].parent / "shared" / "datasets"


def load(name: str, **options: object) -> list[AnyItem]:
    return load_items(benchmarks.get(name)(path=str(DATA / FOLDERS[name]), **options))


FOLDERS = {
    "pandalm": "pandalm",
    "llmbar": "llmbar",
    "judgebench": "judgebench",
    "evalbiasbench": "evalbiasbench",
    "topical_chat": "topical_chat_usr",
}


def pairs(items: list[AnyItem]) -> list[PairItem]:
    assert all(isinstance(i, PairItem) for i in items)
    return [i for i in items if isinstance(i, PairItem)]


def longer_wins(items: list[PairItem]) -> tuple[int, float]:
    """(pairs of unequal length with a non-tie label, share where the label is the longer one)."""
    unequal = [i for i in items if len(i.response_a) != len(i.response_b) and i.label in ("A", "B")]
    longer = sum((i.label == "A") == (len(i.response_a) > len(i.response_b)) for i in unequal)
    return len(unequal), longer / len(unequal)


# -- PandaLM ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pandalm() -> list[PairItem]:
    return pairs(load("pandalm"))


def test_pandalm_rows_and_majority(pandalm: list[PairItem]) -> None:
    assert len(pandalm) == 999  # PROVENANCE
    assert Counter(i.label for i in pandalm) == {"B": 472, "A": 422, "tie": 105}  # PROVENANCE
    assert sum(len({lab.verdict for lab in i.labels}) == 1 for i in pandalm) == 879  # PROVENANCE
    assert all(
        [lab.annotator for lab in i.labels] == ["annotator1", "annotator2", "annotator3"]
        for i in pandalm
    )
    assert [i.id for i in pandalm[:3]] == ["0", "1", "2"]


def test_pandalm_human_kappas(pandalm: list[PairItem]) -> None:
    votes = [[lab.verdict for lab in i.labels] for i in pandalm]
    kappa = {
        (a, b): round(cohen_kappa_score([v[a] for v in votes], [v[b] for v in votes]), 3)
        for a, b in ((0, 1), (0, 2), (1, 2))
    }
    assert kappa == {(0, 1): 0.852, (0, 2): 0.879, (1, 2): 0.862}  # PROVENANCE recomputation


def test_pandalm_quirks_and_lengths(pandalm: list[PairItem]) -> None:
    quirky = {i.id for i in pandalm if "quirks" in i.metadata}
    assert quirky == {"157", "158", "159", "161", "162", "164"}  # PROVENANCE: JSON true
    assert pandalm[157].response_a == "True" and pandalm[161].response_b == "True"
    assert pandalm[0].model_a == "bloom-7b" and pandalm[0].model_b == "llama-7b"
    assert pandalm[0].prompt_text.endswith(str(pandalm[0].metadata["input"]))
    n, share = longer_wins(pandalm)
    assert (n, round(share, 3)) == (887, 0.675)  # PROVENANCE: 67.5% of 887
    assert round(mean(len(i.response_a) for i in pandalm)) == 197  # PROVENANCE
    assert round(mean(len(i.response_b) for i in pandalm)) == 187  # PROVENANCE


# -- LLMBar ----------------------------------------------------------------------------

LLMBAR_ROWS = {  # PROVENANCE rows; label counts (A, B) computed from the files
    "natural": (100, 42, 58),
    "adversarial_neighbor": (134, 75, 59),
    "adversarial_gptinst": (92, 45, 47),
    "adversarial_gptout": (47, 22, 25),
    "adversarial_manual": (46, 22, 24),
    "processed_faireval": (66, 41, 25),
    "processed_llmeval2": (200, 92, 108),
    "processed_mtbench": (200, 101, 99),
    "casestudy_constraint": (89, 43, 46),
    "casestudy_negation": (59, 26, 33),
    "casestudy_normal": (59, 33, 26),
    "casestudy_base9": (54, 25, 29),
    "casestudy_base10": (54, 29, 25),
}
LLMBAR_LONGER = {  # PROVENANCE: how often the gold output is the longer one
    "natural": 0.566,
    "adversarial_neighbor": 0.119,
    "adversarial_gptinst": 0.130,
    "adversarial_gptout": 0.447,
    "adversarial_manual": 0.178,
    "processed_mtbench": 0.697,
    "processed_llmeval2": 0.614,
    "processed_faireval": 0.591,
}


@pytest.mark.parametrize("subset", sorted(LLMBAR_ROWS))
def test_llmbar_subset(subset: str) -> None:
    items = pairs(load("llmbar", subset=subset))
    rows, a, b = LLMBAR_ROWS[subset]
    assert len(items) == rows
    assert Counter(i.label for i in items) == {"A": a, "B": b}  # no ties anywhere
    assert {i.category for i in items} == {subset}
    assert all(len(i.labels) == 1 and i.labels[0].annotator == "gold" for i in items)
    if subset in LLMBAR_LONGER:
        assert round(longer_wins(items)[1], 3) == LLMBAR_LONGER[subset]


@pytest.mark.parametrize(
    ("subset", "rows"),
    [("llmbar", 419), ("adversarial", 319), ("processed", 466), ("casestudy", 315), ("all", 1200)],
)
def test_llmbar_groups(subset: str, rows: int) -> None:
    assert len(load("llmbar", subset=subset)) == rows  # PROVENANCE / datasets README


def test_llmbar_default_is_the_419_pair_benchmark() -> None:
    bench = benchmarks.get("llmbar")(path=str(DATA / "llmbar"))
    assert len(bench.files()) == 5
    assert Counter(i.category for i in load_items(bench))["natural"] == 100


def test_llmbar_unknown_subset_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="subset"):
        benchmarks.get("llmbar")(subset="adversarial_gpt")


def test_llmbar_subset_in_the_datasets_own_spelling() -> None:
    """``Natural`` (the folder's name, and docs/library.md's example) is ``natural``."""
    assert load("llmbar", subset="Natural") == load("llmbar", subset="natural")
    assert len(load("llmbar", subset="Adversarial_Neighbor")) == 134


# -- JudgeBench ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "rows", "a", "b", "categories"),
    [
        ("gpt-4o", 350, 193, 157, {"knowledge": 154, "reasoning": 98, "math": 56, "coding": 42}),
        ("claude", 270, 143, 127, {"knowledge": 154, "reasoning": 51, "math": 34, "coding": 31}),
        ("both", 620, 336, 284, {"knowledge": 308, "reasoning": 149, "math": 90, "coding": 73}),
    ],
)
def test_judgebench(model: str, rows: int, a: int, b: int, categories: dict[str, int]) -> None:
    items = pairs(load("judgebench", response_model=model))
    assert len(items) == rows  # PROVENANCE
    assert Counter(i.label for i in items) == {"A": a, "B": b}  # PROVENANCE
    assert Counter(i.category for i in items) == categories  # gpt-4o: PROVENANCE; claude: computed
    assert all(i.model_a == i.model_b for i in items)
    assert len({i.metadata["source"] for i in items}) == 17


def test_judgebench_length_is_uninformative() -> None:
    _, share = longer_wins(pairs(load("judgebench", response_model="both")))
    assert round(share * 100, 1) == 45.1  # PROVENANCE


# -- EvalBiasBench ---------------------------------------------------------------------


def test_evalbiasbench() -> None:
    cls = benchmarks.get("evalbiasbench")
    assert cls.first_is_correct
    items = pairs(load("evalbiasbench"))
    assert len(items) == 80  # PROVENANCE
    assert Counter(i.category for i in items) == {  # PROVENANCE
        "length bias": 17,
        "concreteness": 14,
        "empty reference": 13,
        "content_continuation": 12,
        "nested_instruction": 12,
        "familiar knowledge preference bias": 12,
    }
    assert Counter(i.label for i in items) == {"A": 80}  # PROVENANCE: always response1
    assert round(longer_wins(items)[1], 2) == 0.26  # PROVENANCE
    assert (
        longer_wins([i for i in items if i.category == "length bias"])[1] == 0
    )  # PROVENANCE: 0 of 17
    assert round(mean(len(i.response_a) for i in items)) == 226  # PROVENANCE
    assert round(mean(len(i.response_b) for i in items)) == 345  # PROVENANCE


def test_first_is_correct_only_where_the_source_says_so() -> None:
    flags = {name: benchmarks.get(name).first_is_correct for name in FOLDERS}
    assert flags == {
        "pandalm": False,
        "llmbar": False,
        "judgebench": False,
        "evalbiasbench": True,
        "topical_chat": False,
    }


# -- Topical-Chat USR ------------------------------------------------------------------


def test_topical_chat() -> None:
    items = load("topical_chat")
    assert len(items) == 360  # PROVENANCE
    assert all(isinstance(i, SingleItem) for i in items)
    singles = [i for i in items if isinstance(i, SingleItem)]
    assert len({i.metadata["context"] for i in singles}) == 60  # PROVENANCE: 60 contexts
    assert Counter(i.model for i in singles) == {
        "Original Ground Truth": 60,
        "New Human Generated": 60,
        "Argmax Decoding": 60,
        "Nucleus Decoding (p = 0.3)": 60,
        "Nucleus Decoding (p = 0.5)": 60,
        "Nucleus Decoding (p = 0.7)": 60,
    }
    means = {}
    for aspect in (
        "understandability",
        "naturalness",
        "coherence",
        "engagingness",
        "groundedness",
        "overall",
    ):
        values = [i.human_score(aspect) for i in singles]
        assert all(v is not None for v in values)
        means[aspect] = round(mean(v for v in values if v is not None), 3)
    assert means == {  # PROVENANCE: observed means
        "understandability": 0.673,
        "naturalness": 2.278,
        "coherence": 2.248,
        "engagingness": 2.137,
        "groundedness": 0.545,
        "overall": 3.144,
    }
    assert singles[0].scale == (1.0, 5.0)
    assert "Fact for the next reply:" in singles[0].prompt_text


# -- the data root ---------------------------------------------------------------------


def test_every_real_loader_is_registered_and_names_its_files() -> None:
    for name, folder in FOLDERS.items():
        bench = benchmarks.get(name)(path=str(DATA / folder))
        assert bench.files() and all(f.is_file() for f in bench.files())


def test_default_data_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(Path(__file__).parents[1])
    assert default_data_root().resolve() == DATA.resolve()
    assert len(load_items(benchmarks.get("evalbiasbench")())) == 80  # found without a path
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert default_data_root() == tmp_path
    with pytest.raises(DataError, match="evalbiasbench"):
        benchmarks.get("evalbiasbench")().files()
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(DataError, match=ENV_VAR):
        default_data_root()


def test_every_builtin_benchmark_follows_the_protocol() -> None:
    from judge.benchmark import Benchmark
    from judge.registry import BENCHMARKS

    for name in BENCHMARKS:
        cls = benchmarks.get(name)
        assert issubclass(cls, Benchmark) and cls.name == name, name
        assert cls.description and cls.__doc__, name
        with pytest.raises(ConfigError, match="no_such_option"):
            cls(no_such_option=1)
