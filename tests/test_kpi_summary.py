"""The ``salesnb kpi --json`` document: its exact shape and every value, by hand.

The main dataset and its story are in ``test_kpi_cases.py``; each value below is
worked out in the other ``test_kpi_*`` modules and repeated here with its reason.
"""

from __future__ import annotations

import json

import pytest
from test_kpi_cases import FOUR_STAGES, LATER, MAIN_OPPS, WINDOW, build, main_data

import salesnb as sn
from salesnb.exceptions import WindowError

SHAPE = {
    "window": {"start", "end", "as_of"},
    "opportunities": {"open_total", "open_by_owner", "created_total", "created_by_owner"},
    "won": {"total", "by_owner"},
    "lost": {"total", "by_owner", "by_reason"},
    "sales_volume": {"won_with_amount", "won_without_amount", "mean_amount", "median_amount",
                     "total_amount", "band", "open_above_band", "open_below_band"},
    "win_rate": {"closed", "closed_by_owner", "created_cohort", "created_cohort_open_share"},
    "sales_cycle": {"won_count", "mean_days", "median_days", "by_owner_mean_days"},
}
FUNNEL_ROW = {"stage", "reached", "lost_here", "conversion_to_next", "median_days_in_stage"}


def check_shape(doc: dict) -> None:
    assert set(doc) == {*SHAPE, "funnel"}
    for key, fields in SHAPE.items():
        assert set(doc[key]) == fields, key
    assert isinstance(doc["funnel"], list)
    for row in doc["funnel"]:
        assert set(row) == FUNNEL_ROW
    # Strict JSON: no NaN or Infinity anywhere.
    json.loads(json.dumps(doc, allow_nan=False))


def test_the_whole_document_by_hand():
    doc = sn.kpi_summary(main_data(), **WINDOW)
    check_shape(doc)
    assert doc == {
        "window": {"start": "2025-01-01T00:00:00+00:00", "end": "2025-02-01T00:00:00+00:00",
                   "as_of": "2025-02-01T00:00:00+00:00"},
        "opportunities": {
            # open at 02-01: o5 (won only 02-10), o6, o9, o7 (created exactly at as_of)
            "open_total": 4,
            "open_by_owner": {"Sara": 2, "Ali": 1, "Reza": 1},
            # created in [01-01, 02-01): o1 o2 o6 | o3 o4 o5 | o11 (o7 is at end: out)
            "created_total": 7,
            "created_by_owner": {"Sara": 3, "Ali": 3, "Reza": 1},
        },
        # won: o1 (Sara), o3 o10 (Ali); o5 closes after as_of
        "won": {"total": 3, "by_owner": {"Ali": 2, "Sara": 1}},
        # lost: o2 price, o4 blank, o8 price; o11 closes exactly at end: out
        "lost": {"total": 3, "by_owner": {"Sara": 1, "Ali": 1, "Reza": 1},
                 "by_reason": {"price": 2, "(unspecified)": 1}},
        "sales_volume": {
            # won with amount: o1 1000, o10 1500; o3 has none
            "won_with_amount": 2, "won_without_amount": 1,
            "mean_amount": 1250.0, "median_amount": 1250.0, "total_amount": 2500.0,
            # band ±50% of 1250: above > 1875 (o5 2000, o7 5000), below < 625 (o6 100)
            "band": 0.5, "open_above_band": 2, "open_below_band": 1,
        },
        "win_rate": {
            "closed": 0.5,  # 3 / (3 + 3)
            "closed_by_owner": {"Ali": 2 / 3, "Reza": 0.0, "Sara": 0.5},
            # cohort of 7: won o1 o3; open o5 o6; lost o2 o4 o11
            "created_cohort": 2 / 7,
            "created_cohort_open_share": 2 / 7,
        },
        "funnel": [
            {"stage": "lead", "reached": 7, "lost_here": 1, "conversion_to_next": 6 / 7,
             "median_days_in_stage": 3.0},
            {"stage": "qualified", "reached": 6, "lost_here": 1, "conversion_to_next": 4 / 6,
             "median_days_in_stage": 3.0},
            {"stage": "proposal", "reached": 4, "lost_here": 1, "conversion_to_next": 3 / 4,
             "median_days_in_stage": 5.0},
            {"stage": "negotiation", "reached": 3, "lost_here": 0, "conversion_to_next": 2 / 3,
             "median_days_in_stage": 10.0},
        ],
        "sales_cycle": {
            # o1 20, o3 20.5, o10 61 days
            "won_count": 3, "mean_days": pytest.approx(101.5 / 3), "median_days": 20.5,
            "by_owner_mean_days": {"Ali": 40.75, "Sara": 20.0},
        },
    }


