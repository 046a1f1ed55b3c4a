"""The presets shipped in ``salesnb/presets``: documented, and each reading its export.

Each preset reads a small hand-written fixture in ``tests/fixtures/presets/<name>/``
that mirrors the columns of the export it expects; the expected numbers are worked
out by hand in the comments. The Maven preset also reads the full public dataset in
``data/maven`` and is checked against figures computed here from the raw CSV with
plain pandas.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
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


#: Every fixture folder: one per export variant a preset reads (tests/fixtures/presets/README.md).
VARIANTS = [*sorted(p.parent.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*/*/README.md")), "maven"]


def test_every_variant_has_a_fixture_and_a_readme() -> None:
    assert {v.split("/")[0] for v in VARIANTS} == {"salesforce", "hubspot", "pipedrive", "maven"}
    assert len(VARIANTS) >= 18
    for variant in VARIANTS:
        text = (FIXTURES / variant / "README.md").read_text(encoding="utf-8")
        assert "Mirrors" in text and "Source" in text, variant


@pytest.mark.parametrize("variant", VARIANTS)
def test_cli_validate_prints_what_each_preset_did(variant: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = variant.split("/")[0]
    assert main(["validate", str(FIXTURES / variant), "--mapping", name]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"mapping: {name}")
    for part in ("\nrows read: ", "\nencoding: ", "\nloaded: ", "\nset aside: ", "\nrepaired: ",
                 "\nvalues mapped:", "\nstage order: ", "\nsteps:"):
        assert part in out, part
    assert out.rstrip().endswith("every row read is loaded or set aside with its reason (per table: rows read = "
                                 "loaded + set aside)\n\nOK: no problems found")


@pytest.mark.parametrize("variant", VARIANTS)
def test_validate_json_accounts_for_every_row(variant: str, capsys: pytest.CaptureFixture[str]) -> None:
    """rows_read = rows_loaded + set aside, per table, against an independent count of the file's rows."""
    name = variant.split("/")[0]
    assert main(["validate", str(FIXTURES / variant), "--mapping", name, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["problems"] == [] and doc["mapping"] == name
    for table in doc["tables"].values():
        assert table["rows_read"] + table.get("added", 0) == table["rows_loaded"] + sum(table["set_aside"].values())
        for key in ("rows_read", "rows_loaded", "set_aside", "repaired", "unmapped_values", "encoding"):
            assert key in table
    main_file = FIXTURES / variant / doc["tables"]["opportunities"]["file"]
    assert doc["tables"]["opportunities"]["rows_read"] == _data_rows(main_file)
    assert doc["stage_order"]["source"] and doc["stage_order"]["stages"]
    assert doc["dataset"]["opportunities"] == doc["tables"]["opportunities"]["rows_loaded"]


def _data_rows(path: Path) -> int:
    """The data records of a CSV: non-blank records after the header, up to a report footer."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:  # the fixture folders say their Windows encoding in their name
        text = raw.decode("cp1256" if "cp1256" in path.parent.name else "cp1252")
    records = [r for r in csv.reader(io.StringIO(text, newline=""))]
    body = records[1:]
    if any(not any(c.strip() for c in r) for r in body):  # a report: the footer starts at a blank line
        body = body[: next(i for i, r in enumerate(body) if not any(c.strip() for c in r))]
    return sum(1 for r in body if any(c.strip() for c in r) and not r[0].startswith("Grand Totals"))


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
