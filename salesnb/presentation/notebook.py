"""The notebooks' parameters and the context every notebook section works from.

Every notebook starts with a ``parameters`` cell holding exactly the names of
:data:`PARAMETERS` (papermill overrides them in report runs), then calls
:func:`prepare` once. The returned :class:`NotebookContext` carries the loaded data
(filtered by salesperson and team), the resolved window and the display options, and
is what the section views (:mod:`salesnb.presentation.views`) and widgets take.
"""

from __future__ import annotations

import functools
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

__all__ = ["LANGUAGES", "PARAMETERS", "NotebookContext", "default_window", "prepare", "restrict"]

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
    pipelines: tuple[str, ...] = ()

    @property
    def csv_links(self) -> bool:
        """Whether sections attach their full lists as CSV (static runs: the report writes them)."""
        return not self.interactive

    @functools.cached_property
    def team_data(self) -> SalesData:
        """The dataset restricted to the teams and pipelines only (everybody in them).

        Comparisons with a team (the too-few flag's team median) are made on it, so
        that selecting one salesperson does not make them their own team.
        """
        return restrict(self.full, teams=self.teams, pipelines=self.pipelines)

    def describe_filters(self, uses: Any = ("people", "dates", "period")) -> str:
        """The active filters a section reads, in words, in the context's language.

        ``uses`` names what the section reads: ``people`` (salespeople, teams,
        pipelines), ``dates`` (the window), ``as_of`` (the moment only), ``period``.

        Examples
        --------
        >>> ctx = prepare(start="1404-01-01", end="1404-04-01", teams=["Tehran"], interactive=False)
        >>> ctx.describe_filters({"people", "dates"})
        'Salesperson: everybody · Team: Tehran · 1404-01-01 – 1404-04-01'
        """
        from salesnb.presentation import i18n

        lang = self.language
        t = lambda key: i18n.translate(key, lang)  # noqa: E731
        everybody = t("everybody_short")
        parts = []
        if "people" in uses:
            parts.append(f"{t('salesperson')}: {', '.join(self.owners) or everybody}")
            parts.append(f"{t('team')}: {', '.join(self.teams) or everybody}")
            if self.pipelines:
                parts.append(f"{t('pipeline')}: {', '.join(self.pipelines)}")
        w, fmt = self.window, periods.format_date
        if "dates" in uses:
            parts.append(f"{fmt(w.start, calendar=w.calendar)} – {fmt(w.end, calendar=w.calendar)}")
        if "as_of" in uses or ("dates" in uses and w.as_of != w.end):
            parts.append(f"{t('as_of')} {fmt(w.as_of, calendar=w.calendar)}")
        if "period" in uses:
            parts.append(f"{t('period')}: {t(self.period)}")
        text = " · ".join(parts)
        return i18n.persian_digits(text) if lang == "fa" else text

    @property
    def calendar(self) -> str:
        """The calendar of the window and the periods."""
        return self.window.calendar

    def kpi_args(self) -> dict[str, Any]:
        """Keyword arguments for a KPI function: ``start``, ``end``, ``as_of``, ``calendar``."""
        w = self.window
        return {"start": w.start, "end": w.end, "as_of": w.as_of, "calendar": w.calendar}

    @functools.cached_property
    def is_empty(self) -> bool:
        """True when nothing happened in the window: no deal created, closed, or open at ``as_of``."""
        from salesnb.metrics.opportunities import new_opportunities, open_opportunities
        from salesnb.metrics.outcomes import won_lost

        a = self.kpi_args()
        created = int(new_opportunities(self.data, **a, period="year", by=None)["created"].sum())
        closed = int(won_lost(self.data, **a, period=None, by=None)["closed"].sum())
        still_open = int(open_opportunities(self.data, as_of=self.window.as_of, by=None)["open_count"].sum())
        return not (created or closed or still_open)

    def describe_window(self) -> str:
        """The window in words, in its calendar (e.g. ``1404-07-01 – 1404-08-01 (jalali)``)."""
        from salesnb.presentation import i18n

        w, lang = self.window, self.language
        t = lambda key: i18n.translate(key, lang)  # noqa: E731
        fmt = periods.format_date
        comma = "، " if lang == "fa" else ", "
        text = (f"{fmt(w.start, calendar=w.calendar)} – {fmt(w.end, calendar=w.calendar)} "
                f"({t(w.calendar) if lang == 'fa' else w.calendar}{comma}{t('end_exclusive')})")
        if w.as_of != w.end:
            text += f"{comma}{t('as_of')} {periods.format_datetime(w.as_of, calendar=w.calendar)}"
        return i18n.persian_digits(text) if lang == "fa" else text

    def heading(self) -> str:
        """The data and the window in one line, in the context's language (the notebooks print it).

        Examples
        --------
        >>> prepare(start="1404-01-01", end="1404-04-01", interactive=False).heading()
        '2,000 opportunities, 6,271 stage-history rows, 10 salespeople · Window: 1404-01-01 – 1404-04-01 (jalali, end exclusive)'
        >>> prepare(start="1404-01-01", end="1404-04-01", interactive=False, language="fa").heading()[:30]
        '۲٬۰۰۰ فرصت، ۶٬۲۷۱ ردیف تاریخچه'
        """
        from salesnb.presentation import i18n

        s = self.data.summary()
        text = i18n.translate("heading", self.language, opportunities=f"{s['opportunities']:,}",
                              history=f"{s['history_rows']:,}", owners=f"{s['owners']:,}")
        text = i18n.persian_digits(text) if self.language == "fa" else text
        return f"{text} · {i18n.translate('window', self.language)}: {self.describe_window()}"

    def note_lines(self) -> list[str]:
        """The dataset's notes as the notebooks print them: ``note: …`` in the context's
        language (the notes the catalogue knows are translated; others stay as written).

        Examples
        --------
        >>> ctx = prepare(start="1404-01-01", end="1404-04-01", interactive=False, language="fa")
        >>> [line.split(":")[0] for line in ctx.note_lines()]
        []
        """
        from salesnb.presentation import i18n

        label = i18n.translate("note_label", self.language)
        return [f"{label}: {i18n.translate_note(n, self.language)}" for n in self.notes]

    def with_changes(self, **changes: Any) -> NotebookContext:
        """Return a new context with some parameters changed (used by the widgets)."""
        owners = tuple(changes.pop("owners", self.owners))
        teams = tuple(changes.pop("teams", self.teams))
        pipelines = tuple(changes.pop("pipelines", self.pipelines))
        calendar = changes.pop("calendar", self.window.calendar)
        start = changes.pop("start", self.window.start)
        end = changes.pop("end", self.window.end)
        as_of = changes.pop("as_of", None)
        window = resolve_window(self.full, start, end, as_of, calendar)
        same_people = (owners, teams, pipelines) == (self.owners, self.teams, self.pipelines)
        data = self.data if same_people else restrict(self.full, owners=owners, teams=teams,
                                                      pipelines=pipelines)
        return replace(self, data=data, window=window, owners=owners, teams=teams,
                       pipelines=pipelines, **changes)


