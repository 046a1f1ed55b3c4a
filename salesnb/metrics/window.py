"""The window of a KPI call: ``[start, end)`` seen from ``as_of``, resolved once.

Every public KPI function resolves its ``start``, ``end``, ``as_of`` and ``calendar``
into one :class:`Window` (:func:`resolve_window`), or a single moment
(:func:`resolve_moment`), and passes it down with the snapshot of the data as known at
``window.as_of`` (:meth:`salesnb.SalesData.at`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from salesnb import periods
from salesnb._options import CALENDARS, check_option
from salesnb.data.dataset import SalesData
from salesnb.exceptions import WindowError

__all__ = ["TimeLike", "Window", "resolve_moment", "resolve_window", "to_timestamp"]

TimeLike = str | dt.date | dt.datetime | pd.Timestamp | None


@dataclass(frozen=True)
class Window:
    """A resolved half-open window ``[start, end)`` and the moment ``as_of`` it is seen from.

    Built by :func:`resolve_window` once per public call and passed down to every
    computation of that call. The timestamps are timezone-aware in the dataset's time
    zone (:attr:`zone`); ``calendar`` is the calendar its dates and periods are read in.

    Attributes
    ----------
    start, end : Timestamp
        The window ``[start, end)``.
    as_of : Timestamp
        The moment it is seen from (not before ``end``).
    calendar : {"gregorian", "jalali"}
        The calendar of date strings and periods.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    as_of: pd.Timestamp
    calendar: str

    @property
    def zone(self) -> str:
        """The time zone of the window's timestamps (the dataset's), e.g. ``Asia/Tehran``."""
        return str(self.start.tz)

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
        raise WindowError(f"`{name}`={value!r} cannot be read as a {calendar} date ({err})") from err


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

    Parameters
    ----------
    data : SalesData
        The dataset (its calendar, time zone and span).
    start, end, as_of : str, date or Timestamp, optional
        As given to a KPI function.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of date strings (default: the dataset's), any case.

    Returns
    -------
    Window

    Raises
    ------
    WindowError
        A date cannot be read, the window is empty, or ``as_of`` is before ``end``.
    OptionError
        ``calendar`` is not a known calendar.

    Examples
    --------
    >>> import salesnb as sn
    >>> w = resolve_window(sn.load(sn.sample_path()), "1404-01-01", "1404-02-01")
    >>> w.start.isoformat(), w.as_of == w.end, w.zone
    ('2025-03-21T00:00:00+03:30', True, 'Asia/Tehran')
    """
    cal = check_option("calendar", calendar or data.settings.calendar, CALENDARS)
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
        raise WindowError(f"the window is empty: `end` ({e.isoformat()}) is not after `start` "
                          f"({s.isoformat()})",
                          fix="give an `end` after the `start` (the window is [start, end))")
    if a is None:
        a = e
    elif a < e:
        raise WindowError(f"`as_of` ({a.isoformat()}) is before `end` ({e.isoformat()})",
                          fix="leave `as_of` out (it defaults to `end`) or give a moment at or after `end`")
    return Window(s, e, a, cal)


def resolve_moment(data: SalesData, as_of: TimeLike, calendar: str | None = None) -> pd.Timestamp:
    """Resolve an ``as_of`` moment on its own (default: the last event in the data).

    Examples
    --------
    >>> import salesnb as sn
    >>> resolve_moment(sn.load(sn.sample_path()), "1404-01-01T12:00")
    Timestamp('2025-03-21 12:00:00+0330', tz='Asia/Tehran')
    """
    cal = check_option("calendar", calendar or data.settings.calendar, CALENDARS)
    a = to_timestamp(as_of, calendar=cal, tz=data.settings.timezone, name="as_of")
    return a if a is not None else data.span[1]


def _localized_midnight(ts: pd.Timestamp, tz: str) -> pd.Timestamp:
    naive = ts.tz_localize(None).normalize()
    return naive.tz_localize(tz, nonexistent="shift_forward", ambiguous=True)
