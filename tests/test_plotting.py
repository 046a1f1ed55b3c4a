"""Tests of salesnb.plotting: what each plot draws, labels, empty tables, Persian text.

Small KPI tables are written out in the tests (so the expected bars, points and lines
are known by construction); an integration test runs every plot on tables computed
from a tiny dataset built with ``SalesData.from_frames``.

Set ``SALESNB_RENDER_PLOTS=1`` to also render every plot of the bundled sample in
English and Persian to ``docs/plots/`` (``docs/plots/render.py``) for review.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.collections import PolyCollection, QuadMesh
from matplotlib.container import ErrorbarContainer
from matplotlib.patches import PathPatch, Polygon, Rectangle

import salesnb as sn
from salesnb.presentation import i18n, plotting

PRESENTATION = re.compile("[\ufb50-\ufeff]")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    def no_show(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a plot function called plt.show()")

    monkeypatch.setattr(plt, "show", no_show)
    yield
    plt.close("all")


def _ts(*days: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(d, tz="UTC") for d in days]


# --------------------------------------------------------------------------- tables by hand
def open_table() -> pd.DataFrame:
    return pd.DataFrame({
        "owner": ["Sara", "سارا محمدی", "Ali"],
        "open_count": [10, 6, 2],
        "open_value": [2.0e10, 1.2e10, 5.0e8],
        "open_without_amount": [0, 0, 1],
        "team_median": [6.0, 6.0, 6.0],
        "too_few": [False, False, True],
    })


def over_time_table(by_owner: bool = True) -> pd.DataFrame:
    periods = ["1404-01", "1404-02", "1404-03"]
    starts = _ts("2025-03-21", "2025-04-21", "2025-05-22")
    owners = ["Sara", "علی"] if by_owner else ["(all)"]
    rows = [{"period": p, "period_start": s, "period_end": s, "owner" if by_owner else "group": o,
             "snapshot_at": s, "open_count": i + j, "open_value": 1e9 * (i + j)}
            for i, (p, s) in enumerate(zip(periods, starts, strict=True)) for j, o in enumerate(owners)]
    return pd.DataFrame(rows)


def won_lost_table(by_owner: bool = False, period: bool = True) -> pd.DataFrame:
    rows = []
    periods = [("1404-01", "2025-03-21"), ("1404-02", "2025-04-21"), ("1404-03", "2025-05-22")]
    owners = ["Sara", "Ali"] if by_owner else ["(all)"]
    col = "owner" if by_owner else "group"
    for i, (p, s) in enumerate(periods if period else [(None, None)]):
        for j, o in enumerate(owners):
            row: dict[str, Any] = {col: o, "won": i + 1 + j, "lost": 2 * (i + 1), "won_value": 0.0}
            if period:
                row = {"period": p, "period_start": pd.Timestamp(s, tz="UTC"),
                       "period_end": pd.Timestamp(s, tz="UTC"), **row}
            rows.append(row)
    out = pd.DataFrame(rows)
    out["closed"] = out["won"] + out["lost"]
    return out


def reasons_table() -> pd.DataFrame:
    return pd.DataFrame({"lost_reason": ["price", "(unspecified)", "timing"], "lost": [5, 3, 2],
                         "share": [0.5, 0.3, 0.2], "lost_value": [5e9, 3e9, 2e9]})


def reason_stage_table() -> pd.DataFrame:
    return pd.DataFrame({
        "lost_reason": ["price", "price", "timing", "timing"],
        "stage": ["proposal", "lead", "lead", "(unknown)"],
        "lost": [4, 1, 2, 1], "share": [0.5, 0.125, 0.25, 0.125], "lost_value": [0.0] * 4,
    })


def flags_table() -> pd.DataFrame:
    out = pd.DataFrame({
        "opportunity_id": ["o1", "o2", "o3", "o4"], "owner": ["Sara"] * 4, "stage": ["lead"] * 4,
        "amount": [9e9, 2e9, 2e8, np.nan], "reference_mean": [2e9] * 4,
        "ratio": [4.5, 1.0, 0.1, np.nan], "flag": ["above", "within", "below", "no amount"],
    })
    out.attrs.update(band=0.5, reference_mean=2e9)
    return out


def win_rate_table() -> pd.DataFrame:
    out = pd.DataFrame({
        "owner": ["Sara", "Ali", "نگار حسینی"], "won": [3, 1, 0], "lost": [1, 3, 0], "open": [0, 0, 0],
        "n": [4, 4, 0], "win_rate": [0.75, 0.25, np.nan], "ci_low": [0.3, 0.05, np.nan],
        "ci_high": [0.95, 0.7, np.nan], "open_share": [np.nan] * 3,
    })
    out.attrs["basis"] = "closed"
    return out


def funnel_table(won: bool = True) -> pd.DataFrame:
    out = pd.DataFrame({
        "stage": ["lead", "qualified", "proposal"], "position": [1, 2, 3], "reached": [10, 6, 3],
        "lost_here": [3, 2, 1], "open_here": [1, 1, 0], "conversion_to_next": [0.6, 0.5, 2 / 3],
        "cumulative_conversion": [1.0, 0.6, 0.3], "completed_visits": [9, 5, 3],
        "censored_visits": [1, 1, 0], "median_days_in_stage": [2.0, 3.0, 4.0],
    })
    if won:
        out.attrs.update(cohort=10, won=2, lost=6, open=2)
    return out


def visits_table() -> pd.DataFrame:
    return pd.DataFrame({
        "opportunity_id": ["a", "a", "b", "b", "c", "d"],
        "stage": ["lead", "qualified", "lead", "qualified", "lead", "lead"],
        "position": [0, 1, 0, 1, 0, 0],
        "days": [1.0, 4.0, 2.0, 6.0, 3.0, 9.0],
        "censored": [False, False, False, False, False, True],
    })


def survival_table() -> pd.DataFrame:
    curve = pd.DataFrame({
        "team": ["North"] * 3 + ["South"] * 2,
        "days": [2.0, 5.0, 9.0, 3.0, 8.0],
        "survival": [0.75, 0.5, 0.25, 0.8, 0.8],
        "ci_low": [0.4, 0.2, 0.05, 0.5, 0.5], "ci_high": [0.9, 0.8, 0.6, 0.95, 0.95],
        "at_risk": [4, 3, 1, 5, 4], "events": [1, 1, 1, 1, 0], "censored": [0, 1, 0, 0, 4],
    })
    curve.attrs["medians"] = pd.DataFrame({
        "team": ["North", "South"], "n": [4, 5], "events": [3, 1], "censored": [1, 4],
        "median_days": [5.0, np.nan], "median_ci_low": [2.0, np.nan], "median_ci_high": [np.nan] * 2})
    return curve


def bands_table() -> pd.DataFrame:
    return pd.DataFrame({
        "band": [1, 2, 0], "label": ["Q1", "Q2", "(no amount)"],
        "amount_min": [1e8, 2e9, np.nan], "amount_max": [1.5e9, 4.5e10, np.nan],
        "won": [6, 2, 1], "lost": [4, 8, 1], "closed": [10, 10, 2],
        "win_rate": [0.6, 0.2, 0.5], "ci_low": [0.3, 0.05, 0.1], "ci_high": [0.85, 0.5, 0.9],
        "mean_cycle_days": [20.0, 50.0, 30.0], "median_cycle_days": [18.0, 45.0, 30.0],
    })


def movement_table() -> pd.DataFrame:
    """A pipeline_movement(by="owner") table by hand: Ali hands a deal to سارا, each balances."""
    cols = ["open_start", "created", "reassigned_in", "reassigned_out", "won", "lost", "open_end",
            "pulled_in", "pushed_out"]
    counts = {"Ali": [10, 5, 0, 1, 4, 3, 7, 1, 0], "سارا": [6, 2, 1, 0, 1, 1, 7, 0, 2]}
    values = {"Ali": [8e9, 3e9, 0.0, 1e9, 2e9, 1.5e9, 7e9, 5e8, 0.0],
              "سارا": [5e9, 1e9, 1e9, 0.0, 1e9, 5e8, 6e9, 0.0, 2e9]}
    rises = {"Ali": (1.5e9, 1e9), "سارا": (1e9, 5e8)}  # increased, decreased
    rows = []
    for owner in counts:
        row: dict[str, Any] = {"owner": owner}
        for c, n, v in zip(cols, counts[owner], values[owner], strict=True):
            row[f"{c}_count"], row[f"{c}_value"] = n, v
        row["increased_value"], row["decreased_value"] = rises[owner]
        row["balanced"] = True
        rows.append(row)
    return pd.DataFrame(rows)


def stage_movement_table() -> pd.DataFrame:
    return pd.DataFrame({
        "from_stage": ["(new)", "lead", "lead", "proposal", "proposal", "(unknown)"],
        "to_stage": ["lead", "proposal", "lead", "(won)", "lead", "(lost)"],
        "movement": ["new", "advanced", "unchanged", "won", "slipped back", "lost"],
        "count": [4, 3, 2, 2, 1, 1], "value": [4e9, 3e9, 2e9, 2e9, 1e9, 1e9],
    })


#: name -> (function, table factory, extra kwargs). Each draws something for its table.
CASES: dict[str, tuple[Callable[..., Any], Callable[[], Any], dict[str, Any]]] = {
    "open_pipeline": (plotting.plot_open_pipeline, open_table, {}),
    "open_over_time": (plotting.plot_open_over_time, over_time_table, {}),
    "won_lost": (plotting.plot_won_lost, won_lost_table, {}),
    "lost_reasons": (plotting.plot_lost_reasons, reasons_table, {}),
    "lost_reason_stage": (plotting.plot_lost_reason_stage, reason_stage_table, {"stages": ["lead", "proposal"]}),
    "deal_sizes": (lambda t, **kw: plotting.plot_deal_sizes(t, flags_table().iloc[0:len(t)], **kw),
                   lambda: pd.Series([1e9, 2e9, 3e9, 5e8]), {"currency": "IRR"}),
    "win_rate": (plotting.plot_win_rate, win_rate_table, {}),
    "funnel": (plotting.plot_funnel, funnel_table, {}),
    "time_in_stage": (plotting.plot_time_in_stage, visits_table, {}),
    "cycle_distribution": (plotting.plot_cycle_distribution,
                           lambda: pd.DataFrame({"days": [1.0, 2.0, 3.0, 10.0]}), {}),
    "survival": (plotting.plot_survival, survival_table, {}),
    "size_bands": (plotting.plot_size_bands, bands_table, {"currency": "IRR"}),
    "pipeline_movement": (plotting.plot_pipeline_movement, movement_table, {}),
    "pipeline_movement_value": (plotting.plot_pipeline_movement, movement_table,
                                {"measure": "value", "currency": "IRR"}),
    "stage_movement": (plotting.plot_stage_movement, stage_movement_table,
                       {"stages": ["lead", "qualified", "proposal"]}),
}


def _empty_like(factory: Callable[[], Any]) -> Any:
    table = factory()
    return table.iloc[0:0] if isinstance(table, (pd.DataFrame, pd.Series)) else table


def _all_text(ax: plt.Axes) -> list[str]:
    texts = [t.get_text() for t in ax.figure.findobj(matplotlib.text.Text)]
    return [t for t in texts if t]


# --------------------------------------------------------------------------- every function
@pytest.mark.parametrize("name", list(CASES))
def test_draws_on_the_given_axes_and_labels_it(name):
    func, factory, kw = CASES[name]
    fig, ax = plt.subplots()
    out = func(factory(), ax=ax, **kw)
    assert out is ax
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.figure is fig


@pytest.mark.parametrize("name", list(CASES))
def test_creates_a_figure_without_axes(name):
    func, factory, kw = CASES[name]
    before = set(plt.get_fignums())
    ax = func(factory(), **kw)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert set(plt.get_fignums()) - before


@pytest.mark.parametrize("language", ["en", "fa"])
@pytest.mark.parametrize("name", list(CASES))
def test_empty_table_gives_a_note_not_an_error(name, language):
    func, factory, kw = CASES[name]
    ax = func(_empty_like(factory), language=language, **kw)
    notes = [t for t in ax.texts if t.get_gid() == "no-data"]
    assert len(notes) == 1
    assert notes[0].get_text() == i18n.label("no_data_window", language)
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


@pytest.mark.parametrize("name", list(CASES))
def test_persian_labels_are_shaped(name):
    func, factory, kw = CASES[name]
    ax = func(factory(), language="fa", **kw)
    for text in (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()):
        assert PRESENTATION.search(text), text
    # No string with unshaped Arabic letters anywhere on the figure.
    assert not [t for t in _all_text(ax) if i18n.has_arabic_script(t)]


@pytest.mark.parametrize("name", list(CASES))
def test_persian_uses_persian_digits_on_number_axes(name):
    func, factory, kw = CASES[name]
    ax = func(factory(), language="fa", **kw)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in (*ax.get_xticklabels(), *ax.get_yticklabels()) if t.get_text()]
    assert not any(re.search(r"[0-9]", t) for t in labels if not re.search(r"[A-Za-z]", t)), labels


@pytest.mark.parametrize("name", list(CASES))
def test_fonts_can_draw_persian(name):
    func, factory, kw = CASES[name]
    ax = func(factory(), language="fa", **kw)
    assert ax.get_title() and ax.title.get_fontfamily()[-1] == "DejaVu Sans"
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*missing from font.*")
        ax.figure.canvas.draw()


def test_unknown_language_is_an_error():
    with pytest.raises(sn.OptionError, match="`language`"):
        plotting.plot_funnel(funnel_table(), language="de")


def test_wrong_table_names_the_missing_columns_and_the_kpi_function():
    with pytest.raises(plotting.PlotInputError, match=r"'reached'.*funnel\(\)"):
        plotting.plot_funnel(reasons_table())
    with pytest.raises(plotting.PlotInputError, match="DataFrame"):
        plotting.plot_won_lost([1, 2, 3])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- question 1
def test_open_pipeline_bars_flag_and_median():
    ax = plotting.plot_open_pipeline(open_table())
    bars = ax.containers[0]
    assert len(bars) == 3
    assert [b.get_width() for b in bars] == [10, 6, 2]
    colors = [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars]
    assert colors == [plotting.COLORS["base"], plotting.COLORS["base"], plotting.COLORS["flag"]]
    median = [line for line in ax.lines if line.get_gid() == "team-median"]
    assert len(median) == 1 and median[0].get_xdata()[0] == 6.0
    # Largest on top; the Persian owner name is shaped in an English plot.
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "Sara" and labels[1] == i18n.shape("سارا محمدی")
    assert PRESENTATION.search(labels[1])


def test_open_pipeline_per_team_medians_are_markers():
    table = open_table().assign(team_median=[8.0, 8.0, 3.0])
    ax = plotting.plot_open_pipeline(table)
    markers = [line for line in ax.lines if line.get_gid() == "team-median"]
    assert len(markers) == 1 and len(markers[0].get_xdata()) == 3


def test_open_pipeline_value_in_billion_rial_or_toman():
    ax = plotting.plot_open_pipeline(open_table(), measure="value", currency="IRR")
    assert "billion IRR" in ax.get_xlabel()
    assert [round(b.get_width(), 3) for b in ax.containers[0]] == [20.0, 12.0, 0.5]
    ax = plotting.plot_open_pipeline(open_table(), measure="value", currency="IRR", amount_unit="toman")
    assert "billion Toman" in ax.get_xlabel()
    assert round(ax.containers[0][0].get_width(), 3) == 2.0
    ax = plotting.plot_open_pipeline(open_table(), measure="value", currency="IRR", language="fa")
    assert ax.get_xlabel() == i18n.label("axis_open_value", "fa", unit="میلیارد ریال")


def test_open_pipeline_value_is_sorted_by_value():
    table = open_table().assign(open_value=[1e9, 3e9, 2e9])
    ax = plotting.plot_open_pipeline(table, measure="value", currency="IRR")
    assert [t.get_text() for t in ax.get_yticklabels()] == [i18n.shape("سارا محمدی"), "Ali", "Sara"]
    assert not [line for line in ax.lines if line.get_gid() == "team-median"]


def test_open_pipeline_passes_kwargs_to_barh():
    ax = plotting.plot_open_pipeline(open_table(), color="black")
    assert matplotlib.colors.to_hex(ax.containers[0][2].get_facecolor()) == "#000000"


def test_open_over_time_one_line_per_owner():
    ax = plotting.plot_open_over_time(over_time_table())
    lines = [line for line in ax.lines if line.get_gid() == "series"]
    assert len(lines) == 2
    assert [list(line.get_ydata()) for line in lines] == [[0, 1, 2], [1, 2, 3]]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1404-01", "1404-02", "1404-03"]
    assert ax.get_legend() is not None


def test_open_over_time_team_total_and_persian_periods():
    ax = plotting.plot_open_over_time(over_time_table(by_owner=False), language="fa")
    assert len([line for line in ax.lines if line.get_gid() == "series"]) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["۱۴۰۴-۰۱", "۱۴۰۴-۰۲", "۱۴۰۴-۰۳"]


# --------------------------------------------------------------------------- question 2
def test_won_lost_per_period():
    ax = plotting.plot_won_lost(won_lost_table())
    won, lost = ax.containers[0], ax.containers[1]
    assert [b.get_height() for b in won] == [1, 2, 3]
    assert [b.get_height() for b in lost] == [2, 4, 6]
    assert len(ax.patches) == 6


def test_won_lost_by_owner_with_periods_is_summed_per_period():
    ax = plotting.plot_won_lost(won_lost_table(by_owner=True))
    # Sara won i+1, Ali i+2 in period i; both lost 2(i+1).
    assert [b.get_height() for b in ax.containers[0]] == [3, 5, 7]
    assert [b.get_height() for b in ax.containers[1]] == [4, 8, 12]


def test_won_lost_without_periods_is_per_owner():
    ax = plotting.plot_won_lost(won_lost_table(by_owner=True, period=False))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Ali", "Sara"]  # busiest first
    assert [b.get_height() for b in ax.containers[0]] == [2, 1]


def test_won_lost_all_zero_is_no_data():
    table = won_lost_table().assign(won=0, lost=0)
    ax = plotting.plot_won_lost(table)
    assert not ax.patches
    assert [t.get_gid() for t in ax.texts] == ["no-data"]


def test_lost_reasons_sorted_with_shares():
    table = reasons_table().iloc[[2, 0, 1]]  # order must not matter
    ax = plotting.plot_lost_reasons(table, language="fa")
    bars = ax.containers[0]
    widths = [b.get_width() for b in sorted(bars, key=lambda b: -b.get_y())]
    assert widths == [5, 3, 2]  # top to bottom
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == i18n.shape("قیمت", "fa") and labels[1] == i18n.shape("(نامشخص)", "fa")  # the sample's own words in Persian
    assert "۵ (۵۰٫۰٪)" in [t.get_text() for t in ax.texts]


def test_lost_reason_stage_heatmap_in_funnel_order():
    ax = plotting.plot_lost_reason_stage(reason_stage_table(), stages=["lead", "qualified", "proposal"])
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lead", "qualified", "proposal", "(unknown)"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["price", "timing"]
    values = np.asarray(meshes[0].get_array()).reshape(2, 4)
    assert values.tolist() == [[1, 0, 4, 0], [2, 0, 0, 1]]


# --------------------------------------------------------------------------- question 3
def test_deal_sizes_histogram_mean_band_and_open_strip():
    amounts = pd.Series([1e9, 2e9, 3e9, 5e8, np.nan, 0.0])
    ax = plotting.plot_deal_sizes(amounts, flags_table(), currency="IRR", bins=5)
    assert ax.get_xscale() == "log"
    bars = [p for p in ax.patches if p.get_gid() == "won-hist"]
    assert len(bars) == 5 and sum(b.get_height() for b in bars) == 4
    mean = [line for line in ax.lines if line.get_gid() == "mean"]
    assert len(mean) == 1 and mean[0].get_xdata()[0] == pytest.approx(2.0)  # billion IRR
    band = [p for p in ax.patches if p.get_gid() == "band"]
    assert len(band) == 1
    strips = {c.get_gid(): len(c.get_offsets()) for c in ax.collections}
    assert strips == {"open-above": 1, "open-within": 1, "open-below": 1}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("2 won deals without a positive amount" in t for t in legend)
    assert any("1 open deals without an amount" in t for t in legend)
    assert "billion IRR" in ax.get_xlabel()


def test_deal_sizes_accepts_the_cycle_durations_table():
    durations = pd.DataFrame({"amount": [1e6, 4e6], "days": [3.0, 4.0]})
    ax = plotting.plot_deal_sizes(durations, band=0.2, currency="EUR")
    mean = [line for line in ax.lines if line.get_gid() == "mean"]
    assert mean[0].get_xdata()[0] == pytest.approx(2.5e6)
    assert "EUR" in ax.get_xlabel()


def test_size_bands_points_bars_and_twin_axis():
    ax = plotting.plot_size_bands(bands_table(), currency="IRR")
    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errorbars) == 1 and list(errorbars[0].lines[0].get_ydata()) == [0.6, 0.2, 0.5]
    twins = [a for a in ax.figure.axes if a is not ax]
    assert len(twins) == 1
    assert [p.get_height() for p in twins[0].patches] == [18.0, 45.0, 30.0]
    assert twins[0].get_ylabel()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["Q1\n0.10–1.50", "Q2\n2.00–45.0", "(no amount)"]


# --------------------------------------------------------------------------- question 4
def test_win_rate_points_with_intervals_and_no_data():
    ax = plotting.plot_win_rate(win_rate_table())
    container = ax.containers[0]
    assert isinstance(container, ErrorbarContainer)
    data_line = container.lines[0]
    assert list(data_line.get_xdata()) == [0.75, 0.25]  # the n=0 row is not drawn as 0
    texts = [t.get_text() for t in ax.texts]
    assert "n=4" in texts and "no data" in texts
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "Sara" and labels[-1] == i18n.shape("نگار حسینی")
    # Interval: the x error spans ci_low..ci_high.
    segments = container.lines[2][0].get_segments()
    assert [tuple(round(v, 6) for v in seg[:, 0]) for seg in segments] == [(0.3, 0.95), (0.05, 0.7)]


def test_win_rate_all_undefined_is_no_data():
    table = win_rate_table().assign(n=0, win_rate=np.nan)
    ax = plotting.plot_win_rate(table)
    assert [t.get_gid() for t in ax.texts] == ["no-data"]


def test_win_rate_with_several_periods_is_refused():
    table = pd.concat([win_rate_table().assign(period="1404-01"), win_rate_table().assign(period="1404-02")])
    with pytest.raises(plotting.PlotInputError, match="period=None"):
        plotting.plot_win_rate(table)


def test_funnel_centred_bars_connectors_and_annotations():
    ax = plotting.plot_funnel(funnel_table())
    bars = ax.containers[0]
    assert [b.get_width() for b in bars] == [10, 6, 3, 2]  # three stages, then won
    for b in bars:
        assert b.get_x() == pytest.approx(-b.get_width() / 2)  # centred on 0
    assert len([p for p in ax.patches if isinstance(p, Polygon) and p.get_gid() == "connector"]) == 3
    texts = [t.get_text() for t in ax.texts]
    assert "↓ 60% to next" in texts and "↓ 67% won" in texts and "lost here: 3" in texts
    assert [t.get_text() for t in ax.get_yticklabels()] == ["lead", "qualified", "proposal", "Won"]


def test_funnel_without_attrs_has_no_won_bar():
    ax = plotting.plot_funnel(funnel_table(won=False))
    assert len(ax.containers[0]) == 3
    assert "(cohort: 10)" in ax.get_xlabel()


def test_time_in_stage_boxes_of_completed_visits_in_funnel_order():
    ax = plotting.plot_time_in_stage(visits_table(), stages=["lead", "qualified", "proposal"])
    boxes = [p for p in ax.patches if isinstance(p, PathPatch)]
    assert len(boxes) == 2  # proposal has no visit: no box, but a tick
    medians = [line for line in ax.lines if line.get_color() == plotting.COLORS["lost"]]
    assert sorted(float(m.get_ydata()[0]) for m in medians) == [2.0, 5.0]  # censored 9 days left out
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "lead\n3 done\n1 ongoing"
    assert labels[2] == "proposal\n0 done\n0 ongoing"


def test_time_in_stage_accepts_the_summary_table():
    summary = pd.DataFrame({"stage": ["lead", "qualified"], "visits": [4, 2], "completed": [3, 2],
                            "censored": [1, 0], "mean_days": [2.0, 5.0], "median_days": [2.0, 5.0],
                            "p90_days": [2.8, 5.8]})
    ax = plotting.plot_time_in_stage(summary)
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == "median"]
    assert [b.get_height() for b in bars] == [2.0, 5.0]


# --------------------------------------------------------------------------- question 5
def test_cycle_distribution_mean_and_median():
    ax = plotting.plot_cycle_distribution(pd.DataFrame({"days": [1.0, 2.0, 3.0, 10.0]}), bins=3)
    assert len(ax.patches) == 3
    lines = {line.get_gid(): line.get_xdata()[0] for line in ax.lines}
    assert lines == {"mean": 4.0, "median": 2.5}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Mean 4.0 d", "Median 2.5 d"]
    assert "n=4" in ax.get_title()


def test_survival_curves_band_and_median():
    ax = plotting.plot_survival(survival_table())
    curves = [line for line in ax.lines if line.get_gid() == "km-curve"]
    assert len(curves) == 2
    assert list(curves[0].get_xdata()) == [0.0, 2.0, 5.0, 9.0]  # starts at 100 % on day 0
    assert list(curves[0].get_ydata()) == [1.0, 0.75, 0.5, 0.25]
    medians = [line for line in ax.lines if line.get_gid() == "km-median"]
    assert len(medians) == 1 and medians[0].get_xdata()[0] == 5.0  # South never reaches 50 %
    bands = [c for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() == "km-ci"]
    assert len(bands) == 2
    assert ax.get_ylabel() == "Share not yet won"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == "North: 4 deals, 1 still open; median 5.0 d"
    assert legend[1] == "South: 5 deals, 4 still open; median not reached"


def test_survival_single_curve_without_attrs():
    curve = survival_table()
    curve = curve[curve["team"] == "North"].drop(columns="team").copy()
    curve.insert(0, "group", "(all)")
    ax = plotting.plot_survival(curve, ci=False)
    assert len([line for line in ax.lines if line.get_gid() == "km-curve"]) == 1
    assert not [c for c in ax.collections if c.get_gid() == "km-ci"]
    assert [t.get_text() for t in ax.texts] == ["median 5.0 d"]


# --------------------------------------------------------------------------- number ticks
def test_number_formatter_thousands_percent_and_persian():
    f = plotting._NumberFormatter("en")
    assert f.format_ticks([0, 1000, 2000]) == ["0", "1,000", "2,000"]
    assert f.format_ticks([0, 0.25, 0.5]) == ["0.00", "0.25", "0.50"]
    assert plotting._NumberFormatter("en", percent=True).format_ticks([0, 0.5]) == ["0%", "50%"]
    assert plotting._NumberFormatter("fa").format_ticks([1500, 2500]) == ["۱٬۵۰۰", "۲٬۵۰۰"]
    assert plotting._NumberFormatter("en", log=True).format_ticks([0.1, 1, 10]) == ["0.1", "1", "10"]


# --------------------------------------------------------------------------- on real KPI tables
@pytest.fixture(scope="module")
def tiny() -> sn.SalesData:
    """Six deals (two owners, one with a Persian name), three stages, IRR, UTC."""
    opps = pd.DataFrame({
        "opportunity_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
        "owner": ["Sara", "سارا", "Sara", "سارا", "Sara", "سارا"],
        "team": ["North", "North", "North", "South", "South", "South"],
        "created_at": ["2025-01-02", "2025-01-03", "2025-01-05", "2025-01-06", "2025-01-08", "2025-01-09"],
        "status": ["won", "won", "lost", "lost", "open", "open"],
        "closed_at": ["2025-01-20", "2025-02-10", "2025-01-25", "2025-02-01", "", ""],
        "amount": [2e9, 8e9, 1e9, None, 3e10, 5e8],
        "stage": ["", "", "qualified", "lead", "proposal", "lead"],
        "lost_reason": ["", "", "price", "", "", ""],
    })
    hist = pd.DataFrame({
        "opportunity_id": ["o1", "o1", "o1", "o2", "o2", "o3", "o3", "o4", "o5", "o5", "o5", "o6"],
        "stage": ["lead", "qualified", "proposal", "lead", "qualified", "lead", "qualified", "lead",
                  "lead", "qualified", "proposal", "lead"],
        "entered_at": ["2025-01-02", "2025-01-05", "2025-01-10", "2025-01-03", "2025-01-15",
                       "2025-01-05", "2025-01-12", "2025-01-06", "2025-01-08", "2025-01-11",
                       "2025-01-20", "2025-01-09"],
    })
    settings = {"stages": ["lead", "qualified", "proposal"], "currency": "IRR", "timezone": "UTC"}
    return sn.SalesData.from_frames(opps, hist, settings)


def _draw_all(data: sn.SalesData, start: str, end: str, language: str) -> list[plt.Axes]:
    kw: dict[str, Any] = {"start": start, "end": end, "calendar": "gregorian"}
    money: dict[str, Any] = {"currency": data.settings.currency, "amount_unit": data.settings.amount_unit}
    stages = list(data.settings.stages)
    as_of = pd.Timestamp(end, tz="UTC")
    visits = sn.stage_visits(data, as_of=as_of)
    _, axes = plt.subplots(3, 5, figsize=(20, 12))
    ax = iter(axes.flat)
    return [
        plotting.plot_open_pipeline(sn.open_opportunities(data, as_of=end, calendar="gregorian"),
                                    ax=next(ax), language=language),
        plotting.plot_open_pipeline(sn.open_opportunities(data, as_of=end, calendar="gregorian"),
                                    ax=next(ax), language=language, measure="value", **money),
        plotting.plot_open_over_time(sn.open_over_time(data, **kw, by="owner"), ax=next(ax), language=language),
        plotting.plot_won_lost(sn.won_lost(data, **kw, by="owner"), ax=next(ax), language=language),
        plotting.plot_lost_reasons(sn.lost_reasons(data, **kw), ax=next(ax), language=language),
        plotting.plot_lost_reason_stage(sn.lost_reasons(data, **kw, by="stage"), ax=next(ax),
                                        language=language, stages=stages),
        plotting.plot_deal_sizes(sn.cycle_durations(data, **kw)["amount"], sn.deal_size_flags(data, **kw),
                                 ax=next(ax), language=language, **money),
        plotting.plot_win_rate(sn.win_rate(data, **kw), ax=next(ax), language=language),
        plotting.plot_funnel(sn.funnel(data, **kw), ax=next(ax), language=language),
        plotting.plot_time_in_stage(visits, ax=next(ax), language=language, stages=stages),
        plotting.plot_time_in_stage(sn.time_in_stage(data, **kw), ax=next(ax), language=language),
        plotting.plot_cycle_distribution(sn.cycle_durations(data, **kw), ax=next(ax), language=language),
        plotting.plot_survival(sn.cycle_survival(data, **kw), ax=next(ax), language=language),
        plotting.plot_survival(sn.cycle_survival(data, **kw, by="owner"), ax=next(ax), language=language),
        plotting.plot_size_bands(sn.deal_size_bands(data, **kw), ax=next(ax), language=language, **money),
    ]


@pytest.mark.parametrize("language", ["en", "fa"])
def test_every_plot_on_real_kpi_tables(tiny, language):
    drawn = _draw_all(tiny, "2025-01-01", "2025-03-01", language)
    assert all(ax.get_title() for ax in drawn)
    assert not [ax for ax in drawn if any(t.get_gid() == "no-data" for t in ax.texts)]
    drawn[0].figure.canvas.draw()
    funnel_bars = drawn[8].containers[0]
    # Deepest stages: o1 proposal+won, o2 qualified+won, o3 qualified, o4 lead, o5 proposal,
    # o6 lead; a won deal has passed every stage.
    assert [b.get_width() for b in funnel_bars] == [6, 4, 3, 2]  # lead, qualified, proposal, won


@pytest.mark.parametrize("language", ["en", "fa"])
def test_every_plot_on_a_window_with_no_data(tiny, language):
    drawn = _draw_all(tiny, "2024-01-01", "2024-02-01", language)
    drawn[0].figure.canvas.draw()
    # Nothing happened in January 2024 (and nothing was open then): each plot says so.
    assert all(any(t.get_gid() == "no-data" for t in ax.texts) for ax in drawn)


# --------------------------------------------------------------------------- pipeline movement
def _walk_bars(ax: plt.Axes) -> list[Rectangle]:
    assert len(ax.containers) == 1
    bars = list(ax.containers[0])
    assert all(b.get_gid() == "steps" for b in bars)
    return bars


def _signed_sum(bars: list[Rectangle], steps: list[tuple[str, float, str]]) -> float:
    """The first bar plus the flows that add, minus those that take away (the last bar excluded)."""
    total = bars[0].get_height()
    for bar, (_, _, kind) in zip(bars[1:-1], steps[1:-1], strict=True):
        total += bar.get_height() if kind == "up" else -bar.get_height()
    return total


def test_movement_waterfall_by_hand_bars_colours_and_balance():
    ax = plotting.plot_pipeline_movement(movement_table(), group="Ali")
    bars = _walk_bars(ax)
    # open at start, created, reassigned in, reassigned out, won, lost, open at end
    assert [b.get_height() for b in bars] == [10, 5, 0, 1, 4, 3, 7]
    # Each flow floats on the running total: 10 -> 15 -> 15 -> 14 -> 10 -> 7.
    assert [b.get_y() for b in bars] == [0, 10, 15, 14, 10, 7, 0]
    colours = [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars]
    assert colours == [plotting.COLORS["base"], *[plotting.COLORS["won"]] * 2, *[plotting.COLORS["lost"]] * 3,
                       plotting.COLORS["base"]]
    steps = plotting.movement_steps(movement_table().iloc[0])
    assert _signed_sum(bars, steps) == bars[-1].get_height() == 7
    # the last flow ends where the last bar's top is
    assert bars[-2].get_y() == bars[-1].get_height()
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    assert labels[:4] == ["10", "+5", "+0", "−1"]
    # The bars show the table as it is: a walk that does not add up shows the gap.
    broken = movement_table().assign(open_end_count=[8, 7])
    bars = _walk_bars(plotting.plot_pipeline_movement(broken, group="Ali"))
    assert bars[-1].get_height() == 8 and _signed_sum(bars, steps) == 7


def test_movement_waterfall_by_value_has_the_amount_changes_and_balances():
    ax = plotting.plot_pipeline_movement(movement_table(), group="سارا", measure="value", currency="IRR")
    bars = _walk_bars(ax)
    assert len(bars) == 9  # increased and decreased are steps of the value walk only
    steps = plotting.movement_steps(movement_table().iloc[1], "value")
    assert [f for f, _, _ in steps][4:6] == ["increased", "decreased"]
    assert _signed_sum(bars, steps) == pytest.approx(bars[-1].get_height(), rel=1e-12)
    assert bars[-1].get_height() == pytest.approx(6.0)  # 6e9 IRR in billions
    assert "billion IRR" in ax.get_ylabel()


def test_movement_waterfall_team_total_is_the_sum_of_the_rows():
    ax = plotting.plot_pipeline_movement(movement_table())
    bars = _walk_bars(ax)
    assert [b.get_height() for b in bars] == [16, 7, 1, 1, 5, 4, 14]
    assert _signed_sum(bars, plotting.movement_steps(movement_table().sum(numeric_only=True))) == 14
    assert ax.get_title().endswith("All")


def test_movement_waterfall_on_a_real_walk_balances_for_every_owner():
    from test_movement import END, FIELDS, HISTORY, SETTINGS, START, _opps

    data = sn.SalesData.from_frames(_opps(), HISTORY, settings=SETTINGS, field_history=FIELDS)
    table = sn.pipeline_movement(data, start=START, end=END, by="owner")
    assert table["reassigned_in_count"].sum() == 1 and table["increased_value"].sum() == 80
    for measure in ("count", "value"):
        for group in [None, *table["owner"]]:
            ax = plotting.plot_pipeline_movement(table, group=group, measure=measure)
            bars = _walk_bars(ax)
            rows = table if group is None else table[table["owner"] == group]
            steps = plotting.movement_steps(rows.sum(numeric_only=True), measure)
            assert len(bars) == len(steps)
            end = float(rows[f"open_end_{measure}"].sum())
            assert bars[-1].get_height() == pytest.approx(end, abs=1e-9)
            assert _signed_sum(bars, steps) == pytest.approx(end, abs=1e-9), (measure, group)
            plt.close("all")


def test_movement_waterfall_refuses_several_periods_and_unknown_groups():
    table = movement_table()
    with pytest.raises(plotting.PlotInputError, match=r"no row 'Reza'.*Ali"):
        plotting.plot_pipeline_movement(table, group="Reza")
    periods = pd.concat([table.assign(period="1404-01"), table.assign(period="1404-02")])
    with pytest.raises(plotting.PlotInputError, match="one window"):
        plotting.plot_pipeline_movement(periods)
    with pytest.raises(plotting.PlotInputError, match=r"pipeline_movement\(\)"):
        plotting.plot_pipeline_movement(reasons_table())


def test_stage_movement_matrix_in_funnel_order():
    ax = plotting.plot_stage_movement(stage_movement_table(), stages=["lead", "qualified", "proposal"])
    rows = [t.get_text() for t in ax.get_yticklabels()]
    cols = [t.get_text() for t in ax.get_xticklabels()]
    assert rows == ["(new)", "lead", "qualified", "proposal", "(unknown)"]
    assert cols == ["lead", "qualified", "proposal", "(won)", "(lost)"]
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    grid = np.asarray(mesh.get_array()).reshape(len(rows), len(cols))
    assert grid[1, 2] == 3 and grid[1, 0] == 2 and grid[3, 0] == 1 and grid[3, 3] == 2 and grid[4, 4] == 1
    assert grid.sum() == 13


# --------------------------------------------------------------------------- review images
@pytest.mark.skipif(not os.environ.get("SALESNB_RENDER_PLOTS"),
                    reason="set SALESNB_RENDER_PLOTS=1 to render docs/plots/*.png")
def test_render_review_images():
    import importlib.util

    spec = importlib.util.spec_from_file_location("render", ROOT / "docs" / "plots" / "render.py")
    assert spec and spec.loader
    render = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(render)
    written = render.main([])
    assert written and all(p.stat().st_size > 5_000 for p in written)
