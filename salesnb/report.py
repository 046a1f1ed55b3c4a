"""Periodic reports: run the notebooks headlessly with papermill into a dated HTML report set.

``salesnb report DATA --period last-month`` resolves the window, checks the parameters
against each notebook's ``parameters`` cell, runs every notebook with
``interactive=False`` (in parallel up to ``jobs``), and writes ``reports/<label>/``:

* ``index.html`` — the period, the headline KPIs with the change against the previous
  period, links to every section, data-quality notes, failed sections with their error;
* one HTML page per notebook, without code cells, images embedded, no network
  resources (scripts and stylesheets from the network are removed);
* the executed notebooks (``notebooks/``) and ``kpis.json`` (the ``salesnb kpi --json``
  document of the window);
* with ``pdf=True``, a PDF of every page printed by headless Chromium.

The report is written to a temporary folder and moved into place at the end: a run in
which a notebook failed never replaces an earlier good report of the same period (it is
kept beside it as ``<label>.failed``).
"""

from __future__ import annotations

import ast
import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
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
import pandas as pd

from salesnb import periods
from salesnb._common import Window, resolve_window
from salesnb.data import SalesData
from salesnb.exceptions import NotebookParameterError, ReportError, WindowError
from salesnb.notebook import PARAMETERS
from salesnb.paths import notebooks_dir

__all__ = ["ReportResult", "notebook_parameters", "resolve_period", "run_report"]

KERNEL_NAME = "salesnb-report"
RELATIVE_PERIODS = ("last-week", "last-month", "last-quarter", "this-month", "this-quarter", "last-year")


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
def resolve_period(
    data: SalesData,
    *,
    period: str | None = None,
    start: str | None = None,
    end: str | None = None,
    as_of: str | None = None,
    calendar: str | None = None,
) -> tuple[Window, str]:
    """Resolve a report period into a window and a folder label.

    ``period`` is ``last-week``, ``last-month``, ``last-quarter``, ``last-year``,
    ``this-month``, ``this-quarter``, a month (``2025-10``, Jalali ``1404-08``), a quarter
    (``2025-Q3``) or a year; or give ``start`` and ``end``. Relative periods are counted
    from ``as_of`` when given, else from the last event in the data (so a report on a
    static dataset is reproducible; on live CRM data the last event is "now"). With
    neither: the latest complete month, in the dataset's calendar.
    """
    cal = calendar or data.settings.calendar
    tz = data.settings.timezone
    if (start or end) and period:
        raise WindowError("give either --period or --start/--end, not both",
                          fix="drop --period, or drop --start and --end")
    if start or end:
        if not (start and end):
            raise WindowError("--start and --end go together", fix="give both --start and --end")
        window = resolve_window(data, start, end, as_of, cal)
        label = f"{periods.format_date(window.start, calendar=cal)}_{periods.format_date(window.end, calendar=cal)}"
        return window, label
    ref = periods.parse_date(as_of, calendar=cal, tz=tz) if as_of else data.span[1]
    spec = period or "last-month"
    if spec in RELATIVE_PERIODS:
        kind = {"week": "week", "month": "month", "quarter": "quarter", "year": "year"}[spec.split("-")[1]]
        current = periods.period_table(ref, ref + pd.Timedelta(seconds=1), period=kind, calendar=cal,
                                       week_start=data.settings.week_start if cal == data.settings.calendar
                                       else None, tz=tz).iloc[0]
        if spec.startswith("this-"):
            lo, hi = current["period_start"], current["period_end"]
            label = str(current["period"])
            window = resolve_window(data, lo, hi, max(hi, ref) if as_of else None, cal)
            return window, label
        lo, hi = periods.previous_window(current["period_start"], current["period_end"], calendar=cal)
        label = str(periods.period_table(lo, hi, period=kind, calendar=cal, tz=tz,
                                         week_start=data.settings.week_start if cal == data.settings.calendar
                                         else None).iloc[0]["period"])
    else:
        try:
            lo, hi = periods.period_bounds(spec, calendar=cal, tz=tz,
                                           fiscal_year_start=data.settings.fiscal_year_start)
        except Exception as err:
            raise WindowError(f"--period {spec!r} is not understood ({err})",
                              fix=f"use one of {', '.join(RELATIVE_PERIODS)}, a month such as 2025-10 "
                                  "(or 1404-08 with the Jalali calendar), a quarter such as 2025-Q3, "
                                  "or --start/--end") from err
        label = spec
    window = resolve_window(data, lo, hi, as_of, cal)
    return window, label


