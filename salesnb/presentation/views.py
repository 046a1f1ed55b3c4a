"""Notebook sections: each view computes its KPI tables, draws its plots and shows them.

A view takes a :class:`~salesnb.presentation.notebook.NotebookContext` and returns a
:class:`Section` (its tables and figures, for tests and reuse); :func:`show` displays a
section in a notebook. Views only glue KPI functions (:mod:`salesnb.metrics`) to plot
functions (:mod:`salesnb.presentation.plotting`); they compute nothing themselves. The
widgets (:mod:`salesnb.presentation.widgets`) re-run a view when a control changes.
:func:`quality_notes` writes the data-quality notes of a window, in either language,
for the notebooks and the report's index page alike.

A section is shown as **one** HTML block (:func:`section_html`): title, the filters it
reads, notes, figures (PNG with their size written in the page, so the space is kept
before the image is decoded) and tables (right to left in Persian). One block means one
screen update when the widgets redraw it, and nothing below it moves while it loads.

Rules of presentation written once here (and in ``docs/metrics.md``):

* **Partial periods** (:func:`partial_periods`): a period the window covers only in part
  (its start before the window's start or its end after the window's end) is marked
  ``*`` in every per-period table and chart, with a note.
* **Long lists** (:func:`top_rows`): the open-deal risk list shows the
  :data:`TOP_ROWS` deals with the highest expected value at risk (amount × chance of not
  winning), high and medium risk first; the stuck list its :data:`TOP_ROWS` most
  overdue deals. In a report the full list is written beside the page as CSV.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from salesnb.data.dataset import SalesData
from salesnb.metrics.cycle import cycle_comparison, cycle_durations, cycle_survival, sales_cycle
from salesnb.metrics.deal_risk import risk
from salesnb.metrics.flow import funnel, stage_transitions, time_in_stage
from salesnb.metrics.opportunities import new_opportunities, open_opportunities, open_over_time
from salesnb.metrics.outcomes import lost_reasons, won_lost
from salesnb.metrics.pipeline_health import sales_velocity
from salesnb.metrics.stages import stage_visits
from salesnb.metrics.stalled import slowest_movers, stuck_opportunities
from salesnb.metrics.volume import deal_size_bands, deal_size_flags, sales_volume
from salesnb.metrics.window import Window
from salesnb.metrics.winrate import win_rate
from salesnb.presentation import charts, i18n, plotting
from salesnb.presentation.notebook import NotebookContext
from salesnb.presentation.text import (
    GOOD_WHEN_UP,
    format_amount,
    format_change,
    format_kpi,
    format_rate,
    headline_kpis,
)

__all__ = [
    "ACCURACY_LEAD_DAYS",
    "ACCURACY_PERIODS",
    "CSV_LINK",
    "TOP_ROWS",
    "VIEWS",
    "Outlook",
    "Section",
    "accuracy_view",
    "attainment_view",
    "change_text",
    "cycle_view",
    "forecast_view",
    "funnel_view",
    "headline_doc",
    "headline_tiles",
    "headline_view",
    "kpi_text",
    "mark_partial",
    "movement_view",
    "opportunities_view",
    "outlook",
    "overdue_view",
    "partial_periods",
    "present",
    "quality_notes",
    "risk_view",
    "section_html",
    "section_objects",
    "show",
    "stage_movement_view",
    "target_summary",
    "top_rows",
    "volume_view",
    "win_rate_view",
    "won_lost_view",
]


#: Rows shown of the long lists (risk, stuck deals); the full lists go to CSV in reports.
TOP_ROWS = 50
#: Placeholder of the link to a section's full list; the report export writes the CSV
#: beside the page and puts its file name here.
CSV_LINK = "salesnb-csv:"


@dataclass
class Section:
    """The output of a view: a title, notes, tables and figures, in display order.

    ``language`` and ``caption`` (the filters the section reads, in words) are used by
    :func:`section_html`; ``wrap`` names the table columns that wrap inside the page
    width; ``downloads`` holds full lists (name -> table) that a report writes as CSV
    beside the page.
    """

    title: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    html: str | None = None
    language: str = "en"
    caption: str = ""
    wrap: tuple[str, ...] = ()
    downloads: dict[str, pd.DataFrame] = field(default_factory=dict)


View = Callable[[NotebookContext], Section]


def _fig(n: int = 1, width: float = 10, height: float = 4.2) -> tuple[Figure, Any]:
    fig, axes = plt.subplots(1, n, figsize=(width, height), layout="constrained")
    return fig, axes


def _t(ctx: NotebookContext, key: str) -> str:
    return i18n.translate(key, ctx.language)


_DATE_COLUMNS = ("period_start", "period_end", "snapshot_at", "start", "end", "created_at",
                 "entered_stage_at", "started_at", "ended_at", "closed_at", "expected_close_low",
                 "expected_close_high", "expected_close_at", "first_expected_close_at")
_RATE_SUFFIXES = ("rate", "share", "conversion", "_low", "_high", "conversion_to_next")


_SETTINGS_CURRENCY = object()


def _cell_formatter(name: str, values: pd.Series, ctx: NotebookContext,
                    currency: Any = _SETTINGS_CURRENCY) -> Callable[[Any], str] | None:
    """The formatter of one KPI column for people, or None to show the values as they are.

    ``currency``: the code amounts are shown with (default: the dataset's currency).
    """
    from salesnb.periods import format_date

    lang = ctx.language
    cur, unit = ctx.data.settings.currency, ctx.data.settings.amount_unit
    if currency is not _SETTINGS_CURRENCY:
        cur = currency
    digits = i18n.persian_digits if lang == "fa" else str

    def amount(v: Any) -> str:
        text = format_amount(v, cur, unit)
        if lang != "fa" or text == "—":
            return text
        number, _, label = text.partition(" ")
        return f"{digits(number)} {i18n.unit_label(label, lang)}".strip()

    if name in _DATE_COLUMNS:
        return lambda v: digits(format_date(v, calendar=ctx.calendar)) if pd.notna(v) else "—"
    if name == "period":
        return lambda v: digits(v)
    if pd.api.types.is_bool_dtype(values):
        return lambda v: "✔" if v else ""
    if not pd.api.types.is_numeric_dtype(values):
        return lambda v: i18n.translate_value(v, lang) if isinstance(v, str) else v
    if pd.api.types.is_integer_dtype(values):  # counts (won_with_amount is a count, not an amount)
        return lambda v: digits(f"{int(v):,}") if pd.notna(v) else "—"
    if name.endswith(_RATE_SUFFIXES) or name.startswith("p_win"):
        return lambda v: digits(format_rate(v))
    if "days" in name:
        day = i18n.translate("days_unit", lang) if "days_unit" in i18n._CATALOGUE else "d"
        return lambda v: "—" if pd.isna(v) else f"{digits(f'{v:,.1f}')} {day}"
    if any(k in name for k in ("amount", "value", "reference_mean")):
        return amount
    if name.endswith("ratio"):
        return lambda v: f"{digits(f'{v:.2f}')}×" if pd.notna(v) else "—"
    return lambda v: digits(f"{v:,.2f}") if pd.notna(v) else "—"


def present(table: pd.DataFrame, ctx: NotebookContext) -> pd.DataFrame:
    """Format a KPI table for people: readable amounts, percentages, days, dates in the
    report's calendar, translated headers and values (Persian digits for ``fa``)."""
    out = table.copy()
    # Amounts split by currency (no rates): each row's amounts are in its own currency.
    codes = (out["currency"].astype("str").tolist()
             if "currency" in out.columns and not ctx.data.converts else None)
    for col in out.columns:
        fmt = _cell_formatter(str(col), out[col], ctx)
        if fmt is None:
            continue
        if codes is None:
            out[col] = [fmt(v) for v in out[col]]
            continue
        per: dict[str, Callable[[Any], str]] = {}
        for code in set(codes):
            own = code if code and not code.startswith("(") else None
            per[code] = _cell_formatter(str(col), out[col], ctx, currency=own) or fmt
        out[col] = [per[c](v) for v, c in zip(out[col], codes, strict=True)]
    return i18n.table_headers(out, ctx.language)


def _figure_tag(fig: Figure, dpi: int = 100) -> str:
    """The figure as an ``<img>`` whose size is in the page (no jump while it decodes)."""
    import base64

    width, height = (round(v * dpi) for v in fig.get_size_inches())
    data = base64.b64encode(figure_png(fig, dpi)).decode("ascii")
    return (f'<img src="data:image/png;base64,{data}" width="{width}" height="{height}" '
            f'style="max-width:100%;height:auto;aspect-ratio:{width}/{height}" alt="">')


def section_html(section: Section, *, version: int | None = None) -> str:
    """Render a section as one HTML block: title, filters, notes, HTML, figures and tables.

    In Persian the block is ``dir="rtl" lang="fa"`` (tables read right to left, headings
    keep their numbering in place). The figures are closed once rendered.

    Parameters
    ----------
    section : Section
    version : int, optional
        Written as ``data-version`` (the widgets count their redraws; browser tests wait
        for it).

    Returns
    -------
    str
    """
    import html as _html

    lang = section.language
    esc = _html.escape
    parts = [f"<h3>{esc(section.title)}</h3>"]
    if section.caption:
        parts.append(f'<p class="salesnb-caption">{esc(section.caption)}</p>')
    parts.extend(f'<p class="salesnb-note">{esc(note)}</p>' for note in section.notes)
    if section.html:
        parts.append(section.html)
    for fig in section.figures:
        parts.append(f'<div class="salesnb-plot">{_figure_tag(fig)}</div>')
        plt.close(fig)
    for name, table in section.tables.items():
        if name.startswith("_"):
            continue
        parts.append(f"<h4>{esc(name)}</h4>")
        parts.append(f'<div class="salesnb-scroll">{charts.html_table(table, language=lang, wrap=section.wrap)}</div>')
        csv = table.attrs.get("csv")
        if csv:
            parts.append(f'<p class="salesnb-note">{esc(table.attrs.get("rule", ""))} '
                         f'<a href="{CSV_LINK}{esc(csv)}">'
                         f'{esc(i18n.translate("full_list_csv", lang, n=_count(table.attrs.get("total", 0), lang)))}'
                         "</a></p>")
    ver = "" if version is None else f' data-version="{version}"'
    return (f'<div class="salesnb-section" dir="{charts.direction(lang)}" lang="{lang}"{ver}>'
            f"<style>{charts.CSS}</style>{''.join(parts)}</div>")


def _count(n: Any, language: str) -> str:
    text = f"{int(n):,}"
    return i18n.persian_digits(text) if language == "fa" else text


def section_objects(section: Section) -> list[Any]:
    """The IPython display objects of a section: its HTML block, then its full lists.

    A full list (``section.downloads``) is a ``text/csv`` output that the report export
    writes beside the page (and leaves out of the page).
    """
    from IPython.display import HTML

    objects: list[Any] = [HTML(section_html(section))]
    for name, table in section.downloads.items():
        objects.append(_CsvOutput(name, table.to_csv(index=False)))
    return objects


class _CsvOutput:
    """A full list as a ``text/csv`` display output, named for the report export."""

    def __init__(self, name: str, text: str):
        self.name, self.text = name, text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict, dict]:
        return {"text/csv": self.text}, {"salesnb": {"csv": self.name}}


