"""Building blocks of the KPI tables: window rows, groups, periods, grids, ratios.

Private machinery of the metrics modules. Every function here works on a resolved
:class:`~salesnb.metrics.window.Window` and a :class:`~salesnb.data.dataset.Snapshot`
(the data as known at ``window.as_of``): nothing after ``as_of`` has happened.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from salesnb import periods
from salesnb._options import PERIODS, check_option
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics.window import Window

#: Label used for an empty group value (no team, no reason...).
NONE_LABEL = "(none)"
UNSPECIFIED = "(unspecified)"
TOTAL = "(all)"
NANOS_PER_DAY = 86_400 * 1_000_000_000


# --------------------------------------------------------------------------- as_of replay
def known_in_window(snap: Snapshot, window: Window, which: str,
                    columns: list[str | None] | None = None) -> pd.DataFrame:
    """Return the opportunities known at ``window.as_of`` that belong to the window.

    ``which="created"``: the cohort created in ``[start, end)``; ``"closed"``: the
    deals won or lost in it (closed by ``as_of``). ``columns`` (None entries are
    skipped, so an optional ``by`` can be passed as is) limits the copy to what the
    caller reads: on millions of rows, copying every text column is what costs. The
    rows are kept with the snapshot per window; the index is the opportunity's row.
    """
    opps = snap.opportunities

    def rows_of() -> np.ndarray:
        if which == "created":
            return np.flatnonzero(window_mask(opps["created_at"], window))
        closed = opps["status_asof"].isin(["won", "lost"]).to_numpy()
        return np.flatnonzero(closed & window_mask(opps["closed_asof"], window))

    rows = snap.derived(("in_window", which, window.start.value, window.end.value), rows_of)
    if columns is not None:
        wanted = [c for c in dict.fromkeys(columns) if c is not None]
        if any(c not in opps.columns for c in wanted):
            group_labels(opps, next(c for c in wanted if c not in opps.columns))  # raises, naming them
        opps = opps[wanted]
    return opps.take(rows)


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """Return ``table[key]`` for each of ``keys`` (missing where absent), indexed like ``keys``.

    Like ``keys.map(table)`` for a ``table`` with a unique index, but keeps the dtype
    of ``table`` and works when ``table`` is empty (``Series.map`` with an empty
    datetime Series raises in pandas).
    """
    return pd.Series(table.reindex(keys.to_numpy()).array, index=keys.index, name=table.name)


def window_mask(times: pd.Series, window: Window) -> np.ndarray:
    """Return ``start <= times < end`` as a boolean array (missing times are outside)."""
    return ((times >= window.start) & (times < window.end)).fillna(False).to_numpy(dtype=bool)


def days_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Return elapsed days (seconds / 86400, fractional) from ``start`` to ``end``."""
    return (end - start).dt.total_seconds() / 86_400.0


# --------------------------------------------------------------------------- grouping
def group_labels(frame: pd.DataFrame, by: str | None) -> pd.Series:
    """Return the group label of each row for ``by`` (a column name, or None for the total)."""
    if by is None:
        return pd.Series(TOTAL, index=frame.index, dtype="str")
    values = frame[check_by(by, frame.columns)]
    if not pd.api.types.is_string_dtype(values.dtype):
        values = values.astype("str")
    return values.fillna(NONE_LABEL)


def check_by(by: str, columns: Any) -> str:
    """Return the column ``by`` names (the option checker's rule: case-insensitive)."""
    return check_option("by", by, [str(c) for c in columns])


def canonical_by(data: SalesData, by: str | None) -> str | None:
    """Return ``by`` as the column of the opportunities it names (None stays None)."""
    return None if by is None else check_by(by, data.opportunities.columns)


def group_column(by: str | None) -> str:
    """Return the output column name for a ``by`` value."""
    return by if by is not None else "group"


