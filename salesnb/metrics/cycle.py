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

from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from salesnb import periods
from salesnb._docstrings import fill_doc
from salesnb._options import check_option
from salesnb.data import portable as P
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.data.portable import count_true
from salesnb.data.validation import LOST_CODE, WON_CODE
from salesnb.metrics._tables import (
    TOTAL,
    US_PER_DAY,
    all_groups,
    assign,
    canonical_by,
    closed_frame,
    complete_grid,
    days,
    fetch,
    group_column,
    group_labels,
    group_value,
    in_window,
    only_pipelines,
    period_frame,
    split_by_period,
    summarize,
    with_excluded,
    with_period,
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


def _first_entry(snap: Snapshot, stage: str) -> ibis.Table:
    """First entry time into ``stage`` per opportunity (``opp_key``, ``_t``), known at ``as_of``."""
    s = snap.data.settings
    code = WON_CODE if stage == s.won else LOST_CODE if stage == s.lost else list(s.stages).index(stage)
    h = snap.entries
    h = h.filter(h.position == code)
    return h.group_by("opp_key").aggregate(_t=h.entered_at.min())






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
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return the cycle length of each deal whose end event falls in the window.

    Parameters
    ----------
    {data}
    {window}
    {calendar}
    {cycle_events}
    {pipelines}

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
    data = only_pipelines(data, pipelines)
    start_event, end_event = check_events(data, start_event, end_event)
    window = resolve_window(data, start, end, as_of, calendar)
    return _durations(data.at(window.as_of), window, start_event, end_event, business_days)


def _durations(snap: Snapshot, window: Window, start_event: str, end_event: str,
               business_days: bool) -> pd.DataFrame:
    t, no_start, backwards = _durations_table(snap, window, start_event, end_event)
    parts: list[str] = []
    if business_days:
        t, parts = _business_days(snap, t, "_start", "_end")
    rows = fetch(snap.data, t.select("opportunity_id", "owner", "team", "amount", "closed_asof",
                                     "_start", "_end", "_dur", *parts, _r=t._row).order_by("_r"))
    tz = snap.data.settings.timezone
    from salesnb.data.frames import micros_to_times

    out = pd.DataFrame({
        "opportunity_id": rows["opportunity_id"],
        "owner": rows["owner"],
        "team": rows["team"],
        "amount": rows["amount"].astype("float64"),
        "closed_at": rows["closed_asof"],
        "started_at": micros_to_times(pa.array(rows["_start"].to_numpy(dtype="int64")), tz),
        "ended_at": micros_to_times(pa.array(rows["_end"].to_numpy(dtype="int64")), tz),
        "days": _business_values(rows) if business_days else days(rows["_dur"]),
    })
    out.attrs["window"] = window
    return with_excluded(out.reset_index(drop=True), no_start_event=no_start, start_after_end=backwards)


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
    pipelines: Sequence[str] | None = None,
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
    {pipelines}

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
    data = only_pipelines(data, pipelines)
    start_event, end_event = check_events(data, start_event, end_event)
    window = resolve_window(data, start, end, as_of, calendar)
    return _sales_cycle(data.at(window.as_of), window, period=period, by=canonical_by(data, by),
                        start_event=start_event, end_event=end_event, business_days=business_days)


def _sales_cycle(snap: Snapshot, window: Window, *, period: str | None, by: str | None,
                 start_event: str = "created", end_event: str = "won",
                 business_days: bool = False) -> pd.DataFrame:
    data = snap.data
    col = group_column(by)
    table = period_frame(data, window, period) if period is not None else None
    keys = ["period", col] if period is not None else [col]
    lead = ["period", "period_start", "period_end"] if period is not None else []
    if start_event == "created" and end_event == "won" and not business_days:
        # The plain cycle: from the deals closed in the window, fetched once per window.
        closed = closed_frame(snap, window, [by])
        won = closed[(closed["status_asof"] == "won").to_numpy()]
        frame = pd.DataFrame({col: group_labels(won, by), "days": days_between(won["created_at"],
                                                                              won["closed_asof"])})
        keys, table, lead = split_by_period(data, frame, won["closed_asof"], window, period, col)
        g = frame.groupby(keys, sort=False)["days"]
        summary = pd.concat([
            g.size().rename("won_count"), g.mean().rename("mean_days"), g.median().rename("median_days"),
            g.quantile(0.75).rename("p75_days"), g.quantile(0.9).rename("p90_days"),
        ], axis=1).reset_index()
        excluded = {"no_start_event": 0, "start_after_end": 0}
    elif business_days:
        dur = _durations(snap, window, start_event, end_event, True)
        excluded = dict(dur.attrs["excluded"])
        o = snap.table
        labels = fetch(data, o.select("opportunity_id", _g=group_value(o, by)))
        frame = pd.DataFrame({col: dur["opportunity_id"].map(
            dict(zip(labels["opportunity_id"], labels["_g"], strict=True))).astype("str"), "days": dur["days"]})
        if period is not None:
            frame["period"] = assign(data, dur["ended_at"], window, period)
        g = frame.groupby(keys, sort=False)["days"]
        summary = pd.concat([
            g.size().rename("won_count"), g.mean().rename("mean_days"), g.median().rename("median_days"),
            g.quantile(0.75).rename("p75_days"), g.quantile(0.9).rename("p90_days"),
        ], axis=1).reset_index()
    else:
        t, no_start, backwards = _durations_table(snap, window, start_event, end_event)
        excluded = {"no_start_event": no_start, "start_after_end": backwards}
        t = t.mutate(**{col: group_value(t, by)})
        if table is not None:
            t = with_period(t, "_end", table)
        summary = summarize(data, t, keys, "_dur", mean="mean_days", count="won_count",
                            quantiles={"median_days": 0.5, "p75_days": 0.75, "p90_days": 0.9})
        for c in ("mean_days", "median_days", "p75_days", "p90_days"):
            summary[c] = summary[c].astype("float64") / US_PER_DAY
    groups = all_groups(snap, by) if by is not None else [TOTAL]
    out = complete_grid(summary, table, groups, col, ["won_count"])
    for c in ("mean_days", "median_days", "p75_days", "p90_days"):
        out[c] = out[c].astype("float64")
    out = out[[*lead, col, "won_count", "mean_days", "median_days", "p75_days", "p90_days"]]
    out.attrs["excluded"] = excluded
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
    pipelines: Sequence[str] | None = None,
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
    {pipelines}

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
    data = only_pipelines(data, pipelines)
    start_event, end_event = check_events(data, start_event, end_event)
    window = resolve_window(data, start, end, as_of, calendar)
    return _cycle_survival(data.at(window.as_of), window, by=canonical_by(data, by),
                           start_event=start_event, end_event=end_event,
                           business_days=business_days, confidence=confidence)


def _cycle_survival(snap: Snapshot, window: Window, *, by: str | None, start_event: str = "created",
                    end_event: str = "won", business_days: bool = False,
                    confidence: float = 0.95) -> pd.DataFrame:
    spells = _spells(snap, window, start_event, end_event, business_days, by)
    col = group_column(by)
    curves, medians = [], []
    for name, g in spells.groupby("group", sort=True):
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
            business_days: bool, by: str | None = None) -> pd.DataFrame:
    """The opportunities whose start event falls in the window: ``days`` to the end event
    (``event``) or to ``as_of`` (censored: still open); lost before the end event: left out
    and counted. ``group``: the group label of ``by``."""
    o = snap.table
    known = o.filter(snap.exists(o))
    t = known.mutate(status_asof=snap.status(known), closed_asof=snap.closed(known))
    t = _event(snap, t, start_event, role="start")
    t = t.filter(in_window(t._start, window))
    t = _event(snap, t, end_event, role="end")
    event = t._end.notnull() & (t._end >= t._start).fill_null(False)
    censored = ~event & (t.status_asof == "open")
    t = t.mutate(_is_event=event, _keep=event | censored,
                 _stop=ibis.ifelse(event, t._end, ibis.literal(snap.us, "int64")))
    left_out = int(snap.data.engine.one(t.aggregate(n=count_true(~t._keep))).get("n") or 0)
    keep = t.filter(t._keep)
    keep = keep.mutate(_dur=keep._stop - keep._start)
    parts: list[str] = []
    if business_days:
        keep, parts = _business_days(snap, keep, "_start", "_stop")
    rows = fetch(snap.data, keep.select(*parts, group=group_value(keep, by), event=keep._is_event,
                                        _dur=keep._dur, _r=keep._row).order_by("_r"))
    rows["days"] = _business_values(rows) if business_days else days(rows["_dur"])
    rows["group"] = rows["group"].astype("str")
    rows["event"] = rows["event"].astype(bool)
    return with_excluded(rows[["group", "days", "event"]], lost_before_end=left_out)


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
    pipelines: Sequence[str] | None = None,
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
    {pipelines}

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
    data = only_pipelines(data, pipelines)
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