def show(section: Section) -> Section:
    """Display a section in the notebook (one HTML block, and its full lists for reports)."""
    from IPython.display import display

    for obj in section_objects(section):
        display(obj)
    return section


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes (whatever the matplotlib backend, so reports embed images)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# --------------------------------------------------------------------------- rules
def partial_periods(table: pd.DataFrame, window: Window) -> list[bool]:
    """Return, per row of a per-period table, whether the window covers its period only in part.

    A period is partial when it starts before the window's start or ends after the
    window's end (``docs/metrics.md``).

    Examples
    --------
    >>> import salesnb as sn
    >>> from salesnb.metrics.window import resolve_window
    >>> data = sn.load(sn.sample_path())
    >>> w = resolve_window(data, "2024-10-22", "2025-01-01", calendar="gregorian")
    >>> partial_periods(sn.won_lost(data, start=w.start, end=w.end, calendar="gregorian", by=None), w)
    [True, False, False]
    """
    if "period_start" not in table.columns or not len(table):
        return [False] * len(table)
    starts, ends = table["period_start"], table["period_end"]
    return [bool(a < window.start or b > window.end) for a, b in zip(starts, ends, strict=True)]


def mark_partial(table: pd.DataFrame, window: Window, language: str) -> tuple[pd.DataFrame, list[str]]:
    """Mark the partial periods of a per-period table: a ``partial`` column, ``*`` after
    their label, and a note.

    Returns a copy with a boolean ``partial`` column after ``period_end`` (always there,
    so every per-period table has the same columns; the plot functions hatch the
    partial periods' bars from it) and the partial periods' labels ending with ``*``,
    and the note (none when every period is whole). A table without periods is
    returned as it is.

    Examples
    --------
    >>> import salesnb as sn
    >>> from salesnb.metrics.window import resolve_window
    >>> data = sn.load(sn.sample_path())
    >>> w = resolve_window(data, "2024-10-22", "2025-01-01", calendar="gregorian")
    >>> out, notes = mark_partial(sn.won_lost(data, start=w.start, end=w.end, by=None,
    ...                                       calendar="gregorian"), w, "en")
    >>> out[["period", "partial"]].values.tolist()
    [['2024-10*', True], ['2024-11', False], ['2024-12', False]]
    >>> notes[0][:16]
    '* Partial period'
    """
    if "period_start" not in table.columns:
        return table, []
    flags = partial_periods(table, window)
    out = table.drop(columns=["partial"], errors="ignore")
    out.insert(list(out.columns).index("period_end") + 1 if "period_end" in out.columns else len(out.columns),
               "partial", pd.Series(flags, index=out.index, dtype="bool"))
    if not any(flags):
        return out, []
    out["period"] = [f"{p}*" if f else p for p, f in zip(out["period"].astype(str), flags, strict=True)]
    names = sorted({p for p, f in zip(table["period"].astype(str), flags, strict=True) if f})
    listed = ", ".join(names)
    if language == "fa":
        listed = i18n.persian_digits(listed)
    return out, [i18n.translate("note_partial", language, periods=listed)]


def top_rows(table: pd.DataFrame, kind: str, n: int = TOP_ROWS) -> pd.DataFrame:
    """Return the rows of a long list that need action first, with the rule in ``attrs``.

    ``kind="risk"`` (a :func:`~salesnb.risk` table): high and medium risk before low, then
    the highest expected value at risk (``amount × (1 − p_win_eventually)``; deals without
    an amount last). ``kind="stuck"`` (a :func:`~salesnb.stuck_opportunities` table): as
    sorted, most overdue first. ``attrs["total"]`` is the length of the full list.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"risk_level": ["low", "high", "high"], "amount": [9.0, 1.0, 4.0],
    ...                   "p_win_eventually": [0.1, 0.5, 0.5]})
    >>> top_rows(t, "risk", 2)["amount"].tolist()
    [4.0, 1.0]
    """
    if kind == "risk" and len(table):
        rank = table["risk_level"].astype(str).map({"high": 0, "medium": 0, "low": 1}).fillna(1)
        at_risk = table["amount"] * (1 - table["p_win_eventually"])
        table = table.assign(value_at_risk=at_risk, _rank=rank).sort_values(
            ["_rank", "value_at_risk"], ascending=[True, False], na_position="last", kind="stable"
        ).drop(columns="_rank")
    out = table.head(n).copy()
    out.attrs["total"] = len(table)
    return out


def _risk_reasons(table: pd.DataFrame, language: str) -> list[str]:
    """The reasons column in ``language``: English as the risk model writes it, else rebuilt
    from the structured flags."""
    if language == "en" or not len(table):
        return table["reasons"].astype(str).tolist() if "reasons" in table.columns else []
    out = []
    for row in table.itertuples(index=False):
        parts = []
        flag = getattr(row, "size_flag", "")
        if flag in ("above", "below"):
            parts.append(i18n.translate(f"reason_{flag}", language))
        older = str(getattr(row, "older_than", "") or "")
        if older.startswith("p"):
            parts.append(i18n.translate("reason_older", language, pct=i18n.persian_digits(older[1:] + "%")))
        if bool(getattr(row, "stuck", False)):
            days = i18n.persian_digits(f"{float(getattr(row, 'days_in_stage', 0)):,.0f}")
            parts.append(i18n.translate("reason_stuck", language, days=days,
                                        stage=i18n.translate_value(getattr(row, "stage", ""), language)))
        if bool(getattr(row, "thin_pipeline", False)):
            parts.append(i18n.translate("reason_thin", language))
        out.append("؛ ".join(parts))
    return out


def _empty_note(ctx: NotebookContext) -> list[str]:
    return [_t(ctx, "no_data_window")] if ctx.is_empty else []


