"""Question 3 — sales volume and the band around the mean won amount; by hand.

The main dataset and its story are in ``test_kpi_cases.py``.
"""

from __future__ import annotations

import math

import pytest
from test_kpi_cases import WINDOW, build, main_data

import salesnb as sn
from salesnb.exceptions import WindowError


def test_sales_volume_over_won_with_amount():
    # Won in the window: o1 1000, o10 1500, o3 (no amount).
    # With amount: 2; mean = median = (1000 + 1500) / 2 = 1250; total 2500; without: 1.
    row = sn.sales_volume(main_data(), **WINDOW, by=None).iloc[0]
    assert row["won"] == 3
    assert row["won_with_amount"] == 2
    assert row["won_without_amount"] == 1
    assert row["mean_amount"] == 1250.0
    assert row["median_amount"] == 1250.0
    assert row["total_amount"] == 2500.0


def test_sales_volume_by_owner_empty_is_nan_not_zero():
    # Ali: o10 1500 and o3 without amount; Sara: o1 1000; Reza won nothing.
    table = sn.sales_volume(main_data(), **WINDOW).set_index("owner")
    assert table.loc["Ali", ["won", "won_with_amount", "won_without_amount"]].tolist() == [2, 1, 1]
    assert table.loc["Ali", "mean_amount"] == 1500.0
    assert table.loc["Sara", "median_amount"] == 1000.0
    assert table.loc["Reza", "won"] == 0
    assert math.isnan(table.loc["Reza", "mean_amount"])
    assert math.isnan(table.loc["Reza", "median_amount"])
    assert table.loc["Reza", "total_amount"] == 0.0


def test_band_flags_on_the_main_dataset():
    # mean 1250, band 0.5: above when amount > 1875, below when amount < 625.
    # Open at as_of: o5 2000 (above), o7 5000 (above), o6 100 (below), o9 no amount.
    flags = sn.deal_size_flags(main_data(), **WINDOW)
    got = dict(zip(flags["opportunity_id"], flags["flag"], strict=True))
    assert got == {"o5": "above", "o7": "above", "o6": "below", "o9": "no amount"}
    assert flags.attrs["reference_mean"] == 1250.0
    # Flagged first, the farthest from the mean (in ratio) first: o6 is 12.5x below,
    # o7 4x above, o5 1.6x above.
    assert flags["opportunity_id"].tolist() == ["o6", "o7", "o5", "o9"]
    # The stage shown is the current one: o5 negotiation (history), o6 qualified (its
    # proposal entry is after as_of), o9 negotiation (its stage column), o7 none.
    stages = dict(zip(flags["opportunity_id"], flags["stage"], strict=True))
    assert stages["o5"] == "negotiation"
    assert stages["o6"] == "qualified"
    assert stages["o9"] == "negotiation"
    assert isinstance(stages["o7"], float) and math.isnan(stages["o7"])


# Won in March: w1 800, w2 1200 -> mean 1000. Open deals around the band edges.
BAND_OPPS = [
    ("w1", "A", "2025-03-01", "won", "2025-03-02", "800"),
    ("w2", "A", "2025-03-01", "won", "2025-03-03", "1200"),
    ("e1", "A", "2025-03-01", "open", "", "1500"),   # = 1000 * 1.5: not above (strict)
    ("e2", "A", "2025-03-01", "open", "", "1501"),   # above
    ("e3", "A", "2025-03-01", "open", "", "500"),    # = 1000 * 0.5: not below (strict)
    ("e4", "A", "2025-03-01", "open", "", "499"),    # below
    ("e5", "A", "2025-03-01", "open", "", ""),       # no amount
    ("e6", "A", "2025-03-01", "open", "", "0"),      # 0 < 500: below
]
MARCH = {"start": "2025-03-01", "end": "2025-04-01"}


def test_band_edges_are_strict():
    flags = sn.deal_size_flags(build(BAND_OPPS), **MARCH)
    got = dict(zip(flags["opportunity_id"], flags["flag"], strict=True))
    assert got == {"e1": "within", "e2": "above", "e3": "within", "e4": "below",
                   "e5": "no amount", "e6": "below"}
    doc = sn.kpi_summary(build(BAND_OPPS), **MARCH)
    assert doc["sales_volume"]["open_above_band"] == 1
    assert doc["sales_volume"]["open_below_band"] == 2


def test_a_wider_band():
    # band 0.6: above > 1600, below < 400 -> only e6 (0) below, nobody above.
    doc = sn.kpi_summary(build(BAND_OPPS), **MARCH, band=0.6)
    assert doc["sales_volume"]["band"] == 0.6
    assert (doc["sales_volume"]["open_above_band"], doc["sales_volume"]["open_below_band"]) == (0, 1)


def test_no_mean_no_flags():
    # The won deals have no amount: no mean, so no deal is above or below anything.
    opps = [("w1", "A", "2025-03-01", "won", "2025-03-02", ""),
            ("e1", "A", "2025-03-01", "open", "", "1000000"),
            ("e2", "A", "2025-03-01", "open", "", "0")]
    data = build(opps)
    flags = sn.deal_size_flags(data, **MARCH)
    assert flags["flag"].tolist() == ["no reference", "no reference"]
    volume = sn.kpi_summary(data, **MARCH)["sales_volume"]
    assert volume == {"won_with_amount": 0, "won_without_amount": 1, "mean_amount": None,
                      "median_amount": None, "total_amount": 0.0, "band": 0.5,
                      "open_above_band": 0, "open_below_band": 0}


def test_negative_band_is_an_error():
    with pytest.raises(WindowError, match="negative"):
        sn.deal_size_flags(build(BAND_OPPS), **MARCH, band=-0.1)


def test_deal_size_bands_keep_deals_without_amount():
    # Closed in the window: o1 1000 won, o2 500 lost, o4 300 lost, o8 700 lost,
    # o10 1500 won, o3 (no amount) won. Two bands over the five amounts, by rank:
    # Q1 = 300, 500, 700 (lost, lost, lost); Q2 = 1000, 1500 (won, won).
    table = sn.deal_size_bands(main_data(), **WINDOW, bands=2)
    assert table["label"].tolist() == ["Q1", "Q2", "(no amount)"]
    assert table["won"].tolist() == [0, 2, 1]
    assert table["closed"].tolist() == [3, 2, 1]
    assert table["amount_min"].tolist()[:2] == [300.0, 1000.0]
    assert table.attrs["excluded"] == {"without_amount": 1}
    # Cycle of the won ones: Q2 o1 20 d, o10 61 d -> mean 40.5; no amount: o3 20.5 d.
    assert table["mean_cycle_days"].tolist()[1:] == [40.5, 20.5]
