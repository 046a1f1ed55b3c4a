"""The dashboard app: the overview a sales manager opens in a browser (Voilà, code hidden).

``salesnb app DATA`` writes a one-cell notebook that builds a :class:`Dashboard` and
serves it with Voilà on 127.0.0.1 (:func:`serve`). The page has one labelled filter bar
(:class:`~salesnb.presentation.widgets.FilterBar`) and these sections, each redrawn only
when a filter it reads changes:

* the headline KPIs as tiles, with their change against the previous window and a
  sparkline per period;
* won and lost per period (partial periods hatched and marked ``*``);
* the funnel of the deals created in the window;
* the pipeline movement, when the installed salesnb has ``pipeline_movement``;
* the open deals that need action (the risk model, ranked by expected value at risk).

The charts are HTML and SVG drawn by the browser (:mod:`salesnb.presentation.charts`):
a redraw costs the KPI computations and a few milliseconds of text, not a matplotlib
rendering. The risk model is estimated once per moment on the whole dataset (each deal
compared with all comparable deals) and the list is then restricted to the filters.

Offline: the app is served with the ``salesnb`` Voilà template (package data under
``presentation/voila``), Voilà's lab template without the two stylesheets it would fetch
from a CDN.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from salesnb.data.dataset import SalesData
from salesnb.presentation import charts, i18n, views
from salesnb.presentation.notebook import NotebookContext, prepare
from salesnb.presentation.widgets import FilterBar

__all__ = ["APP_MEMO", "APP_SECTIONS", "Dashboard", "app_notebook", "movement_function", "public", "serve", "voila_command"]

#: The app's sections and the filters each reads.
APP_SECTIONS: dict[str, frozenset[str]] = {
    "tiles": frozenset({"people", "dates", "period"}),
    "trend": frozenset({"people", "dates", "period"}),
    "funnel": frozenset({"people", "dates"}),
    "movement": frozenset({"people", "dates"}),
    "risk": frozenset({"people", "as_of"}),
}

#: Entries of the app's memo of KPI tables (a few per selection seen) before it is emptied.
APP_MEMO = 256

#: Deals shown in the app's list of open deals that need action.
APP_RISK_ROWS = 15

#: Where the ``salesnb`` Voilà template lives (a Jupyter data directory).
TEMPLATE_ROOT = Path(__file__).resolve().parent / "voila"


def movement_function() -> Any:
    """Return ``salesnb.pipeline_movement`` when the installed salesnb has it, else None."""
    return public("pipeline_movement")


def public(name: str) -> Any:
    """Return a public name of ``salesnb`` if it exists (looked up at run time: the package's
    ``__init__`` is above every layer, so it is not imported as a module dependency)."""
    import importlib

    return getattr(importlib.import_module("salesnb"), name, None)


def _head(title: str, caption: str, language: str) -> str:
    return (f'<div class="salesnb-section" dir="{charts.direction(language)}" lang="{language}">'
            f"<style>{charts.CSS}</style><h3>{html.escape(title)}</h3>"
            f'<p class="salesnb-caption">{html.escape(caption)}</p>')


class Dashboard:
    """The app's page for one dataset: a filter bar and the sections of :data:`APP_SECTIONS`.

    Parameters
    ----------
    data : SalesData
        The dataset.
    language : {"en", "fa"}, default "en"
    **parameters
        Notebook parameters for the starting filters (``start``, ``end``, ``period``,
        ``calendar``, ``owners``, ``teams``), as :func:`salesnb.notebook.prepare` reads them.

    Examples
    --------
    >>> import salesnb as sn
    >>> board = Dashboard(sn.load(sn.sample_path()), start="1404-01-01", end="1404-07-01")
    >>> [p.name for p in board.bar.panels]
    ['tiles', 'trend', 'funnel', 'movement', 'risk']
    """

    def __init__(self, data: SalesData, *, language: str = "en", **parameters: Any):
        self.ctx: NotebookContext = prepare(data=data, language=language, interactive=True, **parameters)
        self.language = self.ctx.language
        self._memo: dict[Any, Any] = {}
        self._risk: dict[pd.Timestamp, pd.DataFrame] = {}
        self.bar = FilterBar(self.ctx, frozenset().union(*APP_SECTIONS.values()))
        renders = {"tiles": self._tiles, "trend": self._trend, "funnel": self._funnel,
                   "movement": self._movement, "risk": self._risk_list}
        for name, uses in APP_SECTIONS.items():
            if name == "movement" and movement_function() is None:
                continue
            self.bar.add(name, renders[name], uses)

    # ------------------------------------------------------------------ sections
    def _shared(self, ctx: NotebookContext) -> dict[Any, Any]:
        """KPI tables shared by the sections (the tiles and the trend), kept across updates.

        Keys name the selection and window they were computed for
        (:func:`salesnb.presentation.views.headline_tiles`), so going back to a selection
        seen before costs nothing; the memo is emptied past :data:`APP_MEMO` entries.
        """
        if len(self._memo) > APP_MEMO:
            self._memo.clear()
        return self._memo

    def _t(self, key: str, **values: Any) -> str:
        return i18n.translate(key, self.language, **values)

    def _tiles(self, ctx: NotebookContext) -> str:
        memo = self._shared(ctx)
        return (_head(self._t("headline"), ctx.describe_filters(APP_SECTIONS["tiles"]), ctx.language)
                + views.headline_tiles(ctx, memo) + "</div>")

    def _trend(self, ctx: NotebookContext) -> str:
        memo = self._shared(ctx)
        table = views._series(ctx, memo)["won_lost"]
        flags = views.partial_periods(table, ctx.window)
        labels = [i18n.translate_value(p, ctx.language) for p in table["period"].astype(str)]
        notes = views.mark_partial(table, ctx.window, ctx.language)[1]
        chart = charts.won_lost_bars(labels, table["won"].tolist(), table["lost"].tolist(), partial=flags,
                                     language=ctx.language)
        note = "".join(f'<p class="salesnb-note">{html.escape(n)}</p>' for n in notes)
        return (_head(self._t("trend_title"), ctx.describe_filters(APP_SECTIONS["trend"]), ctx.language)
                + chart + note + "</div>")

    def _funnel(self, ctx: NotebookContext) -> str:
        from salesnb.metrics.flow import funnel

        memo = self._shared(ctx)
        key = ("funnel", *views._selection(ctx))
        if key not in memo:
            memo[key] = funnel(ctx.data, **ctx.kpi_args())
        fun = memo[key]
        chart = charts.funnel_panels(fun, language=ctx.language)
        return (_head(self._t("funnel_title"), ctx.describe_filters(APP_SECTIONS["funnel"]), ctx.language)
                + chart + "</div>")

    def _movement(self, ctx: NotebookContext) -> str:
        func = movement_function()
        table = func(ctx.data, start=ctx.window.start, end=ctx.window.end, by=None, calendar=ctx.calendar)
        return (_head(self._t("movement_title"), ctx.describe_filters(APP_SECTIONS["movement"]), ctx.language)
                + movement_chart(table, ctx.language) + "</div>")

    def _risk_list(self, ctx: NotebookContext) -> str:
        from salesnb.metrics.deal_risk import risk

        as_of = ctx.window.as_of
        if as_of not in self._risk:
            if len(self._risk) >= 4:
                self._risk.pop(next(iter(self._risk)))
            self._risk[as_of] = risk(ctx.full, as_of=as_of)
        ranked = self._risk[as_of]
        if ctx.data is not ctx.full:
            ranked = ranked[ranked["opportunity_id"].isin(set(ctx.data.values("opportunity_id")))]
        shown = views.risk_table(ranked, ctx, APP_RISK_ROWS, views.APP_RISK_COLUMNS)
        table = charts.html_table(shown, language=ctx.language, wrap=(self._t("reasons"),))
        rule = f'<p class="salesnb-note">{html.escape(shown.attrs.get("rule", ""))}</p>'
        return (_head(self._t("risk_list_title"), ctx.describe_filters(APP_SECTIONS["risk"]), ctx.language)
                + rule + f'<div class="salesnb-scroll">{table}</div></div>')

    # ------------------------------------------------------------------ page
    def widget(self) -> Any:
        """The whole page as one widget: title, filter bar, sections."""
        import ipywidgets as w

        panels = {p.name: p.widget for p in self.bar.panels}
        source = html.escape(str(self.ctx.full.source))
        title = w.HTML(f'<div class="salesnb-app salesnb-app-title" dir="{charts.direction(self.language)}" '
                       f'lang="{self.language}"><h2>{html.escape(self._t("dashboard_title"))}</h2>'
                       f'<p>{html.escape(self._t("source"))}: {source}</p></div>')
        grid = w.GridBox([panels["trend"], panels["funnel"]])
        grid.add_class("salesnb-app-grid")
        rows = [title, self.bar.box, panels["tiles"], grid]
        rows += [panels[name] for name in ("movement", "risk") if name in panels]
        page = w.VBox(rows)
        page.add_class("salesnb-app")
        page.add_class(f"salesnb-{charts.direction(self.language)}")
        return page

    def display(self) -> Dashboard:
        """Display the page (in Voilà or a notebook); returns the dashboard."""
        from IPython.display import display

        display(self.widget())
        return self


def movement_chart(table: pd.DataFrame, language: str) -> str:
    """The pipeline walk of a ``pipeline_movement`` table (team total), by count, as a waterfall."""
    t = lambda key: i18n.translate(key, language)  # noqa: E731
    # Counts add across rows (one row per currency when amounts are split by currency).
    row = table[[c for c in table.columns if str(c).endswith("_count")]].sum()
    steps = [(t("open_start"), row["open_start_count"], "total"), (t("created"), row["created_count"], "up")]
    moved = float(row.get("reassigned_in_count", 0) or 0) - float(row.get("reassigned_out_count", 0) or 0)
    if moved:
        steps.append((t("reassigned"), abs(moved), "up" if moved > 0 else "down"))
    steps += [(t("won"), row["won_count"], "down"), (t("lost"), row["lost_count"], "down"),
              (t("open_end"), row["open_end_count"], "total")]
    return charts.waterfall(steps, language=language)


def app_notebook(data_path: str, *, mapping: str = "", language: str = "en",
                 parameters: dict[str, Any] | None = None) -> Any:
    """Return the one-cell notebook the app serves (its code is hidden by Voilà)."""
    import nbformat

    args = {"language": language, **(parameters or {})}
    code = (
        "import salesnb as sn\n"
        "from salesnb.presentation.app import Dashboard\n"
        f"data = sn.load({data_path!r}{f', mapping={mapping!r}' if mapping else ''})\n"
        f"board = Dashboard(data, **{args!r}).display()\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["salesnb"] = {"language": language}  # the page's lang and dir (Voilà template)
    return nb


def voila_command(notebook: Path, *, port: int = 8866, ip: str = "127.0.0.1") -> list[str]:
    """The Voilà command line that serves ``notebook`` with the offline ``salesnb`` template."""
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
            f"--Voila.ip={ip}", "--template=salesnb", "--theme=light", "--show_tracebacks=False",
            f"--Voila.root_dir={notebook.parent}"]


def voila_env() -> dict[str, str]:
    """The environment for Voilà: the ``salesnb`` template and this interpreter's kernel first."""
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATE_ROOT.parent), env.get("JUPYTER_PATH", "")) if p)
    return env