def _note(key: str, language: str, **counts: int) -> str:
    digits = i18n.persian_digits if language == "fa" else str
    return i18n.translate(key, language, **{k: digits(f"{int(v):,}") for k, v in counts.items()})


def _stuck_note(stuck: pd.DataFrame, language: str) -> list[str]:
    ex = stuck.attrs.get("excluded", {})
    if not (ex.get("no_history") or ex.get("stage_without_threshold")):
        return []
    return [_note("note_stuck_not_judged", language, no_history=ex.get("no_history", 0),
                  no_threshold=ex.get("stage_without_threshold", 0))]


def _km_note(curve: pd.DataFrame, language: str) -> list[str]:
    lost = curve.attrs.get("excluded", {}).get("lost_before_end", 0)
    return [_note("note_km_lost", language, n=lost)] if lost else []


def quality_notes(data: SalesData, window: Window, doc: dict[str, Any], *, language: str = "en"
                  ) -> list[str]:
    """Return the data-quality notes of a window: what was loaded, left out and not judged.

    The loading notes of the dataset (``data.notes``) come first, as written; then the
    rows loaded and those without stage history, won deals without an amount, open
    deals the stuck-deal check could not judge, deals left out of the Kaplan–Meier
    cycle, and an inferred stage order — each in ``language``.

    Parameters
    ----------
    data : SalesData
        The dataset (as the report or notebook filtered it).
    window : Window
        The resolved window.
    doc : dict
        The window's :func:`~salesnb.kpi_summary` document.
    language : {"en", "fa"}, default "en"

    Returns
    -------
    list of str

    Examples
    --------
    >>> import salesnb as sn
    >>> from salesnb.metrics.window import resolve_window
    >>> data = sn.load(sn.sample_path())
    >>> w = resolve_window(data, "1404-06-01", "1404-07-01")
    >>> notes = quality_notes(data, w, sn.kpi_summary(data, start=w.start, end=w.end))
    >>> notes[0]
    '2,000 opportunities and 6,271 stage-history rows loaded; 92 opportunities have no stage history'
    """
    language = i18n.check_language(language)
    notes = list(data.notes)
    s = data.summary()
    notes.append(_note("note_loaded", language, opportunities=s["opportunities"],
                       history=s["history_rows"], without=s["opportunities"] - s["with_history"]))
    without = doc["sales_volume"]["won_without_amount"]
    if without:
        notes.append(_note("note_won_without_amount", language, n=without))
    notes.extend(_stuck_note(stuck_opportunities(data, as_of=window.as_of), language))
    notes.extend(_km_note(cycle_survival(data, start=window.start, end=window.end,
                                         as_of=window.as_of), language))
    if data.settings.stages_inferred:
        notes.append(i18n.translate("stages_inferred", language))
    return notes


# --------------------------------------------------------------------------- sections
#: The filters each section reads (the widgets show only these, and the caption names them).
USES: dict[str, frozenset[str]] = {
    "headline": frozenset({"people", "dates", "period"}),
    "opportunities": frozenset({"people", "dates", "period"}),
    "won_lost": frozenset({"people", "dates", "period"}),
    "volume": frozenset({"people", "dates"}),
    "win_rate": frozenset({"people", "dates"}),
    "funnel": frozenset({"people", "dates"}),
    "cycle": frozenset({"people", "dates"}),
    "risk": frozenset({"people", "as_of"}),
    "attainment": frozenset({"people", "dates"}),
    "forecast": frozenset({"people", "dates"}),
    "accuracy": frozenset({"people", "dates"}),
    "movement": frozenset({"people", "dates"}),
    "stage_movement": frozenset({"people", "dates"}),
    "overdue": frozenset({"people", "as_of"}),
}


#: The sections that show amounts (a note when they are split by currency).
_AMOUNT_SECTIONS = frozenset({"headline", "opportunities", "won_lost", "volume", "risk", "attainment",
                              "forecast", "accuracy", "overdue"})


def _section(ctx: NotebookContext, key: str, title: str, tables: dict[str, pd.DataFrame],
             figures: list[Figure], notes: list[str], **extra: Any) -> Section:
    if key in _AMOUNT_SECTIONS and not ctx.data.converts and len(ctx.data.currencies()) > 1:
        notes = [*notes, i18n.translate("note_currency_split", ctx.language,
                                        codes=", ".join(ctx.data.currencies()))]
    return Section(title, tables, figures, notes, language=ctx.language,
                   caption=ctx.describe_filters(USES[key]), **extra)


def headline_doc(data: SalesData, *, start: Any = None, end: Any = None, as_of: Any = None,
                 calendar: str | None = None, series: dict[str, pd.DataFrame] | None = None
                 ) -> dict[str, Any]:
    """Return the part of the :func:`~salesnb.kpi_summary` document the headline KPIs read.

    The same numbers as ``kpi_summary`` (the same KPI functions, for the whole
    selection: ``by=None``, no periods), without the per-salesperson maps, the lost
    reasons and the funnel the headline does not show: the tiles of the app and of the
    notebooks are recomputed on every filter change, so they ask only for what they show.

    ``series`` (the per-period tables of the same window, as the tiles' sparklines use
    them) saves the queries of the additive numbers: the deals created, won and lost in
    the window are the sums over its periods (partial ones included).

    Examples
    --------
    >>> import salesnb as sn
    >>> data = sn.load(sn.sample_path())
    >>> part = headline_doc(data, start="1404-01-01", end="1404-02-01")
    >>> full = sn.kpi_summary(data, start="1404-01-01", end="1404-02-01")
    >>> headline_kpis(part) == headline_kpis(full)
    True
    """
    from salesnb.metrics.window import resolve_window

    w = resolve_window(data, start, end, as_of, calendar)
    a: dict[str, Any] = {"start": w.start, "end": w.end, "as_of": w.as_of, "calendar": w.calendar}
    open_now = open_opportunities(data, as_of=w.as_of, by=None, calendar=w.calendar)
    if series is not None:
        created, outcome = series["created"], series["won_lost"]
    else:
        created = new_opportunities(data, **a, period="year", by=None)  # summed: the window's total
        outcome = won_lost(data, **a, period=None, by=None)
    volumes = sales_volume(data, **a, by=None)
    # Split by currency (several currencies, no rates): no mean across currencies, as in
    # kpi_summary (the sections show one per currency).
    volume = volumes.iloc[0] if "currency" not in volumes.columns else pd.Series({"mean_amount": None})
    rate = win_rate(data, **a, basis="closed", by=None).iloc[0]
    cycle = sales_cycle(data, **a, by=None).iloc[0]

    def num(value: Any) -> float | None:
        return None if value is None or pd.isna(value) else float(value)

    return {
        "opportunities": {"open_total": int(open_now["open_count"].sum()),
                          "created_total": int(created["created"].sum())},
        "won": {"total": int(outcome["won"].sum())},
        "lost": {"total": int(outcome["lost"].sum())},
        "sales_volume": {"mean_amount": num(volume["mean_amount"])},
        "win_rate": {"closed": num(rate["win_rate"])},
        "sales_cycle": {"median_days": num(cycle["median_days"])},
    }


def _previous_doc(ctx: NotebookContext) -> dict[str, Any] | None:
    """The headline document of the window before (None when it cannot be resolved)."""
    from salesnb.exceptions import SalesnbError
    from salesnb.periods import previous_window

    w = ctx.window
    try:
        lo, hi = previous_window(w.start, w.end, calendar=w.calendar)
        return headline_doc(ctx.data, start=lo, end=hi, calendar=w.calendar)
    except SalesnbError:
        return None


def _selection(ctx: NotebookContext) -> tuple[Any, ...]:
    """What a context's numbers depend on (a dataset's filters and window): a memo key.

    The app keeps one memo across filter changes, so a selection seen before (back to
    everybody, the calendar switched back) is not computed again.
    """
    return (ctx.owners, ctx.teams, ctx.pipelines, ctx.window)


def _series(ctx: NotebookContext, memo: dict[Any, Any]) -> dict[str, pd.DataFrame]:
    """The per-period tables behind the sparklines and the trend (shared through ``memo``)."""
    key = ("series", *_selection(ctx), ctx.period)
    if key not in memo:
        a = {**ctx.kpi_args(), "period": ctx.period}
        memo[key] = {
            "open_now": open_over_time(ctx.data, **a),
            "created": new_opportunities(ctx.data, **a, by=None),
            "won_lost": won_lost(ctx.data, **a, by=None),
            "mean_won_amount": sales_volume(ctx.data, **a, by=None),
            "win_rate": win_rate(ctx.data, **a, by=None),
            "cycle_median": sales_cycle(ctx.data, **a, by=None),
        }
    return memo[key]


