"""The dashboard's tiles: the same numbers as ``kpi_summary``, computed once per selection.

The tiles read the headline numbers from :func:`views.headline_doc`, which takes the
additive ones (created, won, lost) as sums over the periods of the sparklines; over a
window whose first and last months are partial the sums must still equal
``kpi_summary``'s totals. The app keeps its KPI tables across filter changes, keyed by
the selection: going back to a selection seen before computes nothing again.
"""

from __future__ import annotations

from typing import Any

import pytest

import salesnb as sn
from salesnb.presentation import views
from salesnb.presentation.app import Dashboard
from salesnb.presentation.notebook import prepare
from salesnb.presentation.text import headline_kpis


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_tile_numbers_equal_kpi_summary_over_partial_periods(period: str) -> None:
    ctx = prepare(start="2024-10-22", end="2025-01-15", calendar="gregorian", period=period,
                  interactive=False, teams=["Tehran"])
    memo: dict[Any, Any] = {}
    views.headline_tiles(ctx, memo)
    full = sn.kpi_summary(ctx.data, **ctx.kpi_args())
    assert headline_kpis(memo["doc"]) == headline_kpis(full)


def test_a_selection_seen_before_is_not_computed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    board = Dashboard(sn.load(sn.sample_path()), start="1404-01-01", end="1404-07-01")
    calls: list[Any] = []
    real = views.headline_doc
    monkeypatch.setattr(views, "headline_doc", lambda *a, **k: calls.append(k) or real(*a, **k))
    first = {p.name: p.widget.value for p in board.bar.panels}
    person = board.bar.owners.options[0][1]
    board.bar.owners.value = (person,)
    assert len(calls) == 2  # the window and the one before, for the new selection
    board.bar.everybody.value = True  # back to everybody: all from the memo
    assert len(calls) == 2
    again = {p.name: p.widget.value for p in board.bar.panels}
    strip = lambda html: html.split(">", 1)[1]  # noqa: E731  (the wrapper carries the generation)
    assert {k: strip(v) for k, v in again.items()} == {k: strip(v) for k, v in first.items()}
