"""Question 4a — win rate, on two bases, with Wilson confidence intervals.

* ``basis="closed"`` (default): won in window / (won + lost in window).
* ``basis="created"`` (cohort): of the opportunities created in the window, the
  share won by ``as_of``; those still open at ``as_of`` stay in the denominator and
  their share is reported as ``open_share``.

A rate with an empty denominator is missing (NaN), never 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb._options import check_option
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.data.portable import count_true
from salesnb.metrics._tables import (
    TOTAL,
    all_groups,
    canonical_by,
    closed_frame,
    complete_grid,
    created_in_window,
    fetch,
    group_column,
    group_labels,
    grouped,
    only_pipelines,
    ratio,
    split_by_period,
)
from salesnb.metrics.statistics import wilson_interval
from salesnb.metrics.window import TimeLike, Window, resolve_window

__all__ = ["win_rate"]

BASES = ("closed", "created")


@fill_doc
def win_rate(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    basis: str = "closed",
    period: str | None = None,
    calendar: str | None = None,
    by: str | None = "owner",
    confidence: float = 0.95,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compute the win rate per group (and period) with its Wilson interval.

    A rate with an empty denominator is missing (NaN), never 0.

    Parameters
    ----------
    {data}
    {window}
    basis : {"closed", "created"}, default "closed"
        ``closed``: won / (won + lost) of the deals closed in the window; ``created``:
        of the cohort created in the window, the share won by ``as_of`` (those still
        open stay in the denominator).
    {period}
        Default None; of ``closed_at`` for the closed basis, of ``created_at`` for
        the cohort basis.
    {calendar}
    {by}
    {confidence}
    {pipelines}

    Returns
    -------
    DataFrame
        The group column, ``won``, ``lost``, ``open`` (cohort basis: still open at
        ``as_of``; 0 for the closed basis), ``n`` (the denominator), ``win_rate``,
        ``ci_low``, ``ci_high``, ``open_share`` (cohort basis only, NaN otherwise).
        {period_columns}
        ``attrs['basis']`` is the basis.

    Examples
    --------
    {load_sample}
    >>> t = sn.win_rate(data, start="1404-01-01", end="1405-01-01", by=None)
    >>> round(float(t["win_rate"].iloc[0]), 3), int(t["n"].iloc[0])
    (0.284, 715)
    """
    data = only_pipelines(data, pipelines)
    basis = check_option("basis", basis, BASES)
    window = resolve_window(data, start, end, as_of, calendar)
    return _win_rate(data.at(window.as_of), window, basis=basis, period=period,
                     by=canonical_by(data, by), confidence=confidence)


def _win_rate(snap: Snapshot, window: Window, *, basis: str, period: str | None, by: str | None,
              confidence: float = 0.95) -> pd.DataFrame:
    data = snap.data
    col = group_column(by)
    if basis == "closed":
        rows = closed_frame(snap, window, [by])
        frame = pd.DataFrame({
            col: group_labels(rows, by),
            "won": (rows["status_asof"] == "won").to_numpy(),
            "lost": (rows["status_asof"] == "lost").to_numpy(),
            "open": np.zeros(len(rows), dtype=bool),
        }, index=rows.index)
        keys, table, lead = split_by_period(data, frame, rows["closed_asof"], window, period, col)
        counts = frame.groupby(keys, sort=False)[["won", "lost", "open"]].sum().reset_index()
    else:
        t, keys, table, lead = grouped(data, created_in_window(snap, window), by, window, period, "created_at")
        counts = fetch(data, t.group_by(keys).aggregate(
            won=count_true(t.status_asof == "won"), lost=count_true(t.status_asof == "lost"),
            open=count_true(t.status_asof == "open")))
    groups = all_groups(snap, by) if by is not None else [TOTAL]
    out = complete_grid(counts, table, groups, col, ["won", "lost", "open"])
    out["n"] = out["won"] + out["lost"] + out["open"]
    out["win_rate"] = ratio(out["won"], out["n"])
    out["ci_low"], out["ci_high"] = wilson_interval(out["won"].to_numpy(), out["n"].to_numpy(),
                                                    confidence)
    out["open_share"] = ratio(out["open"], out["n"]) if basis == "created" else float("nan")
    out = out[[*lead, col, "won", "lost", "open", "n", "win_rate", "ci_low", "ci_high", "open_share"]]
    out.attrs["basis"] = basis
    return out