_SERIES_COLUMN = {"open_now": ("open_now", "open_count"), "created": ("created", "created"),
                  "won": ("won_lost", "won"), "lost": ("won_lost", "lost"),
                  "mean_won_amount": ("mean_won_amount", "mean_amount"),
                  "win_rate": ("win_rate", "win_rate"), "cycle_median": ("cycle_median", "median_days")}


def kpi_text(value: float | None, kind: str, language: str, currency: str | None, unit: str) -> str:
    """A headline KPI for people in ``language`` (units translated, digits not yet converted)."""
    shown = format_kpi(value, kind, currency, unit)
    if shown == "—":
        return shown
    if kind == "amount" and language == "fa":
        number, _, label = shown.partition(" ")
        return f"{number} {i18n.unit_label(label, language)}"
    if kind == "days":
        return i18n.translate("change_days", language, value=shown.split(" ")[0])
    return shown


def change_text(value: float | None, before: float | None, kind: str, language: str) -> str:
    """The change of a headline KPI against the previous window, units in ``language``."""
    change = format_change(value, before, kind)
    number, _, suffix = change.partition(" ")
    if suffix == "pt":
        return i18n.translate("change_pt", language, value=number)
    if suffix == "d":
        return i18n.translate("change_days", language, value=number)
    return change


def headline_tiles(ctx: NotebookContext, memo: dict[Any, Any] | None = None, *,
                   series: NotebookContext | None = None) -> str:
    """The headline KPIs as tiles: value, change against the previous window, sparkline per period.

    The sparklines have one point per ``ctx.period`` (partial periods hollow) over the
    window of ``series`` (default: ``ctx``'s own window); the change is against the
    window of the same length just before (:func:`salesnb.periods.previous_window`).
    """
    memo = {} if memo is None else memo
    series_memo: dict[Any, Any] = memo if series is None else {}
    series_ctx = ctx if series is None else series
    lang = ctx.language
    tables = _series(series_ctx, series_memo)
    selection = _selection(ctx)
    if ("doc", *selection) not in memo:
        memo[("doc", *selection)] = headline_doc(ctx.data, **ctx.kpi_args(), series=tables if series is None else None)
    if ("previous", *selection) not in memo:
        memo[("previous", *selection)] = _previous_doc(ctx)
    doc, prev_doc = memo[("doc", *selection)], memo[("previous", *selection)]
    memo["doc"] = doc
    prev = {k: v for k, v, _ in headline_kpis(prev_doc)} if prev_doc else {}
    cur, unit = ctx.data.settings.currency, ctx.data.settings.amount_unit
    digits = i18n.persian_digits if lang == "fa" else str
    tiles = []
    for key, value, kind in headline_kpis(doc):
        shown = kpi_text(value, kind, lang, cur, unit)
        change = change_text(value, prev.get(key), kind, lang)
        if change != "—":
            change = f"{change} {i18n.translate('vs_prev_short', lang)}"
        before = prev.get(key)
        good = None
        if value is not None and before is not None and value != before and GOOD_WHEN_UP.get(key) is not None:
            good = (value > before) == GOOD_WHEN_UP[key]
        name, column = _SERIES_COLUMN[key]
        table = tables[name]
        # (sales volume split by currency has a row per currency: no one series to draw)
        split = column == "mean_amount" and "currency" in table.columns
        values = table[column].tolist() if column in table.columns and not split else []
        spark = charts.sparkline(values, partial=partial_periods(table, series_ctx.window),
                                 label=i18n.translate(key, lang))
        tiles.append(charts.Tile(key, i18n.translate(key, lang), digits(shown), digits(change), good, spark))
    return charts.kpi_tiles(tiles, language=lang)


def headline_view(ctx: NotebookContext) -> Section:
    """Overview: the five numbers of the window as tiles, with their change and a sparkline."""
    memo: dict[str, Any] = {}
    html = headline_tiles(ctx, memo)
    cur, unit = ctx.data.settings.currency, ctx.data.settings.amount_unit
    cards = [(_t(ctx, key), format_kpi(value, kind, cur, unit)) for key, value, kind in headline_kpis(memo["doc"])]
    table = pd.DataFrame(cards, columns=["kpi", "value"])
    notes = _empty_note(ctx)
    notes.extend(mark_partial(_series(ctx, memo)["won_lost"], ctx.window, ctx.language)[1])
    return _section(ctx, "headline", f"{_t(ctx, 'headline')} — {ctx.describe_window()}", {"_headline": table},
                    [], notes, html=html)


def opportunities_view(ctx: NotebookContext) -> Section:
    """Question 1: open opportunities per salesperson, over time, and new ones per period.

    The too-few flag compares each salesperson with their team, so it is computed on the
    whole teams shown (not only on the selected salespeople) and then restricted to them.
    """
    a = ctx.kpi_args()
    pipe = open_opportunities(ctx.team_data, as_of=ctx.window.as_of, calendar=ctx.calendar)
    if ctx.owners:
        pipe = pipe[pipe["owner"].isin(ctx.owners)].reset_index(drop=True)
    over = open_over_time(ctx.data, **a, period=ctx.period)
    new = new_opportunities(ctx.data, **a, period=ctx.period, by=None)
    over, notes_over = mark_partial(over, ctx.window, ctx.language)
    new, _ = mark_partial(new, ctx.window, ctx.language)
    fig, axes = _fig(2, 12, 4.6)
    plotting.plot_open_pipeline(pipe, ax=axes[0], language=ctx.language)
    plotting.plot_open_over_time(over, ax=axes[1], language=ctx.language)
    notes = _empty_note(ctx) + notes_over
    flagged = pipe.loc[pipe["too_few"], "owner"].tolist()
    if flagged:
        names = ", ".join(i18n.translate_value(n, ctx.language) for n in flagged)
        notes.append(f"{_t(ctx, 'too_few_note')}: {names}")
    return _section(ctx, "opportunities", _t(ctx, "q1_title"), {
        _t(ctx, "open_by_owner"): present(pipe, ctx),
        _t(ctx, "new_per_period"): present(new[["period", "partial", "created", "created_value"]], ctx),
    }, [fig], notes)


def won_lost_view(ctx: NotebookContext) -> Section:
    """Question 2: won and lost per period, lost reasons, reason × stage where lost."""
    a = ctx.kpi_args()
    per_period = won_lost(ctx.data, **a, period=ctx.period, by=None)
    per_period, notes_partial = mark_partial(per_period, ctx.window, ctx.language)
    per_owner = won_lost(ctx.data, **a, period=None, by="owner")
    reasons = lost_reasons(ctx.data, **a)
    by_stage = lost_reasons(ctx.data, **a, by="stage")
    fig, axes = _fig(2, 12, 4.6)
    plotting.plot_won_lost(per_period, ax=axes[0], language=ctx.language)
    plotting.plot_lost_reasons(reasons, ax=axes[1], language=ctx.language)
    fig2, ax2 = _fig(1, 9, 4.2)
    plotting.plot_lost_reason_stage(by_stage, ax=ax2, language=ctx.language,
                                    stages=list(ctx.data.settings.stages))
    return _section(ctx, "won_lost", _t(ctx, "q2_title"), {
        _t(ctx, "won_lost_by_owner"): present(per_owner, ctx),
        _t(ctx, "lost_reasons"): present(reasons, ctx),
    }, [fig, fig2], _empty_note(ctx) + notes_partial)


def volume_view(ctx: NotebookContext, band: float = 0.5) -> Section:
    """Question 3: won deal values, open deals far from the mean, and deal size vs outcome."""
    a = ctx.kpi_args()
    volume = sales_volume(ctx.data, **a, by="owner")
    total = sales_volume(ctx.data, **a, by=None)
    flags = deal_size_flags(ctx.data, **a, band=band)
    won = cycle_durations(ctx.data, **a)
    bands = deal_size_bands(ctx.data, **a)
    cur, unit = ctx.data.settings.currency, ctx.data.settings.amount_unit
    fig, axes = _fig(2, 12, 4.6)
    plotting.plot_deal_sizes(won["amount"], flags, ax=axes[0], language=ctx.language, band=band,
                             currency=cur, amount_unit=unit)
    plotting.plot_size_bands(bands, ax=axes[1], language=ctx.language)
    risky = flags[flags["flag"].isin(["above", "below"])].head(15)
    notes = _empty_note(ctx)
    without = int(total["won_without_amount"].iloc[0])
    if without:
        notes.append(_note("note_won_without_amount", ctx.language, n=without))
    return _section(ctx, "volume", _t(ctx, "q3_title"), {
        _t(ctx, "volume_by_owner"): present(volume, ctx),
        _t(ctx, "risky_open_deals"): present(risky, ctx),
        _t(ctx, "size_bands"): present(bands, ctx),
    }, [fig], notes)


