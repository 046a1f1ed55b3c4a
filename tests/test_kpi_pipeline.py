"""Question 1 — opportunities open, too few, created; expected values worked out by hand.

The main dataset and its story are in ``test_kpi_cases.py``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from test_kpi_cases import END, LATER, WINDOW, build, main_data, utc

import salesnb as sn
from salesnb.exceptions import OptionError, WindowError


def as_dict(frame: pd.DataFrame, key: str, value: str) -> dict:
    return dict(zip(frame[key], frame[value], strict=True))


def test_open_at_as_of_is_read_from_timestamps_not_status():
    # Open at T = 2025-02-01 00:00: created_at <= T and (closed_at empty or > T).
    #   o5: status "WON" but closed 02-10 > T -> open (Ali, 2000)
    #   o6: open (Sara, 100); o9: open, no amount (Sara)
    #   o7: created exactly at T -> created_at <= T -> open (Reza, 5000)
    #   o11: closed exactly at T -> not open; every other deal closed before T.
    table = sn.open_opportunities(main_data(), as_of=END, active_days=None)
    assert as_dict(table, "owner", "open_count") == {"Sara": 2, "Ali": 1, "Reza": 1}
    assert as_dict(table, "owner", "open_value") == {"Sara": 100.0, "Ali": 2000.0, "Reza": 5000.0}
    assert as_dict(table, "owner", "open_without_amount") == {"Sara": 1, "Ali": 0, "Reza": 0}
    # Sorted by open count descending, then name.
    assert table["owner"].tolist() == ["Sara", "Ali", "Reza"]
    # Median of (2, 1, 1) is 1; nobody is below 0.5 * 1.
    assert table["team_median"].tolist() == [1.0, 1.0, 1.0]
    assert not table["too_few"].any()


def test_open_replays_a_past_moment_and_flags_too_few():
    # T = 2025-01-10 12:00. Created by T: o1, o2, o3 (01-10 00:00), o8, o9, o10
    # (o4 comes on 01-12). Closed by T: o8 (01-10 00:00). Open: Sara o1, o2, o9 = 3;
    # Ali o3, o10 = 2; Reza 0 — but Reza created o8 within 365 days, so he counts.
    # Median of (3, 2, 0) = 2; too few = below 0.5 * 2 = 1 -> Reza only.
    table = sn.open_opportunities(main_data(), as_of="2025-01-10T12:00")
    assert as_dict(table, "owner", "open_count") == {"Sara": 3, "Ali": 2, "Reza": 0}
    assert as_dict(table, "owner", "too_few") == {"Sara": False, "Ali": False, "Reza": True}
    assert table.attrs["as_of"] == utc("2025-01-10T12:00")
    assert table.attrs["excluded"] == {"inactive_groups": 0}


# Teams: as_of 2025-06-01. Open counts by hand:
#   North: Ana 3, Bo 0 (one recent lost deal), Ivy 2 (one North, one South deal:
#          a tie, so the first team by name, North)          -> median 2, too few < 1
#   South: Dee 2, Jo 0 (one recent won deal)                -> median 1, too few < 0.5
#   no team: Fay 1, Gus 4 -> compared with everybody:
#          (3, 0, 2, 2, 0, 1, 4) sorted 0 0 1 2 2 3 4        -> median 2, too few < 1
#   Hal (North) closed his only deal in 2023: not active within 365 days -> not listed.
TEAM_OPPS = [
    ("a1", "Ana", "2025-05-01", "open", "", "", "", "", "North"),
    ("a2", "Ana", "2025-05-02", "open", "", "", "", "", "North"),
    ("a3", "Ana", "2025-05-03", "open", "", "", "", "", "North"),
    ("b1", "Bo", "2025-05-01", "lost", "2025-05-05", "", "", "", "North"),
    ("i1", "Ivy", "2025-05-01", "open", "", "", "", "", "South"),
    ("i2", "Ivy", "2025-05-02", "open", "", "", "", "", "North"),
    ("d1", "Dee", "2025-05-01", "open", "", "", "", "", "South"),
    ("d2", "Dee", "2025-05-02", "open", "", "", "", "", "South"),
    ("j1", "Jo", "2025-05-01", "won", "2025-05-10", "", "", "", "South"),
    ("f1", "Fay", "2025-05-01", "open", "", "", "", "", ""),
    ("g1", "Gus", "2025-05-01", "open", "", "", "", "", ""),
    ("g2", "Gus", "2025-05-02", "open", "", "", "", "", ""),
    ("g3", "Gus", "2025-05-03", "open", "", "", "", "", ""),
    ("g4", "Gus", "2025-05-04", "open", "", "", "", "", ""),
    ("h1", "Hal", "2023-01-01", "lost", "2023-02-01", "", "", "", "North"),
]


def test_too_few_compares_with_the_team_median():
    table = sn.open_opportunities(build(TEAM_OPPS), as_of="2025-06-01")
    rows = table.set_index("owner")
    assert set(rows.index) == {"Ana", "Bo", "Ivy", "Dee", "Jo", "Fay", "Gus"}
    assert rows["team"].fillna("-").to_dict() == {"Gus": "-", "Ana": "North", "Ivy": "North",
                                                  "Dee": "South", "Fay": "-", "Bo": "North",
                                                  "Jo": "South"}
    assert rows["open_count"].to_dict() == {"Gus": 4, "Ana": 3, "Ivy": 2, "Dee": 2, "Fay": 1,
                                            "Bo": 0, "Jo": 0}
    assert rows["team_median"].to_dict() == {"Gus": 2.0, "Ana": 2.0, "Ivy": 2.0, "Dee": 1.0,
                                             "Fay": 2.0, "Bo": 2.0, "Jo": 1.0}
    assert sorted(rows.index[rows["too_few"]]) == ["Bo", "Jo"]
    assert table.attrs["excluded"] == {"inactive_groups": 1}  # Hal


def test_too_few_is_never_flagged_for_the_total():
    table = sn.open_opportunities(build(TEAM_OPPS), as_of="2025-06-01", by=None)
    assert table["group"].tolist() == ["(all)"]
    assert table["open_count"].tolist() == [12]  # 3 + 2 + 2 + 1 + 4
    assert not table["too_few"].any()


def test_new_opportunities_window_is_half_open():
    # Created in [01-01, 02-01): o1 (exactly at start: in), o2, o6 (Sara: 3, 1000+500+100);
    # o3 (no amount), o4, o5 (Ali: 3, 300+2000); o11 (Reza: 1, no amount -> 0).
    # o7 is created exactly at end: out.
    table = sn.new_opportunities(main_data(), **WINDOW, period="month")
    assert table["period"].tolist() == ["2025-01"] * 3
    assert as_dict(table, "owner", "created") == {"Ali": 3, "Reza": 1, "Sara": 3}
    assert as_dict(table, "owner", "created_value") == {"Ali": 2300.0, "Reza": 0.0, "Sara": 1600.0}


def test_new_opportunities_zero_fills_periods_and_owners():
    # Weeks (Monday) overlapping [01-01, 02-01): W01 starts 2024-12-30 ... W05 starts 01-27.
    # Reza creates only o11 (01-28, W05); o7 (02-01) is outside the window.
    table = sn.new_opportunities(main_data(), **WINDOW, period="week", by="owner")
    reza = table[table["owner"] == "Reza"]
    assert reza["period"].tolist() == ["2025-W01", "2025-W02", "2025-W03", "2025-W04", "2025-W05"]
    assert reza["created"].tolist() == [0, 0, 0, 0, 1]
    # Sara: o1 (01-01, W01), o2 (01-05, a Sunday, W01), o6 (01-20, a Monday, W04).
    sara = table[table["owner"] == "Sara"]
    assert sara["created"].tolist() == [2, 0, 0, 1, 0]
    assert len(table) == 5 * 3


def test_open_over_time_snapshots_and_last_equals_open_at_as_of():
    # Snapshot at min(period end, as_of), open-at-T rule, all owners together:
    #   01-06: created o1 o2 o8 o9 o10, none closed yet (o8 closes 01-10) -> 5 open,
    #          values 1000 + 500 + 700 + 0 + 1500 = 3700
    #   01-13: + o3 o4, - o8 (01-10)                          -> 6, 3300
    #   01-20: + o5 o6 (01-20 00:00 <= T), - o2 (01-15)      -> 7, 4900
    #   01-27: - o1 (01-21), - o4 (01-25)                    -> 5, 3600
    #   02-01 (as_of; the week ends 02-03): + o11 o7, - o3 o10 o11 -> 4, 7100
    data = main_data()
    table = sn.open_over_time(data, **WINDOW, period="week")
    assert table["snapshot_at"].tolist() == [utc(d) for d in
                                             ("2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27",
                                              "2025-02-01")]
    assert table["open_count"].tolist() == [5, 6, 7, 5, 4]
    assert table["open_value"].tolist() == [3700.0, 3300.0, 4900.0, 3600.0, 7100.0]
    at_as_of = sn.open_opportunities(data, as_of=END, active_days=None)
    assert table["open_count"].iloc[-1] == at_as_of["open_count"].sum()


def test_open_over_time_by_owner_zero_fills():
    table = sn.open_over_time(main_data(), **WINDOW, period="month", by="owner")
    # One month; at 02-01: Ali o5, Reza o7, Sara o6 o9.
    assert as_dict(table, "owner", "open_count") == {"Ali": 1, "Reza": 1, "Sara": 2}
    table = sn.open_over_time(main_data(), start="2024-11-01", end="2024-12-10", period="month",
                              by="owner")
    # Snapshots 2024-12-01 and 2024-12-10 (as_of): created by then: o10 (12-01 00:00) only,
    # then o10 alone still (o9 is created 12-15). Sara and Reza existed by neither -> not listed.
    assert table["owner"].tolist() == ["Ali", "Ali"]
    assert table["open_count"].tolist() == [1, 1]


def test_open_as_of_later_than_the_window():
    # as_of 02-15: o5 closed 02-10 -> no longer open; o7, o6, o9 remain.
    table = sn.open_opportunities(main_data(), as_of=LATER, active_days=None)
    assert as_dict(table, "owner", "open_count") == {"Sara": 2, "Reza": 1, "Ali": 0}


def test_as_of_before_end_is_an_error():
    with pytest.raises(WindowError, match="before `end`"):
        sn.open_over_time(main_data(), **WINDOW, as_of="2025-01-31")
    with pytest.raises(WindowError):
        sn.new_opportunities(main_data(), **WINDOW, as_of="2025-01-31T23:59")


# --------------------------------------------------------------------------- Jalali
# Time zone Asia/Tehran, Jalali calendar. Month starts worked out by hand: 1404-01-01
# is 2025-03-21 (Nowruz); months 1-6 have 31 days, so Mehr (07) starts 186 days later on
# 2025-09-23; Mehr has 30 days -> Aban (08) starts 2025-10-23; Aban 30 -> Azar (09)
# starts 2025-11-22; Azar 30 -> Dey (10) starts 2025-12-22.
JALALI = {"calendar": "jalali", "timezone": "Asia/Tehran"}
JALALI_OPPS = [
    ("j1", "Sara", "2025-09-23T00:00", "won", "2025-10-22T23:59"),  # created exactly at start; won Mehr 30
    ("j2", "Sara", "2025-10-01", "won", "2025-10-23T00:00"),        # won exactly at Aban 1 -> Aban
    ("j3", "Ali", "2025-10-05", "lost", "2025-11-25"),              # lost Azar 4
    ("j4", "Ali", "2025-11-22T00:00", "open", ""),                  # created Azar 1
    ("j5", "Ali", "2025-12-22T00:00", "open", ""),                  # created Dey 1 = end: out
    ("j6", "Sara", "2025-09-22T23:59", "won", "2025-09-23T00:00"),  # created Shahrivar 31, won Mehr 1
]
JALALI_WINDOW = {"start": "1404-07-01", "end": "1404-10-01"}


def test_new_opportunities_by_jalali_month_with_zero_rows():
    table = sn.new_opportunities(build(JALALI_OPPS, settings=JALALI), **JALALI_WINDOW, by=None)
    assert table["period"].tolist() == ["1404-07", "1404-08", "1404-09"]
    # Mehr: j1, j2, j3; Aban: nothing (a zero row); Azar: j4. j5 and j6 are outside.
    assert table["created"].tolist() == [3, 0, 1]
    assert table["period_start"].tolist() == [
        pd.Timestamp(d, tz="Asia/Tehran") for d in ("2025-09-23", "2025-10-23", "2025-11-22")]
    assert table["period_end"].iloc[-1] == pd.Timestamp("2025-12-22", tz="Asia/Tehran")


def test_open_over_time_by_jalali_month():
    data = build(JALALI_OPPS, settings=JALALI)
    table = sn.open_over_time(data, **JALALI_WINDOW)
    # End of Mehr (10-23 00:00): created j1 j2 j3 j6, closed j1 j6 j2 (exactly at T) -> j3.
    # End of Aban (11-22 00:00): + j4 (created exactly at T)           -> j3 j4.
    # End of Azar (12-22 00:00 = as_of): - j3 (11-25), + j5 (at T)     -> j4 j5.
    assert table["open_count"].tolist() == [1, 2, 2]
    at_end = sn.open_opportunities(data, as_of="1404-10-01", by=None)
    assert at_end["open_count"].iloc[0] == table["open_count"].iloc[-1]


def test_new_opportunities_needs_a_period() -> None:
    # period=None once fell through to a KeyError deep in the table code.
    with pytest.raises(OptionError) as info:
        sn.new_opportunities(main_data(), period=None)  # type: ignore[arg-type]
    assert "period" in str(info.value) and "month" in str(info.value)
