"""Column mappings (``salesnb.mapping``): each feature on a small export written by the test.

Expected values are worked out by hand from the few rows each test writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import salesnb as sn
from salesnb.cli import main
from salesnb.data.mapping_apply import apply_mapping
from salesnb.data.mapping_spec import list_presets, read_mapping
from salesnb.exceptions import DataFileError, DataSchemaError, SettingsError

#: A small CRM export whose names differ from the canonical ones.
DEALS = """\
Deal No,Rep,Opened,Result,Step,Closed,Value,Region
D1,Sara,03/01/2025,Gewonnen,Angebot,03/11/2025,1000,north
D2,Ali,03/02/2025,Verloren,Kontakt,03/06/2025,400,south
D3,Sara,03/05/2025,Offen,Angebot,,250,north
"""

BASE: dict[str, Any] = {
    "file": "deals.csv",
    "columns": {"opportunity_id": "Deal No", "owner": "Rep", "created_at": "Opened",
                "status": "Result", "stage": "Step", "closed_at": "Closed", "amount": "Value"},
    "values": {"status": {"Gewonnen": "won", "Verloren": "lost", "Offen": "open"}},
    "timestamp_format": "%m/%d/%Y",
    "settings": {"stages": ["Kontakt", "Angebot"]},
}


def write(folder: Path, **files: str) -> Path:
    """Write ``name=text`` files (``deals_csv`` → ``deals.csv``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_csv", ".csv").replace("_yml", ".yml")).write_text(text, encoding="utf-8")
    return folder


def mapping(**changes: Any) -> dict[str, Any]:
    """The base mapping with top-level keys replaced (``None`` removes a key)."""
    out = {**BASE, **changes}
    return {k: v for k, v in out.items() if v is not None}


# --------------------------------------------------------------------------- columns and values
def test_rename_maps_export_columns_and_keeps_the_others(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    data, report = apply_mapping(folder, mapping())
    opps = data.opportunities.set_index("opportunity_id")
    assert opps.index.tolist() == ["D1", "D2", "D3"]
    assert opps["owner"].tolist() == ["Sara", "Ali", "Sara"]
    assert opps["amount"].tolist() == [1000.0, 400.0, 250.0]
    assert opps["stage"].tolist() == ["Angebot", "Kontakt", "Angebot"]
    # Unmapped export columns are kept under their own names; mapped ones are not repeated.
    assert opps["Region"].tolist() == ["north", "south", "north"]
    assert not {"Deal No", "Rep", "Opened", "Result"} & set(opps.columns)
    assert report.rows_read == {"deals.csv": 3}
    assert report.opportunities == 3
    assert report.set_aside.empty


def test_status_and_stage_value_maps_are_counted(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    spec = mapping(values={"status": {"Gewonnen": "won", "Verloren": "lost", "*": "open"},
                           "stage": {"Kontakt": "contact", "Angebot": "offer"}},
                   settings={"stages": ["contact", "offer"]})
    with pytest.warns(sn.SalesnbWarning, match="'Offen' \\(1\\)"):   # "*" is a catch-all: said
        data, report = apply_mapping(folder, spec)
    opps = data.opportunities
    assert opps["status"].tolist() == ["won", "lost", "open"]  # 'Offen' caught by "*"
    assert opps["stage"].tolist() == ["offer", "contact", "offer"]
    table = report.values_mapped
    got = {(r.column, r.from_value, r.to_value): r.rows for r in table.itertuples(index=False)}
    assert got == {("status", "Gewonnen", "won"): 1, ("status", "Verloren", "lost"): 1,
                   ("status", "Offen", "open"): 1, ("stage", "Angebot", "offer"): 2,
                   ("stage", "Kontakt", "contact"): 1}
    assert "status: 'Gewonnen' → 'won' (1)" in report.describe()


def test_unmapped_values_are_kept_and_then_validated(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    spec = mapping(values={"status": {"Gewonnen": "won", "Verloren": "lost"}})
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(folder, spec)
    # The error names the export column, the values (with their count) and the fix in the mapping.
    assert info.value.column == "Result"
    assert "'Offen (1)'" in str(info.value)
    assert "values.status" in str(info.value)


def test_yaml_keeps_yes_no_on_off_as_text(tmp_path: Path) -> None:
    """YAML 1.2 booleans: 'on:' and a value 'Yes' stay text (YAML 1.1 would read booleans)."""
    folder = write(tmp_path, deals_csv=DEALS.replace("Gewonnen", "Yes").replace("Verloren", "No"),
                   teams_csv="Rep,Team\nSara,A\nAli,B\n")
    yml = tmp_path / "crm.yml"
    yml.write_text(
        "file: deals.csv\n"
        "columns: {opportunity_id: Deal No, owner: Rep, created_at: Opened, status: Result,\n"
        "          closed_at: Closed}\n"
        "values:\n  status: {Yes: won, No: lost, Offen: open}\n"
        "lookups:\n  - file: teams.csv\n    on: Rep\n    columns: {team: Team}\n"
        "timestamp_format: '%m/%d/%Y'\n", encoding="utf-8")
    # 'on: Rep' names a mapped column: Rep is consumed by owner, so it must fail clearly ...
    with pytest.raises(SettingsError, match="joins on 'Rep'"):
        apply_mapping(folder, yml)
    yml.write_text(yml.read_text(encoding="utf-8").replace("on: Rep", "on: {owner: Rep}"), encoding="utf-8")
    data, _ = apply_mapping(folder, yml)
    assert data.opportunities["status"].tolist() == ["won", "lost", "open"]
    assert data.opportunities["team"].tolist() == ["A", "B", "A"]


def test_first_non_empty_of_several_columns(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "id,rep,created,status,won_time,lost_time\n"
        "a,Sara,2025-01-01,won,2025-01-09,\n"
        "b,Ali,2025-01-02,lost,,2025-01-05\n"
        "c,Ali,2025-01-03,open,,\n"))
    spec = {"file": "deals.csv", "columns": {"opportunity_id": "id", "owner": "rep", "created_at": "created",
                                             "status": "status", "closed_at": ["won_time", "lost_time"]}}
    data, _ = apply_mapping(folder, spec)
    closed = data.opportunities["closed_at"].dt.strftime("%Y-%m-%d").tolist()
    assert closed[:2] == ["2025-01-09", "2025-01-05"]
    assert pd.isna(data.opportunities["closed_at"].iloc[2])


def test_status_from_closed_and_won_flags(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "Id,Owner,Created,IsClosed,IsWon,CloseDate\n"
        "a,Sara,2025-01-01,true,true,2025-01-09\n"
        "b,Ali,2025-01-02,TRUE,false,2025-01-05\n"
        "c,Ali,2025-01-03,false,false,\n"))
    spec = {"file": "deals.csv",
            "columns": {"opportunity_id": "Id", "owner": "Owner", "created_at": "Created",
                        "status": {"closed": "IsClosed", "won": "IsWon"}, "closed_at": "CloseDate"}}
    data, report = apply_mapping(folder, spec)
    assert data.opportunities["status"].tolist() == ["won", "lost", "open"]
    assert report.values_mapped["to_value"].tolist() == ["won", "lost", "open"]
    bad = write(tmp_path / "bad", deals_csv="Id,Owner,Created,IsClosed,IsWon\na,Sara,2025-01-01,maybe,true\n")
    with pytest.raises(DataSchemaError, match="not true/false") as info:
        apply_mapping(bad, spec | {"columns": {k: v for k, v in spec["columns"].items() if k != "closed_at"}})
    assert info.value.column == "IsClosed"
    assert info.value.ids == ["line 2"]


def test_column_names_match_case_insensitively(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS.replace("Deal No", "DEAL NO").replace("Rep,", "rep,"))
    data, _ = apply_mapping(folder, mapping())
    assert data.opportunities["owner"].tolist() == ["Sara", "Ali", "Sara"]


def test_optional_column_absent_is_reported(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    columns = {**BASE["columns"], "lost_reason": {"from": "Loss_Reason__c", "optional": True}}
    data, _ = apply_mapping(folder, mapping(columns=columns))
    assert data.opportunities["lost_reason"].isna().all()
    assert any("lost_reason empty" in n and "Loss_Reason__c" in n for n in data.notes)


# --------------------------------------------------------------------------- timestamps
def test_timestamp_format_reads_month_day_year(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    data, _ = apply_mapping(folder, mapping())
    opps = data.opportunities
    assert opps["created_at"].iloc[0] == pd.Timestamp("2025-03-01", tz="UTC")
    assert opps["closed_at"].iloc[0] == pd.Timestamp("2025-03-11", tz="UTC")
    # Hand-worked: D1 won 03/01 → 03/11 = 10 days.
    cycle = sn.sales_cycle(data, start="2025-03-01", end="2025-04-01", by=None).iloc[0]
    assert cycle["won_count"] == 1
    assert cycle["mean_days"] == pytest.approx(10.0)


def test_timestamp_not_matching_the_format_names_file_column_rows_and_fix(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS.replace("03/02/2025", "2025-03-02"))
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(folder, mapping())
    err = info.value
    assert err.source == str(folder / "deals.csv")
    assert err.column == "Opened"
    assert err.ids == ["D2 (line 3)"]
    assert "'%m/%d/%Y'" in str(err) and "mapped to created_at" in str(err)
    assert "timestamp_format" in err.fix


def test_per_column_timestamp_format_and_date_only(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "id,rep,created,status,closed\n"
        "a,Sara,2025-01-01T18:30:00Z,won,01.01.2025\n"))  # created 18:30 and closed the same day
    spec = {"file": "deals.csv", "timestamp_format": {"closed_at": "%d.%m.%Y"},
            "columns": {"opportunity_id": "id", "owner": "rep", "created_at": "created",
                        "status": "status", "closed_at": "closed"}}
    with pytest.raises(DataSchemaError, match="before created_at"):
        apply_mapping(folder, spec)
    data, report = apply_mapping(folder, {**spec, "date_only": True})
    row = data.opportunities.iloc[0]
    assert row["created_at"] == row["closed_at"] == pd.Timestamp("2025-01-01", tz="UTC")
    assert any(step.startswith("date_only") for step in report.steps)


# --------------------------------------------------------------------------- lookups
def test_lookup_joins_columns_and_reports_unmatched_keys(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS + "D4,Nima,03/06/2025,Offen,Kontakt,,,east\n",
                   teams_csv="agent,manager,office\nSara,Dana,East\nAli,Eli,West\n")
    spec = mapping(lookups=[{"file": "teams.csv", "on": {"owner": "agent"},
                             "columns": {"team": "manager", "office": "office"}}])
    data, report = apply_mapping(folder, spec)
    opps = data.opportunities
    assert opps["team"].tolist()[:3] == ["Dana", "Eli", "Dana"]
    assert opps["office"].tolist()[:3] == ["East", "West", "East"]
    assert pd.isna(opps["team"].iloc[3])
    assert report.rows_read == {"deals.csv": 4, "teams.csv": 2}
    assert any("1 row found no match in teams.csv" in n and "'Nima'" in n for n in data.notes)
    assert any("3 rows matched, 1 unmatched" in s for s in report.steps)


def test_lookup_value_map_applies_before_the_join(tmp_path: Path) -> None:
    """Like Maven's 'GTXPro' (pipeline) vs 'GTX Pro' (products): map, then join."""
    folder = write(tmp_path, deals_csv=DEALS.replace(",north", ",GTXPro").replace(",south", ",GTX Basic"),
                   products_csv="product,price\nGTX Pro,4821\nGTX Basic,550\n")
    spec = mapping(columns={**BASE["columns"], "product": "Region"},
                   values={**BASE["values"], "product": {"GTXPro": "GTX Pro"}},
                   lookups=[{"file": "products.csv", "on": "product", "columns": {"list_price": "price"}}])
    data, _ = apply_mapping(folder, spec)
    assert data.opportunities["product"].tolist() == ["GTX Pro", "GTX Basic", "GTX Pro"]
    assert data.opportunities["list_price"].tolist() == ["4821", "550", "4821"]


def test_lookup_with_repeated_keys_is_an_error(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS, teams_csv="agent,manager\nSara,Dana\nSara,Eli\n")
    spec = mapping(lookups=[{"file": "teams.csv", "on": {"owner": "agent"}, "columns": {"team": "manager"}}])
    with pytest.raises(DataSchemaError, match="repeated lookup keys") as info:
        apply_mapping(folder, spec)
    assert info.value.ids == ["line 2", "line 3"]
    assert info.value.source == str(folder / "teams.csv")


def test_missing_lookup_file_is_an_error_unless_optional(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    lookup = {"file": "teams.csv", "on": {"owner": "agent"}, "columns": {"team": "manager"}}
    with pytest.raises(DataFileError, match=r"'teams\.csv' is not here"):
        apply_mapping(folder, mapping(lookups=[lookup]))
    data, _ = apply_mapping(folder, mapping(lookups=[{**lookup, "optional": True}]))
    assert any("optional lookup file teams.csv not found" in n for n in data.notes)


# --------------------------------------------------------------------------- set aside and clear
def test_set_aside_rows_are_counted_with_their_reason_and_listed(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS + "D4,Ali,,Offen,Kontakt,,,east\nD5,Ali,03/07/2025,Storniert,,,,\n")
    spec = mapping(values={"status": {**BASE["values"]["status"], "Storniert": "deleted"}},
                   set_aside=[{"when": {"created_at": None}, "reason": "no creation date"},
                              {"when": {"status": ["deleted"]}, "reason": "deleted in the CRM"}])
    data, report = apply_mapping(folder, spec)
    assert data.opportunities["opportunity_id"].tolist() == ["D1", "D2", "D3"]
    assert any("set aside 1 of 5 rows of deals.csv: no creation date" in n for n in data.notes)
    assert any("set aside 1 of 5 rows of deals.csv: deleted in the CRM" in n for n in data.notes)
    aside = report.set_aside
    assert aside[["line", "opportunity_id", "reason"]].values.tolist() == [
        ["line 5", "D4", "no creation date"], ["line 6", "D5", "deleted in the CRM"]]
    assert aside["Region"].iloc[0] == "east" and pd.isna(aside["Region"].iloc[1])  # export columns kept
    counts = report.set_aside_counts()
    assert counts["rows"].tolist() == [1, 1]
    assert "set aside: 2 rows, by reason:" in report.describe()


def test_status_condition_is_case_insensitive(tmp_path: Path) -> None:
    english = DEALS.replace("Gewonnen", "Won").replace("Verloren", "Lost").replace("Offen", "Open")
    folder = write(tmp_path, deals_csv=english + "D4,Ali,03/07/2025,Deleted,,,,\n")
    spec = mapping(values=None, settings=None,
                   columns={k: v for k, v in BASE["columns"].items() if k != "stage"},
                   set_aside=[{"when": {"status": "deleted"}, "reason": "deleted"}])
    data, report = apply_mapping(folder, spec)
    assert len(data.opportunities) == 3
    assert report.set_aside["opportunity_id"].tolist() == ["D4"]


def test_clear_empties_a_column_on_matching_rows(tmp_path: Path) -> None:
    """An open deal's 'Closed' is an expected close date: cleared, and counted."""
    folder = write(tmp_path, deals_csv=DEALS.replace("Offen,Angebot,,", "Offen,Angebot,04/30/2025,"))
    with pytest.raises(DataSchemaError, match="set for open opportunities"):
        apply_mapping(folder, mapping())
    spec = mapping(clear=[{"column": "closed_at", "when": {"status": "open"},
                           "reason": "expected close date"}])
    data, _ = apply_mapping(folder, spec)
    assert data.opportunities["closed_at"].isna().tolist() == [False, False, True]
    assert any(n == "mapping emptied closed_at on 1 row: expected close date" for n in data.notes)


# --------------------------------------------------------------------------- history
HISTORY_DEALS = """\
id,rep,created,status,closed,Date entered "Lead (Sales)",Date entered "Offer (Sales)",Date entered "Won (Sales)"
a,Sara,2025-01-01,won,2025-01-20,2025-01-01,2025-01-05,2025-01-20
b,Ali,2025-01-02,open,,2025-01-02,,
c,Ali,2025-01-03,open,,,2025-01-03,
"""
HISTORY_MAPPING: dict[str, Any] = {
    "file": "deals.csv",
    "columns": {"opportunity_id": "id", "owner": "rep", "created_at": "created", "status": "status",
                "closed_at": "closed"},
    "values": {"stage": {"Won": "won"}},
    "settings": {"stages": ["Lead", "Offer"]},
}


def test_wide_date_columns_become_long_history(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=HISTORY_DEALS)
    spec = {**HISTORY_MAPPING, "history": {"wide": {"Lead": 'Date entered "Lead (Sales)"',
                                                    "Offer": 'Date entered "Offer (Sales)"',
                                                    "Won": 'Date entered "Won (Sales)"'}}}
    data, report = apply_mapping(folder, spec)
    hist = data.stage_history
    got = list(zip(hist["opportunity_id"], hist["stage"], hist["entered_at"].dt.strftime("%m-%d"), strict=True))
    assert got == [("a", "Lead", "01-01"), ("a", "Offer", "01-05"), ("a", "won", "01-20"),
                   ("b", "Lead", "01-02"), ("c", "Offer", "01-03")]
    assert not any(c.startswith("Date entered") for c in data.opportunities.columns)  # consumed
    assert report.history_rows == 5
    # Funnel (created Jan 2025): a won passes all; b deepest Lead; c deepest Offer.
    fun = sn.funnel(data, start="2025-01-01", end="2025-02-01").set_index("stage")
    assert fun.loc["Lead", "reached"] == 3
    assert fun.loc["Offer", "reached"] == 2


def test_wide_pattern_finds_the_columns_and_names_the_stage(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=HISTORY_DEALS)
    spec = {**HISTORY_MAPPING,
            "history": {"wide_pattern": r'^Date entered "(?P<stage>.+) \((?P<pipeline>[^()]*)\)"$'}}
    data, report = apply_mapping(folder, spec)
    assert data.stage_history["stage"].tolist() == ["Lead", "Offer", "won", "Lead", "Offer"]
    mapped = report.values_mapped
    assert mapped[mapped["column"] == "stage (history)"]["rows"].tolist() == [1]
    nothing = write(tmp_path / "plain", deals_csv=DEALS)
    with pytest.raises(DataSchemaError, match="no column matches the history pattern"):
        apply_mapping(nothing, {**mapping(), "history": {"wide_pattern": "^Date entered (?P<stage>.+)$"}})


def test_history_file_merges_repeats_and_sets_aside_entries_outside_the_deal_life(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "id,rep,created,status,closed\n"
        "a,Sara,2025-01-01,won,2025-01-20\n"
        "b,Ali,2025-01-02,open,\n"),
        hist_csv=("deal,step,at\n"
                  "a,Lead,2025-01-01\n"
                  "a,Lead,2025-01-03\n"      # repeat (an amount change): merged into the first
                  "a,Offer,2025-01-05\n"
                  "a,Won,2025-01-22\n"       # after closed_at: set aside
                  "b,Lead,2025-01-02\n"))
    spec = {**HISTORY_MAPPING, "columns": {**HISTORY_MAPPING["columns"]},
            "history": {"file": "hist.csv", "outside_life": "set_aside",
                        "columns": {"opportunity_id": "deal", "stage": "step", "entered_at": "at"}}}
    data, report = apply_mapping(folder, spec)
    assert data.stage_history["stage"].tolist() == ["Lead", "Offer", "Lead"]
    aside = report.set_aside
    assert aside["line"].tolist() == ["line 3", "line 5"]
    assert aside["reason"].str.contains("repeats the stage").tolist() == [True, False]
    assert "after the opportunity was closed" in aside["reason"].iloc[1]
    assert report.rows_read == {"deals.csv": 2, "hist.csv": 5}
    # Without set_aside, the entry after closing is a validation error naming the history file.
    spec["history"] = {**spec["history"], "outside_life": "error"}
    with pytest.raises(DataSchemaError, match="after the opportunity was closed") as info:
        apply_mapping(folder, spec)
    assert info.value.source == str(folder / "hist.csv")


def test_history_of_a_set_aside_opportunity_is_set_aside_too(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=HISTORY_DEALS.replace("c,Ali,2025-01-03,open", "c,,2025-01-03,open"))
    spec = {**HISTORY_MAPPING, "set_aside": [{"when": {"owner": None}, "reason": "no owner"}],
            "history": {"wide_pattern": r'^Date entered "(?P<stage>.+) \(Sales\)"$'}}
    data, report = apply_mapping(folder, spec)
    assert sorted(data.opportunities["opportunity_id"]) == ["a", "b"]
    rows = report.set_aside[["table", "opportunity_id", "reason"]].values.tolist()
    assert rows == [["opportunities", "c", "no owner"],
                    ["stage_history", "c", "its opportunity was set aside (no owner)"]]


# --------------------------------------------------------------------------- errors in the mapping
@pytest.mark.parametrize(("content", "message", "fix"), [
    ("file: [deals.csv\n", "malformed YAML at line", "correct the YAML syntax"),
    ("- a\n- b\n", "expected a mapping of keys", "docs/presets.md"),
    ("file: deals.csv\ncolums: {owner: Rep}\n", "unknown key(s) 'colums' (did you mean 'columns'?)",
     "use only: description, file, columns"),
    ("columns: {owner: Rep}\n", "'mapping' is missing 'file'", "add file"),
    ("file: d.csv\ncolumns: {owner: [Rep, {x: 1}]}\n", "'columns.owner' has unknown key(s) 'x'", "join"),
    ("file: d.csv\ncolumns: {owner: [Rep, 2.5, '']}\n", "'columns.owner' must be a non-empty text", "Export column"),
    ("file: d.csv\ncolumns: {owner: Rep}\nset_aside: {when: {status: x}}\n", "'set_aside' must be a list", "'- '"),
    ("file: d.csv\ncolumns: {owner: Rep}\nclear: [{column: amount, when: {status: lost}}]\n",
     "'clear[0]' is missing 'reason'", "add reason"),
    ("file: d.csv\ncolumns: {owner: Rep}\nhistory: {wide_pattern: 'Date (.+)'}\n", "no (?P<stage>...) group",
     "(?P<stage>.+)"),
    ("file: d.csv\ncolumns: {owner: Rep}\nhistory: {file: h.csv, wide: {a: b}}\n", "exactly one of file, wide",
     "history:"),
    ("file: d.csv\ncolumns: {owner: Rep}\ntimestamp_format: 'MM/DD/YYYY'\n", "has no % directive", "%m/%d/%Y"),
    ("file: d.csv\ncolumns: {owner: Rep}\nsettings: {calender: jalali}\n", "unknown setting(s) 'calender'",
     "use only these keys"),
    ("file: d.csv\ncolumns: {owner: Rep}\nlookups: [{file: t.csv, on: {a: b, c: d}, columns: {x: y}}]\n",
     "exactly one key pair", "on: {owner: sales_agent}"),
])
def test_bad_mapping_yaml_is_a_settings_error_with_the_fix(tmp_path: Path, content: str, message: str,
                                                           fix: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        read_mapping(path)
    assert message in str(info.value)
    assert fix in info.value.fix
    assert str(path) in str(info.value)


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(SettingsError) as info:
        read_mapping("hubspott")
    text = str(info.value)
    assert "unknown preset 'hubspott' (did you mean 'hubspot'?)" in text
    assert info.value.fix.startswith("use one of the presets: hubspot, maven, pipedrive, salesforce")


def test_missing_mapping_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="mapping file not found"):
        read_mapping(tmp_path / "nope.yml")


def test_mapping_column_not_in_the_file_names_file_column_and_fix(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    columns = {**BASE["columns"], "owner": "Sales Rep", "amount": "Valeu"}
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(folder, mapping(columns=columns))
    err = info.value
    assert [p.column for p in err.problems] == ["Sales Rep", "Valeu"]
    assert all(p.source == str(folder / "deals.csv") for p in err.problems)
    assert "columns.amount" in err.problems[1].rule and "(close: 'Value')" in err.problems[1].rule
    assert "columns found: Deal No, Rep, Opened" in err.problems[0].rule
    assert "correct columns.owner in the mapping" in err.problems[0].fix


def test_condition_on_an_unknown_column_is_a_settings_error(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    with pytest.raises(SettingsError, match="tests column 'Pipeline'"):
        apply_mapping(folder, mapping(set_aside=[{"when": {"Pipeline": "x"}, "reason": "r"}]))


def test_missing_main_file_lists_the_folder(tmp_path: Path) -> None:
    folder = write(tmp_path, other_csv="a\n1\n")
    with pytest.raises(DataFileError, match=r"main file \(file:\) 'deals.csv' is not here \(files: other.csv\)"):
        apply_mapping(folder, mapping())


# --------------------------------------------------------------------------- load, settings, CLI
def test_load_with_mapping_accepts_the_export_file_and_carries_notes(tmp_path: Path) -> None:
    folder = write(tmp_path, **{"export-2025-03-31_csv": DEALS + "D4,Ali,,Offen,Kontakt,,,east\n"})
    spec = mapping(file="export-*.csv", set_aside=[{"when": {"created_at": None}, "reason": "no date"}])
    by_folder = sn.load(folder, mapping=spec)
    by_file = sn.load(folder / "export-2025-03-31.csv", mapping={**spec, "file": "whatever.csv"})
    assert len(by_folder.opportunities) == len(by_file.opportunities) == 3
    assert any("set aside 1 of 4 rows" in n and "no date" in n for n in by_folder.notes)
    with pytest.raises(DataFileError, match="not databases"):
        sn.load("sqlite:///x.sqlite", mapping=spec)


def test_settings_precedence_mapping_then_funnel_yml_then_argument(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    spec = mapping(settings={"stages": ["Kontakt", "Angebot"], "currency": "EUR", "timezone": "Europe/Berlin"})
    data, _ = apply_mapping(folder, spec)
    assert (data.settings.currency, data.settings.timezone) == ("EUR", "Europe/Berlin")
    write(folder, funnel_yml="currency: CHF\n")
    data, _ = apply_mapping(folder, spec)
    assert (data.settings.currency, data.settings.timezone, data.settings.stages) == (
        "CHF", "Europe/Berlin", ("Kontakt", "Angebot"))
    data, _ = apply_mapping(folder, spec, settings={"currency": "USD"})
    assert data.settings.currency == "USD"
    assert data.opportunities["created_at"].iloc[0] == pd.Timestamp("2025-03-01", tz="Europe/Berlin")


def test_cli_validate_prints_what_the_mapping_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write(tmp_path, deals_csv=DEALS + "D4,Ali,,Offen,Kontakt,,,east\n")
    yml = tmp_path / "crm.yml"
    spec = mapping(set_aside=[{"when": {"created_at": None}, "reason": "no creation date"}])
    yml.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    assert main(["validate", str(folder), "--mapping", str(yml)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mapping: crm (")
    assert "rows read: 4 from deals.csv" in out
    assert "loaded: 3 opportunities, 0 stage-history entries" in out
    assert "set aside: 1 row, by reason:\n  - 1 row of deals.csv (opportunities): no creation date" in out
    assert "status: 'Gewonnen' → 'won' (1)" in out
    assert "opportunities: 3 (open 1, won 1, lost 1)" in out
    assert out.count("no creation date") == 1  # the notes are not printed twice
    assert out.rstrip().endswith("OK: no problems found")


def test_cli_kpi_and_errors_with_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write(tmp_path, deals_csv=DEALS)
    yml = tmp_path / "crm.yml"
    yml.write_text(yaml.safe_dump(mapping()), encoding="utf-8")
    assert main(["kpi", str(folder), "--mapping", str(yml), "--start", "2025-03-01", "--end", "2025-04-01",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["won"]["total"] == 1 and doc["lost"]["total"] == 1
    assert main(["validate", str(folder), "--mapping", "nosuchpreset"]) == 1
    err = capsys.readouterr().err
    assert "unknown preset 'nosuchpreset'" in err and "maven" in err


def test_presets_are_listed() -> None:
    assert list_presets() == ["hubspot", "maven", "pipedrive", "salesforce"]


def test_the_full_example_in_the_docs_works(tmp_path: Path) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "presets.md").read_text(encoding="utf-8")
    example = docs.split("### A full example", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "crm.yml").write_text(example, encoding="utf-8")
    write(tmp_path / "export",
          **{"deals-2025-03_csv": (
              "Deal No,Rep Id,Opened,Result,Step,Won on,Lost on,Value,Entered Kontakt,Entered Angebot,"
              "Entered Verhandlung\n"
              "K1,u1,03/01/2025,Gewonnen,Gewonnen,03/20/2025,,5000,03/01/2025,03/05/2025,03/10/2025\n"
              "K2,u2,03/02/2025,Verloren,Angebot,,03/15/2025,1200,03/02/2025,03/08/2025,\n"
              "K3,u1,03/03/2025,Offen,Kontakt,,,800,03/03/2025,,\n"
              "K4,u2,03/04/2025,Storniert,Kontakt,,,300,03/04/2025,,\n"),
             "users_csv": "id,full_name,department\nu1,Sara Karimi,East\nu2,Ali Rad,West\n"})
    data, report = apply_mapping(tmp_path / "export", tmp_path / "crm.yml")
    opps = data.opportunities.set_index("opportunity_id")
    assert opps.index.tolist() == ["K1", "K2", "K3"]
    assert opps["status"].tolist() == ["won", "lost", "open"]
    assert opps["owner"].tolist() == ["Sara Karimi", "Ali Rad", "Sara Karimi"]
    assert opps["team"].tolist() == ["East", "West", "East"]
    assert opps.loc["K2", "closed_at"] == pd.Timestamp("2025-03-15", tz="Europe/Berlin")
    assert data.settings.stages == ("Kontakt", "Angebot", "Verhandlung")
    # K1: 3 entries, K2: 2, K3: 1; K4's entry goes with K4 (cancelled, set aside).
    assert len(data.stage_history) == 6
    assert report.set_aside["reason"].tolist() == ["cancelled deals are not sales outcomes",
                                                   "its opportunity was set aside (cancelled deals are not "
                                                   "sales outcomes)"]


# --------------------------------------------------------------------------- what presets need (issue 12)
def test_candidate_columns_joins_and_fixed_values(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "Opp,First,Last,Alias,Made,State,LossReason__c,Loss_Reason__c\n"
        "a,Sara,Karimi,skar,2025-01-01,won,,\n"
        "b,,Rad,arad,2025-01-02,lost,,Price\n"
        ",,,auto,2025-01-03,open,,\n"
        "d,,,,2025-01-04,lost,Budget,Price\n"))
    spec = {"file": "deals.csv", "columns": {
        "opportunity_id": ["Id", "Opp", {"line": True}],        # 'Id' is not in the file: the next candidate
        "owner": [{"join": ["First", "Last"]}, "Alias", {"value": "(no owner)"}],
        "created_at": "Made", "status": "State", "closed_at": {"from": "Made"},
        "lost_reason": ["LossReason__c", "Loss_Reason__c", "Reason"]},
        "clear": [{"column": "closed_at", "when": {"status": "open"}, "reason": "open deals are not closed"}]}
    data, report = apply_mapping(folder, spec)
    opps = data.opportunities
    assert opps["opportunity_id"].tolist() == ["a", "b", "line 4", "d"]
    assert opps["owner"].tolist() == ["Sara Karimi", "Rad", "auto", "(no owner)"]
    assert opps["lost_reason"].tolist()[1:2] + opps["lost_reason"].tolist()[3:] == ["Price", "Budget"]
    columns = data.quality["columns"]
    assert columns["owner"] == {"First + Last": 2, "Alias": 1, "the value '(no owner)'": 1}
    assert columns["opportunity_id"] == {"Opp": 3, "the line number in the file": 1}
    assert "mapping: owner of 1 row of deals.csv is the value '(no owner)' (no column gave a value)" in data.notes
    assert "mapping: opportunity_id of 1 row of deals.csv is the line number in the file (no column gave a " \
           "value)" in data.notes
    assert any("lost_reason: the first non-empty of 'LossReason__c', 'Loss_Reason__c' (not in the file: 'Reason')"
               in step for step in report.steps)


def test_status_row_by_row_from_flags_then_probability_then_stage_values(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "id,rep,created,closed,Is Closed,Is Won,Probability,Stage\n"
        "a,Sara,2025-01-01,2025-01-09,true,true,,Signed\n"        # flags: won
        "b,Sara,2025-01-01,2025-01-09,true,,0,Gone\n"             # closed, no won flag: probability 0 → lost
        "c,Ali,2025-01-01,,false,,1,Contract\n"                   # flags: open (probability not read)
        "d,Ali,2025-01-01,,,,0.4,Demo\n"                          # no flags: probability between → open
        "e,Ali,2025-01-01,2025-01-05,,,,Closed Won\n"))           # neither: the stage value
    spec = {"file": "deals.csv", "columns": {
        "opportunity_id": "id", "owner": "rep", "created_at": "created", "closed_at": "closed", "stage": "Stage",
        "status": {"flags": {"closed": ["IsClosed", "Is Closed"], "won": "Is Won"},
                   "probability": {"from": "Probability", "won": 1, "lost": 0}, "from": "Stage"}},
        "values": {"status": {"Closed Won": "won"}}}
    with pytest.warns(sn.SalesnbWarning, match="stage order inferred"):
        data, report = apply_mapping(folder, spec)
    assert data.opportunities["status"].tolist() == ["won", "lost", "open", "open", "won"]
    mapped = {(r.from_value, r.to_value): r.rows for r in report.values_mapped.itertuples() if r.column == "status"}
    assert mapped == {("Is Closed, Is Won: closed, won", "won"): 1, ("Is Closed, Is Won: not closed", "open"): 1,
                      ("Probability = 0", "lost"): 1, ("Probability between 0 and 1", "open"): 1,
                      ("Closed Won", "won"): 1}


def test_patterns_translate_refuse_or_catch_values_and_strict_refuses_the_catch_all(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS.replace("Gewonnen", "Closed: won").replace("Verloren", "CLOSED LOST"))
    spec = mapping(values={"status": {}}, patterns={"status": [
        {"match": r"(?i)^closed\W*won$", "value": "won"}, {"match": r"(?i)^closed\W*lost$", "value": "lost"},
        {"match": r"(?i)\bclosed\b", "error": "a closed stage that is neither won nor lost"},
        {"match": ".", "value": "open", "unmapped": True}],
        "owner": [{"match": r"^(?P<name>.+) \(Deactivated User\)$", "value": r"\g<name>"}]})
    spec["values"] = {"status": {"Offen": "open"}}
    data, _ = apply_mapping(folder, spec)
    assert data.opportunities["status"].tolist() == ["won", "lost", "open"]
    # A value caught by the catch-all pattern is counted, warned about, and an error with strict=True.
    folder2 = write(tmp_path / "b", deals_csv=DEALS.replace("Offen", "Negotiation"))
    spec2 = {**spec, "values": {"status": {"Gewonnen": "won", "Verloren": "lost"}}}
    with pytest.warns(sn.SalesnbWarning, match="'Negotiation' \\(1\\)"):
        data, _ = apply_mapping(folder2, spec2)
    assert data.quality["tables"]["opportunities"]["unmapped_values"] == {"status": {"Negotiation": 1}}
    with pytest.raises(DataSchemaError, match="a catch-all rule reads them as 'open'") as info:
        apply_mapping(folder2, spec2, strict=True)
    assert info.value.problems[0].ids == ("D3 (line 4)",)
    # An error pattern lists the values and the rows.
    folder3 = write(tmp_path / "c", deals_csv=DEALS.replace("Offen", "Closed - no decision"))
    with pytest.raises(DataSchemaError, match="neither won nor lost") as info:
        apply_mapping(folder3, spec2)
    assert info.value.problems[0].values == ("Closed - no decision (1)",)


def test_values_match_ignoring_case_and_apostrophe_style(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS.replace("Gewonnen", "GEWONNEN").replace("Offen", "En cours d’étude"))
    spec = mapping(values={"status": {"Gewonnen": "won", "Verloren": "lost", "En cours d'étude": "open"}})
    data, _ = apply_mapping(folder, spec)
    assert data.opportunities["status"].tolist() == ["won", "lost", "open"]


def test_stage_outcomes_are_learned_from_the_status(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "id,rep,created,closed,IsClosed,IsWon,Stage,Entered Signed,Entered Demo\n"
        "a,Sara,2025-01-01,2025-01-09,1,1,Signed,2025-01-09,2025-01-02\n"
        "b,Sara,2025-01-01,2025-01-08,1,0,Dropped,,2025-01-03\n"
        "c,Ali,2025-01-02,,0,0,Demo,,2025-01-04\n"))
    spec = {"file": "deals.csv", "stage_outcomes": "from_status",
            "columns": {"opportunity_id": "id", "owner": "rep", "created_at": "created", "closed_at": "closed",
                        "status": {"closed": "IsClosed", "won": "IsWon"}, "stage": "Stage"},
            "history": {"wide_pattern": "^Entered (?P<stage>.+)$"}}
    data, report = apply_mapping(folder, spec)
    assert data.opportunities["stage"].tolist() == ["won", "lost", "Demo"]
    assert data.stage_history["stage"].tolist() == ["Demo", "won", "Demo", "Demo"]
    assert data.settings.stages == ("Demo",)
    assert any("'Signed' → won, 'Dropped' → lost" in s for s in report.steps)


QUIRKS = (
    "id,rep,created,closed,status,amount,stage\n"
    "a,Sara,2025-01-10,2025-01-05,won,100,won\n"        # closed before it was created
    "b,Sara,2025-01-01,2025-01-09,won,-50,won\n"         # a negative amount
    "c,Ali,2025-01-02,,open,10,\n"                       # no stage
    "d,Ali,2025-01-03,,open,20,demo\n")
QUIRK_SPEC: dict[str, Any] = {"file": "deals.csv", "columns": {
    "opportunity_id": "id", "owner": "rep", "created_at": "created", "closed_at": "closed", "status": "status",
    "amount": "amount", "stage": "stage"}, "settings": {"stages": ["demo"]}}


@pytest.mark.parametrize(("rules", "loaded", "aside", "repaired"), [
    ({"closed_before_created": "repair", "negative_amount": "repair"}, ["a", "b", "c", "d"], {},
     {"closed_before_created": 1, "negative_amount": 1}),
    ({"closed_before_created": "set_aside", "negative_amount": "set_aside", "blank_stage": "set_aside"}, ["d"],
     {"closed_at is before created_at (as in records imported or entered after they closed) (closed_before_created)": 1,
      "negative amount (negative_amount)": 1, "no stage (blank_stage)": 1}, {}),
])
def test_quirk_rules_repair_or_set_aside_and_count(tmp_path: Path, rules: dict[str, str], loaded: list[str],
                                                   aside: dict[str, int], repaired: dict[str, int]) -> None:
    folder = write(tmp_path, deals_csv=QUIRKS)
    data, report = apply_mapping(folder, {**QUIRK_SPEC, "rules": rules})
    opps = data.opportunities.set_index("opportunity_id")
    assert opps.index.tolist() == loaded
    counts = data.quality["tables"]["opportunities"]
    assert counts["set_aside"] == aside and counts["repaired"] == repaired
    assert counts["rows_read"] == counts["rows_loaded"] + sum(aside.values())
    if repaired:
        assert opps.loc["a", "created_at"] == opps.loc["a", "closed_at"]          # moved back to the close
        assert pd.isna(opps.loc["b", "amount"])                                    # emptied, the deal kept
        assert report.repaired[["opportunity_id", "rule", "before", "after"]].values.tolist() == [
            ["b", "negative_amount", "-50.0", None],
            ["a", "closed_before_created", "2025-01-10 00:00:00+00:00", "2025-01-05 00:00:00+00:00"]]
        assert any("mapping repaired 1 row of deals.csv (opportunities, negative_amount)" in n for n in data.notes)


def test_quirk_rules_default_to_errors_naming_the_rule_and_its_options(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=QUIRKS)
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(folder, QUIRK_SPEC)
    problems = {p.rule: p for p in info.value.problems}
    assert set(problems) == {"negative amount (negative_amount)", "closed_at is before created_at (as in records "
                             "imported or entered after they closed) (closed_before_created)"}
    fix = problems["negative amount (negative_amount)"].fix
    assert "rules: {negative_amount: ...} with repair (amount emptied, the deal kept) or set_aside" in fix
    assert problems["negative amount (negative_amount)"].ids == ("b (line 3)",)
    # blank_stage defaults to keep; as an error it names the rows.
    with pytest.raises(DataSchemaError, match=r"no stage \(blank_stage\)"):
        apply_mapping(folder, {**QUIRK_SPEC, "rules": {"closed_before_created": "repair", "negative_amount": "repair",
                                                        "blank_stage": "error"}})


def test_history_quirks_unknown_deals_and_entries_outside_a_deals_life(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=HISTORY_DEALS, hist_csv=(
        "deal,stage,at\na,Lead,2025-01-01\nzz,Lead,2025-01-02\na,Offer,2024-12-01\nb,Lead,2025-01-02\n"))
    spec = {**HISTORY_MAPPING, "history": {"file": "hist.csv", "columns": {
        "opportunity_id": "deal", "stage": "stage", "entered_at": "at"}}}
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(folder, spec)
    assert {p.rule.split(" (")[-1] for p in info.value.problems} == {"history_unknown_opportunity)",
                                                                     "history_outside_life)"}
    spec["rules"] = {"history_unknown_opportunity": "set_aside", "history_outside_life": "set_aside"}
    data, _report = apply_mapping(folder, spec)
    counts = data.quality["tables"]["stage_history"]
    assert (counts["rows_read"], counts["rows_loaded"]) == (4, 2)
    assert sum(counts["set_aside"].values()) == 2 and counts["accounted_for"]


def test_history_from_main_file_columns_and_the_first_source_present(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "id,rep,created,closed,status,Stage,Moved\n"
        "a,Sara,2025-01-01,2025-01-09,won,Offer,2025-01-05\n"
        "b,Ali,2025-01-02,,open,Lead,\n"))
    spec = {"file": "deals.csv", "columns": {"opportunity_id": "id", "owner": "rep", "created_at": "created",
                                             "closed_at": "closed", "status": "status", "stage": "Stage"},
            "history": [{"file": "history.csv", "columns": {"opportunity_id": "x", "stage": "y", "entered_at": "z"}},
                        {"columns": {"stage": "Stage", "entered_at": ["Last move", "Moved"]}, "optional": True}]}
    with pytest.warns(sn.SalesnbWarning, match="inferred"):
        data, _report = apply_mapping(folder, spec)
    assert data.stage_history[["opportunity_id", "stage"]].values.tolist() == [["a", "Offer"]]
    assert data.quality["tables"]["stage_history"]["rows_read"] == 1   # b has no time of its stage change


def test_several_date_columns_for_one_stage_are_read_as_one(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "id,rep,created,closed,status,hs_v2_date_entered_lead,hs_date_entered_lead,hs_date_entered_demo\n"
        "a,Sara,2025-01-01,,open,2025-01-01,2024-06-01,2025-01-03\n"
        "b,Ali,2025-01-02,,open,,2025-01-02,\n"))
    spec = {"file": "deals.csv", "columns": {"opportunity_id": "id", "owner": "rep", "created_at": "created",
                                             "closed_at": "closed", "status": "status"},
            "history": {"wide_pattern": ["^hs_v2_date_entered_(?P<stage>.+)$", "^hs_date_entered_(?P<stage>.+)$"]},
            "settings": {"stages": ["lead", "demo"]}}
    data, _ = apply_mapping(folder, spec)
    got = data.stage_history[["opportunity_id", "stage"]].assign(t=data.stage_history["entered_at"].dt.strftime(
        "%Y-%m-%d")).values.tolist()
    assert got == [["a", "lead", "2025-01-01"], ["a", "demo", "2025-01-03"], ["b", "lead", "2025-01-02"]]


def test_rates_csv_in_the_export_folder_is_read_and_checked(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS.replace(",Region", ",Currency").replace("north", "EUR")
                   .replace("south", "GBP"),
                   rates_csv="currency,valid_from,rate\nEUR,,1.1\nUSD,,1\n")
    spec = mapping(columns={**BASE["columns"], "currency": "Currency"}, settings={"stages": ["Kontakt", "Angebot"],
                                                                                  "currency": "USD"})
    data, report = apply_mapping(folder, spec)
    assert report.rates["currency"].tolist() == ["EUR", "USD"]
    # The dataset carries them (issue 12, item 6): its amounts convert into USD.
    pd.testing.assert_frame_equal(data.rates, report.rates)
    currencies = data.quality["currencies"]
    assert currencies["rates_file"] == "rates.csv" and currencies["without_rate"] == {"GBP": 1}
    assert any("no exchange rate for GBP (1 deals)" in n for n in data.notes)


def test_variants_the_first_that_fits_is_used_and_none_fitting_lists_why(tmp_path: Path) -> None:
    spec = {"description": "two layouts", "variants": [
        {"name": "API names", "file": "deals.csv", "detect": ["Deal No", "Result"], "columns": BASE["columns"],
         "values": BASE["values"], "timestamp_format": "%m/%d/%Y"},
        {"name": "labels", "file": "*.csv", "detect": [["Deal number", "No."]],
         "columns": {**BASE["columns"], "opportunity_id": "Deal number"}, "values": BASE["values"],
         "timestamp_format": "%m/%d/%Y"}], "settings": BASE["settings"]}
    first = write(tmp_path / "a", deals_csv=DEALS)
    data, report = apply_mapping(first, spec)
    assert data.quality["variant"] == "API names" and report.mapping.startswith("mapping: API names")
    second = write(tmp_path / "b", export_csv=DEALS.replace("Deal No", "Deal number"))
    data, _ = apply_mapping(second, spec)
    assert data.quality["variant"] == "labels"
    neither = write(tmp_path / "c", other_csv="x,y\n1,2\n")
    with pytest.raises(DataFileError) as info:
        apply_mapping(neither, spec)
    assert "API names: no file 'deals.csv'" in str(info.value)
    assert "labels: other.csv lacks 'Deal number | No.'" in str(info.value)


def test_read_options_footer_null_values_and_prefixes(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=(
        "Deal - ID,Deal - Owner,Deal - Created,Deal - Status,Deal - Won,Organization - ID\n"
        "1,Sara,2025-01-01,won,2025-01-05,000\n2,Ali,2025-01-02,open,,7\n\n\"Grand Totals (2 records)\"\n"))
    spec = {"file": "deals.csv", "read": {"footer": True, "null_values": ["000"], "strip_prefix": ["Deal - "]},
            "columns": {"opportunity_id": "ID", "owner": "Owner", "created_at": "Created", "status": "Status",
                        "closed_at": "Won"}}
    data, report = apply_mapping(folder, spec)
    assert data.opportunities["opportunity_id"].tolist() == ["1", "2"]
    assert data.opportunities["Organization - ID"].isna().tolist() == [True, False]
    assert data.quality["tables"]["opportunities"]["footer_lines"] == 1
    assert any("report footer of 1 line dropped ('Grand Totals (2 records)')" in s for s in report.steps)


def test_timestamp_candidates_day_month_order_and_epoch_milliseconds(tmp_path: Path) -> None:
    spec = mapping(timestamp_format=["ISO8601", "%m/%d/%Y", "%d/%m/%Y", "epoch_ms"])
    ambiguous = write(tmp_path / "a", deals_csv=DEALS)   # 03/01 .. 03/11: reads both ways
    with pytest.warns(sn.SalesnbWarning, match="every date reads both day-first and month-first"):
        data, _ = apply_mapping(ambiguous, spec)
    assert data.opportunities["created_at"].iloc[0] == pd.Timestamp("2025-03-01", tz="UTC")   # month/day, first listed
    dayfirst = write(tmp_path / "b", deals_csv=DEALS.replace("03/11/2025", "13/03/2025"))
    data, _ = apply_mapping(dayfirst, spec)
    assert data.opportunities["created_at"].iloc[0] == pd.Timestamp("2025-01-03", tz="UTC")   # 03/01 is 3 January
    epoch = write(tmp_path / "c", deals_csv=DEALS.replace("03/01/2025,Gewonnen", "1740787200000,Gewonnen"))
    with pytest.warns(sn.SalesnbWarning):
        data, _ = apply_mapping(epoch, spec)
    assert data.opportunities["created_at"].iloc[0] == pd.Timestamp("2025-03-01", tz="UTC")


@pytest.mark.parametrize(("content", "message"), [
    ("rules: {negative_amount: drop}\n", "'rules.negative_amount' is 'drop'"),
    ("rules: {typo_rule: repair}\n", "'rules' has unknown key(s) 'typo_rule'"),
    ("patterns: {status: [{match: x, value: a, error: b}]}\n", "needs exactly one of value, error"),
    ("patterns: {status: [{match: '(', value: a}]}\n", "is not a valid regular expression"),
    ("stage_outcomes: yes\n", "'stage_outcomes' is 'yes'"),
    ("stage_order: [{col: x}]\n", "'stage_order[0]' has unknown key(s) 'col'"),
    ("history: {columns: {stage: s, entered_at: t}, where: {a: b}}\n", "'history.where' is only used with a history file"),
    ("rates: [{file: r.csv, columns: {rate: r}}]\n", "'rates[0].columns' is missing 'currency'"),
    ("read: {footers: true}\n", "'read' has unknown key(s) 'footers'"),
])
def test_bad_new_mapping_keys_are_settings_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("file: d.csv\ncolumns: {owner: Rep}\n" + content, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        read_mapping(path)
    assert message in str(info.value)
    bad_variants = tmp_path / "v.yml"
    bad_variants.write_text("variants: [{file: d.csv, columns: {owner: Rep}}]\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="'variants\\[0\\]' is missing 'name'"):
        read_mapping(bad_variants)


def test_configured_pipelines_are_checked_against_the_deals(tmp_path: Path) -> None:
    folder = write(tmp_path, deals_csv=DEALS.replace("Region", "Pipeline").replace("north", "Sales")
                   .replace("south", "Partners"))
    spec = mapping(columns={**BASE["columns"], "pipeline": "Pipeline"},
                   settings={"pipelines": {"Sales": ["Angebot"], "Direct": ["Kontakt"]}})
    with pytest.raises(DataSchemaError) as info:
        apply_mapping(folder, spec)
    rules = [p.rule for p in info.value.problems]
    assert rules[0].startswith("has pipelines that funnel.yml does not list (Sales, Direct)")
    assert info.value.problems[0].values == ("Partners (1)",)
    spec["settings"] = {"pipelines": {"Sales": ["Kontakt"], "Partners": ["Kontakt"]}}
    with pytest.raises(DataSchemaError, match="has stages that are not stages of the deal's pipeline") as info:
        apply_mapping(folder, spec)
    assert info.value.problems[0].values == ("Angebot (pipeline Sales) (2)",)
    assert info.value.problems[0].ids == ("D1 (line 2)", "D3 (line 4)")
    spec["settings"] = {"pipelines": {"Sales": ["Kontakt", "Angebot"], "Partners": ["Kontakt"]}}
    data, _ = apply_mapping(folder, spec)
    assert data.settings.pipelines == {"Sales": ("Kontakt", "Angebot"), "Partners": ("Kontakt",)}


def test_load_with_a_mapping_detects_a_windows_encoding(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "deals.csv").write_bytes(DEALS.replace("Sara", "Sára Núñez").encode("cp1252"))
    data = sn.load(folder, mapping=mapping())   # load's default encoding is utf-8: the file is not
    assert data.opportunities["owner"].iloc[0] == "Sára Núñez"
    assert data.quality["tables"]["opportunities"]["encoding"] == "cp1252"
