"""Question 4a — win rate, on two bases, with Wilson confidence intervals.

* ``basis="closed"`` (default): won in window / (won + lost in window).
* ``basis="created"`` (cohort): of the opportunities created in the window, the
  share won by ``as_of``; those still open at ``as_of`` stay in the denominator and
  their share is reported as ``open_share``.

A rate with an empty denominator is missing (NaN), never 0.
"""

from __future__ import annotations

import pandas as pd

from salesnb._common import (
    TOTAL,
    TimeLike,
    all_groups,
    check_choice,
    complete_grid,
    group_column,
    group_labels,
    known_in_window,
    ratio,
    resolve_window,
    split_by_period,
    wilson_interval,
)
from salesnb.data import SalesData
from salesnb.outcomes import closed_in_window

__all__ = ["win_rate"]

BASES = ("closed", "created")


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
) -> pd.DataFrame:
    """Compute the win rate per group (and period) with its Wilson interval.

    Parameters
    ----------
    data : SalesData
        The dataset.
    start, end, as_of : str or Timestamp, optional
        The window ``[start, end)`` and the moment it is seen from.
    basis : {"closed", "created"}, default "closed"
        ``closed``: deals closed in the window; ``created``: the cohort created in it.
    period : str or None, default None
        Split by period (of ``closed_at`` for the closed basis, of ``created_at`` for
        the cohort basis).
    calendar : {"gregorian", "jalali"}, optional
        Calendar of periods and date strings.
    by : str or None, default "owner"
        Column to group by, None for the total.
    confidence : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    DataFrame
        (period columns,) the group column, ``won``, ``lost``, ``open`` (cohort basis:
        still open at ``as_of``; 0 for the closed basis), ``n`` (the denominator),
        ``win_rate``, ``ci_low``, ``ci_high``, ``open_share`` (cohort basis only, NaN
        otherwise).

    Examples
    --------
    >>> import salesnb as sn
    >>> t = sn.win_rate(sn.load(sn.sample_path()), start="1404-01-01", end="1405-01-01", by=None)
    >>> bool(0 < t["win_rate"].iloc[0] < 1)
    True
    """
    check_choice(basis, BASES, "basis")
    window = resolve_window(data, start, end, as_of, calendar)
    col = group_column(by)
    if basis == "closed":
        rows = closed_in_window(data, window, [by, "status_asof", "closed_asof"])
        when = rows["closed_asof"]
    else:
        rows = known_in_window(data, window, "created", [by, "status_asof", "created_at"])
        when = rows["created_at"]
    frame = pd.DataFrame({
        col: group_labels(rows, by),
        "won": (rows["status_asof"] == "won").to_numpy(),
        "lost": (rows["status_asof"] == "lost").to_numpy(),
        "open": (rows["status_asof"] == "open").to_numpy(),
    }, index=rows.index)
    keys, table, lead = split_by_period(data, frame, when, window, period, col)
    counts = frame.groupby(keys, sort=False)[["won", "lost", "open"]].sum().reset_index()
    groups = all_groups(data, by, window.as_of) if by is not None else [TOTAL]
    out = complete_grid(counts, table, groups, col, ["won", "lost", "open"])
    out["n"] = out["won"] + out["lost"] + out["open"]
    out["win_rate"] = ratio(out["won"], out["n"])
    out["ci_low"], out["ci_high"] = wilson_interval(out["won"].to_numpy(), out["n"].to_numpy(),
                                                    confidence)
    out["open_share"] = ratio(out["open"], out["n"]) if basis == "created" else float("nan")
    out = out[[*lead, col, "won", "lost", "open", "n", "win_rate", "ci_low", "ci_high", "open_share"]]
    out.attrs["basis"] = basis
    return out
