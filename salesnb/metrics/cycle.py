"""Question 5 — the sales cycle: how long a prospect takes to become a customer.

The plain view: for the deals won in the window, ``closed_at - created_at`` in days
(fractional), mean and median. Start and end are configurable: ``start_event`` is
``"created"`` or a stage name (the first entry into it), ``end_event`` is ``"won"`` or
a stage name; durations may be counted in business days (weekend and holidays from
the settings).

The censoring-aware view (Kaplan–Meier): over the opportunities whose start event
falls in the window, the end event by ``as_of`` is an *event*; those still open at
``as_of`` are *censored* at ``as_of``. Deals lost before reaching the end event are
left out and counted (a lost deal never becomes a customer; treating it as censored
would pretend it still could).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from salesnb import periods
from salesnb._docstrings import fill_doc
from salesnb._options import check_option
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics._tables import (
    TOTAL,
    all_groups,
    canonical_by,
    complete_grid,
    days_between,
    group_column,
    group_labels,
    lookup,
    split_by_period,
    window_mask,
    with_excluded,
)
from salesnb.metrics.statistics import kaplan_meier
from salesnb.metrics.window import TimeLike, Window, resolve_window

__all__ = ["cycle_comparison", "cycle_durations", "cycle_survival", "sales_cycle"]


def check_events(data: SalesData, start_event: str, end_event: str) -> tuple[str, str]:
    """Return the cycle's start and end events as spelled in the funnel, or raise naming them."""
    s = data.settings
    stages = (*s.stages, s.won, s.lost)
    return (check_option("start_event", start_event, dict.fromkeys(("created", *stages))),
            check_option("end_event", end_event, dict.fromkeys(("won", *stages))))


def _first_entry(snap: Snapshot, stage: str) -> pd.Series:
    """First entry time into ``stage`` per opportunity id, known at ``snap.as_of``."""
    hist = snap.history
    hist = hist[hist["stage"] == stage]
    return hist.drop_duplicates("opportunity_id", keep="first").set_index("opportunity_id")["entered_at"]


def _event_times(snap: Snapshot, opps: pd.DataFrame, event: str, *, role: str) -> pd.Series:
    if role == "start" and event == "created":
        return opps["created_at"]
    if role == "end" and event == "won":
        return opps["closed_asof"].where(opps["status_asof"] == "won")
    return lookup(opps["opportunity_id"], _first_entry(snap, event))


def _elapsed(data: SalesData, start: pd.Series, end: pd.Series, business_days: bool) -> pd.Series:
    if not business_days:
        return days_between(start, end)
    s = data.settings
    return periods.business_days_between(start, end, weekend=s.weekend, holidays=s.holidays)


@fill_doc
def cycle_durations(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
    start_event: str = "created",
    end_event: str = "won",
    business_days: bool = False,
) -> pd.DataFrame:
    """Return the cycle length of each deal whose end event falls in the window.

    Parameters
    ----------
    {data}
    {window}
    {calendar}
    {cycle_events}

    Returns
    -------
    DataFrame
        ``opportunity_id``, ``owner``, ``team``, ``amount``, ``closed_at``,
        ``started_at``, ``ended_at``, ``days``. ``attrs``: ``window`` (the resolved
        :class:`~salesnb.metrics.window.Window`) and ``excluded``: ``no_start_event``
        (the deal never entered the start stage) and ``start_after_end``.

    Examples
    --------
    {load_sample}
    >>> t = sn.cycle_durations(data, start="1403-01-01", end="1404-01-01")
    >>> len(t), t.attrs["excluded"]
    (230, {'no_start_event': 0, 'start_after_end': 0})
    """
    start_event, end_event = check_events(data, start_event, end_event)
    window = resolve_window(data, start, end, as_of, calendar)
    return _durations(data.at(window.as_of), window, start_event, end_event, business_days)


def _durations(snap: Snapshot, window: Window, start_event: str, end_event: str,
               business_days: bool) -> pd.DataFrame:
    data = snap.data
    opps = snap.opportunities[["opportunity_id", "owner", "team", "amount", "created_at",
                                         "status_asof", "closed_asof"]]
    ended = _event_times(snap, opps, end_event, role="end")
    sel = window_mask(ended, window)
    opps, ended = opps[sel], ended[sel]
    started = _event_times(snap, opps, start_event, role="start")
    no_start = started.isna().to_numpy()
    backwards = (started > ended).fillna(False).to_numpy()
    keep = ~no_start & ~backwards
    opps, started, ended = opps[keep], started[keep], ended[keep]
    out = pd.DataFrame({
        "opportunity_id": opps["opportunity_id"],
        "owner": opps["owner"],
        "team": opps["team"],
        "amount": opps["amount"],
        "closed_at": opps["closed_asof"],
        "started_at": started,
        "ended_at": ended,
        "days": _elapsed(data, started, ended, business_days),
    })
    out.attrs["window"] = window
    return with_excluded(out.reset_index(drop=True), no_start_event=int(no_start.sum()),
                         start_after_end=int(backwards.sum()))


