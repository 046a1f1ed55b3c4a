"""Calendars and periods: days, weeks, months, quarters and years, Gregorian or Jalali.

Every KPI function that reports "per week" or "this month" goes through this
module. It reads dates written in the Gregorian or the Solar Hijri (Jalali)
calendar, cuts time into periods, assigns millions of timestamps to their periods
at once, turns period labels back into time windows, finds the windows to compare
with (the previous period, the same period a year before) and counts business days.

Rules
-----
Calendars
    ``"gregorian"`` or ``"jalali"`` (Solar Hijri, as computed by :mod:`jdatetime`).
    Jalali months have 31 days (1-6), 30 days (7-11) and 29 or 30 days (Esfand, 12).
    A calendar only changes how dates are *written* and how months and years are
    cut; every timestamp is an ordinary :class:`pandas.Timestamp`.

Dates and time zones
    :func:`parse_date` reads ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS[.fff]]`` (a space
    may replace the ``T``) and either followed by ``Z`` or a UTC offset such as
    ``+03:30``; ``/`` may replace ``-`` in the date and Persian or Arabic-Indic digits
    are read like ASCII digits. A date alone means midnight. Naive values are wall-clock
    time in ``tz``; values with an offset are converted to ``tz``. A wall-clock time that
    does not exist (skipped by a daylight-saving jump) becomes the first instant after
    the jump (Europe/Berlin 2025-03-30 02:30 -> 03:00+02:00); one that occurs twice
    (clocks set back) is its first occurrence (the daylight-saving one). Results
    have microsecond resolution (nanosecond when the text has more than 6 decimals).
    Dates must lie between 1677-09-22 and 2262-04-10 (Gregorian), the range pandas
    holds in nanoseconds; this also catches a date written in the other calendar
    (``2025-10-05`` read as Jalali is Gregorian 2646), and the error says so.

Periods and their boundaries
    Periods are half-open, ``[period_start, period_end)``; a timestamp exactly on a
    boundary belongs to the later period. A boundary is the first instant of a local
    date in the time zone: usually local midnight; on a day whose midnight is skipped
    by a daylight-saving jump (Asia/Tehran, 2021-03-22) it is the first instant after
    the jump (01:00); where midnight occurs twice (America/Havana, 2024-11-03) it is
    the first occurrence. Days in a DST change therefore last 23 or 25 hours.

Labels (``period`` column), sortable as text within one period kind
    ========  ===========================  ======================================
    period    Gregorian                    Jalali
    ========  ===========================  ======================================
    day       ``2025-10-05``               ``1404-07-13``
    week      ``2025-W07``                 ``1404-W07``
    month     ``2025-10``                  ``1404-08``
    quarter   ``2025-Q3``                  ``1404-Q2`` (Q1 = Farvardin-Khordad)
    year      ``2025``                     ``1404``
    ========  ===========================  ======================================

Week numbering
    A week is 7 local days from ``week_start`` (default Monday for Gregorian,
    Saturday for Jalali). It belongs to the calendar year that holds its 4th day (the
    year holding the majority of its days), and week 1 of a year is the week that
    contains the 4th day of the year (4 January, 4 Farvardin). Weeks are numbered
    1 to 52 or 53. For Gregorian weeks starting on Monday this *is* ISO 8601 (the week
    of the year's first Thursday); the same rule is used for every calendar and
    week start. Example: Jalali 1404 begins on Friday 2025-03-21, so its
    Saturday week 1 (``1404-W01``) is 1404-01-02 .. 1404-01-08, and 1404-01-01
    belongs to ``1403-W52``.

Fiscal years
    ``fiscal_year_start`` is the month (1-12, in the calendar in use) in which the
    fiscal year begins; it affects quarters and years only. With the default 1,
    labels are the calendar ones above. Otherwise fiscal years are labelled ``FY``
    plus the calendar year in which the fiscal year *starts*, and quarters count from
    that month: with ``fiscal_year_start=4`` (Gregorian), ``FY2025`` runs from
    2025-04-01 to 2026-04-01 and ``FY2025-Q4`` is January-March 2026. In
    :func:`period_bounds`, a label without ``FY`` always means calendar periods.

Comparison windows
    :func:`previous_window` returns the window of the same size that ends where the
    given one starts; :func:`year_ago_window` the same window one year earlier. A
    window of whole calendar months (both ends at the start of day 1 of a month)
    moves by whole months: by its own number of months, or by 12 (so Jalali Mehr is
    compared with Mehr whatever the month lengths). A window of whole weeks (both ends
    at the start of a day, a multiple of 7 days apart) moves a year back by 52 weeks
    (364 days), keeping weekdays aligned. Any other window of whole days moves its start
    a calendar year back (same month and day, the day clamped to the month's length:
    Esfand 30 -> Esfand 29, 29 February -> 28 February) and keeps its number of days.
    Other windows move by their exact duration (previous) or move their start a
    calendar year back on the wall clock and keep their duration (year ago).

Business days
    :func:`business_days_between` counts, between two timestamps, the time spent on
    local dates that are neither a weekend day nor a holiday. Each such date counts
    as one day and a part of it by its wall-clock time (12:00 is half a day), so a
    23-hour daylight-saving day still counts as one day.
"""

from __future__ import annotations

import calendar as _gregorian_calendar
import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias, cast

import jdatetime
import numpy as np
import pandas as pd

from salesnb._options import CALENDARS, PERIODS, WEEKDAYS, check_option
from salesnb.exceptions import SettingsError

__all__ = [
    "CALENDARS",
    "PERIODS",
    "WEEKDAYS",
    "assign_periods",
    "business_days_between",
    "default_week_start",
    "format_date",
    "format_datetime",
    "next_window",
    "parse_date",
    "period_bounds",
    "period_table",
    "previous_window",
    "shift_window",
    "year_ago_window",
]


#: Anything :func:`parse_date` reads.
DateLike: TypeAlias = str | dt.date | np.datetime64 | pd.Timestamp
#: A time zone: an IANA name such as ``"Asia/Tehran"`` or a tzinfo object.
TzLike: TypeAlias = str | dt.tzinfo

