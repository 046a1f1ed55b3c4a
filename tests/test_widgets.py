"""The filter bar is thin: changing a control re-runs the sections that read it, once."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import salesnb as sn
from salesnb.presentation import views
from salesnb.presentation.widgets import FilterBar, filter_bar, show_section


def _ctx(**kw):
    return sn.notebook.prepare(start="1404-01-01", end="1404-04-01", **kw)


def _bar(*sections: str, **kw) -> FilterBar:
    bar = FilterBar(_ctx(**kw), set().union(*(views.USES[s] for s in sections)))
    for name in sections:
        bar.add(name, lambda ctx, f=views.VIEWS[name]: views.section_html(f(ctx)), views.USES[name])
    return bar


def test_the_bar_starts_from_the_parameters_and_renders_each_section_once() -> None:
    bar = _bar("won_lost", "funnel", period="month")
    assert bar.start.value == "1404-01-01" and bar.end.value == "1404-04-01"
    assert bar.period.value == "month" and bar.calendar.value == "jalali"
    assert [p.name for p in bar.panels] == ["won_lost", "funnel"]
    assert all('data-version="0"' in p.widget.value for p in bar.panels)
    assert bar.everybody.value and bar.all_teams.value  # no selection means everybody, said


def test_a_change_redraws_only_the_sections_that_read_it() -> None:
    bar = _bar("won_lost", "funnel")
    funnel_before = bar.panels[1].widget.value
    bar.period.value = "week"  # the funnel does not read the period
    assert bar.generation == 1 and bar.ctx.period == "week"
    assert 'data-version="1"' in bar.panels[0].widget.value
    assert bar.panels[1].widget.value == funnel_before
    owner = bar.owners.options[0][1]
    bar.owners.value = (owner,)
    assert bar.ctx.owners == (owner,) and set(bar.ctx.data.owners) == {owner}
    assert 'data-version="2"' in bar.panels[1].widget.value
    assert not bar.everybody.value
    bar.everybody.value = True  # back to everybody
    assert bar.owners.value == () and bar.ctx.owners == ()


def test_salespeople_and_teams_restrict_each_other() -> None:
    bar = _bar("won_lost")
    bar.teams.value = ("Isfahan",)
    people = {v for _, v in bar.owners.options}
    assert people == set(sn.load(sn.sample_path()).subset(teams=["Isfahan"]).owners)
    bar.teams.value = ()
    person = sorted(people)[0]
    bar.owners.value = (person,)
    assert {v for _, v in bar.teams.options} == {"Isfahan"}


def test_search_narrows_the_salespeople_and_keeps_the_chosen() -> None:
    bar = _bar("won_lost")
    bar.owners.value = ("Arash Karimi",)
    bar.search.value = "سارا"
    assert [v for _, v in bar.owners.options] == ["Arash Karimi", "سارا محمدی"]
    assert bar.owners.value == ("Arash Karimi",)


def test_calendar_switch_rewrites_the_dates_and_updates_once() -> None:
    bar = _bar("won_lost")
    bar.calendar.value = "gregorian"
    assert bar.start.value == "2025-03-21" and bar.end.value == "2025-06-22"
    assert bar.ctx.calendar == "gregorian" and bar.generation == 1


def test_a_bad_date_shows_a_short_translated_message_and_dims_the_sections() -> None:
    bar = _bar("won_lost", language="fa")
    before = bar.panels[0].widget.value
    assert bar.start.value == "۱۴۰۴-۰۱-۰۱"  # Persian digits in the date boxes
    bar.start.value = "1404-13-01"
    assert "تقویم شمسی" in bar.message.value and "Traceback" not in bar.message.value
    assert "salesnb-stale" in bar.panels[0].widget._dom_classes
    assert bar.panels[0].widget.value == before
    bar.start.value = "۱۴۰۴-۰۲-۰۱"  # typed with Persian digits
    assert bar.message.value == "" and "salesnb-stale" not in bar.panels[0].widget._dom_classes
    assert bar.ctx.window.start == sn.parse_date("1404-02-01", calendar="jalali", tz="Asia/Tehran")


def test_only_the_filters_the_sections_read_are_shown() -> None:
    ctx = _ctx()
    shown = lambda bar: {id(c) for c in bar.box.children[1].children for c in c.children}  # noqa: E731
    with_period = filter_bar(ctx, ["won_lost"])
    without = filter_bar(ctx, ["win_rate", "funnel"])
    assert id(with_period.period) in shown(with_period)
    assert id(without.period) not in shown(without)


def test_static_mode_shows_no_widget() -> None:
    section = show_section(views.headline_view, _ctx(interactive=False))
    assert isinstance(section, views.Section)
    bar = filter_bar(_ctx(interactive=False), ["funnel"])
    assert isinstance(bar.show("funnel"), views.Section)