@fill_doc
def sales_cycle(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    period: str | None = None,
    calendar: str | None = None,
    by: str | None = "owner",
    start_event: str = "created",
    end_event: str = "won",
    business_days: bool = False,
) -> pd.DataFrame:
    """Summarise the sales cycle of the deals won in the window.

    The cycle of a deal runs from ``start_event`` to ``end_event`` (created to won by
    default), in elapsed days (fractional) or business days.

    Parameters
    ----------
    {data}
    {window}
    {period}
        Default None; of the end event.
    {calendar}
    {by}
    {cycle_events}

    Returns
    -------
    DataFrame
        The group column, ``won_count`` (deals measured), ``mean_days``,
        ``median_days``, ``p75_days``, ``p90_days`` (NaN when none).
        {period_columns}
        ``attrs['excluded']`` as in :func:`cycle_durations`.

    Examples
    --------
    {load_sample}
    >>> t = sn.sales_cycle(data, start="1403-01-01", end="1404-01-01", by=None)
    >>> int(t["won_count"].iloc[0]), round(float(t["median_days"].iloc[0]), 1)
    (230, 50.1)
    """
    start_event, end_event = check_events(data, start_event, end_event)
    window = resolve_window(data, start, end, as_of, calendar)
    return _sales_cycle(data.at(window.as_of), window, period=period, by=canonical_by(data, by),
                        start_event=start_event, end_event=end_event, business_days=business_days)


def _sales_cycle(snap: Snapshot, window: Window, *, period: str | None, by: str | None,
                 start_event: str = "created", end_event: str = "won",
                 business_days: bool = False) -> pd.DataFrame:
    data = snap.data
    dur = _durations(snap, window, start_event, end_event, business_days)
    col = group_column(by)
    frame = pd.DataFrame({col: group_labels(dur, by), "days": dur["days"]})
    keys, table, lead = split_by_period(data, frame, dur["ended_at"], window, period, col)
    g = frame.groupby(keys, sort=False)["days"]
    summary = pd.concat([
        g.size().rename("won_count"), g.mean().rename("mean_days"), g.median().rename("median_days"),
        g.quantile(0.75).rename("p75_days"), g.quantile(0.9).rename("p90_days"),
    ], axis=1).reset_index()
    groups = all_groups(snap, by) if by is not None else [TOTAL]
    out = complete_grid(summary, table, groups, col, ["won_count"])
    out = out[[*lead, col, "won_count", "mean_days", "median_days", "p75_days", "p90_days"]]
    out.attrs["excluded"] = dict(dur.attrs["excluded"])
    return out