# --------------------------------------------------------------------------- running
@dataclass
class NotebookRun:
    """The outcome of one notebook in a report run."""

    name: str
    ok: bool
    seconds: float
    html: str | None = None
    error: str | None = None
    title: str = ""


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
        # log level ERROR: no "running over TCP without encryption" warning per notebook.
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.log_level=ERROR"],
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


_NETWORK = re.compile(r"""<(script|link)\b[^>]*(src|href)\s*=\s*["']https?://[^"']*["'][^>]*>(\s*</script>)?""",
                      re.IGNORECASE)


def export_html(notebook: Path, target: Path, *, title: str, language: str) -> None:
    """Export an executed notebook to self-contained HTML without code cells."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb = nbformat.read(str(notebook), as_version=4)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    body = _NETWORK.sub("", body)
    if language == "fa":
        # Right-to-left pages; each paragraph still takes the direction of its own text,
        # so the English explanations keep their punctuation in place.
        body = re.sub(r"<html[^>]*>", '<html lang="fa" dir="rtl">', body, count=1)
        body = body.replace("<body", '<body dir="rtl"', 1).replace(
            "</head>", "<style>p, li, h1, h2, h3, h4, td, th, blockquote { unicode-bidi: plaintext; }"
                       "</style></head>", 1)
    target.write_text(body, encoding="utf-8")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(page: Path, target: Path) -> None:
    """Print an HTML page to PDF with headless Chromium (no network)."""
    binary = _chromium()
    if binary is None:
        raise ReportError("--pdf needs Chromium, which was not found\n"
                          "  Fix: install it (Debian: apt-get install chromium) or leave out --pdf")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={target}",
            page.resolve().as_uri(),
        ], check=True, capture_output=True, timeout=120)


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
        Folder of the notebooks (default: the project's ``notebooks/``).
    progress : callable
        Receives one line per event (default: print).

    Returns
    -------
    ReportResult
        ``ok`` is False when a notebook failed (the index marks it).
    """
    from salesnb.io import load
    from salesnb.summary import kpi_summary

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
    sources = sorted(nb_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise ReportError(f"no notebooks found in {nb_dir}\n  Fix: pass the notebooks folder")
    for source in sources:
        check_parameters(source, parameters)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{label}.", dir=out))
    (staging / "notebooks").mkdir()
    progress(f"report {label}: {len(sources)} notebooks, window {window.start.isoformat()} – "
             f"{window.end.isoformat()}, {jobs} at a time")
    doc = kpi_summary(scoped, start=window.start, end=window.end, as_of=window.as_of)
    (staging / "kpis.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

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
    previous = _previous_summary(scoped, window)
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


def _previous_summary(data: SalesData, window: Window) -> dict[str, Any] | None:
    from salesnb.summary import kpi_summary

    lo, hi = periods.previous_window(window.start, window.end, calendar=window.calendar)
    try:
        return kpi_summary(data, start=lo, end=hi)
    except WindowError:
        return None


# --------------------------------------------------------------------------- index page
def _headline(doc: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    return [
        ("open_now", doc["opportunities"]["open_total"], "count"),
        ("created", doc["opportunities"]["created_total"], "count"),
        ("won", doc["won"]["total"], "count"),
        ("lost", doc["lost"]["total"], "count"),
        ("mean_won_amount", doc["sales_volume"]["mean_amount"], "amount"),
        ("win_rate", doc["win_rate"]["closed"], "rate"),
        ("cycle_median", doc["sales_cycle"]["median_days"], "days"),
    ]


def render_index(data: SalesData, window: Window, label: str, doc: dict[str, Any],
                 previous: dict[str, Any] | None, runs: Sequence[NotebookRun], *, language: str) -> str:
    """Render the report's index page (self-contained HTML)."""
    from salesnb import i18n
    from salesnb.text import format_amount, format_days, format_rate

    t = lambda key: i18n.translate(key, language)  # noqa: E731
    digits = i18n.persian_digits if language == "fa" else (lambda s: s)
    cur, unit = data.settings.currency, data.settings.amount_unit
    fmt: dict[str, Callable[[Any], str]] = {"count": lambda v: f"{int(v):,}", "amount": lambda v: format_amount(v, cur, unit),
           "rate": format_rate, "days": format_days}
    prev = dict((k, v) for k, v, _ in _headline(previous)) if previous else {}
    rows = []
    for key, value, kind in _headline(doc):
        shown = "—" if value is None else fmt[kind](value)
        before = prev.get(key)
        if value is None or before is None:
            change = "—"
        elif kind == "rate":
            change = f"{100 * (value - before):+.1f} pt"
        elif kind == "amount":
            change = f"{100 * (value - before) / before:+.0f}%" if before else "—"
        else:
            change = f"{value - before:+,.0f}" if kind == "count" else f"{value - before:+.1f} d"
        rows.append(f"<tr><td>{html.escape(t(key))}</td><td class='num'>{digits(shown)}</td>"
                    f"<td class='num'>{digits(change)}</td></tr>")
    sections = []
    for run in runs:
        if run.ok:
            sections.append(f"<li><a href='{html.escape(run.html or '')}'>{html.escape(run.title or run.name)}</a>"
                            f" <span class='sub'>({html.escape(run.name)})</span></li>")
        else:
            sections.append(f"<li class='failed'><b>{html.escape(run.name)} — {html.escape(t('failed'))}</b>"
                            f"<pre>{html.escape(run.error or '')}</pre></li>")
    notes = [html.escape(n) for n in _quality_notes(data, window, doc)]
    direction = "rtl" if language == "fa" else "ltr"
    cal = window.calendar
    period_text = (f"{periods.format_date(window.start, calendar=cal)} – "
                   f"{periods.format_date(window.end, calendar=cal)} ({cal}, {t('end_exclusive')})")
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="{language}" dir="{direction}"><head><meta charset="utf-8">
<title>{html.escape(t('report_title'))} {html.escape(label)}</title>
<style>
body {{ font-family: "DejaVu Sans", Vazirmatn, Tahoma, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
h1 {{ font-size: 1.6em; margin-bottom: .2em; }} .sub {{ color: #556; margin-top: 0; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ padding: .35em .9em; border-bottom: 1px solid #dde; }}
th {{ text-align: start; background: #f2f4f8; }} td.num {{ text-align: end; font-variant-numeric: tabular-nums; }}
li.failed {{ color: #a00; }} pre {{ white-space: pre-wrap; background: #fff4f4; padding: .5em; }}
.notes li {{ color: #444; }}
</style></head>
<body>
<h1>{html.escape(t('report_title'))} — {html.escape(label)}</h1>
<p class="sub">{html.escape(digits(period_text))}; {html.escape(t('as_of'))} {html.escape(window.as_of.isoformat())}.
{html.escape(t('source'))}: {html.escape(data.source)}</p>
<h2>{html.escape(t('headline'))}</h2>
<table><tr><th>{html.escape(t('kpi'))}</th><th>{html.escape(t('value'))}</th><th>{html.escape(t('vs_previous'))}</th></tr>
{''.join(rows)}</table>
<h2>{html.escape(t('sections'))}</h2><ul>{''.join(sections)}</ul>
<h2>{html.escape(t('data_quality'))}</h2><ul class="notes">{''.join(f'<li>{n}</li>' for n in notes)}</ul>
<p class="sub"><a href="kpis.json">kpis.json</a> · {html.escape(t('generated'))} {generated}</p>
</body></html>
"""


def _quality_notes(data: SalesData, window: Window, doc: dict[str, Any]) -> list[str]:
    from salesnb.cycle import cycle_survival
    from salesnb.funnel import stuck_opportunities

    notes = list(data.notes)
    s = data.summary()
    notes.append(f"{s['opportunities']:,} opportunities and {s['history_rows']:,} stage-history rows loaded; "
                 f"{s['opportunities'] - s['with_history']:,} opportunities have no stage history")
    v = doc["sales_volume"]
    if v["won_without_amount"]:
        notes.append(f"{v['won_without_amount']} won deal(s) without an amount are left out of the sales volume")
    stuck = stuck_opportunities(data, as_of=window.as_of)
    ex = stuck.attrs.get("excluded", {})
    if ex.get("no_history") or ex.get("stage_without_threshold"):
        notes.append(f"stuck-deal check: {ex.get('no_history', 0)} open deal(s) without stage history and "
                     f"{ex.get('stage_without_threshold', 0)} in a stage with too little history were not judged")
    km = cycle_survival(data, start=window.start, end=window.end, as_of=window.as_of)
    lost = km.attrs.get("excluded", {}).get("lost_before_end", 0)
    if lost:
        notes.append(f"Kaplan–Meier cycle: {lost} deal(s) lost before winning are left out (they never become customers)")
    if data.settings.stages_inferred:
        notes.append("the funnel stage order was inferred from the data; set 'stages' in funnel.yml")
    return notes
