"""The one option checker, and the vocabularies of the options it checks.

Every option that takes one of a fixed set of values — ``calendar``, ``period``,
``basis``, ``language``, ``week_start``, ``by`` (a column), ``measure``... — is checked
by :func:`check_option`, in the library and on the command line alike. The rule is the
same everywhere: text is compared case-insensitively after trimming, the canonical
spelling of the accepted value is returned, and anything else raises
:class:`~salesnb.exceptions.OptionError` naming the parameter, what it accepts and
what was passed (seaborn's ``_check_argument`` message)::

    The value for `calendar` must be one of ['gregorian', 'jalali'], but 'x' was passed.

Parameter names are written in backticks so that the command line can show its own
flag names instead (``--calendar``). This module imports nothing from salesnb but the
exceptions, so every layer can use it.
"""

from __future__ import annotations

from collections.abc import Iterable

from salesnb.exceptions import OptionError

__all__ = ["CALENDARS", "ENGINES", "LANGUAGES", "PERIODS", "WEEKDAYS", "check_option"]

#: The calendars dates can be written in and periods cut by.
CALENDARS: tuple[str, ...] = ("gregorian", "jalali")
#: The period kinds, shortest first.
PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
#: Weekday names, Monday first (index 0 is Monday, as in :meth:`datetime.date.weekday`).
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                             "sunday")
#: The languages of titles, labels, tables and reports.
LANGUAGES: tuple[str, ...] = ("en", "fa")
#: Where the numbers are computed: DuckDB in this process (files, DataFrames; a database
#: copied into it), inside the database of a URL, or Spark.
ENGINES: tuple[str, ...] = ("duckdb", "database", "spark")


def check_option(name: str, value: object, options: Iterable[str]) -> str:
    """Return the accepted spelling of ``value`` among ``options``, or raise naming them.

    Parameters
    ----------
    name : str
        The parameter's name, shown in the message.
    value : object
        What was passed. Text matches an option exactly, else case-insensitively after
        trimming surrounding spaces; anything that is not text never matches.
    options : iterable of str
        The accepted values, in their canonical spelling (lower case for the package's
        own vocabularies, as stored for column names).

    Returns
    -------
    str
        The matching option as spelled in ``options``.

    Raises
    ------
    OptionError
        When ``value`` matches none of ``options`` (or more than one, differing only in
        case): the message names the parameter, the accepted values and ``value``.

    Examples
    --------
    >>> check_option("calendar", " Jalali", CALENDARS)
    'jalali'
    >>> check_option("calendar", "x", CALENDARS)
    Traceback (most recent call last):
    ...
    salesnb.exceptions.OptionError: The value for `calendar` must be one of ['gregorian', 'jalali'], but 'x' was passed.
    """
    accepted = tuple(options)
    if isinstance(value, str):
        if value in accepted:
            return value
        key = value.strip().casefold()
        found = [option for option in accepted if option.casefold() == key]
        if len(found) == 1:
            return found[0]
    raise OptionError(name, value, accepted)
