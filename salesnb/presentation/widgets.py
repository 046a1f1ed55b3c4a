"""The one filter bar of a notebook or of the app (ipywidgets): thin, it only re-runs views.

Every input is also a notebook parameter; the widgets only add interactivity when a
person runs the notebook (``interactive=True``). Headless report runs
(``interactive=False``) get the same content as static output, with no widgets.

One :class:`FilterBar` per notebook (and one in the app): labelled controls for the
salespeople (with a search box and an explicit "everybody"), teams, pipelines (when the
data has them), the period, the calendar and the date range — only those that some
section of the page reads. Salespeople and teams restrict each other (choosing a team
offers only its people; choosing people offers only their teams). Every section shown
through the bar (:meth:`FilterBar.show`) is redrawn when a filter it reads changes:

* **off-screen, then swapped once**: a section is computed and rendered to one HTML
  string, then put on the page in a single widget update (the browser replaces one
  element; nothing is emptied first, so the page does not jump);
* **only what changed**: a section whose filters did not change is not recomputed nor
  redrawn (changing the period leaves the funnel alone);
* **a bad date** shows one short message in the page's language beside the bar and dims
  the sections (they are not recomputed until the date is fixed).

The bar counts its updates: the status element carries ``data-generation`` (and the
compute and render times of the last update, in milliseconds); browser tests wait for it.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from salesnb import periods
from salesnb._options import CALENDARS, PERIODS
from salesnb.exceptions import OptionError, SalesnbError
from salesnb.presentation import charts, i18n
from salesnb.presentation.notebook import NotebookContext, restrict
from salesnb.presentation.views import USES, VIEWS, Section, View, section_html, show

__all__ = ["FilterBar", "Panel", "filter_bar", "section_error", "show_section"]

#: Renders a page section for a context: ``(ctx) -> HTML``.
Render = Callable[[NotebookContext], str]


@dataclass
class Panel:
    """One section of a page under a filter bar: how to render it, what it reads, its widget.

    Attributes
    ----------
    name : str
        The section's name (``won_lost``...), written as ``data-section`` in the page.
    render : callable
        ``render(ctx) -> str``: the section as one HTML string.
    uses : frozenset of str
        The filters it reads: ``people``, ``dates``, ``as_of``, ``period``.
    """

    name: str
    render: Render
    uses: frozenset[str]
    widget: Any = None
    key: tuple[Any, ...] | None = None
    timing: dict[str, float] = field(default_factory=dict)
    last: Section | None = None

    def state_key(self, ctx: NotebookContext) -> tuple[Any, ...]:
        """What the section's output depends on (it is redrawn only when this changes)."""
        w = ctx.window
        key: list[Any] = [ctx.language]
        if "people" in self.uses:
            key += [ctx.owners, ctx.teams, ctx.pipelines]
        if "dates" in self.uses:
            key += [w.start, w.end, w.as_of, w.calendar]
        elif "as_of" in self.uses:
            key += [w.as_of, w.calendar]
        if "period" in self.uses:
            key += [ctx.period]
        return tuple(key)


def _options(values: Iterable[str], language: str) -> list[tuple[str, str]]:
    return [(i18n.translate_value(v, language), v) for v in values]


