"""Machinery shared by the KPI modules: windows, ``as_of`` replay, grouping, periods.

Every KPI function resolves its window with :func:`resolve_window` and reads the data
through :func:`known_at` so that nothing after ``as_of`` has happened.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesnb import periods
from salesnb.data import SalesData
from salesnb.exceptions import WindowError
from salesnb.validation import utc_nanos

TimeLike = str | dt.date | dt.datetime | pd.Timestamp | None

#: Label used for an empty group value (no team, no reason...).
NONE_LABEL = "(none)"
UNSPECIFIED = "(unspecified)"
TOTAL = "(all)"
NANOS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True)
class Window:
    """A resolved half-open window ``[start, end)`` and the moment ``as_of`` it is seen from."""

    start: pd.Timestamp
    end: pd.Timestamp
    as_of: pd.Timestamp
    calendar: str

    def to_dict(self) -> dict[str, str]:
        """Return the window as ISO strings (the ``window`` block of ``kpi --json``)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "as_of": self.as_of.isoformat()}


def to_timestamp(value: TimeLike, *, calendar: str, tz: str, name: str) -> pd.Timestamp | None:
    """Read a user-supplied time: a string in ``calendar``, or a date/datetime/Timestamp."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return periods.parse_date(value, calendar=calendar, tz=tz)
    except WindowError:
        raise
    except Exception as err:
        raise WindowError(f"{name}={value!r} cannot be read as a {calendar} date ({err})") from err


def resolve_window(
    data: SalesData,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
) -> Window:
    """Resolve ``start``, ``end`` and ``as_of`` into timezone-aware timestamps.

    Strings are read in ``calendar`` (default: the dataset's) and the dataset's time
    zone. Defaults: ``start`` = the first creation time, ``end`` = the midnight after
    the last event, ``as_of`` = ``end``. ``as_of`` before ``end`` is an error.
    """
    cal = check_calendar(calendar or data.settings.calendar)
    tz = data.settings.timezone
    s = to_timestamp(start, calendar=cal, tz=tz, name="start")
    e = to_timestamp(end, calendar=cal, tz=tz, name="end")
    a = to_timestamp(as_of, calendar=cal, tz=tz, name="as_of")
    first, last = data.span
    if s is None:
        s = first.normalize() if pd.notna(first) else pd.Timestamp("1970-01-01", tz=tz)
    if e is None:
        e = (last.normalize() + pd.Timedelta(days=1)) if pd.notna(last) else s + pd.Timedelta(days=1)
        e = _localized_midnight(e, tz)
    if e <= s:
        raise WindowError(f"the window is empty: end ({e.isoformat()}) is not after start ({s.isoformat()})",
                          fix="give an end after the start (the window is [start, end))")
    if a is None:
        a = e
    elif a < e:
        raise WindowError(f"as_of ({a.isoformat()}) is before end ({e.isoformat()})",
                          fix="leave as_of out (it defaults to end) or give a moment at or after end")
    return Window(s, e, a, cal)


def resolve_moment(data: SalesData, as_of: TimeLike, calendar: str | None = None) -> pd.Timestamp:
    """Resolve an ``as_of`` moment on its own (default: the last event in the data)."""
    cal = check_calendar(calendar or data.settings.calendar)
    a = to_timestamp(as_of, calendar=cal, tz=data.settings.timezone, name="as_of")
    return a if a is not None else data.span[1]


def _localized_midnight(ts: pd.Timestamp, tz: str) -> pd.Timestamp:
    naive = ts.tz_localize(None).normalize()
    return naive.tz_localize(tz, nonexistent="shift_forward", ambiguous=True)


def check_calendar(calendar: str) -> str:
    """Return ``calendar`` if it is known, else raise with the choices."""
    if calendar not in periods.CALENDARS:
        raise WindowError(f"unknown calendar {calendar!r}",
                          fix=f"use one of: {', '.join(periods.CALENDARS)}")
    return calendar


def check_choice(value: Any, allowed: tuple[str, ...], name: str) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming the choices."""
    if value not in allowed:
        raise WindowError(f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}",
                          fix=f"pass {name} as one of: {', '.join(allowed)}")
    return value


# --------------------------------------------------------------------------- as_of replay
def known_at(data: SalesData, as_of: pd.Timestamp) -> pd.DataFrame:
    """Return the opportunities as known at ``as_of``.

    Opportunities created after ``as_of`` are left out (they did not exist yet). A
    closing after ``as_of`` has not happened: such deals have ``status_asof`` "open"
    and ``closed_asof`` NaT. Columns added: ``status_asof``, ``closed_asof``. The index
    is kept: it is the row of each opportunity in ``data.opportunities`` (the
    ``opp_code`` of the stage history). Results are cached per dataset and moment; a
    shallow copy is returned, so callers may add columns freely.
    """
    key = ("known_at", as_of.value)
    cached = data.cache.get(key)
    if cached is None:
        opps = data.opportunities
        existed = (opps["created_at"] <= as_of).to_numpy()
        # Taking every column of a million rows costs; most replays see every row.
        opps = opps.copy(deep=False) if existed.all() else opps[existed]
        closed_known = (opps["closed_at"] <= as_of).fillna(False).to_numpy(dtype=bool)
        opps["status_asof"] = opps["status"].where(closed_known, "open")
        opps["closed_asof"] = opps["closed_at"].where(closed_known)
        cached = opps
        data.cache[key] = cached
    return cached.copy(deep=False)


