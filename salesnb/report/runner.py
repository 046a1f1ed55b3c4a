"""Periodic reports: run the notebooks headlessly with papermill into a dated HTML report set.

``salesnb report DATA --period last-month`` resolves the window, checks the parameters
against each notebook's ``parameters`` cell, runs every notebook with
``interactive=False`` (in parallel up to ``jobs``), and writes ``reports/<label>/``:

* ``index.html`` — the period, the headline KPIs with the change against the previous
  period, links to every section, data-quality notes, failed sections with their error;
* one HTML page per notebook, without code cells, images embedded, no network
  resources (scripts and stylesheets from the network are removed);
* the executed notebooks (``notebooks/``), ``kpis.json`` (the ``salesnb kpi --json``
  document of the window) and ``runs.json`` (each notebook's outcome and seconds; the
  next run under the same ``out`` starts the slowest notebooks first);
* with ``pdf=True``, a PDF of every page printed by headless Chromium.

The report is written to a temporary folder and moved into place at the end: a run in
which a notebook failed never replaces an earlier good report of the same period (it is
kept beside it as ``<label>.failed``).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat

from salesnb import periods
from salesnb._options import LANGUAGES, check_option
from salesnb.data.bundled import NOTEBOOK_GLOB, notebooks_dir
from salesnb.data.loading import load
from salesnb.exceptions import NotebookParameterError, ReportError
from salesnb.metrics.summary import kpi_summary
from salesnb.metrics.window import Window
from salesnb.presentation.notebook import PARAMETERS
from salesnb.report.export import export_html, print_pdf
from salesnb.report.index import NotebookRun, previous_summary, render_index
from salesnb.report.period import resolve_period

__all__ = ["KERNEL_NAME", "ReportResult", "check_parameters", "notebook_parameters", "run_report"]

KERNEL_NAME = "salesnb-report"
#: Each notebook's outcome and seconds, in every report folder.
RUNS_FILE = "runs.json"


# --------------------------------------------------------------------------- parameters
def notebook_parameters(path: str | Path) -> dict[str, Any]:
    """Return the names and default values declared in a notebook's ``parameters`` cell.

    Raises
    ------
    NotebookParameterError
        The notebook has no cell tagged ``parameters``, or it is not simple assignments.
    """
    nb = nbformat.read(str(path), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise NotebookParameterError(
            f"{path}: no cell tagged 'parameters'\n  Fix: tag the first code cell 'parameters' "
            "(View → Cell toolbar → Tags in Jupyter)")
    tree = ast.parse(cells[0].source)
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError as err:
                raise NotebookParameterError(
                    f"{path}: parameter {node.targets[0].id!r} has a default that is not a literal\n"
                    "  Fix: give every parameter a literal default (a string, number, list, True/False)"
                ) from err
    return out


def check_parameters(path: Path, given: dict[str, Any]) -> None:
    """Fail, with the fix, when ``given`` and the notebook's parameters differ in names."""
    declared = notebook_parameters(path)
    unknown = sorted(set(given) - set(declared))
    missing = sorted(set(declared) - set(given))
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown parameter(s) {unknown} (the notebook declares: {', '.join(declared)})")
        if missing:
            parts.append(f"the notebook declares {missing}, which the report does not set")
        raise NotebookParameterError(
            f"{path.name}: " + "; ".join(parts) + "\n  Fix: every notebook's parameters cell must declare "
            f"exactly: {', '.join(PARAMETERS)} (see salesnb.notebook.PARAMETERS)")


# --------------------------------------------------------------------------- periods
# --------------------------------------------------------------------------- running
@dataclass
class ReportResult:
    """What a report run produced."""

    folder: Path
    index: Path
    runs: list[NotebookRun] = field(default_factory=list)
    replaced_previous: bool = False

    @property
    def ok(self) -> bool:
        """True when every notebook ran."""
        return all(r.ok for r in self.runs)


