"""Question 1 — opportunities: how many is each salesperson working on, and how many enter.

An opportunity is *open at T* when ``created_at <= T`` and it is not closed by T
(``closed_at`` empty or after T), from timestamps, not from today's status.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from salesnb._docstrings import fill_doc
from salesnb._options import PERIODS, check_option
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.data.portable import count_true
from salesnb.metrics._tables import (
    TOTAL,
    all_groups,
    canonical_by,
    complete_grid,
    fetch,
    float_sums,
    group_column,
    group_value,
    grouped,
    in_window,
    micros,
    only_pipelines,
    period_frame,
    split_values,
    with_excluded,
)
from salesnb.metrics.window import TimeLike, Window, resolve_moment, resolve_window

__all__ = ["new_opportunities", "open_opportunities", "open_over_time"]


@fill_doc
def open_opportunities(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    by: str | None = "owner",
    min_share: float = 0.5,
    active_days: float | None = 365,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Count the opportunities open at ``as_of`` per group, and flag who holds too few.

    An opportunity is open at T when ``created_at <= T`` and it is not closed by T.

    Parameters
    ----------
    {data}
    {as_of_moment}
    {by}
    min_share : float, default 0.5
        A salesperson holds *too few* when their open count is below ``min_share``
        times the median open count of their team (of everybody who counts, when
        they have no team). An owner's team is the one on most of their
        opportunities (a tie: the first by name).
    active_days : float or None, default 365
        Who counts: groups with an opportunity open at ``as_of`` or created in the
        ``active_days`` before it (so people who left long ago are not flagged, and
        active people with nothing open show with 0). None: everybody in the data.
    {calendar}
    {pipelines}

    Returns
    -------
    DataFrame
        One row per group: the group column, ``open_count``, ``open_value`` (sum of
        amounts), ``open_without_amount``, (``team``, when grouping by owner and the
        data has teams,) ``team_median`` (the comparison point), ``too_few``. Sorted
        by ``open_count`` descending. ``attrs``: ``as_of``, ``excluded``
        (``inactive_groups``).

    Examples
    --------
    {load_sample}
    >>> table = sn.open_opportunities(data, as_of="1404-08-01")
    >>> list(table.columns)[:3]
    ['owner', 'open_count', 'open_value']
    >>> int(sn.open_opportunities(data, as_of="1404-08-01", by=None)["open_count"].iloc[0])
    331
    """
    data = only_pipelines(data, pipelines)
    at = resolve_moment(data, as_of, calendar)
    return _open_opportunities(data.at(at), by=canonical_by(data, by), min_share=min_share,
                               active_days=active_days)


def _open_opportunities(snap: Snapshot, *, by: str | None, min_share: float = 0.5,
                        active_days: float | None = 365) -> pd.DataFrame:
    data = snap.data
    at = snap.as_of
    col = group_column(by)
    o = snap.table
    known = o.filter(snap.exists(o))
    is_open = ~snap.closed_known(known)
    if active_days is None:
        recent = ibis.literal(True)
    else:
        recent = known.created_at > snap.us - round(float(active_days) * 86_400_000_000)
    t = known.mutate(_g=group_value(known, by), _open=is_open, _recent=recent)
    per = fetch(data, t.group_by("_g").aggregate(
        _active=count_true(t._open | t._recent), open_count=count_true(t._open),
        _with_amount=count_true(t._open & t.amount.notnull())))
    per["_g"] = per["_g"].astype("str")
    opened = t.filter(t._open)
    values = float_sums(data, opened, ["_g"], opened.amount, "open_value")
    active = sorted(per.loc[per["_active"] > 0, "_g"].tolist())
    counts = per.merge(values, on="_g", how="left").rename(columns={"_g": col})
    counts["open_without_amount"] = counts["open_count"] - counts.pop("_with_amount")
    out = pd.DataFrame({col: pd.Series(active, dtype="str")}).merge(
        counts[[col, "open_count", "open_value", "open_without_amount",
                *(["_currency"] if "_currency" in counts.columns else [])]], on=col, how="left")
    out["open_count"] = out["open_count"].fillna(0).astype("int64")
    out["open_without_amount"] = out["open_without_amount"].fillna(0).astype("int64")
    out["open_value"] = out["open_value"].fillna(0.0).astype("float64")
    teams = known.filter(known.team.notnull())
    if by == "owner" and data.engine.one(teams.aggregate(n=teams.count())).get("n"):
        # An owner's team: the one on most of their opportunities (a tie: the first by name).
        pairs = fetch(data, teams.group_by(_g=group_value(teams, by), team=teams.team).aggregate(n=teams.count()))
        team_of = (pairs.astype({"_g": "str", "team": "str"})
                   .sort_values(["_g", "n", "team"], ascending=[True, False, True])
                   .drop_duplicates("_g").set_index("_g")["team"])
        out["team"] = out[col].map(team_of).astype("str")
        everybody = float(out["open_count"].median()) if len(out) else np.nan
        out["team_median"] = (out.groupby("team")["open_count"].transform("median")
                              .astype("float64").fillna(everybody))
    else:
        out["team_median"] = float(out["open_count"].median()) if len(out) else np.nan
    out["too_few"] = (out["open_count"] < min_share * out["team_median"]).fillna(False)
    if by is None:
        out["too_few"] = False
    out = out.sort_values(["open_count", col], ascending=[False, True], ignore_index=True)
    out = split_values(data, out, ["open_value"])
    out.attrs["as_of"] = at
    return with_excluded(out, inactive_groups=int((per["_active"] == 0).sum()))


