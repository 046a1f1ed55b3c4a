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

import warnings
from typing import Any

import numpy as np
import pandas as pd

from salesnb import periods
from salesnb._common import (
    TOTAL,
    TimeLike,
    Window,
    all_groups,
    complete_grid,
    days_between,
    group_column,
    group_labels,
    history_known_at,
    known_at,
    lookup,
    resolve_window,
    split_by_period,
    window_mask,
    with_excluded,
)
from salesnb.data import SalesData
from salesnb.exceptions import WindowError

__all__ = ["cycle_comparison", "cycle_durations", "cycle_survival", "sales_cycle"]


def _first_entry(data: SalesData, stage: str, as_of: pd.Timestamp) -> pd.Series:
    """First entry time into ``stage`` per opportunity id, known at ``as_of``."""
    allowed = {*data.settings.stages, data.settings.won, data.settings.lost}
    if stage not in allowed:
        raise WindowError(f"stage {stage!r} is not in the funnel",
                          fix=f"use 'created'/'won' or one of: {', '.join(data.settings.stages)}")
    hist = history_known_at(data, as_of)
    hist = hist[hist["stage"] == stage]
    return hist.drop_duplicates("opportunity_id", keep="first").set_index("opportunity_id")["entered_at"]


def _event_times(data: SalesData, opps: pd.DataFrame, event: str, as_of: pd.Timestamp, *,
                 role: str) -> pd.Series:
    if role == "start" and event == "created":
        return opps["created_at"]
    if role == "end" and event == "won":
        return opps["closed_asof"].where(opps["status_asof"] == "won")
    return lookup(opps["opportunity_id"], _first_entry(data, event, as_of))


