"""Every notebook runs headlessly with papermill in each scenario users meet.

Scenarios: the bundled sample in English with widgets and in Persian without; the
public Maven dataset through its preset; a window with no data at all. The report
tests (test_report.py) add the English static run of every notebook, and
``pytest --nbval-lax notebooks/`` (run by ``make test``) executes the stored notebooks
with their defaults. Assertions inside the notebooks state what must hold.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from salesnb.presentation.notebook import PARAMETERS
from salesnb.report.runner import KERNEL_NAME, _kernel_dir, check_parameters, notebook_parameters

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.notebook

SCENARIOS = {
    "sample-fa-interactive": {"language": "fa", "interactive": True, "start": "1404-01-01",
                              "end": "1404-07-01"},
    "maven-en-static": {"data_path": str(ROOT / "data" / "maven"), "mapping": "maven",
                        "start": "2017-01-01", "end": "2017-07-01", "interactive": False,
                        "calendar": "gregorian"},
    "empty-window-fa-static": {"start": "1390-01-01", "end": "1390-02-01", "interactive": False,
                               "language": "fa"},
}


@pytest.fixture(scope="session")
def kernel() -> Iterator[str]:
    """A kernelspec for this interpreter, first on JUPYTER_PATH (no stale kernel can win)."""
    import shutil

    folder = _kernel_dir()
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(folder) + (os.pathsep + old if old else "")
    try:
        yield KERNEL_NAME
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old
        shutil.rmtree(folder, ignore_errors=True)


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for c in nb.cells if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_the_kernel_is_this_environment(kernel: str, tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys; print(sys.prefix)")]
    src, out = tmp_path / "probe.ipynb", tmp_path / "probe-out.ipynb"
    nbformat.write(nb, src)
    pm.execute_notebook(str(src), str(out), kernel_name=kernel, progress_bar=False)
    text = nbformat.read(str(out), as_version=4).cells[0].outputs[0]["text"].strip()
    assert text == sys.prefix


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_contract(path: Path) -> None:
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # stored without outputs; the first code cell is the tagged parameters cell
    assert all(not c.get("outputs") and not c.get("execution_count") for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert notebook_parameters(path) == PARAMETERS
    for line in code[0].source.splitlines()[1:]:
        assert "#" in line, f"parameter without a comment: {line}"
    # thin: no function or class definitions in notebooks
    assert not any(c.source.lstrip().startswith(("def ", "class ")) or "\ndef " in c.source
                   or "\nclass " in c.source for c in code)
    check_parameters(path, dict(PARAMETERS))


def test_unknown_or_missing_parameter_is_an_error(tmp_path: Path) -> None:
    from salesnb.exceptions import NotebookParameterError

    path = NOTEBOOKS[0]
    with pytest.raises(NotebookParameterError, match=r"unknown parameter\(s\) \['colour'\]"):
        check_parameters(path, {**PARAMETERS, "colour": "red"})
    partial = dict(PARAMETERS)
    partial.pop("teams")
    with pytest.raises(NotebookParameterError, match=r"declares \['teams'\]"):
        check_parameters(path, partial)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, scenario: str, kernel: str, tmp_path: Path) -> None:
    params = {**PARAMETERS, **SCENARIOS[scenario]}
    out = tmp_path / path.name
    pm.execute_notebook(str(path), str(out), parameters=params, kernel_name=kernel,
                        progress_bar=False, cwd=str(ROOT))
    nb = nbformat.read(str(out), as_version=4)
    assert _errors(nb) == []
    text = json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)
    if scenario.startswith("empty"):
        # the notebook says there is no data instead of crashing
        assert "no data" in text.lower() or "داده" in text
    if params["interactive"]:
        assert "application/vnd.jupyter.widget-view+json" in text
    else:
        assert "application/vnd.jupyter.widget-view+json" not in text
        assert "image/png" in text


# --------------------------------------------------------------------------- 06 pipeline movement
MOVEMENT_NB = ROOT / "notebooks" / "06_pipeline_movement.ipynb"


@pytest.mark.parametrize("language", ["en", "fa"])
def test_pipeline_movement_notebook_on_the_sample(language: str, kernel: str, tmp_path: Path) -> None:
    """The bundled sample, with its field history and expected close dates: the walk balances
    and is drawn (team total and per team) with its amount changes, the stage matrix is drawn,
    and the overdue section lists the deals past their date, in the page's language."""
    import time

    from salesnb.presentation import i18n

    params = {**PARAMETERS, "start": "1404-06-01", "end": "1404-07-01", "interactive": False,
              "language": language}
    out = tmp_path / MOVEMENT_NB.name
    began = time.perf_counter()
    pm.execute_notebook(str(MOVEMENT_NB), str(out), parameters=params, kernel_name=kernel,
                        progress_bar=False, cwd=str(ROOT))
    seconds = time.perf_counter() - began
    nb = nbformat.read(str(out), as_version=4)
    assert _errors(nb) == []
    html = [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})]
    t = lambda key: i18n.translate(key, language)  # noqa: E731
    walk = next(h for h in html if t("q6a_title") in h)
    stages = next(h for h in html if t("q6b_title") in h)
    overdue = next(h for h in html if t("q6c_title") in h)
    # the team total (count, value) and one figure per team: two plots
    assert walk.count("data:image/png;base64,") == 2
    assert t("movement_by_count") in walk and t("movement_by_value") in walk
    assert t("note_no_field_history") not in walk
    assert stages.count("data:image/png;base64,") == 1
    assert t("note_no_expected_close") not in overdue and "DataSchemaError" not in overdue
    assert t("overdue_table") in overdue and "<table" in overdue and t("expected_close_at") in overdue
    if language == "fa":
        from test_persian_html import latin_digits_in, read

        for block in (walk, stages, overdue):
            reader = read(block)
            assert reader.roots[0].get("dir") == "rtl" and reader.roots[0].get("lang") == "fa"
            assert latin_digits_in(reader) == []
    assert seconds < 30, f"the notebook took {seconds:.1f} s"


def test_movement_views_with_field_history_and_close_dates() -> None:
    """On data with a field history and expected close dates (the hand-worked deals of
    test_movement): the walk shows the amount changes per team and balances, and the overdue
    section lists the overdue and pushed deals."""
    from test_movement import END, FIELDS, HISTORY, SETTINGS, START, _opps

    import salesnb as sn
    from salesnb.presentation import i18n, views
    from salesnb.presentation.notebook import prepare

    data = sn.SalesData.from_frames(_opps(), HISTORY, settings={**SETTINGS, "calendar": "gregorian"},
                                    field_history=FIELDS)
    ctx = prepare(start=START, end=END, interactive=False, data=data)
    walk = views.movement_view(ctx)
    by_value = walk.tables[i18n.translate("movement_by_value", "en")]
    total = by_value.iloc[-1]
    assert total["Team"] == "All" and total["Increased"] != "0" and total["Balances"] == "✔"
    assert by_value["Team"].tolist() == ["T1", "T2", "All"]
    assert not any("No field history" in n for n in walk.notes)
    overdue = views.overdue_view(ctx)
    table = overdue.tables[i18n.translate("overdue_table", "en")]
    # E's date (03-20) has passed at the end of March; I was pushed twice (03-15 -> 04-10 -> 05-20),
    # L once (04-20 -> 07-01).
    assert table["Opportunity"].tolist()[0] == "E"
    assert dict(zip(table["Opportunity"], table["Times pushed"], strict=True))["I"] == "2"
    assert set(table["Opportunity"]) >= {"E", "I", "L"}