def test_the_document_seen_later():
    # as_of 02-15: o5 won (02-10, outside the window) and o6 in proposal (02-05).
    doc = sn.kpi_summary(main_data(), **WINDOW, as_of=LATER)
    check_shape(doc)
    assert doc["window"]["as_of"] == "2025-02-15T00:00:00+00:00"
    # open at 02-15: o6, o7, o9 (o5 is closed now)
    assert doc["opportunities"]["open_total"] == 3
    assert doc["opportunities"]["open_by_owner"] == {"Sara": 2, "Reza": 1}  # Ali's 0 is left out
    assert doc["won"]["total"] == 3
    assert doc["win_rate"]["created_cohort"] == pytest.approx(3 / 7)
    assert doc["win_rate"]["created_cohort_open_share"] == pytest.approx(1 / 7)
    assert [r["reached"] for r in doc["funnel"]] == [7, 6, 5, 3]
    # Open deals now: o6 100 (below 625), o7 5000 (above); o9 has no amount.
    assert (doc["sales_volume"]["open_above_band"], doc["sales_volume"]["open_below_band"]) == (1, 1)


def test_an_empty_window_gives_nulls_not_zeros():
    doc = sn.kpi_summary(main_data(), start="2030-01-01", end="2030-02-01")
    check_shape(doc)
    # Still open in 2030: o6, o7, o9 (o5 closed in 2025).
    assert doc["opportunities"] == {"open_total": 3, "open_by_owner": {"Sara": 2, "Reza": 1},
                                    "created_total": 0, "created_by_owner": {}}
    assert doc["won"] == {"total": 0, "by_owner": {}}
    assert doc["lost"] == {"total": 0, "by_owner": {}, "by_reason": {}}
    assert doc["sales_volume"] == {"won_with_amount": 0, "won_without_amount": 0, "mean_amount": None,
                                   "median_amount": None, "total_amount": 0.0, "band": 0.5,
                                   "open_above_band": 0, "open_below_band": 0}
    assert doc["win_rate"] == {"closed": None, "closed_by_owner": {}, "created_cohort": None,
                               "created_cohort_open_share": None}
    assert doc["funnel"] == [{"stage": s, "reached": 0, "lost_here": 0, "conversion_to_next": None,
                              "median_days_in_stage": None} for s in FOUR_STAGES]
    assert doc["sales_cycle"] == {"won_count": 0, "mean_days": None, "median_days": None,
                                  "by_owner_mean_days": {}}


def test_a_window_before_any_deal():
    doc = sn.kpi_summary(main_data(), start="2020-01-01", end="2020-02-01")
    check_shape(doc)
    assert doc["opportunities"]["open_total"] == 0
    assert doc["opportunities"]["open_by_owner"] == {}


def test_without_history_or_stages():
    # No stage history: the funnel comes from the stage column (see test_kpi_funnel).
    doc = sn.kpi_summary(build(MAIN_OPPS, None, {"stages": FOUR_STAGES}), **WINDOW)
    check_shape(doc)
    assert [r["reached"] for r in doc["funnel"]] == [7, 3, 2, 2]
    assert all(r["median_days_in_stage"] is None for r in doc["funnel"])
    # No stages at all (no history, no stage column): an empty funnel, the rest intact.
    opps = [r[:6] for r in MAIN_OPPS]
    doc = sn.kpi_summary(build(opps), **WINDOW)
    check_shape(doc)
    assert doc["funnel"] == []
    assert doc["won"]["total"] == 3


def test_as_of_before_end_is_an_error():
    with pytest.raises(WindowError, match="before `end`"):
        sn.kpi_summary(main_data(), **WINDOW, as_of="2025-01-31T23:59:59")
    # as_of equal to end is the default.
    assert sn.kpi_summary(main_data(), **WINDOW, as_of=WINDOW["end"]) == sn.kpi_summary(
        main_data(), **WINDOW)


def test_an_empty_window_range_is_an_error():
    with pytest.raises(WindowError, match="empty"):
        sn.kpi_summary(main_data(), start="2025-02-01", end="2025-02-01")


def test_jalali_window_strings():
    # The same January read as Jalali dates: 1403-10-12 = 2025-01-01 and 1403-11-13 =
    # 2025-02-01 (Dey 1403 starts 2024-12-21, so Dey 12 is 11 days later; Dey has 30 days,
    # Bahman starts 2025-01-20 and Bahman 13 is 12 days later).
    data = main_data()
    doc = sn.kpi_summary(data, start="1403-10-12", end="1403-11-13", calendar="jalali")
    assert doc == sn.kpi_summary(data, **WINDOW)


@pytest.mark.parametrize(("band", "problem"), [(-0.1, "negative"), (float("nan"), "not a number")])
def test_a_band_below_zero_or_not_a_number_is_an_error(band: float, problem: str) -> None:
    with pytest.raises(WindowError, match=problem):
        sn.kpi_summary(main_data(), **WINDOW, band=band)
    with pytest.raises(WindowError, match=problem):
        sn.risk(main_data(), band=band)