@fill_doc
def open_over_time(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    period: str = "month",
    calendar: str | None = None,
    by: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Count the opportunities open at the end of each period.

    The snapshot of a period ``[period_start, period_end)`` is taken at
    ``min(period_end, as_of)`` with the open-at-T rule, so the last period of a
    window ending at ``as_of`` equals :func:`open_opportunities` at ``as_of``.

    Parameters
    ----------
    {data}
    {window}
    {period_required}
    {calendar}
    {by_none}
    {pipelines}

    Returns
    -------
    DataFrame
        ``period``, ``period_start``, ``period_end``, the group column, ``snapshot_at``,
        ``open_count``, ``open_value``: a row for every period × group.

    Examples
    --------
    {load_sample}
    >>> t = sn.open_over_time(data, start="1404-01-01", end="1404-04-01")
    >>> t[["period", "open_count"]].values.tolist()
    [['1404-01', 256], ['1404-02', 250], ['1404-03', 267]]
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    return _open_over_time(data.at(window.as_of), window, period=period, by=canonical_by(data, by))


@fill_doc
def new_opportunities(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    period: str = "month",
    calendar: str | None = None,
    by: str | None = "owner",
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Count the opportunities created in each period of the window (``start <= created_at < end``).

    Parameters
    ----------
    {data}
    {window}
    {period_required}
    {calendar}
    {by}
    {pipelines}

    Returns
    -------
    DataFrame
        ``period``, ``period_start``, ``period_end``, the group column, ``created``,
        ``created_value``: a row for every period × group known at ``as_of``, zeros
        included.

    Examples
    --------
    {load_sample}
    >>> t = sn.new_opportunities(data, start="1404-01-01", end="1404-04-01", by=None)
    >>> t[["period", "created"]].values.tolist()
    [['1404-01', 62], ['1404-02', 91], ['1404-03', 95]]
    """
    period = check_option("period", period, PERIODS)  # required here: None is not "no periods"
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    return _new_opportunities(data, window, period=period, by=canonical_by(data, by))


def _new_opportunities(data: SalesData, window: Window, *, period: str, by: str | None) -> pd.DataFrame:
    col = group_column(by)
    o = data.at(window.as_of).table
    created = o.filter(in_window(o.created_at, window))
    t, keys, table, _ = grouped(data, created, by, window, period, "created_at")
    counts = fetch(data, t.group_by(keys).aggregate(created=t.count()))
    values = float_sums(data, t, keys, t.amount, "created_value")
    counts = counts.astype({k: "str" for k in keys}).merge(values, on=keys, how="left")
    groups = all_groups(data.at(window.as_of), by) if by is not None else [TOTAL]
    out = complete_grid(counts, table, groups, col, ["created"])
    out["created_value"] = out["created_value"].fillna(0.0).astype("float64")
    return split_values(data, out[["period", "period_start", "period_end", col, "created", "created_value",
                                   *(["_currency"] if "_currency" in out.columns else [])]], ["created_value"])


def _open_over_time(snap: Snapshot, window: Window, *, period: str, by: str | None) -> pd.DataFrame:
    data = snap.data
    table = period_frame(data, window, period)
    col = group_column(by)
    moments = table["period_end"].where(table["period_end"] <= window.as_of, window.as_of)
    ends = ibis.memtable(pa.table({"period": pa.array([str(p) for p in table["period"]], pa.string()),
                                   "_at": pa.array([micros(t) for t in moments], pa.int64())}))
    o = snap.table
    known = o.filter(snap.exists(o))
    k = known.mutate(_g=group_value(known, by), _closed=snap.closed(known))
    # Open at T: created by T and not closed by T (T = the period's end, or as_of).
    j = k.join(ends, (k.created_at <= ends._at) & (k._closed.isnull() | (k._closed > ends._at)))
    counts = fetch(data, j.group_by(["period", "_g"]).aggregate(open_count=j.count()))
    values = float_sums(data, j, ["period", "_g"], j.amount.fill_null(0.0), "open_value")
    counts = counts.astype({"period": "str", "_g": "str"}).merge(values, on=["period", "_g"], how="left")
    counts = counts.rename(columns={"_g": col})
    groups = all_groups(snap, by) if by is not None else [TOTAL]
    out = complete_grid(counts, table.assign(snapshot_at=moments), groups, col, ["open_count"])
    out["open_value"] = out["open_value"].fillna(0.0).astype("float64")
    return split_values(data, out[["period", "period_start", "period_end", col, "snapshot_at", "open_count",
                                   "open_value", *(["_currency"] if "_currency" in out.columns else [])]],
                        ["open_value"])
