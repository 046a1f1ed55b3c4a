"""Question 5 — sales cycle: plain mean/median, start/end events, business days and
Kaplan–Meier; expected values by hand.

The main dataset and its story are in ``test_kpi_cases.py``.
"""

from __future__ import annotations

import math

import pytest
from test_kpi_cases import LATER, WINDOW, build, main_data

import salesnb as sn


def test_cycle_of_won_deals_mean_and_median_per_owner():
    # Won in the window (closed_at - created_at, days):
    #   o1 Sara 01-01 -> 01-21 = 20; o3 Ali 01-10 -> 01-30 12:00 = 20.5;
    #   o10 Ali 2024-12-01 -> 01-31 = 61 (created before the window: still counted).
    # All: mean (20 + 20.5 + 61) / 3 = 33.8333, median 20.5.
    # Ali: mean (20.5 + 61) / 2 = 40.75; Sara 20; Reza none (NaN).
    total = sn.sales_cycle(main_data(), **WINDOW, by=None).iloc[0]
    assert total["won_count"] == 3
    assert total["mean_days"] == pytest.approx(101.5 / 3)
    assert total["median_days"] == 20.5
    table = sn.sales_cycle(main_data(), **WINDOW).set_index("owner")
    assert table["won_count"].to_dict() == {"Ali": 2, "Reza": 0, "Sara": 1}
    assert table.loc["Ali", "mean_days"] == 40.75
    assert table.loc["Ali", "median_days"] == 40.75
    assert table.loc["Sara", "mean_days"] == 20.0
    assert math.isnan(table.loc["Reza", "mean_days"])
    assert table.attrs["excluded"] == {"no_start_event": 0, "start_after_end": 0}


def test_cycle_seen_later_does_not_count_wins_after_the_window():
    # At 02-15 o5 is won, but on 02-10: outside the window.
    total = sn.sales_cycle(main_data(), **WINDOW, as_of=LATER, by=None).iloc[0]
    assert total["won_count"] == 3


def test_start_event_is_the_first_entry_into_a_stage():
    # start_event="qualified": from the first entry into qualified to the win.
    #   o1 01-03 -> 01-21 = 18
    #   o3 first qualified 01-12 (not the 01-20 re-entry) -> 01-30 12:00 = 18.5
    #   o10 12-10 -> 01-31 = 52
    # mean 88.5 / 3 = 29.5, median 18.5; Ali (18.5 + 52) / 2 = 35.25, Sara 18.
    total = sn.sales_cycle(main_data(), **WINDOW, by=None, start_event="qualified").iloc[0]
    assert total["won_count"] == 3
    assert total["mean_days"] == 29.5
    assert total["median_days"] == 18.5
    table = sn.sales_cycle(main_data(), **WINDOW, start_event="qualified").set_index("owner")
    assert table.loc["Ali", "mean_days"] == 35.25
    assert table.loc["Sara", "mean_days"] == 18.0


def test_start_event_never_entered_is_excluded_and_counted():
    # start_event="negotiation": only o1 entered it (01-11 -> 01-21 = 10 d); o3 and o10
    # never did: left out and counted.
    table = sn.sales_cycle(main_data(), **WINDOW, by=None, start_event="negotiation")
    assert table["won_count"].tolist() == [1]
    assert table["mean_days"].tolist() == [10.0]
    assert table.attrs["excluded"] == {"no_start_event": 2, "start_after_end": 0}


def test_end_event_as_a_stage():
    # end_event="proposal": deals whose first proposal entry is in the window, from
    # creation: o1 01-01 -> 01-06 = 5, o2 01-05 -> 01-07 = 2, o3 01-10 -> 01-15 = 5.
    # o6 enters proposal on 02-05, after as_of; o10 in December.
    dur = sn.cycle_durations(main_data(), **WINDOW, end_event="proposal")
    assert sorted(zip(dur["opportunity_id"], dur["days"], strict=True)) == [
        ("o1", 5.0), ("o2", 2.0), ("o3", 5.0)]