@fill_doc
def cycle_survival(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
    by: str | None = None,
    start_event: str = "created",
    end_event: str = "won",
    business_days: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Estimate the share of deals not yet won after t days (Kaplan–Meier), open deals censored.

    Population: opportunities whose start event falls in the window. Reaching the end
    event by ``as_of`` is an event; still open at ``as_of`` is censored at ``as_of``;
    lost before the end event is left out (counted in ``attrs['excluded']``).

    Parameters
    ----------
    {data}
    {window}
    {calendar}
    {by_none}
    {cycle_events}
    {confidence}

    Returns
    -------
    DataFrame
        The curve, one row per distinct time per group: the group column, ``days``,
        ``survival`` (share not yet won), ``ci_low``, ``ci_high`` (log-log pointwise
        interval), ``at_risk``, ``events``, ``censored``. ``attrs['medians']`` is a
        DataFrame per group: ``n``, ``events``, ``censored``, ``median_days``,
        ``median_ci_low``, ``median_ci_high`` (NaN when the curve does not reach 0.5);
        ``attrs['excluded']``: ``lost_before_end``.

    Examples
    --------
    {load_sample}
    >>> t = sn.cycle_survival(data, start="1403-01-01", end="1404-01-01")
    >>> t.attrs["medians"][["n", "events", "censored"]].values.tolist()
    [[446, 192, 254]]
    """
    start_event, end_event = check_events(data, start_event, end_event)
    window = resolve_window(data, start, end, as_of, calendar)
    return _cycle_survival(data.at(window.as_of), window, by=canonical_by(data, by),
                           start_event=start_event, end_event=end_event,
                           business_days=business_days, confidence=confidence)


def _cycle_survival(snap: Snapshot, window: Window, *, by: str | None, start_event: str = "created",
                    end_event: str = "won", business_days: bool = False,
                    confidence: float = 0.95) -> pd.DataFrame:
    spells = _spells(snap, window, start_event, end_event, business_days)
    col = group_column(by)
    spells[col] = group_labels(spells, by).to_numpy()
    curves, medians = [], []
    for name, g in spells.groupby(col, sort=True):
        curve, med = kaplan_meier(g["days"].to_numpy(), g["event"].to_numpy(), confidence)
        curve.insert(0, col, name)
        curves.append(curve)
        medians.append({col: name, **med})
    empty_curve = pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
        (col, "str"), ("days", "float64"), ("survival", "float64"), ("ci_low", "float64"),
        ("ci_high", "float64"), ("at_risk", "int64"), ("events", "int64"), ("censored", "int64"))})
    out = pd.concat(curves, ignore_index=True) if curves else empty_curve
    med_frame = pd.DataFrame(medians) if medians else pd.DataFrame(columns=[
        col, "n", "events", "censored", "median_days", "median_ci_low", "median_ci_high"])
    out.attrs["medians"] = med_frame
    out.attrs["excluded"] = dict(spells.attrs["excluded"])
    return out


def _spells(snap: Snapshot, window: Window, start_event: str, end_event: str,
            business_days: bool) -> pd.DataFrame:
    data = snap.data
    opps = snap.opportunities
    started = _event_times(snap, opps, start_event, role="start")
    sel = window_mask(started, window)
    opps, started = opps[sel], started[sel]
    ended = _event_times(snap, opps, end_event, role="end")
    is_open = (opps["status_asof"] == "open").to_numpy()
    event = ended.notna().to_numpy() & (ended >= started).fillna(False).to_numpy()
    censored = ~event & is_open
    keep = event | censored
    stop = ended.where(event, window.as_of)
    out = opps[keep].copy()
    out["days"] = _elapsed(data, started[keep], stop[keep], business_days).to_numpy()
    out["event"] = event[keep]
    return with_excluded(out, lost_before_end=int((~keep).sum()))


@fill_doc
def cycle_comparison(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
    by: str | None = None,
    start_event: str = "created",
    end_event: str = "won",
    business_days: bool = False,
) -> pd.DataFrame:
    """Compare the sales cycle of a window with the previous window and a year before.

    The previous window has the same length and ends where this one starts; the
    year-ago window is shifted by one year (whole calendar months stay whole months,
    in the calendar in use). Each past window is seen as of its own end, so its
    numbers are what a report run then would have shown.

    Parameters
    ----------
    {data}
    {window}
    {calendar}
    {by_none}
    {cycle_events}

    Returns
    -------
    DataFrame
        ``window`` (``current``, ``previous``, ``year_ago``), ``start``, ``end``, the group
        column, ``won_count``, ``mean_days``, ``median_days``, ``km_median_days``, and
        ``change_mean_days`` (current minus that window; 0 for current).

    Examples
    --------
    {load_sample}
    >>> t = sn.cycle_comparison(data, start="1404-01-01", end="1404-07-01")
    >>> t[["window", "won_count"]].values.tolist()
    [['current', 166], ['previous', 136], ['year_ago', 94]]
    """
    start_event, end_event = check_events(data, start_event, end_event)
    window = resolve_window(data, start, end, as_of, calendar)
    by = canonical_by(data, by)
    cal = window.calendar
    prev = periods.previous_window(window.start, window.end, calendar=cal)
    year = periods.year_ago_window(window.start, window.end, calendar=cal)
    rows = []
    col = group_column(by)
    for name, w in (("current", window), ("previous", Window(*prev, prev[1], cal)),
                    ("year_ago", Window(*year, year[1], cal))):
        snap = data.at(w.as_of)
        kw: dict[str, Any] = dict(by=by, start_event=start_event, end_event=end_event,
                                  business_days=business_days)
        cyc = _sales_cycle(snap, w, period=None, **kw)
        km = _cycle_survival(snap, w, **kw).attrs["medians"]
        cyc = cyc.merge(km[[col, "median_days"]].rename(columns={"median_days": "km_median_days"}),
                        on=col, how="left")
        cyc.insert(0, "window", name)
        cyc.insert(1, "start", w.start)
        cyc.insert(2, "end", w.end)
        rows.append(cyc[["window", "start", "end", col, "won_count", "mean_days", "median_days",
                         "km_median_days"]])
    out = pd.concat(rows, ignore_index=True)
    col = group_column(by)
    current = out[out["window"] == "current"].set_index(col)["mean_days"]
    out["change_mean_days"] = out[col].map(current) - out["mean_days"]
    return out