class FilterBar:
    """The labelled filter bar of a page, and the sections it drives.

    Parameters
    ----------
    ctx : NotebookContext
        The starting context (its parameters set the controls' initial values).
    uses : iterable of str
        The filters the page's sections read (``people``, ``dates``, ``as_of``,
        ``period``); only their controls are shown.
    """

    def __init__(self, ctx: NotebookContext, uses: Iterable[str] = ("people", "dates", "period")):
        import ipywidgets as w

        self.ctx = ctx
        self.uses = frozenset(uses)
        self.panels: list[Panel] = []
        self.generation = 0
        self._busy = False
        lang = ctx.language
        t = lambda key: i18n.translate(key, lang)  # noqa: E731
        full = ctx.full
        self._teams_all = full.values("team")
        self._pipelines_all = _values(full, "pipeline")
        self._team_people: dict[str, set[str]] | None = None

        def label(key: str) -> Any:
            return w.HTML(f'<span class="salesnb-label">{html.escape(t(key))}</span>')

        # --- people
        self.search = w.Text(placeholder=t("search_people"), layout=w.Layout(width="15em"))
        self.everybody = w.Checkbox(value=not ctx.owners, description=t("everybody"), indent=False,
                                    layout=w.Layout(width="auto"))
        self.owners = w.SelectMultiple(options=_options(full.owners, lang), value=ctx.owners,
                                       rows=min(10, max(3, len(full.owners))),
                                       layout=w.Layout(width="15em"))
        self.all_teams = w.Checkbox(value=not ctx.teams, description=t("all_teams"), indent=False,
                                    layout=w.Layout(width="auto"))
        self.teams = w.SelectMultiple(options=_options(self._teams_all, lang), value=ctx.teams,
                                      rows=min(6, max(2, len(self._teams_all))),
                                      layout=w.Layout(width="12em"))
        self.pipelines = w.Dropdown(options=[(t("all_pipelines"), ""), *_options(self._pipelines_all, lang)],
                                    value=ctx.pipelines[0] if ctx.pipelines else "",
                                    layout=w.Layout(width="12em"))
        # --- time
        self.start = w.Text(value=self._fmt(ctx.window.start), continuous_update=False,
                            layout=w.Layout(width="9em"))
        self.end = w.Text(value=self._fmt(ctx.window.end), continuous_update=False,
                          layout=w.Layout(width="9em"))
        self.calendar = w.ToggleButtons(options=[(t(c), c) for c in CALENDARS], value=ctx.calendar,
                                        style={"button_width": "7em"})
        self.period = w.Dropdown(options=[(t(p), p) for p in PERIODS if p != "day"], value=ctx.period,
                                 layout=w.Layout(width="8em"))
        self.message = w.HTML()
        self.status = w.HTML(self._status_html(0, {}))

        def group(key: str, *children: Any) -> Any:
            return w.VBox([label(key), *children], layout=w.Layout(margin="0 .8em .3em 0"))

        people: list[Any] = []
        dates: list[Any] = []
        if "people" in self.uses:
            people = [group("salesperson", self.search, self.everybody, self.owners)]
            if self._teams_all:
                people.append(group("team", self.all_teams, self.teams))
            if self._pipelines_all:
                people.append(group("pipeline", self.pipelines))
        if self.uses & {"dates", "as_of"}:
            if "dates" in self.uses:
                dates.append(group("from", self.start))
            dates.append(group("to" if "dates" in self.uses else "as_of", self.end))
            dates.append(group("calendar", self.calendar))
        if "period" in self.uses:
            dates.append(group("period", self.period))
        style = w.HTML(f"<style>{charts.CSS}</style>")
        self.box = w.VBox([style, w.HBox([*people, *dates], layout=w.Layout(flex_flow="row wrap")),
                           self.message, self.status])
        self.box.add_class("salesnb-bar")
        self.box.add_class(f"salesnb-{charts.direction(lang)}")

        for control in (self.owners, self.teams, self.pipelines, self.start, self.end, self.period):
            control.observe(self._changed, names="value")
        self.everybody.observe(self._everybody_changed, names="value")
        self.all_teams.observe(self._all_teams_changed, names="value")
        self.search.observe(self._search_changed, names="value")
        self.calendar.observe(self._calendar_changed, names="value")
        self._restrict_options()

    # ------------------------------------------------------------------ sections
    def add(self, name: str, render: Render, uses: Iterable[str]) -> Panel:
        """Add a section to the page (rendered now, and again when a filter it reads changes)."""
        import ipywidgets as w

        panel = Panel(name, render, frozenset(uses), widget=w.HTML())
        panel.widget.add_class("salesnb-panel")
        panel.widget.add_class(f"salesnb-panel-{name}")
        self.panels.append(panel)
        self._refresh(panel, self.ctx)
        return panel

    def show(self, view: str | View) -> Panel | Section:
        """Show a notebook section under this bar: a view's name (``"funnel"``) or the view.

        Interactive: displays the section's widget and returns its :class:`Panel`.
        Static (``ctx.interactive`` False): displays the section as plain output and
        returns the :class:`Section`.
        """
        name, func = _view(view)
        if not self.ctx.interactive:
            return show(func(self.ctx))
        from IPython.display import display

        def render(ctx: NotebookContext, panel_name: str = name) -> str:
            section = func(ctx)
            panel = next(p for p in self.panels if p.name == panel_name)
            panel.last = section
            started = time.perf_counter()
            out = section_html(section, version=self.generation)
            panel.timing["render_html"] = time.perf_counter() - started
            return out

        panel = self.add(name, render, USES.get(name, frozenset({"people", "dates", "period"})))
        display(panel.widget)
        return panel

    def display(self) -> FilterBar:
        """Display the bar (interactive contexts only); returns the bar."""
        if self.ctx.interactive:
            from IPython.display import display

            display(self.box)
        return self

    # ------------------------------------------------------------------ controls
    def _fmt(self, ts: Any, calendar: str | None = None) -> str:
        text = periods.format_date(ts, calendar=calendar or self.ctx.calendar)
        return i18n.persian_digits(text) if self.ctx.language == "fa" else text

    def _people_of_teams(self) -> dict[str, set[str]]:
        if self._team_people is None:
            self._team_people = {team: set(restrict(self.ctx.full, teams=[team]).owners)
                                 for team in self._teams_all}
        return self._team_people

    def _restrict_options(self) -> None:
        """Salespeople and teams restrict each other; the search narrows the salespeople."""
        lang = self.ctx.language
        mapping = self._people_of_teams() if self._teams_all else {}
        teams = set(self.teams.value)
        people = list(self.ctx.full.owners)
        if teams:
            allowed = set().union(*(mapping[t] for t in teams))
            people = [p for p in people if p in allowed]
        query = self.search.value.strip().casefold()
        chosen = [p for p in self.owners.value if p in people]
        if query:
            people = [p for p in people if query in p.casefold() or p in chosen]
        team_options = list(self._teams_all)
        if self.owners.value:
            team_options = [t for t in team_options if mapping.get(t, set()) & set(self.owners.value)]
        self._busy = True
        try:
            owner_opts = _options(people, lang)
            if list(self.owners.options) != owner_opts:
                self.owners.options = owner_opts
                self.owners.value = tuple(chosen)
            team_opts = _options(team_options, lang)
            if list(self.teams.options) != team_opts:
                kept = tuple(t for t in self.teams.value if t in team_options)
                self.teams.options = team_opts
                self.teams.value = kept
            self.everybody.value = not self.owners.value
            self.all_teams.value = not self.teams.value
        finally:
            self._busy = False

    def _everybody_changed(self, change: dict[str, Any]) -> None:
        if self._busy:
            return
        if change["new"] and self.owners.value:
            self.owners.value = ()  # triggers the update
        elif not change["new"] and not self.owners.value:
            self._busy = True
            self.everybody.value = True  # nobody chosen means everybody
            self._busy = False

    def _all_teams_changed(self, change: dict[str, Any]) -> None:
        if self._busy:
            return
        if change["new"] and self.teams.value:
            self.teams.value = ()
        elif not change["new"] and not self.teams.value:
            self._busy = True
            self.all_teams.value = True
            self._busy = False

    def _search_changed(self, _change: Any) -> None:
        if not self._busy:
            self._restrict_options()

    def _calendar_changed(self, change: dict[str, Any]) -> None:
        # Rewrite the dates in the new calendar without triggering two updates.
        old, new = change["old"], change["new"]
        tz = self.ctx.full.settings.timezone
        try:
            start = periods.parse_date(i18n.latin_digits(self.start.value), calendar=old, tz=tz)
            end = periods.parse_date(i18n.latin_digits(self.end.value), calendar=old, tz=tz)
        except SalesnbError:
            self._changed()
            return
        self._busy = True
        self.start.value, self.end.value = self._fmt(start, new), self._fmt(end, new)
        self._busy = False
        self._changed()

    def _read_dates(self) -> tuple[Any, Any] | str:
        """The dates of the boxes, or the message saying what is wrong with them."""
        lang, cal = self.ctx.language, self.calendar.value
        t = lambda key, **kw: i18n.translate(key, lang, **kw)  # noqa: E731
        tz = self.ctx.full.settings.timezone
        out = []
        for field_key, box in (("from", self.start), ("to", self.end)):
            try:
                out.append(periods.parse_date(i18n.latin_digits(box.value.strip()), calendar=cal, tz=tz))
            except (SalesnbError, ValueError):
                return t("bad_date", field=t(field_key), value=box.value, calendar=t(cal))
        if "dates" in self.uses and not out[0] < out[1]:
            return t("bad_window", field_from=t("from"), field_to=t("to"))
        return out[0], out[1]

    def _changed(self, _change: Any = None) -> None:
        if self._busy:
            return
        self._restrict_options()
        dates = self._read_dates()
        if isinstance(dates, str):
            self._fail(dates)
            return
        try:
            ctx = self.ctx.with_changes(
                owners=tuple(self.owners.value), teams=tuple(self.teams.value),
                pipelines=(self.pipelines.value,) if self.pipelines.value else (),
                start=dates[0], end=dates[1], period=self.period.value, calendar=self.calendar.value,
            )
        except (SalesnbError, OptionError) as err:
            self._fail(i18n.translate("filter_error", self.ctx.language, detail="").rstrip(),
                       detail=str(err).splitlines()[0])
            return
        self.update(ctx)

    def _fail(self, text: str, detail: str = "") -> None:
        """Show what is wrong with the filters (``detail``: the library's English words, kept
        left to right inside a Persian sentence) and dim the sections until it is fixed."""
        extra = f' <bdi lang="en" dir="ltr">{html.escape(detail)}</bdi>' if detail else ""
        self.message.value = (f'<span class="salesnb-error" role="alert" lang="{self.ctx.language}" '
                              f'dir="{charts.direction(self.ctx.language)}">{html.escape(text)}{extra}</span>')
        for panel in self.panels:
            panel.widget.add_class("salesnb-stale")

    def update(self, ctx: NotebookContext | None = None) -> None:
        """Recompute and redraw the sections whose filters changed (all of them for ``None``)."""
        if ctx is None:
            for panel in self.panels:
                panel.key = None
            ctx = self.ctx
        self.message.value = ""
        self.ctx = ctx
        self.generation += 1
        started = time.perf_counter()
        rendered = [(panel, self._compute(panel, ctx)) for panel in self.panels]
        compute = time.perf_counter() - started
        # Swap: every changed section gets its new HTML in one update each, back to back.
        for panel, value in rendered:
            if value is not None:
                panel.widget.value = value
            panel.widget.remove_class("salesnb-stale")
        self.status.value = self._status_html(self.generation, {"compute_ms": 1000 * compute})

    def _compute(self, panel: Panel, ctx: NotebookContext) -> str | None:
        key = panel.state_key(ctx)
        if key == panel.key:
            return None
        started = time.perf_counter()
        try:
            value = panel.render(ctx)
        except SalesnbError as err:
            value = section_error(str(err), ctx.language)
        panel.timing["total"] = time.perf_counter() - started
        panel.key = key
        return f'<div data-section="{panel.name}" data-version="{self.generation}">{value}</div>'

    def _refresh(self, panel: Panel, ctx: NotebookContext) -> None:
        value = self._compute(panel, ctx)
        if value is not None:
            panel.widget.value = value

    def _status_html(self, generation: int, timing: dict[str, float]) -> str:
        attrs = " ".join(f'data-{k.replace("_", "-")}="{v:.1f}"' for k, v in timing.items())
        return f'<span class="salesnb-status" data-generation="{generation}" {attrs}></span>'


