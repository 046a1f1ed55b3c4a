"""The presets shipped in ``salesnb/presets``: documented, and each reading its export.

Each preset reads a small hand-written fixture in ``tests/fixtures/presets/<name>/``
that mirrors the columns of the export it expects; the expected numbers are worked
out by hand in the comments. The Maven preset also reads the full public dataset in
``data/maven`` and is checked against figures computed here from the raw CSV with
plain pandas.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

import salesnb as sn
from salesnb.cli import main
from salesnb.data.mapping_apply import MappingReport, apply_mapping
from salesnb.data.mapping_spec import list_presets, read_mapping

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "presets"
MAVEN = ROOT / "data" / "maven"
PRESETS = ["hubspot", "maven", "pipedrive", "salesforce"]
MavenRun = tuple[sn.SalesData, pd.DataFrame, MappingReport]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# --------------------------------------------------------------------------- documentation
def test_every_preset_is_shipped_documented_and_has_a_fixture() -> None:
    assert list_presets() == PRESETS
    docs = (ROOT / "docs" / "presets.md").read_text(encoding="utf-8")
    for name in PRESETS:
        text = (ROOT / "salesnb" / "data" / "presets" / f"{name}.yml").read_text(encoding="utf-8")
        assert text.startswith(f'# Preset "{name}":'), name
        assert "# Expects" in text, name
        assert read_mapping(name).description, name
        assert f"### {name}" in docs, name
        assert any((FIXTURES / name).iterdir()), name


@pytest.mark.parametrize("name", PRESETS)
def test_cli_validate_prints_what_each_preset_did(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FIXTURES / name), "--mapping", name]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"mapping: {name} (preset {name}): ")
    for part in ("\nrows read: ", "\nloaded: ", "\nset aside: ", "\nvalues mapped:", "\nsteps:"):
        assert part in out, part
    assert out.rstrip().endswith("OK: no problems found")


# --------------------------------------------------------------------------- maven (fixture)
def test_maven_fixture() -> None:
    data, report = apply_mapping(FIXTURES / "maven", "maven")
    opps = data.opportunities.set_index("opportunity_id")
    # M5 (Prospecting, no engage_date, line 6) is set aside; the other five load.
    assert opps.index.tolist() == ["M1", "M2", "M3", "M4", "M6"]
    assert report.set_aside[["line", "opportunity_id"]].values.tolist() == [["line 6", "M5"]]
    assert report.set_aside["deal_stage"].tolist() == ["Prospecting"]
    assert opps["status"].tolist() == ["won", "lost", "won", "open", "won"]
    assert opps.loc["M1", "created_at"] == ts("2017-01-02")  # created_at = engage_date
    # GTXPro → GTX Pro, then joined to products.csv; team = manager from sales_teams.csv.
    assert opps.loc["M1", ["product", "list_price", "product_series"]].tolist() == ["GTX Pro", "4821", "GTX"]
    assert opps.loc["M1", ["team", "regional_office"]].tolist() == ["Dana Moss", "East"]
    assert opps.loc["M3", ["team", "regional_office"]].tolist() == ["Eli Park", "West"]
    assert pd.isna(opps.loc["M2", "amount"])  # close_value 0 of a lost deal is not its value
    assert data.stage_history["stage"].tolist() == ["Engaging"] * 5
    assert data.settings.stages == ("Prospecting", "Engaging")

    doc = sn.kpi_summary(data, start="2017-01-01", end="2017-03-01")
    assert doc["won"]["total"] == 3                           # M1, M3, M6
    assert doc["lost"]["total"] == 1                          # M2
    assert doc["win_rate"]["closed"] == pytest.approx(3 / 4)
    assert doc["sales_volume"]["mean_amount"] == pytest.approx((4500 + 60 + 55) / 3)
    assert doc["sales_cycle"]["mean_days"] == pytest.approx((10 + 30 + 2) / 3)  # 01-02→01-12, 01-10→02-09, 02-01→02-03
    assert doc["sales_cycle"]["median_days"] == pytest.approx(10)
    funnel = {row["stage"]: row for row in doc["funnel"]}
    assert funnel["Engaging"]["reached"] == 5 and funnel["Engaging"]["lost_here"] == 1


# --------------------------------------------------------------------------- maven (the real data)
@pytest.fixture(scope="module")
def maven() -> MavenRun:
    """The bundled Maven data through its preset, and the raw pipeline table."""
    data, report = apply_mapping(MAVEN, "maven")
    raw = pd.read_csv(MAVEN / "sales_pipeline.csv", dtype={"close_value": "float64"})
    return data, raw, report


def test_maven_numbers_match_an_independent_computation(maven: MavenRun) -> None:
    data, raw, _ = maven
    # Independent figures, from the raw CSV: the closed deals are Won / Lost rows, all
    # closed in 2017; the cycle runs from engage_date to close_date (whole days).
    won = raw[raw["deal_stage"] == "Won"]
    lost = raw[raw["deal_stage"] == "Lost"]
    cycle_days = (pd.to_datetime(won["close_date"]) - pd.to_datetime(won["engage_date"])).dt.days
    expected_won = len(won)
    expected_rate = len(won) / (len(won) + len(lost))
    expected_mean_value = won["close_value"].mean()
    expected_cycle = cycle_days.mean()
    assert (expected_won, len(lost)) == (4238, 2473)  # the dataset's documented split

    doc = sn.kpi_summary(data, start="2017-01-01", end="2018-01-01")
    assert doc["won"]["total"] == expected_won
    assert doc["lost"]["total"] == len(lost)
    assert doc["win_rate"]["closed"] == pytest.approx(expected_rate, rel=1e-12)
    assert doc["sales_volume"]["mean_amount"] == pytest.approx(expected_mean_value, rel=1e-12)
    assert doc["sales_volume"]["won_without_amount"] == 0
    assert doc["sales_cycle"]["mean_days"] == pytest.approx(expected_cycle, rel=1e-12)
    assert doc["sales_cycle"]["median_days"] == pytest.approx(cycle_days.median())

    rate = sn.win_rate(data, start="2017-01-01", end="2018-01-01", by=None).iloc[0]
    assert (rate["won"], rate["lost"]) == (expected_won, len(lost))
    assert rate["win_rate"] == pytest.approx(expected_rate, rel=1e-12)
    cycle = sn.sales_cycle(data, start="2017-01-01", end="2018-01-01", by=None).iloc[0]
    assert cycle["won_count"] == expected_won
    assert cycle["mean_days"] == pytest.approx(expected_cycle, rel=1e-12)


def test_maven_won_by_team_matches_a_pandas_join(maven: MavenRun) -> None:
    data, raw, _ = maven
    teams = pd.read_csv(MAVEN / "sales_teams.csv")
    joined = raw.merge(teams, on="sales_agent", how="left", validate="many_to_one")
    expected = joined[joined["deal_stage"] == "Won"].groupby("manager").size().to_dict()
    got = sn.won_lost(data, start="2017-01-01", end="2018-01-01", period=None, by="team")
    assert dict(zip(got["team"], got["won"], strict=True)) == expected


def test_maven_rows_set_aside_and_values_mapped_are_all_accounted_for(maven: MavenRun) -> None:
    data, raw, report = maven
    prospecting = raw[raw["deal_stage"] == "Prospecting"]
    assert len(prospecting) == 500
    assert prospecting["engage_date"].isna().all() and prospecting["close_date"].isna().all()
    # Nothing vanishes: loaded + set aside = rows read, and the notes say why.
    assert len(data.opportunities) + len(report.set_aside) == len(raw) == report.rows_read["sales_pipeline.csv"]
    assert sorted(report.set_aside["opportunity_id"]) == sorted(prospecting["opportunity_id"])
    assert any(re.search(r"set aside 500 of 8,800 rows of sales_pipeline\.csv: no engage_date", n)
               for n in data.notes)
    mapped = report.values_mapped.set_index(["column", "from_value"])["rows"]
    assert mapped[("product", "GTXPro")] == (raw["product"] == "GTXPro").sum() == 1480
    products = set(pd.read_csv(MAVEN / "products.csv")["product"])
    assert set(data.opportunities["product"]) <= products
    assert data.opportunities["list_price"].notna().all()  # every product found its list price
    assert data.opportunities["team"].notna().all()
    assert data.opportunities.loc[data.opportunities["status"] == "lost", "amount"].isna().all()
    assert any("emptied amount on 2,473 rows" in n for n in data.notes)


def test_maven_copy_matches_its_source_note() -> None:
    note = (MAVEN / "SOURCE.md").read_text(encoding="utf-8")
    for name in ("sales_pipeline.csv", "sales_teams.csv", "products.csv", "data_dictionary.csv"):
        digest = hashlib.sha256((MAVEN / name).read_bytes()).hexdigest()
        assert digest in note, name
    assert "Public Domain" in note and "not verified first-hand" in note
    funnel = sn.load_settings(MAVEN / "funnel.yml")
    assert (funnel.stages, funnel.calendar, funnel.currency) == (("Prospecting", "Engaging"), "gregorian", "USD")


# --------------------------------------------------------------------------- salesforce
def test_salesforce_fixture() -> None:
    data, report = apply_mapping(FIXTURES / "salesforce", "salesforce")
    opps = data.opportunities.set_index("opportunity_id")
    ids = ["0061x00000AAAA1", "0061x00000AAAA2", "0061x00000AAAA3", "0061x00000AAAA4"]
    assert opps.index.tolist() == ids
    # status from IsClosed / IsWon; owners and accounts joined from User.csv / Account.csv.
    assert opps["status"].tolist() == ["won", "lost", "open", "won"]
    assert opps["owner"].tolist() == ["Sara Karimi", "Ali Rad", "Sara Karimi", "Ali Rad"]
    assert opps["account"].tolist() == ["Acme Corporation", "Globex", "Acme Corporation", "Globex"]
    assert opps["source"].tolist() == ["Web", "Partner Referral", "Web", "Phone Inquiry"]
    # date_only: AAAA4 created 2024-02-05T13:45Z and won with CloseDate 2024-02-05 → same day.
    assert opps.loc[ids[3], "created_at"] == opps.loc[ids[3], "closed_at"] == ts("2024-02-05")
    assert pd.isna(opps.loc[ids[2], "closed_at"])  # open: CloseDate 2024-04-30 was only expected
    # History: 10 rows; HIS02 repeats Prospecting (merged), HIS06 'Closed Lost' on 02-22 is
    # after CloseDate 02-20 (set aside); 8 kept.
    hist = data.stage_history
    assert len(hist) == 8
    assert hist[hist["opportunity_id"] == ids[0]]["stage"].tolist() == ["Prospecting", "Negotiation/Review", "won"]
    assert report.set_aside["line"].tolist() == ["line 3", "line 7"]
    assert data.settings.stages == ("Prospecting", "Negotiation/Review")
    assert data.settings.stages_inferred
    assert any("lost_reason empty" in n and "Loss_Reason__c" in n for n in data.notes)

    doc = sn.kpi_summary(data, start="2024-01-01", end="2024-05-01")
    assert (doc["won"]["total"], doc["lost"]["total"]) == (2, 1)
    assert doc["win_rate"]["closed"] == pytest.approx(2 / 3)
    assert doc["sales_volume"]["mean_amount"] == pytest.approx((12000 + 500) / 2)
    # AAAA1: 2024-01-10 → 2024-03-15 = 65 days (2024 is a leap year); AAAA4: 0 days.
    assert doc["sales_cycle"]["mean_days"] == pytest.approx((65 + 0) / 2)


# --------------------------------------------------------------------------- hubspot
def test_hubspot_fixture() -> None:
    data, report = apply_mapping(FIXTURES / "hubspot", "hubspot")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps["status"].tolist() == ["won", "lost", "open", "won"]
    assert opps["owner"].tolist() == ["Mina Sadeghi", "Reza Tavakoli", "Mina Sadeghi", "Reza Tavakoli"]
    assert opps.loc["10000000188", "lost_reason"] == "Went with a competitor"
    assert pd.isna(opps.loc["10000000245", "closed_at"])  # expected close date of an open deal
    assert opps.loc["10000000245", "stage"] == "Presentation Scheduled"
    # Wide → long: 4 + 3 + 3 + 2 filled 'Date entered' cells; 10000000301 entered Closed Won
    # on 06-10, after its (hand-edited) Close Date 06-05: set aside.
    hist = data.stage_history
    assert len(hist) == 11
    deal = hist[hist["opportunity_id"] == "10000000101"]
    assert deal["stage"].tolist() == ["Appointment Scheduled", "Qualified To Buy", "Contract Sent", "won"]
    assert deal["entered_at"].tolist() == [ts("2024-05-01 09:00"), ts("2024-05-03 10:00"),
                                           ts("2024-05-10 12:00"), ts("2024-05-20 15:30")]
    aside = report.set_aside
    assert aside[["opportunity_id", "stage", "line"]].values.tolist() == [["10000000301", "won", "line 5"]]

    doc = sn.kpi_summary(data, start="2024-05-01", end="2024-07-01")
    assert (doc["won"]["total"], doc["lost"]["total"]) == (2, 1)
    assert doc["win_rate"]["closed"] == pytest.approx(2 / 3)
    assert doc["sales_volume"]["mean_amount"] == pytest.approx(3000.0)
    # 05-01 09:00 → 05-20 15:30 = 19 d 6.5 h; 06-01 10:00 → 06-05 00:00 = 3 d 14 h.
    assert doc["sales_cycle"]["mean_days"] == pytest.approx((19 + 6.5 / 24 + 3 + 14 / 24) / 2)
    funnel = {row["stage"]: (row["reached"], row["lost_here"]) for row in doc["funnel"]}
    assert funnel == {"Appointment Scheduled": (4, 0), "Qualified To Buy": (4, 1),
                      "Presentation Scheduled": (3, 0), "Decision Maker Bought-In": (2, 0),
                      "Contract Sent": (2, 0)}


# --------------------------------------------------------------------------- pipedrive
def test_pipedrive_fixture() -> None:
    data, report = apply_mapping(FIXTURES / "pipedrive", "pipedrive")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps.index.tolist() == ["1", "2", "3", "5"]  # deal 4 (Deleted, line 5) set aside
    assert report.set_aside[["line", "opportunity_id", "reason"]].values.tolist() == [
        ["line 5", "4", "deleted in Pipedrive"]]
    assert opps["status"].tolist() == ["won", "lost", "open", "won"]
    # closed_at = Won time, else Lost time; deal 3 (reopened) keeps a stale Lost time: emptied.
    assert opps["closed_at"].tolist()[:2] == [ts("2024-02-07 10:00"), ts("2024-01-29 15:00")]
    assert pd.isna(opps.loc["3", "closed_at"])
    assert opps["currency"].unique().tolist() == ["EUR"]
    assert opps.loc["1", "account"] == "Nordic Oy"
    assert not data.has_history

    doc = sn.kpi_summary(data, start="2024-01-01", end="2024-03-01")
    assert (doc["won"]["total"], doc["lost"]["total"]) == (2, 1)
    assert doc["lost"]["by_reason"] == {"Price too high": 1}
    assert doc["win_rate"]["closed"] == pytest.approx(2 / 3)
    assert doc["sales_volume"]["mean_amount"] == pytest.approx((12000 + 4000) / 2)
    # Deal 1: 01-08 10:00 → 02-07 10:00 = 30 d; deal 5: 02-01 08:00 → 02-11 20:00 = 10.5 d.
    assert doc["sales_cycle"]["mean_days"] == pytest.approx((30 + 10.5) / 2)
    # No history: the funnel uses Deal - Stage (deal 2 lost at Proposal Made).
    funnel = {row["stage"]: (row["reached"], row["lost_here"]) for row in doc["funnel"]}
    assert funnel == {"Qualified": (4, 0), "Contact Made": (4, 0), "Demo Scheduled": (3, 0),
                      "Proposal Made": (3, 1), "Negotiations Started": (2, 0)}


def test_pipedrive_export_file_can_be_passed_directly() -> None:
    data = sn.load(FIXTURES / "pipedrive" / "deals-export.csv", mapping="pipedrive")
    assert len(data.opportunities) == 4
    assert any("deleted in Pipedrive" in n for n in data.notes)
