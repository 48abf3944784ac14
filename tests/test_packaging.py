"""What the installed distribution holds: no top-level name but ours.

The repository keeps the layout's top-level ``benchmarks/`` and ``prompts/`` folders;
they install as ``judge_benchmarks`` and ``judge_prompts`` so that ``import benchmarks``
or ``import prompts`` in a user's environment is never this project. A real wheel is
built from the checkout and installed into an empty folder, then used from a folder
where the checkout is not importable.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_of_judge_is_listed() -> None:
    """A new subpackage of judge/ that pyproject does not list would be missing from wheels."""
    setuptools = _pyproject()["tool"]["setuptools"]  # type: ignore[index]
    listed = set(setuptools["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "judge").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert on_disk - listed == set(), f"add to [tool.setuptools] packages: {on_disk - listed}"
    assert {"judge_benchmarks", "judge_prompts"} <= listed
    assert setuptools["package-dir"] == {
        "judge_benchmarks": "benchmarks",
        "judge_prompts": "prompts",
    }


def _isolation() -> list[str]:
    """Build with this environment's setuptools when it can (faster, no download), else
    in pip's isolated build environment, as ``pip install`` does."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major = int(version("setuptools").split(".")[0])
        version("wheel")
    except (PackageNotFoundError, ValueError):
        return []
    return ["--no-build-isolation"] if major >= 69 else []


def test_the_wheel_installs_no_colliding_top_level_name(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", *_isolation(),
         "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("judge_harness-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"judge", "judge_benchmarks", "judge_prompts"}
    # the data files travel with their packages
    assert "judge_benchmarks/data/sample.jsonl" in names
    assert "judge_prompts/smollm2.toml" in names
    assert any(n.startswith("judge_prompts/pairwise/") and n.endswith(".jinja") for n in names)

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
         str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    script = (
        "import importlib.util, judge, judge_benchmarks\n"
        "from judge.factory import benchmark_named, preset_judge\n"
        "assert judge.__file__.startswith(SITE), judge.__file__\n"
        "assert importlib.util.find_spec('benchmarks') is None\n"
        "assert importlib.util.find_spec('prompts') is None\n"
        "items = list(benchmark_named('sample').load())\n"
        "judge_ = preset_judge('smollm2')\n"
        "print(len(items), type(judge_).__name__)\n"
    ).replace("SITE", repr(str(site)))
    # -S and -I: neither the editable install nor the checkout is on the path,
    # only the folder the wheel went into and the interpreter's own site-packages.
    used = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n{script}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert used.returncode == 0, used.stderr[-3000:]
    count, kind = used.stdout.split()
    assert int(count) > 0 and kind
