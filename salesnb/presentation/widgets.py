"""Interactive controls for the notebooks (ipywidgets): thin, they only re-run a view.

Every input is also a notebook parameter; the widgets only add interactivity when a
person runs the notebook (``interactive=True``). Headless report runs
(``interactive=False``) get the same content as static output, with no widgets.
"""

from __future__ import annotations

from typing import Any

from salesnb import periods
from salesnb._options import CALENDARS, PERIODS
from salesnb.exceptions import SalesnbError
from salesnb.presentation import i18n
from salesnb.presentation.notebook import NotebookContext
from salesnb.presentation.views import Section, View, section_objects, show

__all__ = ["Controls", "show_section"]


class Controls:
    """The filter controls of one notebook section, bound to a view.

    Parameters
    ----------
    view : callable
        A view from :mod:`salesnb.presentation.views`.
    ctx : NotebookContext
        The starting context (its parameters set the controls' initial values).
    """

    def __init__(self, view: View, ctx: NotebookContext):
        import ipywidgets as w

        self.view = view
        self.ctx = ctx
        self.last: Section | None = None
        lang = ctx.language
        t = i18n.translate
        full = ctx.full
        teams = sorted(full.opportunities["team"].dropna().unique().tolist())
        layout = w.Layout(width="auto")
        self.owners = w.SelectMultiple(options=full.owners, value=ctx.owners, rows=5,
                                       description=t("owner", lang), layout=layout)
        self.teams = w.SelectMultiple(options=teams, value=ctx.teams, rows=5,
                                      description=t("team", lang), layout=layout)
        self.start = w.Text(value=self._fmt(ctx.window.start), description=t("start", lang),
                            continuous_update=False, layout=w.Layout(width="14em"))
        self.end = w.Text(value=self._fmt(ctx.window.end), description=t("end", lang),
                          continuous_update=False, layout=w.Layout(width="14em"))
        self.period = w.Dropdown(options=[p for p in PERIODS if p != "day"], value=ctx.period,
                                 description=t("period", lang), layout=w.Layout(width="14em"))
        self.calendar = w.ToggleButtons(options=list(CALENDARS), value=ctx.calendar)
        self.message = w.HTML()
        self.output = w.Output()
        for control in (self.owners, self.teams, self.start, self.end, self.period):
            control.observe(self.update, names="value")
        self.calendar.observe(self._calendar_changed, names="value")
        self.box = w.VBox([
            w.HBox([self.owners, self.teams]),
            w.HBox([self.start, self.end, self.period, self.calendar]),
            self.message,
            self.output,
        ])

    def _fmt(self, ts: Any, calendar: str | None = None) -> str:
        return periods.format_date(ts, calendar=calendar or self.ctx.calendar)

    def _calendar_changed(self, change: dict[str, Any]) -> None:
        # Rewrite the dates in the new calendar without triggering two updates.
        old, new = change["old"], change["new"]
        tz = self.ctx.full.settings.timezone
        try:
            start = periods.parse_date(self.start.value, calendar=old, tz=tz)
            end = periods.parse_date(self.end.value, calendar=old, tz=tz)
        except SalesnbError as err:
            self.message.value = f"<b style='color:#b00'>{_escape(str(err))}</b>"
            return
        for control in (self.start, self.end):
            control.unobserve(self.update, names="value")
        self.start.value, self.end.value = self._fmt(start, new), self._fmt(end, new)
        for control in (self.start, self.end):
            control.observe(self.update, names="value")
        self.update()

    def update(self, _change: Any = None) -> None:
        """Recompute the view with the controls' values and redraw it in place."""
        try:
            self.ctx = self.ctx.with_changes(
                owners=tuple(self.owners.value), teams=tuple(self.teams.value),
                start=self.start.value, end=self.end.value, period=self.period.value,
                calendar=self.calendar.value,
            )
        except SalesnbError as err:
            self.message.value = f"<b style='color:#b00'>{_escape(str(err))}</b>"
            return
        self.message.value = ""
        section = self.view(self.ctx)
        # The outputs are set on the widget directly, not captured with `with output:`:
        # capturing (and clear_output) inside an Output widget can deadlock nbclient,
        # which papermill and nbval use to run notebooks headlessly.
        self.output.outputs = ()
        for obj in section_objects(section):
            self.output.append_display_data(obj)
        self.last = section


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


def show_section(view: View, ctx: NotebookContext) -> Section | Controls:
    """Show a notebook section: with controls when ``ctx.interactive``, else statically.

    Returns the :class:`Section` shown (static) or the :class:`Controls` (interactive).
    """
    if not ctx.interactive:
        return show(view(ctx))
    from IPython.display import display

    controls = Controls(view, ctx)
    display(controls.box)
    controls.update()
    return controls