def _business_days(snap: Snapshot, t: ibis.Table, start: str, end: str) -> tuple[ibis.Table, list[str]]:
    """``t`` with what the business days from ``start`` to ``end`` are computed from.

    The calendar of local days (business or not, and how many business days come
    before each) is built in Python from the weekend and holidays of the settings and
    joined in the engine on each instant's local day; the engine returns integers only
    (whole business days and the wall-clock part of the first and last day), and
    :func:`_business_values` finishes in Python, as
    :func:`salesnb.periods.business_days_between` does.
    """
    s = snap.data.settings
    zone = s.timezone
    span = snap.data.engine.one(t.aggregate(lo=ibis.least(t[start].min(), t[end].min()),
                                            hi=ibis.greatest(t[start].max(), t[end].max())))
    lo: int = int(span.get("lo") or 0)
    hi: int = int(span.get("hi") or 0)
    offset = 3 * US_PER_DAY  # any zone's offset is less than a day: a safe margin
    first_day, last_day = (lo - offset) // US_PER_DAY, (hi + offset) // US_PER_DAY
    calendar = _day_calendar(first_day, last_day, s.weekend, s.holidays)
    t = t.mutate(_ls=P.utc_to_local(t[start], zone, lo=lo, hi=hi), _le=P.utc_to_local(t[end], zone, lo=lo, hi=hi))
    t = t.mutate(_ds=(t._ls // US_PER_DAY).cast("int64"), _de=(t._le // US_PER_DAY).cast("int64"))
    cal_s = calendar.select(_cs_day="day", _cs_bus="bus", _cs_cum="cum")
    cal_e = calendar.select(_ce_day="day", _ce_bus="bus", _ce_cum="cum")
    t = t.left_join(cal_s, t._ds == cal_s._cs_day).left_join(cal_e, ibis._._de == cal_e._ce_day)
    t = t.mutate(_bd_whole=t._ce_cum - t._cs_cum, _bd_s_bus=t._cs_bus, _bd_s_frac=t._ls - t._ds * US_PER_DAY,
                 _bd_e_bus=t._ce_bus, _bd_e_frac=t._le - t._de * US_PER_DAY)
    parts = ["_bd_whole", "_bd_s_bus", "_bd_s_frac", "_bd_e_bus", "_bd_e_frac"]
    return t, parts


def _durations_table(snap: Snapshot, window: Window, start_event: str, end_event: str
                     ) -> tuple[ibis.Table, int, int]:
    """The deals whose end event falls in the window, with ``_start``, ``_end`` and ``_dur``
    (microseconds), and how many were left out: no start event, start after end."""
    o = snap.table
    known = o.filter(snap.exists(o))
    t = known.mutate(status_asof=snap.status(known), closed_asof=snap.closed(known))
    t = _event(snap, t, end_event, role="end")
    t = t.filter(in_window(t._end, window))
    t = _event(snap, t, start_event, role="start")
    left_out = snap.data.engine.one(t.aggregate(no_start=count_true(t._start.isnull()),
                                                backwards=count_true(t._start > t._end)))
    keep = t.filter(t._start.notnull() & (t._start <= t._end))
    return (keep.mutate(_dur=keep._end - keep._start), int(left_out.get("no_start") or 0),
            int(left_out.get("backwards") or 0))


def _day_calendar(first_day: int, last_day: int, weekend: Any, holidays: Any) -> ibis.Table:
    """Local days ``first_day..last_day`` (days since 1970-01-01): ``day``, ``bus`` (1 for a
    business day), ``cum`` (business days before it), as an engine table."""
    from salesnb.periods import _holiday_dates  # the one reader of the settings' holidays

    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    off = {str(d).lower() for d in ([weekend] if isinstance(weekend, str) else weekend)}
    calendar = np.busdaycalendar(weekmask=[0 if d in off else 1 for d in weekdays],
                                 holidays=_holiday_dates(holidays))
    day_numbers = np.arange(first_day, last_day + 1, dtype="int64")
    business = np.is_busday(day_numbers.astype("M8[D]"), busdaycal=calendar).astype("int64")
    before = np.concatenate([[0], np.cumsum(business)[:-1]]).astype("int64")
    return ibis.memtable(pa.table({"day": day_numbers, "bus": business, "cum": before}))


def days_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Elapsed days (seconds / 86400, fractional) from ``start`` to ``end``."""
    return (end - start).dt.total_seconds() / 86_400.0


def _business_values(rows: pd.DataFrame) -> np.ndarray:
    """Business days from the integer parts of :func:`_business_days` (fractions by wall clock)."""
    day = np.float64(US_PER_DAY)
    whole = rows["_bd_whole"].to_numpy(dtype="float64")
    start_frac = rows["_bd_s_frac"].to_numpy(dtype="float64") / day
    end_frac = rows["_bd_e_frac"].to_numpy(dtype="float64") / day
    return (whole - rows["_bd_s_bus"].to_numpy(dtype="float64") * start_frac
            + rows["_bd_e_bus"].to_numpy(dtype="float64") * end_frac)


def _event(snap: Snapshot, t: ibis.Table, event: str, *, role: str) -> ibis.Table:
    """``t`` with ``_start`` or ``_end``: the time of the event (NULL when it did not happen)."""
    name = f"_{role}"
    if role == "start" and event == "created":
        return t.mutate(**{name: t.created_at})
    if role == "end" and event == "won":
        return t.mutate(**{name: ibis.ifelse(t.status_asof == "won", t.closed_asof, ibis.null("int64"))})
    first = _first_entry(snap, event)
    first = first.select(**{f"{name}_k": first.opp_key, name: first._t})
    joined = t.left_join(first, t._row == first[f"{name}_k"])
    return joined.drop(f"{name}_k")