_CALENDAR_NAMES = {"gregorian": "Gregorian", "jalali": "Jalali (Solar Hijri)"}
_EXAMPLE_DATES = {"gregorian": "2025-10-05", "jalali": "1404-07-13"}
_MONTH_NAMES = {
    "gregorian": tuple(_gregorian_calendar.month_name[1:]),
    "jalali": (
        "Farvardin",
        "Ordibehesht",
        "Khordad",
        "Tir",
        "Mordad",
        "Shahrivar",
        "Mehr",
        "Aban",
        "Azar",
        "Dey",
        "Bahman",
        "Esfand",
    ),
}
_EXPECTED_FORMAT = (
    "YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS], or either followed by a UTC offset "
    "(e.g. 2025-10-05T09:30+03:30 or 2025-10-05T06:00Z)"
)
_DATE_RE = re.compile(
    r"^\s*(?P<y>\d{4})(?P<sep>[-/])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"\s*(?P<off>Z|[+-]\d{2}(?::?\d{2})?)?)?\s*$",
    re.IGNORECASE,
)
_LABEL_RE = re.compile(
    r"^(?P<fy>FY)?(?P<y>\d{4})(?:-(?:Q(?P<q>\d)|W(?P<w>\d{1,2})|(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?))?$",
    re.IGNORECASE,
)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_MONTHS_PER_PERIOD = {"month": 1, "quarter": 3, "year": 12}
_NAT_I8 = np.iinfo(np.int64).min
# Dates salesnb accepts: those whose every instant fits pandas' nanosecond range
# (1677-09-21 .. 2262-04-11), with a day's margin for time zones.
_FIRST_DAY = dt.date(1677, 9, 22)
_LAST_DAY = dt.date(2262, 4, 10)
_Unit: TypeAlias = Literal["s", "ms", "us", "ns"]


# ---------------------------------------------------------------------------
# Validation of options
# ---------------------------------------------------------------------------


def _check_calendar(calendar: object) -> str:
    return check_option("calendar", calendar, CALENDARS)


def _check_period(period: object) -> str:
    return check_option("period", period, PERIODS)


def _week_start_index(week_start: str | None, calendar: str) -> int:
    name = default_week_start(calendar) if week_start is None else week_start
    return WEEKDAYS.index(check_option("week_start", name, WEEKDAYS))


def _check_fiscal_year_start(fiscal_year_start: object) -> int:
    if (
        isinstance(fiscal_year_start, bool)
        or not isinstance(fiscal_year_start, int | np.integer)
        or not 1 <= fiscal_year_start <= 12
    ):
        raise SettingsError(
            f"fiscal_year_start must be a month number from 1 to 12, got {fiscal_year_start!r}",
            source="fiscal_year_start",
            fix="pass the month in which the fiscal year begins, e.g. fiscal_year_start=4 "
            "for a year starting in April (Gregorian) or Tir (Jalali)",
        )
    return int(fiscal_year_start)


def _check_tz(tz: TzLike) -> TzLike:
    try:
        pd.Timestamp("2000-01-01").tz_localize(tz)
    except Exception as err:
        raise SettingsError(
            f"unknown time zone {tz!r}",
            source="timezone",
            fix="use an IANA time-zone name such as 'Asia/Tehran', 'Europe/Berlin' or 'UTC'",
        ) from err
    return tz


def default_week_start(calendar: str) -> str:
    """Return the day weeks start on by default in a calendar.

    Parameters
    ----------
    calendar : {"gregorian", "jalali"}
        The calendar.

    Returns
    -------
    str
        ``"monday"`` for Gregorian (ISO 8601), ``"saturday"`` for Jalali.

    Examples
    --------
    >>> default_week_start("jalali")
    'saturday'
    """
    return "saturday" if _check_calendar(calendar) == "jalali" else "monday"


# ---------------------------------------------------------------------------
# Calendar arithmetic on day numbers (days since 1970-01-01)
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _jalali_year(year: int) -> tuple[int, ...]:
    """Day numbers of the first day of each month of a Jalali year, and of the next year."""
    firsts = [jdatetime.date(year, m, 1).togregorian() for m in range(1, 13)]
    firsts.append(jdatetime.date(year + 1, 1, 1).togregorian())
    return tuple(d.toordinal() - _EPOCH_ORDINAL for d in firsts)


def _month_starts(calendar: str, months: np.ndarray) -> np.ndarray:
    """Day numbers of the first day of absolute months (``year * 12 + month - 1``)."""
    months = np.asarray(months, dtype=np.int64)
    if calendar == "gregorian":
        return (months - 1970 * 12).astype("M8[M]").astype("M8[D]").astype(np.int64)
    out = np.empty(len(months), dtype=np.int64)
    years = months // 12
    for year in np.unique(years):
        table = np.asarray(_jalali_year(int(year)), dtype=np.int64)
        sel = years == year
        out[sel] = table[months[sel] - year * 12]
    return out


