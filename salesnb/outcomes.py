"""Question 2 — won and lost: how many deals each salesperson won and lost, and why.

A deal is *won (lost) in the window* when its status is won (lost) and
``start <= closed_at < end``; a closing after ``as_of`` has not happened yet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb._common import (
    TOTAL,
    UNSPECIFIED,
    TimeLike,
    Window,
    all_groups,
    complete_grid,
    group_column,
    group_labels,
    known_in_window,
    resolve_window,
    split_by_period,
)
from salesnb.data import SalesData
from salesnb.stages import stage_where_lost

__all__ = ["closed_in_window", "lost_reasons", "won_lost"]


def closed_in_window(data: SalesData, window: Window,
                     columns: list[str | None] | None = None) -> pd.DataFrame:
    """Return the deals won or lost in the window, as known at ``window.as_of``.

    ``columns`` limits the copy to the columns the caller reads (None: all).
    """
    return known_in_window(data, window, "closed", columns)


def won_lost(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    period: str | None = "month",
    calendar: str | None = None,
    by: str | None = "owner",
) -> pd.DataFrame:
    """Count the deals won and lost per period and group.

    Parameters
    ----------
    data : SalesData
        The dataset.
    start, end : str or Timestamp, optional
        The window ``[start, end)``; strings are read in ``calendar``.
    as_of : str or Timestamp, optional
        The moment the window is seen from (default ``end``; not before it).
    period : {"day", "week", "month", "quarter", "year"} or None, default "month"
        Period of ``closed_at``; None for one row per group over the whole window.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of the periods and of date strings (default: the dataset's).
    by : str or None, default "owner"
        Column to group by, None for the total.

    Returns
    -------
    DataFrame
        (``period``, ``period_start``, ``period_end``,) the group column, ``won``,
        ``lost``, ``closed``, ``won_value`` — a row for every period × group known at
        ``as_of``.

    Examples
    --------
    >>> import salesnb as sn
    >>> t = sn.won_lost(sn.load(sn.sample_path()), start="1404-01-01", end="1404-04-01", by=None)
    >>> t["period"].tolist()
    ['1404-01', '1404-02', '1404-03']
    """
    window = resolve_window(data, start, end, as_of, calendar)
    col = group_column(by)
    closed = closed_in_window(data, window, [by, "status_asof", "amount", "closed_asof"])
    frame = pd.DataFrame({
        col: group_labels(closed, by),
        "won": (closed["status_asof"] == "won").to_numpy(),
        "lost": (closed["status_asof"] == "lost").to_numpy(),
        "won_value": closed["amount"].where(closed["status_asof"] == "won").to_numpy(),
    }, index=closed.index)
    keys, table, lead = split_by_period(data, frame, closed["closed_asof"], window, period, col)
    counts = frame.groupby(keys, sort=False).agg(
        won=("won", "sum"), lost=("lost", "sum"), won_value=("won_value", "sum")).reset_index()
    groups = all_groups(data, by, window.as_of) if by is not None else [TOTAL]
    out = complete_grid(counts, table, groups, col, ["won", "lost"])
    out["closed"] = out["won"] + out["lost"]
    out["won_value"] = out["won_value"].fillna(0.0)
    return out[[*lead, col, "won", "lost", "closed", "won_value"]]


def lost_reasons(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Count the deals lost in the window by reason (and optionally by stage or owner).

    An empty reason is counted as ``(unspecified)``. With ``by="stage"`` the stage is
    the *stage where the deal was lost*: the last open stage it entered before
    closing (from the stage history known at ``as_of``), else its ``stage`` column
    when that names an open stage, else ``(unknown)``.

    Returns
    -------
    DataFrame
        ``lost_reason``, (the ``by`` column,) ``lost``, ``share`` (of all lost in the
        window), ``lost_value``; sorted by ``lost`` descending.
    """
    window = resolve_window(data, start, end, as_of, calendar)
    closed = closed_in_window(data, window, ["status_asof", "lost_reason", "amount", "stage",
                                             by if by != "stage" else None])
    lost = closed[(closed["status_asof"] == "lost").to_numpy()]
    frame = pd.DataFrame({
        "lost_reason": lost["lost_reason"].fillna(UNSPECIFIED),
        "amount": lost["amount"],
    }, index=lost.index)
    keys = ["lost_reason"]
    if by == "stage":
        frame["stage"] = stage_where_lost(data, lost, window.as_of)
        keys.append("stage")
    elif by is not None:
        frame[by] = group_labels(lost, by)
        keys.append(by)
    out = frame.groupby(keys, sort=False).agg(lost=("amount", "size"), lost_value=("amount", "sum"))
    out = out.reset_index()
    total = int(out["lost"].sum())
    out["share"] = out["lost"] / total if total else np.nan
    out = out.sort_values(["lost", *keys], ascending=[False, *[True] * len(keys)], ignore_index=True)
    return out[[*keys, "lost", "share", "lost_value"]]

