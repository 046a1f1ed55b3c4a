"""Readable numbers, the headline KPIs and the plain-text KPI summary.

Amounts get thousands separators; Rial is shown in million / billion Rial (or in
Toman, Rial / 10, when ``amount_unit: toman``), other currencies as they are.
:func:`headline_kpis` is the one list of headline numbers that the overview notebook
and the report's index page show; :func:`format_summary` renders the ``salesnb kpi``
document as text. Nothing here reads a dataset: callers pass what is needed.
"""

from __future__ import annotations

import math
from typing import Any

from salesnb.periods import format_date

__all__ = ["GOOD_WHEN_UP", "HEADLINE_KPIS", "amount_scale", "format_amount", "format_change",
           "format_days", "format_kpi", "format_rate", "format_summary", "headline_kpis"]

#: The headline KPIs, in display order: catalogue key, where in the ``kpi_summary``
#: document, and the kind of number (how it is formatted and compared).
HEADLINE_KPIS: tuple[tuple[str, tuple[str, str], str], ...] = (
    ("open_now", ("opportunities", "open_total"), "count"),
    ("created", ("opportunities", "created_total"), "count"),
    ("won", ("won", "total"), "count"),
    ("lost", ("lost", "total"), "count"),
    ("mean_won_amount", ("sales_volume", "mean_amount"), "amount"),
    ("win_rate", ("win_rate", "closed"), "rate"),
    ("cycle_median", ("sales_cycle", "median_days"), "days"),
)


#: Whether a rise of each headline KPI is good news (colours the change; None: neither).
GOOD_WHEN_UP: dict[str, bool | None] = {
    "open_now": True, "created": True, "won": True, "lost": False, "mean_won_amount": True,
    "win_rate": True, "cycle_median": False,
}


def format_change(value: float | None, before: float | None, kind: str) -> str:
    """Format the change of a headline KPI against the previous window (``—`` when unknown).

    Counts change by their difference, rates in percentage points (``pt``), amounts in
    percent, days by their difference (``d``).

    Examples
    --------
    >>> format_change(30, 28, "count"), format_change(0.31, 0.29, "rate")
    ('+2', '+2.0 pt')
    >>> format_change(120.0, 100.0, "amount"), format_change(40.0, 42.5, "days"), format_change(3, None, "count")
    ('+20%', '-2.5 d', '—')
    """
    if value is None or before is None:
        return "—"
    if kind == "rate":
        return f"{100 * (value - before):+.1f} pt"
    if kind == "amount":
        return f"{100 * (value - before) / before:+.0f}%" if before else "—"
    if kind == "count":
        return f"{value - before:+,.0f}"
    return f"{value - before:+.1f} d"


def amount_scale(values_max: float, currency: str | None, unit: str = "auto") -> tuple[float, str]:
    """Choose a divisor and a unit label for amounts of this size.

    Examples
    --------
    >>> amount_scale(3.2e10, "IRR")
    (1000000000.0, 'billion IRR')
    >>> amount_scale(12_000, "EUR")
    (1.0, 'EUR')
    """
    cur = currency or ""
    if unit == "plain" or not math.isfinite(values_max):
        return 1.0, cur
    if cur == "IRR" and unit == "toman":
        base, cur = 10.0, "Toman"
    else:
        base = 1.0
    if unit == "auto" and cur not in ("IRR", "Toman") and values_max < 1e7:
        return 1.0, cur
    for div, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if values_max / base >= div:
            return base * div, f"{name} {cur}".strip()
    return base, cur


def format_amount(value: float | None, currency: str | None = None, unit: str = "auto") -> str:
    """Format one amount readably, e.g. ``12.5 billion IRR`` or ``1,234,567 EUR``.

    Examples
    --------
    >>> format_amount(12_500_000_000, "IRR")
    '12.5 billion IRR'
    >>> format_amount(1234567, "EUR")
    '1,234,567 EUR'
    >>> format_amount(None)
    '—'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    div, label = amount_scale(abs(value), currency, unit)
    scaled = value / div
    text = f"{scaled:,.0f}" if div == 1 else f"{scaled:,.3g}" if abs(scaled) < 1000 else f"{scaled:,.0f}"
    return f"{text} {label}".strip()


def format_rate(value: float | None) -> str:
    """Format a share as a percentage (``—`` when undefined)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.1f}%"


