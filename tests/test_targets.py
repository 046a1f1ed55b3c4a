"""Targets: read from a folder, a workbook, a database or a DataFrame, and validated with
every problem listed (file, column, rows, fix)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import salesnb as sn
from salesnb.data.targets import Targets
from salesnb.exceptions import DataFileError, DataSchemaError

OPPS = """\
opportunity_id,owner,team,created_at,status,closed_at,amount
o1,Sara,North,2025-03-01,won,2025-03-26,4000
o2,Ali,South,2025-03-02,open,,1000
"""
FUNNEL = "calendar: jalali\ntimezone: Asia/Tehran\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "opportunities.csv").write_text(OPPS, encoding="utf-8")
    (tmp_path / "funnel.yml").write_text(FUNNEL, encoding="utf-8")
    return tmp_path


def write_targets(folder: Path, text: str) -> Path:
    path = folder / "targets.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_folder_without_targets_has_none(folder: Path) -> None:
    assert sn.load(folder).targets is None


def test_a_folders_targets_csv_is_picked_up_and_read(folder: Path) -> None:
    write_targets(folder, "period,owner,team,measure,target\n"
                          "1404-01,Sara,,won_amount,\"1,500\"\n"   # a thousands separator
                          "1404-Q1,,South,Won Count,3\n"            # measures in any case
                          "1404,,,created_count,12\n"               # the company
                          " 1404-02 , Sara ,,won_amount,2000\n")    # text is trimmed
    data = sn.load(folder)
    t = data.targets
    assert isinstance(t, Targets) and t.calendar == "jalali"
    assert t.table["level"].tolist() == ["owner", "team", "company", "owner"]
    assert t.table["measure"].tolist() == ["won_amount", "won_count", "created_count", "won_amount"]
    assert t.table["target"].tolist() == [1500.0, 3.0, 12.0, 2000.0]
    assert t.table["period"].tolist() == ["1404-01", "1404-Q1", "1404", "1404-02"]
    # 1404-01 is Farvardin: 2025-03-21 to 2025-04-21, local midnights in Tehran.
    assert t.table["period_start"].iloc[0].isoformat() == "2025-03-21T00:00:00+03:30"
    assert t.table["period_end"].iloc[0].isoformat() == "2025-04-21T00:00:00+03:30"
    assert t.table["row"].tolist() == ["line 2", "line 3", "line 4", "line 5"]
    # a subset keeps the targets (they name people the subset may leave out)
    assert data.subset(owners=["Sara"]).targets is t


def test_every_problem_is_listed_with_lines_values_and_fix(folder: Path) -> None:
    write_targets(folder, "period,owner,team,measure,target\n"
                          "1404-13,Sara,,won_amount,10\n"          # line 2: no such month
                          ",Sara,,won_amount,10\n"                 # line 3: no period
                          "1404-02,Bob,,won_amount,10\n"           # line 4: unknown owner
                          "1404-02,,West,won_amount,10\n"          # line 5: unknown team
                          "1404-03,Sara,North,won_amount,10\n"     # line 6: owner and team
                          "1404-04,Sara,,wins,10\n"                # line 7: unknown measure
                          "1404-05,Sara,,won_amount,ten\n"         # line 8: not a number
                          "1404-06,Sara,,won_amount,-1\n")         # line 9: negative
    with pytest.raises(DataSchemaError) as info:
        sn.load(folder)
    err = info.value
    rules = {p.rule: p for p in err.problems}
    path = str(folder / "targets.csv")
    assert all(p.source == path for p in err.problems)
    assert rules["has periods that are not jalali period labels"].ids == ("line 2",)
    assert rules["has periods that are not jalali period labels"].values == ("1404-13",)
    assert rules["has empty periods"].ids == ("line 3",)
    assert rules["names salespeople the data does not know"].values == ("Bob",)
    assert "known: Ali, Sara" in rules["names salespeople the data does not know"].fix
    assert rules["names teams the data does not know"].ids == ("line 5",)
    assert rules["has rows naming both an owner and a team"].ids == ("line 6",)
    assert rules["has unknown measures"].values == ("wins",)
    assert rules["has targets that are empty or not numbers"].values == ("ten",)
    assert rules["has negative targets"].ids == ("line 9",)
    assert len(err.problems) == 8
    assert "Fix:" in str(err)


def test_overlapping_rows_name_both(folder: Path) -> None:
    # Sara's won_amount for Mehr 1404 and for its quarter overlap; the team's quarter and
    # Sara's other measure do not.
    write_targets(folder, "period,owner,team,measure,target\n"
                          "1404-07,Sara,,won_amount,10\n"
                          "1404-Q3,Sara,,won_amount,30\n"
                          "1404-Q3,,North,won_amount,30\n"
                          "1404-07,Sara,,won_count,2\n"
                          "1404-08,Sara,,won_amount,10\n")
    with pytest.raises(DataSchemaError) as info:
        sn.load(folder)
    (problem,) = info.value.problems
    assert problem.rule.startswith("has rows that overlap")
    assert problem.ids == ("line 2", "line 3", "line 6")
    assert problem.values == ("Sara won_amount 1404-07", "Sara won_amount 1404-Q3", "Sara won_amount 1404-08")


def test_duplicate_rows_overlap(folder: Path) -> None:
    write_targets(folder, "period,measure,target\n1404-07,won_count,10\n1404-07,won_count,12\n")
    with pytest.raises(DataSchemaError, match="overlap"):
        sn.load(folder)


def test_missing_columns(folder: Path) -> None:
    write_targets(folder, "period,owner,goal\n1404-07,Sara,10\n")
    with pytest.raises(DataSchemaError) as info:
        sn.load(folder)
    assert [p.column for p in info.value.problems] == ["measure", "target"]


def test_periods_in_the_other_calendar(folder: Path) -> None:
    data = sn.load(folder)
    frame = pd.DataFrame({"period": ["2025-Q2"], "measure": ["won_count"], "target": [4]})
    with pytest.raises(DataSchemaError, match="not jalali period labels"):
        sn.load_targets(frame, data)
    t = sn.load_targets(frame, data, calendar="gregorian")
    assert t.table["period_start"].iloc[0].isoformat() == "2025-04-01T00:00:00+03:30"


def test_no_team_column_means_no_team_target(tmp_path: Path) -> None:
    (tmp_path / "opportunities.csv").write_text(
        "opportunity_id,owner,created_at,status,closed_at\no1,Sara,2025-01-01,open,\n", encoding="utf-8")
    data = sn.load(tmp_path)
    with pytest.raises(DataSchemaError, match="the data has no teams"):
        sn.load_targets(pd.DataFrame({"period": ["2025-01"], "team": ["North"], "measure": ["won_count"],
                                      "target": [1]}), data)


def test_a_workbooks_targets_sheet(tmp_path: Path) -> None:
    book = tmp_path / "crm.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.read_csv(pd.io.common.StringIO(OPPS)).to_excel(writer, sheet_name="opportunities", index=False)
        pd.DataFrame({"period": ["2025-04", "2025-04"], "owner": ["Sara", "Ali"], "measure": ["won_amount"] * 2,
                      "target": [5000, 7]}).to_excel(writer, sheet_name="Targets", index=False)
    data = sn.load(book)
    assert data.targets is not None
    assert data.targets.table["owner"].tolist() == ["Sara", "Ali"]
    assert data.targets.source.endswith("[targets]")
    # the sheet's lines are named in errors
    with pd.ExcelWriter(book, mode="a", if_sheet_exists="replace") as writer:
        pd.DataFrame({"period": ["2025-04"], "owner": ["Bob"], "measure": ["won_amount"], "target": [1]}).to_excel(
            writer, sheet_name="Targets", index=False)
    with pytest.raises(DataSchemaError) as info:
        sn.load(book)
    assert info.value.problems[0].ids == ("line 2",)


def test_a_databases_targets_table(folder: Path, tmp_path: Path) -> None:
    from salesnb.data.sql import write_sql

    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    write_sql(sn.load(folder), url)
    assert sn.load(url).targets is None
    engine = sa.create_engine(url)
    pd.DataFrame({"period": ["1404-01"], "owner": ["Sara"], "team": [None], "measure": ["won_amount"],
                  "target": [2500.0]}).to_sql("targets", engine, index=False)
    engine.dispose()
    data = sn.load(url)
    assert data.targets is not None and data.targets.table["target"].tolist() == [2500.0]
    assert sn.load_targets(url, data).table["owner"].tolist() == ["Sara"]


def test_load_targets_reads_files_and_folders(folder: Path) -> None:
    data = sn.load(folder)
    path = write_targets(folder, "period,owner,measure,target\n1404-01,Sara,won_amount,10\n")
    for source in (path, str(path), folder):
        assert len(sn.load_targets(source, data)) == 1
    assert sn.load_targets(sn.load_targets(path, data), data).source == str(path)
    with pytest.raises(DataFileError, match="no such file"):
        sn.load_targets(folder / "nope.csv", data)


def test_the_sample_ships_targets_with_people_ahead_and_behind() -> None:
    data = sn.load(sn.sample_path())
    assert data.targets is not None
    a = sn.attainment(data, period="1404-07", measure="won_amount")
    with_target = a[a["target"].notna()]
    assert (with_target["attainment"] >= 1).any() and (with_target["attainment"] < 1).any()


def test_the_attainment_section_draws_no_empty_chart_for_a_period_without_targets() -> None:
    """The bundled sample's targets cover 1404: a section for 1403-07 says there is none
    for that period instead of drawing an empty chart as tall as the team."""
    from salesnb.presentation import views
    from salesnb.presentation.notebook import prepare

    without = views.attainment_view(prepare(start="1403-07-01", end="1403-08-01", interactive=False))
    assert without.figures == []
    assert any("No salesperson has a won-amount target for 1403-07" in n for n in without.notes)
    within = views.attainment_view(prepare(start="1404-07-01", end="1404-08-01", interactive=False))
    assert len(within.figures) == 1 and not any("No salesperson has" in n for n in within.notes)