def _kernel_dir() -> Path:
    """A kernelspec pointing at this interpreter, so no stale user kernel can win."""
    root = Path(tempfile.mkdtemp(prefix="salesnb-kernel-"))
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        # log level CRITICAL: no "running over TCP without encryption" warning per notebook,
        # nor the "KeyboardInterrupt caught in kernel" line of a kernel being shut down; a
        # kernel that dies is reported by papermill as the notebook's error.
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=CRITICAL"],
        "display_name": "salesnb report (this environment)", "language": "python",
    }), encoding="utf-8")
    return root


def _run_one(notebook: str, output: str, parameters: dict[str, Any], kernel_dir: str, cwd: str) -> dict[str, Any]:
    """Execute one notebook (in a worker process); returns a plain dict for pickling."""
    import papermill as pm

    os.environ["JUPYTER_PATH"] = kernel_dir + os.pathsep + os.environ.get("JUPYTER_PATH", "")
    began = time.perf_counter()
    try:
        pm.execute_notebook(notebook, output, parameters=parameters, kernel_name=KERNEL_NAME,
                            progress_bar=False, cwd=cwd, log_output=False, request_save_on_cell_execute=False)
        return {"ok": True, "seconds": time.perf_counter() - began}
    except pm.PapermillExecutionError as err:
        message = f"cell {err.exec_count}: {err.ename}: {err.evalue}"
        return {"ok": False, "seconds": time.perf_counter() - began, "error": message}
    except Exception as err:  # kernel died, notebook unreadable...
        return {"ok": False, "seconds": time.perf_counter() - began, "error": f"{type(err).__name__}: {err}"}


def run_report(
    data_source: str | Path,
    *,
    period: str | None = None,
    start: str | None = None,
    end: str | None = None,
    as_of: str | None = None,
    calendar: str | None = None,
    owners: Sequence[str] = (),
    teams: Sequence[str] = (),
    language: str = "en",
    mapping: str = "",
    out: str | Path = "reports",
    pdf: bool = False,
    jobs: int = 2,
    notebooks: str | Path | None = None,
    progress: Callable[[str], None] = print,
) -> ReportResult:
    """Run every notebook for a period and write the HTML report set.

    Parameters
    ----------
    data_source : str or Path
        Dataset folder, workbook or database URL.
    period, start, end, as_of, calendar
        The window (see :func:`resolve_period`).
    owners, teams : sequence of str
        Restrict the report to these salespeople / teams.
    language : {"en", "fa"}
        Language of titles, labels and tables (``fa`` pages are right-to-left).
    mapping : str
        Column mapping or preset for CRM exports.
    out : str or Path, default "reports"
        Parent folder of the report folders.
    pdf : bool
        Also print every page to PDF with headless Chromium.
    jobs : int, default 2
        Notebooks run in parallel.
    notebooks : str or Path, optional
        Folder of the notebooks (default: the notebooks shipped with salesnb).
    progress : callable
        Receives one line per event (default: print).

    Returns
    -------
    ReportResult
        ``ok`` is False when a notebook failed (the index marks it).
    """
    language = check_option("language", language, LANGUAGES)
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"mapping": mapping} if mapping else {}
    data = load(data_source, **kwargs)
    scoped = data.subset(owners=list(owners), teams=list(teams))
    window, label = resolve_period(scoped, period=period, start=start, end=end, as_of=as_of,
                                   calendar=calendar)
    if language != "en":
        label = f"{label}-{language}"
    cal = window.calendar
    fmt = periods.format_datetime
    parameters = {
        "data_path": str(data_source), "start": fmt(window.start, calendar=cal),
        "end": fmt(window.end, calendar=cal), "as_of": fmt(window.as_of, calendar=cal),
        "period": _sub_period(window), "calendar": cal, "owners": list(owners), "teams": list(teams),
        "language": language, "interactive": False, "mapping": mapping,
    }
    nb_dir = Path(notebooks) if notebooks else notebooks_dir()
    sources = sorted(nb_dir.glob(NOTEBOOK_GLOB))
    if not sources:
        raise ReportError(f"no notebooks found in {nb_dir}\n  Fix: pass the notebooks folder")
    for source in sources:
        check_parameters(source, parameters)
    sources = _slowest_first(sources, Path(out))

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{label}.", dir=out))
    (staging / "notebooks").mkdir()
    progress(f"report {label}: {len(sources)} notebooks, window {window.start.isoformat()} – "
             f"{window.end.isoformat()}, {jobs} at a time")
    doc = kpi_summary(scoped, start=window.start, end=window.end, as_of=window.as_of)
    (staging / "kpis.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n", encoding="utf-8")

    kernel_dir = _kernel_dir()
    runs: list[NotebookRun] = []
    try:
        ctx = get_context("spawn")
        with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
            futures = {
                pool.submit(_run_one, str(src), str(staging / "notebooks" / src.name), parameters,
                            str(kernel_dir), str(Path.cwd())): src for src in sources}
            for n, future in enumerate(as_completed(futures), 1):
                src = futures[future]
                res = future.result()
                run = NotebookRun(src.stem, res["ok"], res["seconds"], error=res.get("error"),
                                  title=_title(src))
                if run.ok:
                    page = staging / f"{src.stem}.html"
                    export_html(staging / "notebooks" / src.name, page, title=_title(src), language=language)
                    run.html = page.name
                runs.append(run)
                state = "ok" if run.ok else f"FAILED — {run.error}"
                progress(f"[{n}/{len(sources)}] {src.stem}: {state} ({run.seconds:.1f} s)")
    finally:
        shutil.rmtree(kernel_dir, ignore_errors=True)
    runs.sort(key=lambda r: r.name)
    (staging / RUNS_FILE).write_text(json.dumps(
        [{"notebook": r.name, "ok": r.ok, "seconds": round(r.seconds, 2)} for r in runs], indent=2) + "\n",
        encoding="utf-8")
    previous = previous_summary(scoped, window)
    index = staging / "index.html"
    index.write_text(render_index(scoped, window, label, doc, previous, runs, language=language),
                     encoding="utf-8")
    if pdf:
        for page in [index, *(staging / r.html for r in runs if r.html)]:
            print_pdf(page, page.with_suffix(".pdf"))
        progress("PDF pages printed with headless Chromium")

    result = _publish(staging, out / label, ok=all(r.ok for r in runs))
    result.runs = runs
    progress(f"{'report' if result.ok else 'report with FAILED sections'} written in "
             f"{time.perf_counter() - started:.1f} s: {result.index}")
    return result