def known_in_window(data: SalesData, window: Window, which: str,
                    columns: list[str | None] | None = None) -> pd.DataFrame:
    """Return the opportunities known at ``window.as_of`` that belong to the window.

    ``which="created"``: the cohort created in ``[start, end)``; ``"closed"``: the
    deals won or lost in it (closed by ``as_of``). ``columns`` (None entries are
    skipped, so an optional ``by`` can be passed as is) limits the copy to what the
    caller reads: on millions of rows, copying every text column is what costs. The
    rows are cached per dataset and window; the index is the opportunity's row.
    """
    key = ("in_window", which, window.start.value, window.end.value, window.as_of.value)
    opps = known_at(data, window.as_of)
    rows = data.cache.get(key)
    if rows is None:
        if which == "created":
            rows = np.flatnonzero(window_mask(opps["created_at"], window))
        else:
            closed = opps["status_asof"].isin(["won", "lost"]).to_numpy()
            rows = np.flatnonzero(closed & window_mask(opps["closed_asof"], window))
        data.cache[key] = rows
    if columns is not None:
        wanted = [c for c in dict.fromkeys(columns) if c is not None]
        if any(c not in opps.columns for c in wanted):
            group_labels(opps, next(c for c in wanted if c not in opps.columns))  # raises, naming them
        opps = opps[wanted]
    return opps.take(rows)


def history_known_at(data: SalesData, as_of: pd.Timestamp) -> pd.DataFrame:
    """Return the stage-history entries entered at or before ``as_of`` (sorted, with ``seq``)."""
    key = ("history_known_at", as_of.value)
    cached = data.cache.get(key)
    if cached is None:
        hist = data.stage_history
        entered = (hist["entered_at"] <= as_of).to_numpy()
        cached = hist if entered.all() else hist[entered]
        data.cache[key] = cached
    return cached


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
    if by not in frame.columns:
        raise WindowError(f"by={by!r} is not a column of the opportunities",
                          fix=f"use one of: {', '.join(map(str, frame.columns))}, or None for the total")
    values = frame[by]
    if not pd.api.types.is_string_dtype(values.dtype):
        values = values.astype("str")
    return values.fillna(NONE_LABEL)


def group_column(by: str | None) -> str:
    """Return the output column name for a ``by`` value."""
    return by if by is not None else "group"


def all_groups(data: SalesData, by: str | None, as_of: pd.Timestamp) -> list[str]:
    """Return every group label known at ``as_of``, sorted (so empty groups show as zeros).

    Groups that appear only on opportunities created after ``as_of`` did not exist
    yet, so a past window shows the same rows whenever it is re-run.
    """
    key = ("all_groups", by, as_of.value)
    cached = data.cache.get(key)
    if cached is None:
        opps = data.opportunities
        if by is not None and by not in opps.columns:
            group_labels(opps, by)  # raises, naming the columns
        column = opps[[by]] if by is not None else opps[[]]
        existed = (opps["created_at"] <= as_of).to_numpy()
        cached = sorted(group_labels(column if existed.all() else column[existed], by).unique().tolist())
        data.cache[key] = cached
    return list(cached)


# --------------------------------------------------------------------------- periods
def period_frame(
    data: SalesData,
    window: Window,
    period: str,
    *,
    fiscal_year_start: int | None = None,
) -> pd.DataFrame:
    """Return the periods overlapping the window (``period``, ``period_start``, ``period_end``)."""
    check_choice(period, periods.PERIODS, "period")
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
    check_choice(period, periods.PERIODS, "period")
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


#: Timestamps as int64 nanoseconds since the epoch (NaT: the smallest int64), a read-only view.
utc_ns = utc_nanos


def from_utc_ns(values: np.ndarray, tz: Any) -> pd.DatetimeIndex:
    """Return int64 nanoseconds since the epoch (min int = NaT) as timestamps in ``tz``."""
    return pd.DatetimeIndex(np.asarray(values, dtype="int64").view("M8[ns]")).tz_localize("UTC").tz_convert(tz)


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


# --------------------------------------------------------------------------- statistics
def wilson_interval(successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Return the Wilson score interval for ``successes / trials`` (NaN where trials == 0).

    Examples
    --------
    >>> lo, hi = wilson_interval(np.array([8]), np.array([10]))
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.4902, 0.9433)
    """
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    # The bounds are exactly 0 for no success and 1 for all successes (not 1e-17 off).
    low = np.where(n > 0, np.where(k == 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
    high = np.where(n > 0, np.where(k == n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    return low, high


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