def _ymd(calendar: str, days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day in ``calendar`` of an array of day numbers (vectorised)."""
    days = np.asarray(days, dtype=np.int64)
    if calendar == "gregorian":
        d64 = days.astype("M8[D]")
        month = d64.astype("M8[M]")
        absolute = month.astype(np.int64) + 1970 * 12
        day = (d64 - month.astype("M8[D]")).astype(np.int64) + 1
        return absolute // 12, absolute % 12 + 1, day
    if len(days) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    greg_years = days.astype("M8[D]").astype("M8[Y]").astype(np.int64) + 1970
    # Days of Gregorian year g fall in Jalali years g - 622 (January-March) and g - 621.
    years = np.arange(int(greg_years.min()) - 622, int(greg_years.max()) - 620)
    starts = np.concatenate([np.asarray(_jalali_year(int(y))[:12]) for y in years])
    absolute = (years[:, None] * 12 + np.arange(12)).ravel()
    pos = np.searchsorted(starts, days, side="right") - 1
    return absolute[pos] // 12, absolute[pos] % 12 + 1, days - starts[pos] + 1


def _days_in_month(calendar: str, year: int, month: int) -> int:
    if calendar == "gregorian":
        return _gregorian_calendar.monthrange(year, month)[1]
    table = _jalali_year(year)
    return table[month] - table[month - 1]


def _weekday(days: np.ndarray) -> np.ndarray:
    """Weekday index (Monday = 0) of day numbers; 1970-01-01 was a Thursday."""
    return (np.asarray(days, dtype=np.int64) + 3) % 7


def _day_number(value: dt.date) -> int:
    return value.toordinal() - _EPOCH_ORDINAL


def _naive_periods(
    kind: str, calendar: str, first: int, last: int, week_start: int, fiscal_start: int
) -> tuple[np.ndarray, list[str]]:
    """Periods covering the local dates ``first`` .. ``last`` (day numbers, inclusive).

    Returns the ``n + 1`` boundary day numbers (the last one ends the last period)
    and the ``n`` labels.
    """
    if kind == "day":
        bounds = np.arange(first, last + 2, dtype=np.int64)
        y, m, d = _ymd(calendar, bounds[:-1])
        labels = [
            f"{a:04d}-{b:02d}-{c:02d}"
            for a, b, c in zip(y.tolist(), m.tolist(), d.tolist(), strict=True)
        ]
        return bounds, labels
    if kind == "week":
        ends = np.array([first, last], dtype=np.int64)
        aligned = ends - (_weekday(ends) - week_start) % 7
        bounds = np.arange(aligned[0], aligned[1] + 8, 7, dtype=np.int64)
        starts = bounds[:-1]
        years, _, _ = _ymd(calendar, starts + 3)
        fourth = _month_starts(calendar, years * 12) + 3
        week_one = fourth - (_weekday(fourth) - week_start) % 7
        numbers = (starts - week_one) // 7 + 1
        labels = [
            f"{a:04d}-W{b:02d}" for a, b in zip(years.tolist(), numbers.tolist(), strict=True)
        ]
        return bounds, labels
    step = _MONTHS_PER_PERIOD[kind]
    offset = 0 if kind == "month" else fiscal_start - 1
    y, m, _ = _ymd(calendar, np.array([first, last], dtype=np.int64))
    absolute = y * 12 + m - 1
    aligned = absolute - (absolute - offset) % step
    months = np.arange(aligned[0], aligned[1] + step + 1, step, dtype=np.int64)
    bounds = _month_starts(calendar, months)
    heads = months[:-1]
    if kind == "month":
        labels = [f"{a // 12:04d}-{a % 12 + 1:02d}" for a in heads.tolist()]
        return bounds, labels
    fiscal_year = (heads - offset) // 12
    prefix = "FY" if offset else ""
    if kind == "year":
        labels = [f"{prefix}{a:04d}" for a in fiscal_year.tolist()]
    else:
        quarter = (heads - offset) % 12 // 3 + 1
        labels = [
            f"{prefix}{a:04d}-Q{b}"
            for a, b in zip(fiscal_year.tolist(), quarter.tolist(), strict=True)
        ]
    return bounds, labels


# ---------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------


def _localize_days(days: np.ndarray, tz: TzLike | None) -> pd.DatetimeIndex:
    """First instants of local dates (day numbers) in ``tz`` (naive when ``tz`` is None)."""
    naive = pd.DatetimeIndex(np.asarray(days, dtype=np.int64).astype("M8[D]").astype("M8[us]"))
    if tz is None:
        return naive
    return naive.tz_localize(
        tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )


def _localize(ts: pd.Timestamp, tz: TzLike | None) -> pd.Timestamp:
    """Read a naive timestamp as wall-clock time in ``tz`` (see the module's DST rules)."""
    if tz is None:
        return ts
    return ts.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def _wall_clock(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize(None) if ts.tz is not None else ts


def _local_day(ts: pd.Timestamp) -> int:
    return _day_number(ts.date())


def _day_start(day: int, tz: TzLike | None) -> pd.Timestamp:
    return pd.Timestamp(_localize_days(np.array([day]), tz)[0])


def _is_day_start(ts: pd.Timestamp) -> bool:
    return bool(ts == _day_start(_local_day(ts), ts.tz))


# ---------------------------------------------------------------------------
# Parsing and formatting dates
# ---------------------------------------------------------------------------


def _date_error(
    value: object, calendar: str, reason: str, year: int | None = None
) -> SettingsError:
    name = _CALENDAR_NAMES[calendar]
    fix = f"write the date as YYYY-MM-DD in the {name} calendar, e.g. {_EXAMPLE_DATES[calendar]}"
    if year is not None and calendar == "gregorian" and year < 1600:
        fix += f"; year {year} looks like a Jalali year: pass calendar='jalali'"
    elif year is not None and calendar == "jalali" and year > 1700:
        fix += f"; year {year} looks like a Gregorian year: pass calendar='gregorian'"
    return SettingsError(
        f"cannot read {value!r} as a {name} date: {reason}. Expected {_EXPECTED_FORMAT}, "
        f"the date in the {name} calendar",
        source="date",
        fix=fix,
    )


def _date_to_day(value: object, calendar: str, year: int, month: int, day: int) -> int:
    """Day number of a calendar date, raising a helpful error for dates that do not exist."""
    if not 1 <= month <= 12:
        raise _date_error(
            value, calendar, f"month {month} does not exist (months run 1 to 12)", year
        )
    try:
        length = _days_in_month(calendar, year, month)
    except (ValueError, OverflowError, KeyError) as err:
        raise _date_error(value, calendar, f"year {year} is out of range", year) from err
    if not 1 <= day <= length:
        month_name = _MONTH_NAMES[calendar][month - 1]
        reason = f"day {day} does not exist: {month_name} {year} has {length} days"
        leap_day = (29, 2) if calendar == "gregorian" else (30, 12)
        if (day, month) == leap_day:
            reason += f" ({year} is not a leap year)"
        raise _date_error(value, calendar, reason, year)
    if calendar == "gregorian":
        return _day_number(dt.date(year, month, day))
    return _jalali_year(year)[month - 1] + day - 1


def _check_day_range(value: object, calendar: str, day_number: int, year: int) -> None:
    """Reject dates outside the range every salesnb table can hold (pandas' ns range)."""
    if _day_number(_FIRST_DAY) <= day_number <= _day_number(_LAST_DAY):
        return
    reason = f"year {year} is outside the supported range {_FIRST_DAY} .. {_LAST_DAY} (Gregorian)"
    if calendar == "jalali":
        gregorian = dt.date.fromordinal(day_number + _EPOCH_ORDINAL).year
        reason = f"Jalali year {year} is Gregorian {gregorian}, outside the supported range "
        reason += f"{_FIRST_DAY} .. {_LAST_DAY}"
    raise _date_error(value, calendar, reason, year)


def _parse_text(text: str, calendar: str, tz: TzLike | None) -> pd.Timestamp:
    match = _DATE_RE.match(text)
    if match is None:
        raise _date_error(text, calendar, "not a recognised date format")
    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    day_number = _date_to_day(text, calendar, year, month, day)
    _check_day_range(text, calendar, day_number, year)
    hour, minute, second = (int(match[k] or 0) for k in ("H", "M", "S"))
    if hour > 23 or minute > 59 or second > 59:
        raise _date_error(
            text, calendar, f"time {hour:02d}:{minute:02d}:{second:02d} does not exist", year
        )
    fraction = match["f"] or ""
    if len(fraction) > 6:
        sub = pd.Timedelta(int(fraction.ljust(9, "0")), unit="ns")
    else:
        sub = pd.Timedelta(microseconds=int(fraction.ljust(6, "0")))
    try:
        ts = pd.Timestamp(np.datetime64(day_number, "D")).as_unit("us")
        ts = ts + pd.Timedelta(hours=hour, minutes=minute, seconds=second) + sub
    except (OverflowError, ValueError) as err:
        raise _date_error(text, calendar, "the date is out of the supported range", year) from err
    offset = match["off"]
    if offset is None:
        return _localize(ts, tz)
    if offset.upper() == "Z":
        zone = dt.UTC
    else:
        digits = offset[1:].replace(":", "")
        delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if delta >= dt.timedelta(hours=24) or int(digits[2:] or 0) > 59:
            raise _date_error(text, calendar, f"UTC offset {offset} does not exist", year)
        zone = dt.timezone(-delta if offset[0] == "-" else delta)
    aware = ts.tz_localize(zone)
    return aware if tz is None else aware.tz_convert(tz)


def parse_date(
    value: DateLike, *, calendar: str = "gregorian", tz: TzLike | None = "UTC"
) -> pd.Timestamp:
    """Read a date or a date and time, written in a calendar, as a timestamp in a time zone.

    Parameters
    ----------
    value : str, datetime.date, datetime.datetime, numpy.datetime64 or pandas.Timestamp
        Text as ``YYYY-MM-DD``, ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` (a space may replace
        ``T``), optionally followed by ``Z`` or a UTC offset (``+03:30``, ``-0500``).
        The date is read in ``calendar``; a date alone means midnight. Date and
        timestamp objects (including :mod:`jdatetime` ones) are taken as they are.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar the text is written in.
    tz : str or tzinfo, optional, default "UTC"
        The time zone of the result. Naive values are wall-clock time there (a time
        skipped by a DST jump becomes the first instant after the jump, a repeated
        one is its first occurrence); values with an offset are converted to it. ``None`` keeps naive values naive
        and aware ones in their own zone.

    Returns
    -------
    pandas.Timestamp

    Raises
    ------
    SettingsError
        When the value is not a date in the expected format, or names a date that does
        not exist in the calendar (month 13, Esfand 30 in a common year, ...).

    Examples
    --------
    >>> parse_date("1404-01-01", calendar="jalali", tz="Asia/Tehran")
    Timestamp('2025-03-21 00:00:00+0330', tz='Asia/Tehran')
    >>> parse_date("2025-10-05T09:30+02:00", tz="UTC")
    Timestamp('2025-10-05 07:30:00+0000', tz='UTC')
    """
    calendar = _check_calendar(calendar)
    if tz is not None:
        _check_tz(tz)
    if isinstance(value, str):
        return _parse_text(value, calendar, tz)
    if isinstance(value, jdatetime.date):  # also jdatetime.datetime
        value = value.togregorian()
    if isinstance(value, dt.datetime | np.datetime64):
        ts = pd.Timestamp(value)
    elif isinstance(value, dt.date):
        ts = pd.Timestamp(value.year, value.month, value.day).as_unit("us")
    else:
        raise SettingsError(
            f"cannot read {value!r} (of type {type(value).__name__}) as a date",
            source="date",
            fix=f"pass a text date such as {_EXAMPLE_DATES[calendar]!r}, a datetime.date "
            "or a pandas.Timestamp",
        )
    if not pd.isna(ts):
        _check_day_range(value, "gregorian", _local_day(ts), ts.year)
    if pd.isna(ts):
        raise SettingsError(
            "a missing date (NaT) was given where a date is required",
            source="date",
            fix="pass an actual date",
        )
    if ts.tz is None:
        return _localize(ts, tz)
    return ts if tz is None else ts.tz_convert(tz)


def _as_timestamp(value: DateLike) -> pd.Timestamp:
    if isinstance(value, pd.Timestamp):
        return value
    return parse_date(value, tz=None)


def format_date(value: DateLike, *, calendar: str = "gregorian") -> str:
    """Write the local date of a timestamp as ``YYYY-MM-DD`` in a calendar.

    Parameters
    ----------
    value : pandas.Timestamp, datetime.date or str
        The moment; an aware timestamp is written as its date in its own time zone.
        Text is read as a Gregorian date. ``NaT`` gives an empty string.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar to write the date in.

    Returns
    -------
    str

    Examples
    --------
    >>> format_date(pd.Timestamp("2025-03-21", tz="Asia/Tehran"), calendar="jalali")
    '1404-01-01'
    """
    calendar = _check_calendar(calendar)
    if value is pd.NaT:
        return ""
    ts = _as_timestamp(value)
    y, m, d = (int(a[0]) for a in _ymd(calendar, np.array([_local_day(ts)])))
    return f"{y:04d}-{m:02d}-{d:02d}"


def format_datetime(value: DateLike, *, calendar: str = "gregorian") -> str:
    """Write a timestamp as ``YYYY-MM-DDTHH:MM:SS[+HH:MM]``, the date in a calendar.

    The result is read back unchanged by :func:`parse_date` with the same calendar.

    Parameters
    ----------
    value : pandas.Timestamp, datetime.date or str
        The moment; the time zone's offset is written when it is aware, and fractions
        of a second when there are any. ``NaT`` gives an empty string.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar to write the date in.

    Returns
    -------
    str

    Examples
    --------
    >>> format_datetime(pd.Timestamp("2025-10-05 09:30", tz="Asia/Tehran"), calendar="jalali")
    '1404-07-13T09:30:00+03:30'
    """
    calendar = _check_calendar(calendar)
    if value is pd.NaT:
        return ""
    ts = _as_timestamp(value)
    text = f"{format_date(ts, calendar=calendar)}T{ts.strftime('%H:%M:%S')}"
    fraction = ts.microsecond * 1000 + ts.nanosecond
    if fraction:
        text += f".{fraction:09d}".rstrip("0")
    if ts.tz is not None:
        offset = ts.utcoffset() or dt.timedelta(0)
        sign = "-" if offset < dt.timedelta(0) else "+"
        minutes = abs(int(offset.total_seconds())) // 60
        text += f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return text


# ---------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------


def _empty_table(tz: TzLike | None, unit: _Unit = "us") -> pd.DataFrame:
    bounds = _localize_days(np.empty(0, dtype=np.int64), tz).as_unit(unit)
    return pd.DataFrame(
        {
            "period": pd.array([], dtype="str"),
            "period_start": bounds,
            "period_end": bounds,
        }
    )


def _table(
    start: pd.Timestamp,
    end: pd.Timestamp,
    kind: str,
    calendar: str,
    week_start: int,
    fiscal_start: int,
    tz: TzLike | None,
) -> pd.DataFrame:
    """Periods overlapping ``[start, end)``; both already in ``tz``."""
    if end <= start:
        return _empty_table(tz)
    days, labels = _naive_periods(
        kind, calendar, _local_day(start), _local_day(end), week_start, fiscal_start
    )
    bounds = _localize_days(days, tz)
    starts, ends = bounds[:-1], bounds[1:]
    keep = np.asarray((ends > start) & (starts < end))
    return pd.DataFrame(
        {
            "period": pd.array(labels, dtype="str")[keep],
            "period_start": starts[keep],
            "period_end": ends[keep],
        }
    )


def _zone_of(value: object) -> TzLike | None:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return pd.Timestamp(value).tz
    return None


def period_table(
    start: DateLike,
    end: DateLike,
    *,
    period: str,
    calendar: str = "gregorian",
    week_start: str | None = None,
    fiscal_year_start: int = 1,
    tz: TzLike | None = None,
) -> pd.DataFrame:
    """Return the periods (days, weeks, months, ...) that overlap a window, in order.

    Parameters
    ----------
    start, end : str, datetime.date or pandas.Timestamp
        The half-open window ``[start, end)``. Text is read by :func:`parse_date` in
        ``calendar`` and ``tz``.
    period : {"day", "week", "month", "quarter", "year"}
        The kind of period.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar whose months and years cut the periods and write the labels.
    week_start : str, optional
        The first day of a week (``"monday"`` .. ``"sunday"``); defaults to
        :func:`default_week_start` of the calendar.
    fiscal_year_start : int, default 1
        The month (1-12, in ``calendar``) in which years and quarters begin; when not 1
        labels read ``FY2025``, ``FY2025-Q1`` (see the module documentation).
    tz : str or tzinfo, optional
        The time zone whose local midnights are the boundaries; by default the time
        zone of ``start``, or UTC when ``start`` has none.

    Returns
    -------
    pandas.DataFrame
        Columns ``period`` (the label), ``period_start`` and ``period_end`` (aware
        timestamps, each period being ``[period_start, period_end)``); one row per
        period overlapping ``[start, end)`` (none when the window is empty).

    Examples
    --------
    >>> table = period_table("1404-01-01", "1404-04-01", period="month",
    ...                      calendar="jalali", tz="Asia/Tehran")
    >>> table["period"].tolist()
    ['1404-01', '1404-02', '1404-03']
    >>> str(table["period_start"].iloc[1])
    '2025-04-21 00:00:00+03:30'
    """
    calendar = _check_calendar(calendar)
    kind = _check_period(period)
    ws = _week_start_index(week_start, calendar)
    fs = _check_fiscal_year_start(fiscal_year_start)
    zone = tz if tz is not None else (_zone_of(start) or "UTC")
    lo = parse_date(start, calendar=calendar, tz=zone)
    hi = parse_date(end, calendar=calendar, tz=zone)
    if hi < lo:
        raise SettingsError(
            f"the window ends ({hi}) before it starts ({lo})",
            source="window",
            fix="pass start <= end; windows are half-open, [start, end)",
        )
    return _table(lo, hi, kind, calendar, ws, fs, zone)


def assign_periods(
    timestamps: pd.Series,
    *,
    period: str,
    calendar: str = "gregorian",
    week_start: str | None = None,
    fiscal_year_start: int = 1,
) -> pd.DataFrame:
    """Find the period each timestamp falls in, for a whole column at once.

    The periods are cut in the time zone of the column (local midnights). The work is
    vectorised: the periods spanned by the data are built once and each timestamp is
    placed by binary search, so millions of rows take a fraction of a second.

    Parameters
    ----------
    timestamps : pandas.Series
        A datetime column, preferably time-zone aware; a naive column is taken as
        wall-clock time and gets naive boundaries. Missing values (``NaT``) are allowed.
    period : {"day", "week", "month", "quarter", "year"}
        The kind of period.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar of the periods and labels.
    week_start : str, optional
        The first day of a week; defaults to :func:`default_week_start` of the calendar.
    fiscal_year_start : int, default 1
        The month (1-12) in which years and quarters begin.

    Returns
    -------
    pandas.DataFrame
        Columns ``period``, ``period_start``, ``period_end`` (as in
        :func:`period_table`, the boundaries in the unit and time zone of the column),
        with the index of ``timestamps``; rows of ``NaT`` timestamps are missing.

    Examples
    --------
    >>> ts = pd.Series(pd.to_datetime(["2025-03-20 23:30", "2025-03-21 00:00", None]))
    >>> out = assign_periods(ts.dt.tz_localize("Asia/Tehran"), period="month", calendar="jalali")
    >>> out["period"].tolist()
    ['1403-12', '1404-01', nan]
    """
    calendar = _check_calendar(calendar)
    kind = _check_period(period)
    ws = _week_start_index(week_start, calendar)
    fs = _check_fiscal_year_start(fiscal_year_start)
    if not isinstance(timestamps, pd.Series):
        raise TypeError(
            f"timestamps must be a pandas Series, got {type(timestamps).__name__}; "
            "wrap it in pd.Series(...)"
        )
    if not pd.api.types.is_datetime64_any_dtype(timestamps.dtype):
        raise SettingsError(
            f"assign_periods needs a datetime column; column {timestamps.name!r} has dtype "
            f"{timestamps.dtype}",
            source="timestamps",
            fix="convert it first, e.g. with pd.to_datetime(column, utc=True) or the loaders",
        )
    tz = timestamps.dt.tz
    unit = cast(_Unit, str(timestamps.dt.unit))
    values = pd.DatetimeIndex(timestamps).asi8
    valid = values != _NAT_I8
    if not valid.any():
        table = _empty_table(tz, unit)
    else:
        lo = pd.Timestamp(values[valid].min(), unit=unit, tz="UTC" if tz else None)
        hi = pd.Timestamp(values[valid].max(), unit=unit, tz="UTC" if tz else None)
        if tz is not None:
            lo, hi = lo.tz_convert(tz), hi.tz_convert(tz)
        table = _table(lo, hi + pd.Timedelta(1, unit=unit), kind, calendar, ws, fs, tz)
    starts = table["period_start"].dt.as_unit(unit)
    pos = np.searchsorted(pd.DatetimeIndex(starts).asi8, values, side="right") - 1
    pos[~valid] = -1
    return pd.DataFrame(
        {
            "period": table["period"].array.take(pos, allow_fill=True),
            "period_start": starts.array.take(pos, allow_fill=True),
            "period_end": table["period_end"].dt.as_unit(unit).array.take(pos, allow_fill=True),
        },
        index=timestamps.index,
    )


def _label_error(label: object, reason: str, calendar: str) -> SettingsError:
    year = "1404" if calendar == "jalali" else "2025"
    return SettingsError(
        f"cannot read period label {label!r} ({_CALENDAR_NAMES[calendar]} calendar): {reason}",
        source="period label",
        fix=f"use a label as period_table writes them: {year} (year), {year}-Q3 (quarter), "
        f"{year}-07 (month), {year}-W07 (week), {year}-07-13 (day), FY{year} or "
        f"FY{year}-Q1 (fiscal, with fiscal_year_start)",
    )


def period_bounds(
    label: str,
    *,
    calendar: str = "gregorian",
    week_start: str | None = None,
    fiscal_year_start: int = 1,
    tz: TzLike = "UTC",
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the window ``[start, end)`` of a period label such as ``2025-Q3`` or ``1404-08``.

    The inverse of the labels :func:`period_table` writes: ``2025`` (year),
    ``2025-Q3`` (quarter), ``2025-10`` (month), ``2025-W07`` (week), ``2025-10-05``
    (day), and ``FY2025`` / ``FY2025-Q1`` for fiscal years and quarters. A label
    without ``FY`` always means calendar years and quarters.

    Parameters
    ----------
    label : str
        The period label.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar the label is written in.
    week_start : str, optional
        The first day of a week, for week labels; defaults to
        :func:`default_week_start` of the calendar.
    fiscal_year_start : int, default 1
        The month in which fiscal years begin, for ``FY`` labels (must not be 1 then).
    tz : str or tzinfo, default "UTC"
        The time zone whose local midnights bound the period.

    Returns
    -------
    tuple of pandas.Timestamp
        ``(start, end)``, the period being ``[start, end)``.

    Raises
    ------
    SettingsError
        When the label is malformed or names a period that does not exist
        (``2026-W53``, ``1404-13``, ...).

    Examples
    --------
    >>> start, end = period_bounds("1404-Q2", calendar="jalali", tz="Asia/Tehran")
    >>> str(start), str(end)
    ('2025-06-22 00:00:00+03:30', '2025-09-23 00:00:00+03:30')
    """
    calendar = _check_calendar(calendar)
    ws = _week_start_index(week_start, calendar)
    fs = _check_fiscal_year_start(fiscal_year_start)
    _check_tz(tz)
    text = label.strip() if isinstance(label, str) else ""
    match = _LABEL_RE.match(text)
    if match is None:
        raise _label_error(label, "not a period label", calendar)
    fiscal = match["fy"] is not None
    year = int(match["y"])
    if fiscal and fs == 1:
        raise SettingsError(
            f"the fiscal label {label!r} needs the month fiscal years start in",
            source="period label",
            fix="pass fiscal_year_start= the first month of the fiscal year (2-12), "
            "or drop the 'FY' for a calendar year",
        )
    if fiscal and match["q"] is None and (match["w"] or match["m"]):
        raise _label_error(label, "'FY' labels are fiscal years or quarters only", calendar)
    offset = fs - 1 if fiscal else 0
    try:
        if match["q"] is not None:
            quarter = int(match["q"])
            if not 1 <= quarter <= 4:
                raise _label_error(label, f"quarter {quarter} does not exist (1 to 4)", calendar)
            kind, canonical = "quarter", f"{year:04d}-Q{quarter}"
            first = int(
                _month_starts(calendar, np.array([year * 12 + offset + 3 * (quarter - 1)]))[0]
            )
        elif match["w"] is not None:
            week = int(match["w"])
            kind, canonical = "week", f"{year:04d}-W{week:02d}"
            fourth = int(_month_starts(calendar, np.array([year * 12]))[0]) + 3
            first = fourth - int(_weekday(np.array([fourth]))[0] - ws) % 7 + 7 * (week - 1)
        elif match["d"] is not None:
            month, day = int(match["m"]), int(match["d"])
            kind, canonical = "day", f"{year:04d}-{month:02d}-{day:02d}"
            first = _date_to_day(label, calendar, year, month, day)
        elif match["m"] is not None:
            month = int(match["m"])
            if not 1 <= month <= 12:
                raise _label_error(label, f"month {month} does not exist (1 to 12)", calendar)
            kind, canonical = "month", f"{year:04d}-{month:02d}"
            first = int(_month_starts(calendar, np.array([year * 12 + month - 1]))[0])
        else:
            kind, canonical = "year", f"{year:04d}"
            first = int(_month_starts(calendar, np.array([year * 12 + offset]))[0])
    except (ValueError, OverflowError) as err:
        if isinstance(err, SettingsError):
            raise
        raise _label_error(label, f"year {year} is out of range", calendar) from err
    if fiscal:
        canonical = "FY" + canonical
    days, labels = _naive_periods(kind, calendar, first, first, ws, offset + 1)
    if not _day_number(_FIRST_DAY) <= first <= _day_number(_LAST_DAY) - 400:
        raise _label_error(label, f"year {year} is outside the supported range", calendar)
    if labels[0] != canonical:
        reason = "that period does not exist"
        if kind == "week":
            reason = f"week {int(match['w'])} does not exist in {year}, which has fewer weeks"
        raise _label_error(label, reason, calendar)
    bounds = _localize_days(days, tz)
    return pd.Timestamp(bounds[0]), pd.Timestamp(bounds[1])


# ---------------------------------------------------------------------------
# Comparison windows
# ---------------------------------------------------------------------------


def _shift(ts: pd.Timestamp, months: int, days: int, calendar: str) -> pd.Timestamp:
    """Move a timestamp by calendar months then days on its local wall clock."""
    day = _local_day(ts)
    y, m, d = (int(a[0]) for a in _ymd(calendar, np.array([day])))
    absolute = y * 12 + m - 1 + months
    year, month = absolute // 12, absolute % 12 + 1
    d = min(d, _days_in_month(calendar, year, month))
    target = int(_month_starts(calendar, np.array([absolute]))[0]) + d - 1 + days
    if _is_day_start(ts):
        return _day_start(target, ts.tz)
    wall = _wall_clock(ts)
    naive = pd.Timestamp(np.datetime64(target, "D")).as_unit(wall.unit) + (wall - wall.normalize())
    return _localize(naive, ts.tz)


def _window(start: DateLike, end: DateLike) -> tuple[pd.Timestamp, pd.Timestamp]:
    lo, hi = _as_timestamp(start), _as_timestamp(end)
    if (lo.tz is None) != (hi.tz is None):
        raise SettingsError(
            f"start {lo} and end {hi} must both have a time zone or both have none",
            source="window",
            fix="localise both ends in the same time zone",
        )
    if lo.tz is not None:
        hi = hi.tz_convert(lo.tz)
    if hi < lo:
        raise SettingsError(
            f"the window ends ({hi}) before it starts ({lo})",
            source="window",
            fix="pass start <= end; windows are half-open, [start, end)",
        )
    return lo, hi


def _whole_months(lo: pd.Timestamp, hi: pd.Timestamp, calendar: str) -> int | None:
    """Number of calendar months in the window when it is made of whole months."""
    if not (_is_day_start(lo) and _is_day_start(hi)):
        return None
    y, m, d = _ymd(calendar, np.array([_local_day(lo), _local_day(hi)]))
    if d[0] != 1 or d[1] != 1:
        return None
    return int((y[1] * 12 + m[1]) - (y[0] * 12 + m[0]))


def _whole_days(lo: pd.Timestamp, hi: pd.Timestamp) -> int | None:
    if not (_is_day_start(lo) and _is_day_start(hi)):
        return None
    return _local_day(hi) - _local_day(lo)


def shift_window(
    start: DateLike,
    end: DateLike,
    *,
    months: int = 0,
    days: int = 0,
    calendar: str = "gregorian",
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Move both ends of a window by calendar months and days, on the local wall clock.

    Each end moves to the same day of the month ``months`` later (earlier when
    negative) in ``calendar`` (the day clamped to the month's length), then by
    ``days`` local days. An end at the start of a local day stays at the start of the
    target day; other ends keep their wall-clock time (DST handled as in
    :func:`parse_date`).

    Parameters
    ----------
    start, end : str, datetime.date or pandas.Timestamp
        The window; text is read as Gregorian dates in UTC.
    months : int, default 0
        Calendar months to move by.
    days : int, default 0
        Local days to move by, after the months.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar whose months are counted.

    Returns
    -------
    tuple of pandas.Timestamp
        The moved ``(start, end)``.

    Examples
    --------
    >>> start = parse_date("1404-07-01", calendar="jalali", tz="Asia/Tehran")
    >>> end = parse_date("1404-08-01", calendar="jalali", tz="Asia/Tehran")
    >>> [format_date(t, calendar="jalali") for t in shift_window(start, end, months=-1,
    ...                                                         calendar="jalali")]
    ['1404-06-01', '1404-07-01']
    """
    calendar = _check_calendar(calendar)
    lo, hi = _window(start, end)
    return _shift(lo, months, days, calendar), _shift(hi, months, days, calendar)


def previous_window(
    start: DateLike, end: DateLike, *, calendar: str = "gregorian"
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the window of the same size just before ``[start, end)``.

    Whole calendar months move by their number of months (so the previous Jalali
    month of Mehr, 30 days, is Shahrivar, 31 days); whole days by their number of
    local days; anything else by its exact duration. The result ends at ``start``.

    Parameters
    ----------
    start, end : str, datetime.date or pandas.Timestamp
        The window ``[start, end)``.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar whose months are counted.

    Returns
    -------
    tuple of pandas.Timestamp
        ``(previous_start, start)``.

    Examples
    --------
    >>> lo, hi = period_bounds("2025-Q1", calendar="gregorian")
    >>> [str(t.date()) for t in previous_window(lo, hi)]
    ['2024-10-01', '2025-01-01']
    """
    lo, hi = _window(start, end)
    return _adjacent(lo, hi, -1, _check_calendar(calendar)), lo


def next_window(
    start: DateLike, end: DateLike, *, calendar: str = "gregorian"
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the window of the same size just after ``[start, end)``.

    The mirror of :func:`previous_window`: whole calendar months move by their number
    of months (so the month after Jalali Shahrivar, 31 days, is Mehr, 30 days); whole
    days by their number of local days; anything else by its exact duration. The result
    starts at ``end``.

    Parameters
    ----------
    start, end : str, datetime.date or pandas.Timestamp
        The window ``[start, end)``.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar whose months are counted.

    Returns
    -------
    tuple of pandas.Timestamp
        ``(end, next_end)``.

    Examples
    --------
    >>> lo, hi = period_bounds("1404-06", calendar="jalali", tz="Asia/Tehran")
    >>> [format_date(t, calendar="jalali") for t in next_window(lo, hi, calendar="jalali")]
    ['1404-07-01', '1404-08-01']
    """
    lo, hi = _window(start, end)
    return hi, _adjacent(lo, hi, 1, _check_calendar(calendar))


def _adjacent(lo: pd.Timestamp, hi: pd.Timestamp, step: int, calendar: str) -> pd.Timestamp:
    """The far end of the window of the same size before (``step=-1``) or after (``1``) ``[lo, hi)``."""
    anchor = lo if step < 0 else hi
    months = _whole_months(lo, hi, calendar)
    if months:
        return _shift(anchor, step * months, 0, calendar)
    days = _whole_days(lo, hi)
    if days:
        return _shift(anchor, 0, step * days, calendar)
    return anchor + step * (hi - lo)


def year_ago_window(
    start: DateLike, end: DateLike, *, calendar: str = "gregorian"
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the same window one year earlier, for "this period vs last year".

    Whole calendar months move back 12 months; whole weeks (a multiple of 7 local
    days) move back 52 weeks (364 days) so that weekdays line up; other whole-day
    windows move their start back one calendar year (same month and day, clamped to
    the month's length) and keep their number of days; any other window moves its
    start back one calendar year on the wall clock and keeps its duration.

    Parameters
    ----------
    start, end : str, datetime.date or pandas.Timestamp
        The window ``[start, end)``.
    calendar : {"gregorian", "jalali"}, default "gregorian"
        The calendar whose months and years are counted.

    Returns
    -------
    tuple of pandas.Timestamp
        The window a year before.

    Examples
    --------
    >>> lo, hi = period_bounds("1404-12", calendar="jalali", tz="Asia/Tehran")
    >>> [format_date(t, calendar="jalali") for t in year_ago_window(lo, hi, calendar="jalali")]
    ['1403-12-01', '1404-01-01']
    """
    calendar = _check_calendar(calendar)
    lo, hi = _window(start, end)
    months = _whole_months(lo, hi, calendar)
    if months:
        return _shift(lo, -12, 0, calendar), _shift(hi, -12, 0, calendar)
    days = _whole_days(lo, hi)
    if days is not None and days % 7 == 0 and days > 0:
        return _shift(lo, 0, -364, calendar), _shift(hi, 0, -364, calendar)
    new_lo = _shift(lo, -12, 0, calendar)
    if days is not None:
        return new_lo, _shift(new_lo, 0, days, calendar)
    return new_lo, new_lo + (hi - lo)


# ---------------------------------------------------------------------------
# Business days
# ---------------------------------------------------------------------------


def _holiday_dates(holidays: Iterable[DateLike]) -> np.ndarray:
    days = []
    for value in holidays:
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*", value)
            if match is None:
                raise SettingsError(
                    f"cannot read holiday {value!r} as a Gregorian date YYYY-MM-DD",
                    source="holidays",
                    fix="list holidays as Gregorian dates, e.g. 2026-03-21 (convert Jalali "
                    "dates with parse_date(..., calendar='jalali'))",
                )
            y, m, d = (int(g) for g in match.groups())
            days.append(_date_to_day(value, "gregorian", y, m, d))
        elif isinstance(value, dt.datetime | np.datetime64):
            days.append(_day_number(pd.Timestamp(value).date()))
        elif isinstance(value, dt.date):
            days.append(_day_number(value))
        else:
            raise SettingsError(
                f"cannot read holiday {value!r} (of type {type(value).__name__}) as a date",
                source="holidays",
                fix="list holidays as Gregorian dates, e.g. 2026-03-21, or datetime.date objects",
            )
    return np.asarray(days, dtype=np.int64).astype("M8[D]")


def business_days_between(
    start: pd.Series,
    end: pd.Series,
    *,
    weekend: Sequence[str] = ("saturday", "sunday"),
    holidays: Iterable[DateLike] = (),
) -> pd.Series:
    """Count the business days elapsed between two timestamp columns, with fractions.

    Only time on local dates that are neither weekend days nor holidays counts; each
    such date is one day, parts of it counted by wall-clock time (a start at 18:00
    leaves a quarter of that day). An end before its start gives a negative count.

    Parameters
    ----------
    start, end : pandas.Series
        Datetime columns with the same index. Both naive or both aware; ``end`` is
        converted to the time zone of ``start``, whose local dates are counted.
    weekend : sequence of str, default ("saturday", "sunday")
        The weekday names that are not business days, e.g. ``["friday"]``.
    holidays : iterable of str or datetime.date, default ()
        Dates that are not business days: Gregorian ``YYYY-MM-DD`` text or dates.

    Returns
    -------
    pandas.Series
        Float business days, named ``business_days``, with the index of ``start``;
        missing where either end is missing.

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2025-10-02 12:00"]))  # a Thursday
    >>> e = pd.Series(pd.to_datetime(["2025-10-04 12:00"]))  # the Saturday after
    >>> business_days_between(s, e, weekend=["friday"]).tolist()
    [1.0]
    """
    for name, column in (("start", start), ("end", end)):
        if not isinstance(column, pd.Series) or not pd.api.types.is_datetime64_any_dtype(
            column.dtype
        ):
            raise SettingsError(
                f"business_days_between needs datetime Series; {name} is "
                f"{getattr(column, 'dtype', type(column).__name__)}",
                source=name,
                fix="pass pandas Series of timestamps, e.g. data['created_at']",
            )
    if len(start) != len(end) or not start.index.equals(end.index):
        raise ValueError("start and end must have the same index (one pair of timestamps a row)")
    if isinstance(weekend, str):
        weekend = [weekend]
    off = {check_option("weekend", day, WEEKDAYS) for day in weekend}
    if len(off) == 7:
        raise SettingsError(
            "every day of the week is a weekend day",
            source="weekend",
            fix="list only the weekend days, e.g. weekend: [friday]",
        )
    weekmask = [0 if day in off else 1 for day in WEEKDAYS]
    calendar = np.busdaycalendar(weekmask=weekmask, holidays=_holiday_dates(holidays))
    tz_start, tz_end = start.dt.tz, end.dt.tz
    if (tz_start is None) != (tz_end is None):
        raise SettingsError(
            "start and end must both have a time zone or both have none",
            source="business days",
            fix="localise both columns in the same time zone",
        )
    if tz_start is not None:
        start = start.dt.tz_localize(None)
        end = end.dt.tz_convert(tz_start).dt.tz_localize(None)
    lo = start.to_numpy(dtype="M8[ns]")
    hi = end.to_numpy(dtype="M8[ns]")
    valid = ~(np.isnat(lo) | np.isnat(hi))
    lo, hi = lo[valid], hi[valid]
    lo_day, hi_day = lo.astype("M8[D]"), hi.astype("M8[D]")
    day_ns = np.float64(86_400 * 10**9)
    lo_frac = (lo - lo_day).astype(np.int64) / day_ns
    hi_frac = (hi - hi_day).astype(np.int64) / day_ns
    whole = np.busday_count(lo_day, hi_day, busdaycal=calendar).astype(np.float64)
    result = np.full(len(start), np.nan)
    result[valid] = (
        whole
        - np.is_busday(lo_day, busdaycal=calendar) * lo_frac
        + np.is_busday(hi_day, busdaycal=calendar) * hi_frac
    )
    return pd.Series(result, index=start.index, name="business_days")
