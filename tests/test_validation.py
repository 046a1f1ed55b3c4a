"""Column rules, cross-table rules and type coercion (salesnb.validation).

Bad inputs are written as CSV files so the messages can be checked for the file
path and the CSV line numbers a user would look up. Expected values are worked out
by hand from the fixtures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesnb as sn
from salesnb.exceptions import DataSchemaError, SalesnbError

HEADER = "opportunity_id,owner,created_at,status,closed_at,amount\n"
HISTORY_HEADER = "opportunity_id,stage,entered_at\n"
TEHRAN = "Asia/Tehran"
# The canonical layout of DESIGN.md, in its documented order.
OPPORTUNITY_COLUMNS = ("opportunity_id", "owner", "created_at", "status", "closed_at", "amount",
                       "stage", "lost_reason", "team", "account", "product", "source", "currency")
HISTORY_COLUMNS = ("opportunity_id", "stage", "entered_at")


def schema_error(folder: Path, **kwargs: object) -> DataSchemaError:
    """Load ``folder``, expecting a DataSchemaError that names the file and the fix."""
    with pytest.raises(DataSchemaError) as info:
        sn.load(folder, **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, SalesnbError)
    assert isinstance(err, ValueError)
    assert "Fix:" in str(err)
    return err


def opportunities_file(folder: Path) -> str:
    return str(folder / "opportunities.csv")


def history_file(folder: Path) -> str:
    return str(folder / "stage_history.csv")


# ---------------------------------------------------------------- required columns
def test_missing_column_hints_at_a_near_name(make_dataset) -> None:
    folder = make_dataset("opportunity_id,Owner,created_at,status\no1,Sara,2025-01-05,open\n", None)
    err = schema_error(folder)
    msg = str(err)
    assert len(err.problems) == 1
    assert err.column == "owner"
    assert opportunities_file(folder) in msg
    assert "column 'owner'" in msg
    assert "required column is missing" in msg
    assert "found 'Owner': rename it to 'owner'" in msg
    assert "columns found: opportunity_id, Owner, created_at, status" in msg


def test_every_missing_column_is_reported(make_dataset) -> None:
    folder = make_dataset("id,owner,created_at\n1,Sara,2025-01-05\n", None)
    err = schema_error(folder)
    assert [p.column for p in err.problems] == ["opportunity_id", "status"]
    msg = str(err)
    assert msg.startswith("2 problems found in the data:")
    assert "column 'opportunity_id'" in msg and "column 'status'" in msg
    assert msg.count("Fix:") == 2


def test_history_missing_column(make_dataset) -> None:
    folder = make_dataset(history="opportunity_id,Stage,date\no1,lead,2025-01-05\n")
    err = schema_error(folder)
    assert [p.column for p in err.problems] == ["stage", "entered_at"]
    msg = str(err)
    assert history_file(folder) in msg
    assert "found 'Stage': rename it to 'stage'" in msg


# ---------------------------------------------------------------- column rules
def test_unknown_status_lists_rows_and_values(make_dataset) -> None:
    folder = make_dataset(HEADER
                          + "o1,Sara,2025-01-05,open,,\n"
                          + "o2,Sara,2025-01-05,pending,,\n"
                          + "o3,Ali,2025-01-05,closed,,\n", None)
    err = schema_error(folder)
    assert len(err.problems) == 1
    assert (err.column, err.ids) == ("status", ["o2", "o3"])
    msg = str(err)
    assert opportunities_file(folder) in msg
    assert "column 'status': has unknown statuses" in msg
    assert "offending rows: 'o2', 'o3' (2 rows)" in msg
    assert "offending values: 'pending', 'closed'" in msg
    assert "open, won or lost" in msg


def test_status_is_case_insensitive_and_trimmed() -> None:
    frame = pd.DataFrame({
        "opportunity_id": ["a", "b", "c"],
        "owner": ["Sara", "Ali", "Sara"],
        "created_at": ["2025-01-05", "2025-01-06", "2025-01-07"],
        "status": ["Won", " LOST ", "OPEN"],
        "closed_at": ["2025-02-01", "2025-02-02", None],
    })
    data = sn.SalesData.from_frames(frame)
    assert data.opportunities["status"].tolist() == ["won", "lost", "open"]


def test_duplicate_ids(make_dataset) -> None:
    folder = make_dataset(HEADER
                          + "o1,Sara,2025-01-05,open,,\n"
                          + "o2,Sara,2025-01-05,open,,\n"
                          + " o1 ,Ali,2025-01-06,open,,\n", None)
    err = schema_error(folder)
    assert len(err.problems) == 1
    msg = str(err)
    assert opportunities_file(folder) in msg
    assert "column 'opportunity_id': has duplicate ids" in msg
    # Both copies offend; " o1 " is "o1" once trimmed.
    assert "offending rows: 'o1', 'o1' (2 rows)" in msg
    assert "'o2'" not in msg


@pytest.mark.parametrize(("column", "row", "label"), [
    ("opportunity_id", " ,Ali,2025-01-06,open,,\n", "line 3"),
    ("owner", "o2, ,2025-01-06,open,,\n", "o2"),
    ("status", "o2,Ali,2025-01-06,,,\n", "o2"),
    ("created_at", "o2,Ali,,open,,\n", "o2"),
])
def test_blank_required_value(make_dataset, column: str, row: str, label: str) -> None:
    # Data row 1 is line 2 of the file, so the second data row is line 3.
    folder = make_dataset(HEADER + "o1,Sara,2025-01-05,open,,\n" + row, None)
    err = schema_error(folder)
    msg = str(err)
    assert err.column == column
    assert opportunities_file(folder) in msg
    assert f"offending rows: '{label}' (1 row)" in msg


def test_rows_without_id_are_labelled_by_csv_line(make_dataset) -> None:
    # The id is blank, so the unreadable timestamp is reported by line: data row 1 = line 2.
    folder = make_dataset(HEADER + ",Sara,someday,open,,\no2,Ali,2025-01-06,open,,\n", None)
    err = schema_error(folder)
    assert "offending rows: 'line 2' (1 row)" in str(err)


def test_rows_without_id_in_a_dataframe_are_labelled_by_position() -> None:
    frame = pd.DataFrame({"opportunity_id": ["a", None], "owner": ["Sara", "Ali"],
                          "created_at": ["2025-01-05", "2025-13-40"], "status": ["open", "open"]})
    with pytest.raises(DataSchemaError) as info:
        sn.SalesData.from_frames(frame, source="crm export")
    msg = str(info.value)
    # Two problems, both on row 1: the unreadable timestamp and the blank id.
    assert len(info.value.problems) == 2
    assert "1. crm export, column 'created_at'" in msg
    assert "2. crm export, column 'opportunity_id': has blank ids" in msg
    assert msg.count("offending rows: 'row 1' (1 row)") == 2
    assert "offending values: '2025-13-40'" in msg


@pytest.mark.parametrize("column", ["created_at", "closed_at"])
def test_unreadable_timestamp(make_dataset, column: str) -> None:
    good = {"created_at": "2025-01-05", "closed_at": "2025-02-01"}
    rows = "".join(
        f"o{i},Sara,{bad if column == 'created_at' else good['created_at']},won,"
        f"{bad if column == 'closed_at' else good['closed_at']},\n"
        for i, bad in enumerate(["yesterday", "05/02/2025", "2025-02-30"], start=1)
    )
    folder = make_dataset(HEADER + "o0,Sara,2025-01-05,won,2025-02-01,\n" + rows, None)
    err = schema_error(folder)
    msg = str(err)
    assert opportunities_file(folder) in msg
    assert f"column '{column}': has values that cannot be read as a timestamp" in msg
    assert "offending rows: 'o1', 'o2', 'o3' (3 rows)" in msg
    assert "offending values: 'yesterday', '05/02/2025', '2025-02-30'" in msg
    assert "ISO 8601" in msg


def test_unreadable_created_at_is_reported_once(make_dataset) -> None:
    folder = make_dataset(HEADER + "o1,Sara,yesterday,open,,\n", None)
    err = schema_error(folder)
    assert len(err.problems) == 1


def test_unreadable_closed_at_is_reported_once(make_dataset) -> None:
    folder = make_dataset(HEADER + "o1,Sara,2025-01-05,won,soon,\n", None)
    err = schema_error(folder)
    assert len(err.problems) == 1
    assert "is empty" not in str(err)


@pytest.mark.parametrize("value", ["1403-05-12", "9999-12-31"])
def test_out_of_range_timestamp_is_a_schema_error(make_dataset, value: str) -> None:
    folder = make_dataset(HEADER + f"o1,Sara,2025-01-05,won,{value},\n", None)
    err = schema_error(folder)
    assert "column 'closed_at'" in str(err)
    assert "'o1'" in str(err)


def test_closed_before_created(make_dataset) -> None:
    folder = make_dataset(HEADER
                          + "o1,Sara,2025-03-01,won,2025-02-01,\n"
                          + "o2,Sara,2025-03-01,lost,2025-03-01,\n"  # same day: allowed
                          + "o3,Ali,2025-03-01T10:00,lost,2025-03-01T09:59,\n", None)
    err = schema_error(folder)
    msg = str(err)
    assert len(err.problems) == 1
    assert opportunities_file(folder) in msg
    assert "column 'closed_at': is before created_at" in msg
    assert "offending rows: 'o1', 'o3' (2 rows)" in msg


def test_closed_deals_need_closed_at_and_only_the_first_five_are_listed(make_dataset) -> None:
    rows = "".join(f"w{i},Sara,2025-01-05,{'won' if i % 2 else 'lost'},,\n" for i in range(1, 8))
    folder = make_dataset(HEADER + "o1,Sara,2025-01-05,open,,\n" + rows, None)
    err = schema_error(folder)
    msg = str(err)
    assert err.column == "closed_at"
    assert err.ids == [f"w{i}" for i in range(1, 8)]
    assert opportunities_file(folder) in msg
    assert "column 'closed_at': is empty for won/lost opportunities" in msg
    assert "offending rows: 'w1', 'w2', 'w3', 'w4', 'w5' … (7 rows)" in msg
    assert "'w6'" not in msg and "'w7'" not in msg


def test_open_deals_must_not_have_closed_at(make_dataset) -> None:
    folder = make_dataset(HEADER + "o1,Sara,2025-01-05,open,2025-02-01,\no2,Ali,2025-01-05,open,,\n",
                          None)
    err = schema_error(folder)
    msg = str(err)
    assert opportunities_file(folder) in msg
    assert "column 'closed_at': is set for open opportunities" in msg
    assert "offending rows: 'o1' (1 row)" in msg


def test_negative_amount(make_dataset) -> None:
    folder = make_dataset(HEADER + "o1,Sara,2025-01-05,open,,-5\no2,Ali,2025-01-05,open,,0\n", None)
    err = schema_error(folder)
    msg = str(err)
    assert opportunities_file(folder) in msg
    assert "column 'amount': has negative amounts" in msg
    assert "offending rows: 'o1' (1 row)" in msg
    assert ">= 0" in msg


def test_negative_amount_values_are_shown_plainly(make_dataset) -> None:
    folder = make_dataset(HEADER + "o1,Sara,2025-01-05,open,,-5\n", None)
    msg = str(schema_error(folder))
    assert "np.float64" not in msg
    assert "offending values: -5" in msg


@pytest.mark.parametrize("value", ['"1,000"', "abc", "12 IRR"])
def test_non_numeric_amount(make_dataset, value: str) -> None:
    folder = make_dataset(HEADER + "o1,Sara,2025-01-05,open,,10\n"
                          + f"o2,Ali,2025-01-05,open,,{value}\n", None)
    err = schema_error(folder)
    msg = str(err)
    assert len(err.problems) == 1
    assert opportunities_file(folder) in msg
    assert "column 'amount': has values that cannot be read as a number" in msg
    assert "offending rows: 'o2' (1 row)" in msg
    assert f"offending values: '{value.strip(chr(34))}'" in msg
    assert "thousands separators" in msg


def test_several_problems_are_reported_together(make_dataset) -> None:
    folder = make_dataset(HEADER
                          + "o1,Sara,2025-01-05,open,,10\n"
                          + "o1,Ali,2025-01-05,open,,10\n"      # duplicate id
                          + "o2,Ali,2025-01-05,maybe,,10\n"     # unknown status
                          + "o3,Ali,2025-01-05,open,,-1\n"      # negative amount
                          + "o4,Ali,later,open,,abc\n", None)   # bad timestamp and amount
    err = schema_error(folder)
    assert len(err.problems) == 5
    assert {(p.column, p.ids) for p in err.problems} == {
        ("opportunity_id", ("o1", "o1")),
        ("status", ("o2",)),
        ("amount", ("o3",)),
        ("created_at", ("o4",)),
        ("amount", ("o4",)),
    }
    msg = str(err)
    assert msg.startswith("5 problems found in the data:")
    assert msg.count("Fix:") == 5
    assert msg.count(opportunities_file(folder)) == 5


# ---------------------------------------------------------------- history rules
def test_history_row_for_unknown_opportunity(make_dataset) -> None:
    folder = make_dataset(history=HISTORY_HEADER + "o1,lead,2025-01-05\nzz,lead,2025-01-06\n")
    err = schema_error(folder)
    msg = str(err)
    assert len(err.problems) == 1
    assert history_file(folder) in msg
    assert "column 'opportunity_id': has rows for opportunities that are not in the" in msg
    assert "offending rows: 'zz (line 3)' (1 row)" in msg


def test_history_line_numbers_count_blank_lines(make_dataset) -> None:
    folder = make_dataset(history=HISTORY_HEADER + "o1,lead,2025-01-05\n\nzz,lead,2025-01-06\n")
    assert "'zz (line 4)'" in str(schema_error(folder))


def test_history_stage_not_in_configured_funnel(make_dataset) -> None:
    funnel = "stages: [lead, qualified, proposal]\n"
    folder = make_dataset(history=HISTORY_HEADER
                          + "o1,lead,2025-01-05\n"
                          + "o1,demo,2025-01-06\n"
                          + "o1,won,2025-02-01\n"
                          + "o2,Lead,2025-01-06\n", funnel=funnel)
    err = schema_error(folder)
    msg = str(err)
    assert len(err.problems) == 1
    assert history_file(folder) in msg
    assert "column 'stage': has stages that are not in the funnel (lead, qualified, proposal" in msg
    assert "offending rows: 'o1 (line 3)', 'o2 (line 5)' (2 rows)" in msg
    assert "offending values: 'demo', 'Lead'" in msg
    assert "funnel.yml" in msg


def test_history_stage_without_configured_funnel_is_accepted(make_dataset) -> None:
    folder = make_dataset(history=HISTORY_HEADER + "o1,lead,2025-01-05\no1,demo,2025-01-06\n")
    data = sn.load(folder)
    assert set(data.settings.stages) == {"lead", "demo", "qualified", "proposal"}


def test_history_entries_outside_the_opportunity_life(make_dataset) -> None:
    # o1 lives 2025-01-05 .. 2025-02-01; o3 is open (created 2025-01-07).
    folder = make_dataset(history=HISTORY_HEADER
                          + "o1,lead,2025-01-04\n"           # line 2: before created_at
                          + "o1,qualified,2025-01-05\n"      # line 3: at created_at, fine
                          + "o1,won,2025-02-01\n"            # line 4: at closed_at, fine
                          + "o1,proposal,2025-02-01T00:00:01\n"  # line 5: after closed_at
                          + "o3,lead,2025-01-06T23:59\n"     # line 6: before created_at
                          + "o3,qualified,2030-01-01\n")     # line 7: open deal, fine
    err = schema_error(folder)
    assert len(err.problems) == 2
    msg = str(err)
    assert msg.count(history_file(folder)) == 2
    assert "column 'entered_at': has entries before the opportunity was created" in msg
    assert "offending rows: 'o1 (line 2)', 'o3 (line 6)' (2 rows)" in msg
    assert "column 'entered_at': has entries after the opportunity was closed" in msg
    assert "offending rows: 'o1 (line 5)' (1 row)" in msg


def test_history_unreadable_and_blank_values(make_dataset) -> None:
    folder = make_dataset(history=HISTORY_HEADER
                          + "o1,lead,2025-01-05\n"
                          + ",lead,2025-01-05\n"
                          + "o1, ,2025-01-06\n"
                          + "o1,qualified,\n"
                          + "o1,proposal,next week\n")
    err = schema_error(folder)
    found = {(p.column, p.rule, p.ids) for p in err.problems}
    assert found == {
        ("opportunity_id", "has blank values", ("line 3",)),
        ("stage", "has blank values", ("o1 (line 4)",)),
        ("entered_at", "has blank values", ("o1 (line 5)",)),
        ("entered_at", "has values that cannot be read as a timestamp", ("o1 (line 6)",)),
    }


# ---------------------------------------------------------------- coercion
def test_text_is_trimmed_and_blank_is_missing() -> None:
    frame = pd.DataFrame({
        "opportunity_id": [" a ", "b"],
        "owner": ["  Sara", "Ali "],
        "created_at": [" 2025-01-05 ", "2025-01-06"],
        "status": ["open", "lost"],
        "closed_at": ["   ", "2025-02-01"],
        "lost_reason": [None, "  "],
        "team": ["  ", " north "],
    })
    opps = sn.SalesData.from_frames(frame).opportunities
    assert opps["opportunity_id"].tolist() == ["a", "b"]
    assert opps["owner"].tolist() == ["Sara", "Ali"]
    assert opps["team"].isna().tolist() == [True, False]
    assert opps["team"].iloc[1] == "north"
    assert opps["lost_reason"].isna().all()
    assert pd.isna(opps["closed_at"].iloc[0])
    assert opps["created_at"].iloc[0] == pd.Timestamp("2025-01-05", tz="UTC")


def test_columns_canonical_first_then_extras_kept(make_dataset) -> None:
    data = sn.load(make_dataset())
    opps = data.opportunities
    assert tuple(opps.columns) == (*OPPORTUNITY_COLUMNS, "region")
    assert opps["region"].tolist() == ["north", "south", "north"]
    # Optional columns that were not supplied are added empty.
    assert opps["team"].isna().all() and opps["currency"].isna().all()
    assert opps["amount"].dtype == np.float64
    assert opps["amount"].iloc[:2].tolist() == [1000.0, 500.0]
    assert np.isnan(opps["amount"].iloc[2])


def test_extra_columns_of_a_dataframe_keep_values_and_dtype() -> None:
    frame = pd.DataFrame({"opportunity_id": ["a"], "owner": ["Sara"], "created_at": ["2025-01-05"],
                          "status": ["open"], "score": [0.75], "notes": ["  as typed  "]})
    opps = sn.SalesData.from_frames(frame).opportunities
    assert opps["score"].tolist() == [0.75]
    assert opps["score"].dtype == np.float64
    assert opps["notes"].tolist() == ["  as typed  "]


def test_timestamps_in_the_dataset_timezone() -> None:
    frame = pd.DataFrame({
        "opportunity_id": ["a", "b", "c", "d", "e"],
        "owner": ["Sara"] * 5,
        "created_at": [
            "2025-01-05",                  # date alone: local midnight
            "2025-01-05 10:15",            # naive: local time
            "2025-01-05T10:00:00+00:00",   # offset: converted (10:00 UTC = 13:30 Tehran)
            "2025-01-05T06:30:00Z",        # Z: UTC (06:30 UTC = 10:00 Tehran)
            "2025-01-05T09:00:00-05:00",   # 14:00 UTC = 17:30 Tehran
        ],
        "status": ["open"] * 5,
    })
    data = sn.SalesData.from_frames(frame, settings={"timezone": TEHRAN})
    created = data.opportunities["created_at"]
    assert str(created.dtype) == "datetime64[ns, Asia/Tehran]"
    expected = ["2025-01-05T00:00:00+03:30", "2025-01-05T10:15:00+03:30", "2025-01-05T13:30:00+03:30",
                "2025-01-05T10:00:00+03:30", "2025-01-05T17:30:00+03:30"]
    assert [t.isoformat() for t in created] == expected


def test_date_alone_is_midnight_in_the_timezone_of_funnel_yml(make_dataset) -> None:
    folder = make_dataset(funnel=f"timezone: {TEHRAN}\n")
    created = sn.load(folder).opportunities["created_at"]
    assert created.iloc[0].isoformat() == "2025-01-05T00:00:00+03:30"
    # The same instant in UTC is the previous evening.
    assert created.iloc[0].tz_convert("UTC") == pd.Timestamp("2025-01-04 20:30", tz="UTC")


def test_datetime_columns_are_localised_or_converted() -> None:
    frame = pd.DataFrame({
        "opportunity_id": ["a", "b"],
        "owner": ["Sara", "Ali"],
        "created_at": pd.to_datetime(["2025-01-05 08:00", "2025-01-06 00:00"]),  # naive
        "status": ["won", "open"],
        "closed_at": pd.to_datetime(["2025-02-01 12:00", None]).tz_localize("UTC"),  # aware
    })
    opps = sn.SalesData.from_frames(frame, settings={"timezone": TEHRAN}).opportunities
    assert opps["created_at"].iloc[0].isoformat() == "2025-01-05T08:00:00+03:30"
    assert opps["closed_at"].iloc[0].isoformat() == "2025-02-01T15:30:00+03:30"
    assert pd.isna(opps["closed_at"].iloc[1])


# ---------------------------------------------------------------- stage history & order
def test_history_sorted_by_time_with_ties_in_source_order() -> None:
    opps = pd.DataFrame({"opportunity_id": ["o1", "o2"], "owner": ["Sara", "Ali"],
                         "created_at": ["2025-01-05", "2025-01-06"], "status": ["open", "open"]})
    history = pd.DataFrame({
        "opportunity_id": ["o2", "o1", "o1", "o1"],
        "stage": ["lead", "qualified", "lead", "proposal"],
        "entered_at": ["2025-01-06", "2025-01-10", "2025-01-05", "2025-01-10"],
    })
    hist = sn.SalesData.from_frames(opps, history, {"stages": ["lead", "qualified", "proposal"]}) \
        .stage_history
    assert tuple(hist.columns) == (*HISTORY_COLUMNS, "seq", "opp_code", "position")
    assert hist["opportunity_id"].tolist() == ["o1", "o1", "o1", "o2"]
    assert hist["stage"].tolist() == ["lead", "qualified", "proposal", "lead"]
    assert hist["seq"].tolist() == [2, 1, 3, 0]


def test_stage_order_inferred_from_history(good_dataset: Path) -> None:
    data = sn.load(good_dataset)
    assert data.settings.stages == ("lead", "qualified", "proposal")
    assert data.settings.stages_inferred is True
    assert any("inferred" in note and "lead → qualified → proposal" in note for note in data.notes)


def test_stage_order_inferred_when_some_deals_start_mid_funnel() -> None:
    # a went lead -> qualified -> proposal; b was created straight into proposal.
    # Nothing contradicts lead < qualified < proposal.
    opps = pd.DataFrame({"opportunity_id": ["a", "b"], "owner": ["Sara", "Ali"],
                         "created_at": ["2025-01-05", "2025-01-06"], "status": ["open", "open"]})
    history = pd.DataFrame({"opportunity_id": ["a", "a", "a", "b"],
                            "stage": ["lead", "qualified", "proposal", "proposal"],
                            "entered_at": ["2025-01-05", "2025-01-06", "2025-01-07", "2025-01-06"]})
    data = sn.SalesData.from_frames(opps, history)
    assert data.settings.stages == ("lead", "qualified", "proposal")


def test_configured_stages_are_kept(make_dataset) -> None:
    folder = make_dataset(funnel="stages: [lead, qualified, proposal, negotiation]\n")
    data = sn.load(folder)
    assert data.settings.stages == ("lead", "qualified", "proposal", "negotiation")
    assert data.settings.stages_inferred is False
    assert not any("inferred" in note for note in data.notes)


def test_dataset_without_history(make_dataset) -> None:
    data = sn.load(make_dataset(history=None))
    assert data.has_history is False
    hist = data.stage_history
    assert len(hist) == 0
    assert tuple(hist.columns) == (*HISTORY_COLUMNS, "seq", "opp_code", "position")
    assert hist["entered_at"].dtype == data.opportunities["created_at"].dtype
    # Without history the order comes from the stage column (order of first appearance).
    assert data.settings.stages == ("qualified", "proposal")
    assert data.settings.stages_inferred is True


def test_dataset_without_history_or_stage_column() -> None:
    frame = pd.DataFrame({"opportunity_id": ["a"], "owner": ["Sara"], "created_at": ["2025-01-05"],
                          "status": ["open"]})
    data = sn.SalesData.from_frames(frame)
    assert data.settings.stages == ()
    assert any("no stages known" in note for note in data.notes)


def test_opportunity_stage_not_in_configured_funnel(make_dataset) -> None:
    folder = make_dataset(funnel="stages: [lead, qualified]\n", history=None)
    err = schema_error(folder)
    msg = str(err)
    assert opportunities_file(folder) in msg
    assert "column 'stage': has stages that are not in the funnel (lead, qualified)" in msg
    assert "offending rows: 'o3' (1 row)" in msg
    assert "offending values: 'proposal'" in msg


@pytest.mark.parametrize("typed", [False, True], ids=["text", "datetime64"])
def test_local_times_in_dst_changes(typed: bool) -> None:
    # Tehran's last DST: 2021-09-21 23:00-24:00 happened twice (the first, +04:30,
    # is taken); 2022-03-22 00:00-01:00 never happened (shifted to 01:00); no DST from 2023.
    created = ["2021-09-21 23:30:00", "2022-03-22 00:30:00", "2023-06-01 10:00:00"]
    opps = pd.DataFrame({"opportunity_id": ["a", "b", "c"], "owner": "Sara",
                         "created_at": pd.to_datetime(created) if typed else created, "status": "open"})
    got = sn.SalesData.from_frames(opps, settings={"timezone": "Asia/Tehran"}).opportunities["created_at"]
    assert [t.isoformat() for t in got] == [
        "2021-09-21T23:30:00+04:30", "2022-03-22T01:00:00+04:30", "2023-06-01T10:00:00+03:30"]


def test_text_is_trimmed_and_blank_is_missing_in_every_column() -> None:
    opps = pd.DataFrame({"opportunity_id": [" a ", "b\t"], "owner": ["\u00a0Sara ", "Ali"],
                         "created_at": ["2025-01-05", "2025-01-06"], "status": [" Open", "open"],
                         "team": ["  ", "North "], "lost_reason": [None, ""]})
    got = sn.SalesData.from_frames(opps).opportunities
    assert got["opportunity_id"].tolist() == ["a", "b"]
    assert got["owner"].tolist() == ["Sara", "Ali"]
    assert got["status"].tolist() == ["open", "open"]
    assert got["team"].isna().tolist() == [True, False] and got.loc[1, "team"] == "North"
    assert got["lost_reason"].isna().all()
    assert got["owner"].dtype == "str"


@pytest.mark.parametrize("values", [
    ["b", "b", "b", "a", "a", None, None, "zz", "c", "c"],  # grouped runs: one lookup per run
    ["a", "b", "c", "a", None, "zz", "b", "c", "a", "b"],  # interleaved: a lookup per row
])
def test_id_codes_positions_of_ids_with_missing_and_unknown(values: list[str | None]) -> None:
    from salesnb._arrays import id_codes

    universe = pd.Series(["c", "a", "b"], dtype="str")
    expected = [{"c": 0, "a": 1, "b": 2}.get(v, -1) if v is not None else -1 for v in values]
    assert id_codes(pd.Series(values, dtype="str"), universe).tolist() == expected
    assert id_codes(pd.Series(values, dtype=object), universe).tolist() == expected


@pytest.mark.parametrize("ids", [["a", "b", "c"], ["c", "a", "b"]], ids=["sorted", "unsorted"])
def test_duplicate_ids_found_whether_or_not_sorted(ids: list[str]) -> None:
    opps = pd.DataFrame({"opportunity_id": [*ids, ids[1]], "owner": "Sara",
                         "created_at": "2025-01-05", "status": "open"})
    with pytest.raises(DataSchemaError, match="duplicate ids") as info:
        sn.SalesData.from_frames(opps)
    assert f"{ids[1]}" in str(info.value)
    assert len(sn.SalesData.from_frames(opps.iloc[:3]).opportunities) == 3


@pytest.mark.parametrize(("tz", "start", "end"), [
    ("Asia/Tehran", "2023-01-01", "2026-01-01"),  # no clock change since 2023: one offset
    ("Asia/Tehran", "2021-01-01", "2023-06-01"),  # DST until 2022: the general path
    ("Europe/Berlin", "2024-01-01", "2025-01-01"),
    ("UTC", "2020-01-01", "2021-01-01"),
])
def test_localising_many_times_matches_pandas(tz: str, start: str, end: str) -> None:
    from salesnb.data.validation import parse_timestamps

    rng = np.random.default_rng(3)
    lo, hi = pd.Timestamp(start).value, pd.Timestamp(end).value
    naive = pd.Series(pd.to_datetime(np.sort(rng.integers(lo, hi, 20_000)))).dt.floor("min")
    naive[5] = pd.NaT
    got, bad = parse_timestamps(naive, tz=tz)
    expected = naive.dt.tz_localize(tz, ambiguous=np.ones(len(naive), dtype=bool),
                                    nonexistent="shift_forward")
    pd.testing.assert_series_equal(got, expected.dt.as_unit("ns"), check_names=False)
    assert not bad.any()


def test_text_is_cleaned_block_by_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import salesnb.data.validation as validation

    monkeypatch.setattr(validation, "_TEXT_BLOCK", 2)  # blocks: clean, trimmed, blank, clean
    values = ["a", "b", " c", "d\u00a0", "", None, "e", "f", "g"]
    got = validation.clean_text(pd.Series(values, dtype="str"))
    assert got.tolist()[:4] == ["a", "b", "c", "d"] and got.isna().tolist()[4:6] == [True, True]
    assert got.tolist()[6:] == ["e", "f", "g"] and got.dtype == "str"
    clean = pd.Series(["a", "b", "c"], dtype="str")
    assert validation.clean_text(clean).tolist() == ["a", "b", "c"]