def all_groups(snap: Snapshot, by: str | None) -> list[str]:
    """Return every group label known at ``snap.as_of``, sorted (so empty groups show as zeros).

    Groups that appear only on opportunities created after ``as_of`` did not exist
    yet, so a past window shows the same rows whenever it is re-run.
    """

    def compute() -> list[str]:
        opps = snap.data.opportunities
        if by is not None and by not in opps.columns:
            group_labels(opps, by)  # raises, naming the columns
        column = opps[[by]] if by is not None else opps[[]]
        existed = (opps["created_at"] <= snap.as_of).to_numpy()
        return sorted(group_labels(column if existed.all() else column[existed], by).unique().tolist())

    return list(snap.derived(("all_groups", by), compute))


# --------------------------------------------------------------------------- periods
def period_frame(
    data: SalesData,
    window: Window,
    period: str,
    *,
    fiscal_year_start: int | None = None,
) -> pd.DataFrame:
    """Return the periods overlapping the window (``period``, ``period_start``, ``period_end``)."""
    period = check_option("period", period, PERIODS)
    return periods.period_table(
        window.start, window.end, period=period, calendar=window.calendar,
        week_start=_week_start(data, window.calendar),
        fiscal_year_start=fiscal_year_start or data.settings.fiscal_year_start,
        tz=data.settings.timezone,
    )


def assign(
    data: SalesData,
    times: pd.Series,
    window: Window,
    period: str,
    *,
    fiscal_year_start: int | None = None,
) -> pd.Series:
    """Return the period label of each timestamp (missing where the timestamp is)."""
    period = check_option("period", period, PERIODS)
    if times.empty:
        return pd.Series(pd.NA, index=times.index, dtype="str")
    labels = periods.assign_periods(
        times, period=period, calendar=window.calendar,
        week_start=_week_start(data, window.calendar),
        fiscal_year_start=fiscal_year_start or data.settings.fiscal_year_start,
    )["period"]
    return labels.astype("str")


def split_by_period(
    data: SalesData,
    frame: pd.DataFrame,
    times: pd.Series,
    window: Window,
    period: str | None,
    group_col: str,
) -> tuple[list[str], pd.DataFrame | None, list[str]]:
    """Prepare a per-group (and per-period) aggregation of ``frame``.

    With a ``period``, adds the period label of ``times`` to ``frame`` (in place) and
    returns the grouping keys ``["period", group_col]``, the period table for
    :func:`complete_grid` and the leading output columns; without one, ``[group_col]``,
    None and no leading columns.
    """
    if period is None:
        return [group_col], None, []
    frame["period"] = assign(data, times, window, period)
    return (["period", group_col], period_frame(data, window, period),
            ["period", "period_start", "period_end"])


def _week_start(data: SalesData, calendar: str) -> str:
    if calendar == data.settings.calendar:
        return data.settings.week_start
    return periods.default_week_start(calendar)


def complete_grid(
    counts: pd.DataFrame,
    periods_table: pd.DataFrame | None,
    groups: list[str],
    group_col: str,
    value_cols: list[str],
) -> pd.DataFrame:
    """Return ``counts`` with a row for every period × group (zeros where nothing happened)."""
    if periods_table is not None:
        grid = periods_table.merge(pd.DataFrame({group_col: pd.Series(groups, dtype="str")}),
                                   how="cross")
        keys = ["period", group_col]
    else:
        grid = pd.DataFrame({group_col: pd.Series(groups, dtype="str")})
        keys = [group_col]
    out = grid.merge(counts, on=keys, how="left")
    for col in value_cols:
        out[col] = out[col].fillna(0).astype("int64")
    return out


# --------------------------------------------------------------------------- numbers
def ratio(num: Any, den: Any) -> Any:
    """Divide, giving NaN (never 0 or inf) where the denominator is 0."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def with_excluded(frame: pd.DataFrame, **excluded: int) -> pd.DataFrame:
    """Attach counts of rows a computation left out, as ``frame.attrs['excluded']``."""
    frame.attrs["excluded"] = {k: int(v) for k, v in excluded.items()}
    return frame