def _slowest_first(sources: list[Path], out: Path) -> list[Path]:
    """Order the notebooks slowest first, so two at a time finish together.

    The times come from the newest ``runs.json`` under ``out`` (an earlier report); a
    notebook it does not list, or every notebook on a first run, counts as slow, later
    names first (the shipped set grows heavier towards the forecast).
    """
    seconds: dict[str, float] = {}
    records = sorted(out.glob(f"*/{RUNS_FILE}"), key=lambda p: p.stat().st_mtime)
    if records:
        try:
            seconds = {str(r["notebook"]): float(r["seconds"])
                       for r in json.loads(records[-1].read_text(encoding="utf-8"))}
        except (ValueError, KeyError, TypeError, OSError):
            seconds = {}  # an unreadable record only loses the ordering
    return sorted(sources, key=lambda p: (-seconds.get(p.stem, float("inf")), [-ord(c) for c in p.stem]))


def _sub_period(window: Window) -> str:
    days = (window.end - window.start).days
    return "week" if days <= 45 else "month" if days <= 400 else "quarter"


def _title(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), path.stem)
    return first.splitlines()[0].lstrip("# ").strip()


def _publish(staging: Path, target: Path, *, ok: bool) -> ReportResult:
    """Move the staged report into place; a failed run never replaces a good report."""
    if not ok and target.exists():
        failed = target.with_name(target.name + ".failed")
        shutil.rmtree(failed, ignore_errors=True)
        staging.rename(failed)
        return ReportResult(failed, failed / "index.html")
    replaced = target.exists()
    if replaced:
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
    return ReportResult(target, target / "index.html", replaced_previous=replaced)


