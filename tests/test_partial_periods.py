"""Honest periods (issue 18, item 3): a period the window covers only in part is marked as
partial in every per-period table and chart — notebooks, report and app alike.

The sample's Gregorian window 2024-10-22 … 2025-01-15 covers October 2024 from the 22nd
and January 2025 up to the 15th: those two months are partial, November and December
whole (worked out from the dates, not from the code).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import salesnb as sn
from salesnb.metrics.window import resolve_window
from salesnb.presentation import i18n, plotting, views
from salesnb.presentation.notebook import prepare

START, END = "2024-10-22", "2025-01-15"
EXPECTED = {"2024-10": True, "2024-11": False, "2024-12": False, "2025-01": True}


@pytest.fixture(scope="module")
def data() -> Any:
    return sn.load(sn.sample_path())


@pytest.fixture(scope="module")
def window(data: Any) -> Any:
    return resolve_window(data, START, END, calendar="gregorian")


def test_mark_partial_adds_the_flag_and_keeps_every_value(data: Any, window: Any) -> None:
    table = sn.won_lost(data, start=window.start, end=window.end, calendar="gregorian", by=None)
    out, notes = views.mark_partial(table, window, "en")
    assert dict(zip(table["period"], out["partial"], strict=True)) == EXPECTED
    assert out["partial"].dtype == bool
    assert out["period"].tolist() == ["2024-10*", "2024-11", "2024-12", "2025-01*"]
    # The new column sits after period_end; every other column is unchanged.
    assert list(out.columns).index("partial") == list(out.columns).index("period_end") + 1
    pd.testing.assert_frame_equal(out.drop(columns=["partial", "period"]), table.drop(columns=["period"]))
    assert len(notes) == 1 and "2024-10, 2025-01" in notes[0]


def test_whole_periods_get_a_false_flag_and_no_note(data: Any) -> None:
    w = resolve_window(data, "2024-11-01", "2025-01-01", calendar="gregorian")
    out, notes = views.mark_partial(sn.won_lost(data, start=w.start, end=w.end, calendar="gregorian",
                                                by=None), w, "en")
    assert out["partial"].tolist() == [False, False] and notes == []
    assert out["period"].tolist() == ["2024-11", "2024-12"]


def test_a_table_without_periods_is_left_alone(data: Any, window: Any) -> None:
    table = sn.won_lost(data, start=window.start, end=window.end, period=None, calendar="gregorian")
    out, notes = views.mark_partial(table, window, "en")
    assert out is table and notes == []


def test_won_lost_plot_hatches_the_partial_bars_and_says_so(data: Any, window: Any) -> None:
    table = views.mark_partial(sn.won_lost(data, start=window.start, end=window.end, calendar="gregorian",
                                           by=None), window, "en")[0]
    ax = plotting.plot_won_lost(table)
    won, lost = ax.containers[0], ax.containers[1]
    for bars in (won, lost):
        assert [bool(b.get_hatch()) for b in bars] == list(EXPECTED.values())
        assert [b.get_alpha() is not None and b.get_alpha() < 1 for b in bars] == list(EXPECTED.values())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-1] == i18n.translate("partial_period_legend", "en")
    plt.close(ax.figure)
    # Unmarked table: no hatching, no legend entry.
    ax = plotting.plot_won_lost(sn.won_lost(data, start=window.start, end=window.end, calendar="gregorian",
                                            by=None))
    assert not any(b.get_hatch() for b in ax.containers[0])
    assert i18n.translate("partial_period_legend", "en") not in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)


def test_open_over_time_plot_draws_partial_points_hollow(data: Any, window: Any) -> None:
    table = views.mark_partial(sn.open_over_time(data, start=window.start, end=window.end,
                                                 calendar="gregorian", by=None), window, "fa")[0]
    ax = plotting.plot_open_over_time(table, language="fa")
    hollow = [line for line in ax.get_lines() if line.get_gid() == "partial"]
    assert len(hollow) == 1 and list(hollow[0].get_xdata()) == [0, 3]
    assert hollow[0].get_markerfacecolor() == "white"
    assert i18n.label("partial_period_legend", "fa") in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)


def test_notebook_section_table_has_the_partial_column() -> None:
    ctx = prepare(start=START, end=END, calendar="gregorian", interactive=False)
    section = views.opportunities_view(ctx)
    table = section.tables[i18n.translate("new_per_period", "en")]
    flags = dict(zip(table[i18n.translate("period", "en")], table[i18n.translate("partial", "en")], strict=True))
    assert flags == {"2024-10*": "✔", "2024-11": "", "2024-12": "", "2025-01*": "✔"}
    assert any("Partial period" in n for n in section.notes)
    html = views.section_html(section)
    assert "<th>Partial period</th>" in html


def test_app_trend_and_report_index_hatch_the_partial_periods(data: Any, window: Any) -> None:
    from salesnb.presentation.app import Dashboard
    from salesnb.report.index import render_index

    board = Dashboard(data, start=START, end=END, calendar="gregorian")
    trend = next(p for p in board.bar.panels if p.name == "trend").widget.value
    assert trend.count('class="bar won partial"') == 2 and trend.count('class="bar won"') == 2
    assert "2024-10*" in trend and "2025-01*" in trend and i18n.translate("partial_period_legend", "en") in trend
    doc = sn.kpi_summary(data, start=window.start, end=window.end, calendar="gregorian")
    page = render_index(data, window, "custom", doc, None, [], language="en")
    # The index's trend: the 12 months ending with the window, its first month partial.
    assert 'class="bar won partial"' in page and i18n.translate("partial_period_legend", "en") in page
