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
from salesnb.presentation.text import format_change, format_kpi, headline_kpis
from salesnb.presentation.views import quality_notes

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
def render_index(data: SalesData, window: Window, label: str, doc: dict[str, Any],
                 previous: dict[str, Any] | None, runs: Sequence[NotebookRun], *, language: str) -> str:
    """Render the report's index page (self-contained HTML).

    The headline KPIs (:func:`salesnb.presentation.text.headline_kpis`) with the change
    against the previous period, links to every section (failed ones with their error)
    and the data-quality notes (:func:`salesnb.presentation.views.quality_notes`), all
    in ``language``.
    """
    t = lambda key: i18n.translate(key, language)  # noqa: E731
    digits = i18n.persian_digits if language == "fa" else (lambda s: s)
    cur, unit = data.settings.currency, data.settings.amount_unit
    prev = {k: v for k, v, _ in headline_kpis(previous)} if previous else {}
    rows = []
    for key, value, kind in headline_kpis(doc):
        shown = format_kpi(value, kind, cur, unit)
        change = format_change(value, prev.get(key), kind)
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
