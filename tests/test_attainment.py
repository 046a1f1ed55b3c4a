"""Attainment of targets with business-day pacing; expected values worked out by hand.

The story: Farvardin 1404 (1404-01, 2025-03-21 to 2025-04-21) in Tehran, weekend Friday,
holidays Nowruz (1–4 Farvardin: 2025-03-21..24) and 12–13 Farvardin (2025-04-01, 04-02),
seen on 17 Farvardin (2025-04-06 00:00).

Business days of Farvardin: 31 days − 5 Fridays (03-21, 03-28, 04-04, 04-11, 04-18) − 5
holidays on other days (03-22, 03-23, 03-24, 04-01, 04-02) = 21. Elapsed by 04-06: 16
days (03-21..04-05) − 3 Fridays (03-21, 03-28, 04-04) − the same 5 holidays = 8. So the
pace is 8/21 of every target — the Nowruz week adds nothing to it.

Deals (amounts in Rial):

====  =====  ====  ==========  ======  ==========  =====  ===========================
id    owner  team  created     status  closed      amount  at 2025-04-06
====  =====  ====  ==========  ======  ==========  =====  ===========================
d1    Sara   T1    03-01       won     03-26 10:00  4e9   won in the period
d2    Sara   T1    03-05       won     04-10        2e9   open (won later)
d3    Ali    T2    02-20       won     03-30        1e9   won in the period
d4    Ali    T2    03-22       lost    04-02        —     lost (created in the period)
d5    Sara   T1    03-25       open                 6e9   open (created in the period)
d6    Ali    T2    04-03       open                 3e9   open (created in the period)
d7    Ali    T2    04-08       open                 5e9   does not exist yet
d8    Sara   T1    02-01       won     03-15        9e9   won before the period
d9    Ali    T2    01-10       lost    02-15        —     lost before the period
====  =====  ====  ==========  ======  ==========  =====  ===========================
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

import salesnb as sn
from salesnb.exceptions import WindowError

SETTINGS = {"calendar": "jalali", "timezone": "Asia/Tehran", "weekend": ["friday"],
            "stages": ["lead", "proposal"],
            "holidays": ["2025-03-21", "2025-03-22", "2025-03-23", "2025-03-24", "2025-04-01", "2025-04-02"]}
AS_OF = "1404-01-17"  # 2025-04-06 00:00


def deals(**extra: list) -> pd.DataFrame:
    frame = pd.DataFrame({
        "opportunity_id": ["d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9"],
        "owner": ["Sara", "Sara", "Ali", "Ali", "Sara", "Ali", "Ali", "Sara", "Ali"],
        "team": ["T1", "T1", "T2", "T2", "T1", "T2", "T2", "T1", "T2"],
        "created_at": ["2025-03-01", "2025-03-05", "2025-02-20", "2025-03-22", "2025-03-25", "2025-04-03",
                       "2025-04-08", "2025-02-01", "2025-01-10"],
        "status": ["won", "won", "won", "lost", "open", "open", "open", "won", "lost"],
        "closed_at": ["2025-03-26 10:00", "2025-04-10", "2025-03-30", "2025-04-02", "", "", "", "2025-03-15",
                      "2025-02-15"],
        "amount": [4e9, 2e9, 1e9, None, 6e9, 3e9, 5e9, 9e9, None],
    })
    for name, values in extra.items():
        frame[name] = values
    return frame


#: Stage entries: d2 is in proposal at AS_OF, d5 in lead, d6 has no history; of the deals
#: closed by then d1, d3, d8 won, d4 was lost after lead, d9 after proposal.
HISTORY = pd.DataFrame({
    "opportunity_id": ["d1", "d1", "d2", "d2", "d3", "d4", "d5", "d8", "d8", "d9", "d9"],
    "stage": ["lead", "proposal", "lead", "proposal", "lead", "lead", "lead", "lead", "proposal", "lead",
              "proposal"],
    "entered_at": ["2025-03-01", "2025-03-10", "2025-03-05", "2025-03-20", "2025-02-20", "2025-03-22",
                   "2025-03-25", "2025-02-01", "2025-02-10", "2025-01-10", "2025-01-20"],
})

TARGETS = pd.DataFrame({
    "period": ["1404-01", "1404-01", "1404-01", "1404-01", "1404-Q1"],
    "owner": ["Sara", "Ali", None, None, None],
    "team": [None, None, None, None, "T1"],
    "measure": ["won_amount", "won_amount", "won_count", "created_count", "won_amount"],
    "target": [21e9, 10.5e9, 6, 5, 63e9],
})


def build(**extra: list) -> sn.SalesData:
    """The dataset with its targets attached (as a folder's targets.csv would be)."""
    data = sn.SalesData.from_frames(deals(**extra), HISTORY, SETTINGS)
    return dataclasses.replace(data, targets=sn.load_targets(TARGETS, data))


def row(table: pd.DataFrame, group: str, measure: str) -> pd.Series:
    col = table.columns[3]
    return table[(table[col] == group) & (table["measure"] == measure)].iloc[0]


def test_pace_over_nowruz_and_the_owners_attainment() -> None:
    a = sn.attainment(build(), period="1404-01", as_of=AS_OF, measure="won_amount")
    assert a.attrs["business_days_total"] == 21.0
    assert a.attrs["business_days_elapsed"] == 8.0
    assert a["owner"].tolist() == ["Ali", "Sara"]
    sara, ali = row(a, "Sara", "won_amount"), row(a, "Ali", "won_amount")
    # Sara: d1 won (4e9); d8 was won before the period, d2 after as_of.
    assert sara["target"] == 21e9 and sara["actual"] == 4e9
    assert sara["attainment"] == pytest.approx(4 / 21)
    assert sara["expected_by_now"] == pytest.approx(8e9)      # 21e9 × 8/21
    assert sara["gap"] == pytest.approx(-4e9)
    assert sara["remaining"] == pytest.approx(17e9)
    assert sara["pipeline"] == pytest.approx(8e9)             # d2 (2e9) and d5 (6e9) open at as_of
    assert sara["coverage"] == pytest.approx(8 / 17)
    # Ali: d3 won (1e9); open at as_of: d6 (3e9); d4 was lost, d7 does not exist yet.
    assert ali["actual"] == 1e9
    assert ali["expected_by_now"] == pytest.approx(4e9)       # 10.5e9 × 8/21
    assert ali["gap"] == pytest.approx(-3e9)
    assert ali["pipeline"] == pytest.approx(3e9)
    assert ali["coverage"] == pytest.approx(3 / 9.5)


def test_the_company_targets_and_counts() -> None:
    a = sn.attainment(build(), period="1404-01", as_of=AS_OF, by=None)
    assert a["measure"].tolist() == ["won_amount", "won_count", "created_count"]
    won = row(a, "(all)", "won_count")
    assert won["actual"] == 2                                  # d1, d3
    assert won["expected_by_now"] == pytest.approx(6 * 8 / 21)
    assert won["pipeline"] == 3                                # d2, d5, d6
    created = row(a, "(all)", "created_count")
    assert created["actual"] == 3                              # d4, d5, d6 (d7 not yet)
    assert np.isnan(created["pipeline"]) and np.isnan(created["coverage"])
    # No company won_amount target: the team's quarter stands in, for Farvardin's share of
    # the quarter's business days (counted here by a second method, day by day).
    amount = row(a, "(all)", "won_amount")
    assert amount["actual"] == 5e9
    holidays = {dt.date.fromisoformat(d) for d in SETTINGS["holidays"]}

    def business(lo: dt.date, hi: dt.date) -> int:
        days = (lo + dt.timedelta(n) for n in range((hi - lo).days))
        return sum(d.weekday() != 4 and d not in holidays for d in days)

    share = business(dt.date(2025, 3, 21), dt.date(2025, 4, 21)) / business(dt.date(2025, 3, 21),
                                                                             dt.date(2025, 6, 22))
    assert amount["target"] == pytest.approx(63e9 * share)
    assert any("sum of the team targets" in n for n in a.attrs["notes"])
    assert any("cover the period in part" in n for n in a.attrs["notes"])


def test_teams_and_a_period_given_as_dates() -> None:
    a = sn.attainment(build(), period=("1404-01-01", "1404-02-01"), as_of=AS_OF, by="team",
                      measure="won_amount")
    assert a["period"].tolist() == ["1404-01", "1404-01"]       # named after the month it is
    t1 = row(a, "T1", "won_amount")
    assert t1["actual"] == 4e9 and not np.isnan(t1["target"])
    assert np.isnan(row(a, "T2", "won_amount")["target"])      # no target: shown, not dropped


def test_after_the_end_everything_is_known() -> None:
    a = sn.attainment(build(), period="1404-01", as_of="1404-02-05", measure="won_amount")
    sara = row(a, "Sara", "won_amount")
    assert sara["actual"] == 6e9                                # d1 and d2 (04-10)
    assert sara["expected_by_now"] == 21e9 and a.attrs["elapsed_share"] == 1.0


def test_before_the_start_nothing_is_expected() -> None:
    a = sn.attainment(build(), period="1404-01", as_of="1403-12-20", measure="won_amount")
    assert (a["actual"] == 0).all() and (a["expected_by_now"] == 0).all()


def test_errors() -> None:
    data = build()
    with pytest.raises(WindowError, match="not a jalali period label"):
        sn.attainment(data, period="1404-13")
    with pytest.raises(WindowError, match="targets are set per salesperson"):
        sn.attainment(data, period="1404-01", by="product")
    with pytest.raises(WindowError, match="no targets"):
        sn.attainment(sn.SalesData.from_frames(deals(), HISTORY, SETTINGS), period="1404-01")
    with pytest.raises(sn.OptionError):
        sn.attainment(data, period="1404-01", measure="revenue")


def test_targets_can_be_passed() -> None:
    data = sn.SalesData.from_frames(deals(), HISTORY, SETTINGS)
    a = sn.attainment(data, TARGETS, period="1404-01", as_of=AS_OF, by=None, measure="won_count")
    assert a["target"].tolist() == [6.0]
