"""Question 4b — funnel, time in stage, transitions, stuck deals; expected values by hand.

The main dataset and its story are in ``test_kpi_cases.py``.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_kpi_cases import END, LATER, WINDOW, build, main_data, utc

import salesnb as sn


def column(frame: pd.DataFrame, name: str) -> dict:
    return dict(zip(frame["stage"], frame[name], strict=True))


# --------------------------------------------------------------------------- funnel
def test_funnel_on_the_main_dataset():
    # Cohort created in [01-01, 02-01), seen at 02-01: o1 o2 o3 o4 o5 o6 o11 (7).
    # Deepest stage (furthest open stage in the history known at as_of):
    #   o1 negotiation (won)   o2 proposal (lost)   o3 proposal (won; its regression
    #   to qualified does not undo reaching proposal)   o4 qualified (no history: its
    #   stage column; lost)   o5 negotiation (open: the win is after as_of)
    #   o6 qualified (open: proposal is entered after as_of)   o11 lead (lost)
    # reached(si) = deepest >= si or won:
    #   lead 7; qualified 6 (all but o11); proposal 4 (o1 o2 o3 o5);
    #   negotiation 3 (o1 o5, and o3 which is won)
    # lost_here: lead o11, qualified o4, proposal o2, negotiation none.
    # conversion_to_next: 6/7, 4/6, 3/4 and for the last stage won / reached = 2/3.
    fun = sn.funnel(main_data(), **WINDOW)
    assert fun["stage"].tolist() == ["lead", "qualified", "proposal", "negotiation"]
    assert fun["position"].tolist() == [1, 2, 3, 4]
    assert fun["reached"].tolist() == [7, 6, 4, 3]
    assert fun["lost_here"].tolist() == [1, 1, 1, 0]
    assert fun["open_here"].tolist() == [0, 1, 0, 1]  # o6 qualified, o5 negotiation
    assert fun["conversion_to_next"].tolist() == pytest.approx([6 / 7, 4 / 6, 3 / 4, 2 / 3])
    assert fun["cumulative_conversion"].tolist() == pytest.approx([1, 6 / 7, 4 / 7, 3 / 7])
    assert fun.attrs["cohort"] == 7
    assert (fun.attrs["won"], fun.attrs["lost"], fun.attrs["open"]) == (2, 3, 2)
    # Time in stage, completed visits of the cohort (days):
    #   lead: o1 2, o2 2, o3 2, o5 5, o6 5, o11 4 (ends at its closing, exactly at
    #         as_of: complete) -> sorted 2 2 2 4 5 5, median 3
    #   qualified: o1 3, o3 3, o3 10.5 (01-20 -> 01-30 12:00); o6 censored -> median 3
    #   proposal: o1 5, o2 8, o3 5 -> median 5
    #   negotiation: o1 10; o5 censored -> median 10
    assert fun["completed_visits"].tolist() == [6, 3, 3, 1]
    assert fun["censored_visits"].tolist() == [0, 1, 0, 1]
    assert fun["median_days_in_stage"].tolist() == [3.0, 3.0, 5.0, 10.0]


def test_funnel_seen_later():
    # At 02-15: o5 is won (02-10) and o6 entered proposal (02-05).
    # reached: lead 7, qualified 6, proposal 5 (o1 o2 o3 o5 o6), negotiation 3 (o1 o3 o5);
    # won 3 -> last conversion 3/3.
    # Visits: o5 negotiation 01-20 -> 02-10 = 21 d, now complete -> median (10, 21) = 15.5;
    # o6 qualified 01-25 -> 02-05 = 11 d -> qualified 3, 3, 10.5, 11 -> median 6.75;
    # o6 proposal is censored -> proposal stays 5, 8, 5 -> median 5.
    fun = sn.funnel(main_data(), **WINDOW, as_of=LATER)
    assert fun["reached"].tolist() == [7, 6, 5, 3]
    assert fun["lost_here"].tolist() == [1, 1, 1, 0]
    assert fun["conversion_to_next"].tolist() == pytest.approx([6 / 7, 5 / 6, 3 / 5, 1.0])
    assert fun["median_days_in_stage"].tolist() == [3.0, 6.75, 5.0, 15.5]
    assert fun["censored_visits"].tolist() == [0, 0, 1, 0]


# Deepest-stage rules; stages lead → qualified → proposal; window March 2025, as_of = end
# = 2025-04-01.
#   d1: history lead, proposal, qualified (regression); stage column "lead": the history
#       wins -> proposal (open)
#   d2: no history, stage column qualified -> qualified (open)
#   d3: no history, stage column "lost" (not an open stage) -> lead (lost there)
#   d4: no history, no stage column -> lead (open)
#   d5: only a "won" row in its history -> won: it has passed every stage
#   d6: its only entry (proposal) is after as_of; stage column qualified -> qualified (open)
DEEP_OPPS = [
    ("d1", "A", "2025-03-01", "open", "", "", "lead"),
    ("d2", "A", "2025-03-02", "open", "", "", "qualified"),
    ("d3", "A", "2025-03-03", "lost", "2025-03-04", "", "lost"),
    ("d4", "A", "2025-03-04", "open"),
    ("d5", "A", "2025-03-05", "won", "2025-03-09"),
    ("d6", "A", "2025-03-06", "open", "", "", "qualified"),
]
DEEP_HISTORY = [
    ("d1", "lead", "2025-03-01"), ("d1", "proposal", "2025-03-02"), ("d1", "qualified", "2025-03-03"),
    ("d5", "won", "2025-03-09"),
    ("d6", "proposal", "2025-04-10"),
]
THREE_STAGES = ["lead", "qualified", "proposal"]


def test_deepest_stage_rules():
    data = build(DEEP_OPPS, DEEP_HISTORY, {"stages": THREE_STAGES})
    fun = sn.funnel(data, start="2025-03-01", end="2025-04-01")
    # reached: lead all 6; qualified d1 d2 d5 d6 = 4; proposal d1 d5 = 2.
    assert fun["reached"].tolist() == [6, 4, 2]
    assert fun["lost_here"].tolist() == [1, 0, 0]  # d3
    # Open deals by deepest stage: lead d4; qualified d2 d6; proposal d1.
    assert fun["open_here"].tolist() == [1, 2, 1]
    # conversion: 4/6, 2/4, and won (d5) / reached(proposal) = 1/2.
    assert fun["conversion_to_next"].tolist() == pytest.approx([4 / 6, 2 / 4, 1 / 2])


def test_empty_cohort_rates_are_nan():
    fun = sn.funnel(main_data(), start="2030-01-01", end="2030-02-01")
    assert fun["reached"].tolist() == [0, 0, 0, 0]
    assert all(math.isnan(v) for v in fun["conversion_to_next"])
    assert all(math.isnan(v) for v in fun["median_days_in_stage"])


# --------------------------------------------------------------------------- time in stage
def test_time_in_stage_counts_censored_but_keeps_them_out_of_the_stats():
    table = sn.time_in_stage(main_data(), **WINDOW).set_index("stage")
    # See test_funnel_on_the_main_dataset for the visits.
    assert table["visits"].tolist() == [6, 4, 3, 2]
    assert table["completed"].tolist() == [6, 3, 3, 1]
    assert table["censored"].tolist() == [0, 1, 0, 1]
    # lead mean (2+2+2+5+5+4)/6 = 20/6; qualified mean (3+3+10.5)/3 = 5.5;
    # proposal mean 18/3 = 6; negotiation 10.
    assert table["mean_days"].tolist() == pytest.approx([20 / 6, 5.5, 6.0, 10.0])
    # p90 by linear interpolation at h = 0.9 (n - 1):
    #   lead 2 2 2 4 5 5: h = 4.5 -> 5; qualified 3 3 10.5: h = 1.8 -> 3 + 0.8 * 7.5 = 9;
    #   proposal 5 5 8: h = 1.8 -> 5 + 0.8 * 3 = 7.4; negotiation 10.
    assert table["p90_days"].tolist() == pytest.approx([5.0, 9.0, 7.4, 10.0])


def test_time_in_stage_of_visits_started_in_the_window():
    # cohort=False: every visit entered in [01-01, 02-01), whoever it belongs to. Every
    # January entry belongs to a deal created in January (o8's and o10's entries are
    # all in December), so this is the cohort's table again.
    a = sn.time_in_stage(main_data(), **WINDOW, cohort=False)
    b = sn.time_in_stage(main_data(), **WINDOW)
    pd.testing.assert_frame_equal(a, b)
    # Visits entered in December, seen at 02-01: o10 lead 9 d, qualified 0 d (tied with
    # proposal, first in the source), proposal 52 d (12-10 -> its closing on 01-31);
    # o8 lead 8 d, qualified 13 d (12-28 -> its lost row on 01-10). o9 has no history.
    # Medians: lead (8, 9) 8.5; qualified (0, 13) 6.5; proposal 52; negotiation none.
    dec = sn.time_in_stage(main_data(), start="2024-12-01", end="2025-01-01", as_of=END,
                           cohort=False).set_index("stage")
    assert dec["completed"].tolist() == [2, 2, 1, 0]
    assert dec["median_days"].tolist()[:3] == [8.5, 6.5, 52.0]


def test_visits_of_an_opportunity():
    visits = sn.stage_visits(main_data(), as_of=utc(END))
    assert "opp_code" not in visits.columns  # public columns only
    o3 = visits[visits["opportunity_id"] == "o3"]
    assert o3["stage"].tolist() == ["lead", "qualified", "proposal", "qualified"]
    assert o3["next_stage"].tolist() == ["qualified", "proposal", "qualified", "won"]
    assert o3["days"].tolist() == [2.0, 3.0, 5.0, 10.5]
    o6 = visits[visits["opportunity_id"] == "o6"]
    assert o6["censored"].tolist() == [False, True]
    assert pd.isna(o6["left_at"].iloc[1])
    assert o6["days"].tolist() == [5.0, 7.0]  # a censored visit runs to as_of in "days"
    # o11's lead visit ends with its closing exactly at as_of (02-01 00:00): complete.
    o11 = visits[visits["opportunity_id"] == "o11"]
    assert o11["censored"].tolist() == [False]
    assert o11["left_at"].tolist() == [utc(END)]
    assert o11["next_stage"].tolist() == ["lost"]
    assert o11["days"].tolist() == [4.0]
    # One second earlier the same visit is censored.
    early = sn.stage_visits(main_data(), as_of=utc(END) - pd.Timedelta(seconds=1))
    only = sn.stage_visits(main_data(), as_of=utc(END), ids=["o3", "nope"])
    assert set(only["opportunity_id"]) == {"o3"}
    with pytest.raises(TypeError):
        sn.stage_visits(main_data(), utc(END))  # type: ignore[misc]  # keyword-only
    assert early.loc[early["opportunity_id"] == "o11", "censored"].tolist() == [True]


# Ties: t1's proposal and qualified entries share 03-05 10:00; the source order decides.
# Window March 2025, as_of 04-01.
def tie_data(first: str, second: str):
    opps = [("t1", "A", "2025-03-01", "won", "2025-03-10"),
            ("t2", "A", "2025-03-01", "open", "", "700")]
    hist = [("t1", "lead", "2025-03-01"), ("t1", first, "2025-03-05T10:00"),
            ("t1", second, "2025-03-05T10:00"),
            ("t2", "lead", "2025-03-01"), ("t2", first, "2025-03-03"), ("t2", second, "2025-03-03")]
    return build(opps, hist, {"stages": THREE_STAGES})


def test_ties_in_entered_at_keep_the_source_order():
    march = {"start": "2025-03-01", "end": "2025-04-01"}
    # proposal then qualified: lead -> proposal (skip), proposal 0 d -> qualified
    # (regression), for t1 and t2; then t1 qualified 03-05 10:00 -> 03-10 closing -> won.
    tr = sn.stage_transitions(tie_data("proposal", "qualified"), **march)
    got = {(r.from_stage, r.to_stage): (r.kind, r.count) for r in tr.itertuples()}
    assert got[("lead", "proposal")] == ("skip", 2)
    assert got[("proposal", "qualified")] == ("regression", 2)
    assert got[("qualified", "won")] == ("won", 1)
    flags = sn.deal_size_flags(tie_data("proposal", "qualified"), **march)
    assert flags.set_index("opportunity_id").loc["t2", "stage"] == "qualified"  # last in source
    # qualified then proposal: lead -> qualified (forward), qualified 0 d -> proposal
    # (forward), proposal -> won.
    tr = sn.stage_transitions(tie_data("qualified", "proposal"), **march)
    got = {(r.from_stage, r.to_stage): (r.kind, r.count) for r in tr.itertuples()}
    assert got[("lead", "qualified")] == ("forward", 2)  # t1 and t2
    assert got[("qualified", "proposal")] == ("forward", 2)
    assert got[("proposal", "won")] == ("won", 1)
    flags = sn.deal_size_flags(tie_data("qualified", "proposal"), **march)
    assert flags.set_index("opportunity_id").loc["t2", "stage"] == "proposal"
    days = sn.time_in_stage(tie_data("qualified", "proposal"), **march).set_index("stage")
    # qualified: t1 0 d, t2 0 d; proposal t1 03-05 10:00 -> 03-10 = 4 d 14 h = 4.5833 d,
    # t2 censored; lead t1 4 d 10 h = 4.4167 d, t2 2 d.
    assert days.loc["qualified", "median_days"] == 0.0
    assert days.loc["proposal", "median_days"] == pytest.approx(4 + 14 / 24)
    assert days.loc["lead", "mean_days"] == pytest.approx((4 + 10 / 24 + 2) / 2)


# --------------------------------------------------------------------------- transitions
def test_stage_transitions_of_the_main_cohort():
    # Completed visits of the cohort, each a move to the next label:
    #   o1 lead>qualified, qualified>proposal, proposal>negotiation, negotiation>won
    #   o2 lead>proposal (skip), proposal>lost (closing)
    #   o3 lead>qualified, qualified>proposal, proposal>qualified (regression), qualified>won
    #   o5 lead>negotiation (skip)          o6 lead>qualified       o11 lead>lost
    tr = sn.stage_transitions(main_data(), **WINDOW)
    got = [(r.from_stage, r.to_stage, r.kind, r.count) for r in tr.itertuples()]
    assert got == [
        ("lead", "qualified", "forward", 3),
        ("lead", "proposal", "skip", 1),
        ("lead", "negotiation", "skip", 1),
        ("lead", "lost", "lost", 1),
        ("qualified", "proposal", "forward", 2),
        ("qualified", "won", "won", 1),
        ("proposal", "qualified", "regression", 1),
        ("proposal", "negotiation", "forward", 1),
        ("proposal", "lost", "lost", 1),
        ("negotiation", "won", "won", 1),
    ]


def test_stage_transitions_use_the_configured_outcome_labels():
    # Same deals, with the history's outcome rows called closed_won / closed_lost.
    from test_kpi_cases import FOUR_STAGES, MAIN_HISTORY, MAIN_OPPS

    labels = {"won": "closed_won", "lost": "closed_lost"}
    hist = [(i, labels.get(s, s), t) for i, s, t in MAIN_HISTORY]
    data = build(MAIN_OPPS, hist, {"stages": FOUR_STAGES, **labels})
    tr = sn.stage_transitions(data, **WINDOW)
    outcome = tr[tr["kind"].isin(["won", "lost"])]
    assert sorted(zip(outcome["to_stage"], outcome["kind"], outcome["count"], strict=True)) == [
        ("closed_lost", "lost", 1), ("closed_lost", "lost", 1),
        ("closed_won", "won", 1), ("closed_won", "won", 1)]


def test_no_history_at_all():
    # Without a history there are no visits; the funnel still counts (stage column).
    from test_kpi_cases import FOUR_STAGES, MAIN_OPPS

    data = build(MAIN_OPPS, None, {"stages": FOUR_STAGES})
    assert len(sn.stage_transitions(data, **WINDOW)) == 0
    fun = sn.funnel(data, **WINDOW)
    # Deepest: o4 qualified (stage column); everybody else s1; o1 and o3 won.
    # reached: 7, 3 (o1 o3 o4), 2, 2; lost_here lead o2 o11, qualified o4.
    assert fun["reached"].tolist() == [7, 3, 2, 2]
    assert fun["lost_here"].tolist() == [2, 1, 0, 0]
    assert fun["completed_visits"].tolist() == [0, 0, 0, 0]
    stuck = sn.stuck_opportunities(data, as_of=END)
    assert len(stuck) == 0
    assert stuck.attrs["excluded"] == {"no_history": 4, "stage_without_threshold": 0}


# --------------------------------------------------------------------------- stuck
# Stages lead → proposal; as_of 2025-03-01. Completed proposal visits known at as_of:
# s1 1 d, s2 2 d, s3 3 d, s4 4 d, s5 10 d (each ends with its closing).
# p90 by linear interpolation: h = 0.9 * (5 - 1) = 3.6 -> 4 + 0.6 * (10 - 4) = 7.6 days.
#   s6 in proposal since 02-21: 8 d > 7.6 -> stuck (8 / 7.6)
#   s7 in proposal since 02-22: 7 d -> not stuck; its lead entry on 03-05 is after as_of
#   s8 in proposal since 01-01, won only on 03-10 (after as_of): open, 59 d -> stuck
#      (59 / 7.6); its 68-day visit is not complete at as_of, so it is not in the p90
#   s9 in lead: lead has no completed visit -> stage_without_threshold
#   s10 open, no history -> no_history
STUCK_OPPS = [
    *[(f"s{i}", "A", "2025-01-01", "won" if i != 2 else "lost", f"2025-01-{d:02d}")
      for i, d in ((1, 2), (2, 3), (3, 4), (4, 5), (5, 11))],
    ("s6", "B", "2025-02-21", "open"),
    ("s7", "B", "2025-02-22", "open"),
    ("s8", "C", "2025-01-01", "won", "2025-03-10", "9000"),
    ("s9", "C", "2025-02-01", "open"),
    ("s10", "C", "2025-02-01", "open"),
]
STUCK_HISTORY = [
    *[(f"s{i}", "proposal", "2025-01-01") for i in range(1, 6)],
    ("s6", "proposal", "2025-02-21"),
    ("s7", "proposal", "2025-02-22"), ("s7", "lead", "2025-03-05"),
    ("s8", "proposal", "2025-01-01"),
    ("s9", "lead", "2025-02-01"),
]


def test_stuck_opportunities_p90_of_completed_visits():
    data = build(STUCK_OPPS, STUCK_HISTORY, {"stages": ["lead", "proposal"]})
    stuck = sn.stuck_opportunities(data, as_of="2025-03-01")
    assert stuck["opportunity_id"].tolist() == ["s8", "s6"]
    assert stuck["threshold_days"].tolist() == pytest.approx([7.6, 7.6])
    assert stuck["days_in_stage"].tolist() == [59.0, 8.0]
    assert stuck["overdue_ratio"].tolist() == pytest.approx([59 / 7.6, 8 / 7.6])
    assert stuck["entered_stage_at"].tolist() == [utc("2025-01-01"), utc("2025-02-21")]
    assert stuck["amount"].iloc[0] == 9000.0
    assert stuck.attrs["open"] == 5  # s6 s7 s8 s9 s10
    assert stuck.attrs["excluded"] == {"no_history": 1, "stage_without_threshold": 1}


def test_stuck_needs_enough_completed_visits():
    # With min_visits=6 proposal (5 completed visits) has no threshold either.
    data = build(STUCK_OPPS, STUCK_HISTORY, {"stages": ["lead", "proposal"]})
    stuck = sn.stuck_opportunities(data, as_of="2025-03-01", min_visits=6)
    assert len(stuck) == 0
    assert stuck.attrs["excluded"] == {"no_history": 1, "stage_without_threshold": 4}


def test_slowest_movers_rank_by_median_pace():
    # proposal median of 1 2 3 4 10 = 3 days: s8 59/3, s6 8/3, s7 7/3.
    data = build(STUCK_OPPS, STUCK_HISTORY, {"stages": ["lead", "proposal"]})
    slow = sn.slowest_movers(data, as_of="2025-03-01", n=2)
    assert slow["opportunity_id"].tolist() == ["s8", "s6"]
    assert slow["pace_ratio"].tolist() == pytest.approx([59 / 3, 8 / 3])
    assert slow.attrs["excluded"] == {"not_ranked": 2}  # s9 and s10