def section_error(detail: str, language: str) -> str:
    """What a section shows when it cannot be computed for the filters: a short message in
    ``language``, then the library's first line (English, laid out left to right inside a
    Persian page).

    Examples
    --------
    >>> out = section_error("no deal in the window", "fa")
    >>> 'dir="rtl" lang="fa"' in out and '<bdi lang="en" dir="ltr">no deal in the window</bdi>' in out
    True
    """
    lead = i18n.translate("section_error", language)
    first = html.escape(detail.splitlines()[0] if detail else "")
    return (f'<div class="salesnb-section" dir="{charts.direction(language)}" lang="{language}">'
            f'<p class="salesnb-error" role="alert">{html.escape(lead)}</p>'
            f'<p class="salesnb-note"><bdi lang="en" dir="ltr">{first}</bdi></p></div>')


def _values(data: Any, column: str) -> list[str]:
    try:
        return list(data.values(column))
    except OptionError:
        return []


def _view(view: str | View) -> tuple[str, View]:
    if isinstance(view, str):
        if view not in VIEWS:
            raise OptionError("view", view, list(VIEWS))
        return view, VIEWS[view]
    name = next((k for k, v in VIEWS.items() if v is view), getattr(view, "__name__", "section"))
    return name, view


def filter_bar(ctx: NotebookContext, sections: Iterable[str] = tuple(VIEWS)) -> FilterBar:
    """Make the one filter bar of a notebook, with the controls its sections read, and show it.

    Parameters
    ----------
    ctx : NotebookContext
        From :func:`salesnb.notebook.prepare`.
    sections : iterable of str
        The names of the sections the notebook shows (keys of
        :data:`salesnb.presentation.views.VIEWS`): the bar shows only the filters they
        read (a notebook without a per-period chart has no period control).

    Returns
    -------
    FilterBar
        Displayed when ``ctx.interactive``; in static runs :meth:`FilterBar.show` shows
        plain output.
    """
    uses: set[str] = set()
    for name in sections:
        uses |= USES.get(name, frozenset())
    bar = FilterBar(ctx, uses or ("people", "dates", "period")) if ctx.interactive else _StaticBar(ctx)
    bar.display()
    return bar  # type: ignore[return-value]


class _StaticBar:
    """What :func:`filter_bar` returns in static runs: sections shown as plain output."""

    def __init__(self, ctx: NotebookContext):
        self.ctx = ctx

    def display(self) -> _StaticBar:
        return self

    def show(self, view: str | View) -> Section:
        return show(_view(view)[1](self.ctx))


def show_section(view: View, ctx: NotebookContext) -> Section | Panel:
    """Show one section with its own filter bar (interactive) or statically.

    Kept for scripts written against earlier versions; notebooks use one
    :func:`filter_bar` for all their sections.
    """
    name, _ = _view(view)
    bar = filter_bar(ctx, [name])
    return bar.show(view)