def format_days(value: float | None) -> str:
    """Format a number of days (``—`` when undefined)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.1f} d"


def headline_kpis(doc: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    """Return the headline KPIs of a :func:`~salesnb.kpi_summary` document.

    Returns
    -------
    list of (str, float or None, str)
        ``(key, value, kind)`` in display order: the catalogue key of the label
        (:func:`salesnb.presentation.i18n.translate`), the value (None when undefined)
        and its kind: ``count``, ``amount``, ``rate`` or ``days``.

    Examples
    --------
    >>> import salesnb as sn
    >>> doc = sn.kpi_summary(sn.load(sn.sample_path()), start="1404-01-01", end="1404-02-01")
    >>> [(key, value) for key, value, _ in headline_kpis(doc)][2:4]
    [('won', 28), ('lost', 53)]
    """
    return [(key, doc[block][field], kind) for key, (block, field), kind in HEADLINE_KPIS]


def format_kpi(value: float | None, kind: str, currency: str | None = None, unit: str = "auto") -> str:
    """Format a headline KPI by its kind (``count``, ``amount``, ``rate``, ``days``).

    Examples
    --------
    >>> format_kpi(1234, "count"), format_kpi(0.25, "rate"), format_kpi(None, "days")
    ('1,234', '25.0%', '—')
    """
    if value is None:
        return "—"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "amount":
        return format_amount(value, currency, unit)
    if kind == "rate":
        return format_rate(value)
    return format_days(value)


def format_summary(doc: dict[str, Any], *, calendar: str, currency: str | None = None,
                   amount_unit: str = "auto") -> str:
    """Render a :func:`~salesnb.kpi_summary` document as a readable text summary.

    Parameters
    ----------
    doc : dict
        The document.
    calendar : {"gregorian", "jalali"}
        Calendar of the dates shown.
    currency : str, optional
        Currency of the amounts (the dataset's ``settings.currency``).
    amount_unit : {"auto", "plain", "toman"}, default "auto"
        How amounts are shown (the dataset's ``settings.amount_unit``).

    Examples
    --------
    >>> import salesnb as sn
    >>> doc = sn.kpi_summary(sn.load(sn.sample_path()), start="1404-01-01", end="1404-02-01")
    >>> print(format_summary(doc, calendar="jalali", currency="IRR").splitlines()[0])
    Window 1404-01-01 – 1404-02-01 (jalali, end exclusive), as of 2025-04-21T00:00:00+03:30
    """
    import pandas as pd

    cur, unit = currency, amount_unit
    w = doc["window"]
    start, end, as_of = (pd.Timestamp(w[k]) for k in ("start", "end", "as_of"))
    lines = [
        f"Window {format_date(start, calendar=calendar)} – {format_date(end, calendar=calendar)} "
        f"({calendar}, end exclusive), as of {as_of.isoformat()}",
        "",
        "1. Opportunities",
        f"   open now: {doc['opportunities']['open_total']:,}   created in window: "
        f"{doc['opportunities']['created_total']:,}",
    ]
    opp_owner = doc["opportunities"]["open_by_owner"]
    for owner, n in sorted(opp_owner.items(), key=lambda kv: -kv[1]):
        lines.append(f"     {owner:<24} {n:>6,} open")
    won, lost = doc["won"], doc["lost"]
    lines += ["", "2. Won and lost", f"   won {won['total']:,}   lost {lost['total']:,}"]
    for reason, n in sorted(lost["by_reason"].items(), key=lambda kv: -kv[1]):
        lines.append(f"     lost – {reason:<20} {n:>6,}")
    v = doc["sales_volume"]
    lines += [
        "", "3. Sales volume (won deals)",
        f"   mean {format_amount(v['mean_amount'], cur, unit)}   median "
        f"{format_amount(v['median_amount'], cur, unit)}   total {format_amount(v['total_amount'], cur, unit)}",
        f"   won with amount {v['won_with_amount']:,}, without {v['won_without_amount']:,}; open deals "
        f"beyond ±{100 * v['band']:.0f}% of the mean: {v['open_above_band']:,} above, "
        f"{v['open_below_band']:,} below",
    ]
    if "won_without_rate" in v:
        lines.append(f"   converted into {v.get('currency') or 'the reporting currency'}; without an exchange "
                     f"rate (amount missing): {v['won_without_rate']:,} won, {v['open_without_rate']:,} open")
    if "currency_note" in v:
        lines.append(f"   {v['currency_note']}")
    for code, c in v.get("by_currency", {}).items():
        shown = None if code.startswith("(") else code
        lines.append(f"     {code:<8} won {c['won']:>5,}   mean {format_amount(c['mean_amount'], shown, unit)}   "
                     f"total {format_amount(c['total_amount'], shown, unit)}")
    r = doc["win_rate"]
    lines += [
        "", "4. Win rate and funnel",
        f"   win rate (closed in window): {format_rate(r['closed'])}   cohort created in window: "
        f"{format_rate(r['created_cohort'])} (still open: {format_rate(r['created_cohort_open_share'])})",
        f"   {'stage':<16}{'reached':>9}{'lost here':>11}{'→ next':>9}{'median days':>13}",
    ]
    shown_pipeline = None
    for row in doc["funnel"]:
        if "pipeline" in row and row["pipeline"] != shown_pipeline:
            shown_pipeline = row["pipeline"]
            lines.append(f"   pipeline {shown_pipeline}:")
        lines.append(f"   {row['stage']:<16}{row['reached']:>9,}{row['lost_here']:>11,}"
                     f"{format_rate(row['conversion_to_next']):>9}{format_days(row['median_days_in_stage']):>13}")
    c = doc["sales_cycle"]
    lines += [
        "", "5. Sales cycle (won deals, created → won)",
        f"   {c['won_count']:,} deals: mean {format_days(c['mean_days'])}, median {format_days(c['median_days'])}",
    ]
    for owner, days in sorted(c["by_owner_mean_days"].items(), key=lambda kv: kv[1]):
        lines.append(f"     {owner:<24} {format_days(days):>10}")
    return "\n".join(lines)