def test_unknown_stage_event_is_an_error():
    with pytest.raises(sn.OptionError, match=r"`start_event` must be one of \['created', 'lead'.*'demo'"):
        sn.sales_cycle(main_data(), **WINDOW, start_event="demo")
    # Stage names follow the option rule too: any case.
    assert sn.sales_cycle(main_data(), **WINDOW, start_event="Qualified").equals(
        sn.sales_cycle(main_data(), **WINDOW, start_event="qualified"))


# Business days. 2025-01-01 was a Wednesday, so 01-06 and 01-13 are Mondays, 01-08 a
# Wednesday (a holiday here), 01-10 a Friday, 01-11 / 01-12 the weekend.
BUSINESS_OPPS = [
    ("b1", "Ana", "2025-01-06T00:00", "won", "2025-01-13T00:00"),
    ("b2", "Ana", "2025-01-10T12:00", "won", "2025-01-14T06:00"),
    ("b3", "Ben", "2025-01-11T09:00", "won", "2025-01-12T18:00"),
]


def test_business_days_skip_weekend_and_holidays():
    # Weekend Saturday + Sunday, holiday 01-08:
    #   b1 Mon..Mon: Mon 6, Tue 7, Thu 9, Fri 10 -> 4 (calendar 7)
    #   b2 Fri 12:00 .. Tue 06:00: half of Fri + Mon + a quarter of Tue = 1.75 (calendar 3.75)
    #   b3 Sat 09:00 .. Sun 18:00: 0 (calendar 1.375)
    data = build(BUSINESS_OPPS, settings={"holidays": ["2025-01-08"]})
    dur = sn.cycle_durations(data, start="2025-01-01", end="2025-02-01", business_days=True)
    assert dict(zip(dur["opportunity_id"], dur["days"], strict=True)) == {
        "b1": 4.0, "b2": 1.75, "b3": 0.0}
    plain = sn.cycle_durations(data, start="2025-01-01", end="2025-02-01")
    assert dict(zip(plain["opportunity_id"], plain["days"], strict=True)) == {
        "b1": 7.0, "b2": 3.75, "b3": 1.375}
    table = sn.sales_cycle(data, start="2025-01-01", end="2025-02-01", business_days=True)
    # Ana (4 + 1.75) / 2 = 2.875; Ben 0.
    assert table.set_index("owner")["mean_days"].to_dict() == {"Ana": 2.875, "Ben": 0.0}


def test_business_days_with_a_friday_weekend():
    # Weekend Friday only, holiday 01-08:
    #   b1: Mon 6, Tue 7, Thu 9, Sat 11, Sun 12 -> 5
    #   b2: Fri 12:00 is off; Sat, Sun, Mon whole; Tue 06:00 a quarter -> 3.25
    #   b3: Sat 09:00 .. Sun 18:00: 15/24 of Sat + 18/24 of Sun = 1.375
    data = build(BUSINESS_OPPS, settings={"holidays": ["2025-01-08"], "weekend": ["friday"]})
    dur = sn.cycle_durations(data, start="2025-01-01", end="2025-02-01", business_days=True)
    assert dict(zip(dur["opportunity_id"], dur["days"], strict=True)) == {
        "b1": 5.0, "b2": 3.25, "b3": 1.375}


# Kaplan–Meier. Window [01-01, 03-01), as_of 03-01. Created in the window, days to the
# win (event) or to as_of while still open (censored):
#   k1 1 (event)   k2 2 (open since 02-27, censored)   k3 3 (event)   k4 3 (event)
#   k5 3 (open since 02-26, censored)   k6 4 (created 02-25, won 03-05 after as_of:
#   censored)   k7 6 (event)   k8 7 (open since 02-22, censored)
#   k9 lost: left out (counted); k10 created in 2024: not in the population.
KM_OPPS = [
    ("k1", "A", "2025-01-10", "won", "2025-01-11"),
    ("k2", "A", "2025-02-27", "open"),
    ("k3", "A", "2025-01-10", "won", "2025-01-13"),
    ("k4", "A", "2025-01-15", "won", "2025-01-18"),
    ("k5", "A", "2025-02-26", "open"),
    ("k6", "A", "2025-02-25", "won", "2025-03-05"),
    ("k7", "A", "2025-01-20", "won", "2025-01-26"),
    ("k8", "A", "2025-02-22", "open"),
    ("k9", "A", "2025-01-05", "lost", "2025-01-07"),
    ("k10", "A", "2024-12-20", "won", "2024-12-22"),
]