@functools.lru_cache(maxsize=32)
def _pipeline_subset(data: SalesData, pipelines: tuple[str, ...]) -> SalesData:
    """The dataset restricted to some pipelines (kept: choosing a pipeline again is free)."""
    import inspect

    if "pipelines" in inspect.signature(data.subset).parameters:
        return data.subset(pipelines=list(pipelines))  # type: ignore[call-arg]
    # SalesData.subset knows owners and teams only: rebuild the dataset from its own
    # tables (public attributes), validated again like any frames.
    opps = data.opportunities
    keep = opps["pipeline"].isin(list(pipelines))
    ids = set(opps.loc[keep, "opportunity_id"])
    hist = data.stage_history
    hist = hist.loc[hist["opportunity_id"].isin(ids), ["opportunity_id", "stage", "entered_at"]]
    return SalesData.from_frames(opps[keep].reset_index(drop=True), hist.reset_index(drop=True)
                                 if data.has_history else None, data.settings, source=data.source,
                                 notes=data.notes)


def restrict(data: SalesData, *, owners: Sequence[str] = (), teams: Sequence[str] = (),
             pipelines: Sequence[str] = ()) -> SalesData:
    """Return the dataset restricted to some salespeople, teams and pipelines (empty: all).

    Examples
    --------
    >>> from salesnb.data.loading import load
    >>> restrict(load(sample_path()), teams=["Isfahan"]).values("team")
    ['Isfahan']
    """
    if pipelines:
        data = _pipeline_subset(data, tuple(pipelines))
    return data.subset(owners=list(owners), teams=list(teams))


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
