"""Notebook sections: each view computes its KPI tables, draws its plots and shows them.

A view takes a :class:`~salesnb.presentation.notebook.NotebookContext` and returns a
:class:`Section` (its tables and figures, for tests and reuse); :func:`show` displays a
section in a notebook. Views only glue KPI functions (:mod:`salesnb.metrics`) to plot
functions (:mod:`salesnb.presentation.plotting`); they compute nothing themselves. The
widgets (:mod:`salesnb.presentation.widgets`) re-run a view when a control changes.
:func:`quality_notes` writes the data-quality notes of a window, in either language,
for the notebooks and the report's index page alike.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
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
from salesnb.metrics.summary import kpi_summary
from salesnb.metrics.volume import deal_size_bands, deal_size_flags, sales_volume
from salesnb.metrics.window import Window
from salesnb.metrics.winrate import win_rate
from salesnb.presentation import i18n, plotting
from salesnb.presentation.notebook import NotebookContext
from salesnb.presentation.text import format_amount, format_kpi, format_rate, headline_kpis

__all__ = [
    "VIEWS",
    "Section",
    "cycle_view",
    "funnel_view",
    "headline_view",
    "opportunities_view",
    "present",
    "quality_notes",
    "risk_view",
    "section_objects",
    "show",
    "volume_view",
    "win_rate_view",
    "won_lost_view",
]


@dataclass
class Section:
    """The output of a view: a title, notes, tables and figures, in display order."""

    title: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    html: str | None = None


View = Callable[[NotebookContext], Section]


def _fig(n: int = 1, width: float = 10, height: float = 4.2) -> tuple[Figure, Any]:
    fig, axes = plt.subplots(1, n, figsize=(width, height), layout="constrained")
    return fig, axes


def _t(ctx: NotebookContext, key: str) -> str:
    return i18n.translate(key, ctx.language)


_DATE_COLUMNS = ("period_start", "period_end", "snapshot_at", "start", "end", "created_at",
                 "entered_stage_at", "started_at", "ended_at", "closed_at", "expected_close_low",
                 "expected_close_high")
_RATE_SUFFIXES = ("rate", "share", "conversion", "_low", "_high", "conversion_to_next")


def _cell_formatter(name: str, values: pd.Series, ctx: NotebookContext) -> Callable[[Any], str] | None:
    """The formatter of one KPI column for people, or None to show the values as they are."""
    from salesnb.periods import format_date

    lang = ctx.language
    cur, unit = ctx.data.settings.currency, ctx.data.settings.amount_unit
    digits = i18n.persian_digits if lang == "fa" else str

    def amount(v: Any) -> str:
        text = format_amount(v, cur, unit)
        if lang != "fa" or text == "—":
            return text
        number, _, label = text.partition(" ")
        return f"{digits(number)} {i18n.unit_label(label, lang)}".strip()

    if name in _DATE_COLUMNS:
        return lambda v: digits(format_date(v, calendar=ctx.calendar)) if pd.notna(v) else "—"
    if pd.api.types.is_bool_dtype(values):
        return lambda v: "✔" if v else ""
    if not pd.api.types.is_numeric_dtype(values):
        return lambda v: i18n.translate_value(v, lang) if isinstance(v, str) else v
    if pd.api.types.is_integer_dtype(values):  # counts (won_with_amount is a count, not an amount)
        return lambda v: digits(f"{int(v):,}") if pd.notna(v) else "—"
    if name.endswith(_RATE_SUFFIXES):
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
    for col in out.columns:
        fmt = _cell_formatter(str(col), out[col], ctx)
        if fmt is not None:
            out[col] = [fmt(v) for v in out[col]]
    return i18n.table_headers(out, ctx.language)


def section_objects(section: Section) -> list[Any]:
    """The IPython display objects of a section, in order (title, notes, HTML, figures, tables)."""
    from IPython.display import HTML, Image, Markdown

    objects: list[Any] = [Markdown(f"### {section.title}")]
    objects.extend(Markdown(f"> {note}") for note in section.notes)
    if section.html:
        objects.append(HTML(section.html))
    for fig in section.figures:
        objects.append(Image(data=figure_png(fig)))
        plt.close(fig)
    for name, table in section.tables.items():
        if name.startswith("_"):
            continue
        objects.append(Markdown(f"**{name}**"))
        objects.append(HTML(table.to_html(index=False, border=0, classes="salesnb-table", na_rep="—")))
    return objects


def show(section: Section) -> Section:
    """Display a section in the notebook (title, notes, figures, tables)."""
    from IPython.display import display

    for obj in section_objects(section):
        display(obj)
    return section


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes (whatever the matplotlib backend, so reports embed images)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


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
def headline_view(ctx: NotebookContext) -> Section:
    """Overview: the five numbers of the window (``kpi_summary``) as headline cards."""
    doc = kpi_summary(ctx.data, **ctx.kpi_args())
    cur, unit = ctx.data.settings.currency, ctx.data.settings.amount_unit
    cards = [(_t(ctx, key), format_kpi(value, kind, cur, unit)) for key, value, kind in headline_kpis(doc)]
    if ctx.language == "fa":
        cards = [(k, i18n.persian_digits(v)) for k, v in cards]
    direction = "rtl" if ctx.language == "fa" else "ltr"
    cells = "".join(
        f'<div style="display:inline-block;min-width:9em;margin:.3em;padding:.6em 1em;border:1px solid #ccd;'
        f'border-radius:6px;background:#f7f8fb"><div style="font-size:.85em;color:#556">{k}</div>'
        f'<div style="font-size:1.5em;font-weight:600">{v}</div></div>' for k, v in cards)
    html = f'<div dir="{direction}">{cells}</div>'
    table = pd.DataFrame(cards, columns=["kpi", "value"])
    return Section(f"{_t(ctx, 'headline')} — {ctx.describe_window()}", {"_headline": table},
                   notes=_empty_note(ctx), html=html)


def opportunities_view(ctx: NotebookContext) -> Section:
    """Question 1: open opportunities per salesperson, over time, and new ones per period."""
    a = ctx.kpi_args()
    pipe = open_opportunities(ctx.data, as_of=ctx.window.as_of, calendar=ctx.calendar)
    over = open_over_time(ctx.data, **a, period=ctx.period)
    new = new_opportunities(ctx.data, **a, period=ctx.period, by=None)
    fig, axes = _fig(2, 12, 4.6)
    plotting.plot_open_pipeline(pipe, ax=axes[0], language=ctx.language)
    plotting.plot_open_over_time(over, ax=axes[1], language=ctx.language)
    notes = _empty_note(ctx)
    flagged = pipe.loc[pipe["too_few"], "owner"].tolist()
    if flagged:
        notes.append(f"{_t(ctx, 'too_few_note')}: {', '.join(flagged)}")
    return Section(_t(ctx, "q1_title"), {
        _t(ctx, "open_by_owner"): present(pipe, ctx),
        _t(ctx, "new_per_period"): present(new[["period", "created", "created_value"]], ctx),
    }, [fig], notes)


def won_lost_view(ctx: NotebookContext) -> Section:
    """Question 2: won and lost per period, lost reasons, reason × stage where lost."""
    a = ctx.kpi_args()
    per_period = won_lost(ctx.data, **a, period=ctx.period, by=None)
    per_owner = won_lost(ctx.data, **a, period=None, by="owner")
    reasons = lost_reasons(ctx.data, **a)
    by_stage = lost_reasons(ctx.data, **a, by="stage")
    fig, axes = _fig(2, 12, 4.6)
    plotting.plot_won_lost(per_period, ax=axes[0], language=ctx.language)
    plotting.plot_lost_reasons(reasons, ax=axes[1], language=ctx.language)
    fig2, ax2 = _fig(1, 9, 4.2)
    plotting.plot_lost_reason_stage(by_stage, ax=ax2, language=ctx.language,
                                    stages=list(ctx.data.settings.stages))
    return Section(_t(ctx, "q2_title"), {
        _t(ctx, "won_lost_by_owner"): present(per_owner, ctx),
        _t(ctx, "lost_reasons"): present(reasons, ctx),
    }, [fig, fig2], _empty_note(ctx))


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
    return Section(_t(ctx, "q3_title"), {
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
    return Section(_t(ctx, "q4a_title"), {
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
    fig, axes = _fig(2, 12, 4.8)
    plotting.plot_funnel(fun, ax=axes[0], language=ctx.language)
    plotting.plot_time_in_stage(visits, ax=axes[1], language=ctx.language,
                                stages=list(ctx.data.settings.stages))
    notes = _empty_note(ctx)
    if ctx.data.settings.stages_inferred:
        notes.append(_t(ctx, "stages_inferred"))
    notes.extend(_stuck_note(stuck, ctx.language))
    return Section(_t(ctx, "q4b_title"), {
        _t(ctx, "funnel"): present(fun, ctx),
        _t(ctx, "transitions"): present(moves, ctx),
        _t(ctx, "time_in_stage"): present(stay, ctx),
        _t(ctx, "stuck"): present(stuck.head(20), ctx),
        _t(ctx, "slowest"): present(slow, ctx),
    }, [fig], notes)


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
    return Section(_t(ctx, "q5_title"), tables, [fig], notes)


def risk_view(ctx: NotebookContext, horizon_days: int = 90, top: int = 15) -> Section:
    """Open-deal risk: the deals open at ``as_of`` ranked by risk, with reasons and win chances."""
    ranked = risk(ctx.data, as_of=ctx.window.as_of, horizon_days=horizon_days)
    velocity = sales_velocity(ctx.data, **ctx.kpi_args(), by="owner")
    cols = ["opportunity_id", "owner", "stage", "amount", "age_days", "p_win_horizon", "p_win_eventually",
            "expected_close_low", "expected_close_high", "risk_level", "reasons"]
    shown = ranked[[c for c in cols if c in ranked.columns]].head(top)
    notes = _empty_note(ctx)
    notes.extend(str(n) for n in ranked.attrs.get("notes", []))
    levels = ranked["risk_level"].value_counts() if len(ranked) else pd.Series(dtype="int64")
    if len(ranked):
        notes.append(", ".join(f"{i18n.translate_value(str(k), ctx.language)}: {int(v)}"
                               for k, v in levels.items()))
    return Section(_t(ctx, "risk_title"), {
        _t(ctx, "at_risk_table"): present(shown, ctx),
        _t(ctx, "velocity"): present(velocity, ctx),
    }, [], notes)


VIEWS: dict[str, View] = {
    "headline": headline_view,
    "opportunities": opportunities_view,
    "won_lost": won_lost_view,
    "volume": volume_view,
    "win_rate": win_rate_view,
    "funnel": funnel_view,
    "cycle": cycle_view,
    "risk": risk_view,
}
