"""The report's index page: the period, headline KPIs and their change, sections, data quality."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from salesnb import periods
from salesnb.data.dataset import SalesData
from salesnb.exceptions import WindowError
from salesnb.metrics.summary import kpi_summary
from salesnb.metrics.window import Window
from salesnb.presentation import i18n
from salesnb.presentation.text import headline_kpis
from salesnb.presentation.views import change_text, kpi_text, quality_notes

__all__ = ["NotebookRun", "previous_summary", "render_index"]


@dataclass
class NotebookRun:
    """The outcome of one notebook in a report run."""

    name: str
    ok: bool
    seconds: float
    html: str | None = None
    error: str | None = None
    title: str = ""


def previous_summary(data: SalesData, window: Window) -> dict[str, Any] | None:
    """The ``kpi_summary`` document of the window before ``window`` (None when it is empty)."""
    lo, hi = periods.previous_window(window.start, window.end, calendar=window.calendar)
    try:
        return kpi_summary(data, start=lo, end=hi)
    except WindowError:
        return None


# --------------------------------------------------------------------------- index page
def _summary_context(data: SalesData, window: Window, language: str) -> tuple[Any, Any]:
    """Contexts of the summary: the report window, and the 12 months that end with it (trends)."""
    from salesnb.presentation.notebook import prepare

    cal = window.calendar
    ctx = prepare(data=data, start=window.start, end=window.end, as_of=window.as_of, calendar=cal,
                  language=language, interactive=False, period="month")
    lo = periods.shift_window(window.end, window.end + (window.end - window.start), months=-12, calendar=cal)[0]
    trend = prepare(data=data, start=min(lo, window.start), end=window.end, as_of=window.as_of, calendar=cal,
                    language=language, interactive=False, period="month")
    return ctx, trend


def _summary_sections(data: SalesData, window: Window, language: str) -> list[tuple[str, str]]:
    """The one-page summary: (title, HTML) of the tiles, won/lost trend, funnel, movement, attainment."""
    from salesnb.metrics.flow import funnel
    from salesnb.presentation import charts, views
    from salesnb.presentation.app import movement_chart, public

    t = lambda key: i18n.translate(key, language)  # noqa: E731
    ctx, trend = _summary_context(data, window, language)
    out = [(t("headline"), views.headline_tiles(ctx, {}, series=trend))]
    table = views._series(trend, {})["won_lost"]
    notes = views.mark_partial(table, trend.window, language)[1]
    chart = charts.won_lost_bars([i18n.translate_value(p, language) for p in table["period"].astype(str)],
                                 table["won"].tolist(), table["lost"].tolist(),
                                 partial=views.partial_periods(table, trend.window), language=language)
    out.append((t("trend_title"), chart + "".join(f'<p class="salesnb-note">{html.escape(n)}</p>' for n in notes)))
    fun = funnel(data, start=window.start, end=window.end, as_of=window.as_of, calendar=window.calendar)
    out.append((t("funnel_title"), charts.funnel_panels(fun, language=language)))
    movement = public("pipeline_movement")
    if movement is not None:
        table = movement(data, start=window.start, end=window.end, by=None, calendar=window.calendar)
        out.append((t("movement_title"), movement_chart(table, language)))
    if getattr(data, "targets", None) is not None:  # attainment of the period, forecast of the next
        out.extend(views.target_summary(ctx))
    return out


def render_index(data: SalesData, window: Window, label: str, doc: dict[str, Any],
                 previous: dict[str, Any] | None, runs: Sequence[NotebookRun], *, language: str) -> str:
    """Render the report's index page: a one-page summary (self-contained HTML, offline).

    The headline KPIs as tiles with their change against the previous period and a
    sparkline of the last 12 months (:func:`salesnb.presentation.views.headline_tiles`),
    won and lost per month over those months, the funnel of the period, the pipeline
    movement and the attainment of targets when the installed salesnb and the data have
    them; then the headline table, links to every section (failed ones with their
    error) and the data-quality notes (:func:`salesnb.presentation.views.quality_notes`),
    all in ``language``. Charts are inline SVG and HTML: nothing is fetched.
    """
    from salesnb.presentation import charts

    t = lambda key: i18n.translate(key, language)  # noqa: E731
    digits = i18n.persian_digits if language == "fa" else (lambda s: s)
    cur, unit = data.settings.currency, data.settings.amount_unit
    prev = {k: v for k, v, _ in headline_kpis(previous)} if previous else {}
    rows = []
    for key, value, kind in headline_kpis(doc):
        shown = kpi_text(value, kind, language, cur, unit)
        change = change_text(value, prev.get(key), kind, language)
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
    notes = [html.escape(n) for n in quality_notes(data, window, doc, language=language)]
    summary = "".join(f"<section class='salesnb-section' dir='{charts.direction(language)}'><h2>{html.escape(title)}"
                      f"</h2>{body}</section>" for title, body in _summary_sections(data, window, language))
    direction = charts.direction(language)
    cal = window.calendar
    cal_name = t(cal) if language == "fa" else cal
    period_text = (f"{periods.format_date(window.start, calendar=cal)} – "
                   f"{periods.format_date(window.end, calendar=cal)} ({cal_name}, {t('end_exclusive')})")
    midnight = window.as_of == window.as_of.normalize()
    as_of = (periods.format_date if midnight else periods.format_datetime)(window.as_of, calendar=cal)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="{language}" dir="{direction}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(t('report_title'))} {html.escape(digits(label))}</title>
<style>
body {{ font-family: Vazirmatn, "DejaVu Sans", Tahoma, sans-serif; margin: 1.5em auto; max-width: 70em;
  padding: 0 1em; color: #1f2937; }}
h1 {{ font-size: 1.6em; margin-bottom: .2em; }} h2 {{ font-size: 1.15em; margin: 1em 0 .3em; }}
.sub {{ color: #556; margin-top: 0; }}
table.kpis {{ border-collapse: collapse; margin: .5em 0; }} table.kpis td, table.kpis th {{ padding: .3em .9em;
  border-bottom: 1px solid #dde; }}
table.kpis th {{ text-align: start; background: #f2f4f8; }} td.num {{ text-align: end; font-variant-numeric: tabular-nums; }}
li.failed {{ color: #a00; }} pre {{ white-space: pre-wrap; background: #fff4f4; padding: .5em; }}
.notes li {{ color: #444; }}
.salesnb-summary {{ display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0 1.5em; }}
.salesnb-summary > section:first-child {{ grid-column: 1 / -1; }}
@media (max-width: 800px) {{ .salesnb-summary {{ grid-template-columns: 1fr; }} }}
{charts.CSS}
</style></head>
<body>
<h1>{html.escape(t('report_title'))} — {html.escape(digits(label))}</h1>
<p class="sub">{html.escape(digits(period_text))}; {html.escape(t('as_of'))} {html.escape(digits(as_of))}.
{html.escape(t('source'))}: {html.escape(data.source)}</p>
<div class="salesnb-summary">{summary}</div>
<h2>{html.escape(t('vs_previous'))}</h2>
<table class="kpis"><tr><th>{html.escape(t('kpi'))}</th><th>{html.escape(t('value'))}</th><th>{html.escape(t('vs_previous'))}</th></tr>
{''.join(rows)}</table>
<h2>{html.escape(t('sections'))}</h2><ul>{''.join(sections)}</ul>
<h2>{html.escape(t('data_quality'))}</h2><ul class="notes">{''.join(f'<li>{n}</li>' for n in notes)}</ul>
<p class="sub"><a href="kpis.json">kpis.json</a> · {html.escape(t('generated'))} {digits(generated)}</p>
</body></html>
"""
