"""Question 2 — won and lost: how many deals each salesperson won and lost, and why.

A deal is *won (lost) in the window* when its status is won (lost) and
``start <= closed_at < end``; a closing after ``as_of`` has not happened yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics._tables import (
    TOTAL,
    UNSPECIFIED,
    all_groups,
    canonical_by,
    closed_frame,
    closed_in_window,
    complete_grid,
    currency_mode,
    fetch,
    group_column,
    group_currencies,
    group_labels,
    only_pipelines,
    split_by_period,
    split_values,
)
from salesnb.metrics.stages import stage_where_lost
from salesnb.metrics.window import TimeLike, Window, resolve_window

__all__ = ["lost_reasons", "won_lost"]


@fill_doc
def won_lost(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    period: str | None = "month",
    calendar: str | None = None,
    by: str | None = "owner",
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Count the deals won and lost per period and group.

    A deal is won (lost) in the window when its status is won (lost) and
    ``start <= closed_at < end``, the closing known at ``as_of``.

    Parameters
    ----------
    {data}
    {window}
    {period}
        Default "month", of ``closed_at``.
    {calendar}
    {by}
    {pipelines}

    Returns
    -------
    DataFrame
        The group column, ``won``, ``lost``, ``closed``, ``won_value``.
        {period_columns}

    Examples
    --------
    {load_sample}
    >>> t = sn.won_lost(data, start="1404-01-01", end="1404-04-01", by=None)
    >>> t[["period", "won", "lost"]].values.tolist()
    [['1404-01', 28, 53], ['1404-02', 28, 69], ['1404-03', 20, 58]]
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    return _won_lost(data.at(window.as_of), window, period=period, by=canonical_by(data, by))


def _won_lost(snap: Snapshot, window: Window, *, period: str | None, by: str | None) -> pd.DataFrame:
    data = snap.data
    col = group_column(by)
    split = currency_mode(data) == "split"
    closed = closed_frame(snap, window, [by, "currency" if split else None])
    won = (closed["status_asof"] == "won").to_numpy()
    frame = pd.DataFrame({
        col: group_labels(closed, by),
        "won": won,
        "lost": (closed["status_asof"] == "lost").to_numpy(),
        "won_value": closed["amount"].where(won).to_numpy(),
    }, index=closed.index)
    keys, table, lead = split_by_period(data, frame, closed["closed_asof"], window, period, col)
    counts = frame.groupby(keys, sort=False).agg(
        won=("won", "sum"), lost=("lost", "sum"), won_value=("won_value", "sum")).reset_index()
    if split:
        counts = counts.merge(group_currencies(frame.assign(currency=closed["currency"]), keys, "won_value"),
                              on=keys, how="left")
    groups = all_groups(snap, by) if by is not None else [TOTAL]
    out = complete_grid(counts, table, groups, col, ["won", "lost"])
    out["closed"] = out["won"] + out["lost"]
    out["won_value"] = out["won_value"].fillna(0.0).astype("float64")
    return split_values(data, out[[*lead, col, "won", "lost", "closed", "won_value",
                                   *(["_currency"] if split else [])]], ["won_value"])


@fill_doc
def lost_reasons(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
    by: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Count the deals lost in the window by reason (and optionally by stage or owner).

    An empty reason is counted as ``(unspecified)``. With ``by="stage"`` the stage is
    the *stage where the deal was lost*: the last open stage it entered before
    closing (from the stage history known at ``as_of``), else its ``stage`` column
    when that names an open stage, else ``(unknown)``.

    Parameters
    ----------
    {data}
    {window}
    {calendar}
    {by_none}
        ``"stage"``: the stage where each deal was lost.
    {pipelines}

    Returns
    -------
    DataFrame
        ``lost_reason``, (the ``by`` column,) ``lost``, ``share`` (of all lost in the
        window), ``lost_value``; sorted by ``lost`` descending.

    Examples
    --------
    {load_sample}
    >>> t = sn.lost_reasons(data, start="1404-01-01", end="1405-01-01")
    >>> t["lost_reason"].iloc[0], int(t["lost"].sum())
    ('no budget', 512)
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    return _lost_reasons(data.at(window.as_of), window, by=canonical_by(data, by))


def _lost_reasons(snap: Snapshot, window: Window, *, by: str | None) -> pd.DataFrame:
    split = currency_mode(snap.data) == "split"
    closed = closed_frame(snap, window, [by if by != "stage" else None, "currency" if split else None])
    lost = closed[(closed["status_asof"] == "lost").to_numpy()]
    frame = pd.DataFrame({"lost_reason": lost["lost_reason"].fillna(UNSPECIFIED), "amount": lost["amount"]},
                         index=lost.index)
    keys = ["lost_reason"]
    if by == "stage":
        frame["stage"] = _stage_where_lost(snap, window, lost)
        keys.append("stage")
    elif by is not None:
        frame[by] = group_labels(lost, by)
        keys.append(by)
    out = frame.groupby(keys, sort=False).agg(lost=("amount", "size"), lost_value=("amount", "sum"))
    out = out.reset_index()
    if split:
        out = out.merge(group_currencies(frame.assign(currency=lost["currency"]), keys, "amount"),
                        on=keys, how="left")
    total = int(out["lost"].sum())
    out["share"] = out["lost"] / total if total else np.nan
    out = out.sort_values(["lost", *keys], ascending=[False, *[True] * len(keys)], ignore_index=True)
    return split_values(snap.data, out[[*keys, "lost", "share", "lost_value", *(["_currency"] if split else [])]],
                        ["lost_value"])


def _stage_where_lost(snap: Snapshot, window: Window, lost: pd.DataFrame) -> pd.Series:
    """The stage each lost deal (rows of the closed frame) was lost in (see
    :func:`~salesnb.metrics.stages.stage_where_lost`)."""
    closed = closed_in_window(snap, window)
    gone = closed.filter(closed.status_asof == "lost")
    joined, stage = stage_where_lost(snap, gone)
    found = fetch(snap.data, joined.select("_row", _where=stage))
    where = pd.Series(found["_where"].to_numpy(), index=found["_row"].to_numpy())
    return pd.Series(where.reindex(lost["_row"].to_numpy()).to_numpy(), index=lost.index, dtype="str")
