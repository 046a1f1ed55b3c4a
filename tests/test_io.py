"""Loading datasets from folders (CSV, Parquet), Excel workbooks; file-level errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesnb as sn
from salesnb.exceptions import DataFileError, DataSchemaError, SalesnbError

OPP_HEADER = "opportunity_id,owner,created_at,status\n"
FUNNEL = "timezone: Asia/Tehran\ncalendar: jalali\n"


def file_error(source: Path, **kwargs: object) -> DataFileError:
    """Load ``source`` expecting a DataFileError that names the path and the fix."""
    with pytest.raises(DataFileError) as info:
        sn.load(source, **kwargs)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, SalesnbError)
    assert isinstance(err, OSError)
    assert "Fix:" in str(err)
    assert err.fix and err.path
    return err


# ---------------------------------------------------------------- the raw tables, in code
def raw_opportunities() -> pd.DataFrame:
    """Three deals with typed columns (naive datetimes, float amounts)."""
    return pd.DataFrame({
        "opportunity_id": ["o1", "o2", "o3"],
        "owner": ["Sara", "Ali", "Sara"],
        "created_at": pd.to_datetime(["2025-01-05 00:00", "2025-01-06 09:30", "2025-01-07 00:00"]),
        "status": ["won", "lost", "open"],
        "closed_at": pd.to_datetime(["2025-02-01 00:00", "2025-02-10 17:00", None]),
        "amount": [1000.0, 500.5, np.nan],
        "stage": [None, "qualified", "proposal"],
        "lost_reason": [None, "price", None],
        "region": ["north", "south", "north"],
    })


def raw_history() -> pd.DataFrame:
    return pd.DataFrame({
        "opportunity_id": ["o1", "o1", "o1", "o2", "o2", "o3"],
        "stage": ["lead", "qualified", "won", "lead", "lost", "lead"],
        "entered_at": pd.to_datetime(["2025-01-05 00:00", "2025-01-10 00:00", "2025-02-01 00:00",
                                      "2025-01-06 09:30", "2025-02-10 17:00", "2025-01-07 00:00"]),
    })


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as a CSV export would hold it (ISO text, blanks for missing)."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out


def write_csv_folder(folder: Path) -> Path:
    folder.mkdir()
    as_text(raw_opportunities()).to_csv(folder / "opportunities.csv", index=False)
    as_text(raw_history()).to_csv(folder / "stage_history.csv", index=False)
    (folder / "funnel.yml").write_text(FUNNEL, encoding="utf-8")
    return folder


def write_parquet_folder(folder: Path) -> Path:
    folder.mkdir()
    raw_opportunities().to_parquet(folder / "opportunities.parquet")
    raw_history().to_parquet(folder / "stage_history.parquet")
    (folder / "funnel.yml").write_text(FUNNEL, encoding="utf-8")
    return folder


def write_workbook(path: Path) -> Path:
    path.parent.mkdir(exist_ok=True)
    with pd.ExcelWriter(path) as writer:
        as_text(raw_opportunities()).to_excel(writer, sheet_name="opportunities", index=False)
        raw_history().to_excel(writer, sheet_name="stage_history", index=False)
    (path.parent / "funnel.yml").write_text(FUNNEL, encoding="utf-8")
    return path


CANONICAL = ["opportunity_id", "owner", "created_at", "status", "closed_at", "amount", "stage",
             "lost_reason", "team", "account", "product", "source", "currency"]


# ---------------------------------------------------------------- formats agree
def test_csv_folder_loads_as_expected(tmp_path: Path) -> None:
    data = sn.load(write_csv_folder(tmp_path / "csv"))
    opps = data.opportunities
    assert data.source == str(tmp_path / "csv" / "opportunities.csv")
    assert data.has_history is True
    assert opps["opportunity_id"].tolist() == ["o1", "o2", "o3"]
    assert [t.isoformat() for t in opps["created_at"]] == [
        "2025-01-05T00:00:00+03:30", "2025-01-06T09:30:00+03:30", "2025-01-07T00:00:00+03:30"]
    assert opps["closed_at"].iloc[1].isoformat() == "2025-02-10T17:00:00+03:30"
    assert opps["amount"].iloc[:2].tolist() == [1000.0, 500.5]
    assert opps["region"].tolist() == ["north", "south", "north"]
    hist = data.stage_history
    assert hist["stage"].tolist() == ["lead", "qualified", "won", "lead", "lost", "lead"]
    assert data.settings.stages == ("lead", "qualified", "proposal")


@pytest.mark.parametrize("layout", ["parquet", "workbook folder", "workbook path"])
def test_formats_give_equal_frames(tmp_path: Path, layout: str) -> None:
    expected = sn.load(write_csv_folder(tmp_path / "csv"))
    if layout == "parquet":
        data = sn.load(write_parquet_folder(tmp_path / "pq"))
    elif layout == "workbook folder":
        data = sn.load(write_workbook(tmp_path / "xl" / "crm.xlsx").parent)
    else:
        data = sn.load(write_workbook(tmp_path / "xl" / "crm.xlsx"))
    pd.testing.assert_frame_equal(data.opportunities[CANONICAL], expected.opportunities[CANONICAL])
    assert data.opportunities["region"].tolist() == ["north", "south", "north"]
    pd.testing.assert_frame_equal(data.stage_history, expected.stage_history)
    assert data.settings.to_dict() == expected.settings.to_dict()


def test_workbook_source_names_the_sheet(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "xl" / "crm.xlsx")
    assert sn.load(path).source == f"{path} [opportunities]"


def test_workbook_errors_name_the_sheet_and_row(tmp_path: Path) -> None:
    path = tmp_path / "crm.xlsx"
    frame = as_text(raw_opportunities())
    frame.loc[1, "status"] = "Pending"
    frame.loc[2, "opportunity_id"] = None
    frame.loc[2, "created_at"] = "someday"
    with pd.ExcelWriter(path) as writer:
        frame.to_excel(writer, sheet_name="opportunities", index=False)
    with pytest.raises(DataSchemaError) as info:
        sn.load(path)
    msg = str(info.value)
    assert f"{path} [opportunities], column 'status'" in msg
    assert "offending rows: 'o2' (1 row)" in msg
    # No id: the sheet row (header is row 1, the third deal is row 4).
    assert f"{path} [opportunities], column 'created_at'" in msg
    assert "offending rows: 'line 4' (1 row)" in msg


def test_parquet_aware_datetimes_are_converted(tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    opps = raw_opportunities()
    opps["created_at"] = opps["created_at"].dt.tz_localize("UTC")
    opps.to_parquet(folder / "opportunities.parquet")
    (folder / "funnel.yml").write_text(FUNNEL, encoding="utf-8")
    created = sn.load(folder).opportunities["created_at"]
    # 00:00 UTC is 03:30 in Tehran; 09:30 UTC is 13:00.
    assert [t.isoformat() for t in created[:2]] == ["2025-01-05T03:30:00+03:30",
                                                    "2025-01-06T13:00:00+03:30"]


def test_utf8_bom_is_accepted(make_dataset) -> None:
    folder = make_dataset(None, None)
    text = "\ufeff" + OPP_HEADER + "o1,سارا,2025-01-05,open\n"
    (folder / "opportunities.csv").write_text(text, encoding="utf-8")
    opps = sn.load(folder).opportunities
    assert opps.columns[0] == "opportunity_id"
    assert opps["owner"].tolist() == ["سارا"]


# ---------------------------------------------------------------- file-level errors
def test_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-data"
    err = file_error(missing)
    assert str(err).startswith(f"{missing}: no such file or folder")
    assert "opportunities.csv" in err.fix


def test_folder_without_opportunities_lists_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "stage_history.csv").write_text("opportunity_id,stage,entered_at\n", encoding="utf-8")
    (folder / "deals.csv").write_text(OPP_HEADER, encoding="utf-8")
    err = file_error(folder)
    msg = str(err)
    assert msg.startswith(f"{folder}: no opportunities table found "
                          "(files here: deals.csv, stage_history.csv)")
    assert "opportunities.csv or opportunities.parquet" in msg


def test_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    assert "(files here: (empty folder))" in str(file_error(folder))


def test_single_csv_instead_of_the_folder(good_dataset: Path) -> None:
    path = good_dataset / "opportunities.csv"
    err = file_error(path)
    msg = str(err)
    assert msg.startswith(f"{path}: is a single file")
    assert f"pass the folder that holds it ({good_dataset})" in msg


def test_zero_byte_opportunities(make_dataset) -> None:
    folder = make_dataset("", None)
    err = file_error(folder)
    assert str(err).startswith(f"{folder / 'opportunities.csv'}: the file is empty")


def test_zero_byte_history(make_dataset) -> None:
    folder = make_dataset(history="")
    assert str(file_error(folder)).startswith(f"{folder / 'stage_history.csv'}: the file is empty")


def test_blank_lines_only_is_empty(make_dataset) -> None:
    folder = make_dataset("\n\n", None)
    assert "the file is empty" in str(file_error(folder))


def test_header_only_opportunities(make_dataset) -> None:
    folder = make_dataset(OPP_HEADER, None)
    with pytest.raises(DataSchemaError) as info:
        sn.load(folder)
    msg = str(info.value)
    assert msg.startswith(f"{folder / 'opportunities.csv'}: has no rows")
    assert "Fix:" in msg and "at least one row" in msg


def test_malformed_csv(make_dataset) -> None:
    # The second data row (line 3) has two fields too many.
    folder = make_dataset(OPP_HEADER + "o1,Sara,2025-01-05,open\n"
                          + "o2,Sara,2025-01-05,open,extra,fields\n", None)
    msg = str(file_error(folder))
    assert f"{folder / 'opportunities.csv'}: is not a well-formed CSV" in msg
    assert "same number of fields" in msg
    assert "line 3" in msg


def test_trailing_commas_do_not_shift_columns(make_dataset) -> None:
    folder = make_dataset(OPP_HEADER + "o1,Sara,2025-01-05,open,\no2,Ali,2025-01-06,open,\n", None)
    try:
        data = sn.load(folder)
    except DataFileError:
        return  # refusing the file with a clear error is fine too
    assert data.opportunities["opportunity_id"].tolist() == ["o1", "o2"]
    assert data.opportunities["owner"].tolist() == ["Sara", "Ali"]


def test_corrupt_parquet(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "opportunities.parquet").write_bytes(b"this is not parquet")
    msg = str(file_error(folder))
    assert f"{folder / 'opportunities.parquet'}: cannot be read as Parquet" in msg


@pytest.mark.parametrize("table", ["opportunities", "stage_history"])
def test_both_csv_and_parquet(tmp_path: Path, table: str) -> None:
    folder = write_csv_folder(tmp_path / "data")
    raw = raw_opportunities() if table == "opportunities" else raw_history()
    raw.to_parquet(folder / f"{table}.parquet")
    msg = str(file_error(folder))
    assert msg.startswith(f"{folder}: both {table}.csv and {table}.parquet exist")
    assert "keep one format" in msg


def test_workbook_without_opportunities_sheet(tmp_path: Path) -> None:
    path = tmp_path / "crm.xlsx"
    with pd.ExcelWriter(path) as writer:
        as_text(raw_opportunities()).to_excel(writer, sheet_name="deals", index=False)
    msg = str(file_error(path))
    assert msg.startswith(f"{path}: has no 'opportunities' sheet (sheets: deals)")


def test_folder_with_two_workbooks_is_ambiguous(tmp_path: Path) -> None:
    folder = tmp_path / "xl"
    write_workbook(folder / "a.xlsx")
    write_workbook(folder / "b.xlsx")
    assert "no opportunities table found (files here: a.xlsx, b.xlsx, funnel.yml)" in str(
        file_error(folder))


# ---------------------------------------------------------------- encodings
def test_cp1256_file_fails_as_utf8_then_loads_with_its_encoding(make_dataset) -> None:
    folder = make_dataset(None, None)
    path = folder / "opportunities.csv"
    path.write_bytes((OPP_HEADER + "o1,سارا,2025-01-05,open\n").encode("cp1256"))
    # The header is 39 bytes and "o1," 3 more: the first Persian byte is byte 42 (0-based).
    err = file_error(folder)
    msg = str(err)
    assert msg.startswith(f"{path}: is not valid utf-8 text (invalid continuation byte at byte 42, line 2)")
    assert "UTF-8" in err.fix and "encoding=" in err.fix
    data = sn.load(folder, encoding="cp1256")
    assert data.opportunities["owner"].tolist() == ["سارا"]


def test_latin1_file(make_dataset) -> None:
    folder = make_dataset(None, None)
    path = folder / "opportunities.csv"
    path.write_bytes((OPP_HEADER + "o1,José,2025-01-05,open\n").encode("latin-1"))
    # 39 header bytes + "o1,Jos" (6) = byte 45 holds the 0xE9 of "é".
    assert "at byte 45" in str(file_error(folder))
    assert sn.load(folder, encoding="latin-1").opportunities["owner"].tolist() == ["José"]


def test_history_encoding_error_names_the_history_file(make_dataset) -> None:
    folder = make_dataset(history=None)
    path = folder / "stage_history.csv"
    path.write_bytes("opportunity_id,stage,entered_at\no1,سرنخ,2025-01-05\n".encode("cp1256"))
    # "opportunity_id,stage,entered_at\n" is 32 bytes, "o1," 3 more.
    assert str(file_error(folder)).startswith(f"{path}: is not valid utf-8 text "
                                              "(invalid continuation byte at byte 35, line 2)")


def test_encoding_error_byte_offset_in_a_large_file(make_dataset) -> None:
    folder = make_dataset(None, None)
    head = OPP_HEADER.encode()
    body = "".join(f"o{i:06d},Sara,2025-01-05,open\n" for i in range(40_000)).encode()
    (folder / "opportunities.csv").write_bytes(head + body + "x1,José,2025-01-05,open\n"
                                               .encode("latin-1"))
    offset = len(head) + len(body) + len(b"x1,Jos")  # 39 + 40000 * 29 + 6 = 1_160_045
    assert offset == 1_160_045
    assert f"at byte {offset}" in str(file_error(folder))


# --- regressions found by the fuzz tests (tests/test_fuzz.py), one per cause
@pytest.mark.parametrize(("encoding", "words"), [
    ("utf-9", "unknown text encoding 'utf-9'"),
    ("", "the text encoding must be a codec name, got ''"),
    ("hex", "'hex' is a binary codec, not a text encoding"),
])
def test_unknown_encoding_name_is_refused_before_reading(good_dataset: Path, encoding: str, words: str) -> None:
    with pytest.raises(DataFileError) as info:
        sn.load(good_dataset, encoding=encoding)
    assert words in str(info.value) and "utf-8" in info.value.fix


def test_utf16_without_byte_order_mark_names_the_file(make_dataset) -> None:
    folder = make_dataset(None, None)
    path = folder / "opportunities.csv"
    path.write_bytes((OPP_HEADER + "o1,Sara,2025-01-05,open\n").encode("utf-16-le"))
    msg = str(file_error(folder, encoding="utf-16"))
    assert msg.startswith(f"{path}: cannot be read as utf-16 text (UTF-16 stream does not start with BOM)")
    assert "utf-16-le" in msg
    assert sn.load(folder, encoding="utf-16-le").opportunities["owner"].tolist() == ["Sara"]


@pytest.mark.parametrize("name", ["stage_history.csv", "opportunities.csv", "funnel.yml"])
def test_folder_in_place_of_a_file_is_named(good_dataset: Path, name: str) -> None:
    path = good_dataset / name
    path.unlink(missing_ok=True)
    path.mkdir()
    with pytest.raises(SalesnbError) as info:
        sn.load(good_dataset)
    assert f"{path}: is a folder, not a file" in str(info.value)


def test_cell_larger_than_the_csv_modules_limit_still_gets_line_labels(make_dataset) -> None:
    # A 200 kB cell above a row without an id: the error names that row by its line, read
    # with the csv module (whose default field limit is 128 KiB).
    folder = make_dataset(OPP_HEADER.rstrip("\n") + ",note\n" + "o1,Sara,2025-01-05,open," + "a" * 200_000 + "\n"
                          + ",Sara,2025-01-05,open,x\n", None)
    with pytest.raises(DataSchemaError) as info:
        sn.load(folder)
    assert "line 3" in str(info.value)