def test_kaplan_meier_product_limit_by_hand():
    # Product limit: S(t) = prod over event times t_i <= t of (1 - d_i / n_i); a deal
    # censored at t is still at risk at t.
    #   t=1: n 8, d 1 -> S = 7/8
    #   t=2: one censored -> S stays 7/8
    #   t=3: n 6 (8 - 1 event - 1 censored), d 2, and one censored -> S = 7/8 * 4/6 = 7/12
    #   t=4: one censored -> 7/12
    #   t=6: n 2 (6 - 2 - 1 - 1), d 1 -> S = 7/12 * 1/2 = 7/24
    #   t=7: one censored -> 7/24
    # Median: the first t with S(t) <= 0.5 -> 6 (S(3) = 0.583 is still above one half).
    km = sn.cycle_survival(build(KM_OPPS), start="2025-01-01", end="2025-03-01")
    assert km["days"].tolist() == [1.0, 2.0, 3.0, 4.0, 6.0, 7.0]
    assert km["survival"].tolist() == pytest.approx([7 / 8, 7 / 8, 7 / 12, 7 / 12, 7 / 24, 7 / 24])
    assert km["at_risk"].tolist() == [8, 7, 6, 3, 2, 1]
    assert km["events"].tolist() == [1, 0, 2, 0, 1, 0]
    assert km["censored"].tolist() == [0, 1, 1, 1, 0, 1]
    med = km.attrs["medians"].iloc[0]
    assert (med["n"], med["events"], med["censored"]) == (8, 4, 4)
    assert med["median_days"] == 6.0
    assert km.attrs["excluded"] == {"lost_before_end": 1}
    # The plain view beside it: won in the window k1 1, k3 3, k4 3, k7 6 -> mean 3.25,
    # median 3 (k6's win is after as_of, k10's before the window).
    plain = sn.sales_cycle(build(KM_OPPS), start="2025-01-01", end="2025-03-01", by=None).iloc[0]
    assert (plain["won_count"], plain["mean_days"], plain["median_days"]) == (4, 3.25, 3.0)


def test_kaplan_meier_median_is_nan_when_the_curve_stays_above_half():
    # Only k2 k5 k6 k8 (all censored) and k1 (an event at 1 of 5 at risk): S = 4/5.
    opps = [r for r in KM_OPPS if r[0] in ("k1", "k2", "k5", "k6", "k8")]
    km = sn.cycle_survival(build(opps), start="2025-01-01", end="2025-03-01")
    assert km["survival"].iloc[0] == pytest.approx(4 / 5)
    assert math.isnan(km.attrs["medians"].iloc[0]["median_days"])


def test_kaplan_meier_on_the_main_dataset():
    # Cohort: o1 won 20 d, o3 won 20.5 d, o5 open at as_of (17 d), o6 open (12 d);
    # o2 o4 o11 lost: left out. S(20) = 1 - 1/2 = 0.5 -> median 20.
    km = sn.cycle_survival(main_data(), **WINDOW)
    assert km["days"].tolist() == [12.0, 17.0, 20.0, 20.5]
    assert km["survival"].tolist() == pytest.approx([1.0, 1.0, 0.5, 0.0])
    assert km.attrs["medians"].iloc[0]["median_days"] == 20.0
    assert km.attrs["excluded"] == {"lost_before_end": 3}


def test_cycle_comparison_windows():
    # Current January; previous December (seen at its own end, 01-01: nothing won then);
    # a year ago January 2024: no data.
    cmp = sn.cycle_comparison(main_data(), **WINDOW, by=None)
    assert cmp["window"].tolist() == ["current", "previous", "year_ago"]
    assert cmp["won_count"].tolist() == [3, 0, 0]
    assert cmp["mean_days"].iloc[0] == pytest.approx(101.5 / 3)
    assert cmp["km_median_days"].iloc[0] == 20.0
    assert cmp["change_mean_days"].iloc[0] == 0.0