def _elapsed(data: SalesData, start: pd.Series, end: pd.Series, business_days: bool) -> pd.Series:
    if not business_days:
        return days_between(start, end)
    s = data.settings
    return periods.business_days_between(start, end, weekend=s.weekend, holidays=s.holidays)


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
    start_event : str, default "created"
        ``created`` or a stage name (first entry into that stage).
    end_event : str, default "won"
        ``won`` (the closing of a won deal) or a stage name (first entry into it).
    business_days : bool, default False
        Count only business days (weekend and holidays from the settings).

    Returns
    -------
    DataFrame
        ``opportunity_id``, ``owner``, ``team``, ``amount``, ``started_at``,
        ``ended_at``, ``days``. ``attrs['excluded']`` counts ``no_start_event`` (the
        deal never entered the start stage) and ``start_after_end``.
    """
    window = resolve_window(data, start, end, as_of, calendar)
    return _durations(data, window, start_event, end_event, business_days)


def _durations(data: SalesData, window: Window, start_event: str, end_event: str,
               business_days: bool) -> pd.DataFrame:
    opps = known_at(data, window.as_of)[["opportunity_id", "owner", "team", "amount", "created_at",
                                         "status_asof", "closed_asof"]]
    ended = _event_times(data, opps, end_event, window.as_of, role="end")
    sel = window_mask(ended, window)
    opps, ended = opps[sel], ended[sel]
    started = _event_times(data, opps, start_event, window.as_of, role="start")
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

    Parameters
    ----------
    data : SalesData
        The dataset.
    start, end, as_of : str or Timestamp, optional
        The window ``[start, end)`` and the moment it is seen from.
    period : str or None, default None
        Split by period of the end event.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of periods and date strings.
    by : str or None, default "owner"
        Column to group by, None for the total.
    start_event, end_event, business_days
        See :func:`cycle_durations`.

    Returns
    -------
    DataFrame
        (period columns,) the group column, ``won_count`` (deals measured),
        ``mean_days``, ``median_days``, ``p75_days``, ``p90_days`` (NaN when none).

    Examples
    --------
    >>> import salesnb as sn
    >>> t = sn.sales_cycle(sn.load(sn.sample_path()), start="1403-01-01", end="1404-01-01", by=None)
    >>> bool(t["mean_days"].iloc[0] > 0)
    True
    """
    window = resolve_window(data, start, end, as_of, calendar)
    dur = _durations(data, window, start_event, end_event, business_days)
    col = group_column(by)
    frame = pd.DataFrame({col: group_labels(dur, by), "days": dur["days"]})
    keys, table, lead = split_by_period(data, frame, dur["ended_at"], window, period, col)
    g = frame.groupby(keys, sort=False)["days"]
    summary = pd.concat([
        g.size().rename("won_count"), g.mean().rename("mean_days"), g.median().rename("median_days"),
        g.quantile(0.75).rename("p75_days"), g.quantile(0.9).rename("p90_days"),
    ], axis=1).reset_index()
    groups = all_groups(data, by, window.as_of) if by is not None else [TOTAL]
    out = complete_grid(summary, table, groups, col, ["won_count"])
    out = out[[*lead, col, "won_count", "mean_days", "median_days", "p75_days", "p90_days"]]
    out.attrs["excluded"] = dict(dur.attrs["excluded"])
    return out


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

    Returns
    -------
    DataFrame
        The curve, one row per distinct time per group: the group column, ``days``,
        ``survival`` (share not yet won), ``ci_low``, ``ci_high`` (log-log pointwise
        interval), ``at_risk``, ``events``, ``censored``. ``attrs['medians']`` is a
        DataFrame per group: ``n``, ``events``, ``censored``, ``median_days``,
        ``median_ci_low``, ``median_ci_high`` (NaN when the curve does not reach 0.5).
    """
    window = resolve_window(data, start, end, as_of, calendar)
    spells = _spells(data, window, start_event, end_event, business_days)
    col = group_column(by)
    spells[col] = group_labels(spells, by).to_numpy()
    curves, medians = [], []
    for name, g in spells.groupby(col, sort=True):
        curve, med = _kaplan_meier(g["days"].to_numpy(), g["event"].to_numpy(), confidence)
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


def _spells(data: SalesData, window: Window, start_event: str, end_event: str,
            business_days: bool) -> pd.DataFrame:
    opps = known_at(data, window.as_of)
    started = _event_times(data, opps, start_event, window.as_of, role="start")
    sel = window_mask(started, window)
    opps, started = opps[sel], started[sel]
    ended = _event_times(data, opps, end_event, window.as_of, role="end")
    is_open = (opps["status_asof"] == "open").to_numpy()
    event = ended.notna().to_numpy() & (ended >= started).fillna(False).to_numpy()
    censored = ~event & is_open
    keep = event | censored
    stop = ended.where(event, window.as_of)
    out = opps[keep].copy()
    out["days"] = _elapsed(data, started[keep], stop[keep], business_days).to_numpy()
    out["event"] = event[keep]
    return with_excluded(out, lost_before_end=int((~keep).sum()))


def _kaplan_meier(days: np.ndarray, event: np.ndarray, confidence: float) -> tuple[pd.DataFrame, dict]:
    """Kaplan–Meier curve (scipy.stats.ecdf) plus at-risk table and median with interval."""
    from scipy import stats  # heavy import, only needed here

    days = np.clip(days.astype("float64"), 0, None)
    n, n_events = len(days), int(event.sum())
    summary = {"n": n, "events": n_events, "censored": n - n_events,
               "median_days": np.nan, "median_ci_low": np.nan, "median_ci_high": np.nan}
    times = np.unique(days)
    events_at = np.array([int(event[days == t].sum()) for t in times]) if n < 5000 else \
        pd.Series(event.astype(int)).groupby(days).sum().reindex(times).to_numpy()
    counts_at = pd.Series(1, index=days).groupby(level=0).size().reindex(times).to_numpy()
    at_risk = n - np.concatenate([[0], np.cumsum(counts_at)[:-1]])
    if n_events == 0:
        surv = np.ones(len(times))
        low = high = np.full(len(times), np.nan)
    else:
        sample = stats.CensoredData(uncensored=days[event], right=days[~event])
        sf = stats.ecdf(sample).sf
        surv = sf.evaluate(times)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ci = sf.confidence_interval(confidence_level=confidence, method="log-log")
            low, high = ci.low.evaluate(times), ci.high.evaluate(times)
        summary["median_days"] = _first_below(times, surv)
        summary["median_ci_low"] = _first_below(times, low)
        summary["median_ci_high"] = _first_below(times, high)
    curve = pd.DataFrame({
        "days": times, "survival": surv, "ci_low": low, "ci_high": high,
        "at_risk": at_risk.astype("int64"), "events": events_at.astype("int64"),
        "censored": (counts_at - events_at).astype("int64"),
    })
    return curve, summary


def _first_below(times: np.ndarray, curve: np.ndarray, level: float = 0.5) -> float:
    hit = np.flatnonzero(np.nan_to_num(curve, nan=1.0) <= level)
    return float(times[hit[0]]) if len(hit) else float("nan")


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

    Returns
    -------
    DataFrame
        ``window`` (``current``, ``previous``, ``year_ago``), ``start``, ``end``, the group
        column, ``won_count``, ``mean_days``, ``median_days``, ``km_median_days``, and
        ``change_mean_days`` (current minus that window; 0 for current).
    """
    window = resolve_window(data, start, end, as_of, calendar)
    prev = periods.previous_window(window.start, window.end, calendar=window.calendar)
    year = periods.year_ago_window(window.start, window.end, calendar=window.calendar)
    rows = []
    for name, (s, e, a) in (("current", (window.start, window.end, window.as_of)),
                            ("previous", (*prev, prev[1])), ("year_ago", (*year, year[1]))):
        kw: dict[str, Any] = dict(start=s, end=e, as_of=a, calendar=window.calendar, by=by,
                                  start_event=start_event, end_event=end_event,
                                  business_days=business_days)
        cyc = sales_cycle(data, **kw)
        km = cycle_survival(data, **kw).attrs["medians"]
        col = group_column(by)
        cyc = cyc.merge(km[[col, "median_days"]].rename(columns={"median_days": "km_median_days"}),
                        on=col, how="left")
        cyc.insert(0, "window", name)
        cyc.insert(1, "start", s)
        cyc.insert(2, "end", e)
        rows.append(cyc[["window", "start", "end", col, "won_count", "mean_days", "median_days",
                         "km_median_days"]])
    out = pd.concat(rows, ignore_index=True)
    col = group_column(by)
    current = out[out["window"] == "current"].set_index(col)["mean_days"]
    out["change_mean_days"] = out[col].map(current) - out["mean_days"]
    return out

