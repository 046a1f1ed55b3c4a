"""The notebooks' parameters and the context every notebook section works from.

Every notebook starts with a ``parameters`` cell holding exactly the names of
:data:`PARAMETERS` (papermill overrides them in report runs), then calls
:func:`prepare` once. The returned :class:`NotebookContext` carries the loaded data
(filtered by salesperson and team), the resolved window and the display options, and
is what the section views (:mod:`salesnb.presentation.views`) and widgets take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from salesnb import periods
from salesnb._options import CALENDARS, LANGUAGES, PERIODS, check_option
from salesnb.data.bundled import sample_path
from salesnb.data.dataset import SalesData
from salesnb.data.loading import load
from salesnb.exceptions import WindowError
from salesnb.metrics.window import Window, resolve_window

__all__ = ["LANGUAGES", "PARAMETERS", "NotebookContext", "default_window", "prepare"]

#: The parameters every notebook declares, with their defaults (the contract between
#: notebooks, `salesnb report` and papermill). Empty text means "the default".
PARAMETERS: dict[str, Any] = {
    "data_path": "",      # dataset folder, .xlsx or database URL; "" = the bundled sample
    "start": "",          # window start (inclusive), in `calendar`; "" = 12 months before `end`
    "end": "",            # window end (exclusive); "" = start of the last incomplete month
    "as_of": "",          # evaluate with what was known then; "" = `end`
    "period": "month",    # week, month, quarter or year
    "calendar": "",       # gregorian or jalali; "" = the dataset's calendar
    "owners": [],         # salespeople to include; [] = all
    "teams": [],          # teams to include; [] = all
    "language": "en",     # en or fa
    "interactive": True,  # True: widgets; False: static output (report runs)
    "mapping": "",        # column mapping or preset for CRM exports (e.g. "maven"); "" = none
}


@dataclass(frozen=True)
class NotebookContext:
    """What a notebook section needs: the data, the window and the display options.

    Attributes
    ----------
    data : SalesData
        The dataset restricted to ``owners`` / ``teams``.
    full : SalesData
        The whole dataset (the widgets offer its salespeople and teams).
    window : Window
        ``start``, ``end``, ``as_of`` and ``calendar``, resolved.
    period, language, interactive, owners, teams
        As given in the parameters.
    """

    data: SalesData
    full: SalesData
    window: Window
    period: str
    language: str
    interactive: bool
    owners: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def calendar(self) -> str:
        """The calendar of the window and the periods."""
        return self.window.calendar

    def kpi_args(self) -> dict[str, Any]:
        """Keyword arguments for a KPI function: ``start``, ``end``, ``as_of``, ``calendar``."""
        w = self.window
        return {"start": w.start, "end": w.end, "as_of": w.as_of, "calendar": w.calendar}

    @property
    def is_empty(self) -> bool:
        """True when nothing happened in the window: no deal created, closed, or open at ``as_of``."""
        opps = self.data.at(self.window.as_of).opportunities
        w = self.window
        created = ((opps["created_at"] >= w.start) & (opps["created_at"] < w.end)).any()
        closed = ((opps["closed_asof"] >= w.start) & (opps["closed_asof"] < w.end)).any()
        still_open = (opps["status_asof"] == "open").any()
        return not (created or closed or still_open)

    def describe_window(self) -> str:
        """The window in words, in its calendar (e.g. ``1404-07-01 – 1404-08-01 (jalali)``)."""
        w = self.window
        fmt = periods.format_date
        text = f"{fmt(w.start, calendar=w.calendar)} – {fmt(w.end, calendar=w.calendar)} ({w.calendar}, end exclusive)"
        if w.as_of != w.end:
            text += f", as of {periods.format_datetime(w.as_of, calendar=w.calendar)}"
        return text

    def with_changes(self, **changes: Any) -> NotebookContext:
        """Return a new context with some parameters changed (used by the widgets)."""
        owners = tuple(changes.pop("owners", self.owners))
        teams = tuple(changes.pop("teams", self.teams))
        calendar = changes.pop("calendar", self.window.calendar)
        start = changes.pop("start", self.window.start)
        end = changes.pop("end", self.window.end)
        as_of = changes.pop("as_of", None)
        window = resolve_window(self.full, start, end, as_of, calendar)
        data = self.full.subset(owners=list(owners), teams=list(teams))
        return replace(self, data=data, window=window, owners=owners, teams=teams, **changes)


def default_window(data: SalesData, calendar: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the default window: the 12 complete months before the month of the last event."""
    last = data.span[1]
    this_month = periods.period_table(last, last + pd.Timedelta(seconds=1), period="month",
                                      calendar=calendar, tz=data.settings.timezone)
    end = this_month["period_start"].iloc[0]
    start = periods.shift_window(end, end + pd.Timedelta(days=1), months=-12, calendar=calendar)[0]
    return start, end


def _as_list(value: Any, name: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value)
    raise WindowError(f"`{name}`={value!r} must be a list of names", fix=f'write e.g. `{name}`=["Sara"]')


def prepare(
    data_path: Any = "",
    start: Any = "",
    end: Any = "",
    as_of: Any = "",
    period: str = "month",
    calendar: str = "",
    owners: Any = (),
    teams: Any = (),
    language: str = "en",
    interactive: bool = True,
    mapping: str = "",
    *,
    data: SalesData | None = None,
) -> NotebookContext:
    """Load the data and resolve a notebook's parameters into a context.

    Parameters
    ----------
    data_path, start, end, as_of, period, calendar, owners, teams, language, interactive, mapping
        The notebook parameters (see :data:`PARAMETERS`). Dates are read in
        ``calendar`` (default: the dataset's), like the command line reads them.
    data : SalesData, optional
        An already loaded dataset (then ``data_path`` and ``mapping`` are ignored).

    Returns
    -------
    NotebookContext

    Examples
    --------
    >>> ctx = prepare(start="1404-01-01", end="1404-04-01", interactive=False)
    >>> ctx.window.calendar, ctx.period
    ('jalali', 'month')
    """
    if data is None:
        source = data_path or sample_path()
        kwargs: dict[str, Any] = {"mapping": mapping} if mapping else {}
        data = load(source, **kwargs)
    language = check_option("language", language, LANGUAGES)
    period = check_option("period", period, PERIODS)
    cal = check_option("calendar", calendar or data.settings.calendar, CALENDARS)
    if not isinstance(interactive, bool):
        raise WindowError(f"`interactive`={interactive!r} must be True or False",
                          fix="pass `interactive`=True (widgets) or False (static output)")
    if not end:
        end = default_window(data, cal)[1]
    if not start:
        end_ts = resolve_window(data, None, end, None, cal).end
        start = periods.shift_window(end_ts, end_ts + pd.Timedelta(days=1), months=-12, calendar=cal)[0]
    window: Window = resolve_window(data, start, end, as_of or None, cal)
    own, tms = _as_list(owners, "owners"), _as_list(teams, "teams")
    subset = data.subset(owners=list(own), teams=list(tms))
    return NotebookContext(subset, data, window, period, language, interactive, own, tms,
                           notes=tuple(data.notes))
