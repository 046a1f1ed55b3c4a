"""Question 4a — win rate on both bases, Wilson intervals; expected values by hand.

The main dataset and its story are in ``test_kpi_cases.py``. Wilson intervals are
checked against published values (Newcombe 1998, Statistics in Medicine 17:857,
table II, method 3) and against the formula written out here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_kpi_cases import LATER, WINDOW, build, main_data

import salesnb as sn
from salesnb.metrics.statistics import wilson_interval

Z95 = 1.959963984540054  # the 97.5% point of the standard normal


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval, written out: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_the_textbook(k, n, low, high):
    lo, hi = wilson_interval(np.array([k]), np.array([n]))
    assert round(float(lo[0]), 4) == low
    assert round(float(hi[0]), 4) == high


def test_wilson_is_nan_without_trials():
    lo, hi = wilson_interval(np.array([0, 3]), np.array([0, 6]))
    assert math.isnan(lo[0]) and math.isnan(hi[0])
    assert (lo[1], hi[1]) == pytest.approx(wilson(3, 6))
    # No success: the lower bound is exactly 0; all successes: the upper exactly 1.
    lo, hi = wilson_interval(np.array([0, 5]), np.array([5, 5]))
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert hi[0] == pytest.approx(wilson(0, 5)[1])
    assert lo[1] == pytest.approx(wilson(5, 5)[0])


def test_closed_basis():
    # Won in the window: o1, o3, o10 (3); lost: o2, o4, o8 (3) -> 3 / 6 = 0.5.
    row = sn.win_rate(main_data(), **WINDOW, by=None).iloc[0]
    assert (row["won"], row["lost"], row["open"], row["n"]) == (3, 3, 0, 6)
    assert row["win_rate"] == 0.5
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(3, 6))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.1876, 0.8124), abs=5e-5)
    assert math.isnan(row["open_share"])  # the closed basis has no open deals


def test_closed_basis_by_owner_with_an_empty_denominator():
    # Ali: won o3 o10, lost o4 -> 2/3; Reza: lost o8 -> 0/1 (a real 0); Sara: 1/2.
    data = build([*[(f"a{i}", "Ann", "2025-01-05", "open") for i in range(2)],
                  ("b1", "Bob", "2025-01-05", "won", "2025-01-09")])
    table = sn.win_rate(data, start="2025-01-01", end="2025-02-01").set_index("owner")
    # Ann closed nothing: her rate is empty (NaN), never 0; so is its interval.
    assert table.loc["Ann", "n"] == 0
    assert math.isnan(table.loc["Ann", "win_rate"])
    assert math.isnan(table.loc["Ann", "ci_low"]) and math.isnan(table.loc["Ann", "ci_high"])
    assert table.loc["Bob", "win_rate"] == 1.0
    table = sn.win_rate(main_data(), **WINDOW).set_index("owner")
    assert table["win_rate"].to_dict() == {"Ali": 2 / 3, "Reza": 0.0, "Sara": 0.5}


def test_created_cohort_with_open_share():
    # Created in the window: o1 won, o2 lost, o3 won, o4 lost, o5 open at as_of (won
    # only on 02-10), o6 open, o11 lost (closed exactly at as_of: known).
    # won 2, lost 3, open 2, n 7 -> rate 2/7, open share 2/7.
    row = sn.win_rate(main_data(), **WINDOW, basis="created", by=None).iloc[0]
    assert (row["won"], row["lost"], row["open"], row["n"]) == (2, 3, 2, 7)
    assert row["win_rate"] == pytest.approx(2 / 7)
    assert row["open_share"] == pytest.approx(2 / 7)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson(2, 7))
    table = sn.win_rate(main_data(), **WINDOW, basis="created").set_index("owner")
    # Sara: o1 won, o2 lost, o6 open; Ali: o3 won, o4 lost, o5 open; Reza: o11 lost.
    assert table["win_rate"].to_dict() == pytest.approx({"Ali": 1 / 3, "Reza": 0.0, "Sara": 1 / 3})
    assert table["open_share"].to_dict() == pytest.approx({"Ali": 1 / 3, "Reza": 0.0, "Sara": 1 / 3})


def test_created_cohort_seen_later():
    # At 02-15 o5 is won: won 3 (o1 o3 o5), lost 3, open 1 (o6) -> 3/7, open share 1/7.
    row = sn.win_rate(main_data(), **WINDOW, as_of=LATER, basis="created", by=None).iloc[0]
    assert (row["won"], row["lost"], row["open"]) == (3, 3, 1)
    assert row["win_rate"] == pytest.approx(3 / 7)
    assert row["open_share"] == pytest.approx(1 / 7)


def test_rates_of_an_empty_window_are_nan():
    for basis in ("closed", "created"):
        row = sn.win_rate(main_data(), start="2030-01-01", end="2030-02-01", basis=basis,
                          by=None).iloc[0]
        assert row["n"] == 0
        assert math.isnan(row["win_rate"])
        assert math.isnan(row["ci_low"])


def test_win_rate_by_period():
    # Closed basis by week (Monday): W02 o8 lost; W03 o2 lost; W04 o1 won, o4 lost;
    # W05 o3 won, o10 won. W01 closed nothing: NaN.
    table = sn.win_rate(main_data(), **WINDOW, period="week", by=None)
    assert table["n"].tolist() == [0, 1, 1, 2, 2]
    rates = table["win_rate"].tolist()
    assert math.isnan(rates[0])
    assert rates[1:] == [0.0, 0.0, 0.5, 1.0]


def test_unknown_basis_is_an_error():
    with pytest.raises(sn.OptionError, match=r"The value for `basis` must be one of \['closed', 'created'\], but 'won' was passed"):
        sn.win_rate(main_data(), **WINDOW, basis="won")
    # Options are case-insensitive everywhere: calendar="Jalali" works in win_rate too.
    assert sn.win_rate(main_data(), **WINDOW, basis="Created", calendar="Gregorian").equals(
        sn.win_rate(main_data(), **WINDOW, basis="created", calendar="gregorian"))


def test_small_sample_interval_is_wide():
    # 20 lost deals, 0 won: the rate is 0 but the 95% interval reaches 0.1611 (Newcombe).
    opps = [(f"l{i}", "A", "2025-03-01", "lost", "2025-03-02") for i in range(20)]
    row = sn.win_rate(build(opps), start="2025-03-01", end="2025-04-01", by=None).iloc[0]
    assert row["win_rate"] == 0.0
    assert row["ci_low"] == 0.0
    assert round(row["ci_high"], 4) == 0.1611
