"""salesnb installs like any library: the wheel alone runs its main jobs from any folder.

The test builds the sdist and, from it, the wheel (as a user's ``pip install`` would),
installs the wheel — not editable — into a fresh virtual environment with the
project's uv and pinned versions, and from a folder outside the checkout runs
``salesnb sample``, ``salesnb kpi``, copies the notebooks out with ``salesnb notebooks``
and runs ``salesnb report`` on the bundled sample with two of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import salesnb as sn

ROOT = Path(__file__).resolve().parent.parent
UV = Path(sys.executable).parent / "uv"

pytestmark = [pytest.mark.wheel, pytest.mark.slow]


def _run(args: list[str], *, cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    if not UV.exists():
        pytest.fail(f"uv not found at {UV}: run `make install-test`")
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    dist = base / "dist"
    _run([str(UV), "build", "--quiet", "--out-dir", str(dist), str(ROOT)], cwd=base, env=env)
    wheel = next(dist.glob("salesnb-*.whl"))
    venv = base / "venv"
    _run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=base, env=env)
    _run([str(UV), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(venv / "bin" / "python"),
          "-c", str(ROOT / "requirements" / "constraints.txt"), str(wheel)], cwd=base, env=env)
    work = base / "elsewhere"
    work.mkdir()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    yield wheel, venv, env | {"HOME": str(base)}


def test_the_wheel_ships_the_notebooks_and_the_sample(installed: tuple[Path, Path, dict[str, str]]) -> None:
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    notebooks = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {f"salesnb/_bundled/notebooks/{n}" for n in notebooks} <= names
    for path in [*(ROOT / "data" / "sample").glob("[!.]*"), *(ROOT / "data" / "maven").glob("[!.]*")]:
        assert f"salesnb/_bundled/datasets/{path.parent.name}/{path.name}" in names, path
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        shipped = zipfile.ZipFile(wheel).read(f"salesnb/_bundled/notebooks/{path.name}")
        assert shipped == path.read_bytes(), f"{path.name}: the wheel ships another version"
    assert "salesnb/_bundled/datasets/sample.sqlite" in names
    assert "salesnb/data/presets/maven.yml" in names and "salesnb/py.typed" in names
    assert not any(n.startswith(("tests/", "notebooks/", "data/")) for n in names)


def test_the_installed_package_runs_from_another_folder(installed: tuple[Path, Path, dict[str, str]]) -> None:
    _, venv, env = installed
    work = venv.parent / "elsewhere"
    python = str(venv / "bin" / "python")
    where = _run([python, "-c", "import salesnb; print(salesnb.__file__); print(salesnb.sample_path())"],
                 cwd=work, env=env).split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # not the checkout
    assert _run(["salesnb", "--version"], cwd=work, env=env).strip() == f"salesnb {sn.__version__}"

    _run(["salesnb", "sample", "mine", "--n", "300", "--seed", "3"], cwd=work, env=env)
    mine = json.loads(_run(["salesnb", "kpi", "mine", "--start", "2025-01-01", "--end", "2025-07-01",
                            "--calendar", "gregorian", "--json"], cwd=work, env=env))
    assert mine["won"]["total"] > 0

    # The bundled sample (with its field history) gives the numbers recorded in the goldens.
    doc = json.loads(_run(["salesnb", "kpi", where[1], "--start", "1404-07-01", "--end", "1404-08-01",
                           "--as-of", "1404-09-01T10:30:00", "--json"], cwd=work, env=env))
    golden = json.loads((ROOT / "tests" / "golden" / "kpi" / "history_1404_07_asof.json").read_text(
        encoding="utf-8"))
    assert doc == golden

    copied = _run(["salesnb", "notebooks", "nbs"], cwd=work, env=env)
    assert sorted(p.name for p in (work / "nbs").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), copied

    # The report from the installed package, on the bundled sample, with two of the copied
    # notebooks (every notebook's content runs in test_report.py and under nbval; the
    # bundled copies are byte-identical to them, see the test above).
    for extra in sorted((work / "nbs").glob("*.ipynb"))[2:]:
        extra.unlink()
    out = _run(["salesnb", "report", "--period", "1404-06", "--out", "reports", "--jobs", "2",
                "--notebooks", "nbs"], cwd=work, env=env, timeout=900)
    folder = work / "reports" / "1404-06"
    assert (folder / "index.html").exists(), out
    assert {p.name for p in folder.glob("*.html")} == {
        "index.html", "00_overview.html", "01_opportunities.html"}, out
