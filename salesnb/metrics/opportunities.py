"""Question 1 — opportunities: how many is each salesperson working on, and how many enter.

An opportunity is *open at T* when ``created_at <= T`` and it is not closed by T
(``closed_at`` empty or after T), from timestamps, not from today's status.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb._arrays import utc_nanos as utc_ns
from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics._tables import (
    TOTAL,
    all_groups,
    assign,
    canonical_by,
    complete_grid,
    group_column,
    group_labels,
    period_frame,
    window_mask,
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
    at = resolve_moment(data, as_of, calendar)
    return _open_opportunities(data.at(at), by=canonical_by(data, by), min_share=min_share,
                               active_days=active_days)


def _open_opportunities(snap: Snapshot, *, by: str | None, min_share: float = 0.5,
                        active_days: float | None = 365) -> pd.DataFrame:
    at = snap.as_of
    opps = snap.opportunities
    col = group_column(by)
    groups = group_labels(opps, by)
    is_open = (opps["status_asof"] == "open").to_numpy()
    if active_days is None:
        recent = np.ones(len(opps), dtype=bool)
    else:
        recent = (opps["created_at"] > at - pd.Timedelta(days=active_days)).to_numpy()
    active = pd.unique(groups[is_open | recent])
    frame = pd.DataFrame({
        col: groups[is_open],
        "amount": opps.loc[is_open, "amount"],
    })
    counts = frame.groupby(col, sort=False).agg(
        open_count=("amount", "size"),
        open_value=("amount", "sum"),
        with_amount=("amount", "count"),
    ).reset_index()
    counts["open_without_amount"] = counts["open_count"] - counts.pop("with_amount")
    out = pd.DataFrame({col: pd.Series(sorted(active), dtype="str")}).merge(
        counts, on=col, how="left")
    out["open_count"] = out["open_count"].fillna(0).astype("int64")
    out["open_without_amount"] = out["open_without_amount"].fillna(0).astype("int64")
    out["open_value"] = out["open_value"].fillna(0.0)
    if by == "owner" and opps["team"].notna().any():
        # An owner's team: the one on most of their opportunities (a tie: the first by name).
        team_of = (opps.assign(_g=groups).dropna(subset=["team"])
                   .groupby(["_g", "team"]).size().rename("n").reset_index()
                   .sort_values(["_g", "n", "team"], ascending=[True, False, True])
                   .drop_duplicates("_g").set_index("_g")["team"])
        out["team"] = out[col].map(team_of)
        everybody = float(out["open_count"].median()) if len(out) else np.nan
        out["team_median"] = (out.groupby("team")["open_count"].transform("median")
                              .astype("float64").fillna(everybody))
    else:
        out["team_median"] = float(out["open_count"].median()) if len(out) else np.nan
    out["too_few"] = (out["open_count"] < min_share * out["team_median"]).fillna(False)
    if by is None:
        out["too_few"] = False
    out = out.sort_values(["open_count", col], ascending=[False, True], ignore_index=True)
    out.attrs["as_of"] = at
    inactive = int(pd.Series(groups).nunique() - len(active))
    return with_excluded(out, inactive_groups=inactive)


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
    window = resolve_window(data, start, end, as_of, calendar)
    by = canonical_by(data, by)
    table = period_frame(data, window, period)
    col = group_column(by)
    opps = data.at(window.as_of).opportunities
    groups = group_labels(opps, by)
    snap = table["period_end"].where(table["period_end"] <= window.as_of, window.as_of)
    snap_ns = utc_ns(snap)
    rows = []
    created_ns = utc_ns(opps["created_at"])
    closed = opps["closed_asof"]
    closed_ns = np.where(closed.notna(), utc_ns(closed.fillna(window.as_of)), np.iinfo("int64").max)
    amount = opps["amount"].fillna(0.0).to_numpy()
    for name, idx in pd.Series(np.arange(len(opps))).groupby(groups.to_numpy(), sort=True):
        pos = idx.to_numpy()
        # Open at T = created by T minus closed by T (a deal closed by T was created by T).
        # Counts and values come from sorted times and cumulative sums: O(n log n).
        c_order = np.argsort(created_ns[pos], kind="stable")
        k_order = np.argsort(closed_ns[pos], kind="stable")
        c_sorted, k_sorted = created_ns[pos][c_order], closed_ns[pos][k_order]
        c_cum = np.concatenate([[0.0], np.cumsum(amount[pos][c_order])])
        k_cum = np.concatenate([[0.0], np.cumsum(amount[pos][k_order])])
        n_created = np.searchsorted(c_sorted, snap_ns, side="right")
        n_closed = np.searchsorted(k_sorted, snap_ns, side="right")
        rows.append(pd.DataFrame({
            "period": table["period"], col: name,
            "open_count": (n_created - n_closed).astype("int64"),
            "open_value": c_cum[n_created] - k_cum[n_closed],
        }))
    counts_frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        {"period": pd.Series(dtype="str"), col: pd.Series(dtype="str"),
         "open_count": pd.Series(dtype="int64"), "open_value": pd.Series(dtype="float64")})
    groups_all = sorted(set(groups)) if by is not None else [TOTAL]
    out = complete_grid(counts_frame, table.assign(snapshot_at=snap), groups_all, col, ["open_count"])
    out["open_value"] = out["open_value"].fillna(0.0)
    return out[["period", "period_start", "period_end", col, "snapshot_at", "open_count", "open_value"]]


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
) -> pd.DataFrame:
    """Count the opportunities created in each period of the window (``start <= created_at < end``).

    Parameters
    ----------
    {data}
    {window}
    {period_required}
    {calendar}
    {by}

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
    window = resolve_window(data, start, end, as_of, calendar)
    return _new_opportunities(data, window, period=period, by=canonical_by(data, by))


def _new_opportunities(data: SalesData, window: Window, *, period: str, by: str | None) -> pd.DataFrame:
    table = period_frame(data, window, period)
    col = group_column(by)
    opps = data.opportunities
    inside = window_mask(opps["created_at"], window)
    sel = opps[inside]
    frame = pd.DataFrame({
        "period": assign(data, sel["created_at"], window, period),
        col: group_labels(sel, by),
        "amount": sel["amount"],
    })
    counts = frame.groupby(["period", col], sort=False).agg(
        created=("amount", "size"), created_value=("amount", "sum")).reset_index()
    groups = all_groups(data.at(window.as_of), by) if by is not None else [TOTAL]
    out = complete_grid(counts, table, groups, col, ["created"])
    out["created_value"] = out["created_value"].fillna(0.0)
    return out