def win_rate_view(ctx: NotebookContext) -> Section:
    """Question 4a: win rate per salesperson (closed and cohort bases) with intervals."""
    a = ctx.kpi_args()
    closed = win_rate(ctx.data, **a, basis="closed", by="owner")
    cohort = win_rate(ctx.data, **a, basis="created", by="owner")
    fig, axes = _fig(2, 12, 4.6)
    plotting.plot_win_rate(closed, ax=axes[0], language=ctx.language)
    plotting.plot_win_rate(cohort, ax=axes[1], language=ctx.language)
    axes[1].set_title(i18n.shape(_t(ctx, "win_rate_cohort"), ctx.language))
    return _section(ctx, "win_rate", _t(ctx, "q4a_title"), {
        _t(ctx, "win_rate_closed"): present(closed.drop(columns=["open", "open_share"]), ctx),
        _t(ctx, "win_rate_cohort"): present(cohort, ctx),
    }, [fig], _empty_note(ctx))


def funnel_view(ctx: NotebookContext) -> Section:
    """Question 4b: the funnel, transitions, time in stage, stuck deals and slowest movers."""
    a = ctx.kpi_args()
    fun = funnel(ctx.data, **a)
    moves = stage_transitions(ctx.data, **a)
    stay = time_in_stage(ctx.data, **a)
    # Visits that started in the window (the time-in-stage plot shows completed ones).
    visits = stage_visits(ctx.data, as_of=ctx.window.as_of)
    visits = visits[(visits["entered_at"] >= ctx.window.start) & (visits["entered_at"] < ctx.window.end)]
    stuck = stuck_opportunities(ctx.data, as_of=ctx.window.as_of)
    slow = slowest_movers(ctx.data, as_of=ctx.window.as_of)
    names = list(dict.fromkeys(fun["pipeline"].astype(str))) if "pipeline" in fun.columns else []
    if len(names) > 1:
        # Each pipeline has its own stages: one funnel per pipeline (two a row), never one
        # funnel mixing them; time in stage below, in the merged stage order.
        cols = 2
        rows = -(-len(names) // cols)
        fig, grid = plt.subplots(rows, cols, figsize=(12, 4.4 * rows), layout="constrained",
                                 squeeze=False)
        for i, name in enumerate(names):
            plotting.plot_funnel(fun, ax=grid[i // cols][i % cols], language=ctx.language, pipeline=name)
        for j in range(len(names), rows * cols):
            grid[j // cols][j % cols].set_visible(False)
        fig_stay, ax_stay = _fig(1, 9, 4.6)
        plotting.plot_time_in_stage(visits, ax=ax_stay, language=ctx.language,
                                    stages=list(ctx.data.settings.stages))
        figures = [fig, fig_stay]
    else:
        fig, axes = _fig(2, 12, 4.8)
        plotting.plot_funnel(fun, ax=axes[0], language=ctx.language, pipeline=names[0] if names else None)
        plotting.plot_time_in_stage(visits, ax=axes[1], language=ctx.language,
                                    stages=list(ctx.data.settings.stages))
        figures = [fig]
    notes = _empty_note(ctx)
    if ctx.data.settings.stages_inferred:
        notes.append(_t(ctx, "stages_inferred"))
    notes.extend(_stuck_note(stuck, ctx.language))
    shown = present(top_rows(stuck, "stuck"), ctx)
    rule = ""
    if len(stuck) > TOP_ROWS:
        rule = i18n.translate("stuck_rule", ctx.language, shown=_count(TOP_ROWS, ctx.language),
                              total=_count(len(stuck), ctx.language))
    shown.attrs.update({"csv": "stuck", "rule": rule, "total": len(stuck)} if ctx.csv_links else {})
    downloads = {"stuck": present(stuck, ctx)} if ctx.csv_links else {}
    return _section(ctx, "funnel", _t(ctx, "q4b_title"), {
        _t(ctx, "funnel"): present(fun, ctx),
        _t(ctx, "transitions"): present(moves, ctx),
        _t(ctx, "time_in_stage"): present(stay, ctx),
        _t(ctx, "stuck"): shown,
        _t(ctx, "slowest"): present(slow, ctx),
    }, figures, notes, downloads=downloads)


def cycle_view(ctx: NotebookContext) -> Section:
    """Question 5: the sales cycle, its censoring-aware view and the comparison with the past."""
    a = ctx.kpi_args()
    per_owner = sales_cycle(ctx.data, **a, by="owner")
    durations = cycle_durations(ctx.data, **a)
    curve = cycle_survival(ctx.data, **a)
    compare = cycle_comparison(ctx.data, **a)
    fig, axes = _fig(2, 12, 4.6)
    plotting.plot_cycle_distribution(durations, ax=axes[0], language=ctx.language)
    plotting.plot_survival(curve, ax=axes[1], language=ctx.language)
    notes = _empty_note(ctx)
    medians = curve.attrs.get("medians")
    notes.extend(_km_note(curve, ctx.language))
    tables = {
        _t(ctx, "cycle_by_owner"): present(per_owner, ctx),
        _t(ctx, "cycle_comparison"): present(compare, ctx),
    }
    if medians is not None and len(medians):
        tables[_t(ctx, "km_median")] = present(medians, ctx)
    return _section(ctx, "cycle", _t(ctx, "q5_title"), tables, [fig], notes)


RISK_COLUMNS = ("opportunity_id", "owner", "stage", "amount", "value_at_risk", "age_days", "p_win_horizon",
                "p_win_eventually", "expected_close_low", "expected_close_high", "risk_level", "reasons")


#: The columns of the app's shorter list.
APP_RISK_COLUMNS = ("opportunity_id", "owner", "stage", "amount", "value_at_risk", "p_win_horizon",
                    "risk_level", "reasons")


def risk_table(ranked: pd.DataFrame, ctx: NotebookContext, n: int = TOP_ROWS,
               columns: tuple[str, ...] = RISK_COLUMNS) -> pd.DataFrame:
    """The top rows of a risk table for people: the rule in ``attrs``, reasons in ``ctx.language``."""
    top = top_rows(ranked, "risk", n)
    top = top.assign(reasons=_risk_reasons(top, ctx.language)) if len(top) else top
    shown = present(top[[c for c in columns if c in top.columns]], ctx)
    shown.attrs.update({"total": len(ranked), "rule": i18n.translate(
        "risk_rule", ctx.language, shown=_count(min(n, len(ranked)), ctx.language),
        total=_count(len(ranked), ctx.language))})
    return shown


def risk_view(ctx: NotebookContext, horizon_days: int = 90, top: int = TOP_ROWS) -> Section:
    """Open-deal risk: the deals open at ``as_of`` that need action first, with reasons and win chances.

    The list shows the ``top`` deals by the rule of :func:`top_rows`; in a report the
    whole list is written beside the page as CSV.
    """
    ranked = risk(ctx.data, as_of=ctx.window.as_of, horizon_days=horizon_days)
    velocity = sales_velocity(ctx.data, **ctx.kpi_args(), by="owner")
    shown = risk_table(ranked, ctx, top)
    if ctx.csv_links:
        shown.attrs["csv"] = "risk"
    notes = _empty_note(ctx)
    if ctx.language == "en":
        notes.extend(str(n) for n in ranked.attrs.get("notes", []))
    levels = ranked["risk_level"].value_counts() if len(ranked) else pd.Series(dtype="int64")
    if len(ranked):
        notes.append(", ".join(f"{i18n.translate_value(str(k), ctx.language)}: {_count(v, ctx.language)}"
                               for k, v in levels.items()))
    downloads = {"risk": present(top_rows(ranked, "risk", len(ranked)), ctx)} if ctx.csv_links else {}
    return _section(ctx, "risk", _t(ctx, "risk_title"), {
        _t(ctx, "at_risk_table"): shown,
        _t(ctx, "velocity"): present(velocity, ctx),
    }, [], notes, wrap=(i18n.translate("reasons", ctx.language),), downloads=downloads)


# --------------------------------------------------------------------------- targets and forecasts
#: How long before each past period's end the accuracy section's forecasts are made (days;
#: a week's: 7), and how many past periods it scores.
ACCURACY_LEAD_DAYS = 30
ACCURACY_PERIODS = 6
_PERIOD_DAYS = {"week": 7, "month": 31, "quarter": 92, "year": 366}


@dataclass(frozen=True)
class Outlook:
    """The periods of the targets-and-forecast sections, resolved from a notebook's window.

    ``report``: the window when it is one month, quarter, year or week, else the last
    month of the window; ``moment``: the window's ``as_of``, or the last event in the data
    when that comes first (a period in progress is seen from "now"); ``current``: the
    period of the same kind holding ``moment`` (after a complete report period: the next
    one); ``past``: up to :data:`ACCURACY_PERIODS` periods of that kind that ended by then.
    """

    kind: str
    report: tuple[pd.Timestamp, pd.Timestamp, str]
    current: tuple[pd.Timestamp, pd.Timestamp, str]
    moment: pd.Timestamp
    past: tuple[tuple[pd.Timestamp, pd.Timestamp, str], ...]

    @property
    def lead_days(self) -> int:
        return 7 if self.kind == "week" else ACCURACY_LEAD_DAYS


def outlook(ctx: NotebookContext) -> Outlook:
    """Resolve the report period, the period in progress and the past periods of a context.

    Examples
    --------
    >>> from salesnb.presentation.notebook import prepare
    >>> o = outlook(prepare(start="1404-07-01", end="1404-08-01", interactive=False))
    >>> o.kind, o.report[2], o.current[2], [p[2] for p in o.past][-2:]
    ('month', '1404-07', '1404-08', ['1404-06', '1404-07'])
    """
    from salesnb import periods

    w, data = ctx.window, ctx.data
    s = data.settings
    week_start = s.week_start if w.calendar == s.calendar else None

    def rows(lo: pd.Timestamp, hi: pd.Timestamp, kind: str) -> pd.DataFrame:
        return periods.period_table(lo, hi, period=kind, calendar=w.calendar, tz=s.timezone,
                                    week_start=week_start)

    kind, report = "month", None
    for k in ("month", "quarter", "year", "week"):
        table = rows(w.start, w.end, k)
        if len(table) == 1 and table["period_start"].iloc[0] == w.start and table["period_end"].iloc[0] == w.end:
            kind, report = k, table.iloc[0]
            break
    if report is None:
        report = rows(w.end - pd.Timedelta(microseconds=1), w.end, "month").iloc[-1]
    last = data.span[1]
    moment = min(w.as_of, last)
    current = rows(moment, moment + pd.Timedelta(microseconds=1), kind).iloc[0]
    back = current["period_start"] - pd.Timedelta(days=_PERIOD_DAYS[kind] * (ACCURACY_PERIODS + 1))
    earlier = rows(back, current["period_start"], kind)
    first = data.span[0]
    earlier = earlier[(earlier["period_end"] <= min(current["period_start"], last))
                      & (earlier["period_start"] >= first)].tail(ACCURACY_PERIODS)

    def triple(row: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp, str]:
        return row["period_start"], row["period_end"], str(row["period"])

    return Outlook(kind, triple(report), triple(current), moment,
                   tuple(triple(r) for _, r in earlier.iterrows()))


def _digits(text: str, language: str) -> str:
    return i18n.persian_digits(text) if language == "fa" else text


def _date_text(ts: pd.Timestamp, ctx: NotebookContext) -> str:
    from salesnb.periods import format_date

    return _digits(format_date(ts, calendar=ctx.calendar), ctx.language)


def _measure_values(values: pd.Series, measures: pd.Series, ctx: NotebookContext) -> list[str]:
    """Amounts of ``won_amount`` rows written as amounts, the counts as whole numbers."""
    amount = _cell_formatter("amount", values.astype("float64"), ctx)
    assert amount is not None
    return [amount(v) if m == "won_amount" else ("—" if pd.isna(v) else _digits(f"{v:,.0f}", ctx.language))
            for v, m in zip(values, measures, strict=True)]


def _attainment_tables(table: pd.DataFrame, ctx: NotebookContext, col: str) -> pd.DataFrame:
    """An attainment table of ``won_amount`` rows for people (amount columns named as such)."""
    shown = table[[col, "target", "actual", "attainment", "expected_by_now", "gap", "remaining", "pipeline",
                   "coverage"]].rename(columns={
        "target": "target_amount", "actual": "actual_amount", "attainment": "attainment_share",
        "expected_by_now": "expected_by_now_amount", "gap": "gap_amount", "remaining": "remaining_amount",
        "pipeline": "pipeline_value", "coverage": "coverage_ratio"})
    return present(shown, ctx)


def _attainment_notes(table: pd.DataFrame, ctx: NotebookContext) -> list[str]:
    notes = []
    share = float(table.attrs.get("elapsed_share", 1.0))
    if 0.0 < share < 1.0:
        notes.append(i18n.translate("note_pace", ctx.language, as_of=_date_text(table.attrs["as_of"], ctx),
                                    pct=_digits(format_rate(share), ctx.language)))
    if any("in part" in n for n in table.attrs.get("notes", [])):
        notes.append(_t(ctx, "note_prorated"))
    return notes


def attainment_view(ctx: NotebookContext) -> Section:
    """Targets: the attainment of the report period per salesperson and for the company,
    with the pace of business days."""
    from salesnb.metrics.quota import attainment

    o = outlook(ctx)
    start, end, label = o.report
    title = i18n.translate("attainment_of", ctx.language, period=_digits(label, ctx.language))
    if getattr(ctx.data, "targets", None) is None:
        return _section(ctx, "attainment", title, {}, [], [_t(ctx, "no_targets")])
    as_of = min(end, o.moment)
    per = attainment(ctx.data, period=(start, end), as_of=as_of, by="owner", measure="won_amount")
    company = attainment(ctx.data, period=(start, end), as_of=as_of, by=None)
    figures = []
    notes = _empty_note(ctx)
    if per["target"].notna().any():
        fig, ax = _fig(1, 9.5, max(3.2, 0.45 * len(per) + 2.2))
        plotting.plot_attainment(per, ax=ax, language=ctx.language)
        figures.append(fig)
    else:  # targets for other periods only: no empty chart as tall as the team
        notes.append(i18n.translate("no_targets_period", ctx.language, period=_digits(label, ctx.language)))
    whole = company[["measure", "target", "actual", "attainment", "expected_by_now", "gap"]].copy()
    for c in ("target", "actual", "expected_by_now", "gap"):
        whole[c] = _measure_values(company[c], company["measure"], ctx)
    whole["measure"] = [i18n.translate(f"m_{m}", ctx.language) for m in company["measure"]]
    whole = whole.rename(columns={"attainment": "attainment_share"})
    notes += _attainment_notes(per, ctx)
    return _section(ctx, "attainment", title, {
        _t(ctx, "attainment_by_owner"): _attainment_tables(per, ctx, "owner"),
        _t(ctx, "attainment_company"): present(whole, ctx),
    }, figures, notes)


_FORECAST_COLUMNS = {"won_amount": "won_so_far_amount", "expected_amount": "expected_amount",
                     "amount_low": "low_amount", "amount_high": "high_amount",
                     "expected_count": "expected_deals", "count_low": "low_count", "count_high": "high_count",
                     "stage_weighted_amount": "stage_weighted_amount", "commit_amount": "commit_amount",
                     "best_case_amount": "best_case_amount", "pipeline_amount": "category_pipeline_amount"}


def _forecast_table(table: pd.DataFrame, ctx: NotebookContext, col: str,
                    targets: pd.DataFrame | None) -> pd.DataFrame:
    shown = table[[col, *[c for c in _FORECAST_COLUMNS if c in table.columns]]].rename(columns=_FORECAST_COLUMNS)
    if targets is not None:
        goal = targets.set_index(col)["target"]
        shown.insert(1, "target_amount", shown[col].map(goal).astype("float64"))
    shown["expected_deals"] = shown["expected_deals"].round(1)
    return present(shown, ctx)


def _forecast_notes(table: pd.DataFrame, ctx: NotebookContext) -> list[str]:
    notes = []
    as_of = table.attrs.get("as_of")
    if table.attrs.get("horizon_days", 0) > 0 and as_of is not None:
        windows = int(table.attrs.get("new_deal_windows", 0))
        if windows:
            notes.append(i18n.translate("note_new_deals", ctx.language, windows=_digits(str(windows), ctx.language),
                                        n=_digits(f"{table.attrs.get('new_deals_expected', 0.0):.1f}",
                                                  ctx.language)))
        else:
            notes.append(i18n.translate("note_not_foreseen", ctx.language, as_of=_date_text(as_of, ctx)))
        if "expected_close_at" not in ctx.data.opportunity_table.columns:
            notes.append(_t(ctx, "note_no_close_dates"))
    missing = table.attrs.get("excluded", {}).get("no_probability", 0)
    if missing:
        notes.append(_note("note_no_probability", ctx.language, n=missing))
    return notes


def forecast_view(ctx: NotebookContext) -> Section:
    """Forecast of the period in progress: the fan of the team's won amount against the
    target, and per salesperson the forecast against the target with the pace."""
    from salesnb.metrics.forecasting import forecast, forecast_fan
    from salesnb.metrics.quota import attainment

    o = outlook(ctx)
    start, end, label = o.current
    per = forecast(ctx.data, period=(start, end), as_of=o.moment, by="owner")
    total = forecast(ctx.data, period=(start, end), as_of=o.moment, by=None)
    fan = forecast_fan(ctx.data, period=(start, end), as_of=o.moment, steps=2)
    figures = []
    fig, ax = _fig(1, 10, 4.6)
    plotting.plot_forecast_fan(fan, ax=ax, language=ctx.language, currency=ctx.data.settings.currency,
                               amount_unit=ctx.data.settings.amount_unit, calendar=ctx.calendar)
    figures.append(fig)
    goals = None
    notes = _forecast_notes(total, ctx)
    if getattr(ctx.data, "targets", None) is not None:
        goals = attainment(ctx.data, period=(start, end), as_of=o.moment, by="owner", measure="won_amount")
        fig2, ax2 = _fig(1, 9.5, max(3.2, 0.45 * len(goals) + 2.2))
        plotting.plot_attainment(goals, ax=ax2, language=ctx.language, forecast=per)
        figures.append(fig2)
        notes = _attainment_notes(goals, ctx) + notes
    else:
        notes.insert(0, _t(ctx, "no_targets"))
    notes = _empty_note(ctx) + notes
    team_goal = None
    if goals is not None:
        team_goal = pd.DataFrame({"group": ["(all)"], "target": [fan.attrs.get("target", np.nan)]})
    title = i18n.translate("forecast_title", ctx.language, period=_digits(label, ctx.language))
    return _section(ctx, "forecast", title, {
        _t(ctx, "forecast_total"): _forecast_table(total, ctx, "group", team_goal),
        _t(ctx, "forecast_by_owner"): _forecast_table(per, ctx, "owner", goals),
    }, figures, notes)


def accuracy_view(ctx: NotebookContext) -> Section:
    """How accurate forecasts made some days before the end of past periods were, beside the
    stage-weighted pipeline (and the CRM's commit)."""
    from salesnb.metrics.forecasting import forecast_backtest

    o = outlook(ctx)
    title = _t(ctx, "accuracy_title")
    if not o.past:
        return _section(ctx, "accuracy", title, {}, [], [_t(ctx, "accuracy_not_enough")])
    bt = forecast_backtest(ctx.data, periods=[(a, b) for a, b, _ in o.past], lead_days=o.lead_days)
    fig, ax = _fig(1, 10, 4.8)
    plotting.plot_forecast_accuracy(bt, ax=ax, language=ctx.language, currency=ctx.data.settings.currency,
                                    amount_unit=ctx.data.settings.amount_unit)
    rows = bt[["period", "method", "forecast_amount", "amount_low", "amount_high", "actual_amount",
               "abs_error_amount", "rel_error_amount", "inside_amount"]].rename(columns={
        "amount_low": "low_amount", "amount_high": "high_amount", "rel_error_amount": "rel_error_share",
        "inside_amount": "inside_interval"})
    rows.insert(2, "forecast_made", [_date_text(t, ctx) for t in bt["as_of"]])
    rows["inside_interval"] = rows["inside_interval"].astype(object).where(rows["inside_interval"].notna(), "")
    rows["inside_interval"] = ["✔" if v is True else ("✘" if v is False else "") for v in rows["inside_interval"]]
    summary = pd.DataFrame(bt.attrs["summary"])
    summary = summary[["method", "periods", "mae_amount", "mae_count", "coverage"]].rename(columns={
        "periods": "periods_scored", "mae_count": "mae_deals", "coverage": "coverage_share"})
    summary["mae_deals"] = summary["mae_deals"].round(1)
    by_method = pd.DataFrame(bt.attrs["summary"]).set_index("method")
    amount = _cell_formatter("amount", pd.Series([0.0]), ctx)
    assert amount is not None
    note = i18n.translate(
        "note_accuracy", ctx.language, n=_digits(str(len(o.past)), ctx.language),
        salesnb=amount(by_method.loc["salesnb", "mae_amount"]),
        stage=amount(by_method.loc["stage_weighted", "mae_amount"]),
        inside=_digits(str(int((bt.loc[bt["method"] == "salesnb", "inside_amount"] == True).sum())),  # noqa: E712
                       ctx.language))
    days = _digits(f"{o.lead_days}", ctx.language)
    return _section(ctx, "accuracy", title, {
        i18n.translate("accuracy_table", ctx.language, days=days): present(rows, ctx),
        _t(ctx, "accuracy_summary"): present(summary, ctx),
    }, [fig], [note])


def target_summary(ctx: NotebookContext) -> list[tuple[str, str]]:
    """The report index's targets: (title, HTML) of the attainment of the report period and of
    the forecast of the period in progress, per salesperson and for the team, as progress bars.

    Empty when the data has no targets.
    """
    from salesnb.metrics.forecasting import forecast
    from salesnb.metrics.quota import attainment

    if getattr(ctx.data, "targets", None) is None:
        return []
    lang = ctx.language
    o = outlook(ctx)
    start, end, label = o.report
    done = attainment(ctx.data, period=(start, end), as_of=min(end, o.moment), by="owner", measure="won_amount")
    team = attainment(ctx.data, period=(start, end), as_of=min(end, o.moment), by=None, measure="won_amount")

    def share(actual: float, target: float) -> float | None:
        return actual / target if target and np.isfinite(target) else None

    def pct(value: float | None) -> str:
        return "—" if value is None or not np.isfinite(value) else f"{100 * value:.0f}%"

    rows = [(i18n.translate_value(r["owner"], lang), share(r["actual"], r["target"]),
             pct(share(r["actual"], r["target"]))) for _, r in done.iterrows()]
    for _, r in team.iterrows():
        rows.append((i18n.translate("(all)", lang), share(r["actual"], r["target"]), pct(share(r["actual"], r["target"]))))
    out = [(i18n.translate("attainment_of", lang, period=_digits(label, lang)), charts.progress_bars(rows, language=lang))]
    start, end, label = o.current
    goals = attainment(ctx.data, period=(start, end), as_of=o.moment, by="owner", measure="won_amount")
    goal_all = attainment(ctx.data, period=(start, end), as_of=o.moment, by=None, measure="won_amount")
    per = forecast(ctx.data, period=(start, end), as_of=o.moment, by="owner").set_index("owner")
    total = forecast(ctx.data, period=(start, end), as_of=o.moment, by=None).set_index("group")
    rows = []
    for frame, goal, col in ((per, goals, "owner"), (total, goal_all, "group")):
        for _, r in goal.iterrows():
            name = r[col]
            if name not in frame.index:
                continue
            f = frame.loc[name]
            mid = share(f["expected_amount"], r["target"])
            text = pct(mid)
            if mid is not None:
                text += f" ({pct(share(f['amount_low'], r['target']))}–{pct(share(f['amount_high'], r['target']))})"
            rows.append((i18n.translate_value(name, lang), mid, text))
    title = i18n.translate("index_forecast", lang, period=_digits(label, lang), as_of=_date_text(o.moment, ctx))
    out.append((title, charts.progress_bars(rows, language=lang)))
    return out


# --------------------------------------------------------------------------- pipeline movement
#: The columns of the walk tables (count, value) as shown: the ``mv_`` names are their headers.
_WALK_COUNT = ("open_start_count", "created_count", "reassigned_in_count", "reassigned_out_count", "won_count",
               "lost_count", "open_end_count")
_WALK_VALUE = ("open_start_value", "created_value", "reassigned_in_value", "reassigned_out_value",
               "increased_value", "decreased_value", "won_value", "lost_value", "open_end_value")
_WALK_FORECAST = ("pulled_in_count", "pulled_in_value", "pushed_out_count", "pushed_out_value")
#: The library's English notes of the movement functions -> their catalogue keys.
_MOVEMENT_NOTES = {
    "no field history: amounts, owners and expected close dates": "note_no_field_history",
    "no field history: amounts and owners are taken": "note_no_field_history_amounts",
    "no expected_close_at column": "note_no_close_dates_walk",
    "no stage history": "note_no_stage_history_walk",
    "no field history: pushes are unknown": "note_pushes_unknown",
}


def _library_notes(table: pd.DataFrame, ctx: NotebookContext) -> list[str]:
    """A movement table's ``attrs["notes"]`` in ``ctx.language`` (the known ones translated;
    others shown in English pages only)."""
    out = []
    for note in table.attrs.get("notes", []):
        key = next((k for start, k in _MOVEMENT_NOTES.items() if str(note).startswith(start)), None)
        if key is not None:
            out.append(_t(ctx, key))
        elif ctx.language == "en":
            out.append(str(note))
    return out


def _walk_tables(table: pd.DataFrame, col: str, ctx: NotebookContext) -> dict[str, pd.DataFrame]:
    """The walk by count and by value, and the pulled in / pushed out, one row per group."""
    def part(columns: tuple[str, ...], balanced: bool) -> pd.DataFrame:
        cur = ["currency"] if "currency" in table.columns else []
        shown = table[[col, *cur, *columns, *(["balanced"] if balanced else [])]]
        shown = shown.rename(columns={c: f"mv_{c}" for c in columns})
        return present(shown, ctx)

    start, end = table.attrs.get("following", (None, None))
    forecast = i18n.translate("movement_forecast", ctx.language,
                              start=_date_text(start, ctx) if start is not None else "—",
                              end=_date_text(end, ctx) if end is not None else "—")
    return {_t(ctx, "movement_by_count"): part(_WALK_COUNT, True),
            _t(ctx, "movement_by_value"): part(_WALK_VALUE, True),
            forecast: part(_WALK_FORECAST, False)}


def movement_view(ctx: NotebookContext) -> Section:
    """Question 6a: the open pipeline's walk from the window's start to its end, as waterfalls
    by count and by value, for the whole team and per team (one :func:`~salesnb.pipeline_movement`
    call, per team; the total is the sum of the teams, which keep their deals)."""
    from salesnb.exceptions import OptionError
    from salesnb.metrics.movement import pipeline_movement

    w = ctx.window
    try:
        per = pipeline_movement(ctx.data, start=w.start, end=w.end, calendar=w.calendar, by="team")
        col = "team"
    except OptionError:  # no team column: the total only
        per = pipeline_movement(ctx.data, start=w.start, end=w.end, calendar=w.calendar, by=None)
        col = "group"
    numbers = [c for c in per.columns if c.endswith(("_count", "_value"))]
    if "currency" in per.columns:  # split by currency (no rates): a total per currency
        total = per.groupby("currency", sort=True)[[*numbers, "balanced"]].agg(
            {**{c: "sum" for c in numbers}, "balanced": "all"}).reset_index()
        total.insert(0, col, "(all)")
        total = total[total["currency"] != ""] if (total["currency"] != "").any() else total
    else:
        sums = {c: pd.Series([per[c].sum()], dtype=per[c].dtype) for c in numbers}
        total = pd.DataFrame({col: ["(all)"], **sums, "balanced": [bool(per["balanced"].all())]})
    both = pd.concat([per, total], ignore_index=True) if col == "team" else per
    both.attrs.update(per.attrs)
    money: dict[str, Any] = {"currency": ctx.data.settings.currency, "amount_unit": ctx.data.settings.amount_unit}
    fig, axes = _fig(2, 12, 4.6)
    plotting.plot_pipeline_movement(per, ax=axes[0], language=ctx.language, measure="count")
    plotting.plot_pipeline_movement(per, ax=axes[1], language=ctx.language, measure="value", **money)
    figures = [fig]
    if col == "team" and per[col].nunique() > 1:
        teams = list(dict.fromkeys(per[col]))
        fig2, grid = plt.subplots(len(teams), 2, figsize=(12, 3.6 * len(teams)), layout="constrained",
                                  squeeze=False)
        for i, team in enumerate(teams):
            plotting.plot_pipeline_movement(per, ax=grid[i][0], language=ctx.language, group=team)
            plotting.plot_pipeline_movement(per, ax=grid[i][1], language=ctx.language, group=team,
                                            measure="value", **money)
        figures.append(fig2)
    notes = _empty_note(ctx) + _library_notes(per, ctx)
    # Every deal enters the walk once: open at the start or created.
    excluded = per.attrs.get("excluded", {})
    missing = int(excluded.get("open_start_without_amount", 0)) + int(excluded.get("created_without_amount", 0))
    if missing:
        notes.append(_note("note_movement_without_amount", ctx.language, n=missing))
    if col == "team":
        notes.append(_t(ctx, "note_team_total"))
    if "currency" in per.columns:
        notes.append(i18n.translate("note_movement_currencies", ctx.language, codes=", ".join(ctx.data.currencies())))
    return _section(ctx, "movement", _t(ctx, "q6a_title"), _walk_tables(both, col, ctx), figures, notes)


def stage_movement_view(ctx: NotebookContext) -> Section:
    """Question 6b: the deals by stage at the start × stage at the end of the window (advanced,
    slipped back, unchanged, won, lost, new)."""
    from salesnb.metrics.movement import stage_movement

    w = ctx.window
    table = stage_movement(ctx.data, start=w.start, end=w.end, calendar=w.calendar)
    fig, ax = _fig(1, 10, 5.0)
    plotting.plot_stage_movement(table, ax=ax, language=ctx.language, stages=list(ctx.data.settings.stages))
    shown = table.assign(movement=[_t(ctx, f"mv_{m}") if f"mv_{m}" in i18n._CATALOGUE else m
                                   for m in table["movement"]])
    notes = _empty_note(ctx) + _library_notes(table, ctx)
    without = int(table.attrs.get("excluded", {}).get("without_amount", 0))
    if without:
        notes.append(_note("note_movement_without_amount", ctx.language, n=without))
    return _section(ctx, "stage_movement", _t(ctx, "q6b_title"), {
        _t(ctx, "stage_movement_table"): present(shown, ctx),
    }, [fig], notes)


def overdue_view(ctx: NotebookContext, top: int = TOP_ROWS) -> Section:
    """Question 6c: the open deals past their expected close date at ``as_of`` and those whose
    date was pushed; data without expected close dates gets a note, not an error."""
    from salesnb.exceptions import DataSchemaError
    from salesnb.metrics.movement import overdue_deals

    title = _t(ctx, "q6c_title")
    try:
        table = overdue_deals(ctx.data, as_of=ctx.window.as_of, calendar=ctx.calendar)
    except DataSchemaError:
        return _section(ctx, "overdue", title, {}, [], [*_empty_note(ctx), _t(ctx, "note_no_expected_close")])
    notes = _empty_note(ctx) + _library_notes(table, ctx)
    no_date = int(table.attrs.get("excluded", {}).get("no_expected_close", 0))
    if no_date:
        notes.append(_note("note_no_close_date_deals", ctx.language, n=no_date))
    if not len(table):
        notes.append(_t(ctx, "overdue_none"))
    head = table.head(top).copy()
    shown = present(head, ctx)
    rule = ""
    if len(table) > top:
        rule = i18n.translate("overdue_rule", ctx.language, shown=_count(top, ctx.language),
                              total=_count(len(table), ctx.language))
    shown.attrs.update({"csv": "overdue", "rule": rule, "total": len(table)} if ctx.csv_links else {})
    downloads = {"overdue": present(table, ctx)} if ctx.csv_links else {}
    return _section(ctx, "overdue", title, {_t(ctx, "overdue_table"): shown}, [], notes, downloads=downloads)


VIEWS: dict[str, View] = {
    "headline": headline_view,
    "opportunities": opportunities_view,
    "won_lost": won_lost_view,
    "volume": volume_view,
    "win_rate": win_rate_view,
    "funnel": funnel_view,
    "cycle": cycle_view,
    "risk": risk_view,
    "attainment": attainment_view,
    "forecast": forecast_view,
    "accuracy": accuracy_view,
    "movement": movement_view,
    "stage_movement": stage_movement_view,
    "overdue": overdue_view,
}
