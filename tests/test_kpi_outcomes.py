"""Question 2 — won and lost, lost reasons, stage where lost; expected values by hand.

The main dataset and its story are in ``test_kpi_cases.py``.
"""

from __future__ import annotations

import pandas as pd
from test_kpi_cases import LATER, WINDOW, build, main_data
from test_kpi_pipeline import JALALI, JALALI_OPPS, JALALI_WINDOW

import salesnb as sn


def by_owner(frame: pd.DataFrame, column: str) -> dict:
    return dict(zip(frame["owner"], frame[column], strict=True))


def test_won_lost_in_window():
    # Won in [01-01, 02-01) and known at as_of = 02-01: o1 (Sara, 1000), o3 (Ali, no
    # amount), o10 (Ali, 1500; created before the window, closed in it).
    # Not won in the window: o5 ("WON", but closed 02-10 > as_of: still open).
    # Lost: o2 (Sara), o4 (Ali), o8 (Reza; created before the window).
    # Not lost in the window: o11 closed exactly at end (the window is half-open).
    table = sn.won_lost(main_data(), **WINDOW, period=None)
    assert table["owner"].tolist() == ["Ali", "Reza", "Sara"]
    assert by_owner(table, "won") == {"Ali": 2, "Reza": 0, "Sara": 1}
    assert by_owner(table, "lost") == {"Ali": 1, "Reza": 1, "Sara": 1}
    assert by_owner(table, "closed") == {"Ali": 3, "Reza": 1, "Sara": 2}
    assert by_owner(table, "won_value") == {"Ali": 1500.0, "Reza": 0.0, "Sara": 1000.0}


def test_won_lost_is_the_same_seen_later():
    # A later as_of learns of o5's win (02-10), but 02-10 is outside the window.
    assert sn.won_lost(main_data(), **WINDOW, period=None, as_of=LATER).equals(
        sn.won_lost(main_data(), **WINDOW, period=None))


def test_won_lost_next_window_sees_closings_at_its_start():
    # [02-01, 02-15): o11 lost exactly at 02-01 (start: in); o5 won 02-10.
    table = sn.won_lost(main_data(), start="2025-02-01", end=LATER, period=None, by=None)
    assert table[["won", "lost"]].iloc[0].tolist() == [1, 1]
    # Seen on 02-05 (window ending there) o5 is not won yet.
    table = sn.won_lost(main_data(), start="2025-02-01", end="2025-02-05", period=None, by=None)
    assert table[["won", "lost"]].iloc[0].tolist() == [0, 1]


def test_won_lost_by_week_zero_filled():
    # Weeks from Monday: o8 lost 01-10 (W02); o2 lost 01-15 (W03); o1 won 01-21 (W04);
    # o4 lost 01-25 (W04); o3 won 01-30 (W05); o10 won 01-31 (W05).
    table = sn.won_lost(main_data(), **WINDOW, period="week", by=None)
    assert table["period"].tolist() == ["2025-W01", "2025-W02", "2025-W03", "2025-W04", "2025-W05"]
    assert table["won"].tolist() == [0, 0, 0, 1, 2]
    assert table["lost"].tolist() == [0, 1, 1, 1, 0]


def test_lost_reasons_blank_is_unspecified():
    # Lost in the window: o2 "price" 500, o8 "price" 700, o4 "  " (blank) 300.
    table = sn.lost_reasons(main_data(), **WINDOW)
    assert table["lost_reason"].tolist() == ["price", "(unspecified)"]
    assert table["lost"].tolist() == [2, 1]
    assert table["lost_value"].tolist() == [1200.0, 300.0]
    assert table["share"].tolist() == [2 / 3, 1 / 3]


def test_lost_reasons_by_stage_where_lost():
    # Stage where lost = the last open stage entered before closing:
    #   o2: lead, proposal             -> proposal
    #   o8: lead, qualified, lost row  -> qualified
    #   o4: no history                 -> its stage column, qualified
    table = sn.lost_reasons(main_data(), **WINDOW, by="stage")
    got = {(r.lost_reason, r.stage): r.lost for r in table.itertuples()}
    assert got == {("price", "proposal"): 1, ("price", "qualified"): 1,
                   ("(unspecified)", "qualified"): 1}


def test_stage_where_lost_rules():
    # x1: history lead -> qualified; its stage column says proposal: the history wins.
    # x2: history lead -> proposal -> lead (regression): the last one entered, lead.
    # x3: no history, stage column "lost" (not an open stage) -> (unknown).
    # x4: no history, no stage -> (unknown).
    # x5: lost on 03-20, after as_of (03-15): still open, not in the table.
    opps = [
        ("x1", "A", "2025-03-01", "lost", "2025-03-05", "", "proposal", "price"),
        ("x2", "A", "2025-03-01", "lost", "2025-03-06", "", "", "price"),
        ("x3", "A", "2025-03-01", "lost", "2025-03-07", "", "lost", "price"),
        ("x4", "A", "2025-03-01", "lost", "2025-03-08", "", "", "price"),
        ("x5", "A", "2025-03-01", "lost", "2025-03-20", "", "lead", "price"),
    ]
    hist = [("x1", "lead", "2025-03-01"), ("x1", "qualified", "2025-03-02"),
            ("x2", "lead", "2025-03-01"), ("x2", "proposal", "2025-03-02"), ("x2", "lead", "2025-03-03")]
    data = build(opps, hist, {"stages": ["lead", "qualified", "proposal"]})
    table = sn.lost_reasons(data, start="2025-03-01", end="2025-03-15", by="stage")
    assert dict(zip(table["stage"], table["lost"], strict=True)) == {
        "(unknown)": 2, "lead": 1, "qualified": 1}


def test_lost_reasons_empty_window():
    table = sn.lost_reasons(main_data(), start="2030-01-01", end="2030-02-01")
    assert len(table) == 0
    assert list(table.columns) == ["lost_reason", "lost", "share", "lost_value"]


def test_won_lost_by_jalali_month():
    # Mehr (09-23 .. 10-23): j6 won 09-23 00:00 (exactly at start), j1 won 10-22 23:59.
    # Aban (10-23 .. 11-22): j2 won 10-23 00:00 (a bound belongs to the later month).
    # Azar (11-22 .. 12-22): j3 lost 11-25.
    table = sn.won_lost(build(JALALI_OPPS, settings=JALALI), **JALALI_WINDOW)
    sara = table[table["owner"] == "Sara"]
    ali = table[table["owner"] == "Ali"]
    assert sara["period"].tolist() == ["1404-07", "1404-08", "1404-09"]
    assert sara["won"].tolist() == [2, 1, 0]
    assert ali["won"].tolist() == [0, 0, 0]
    assert ali["lost"].tolist() == [0, 0, 1]
    assert table["won_value"].tolist() == [0.0] * 6  # no amounts: a sum of nothing is 0
