"""The widgets are thin: changing a control re-runs the view with the new parameters."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import salesnb as sn
from salesnb.presentation import views
from salesnb.presentation.widgets import Controls, show_section


def _ctx(**kw):
    return sn.notebook.prepare(start="1404-01-01", end="1404-04-01", **kw)


def test_controls_start_from_the_parameters_and_render() -> None:
    controls = Controls(views.won_lost_view, _ctx(period="month"))
    assert controls.start.value == "1404-01-01" and controls.end.value == "1404-04-01"
    assert controls.period.value == "month" and controls.calendar.value == "jalali"
    controls.update()
    assert len(controls.output.outputs) > 3
    assert controls.last is not None


def test_changing_a_control_recomputes_the_view() -> None:
    controls = Controls(views.won_lost_view, _ctx())
    controls.update()
    owner = controls.owners.options[0]
    controls.owners.value = (owner,)  # triggers update through observe
    assert controls.ctx.owners == (owner,)
    assert set(controls.ctx.data.opportunities["owner"]) == {owner}
    controls.period.value = "week"
    assert controls.ctx.period == "week"


def test_calendar_switch_rewrites_the_dates() -> None:
    controls = Controls(views.won_lost_view, _ctx())
    controls.calendar.value = "gregorian"
    assert controls.start.value == "2025-03-21" and controls.end.value == "2025-06-22"
    assert controls.ctx.calendar == "gregorian"


def test_a_bad_date_shows_a_message_instead_of_failing() -> None:
    controls = Controls(views.won_lost_view, _ctx())
    controls.update()
    before = controls.output.outputs
    controls.start.value = "1404-13-01"
    assert "1404-13-01" in controls.message.value or "month" in controls.message.value.lower()
    assert controls.output.outputs == before


def test_static_mode_shows_no_widget() -> None:
    section = show_section(views.headline_view, _ctx(interactive=False))
    assert isinstance(section, views.Section)