def serve(data_path: str, *, mapping: str = "", port: int = 8866, ip: str = "127.0.0.1",
          language: str = "en", parameters: dict[str, Any] | None = None,
          extra_args: Sequence[str] = ()) -> int:
    """Serve the dashboard for a dataset with Voilà until interrupted; returns Voilà's exit code.

    Parameters
    ----------
    data_path : str
        Dataset folder, workbook or database URL (checked by loading it first, so a bad
        dataset fails here with its message, not in the browser).
    mapping : str
        Column mapping or preset for CRM exports.
    port : int, default 8866
    ip : str, default "127.0.0.1"
        The address to listen on; loopback by default. See the README for a team server.
    language : {"en", "fa"}
    parameters : dict, optional
        Starting filters (``start``, ``end``, ``period``, ``calendar``, ``owners``, ``teams``).
    """
    import nbformat

    from salesnb.data.loading import load

    kwargs: dict[str, Any] = {"mapping": mapping} if mapping else {}
    data = load(data_path, **kwargs)  # fail early, with the data's own message
    prepare(data=data, language=language, interactive=False, **(parameters or {}))
    folder = Path(tempfile.mkdtemp(prefix="salesnb-app-"))
    notebook = folder / "salesnb_dashboard.ipynb"
    source = str(Path(data_path).resolve()) if Path(data_path).exists() else str(data_path)
    nbformat.write(app_notebook(source, mapping=mapping, language=language, parameters=parameters), notebook)
    print(f"salesnb app: serving {source} on http://{ip}:{port}/ (Ctrl-C to stop)", flush=True)
    import shutil
    import signal

    child = subprocess.Popen([*voila_command(notebook, port=port, ip=ip), *extra_args], env=voila_env())

    def stop(signum: int, _frame: Any) -> None:  # stopping salesnb stops Voilà (no orphan server)
        child.terminate()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        child.wait()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.kill()
            child.wait()
        shutil.rmtree(folder, ignore_errors=True)

