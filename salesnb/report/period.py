"""Report periods: ``last-month``, ``this-quarter``, ``1404-08``, ``2025-Q3``... as a window."""

from __future__ import annotations

import pandas as pd

from salesnb import periods
from salesnb._options import CALENDARS, check_option
from salesnb.data.dataset import SalesData
from salesnb.exceptions import OptionError, WindowError
from salesnb.metrics.window import Window, resolve_window

__all__ = ["RELATIVE_PERIODS", "resolve_period"]

#: The relative periods, counted from ``as_of`` (else the last event in the data).
RELATIVE_PERIODS = ("last-week", "last-month", "last-quarter", "this-month", "this-quarter", "last-year")


def resolve_period(
    data: SalesData,
    *,
    period: str | None = None,
    start: str | None = None,
    end: str | None = None,
    as_of: str | None = None,
    calendar: str | None = None,
) -> tuple[Window, str]:
    """Resolve a report period into a window and a folder label.

    ``period`` is ``last-week``, ``last-month``, ``last-quarter``, ``last-year``,
    ``this-month``, ``this-quarter``, a month (``2025-10``, Jalali ``1404-08``), a quarter
    (``2025-Q3``) or a year; or give ``start`` and ``end``. Relative periods are counted
    from ``as_of`` when given, else from the last event in the data (so a report on a
    static dataset is reproducible; on live CRM data the last event is "now"). With
    neither: the latest complete month, in the dataset's calendar. Errors name these
    parameters (the command line shows its flags instead).

    Parameters
    ----------
    data : SalesData
        The dataset (its calendar, time zone, week start and span).
    period : str, optional
        The period, any case for the relative ones.
    start, end, as_of : str, optional
        A window instead of ``period`` (``start`` and ``end`` together), and the moment
        it is seen from.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of the dates and periods (default: the dataset's).

    Returns
    -------
    (Window, str)
        The window and the report folder's label (``1404-07``, ``2025-Q3``...).

    Examples
    --------
    >>> import salesnb as sn
    >>> window, label = resolve_period(sn.load(sn.sample_path()), period="Last-Quarter")
    >>> label, window.start.isoformat()
    ('1404-Q2', '2025-06-22T00:00:00+03:30')
    """
    cal = check_option("calendar", calendar or data.settings.calendar, CALENDARS)
    tz = data.settings.timezone
    if (start or end) and period:
        raise WindowError("give either `period` or `start`/`end`, not both",
                          fix="drop `period`, or drop `start` and `end`")
    if start or end:
        if not (start and end):
            raise WindowError("`start` and `end` go together", fix="give both `start` and `end`")
        window = resolve_window(data, start, end, as_of, cal)
        label = f"{periods.format_date(window.start, calendar=cal)}_{periods.format_date(window.end, calendar=cal)}"
        return window, label
    ref = periods.parse_date(as_of, calendar=cal, tz=tz) if as_of else data.span[1]
    spec = period or "last-month"
    try:
        spec = check_option("period", spec, RELATIVE_PERIODS)
    except OptionError:
        pass  # not a relative period: a period label
    if spec in RELATIVE_PERIODS:
        kind = {"week": "week", "month": "month", "quarter": "quarter", "year": "year"}[spec.split("-")[1]]
        current = periods.period_table(ref, ref + pd.Timedelta(seconds=1), period=kind, calendar=cal,
                                       week_start=data.settings.week_start if cal == data.settings.calendar
                                       else None, tz=tz).iloc[0]
        if spec.startswith("this-"):
            lo, hi = current["period_start"], current["period_end"]
            label = str(current["period"])
            window = resolve_window(data, lo, hi, max(hi, ref) if as_of else None, cal)
            return window, label
        lo, hi = periods.previous_window(current["period_start"], current["period_end"], calendar=cal)
        label = str(periods.period_table(lo, hi, period=kind, calendar=cal, tz=tz,
                                         week_start=data.settings.week_start if cal == data.settings.calendar
                                         else None).iloc[0]["period"])
    else:
        try:
            lo, hi = periods.period_bounds(spec, calendar=cal, tz=tz,
                                           fiscal_year_start=data.settings.fiscal_year_start)
        except Exception as err:
            raise WindowError(f"`period` {spec!r} is not understood ({err})",
                              fix=f"use one of {', '.join(RELATIVE_PERIODS)}, a month such as 2025-10 "
                                  "(or 1404-08 with the Jalali calendar), a quarter such as 2025-Q3, "
                                  "or `start`/`end`") from err
        label = spec
    window = resolve_window(data, lo, hi, as_of, cal)
    return window, label
