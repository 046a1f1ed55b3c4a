"""One option checker: case-insensitive, one error class naming the accepted values;
library errors in parameter names, the command line in its flags."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pandas as pd
import pytest

import salesnb as sn
from salesnb._options import CALENDARS, LANGUAGES, PERIODS, check_option
from salesnb.cli import main
from salesnb.data.mapping_apply import apply_mapping
from salesnb.data.readers import read_workbook
from salesnb.report.period import resolve_period

ROOT = Path(__file__).resolve().parent.parent


def test_the_message_names_the_parameter_the_choices_and_the_value() -> None:
    with pytest.raises(sn.OptionError) as info:
        check_option("calendar", "x", CALENDARS)
    assert str(info.value) == ("The value for `calendar` must be one of ['gregorian', 'jalali'], "
                               "but 'x' was passed.")
    assert (info.value.name, info.value.value, info.value.options) == ("calendar", "x", CALENDARS)
    assert isinstance(info.value, ValueError) and isinstance(info.value, sn.SalesnbError)


@pytest.mark.parametrize("value", ["Jalali", " JALALI ", "jalali"])
def test_any_case_gives_the_canonical_value(value: str) -> None:
    assert check_option("calendar", value, CALENDARS) == "jalali"


def test_non_text_never_matches() -> None:
    with pytest.raises(sn.OptionError):
        check_option("period", None, PERIODS)


def test_every_library_entry_point_accepts_any_case(good_dataset: Path) -> None:
    data = sn.load(good_dataset)
    window = {"start": "2025-01-01", "end": "2025-03-01"}
    # calendar="Jalali" used to work in period_table and fail in win_rate.
    assert sn.period_table("1404-01-01", "1404-02-01", period="Month", calendar="Jalali")["period"].tolist() == [
        "1404-01"]
    assert sn.win_rate(data, **window, calendar="Gregorian").equals(sn.win_rate(data, **window))
    assert sn.won_lost(data, **window, period="MONTH", by="Owner").equals(sn.won_lost(data, **window))
    assert sn.time_in_stage(data, **window, by="OWNER").columns[1] == "owner"
    ctx = sn.notebook.prepare(data_path=str(good_dataset), language="FA", period="Week", calendar="Jalali",
                              interactive=False)
    assert (ctx.language, ctx.period, ctx.calendar) == ("fa", "week", "jalali")
    assert LANGUAGES == sn.notebook.LANGUAGES


def test_an_unknown_by_column_names_the_columns(good_dataset: Path) -> None:
    with pytest.raises(sn.OptionError, match=r"`by` must be one of \[.*'owner'.*\], but 'region2'"):
        sn.won_lost(sn.load(good_dataset), by="region2")


def test_report_period_errors_speak_in_parameter_names() -> None:
    data = sn.load(sn.sample_path())
    with pytest.raises(sn.WindowError, match="give either `period` or `start`/`end`"):
        resolve_period(data, period="last-month", start="1404-01-01", end="1404-02-01")
    with pytest.raises(sn.WindowError, match="`period` 'next-tuesday' is not understood"):
        resolve_period(data, period="next-tuesday")
    assert resolve_period(data, period="LAST-MONTH")[1] == resolve_period(data, period="last-month")[1]


def test_the_command_line_translates_parameter_names_into_its_flags(
        capsys: pytest.CaptureFixture[str]) -> None:
    sample = str(sn.sample_path())
    assert main(["kpi", sample, "--start", "1404-01-01", "--end", "1404-02-01", "--as-of", "1403-12-01"]) == 2
    err = capsys.readouterr().err
    assert "`--as-of` (" in err and "is before `--end`" in err and "`as_of`" not in err
    assert main(["kpi", sample, "--start", "1404-01-01", "--end", "1404-02-01", "--band", "-1"]) == 2
    assert "`--band`=-1.0 is negative" in capsys.readouterr().err
    assert main(["report", sample, "--period", "next-tuesday"]) == 2
    assert "`--period` 'next-tuesday' is not understood" in capsys.readouterr().err
    assert main(["report", sample, "--period", "1404-06", "--start", "1404-01-01", "--end", "1404-02-01"]) == 2
    assert "give either `--period` or `--start`/`--end`" in capsys.readouterr().err


def test_the_command_line_checks_options_in_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    sample = str(sn.sample_path())
    args = ["kpi", sample, "--start", "2025-03-21", "--end", "2025-04-21", "--json"]
    assert main([*args, "--calendar", "Gregorian"]) == 0
    upper = json.loads(capsys.readouterr().out)
    assert main([*args, "--calendar", "gregorian"]) == 0
    assert json.loads(capsys.readouterr().out) == upper
    with pytest.raises(SystemExit) as info:
        main([*args, "--calendar", "persian"])
    assert info.value.code == 2
    assert "'persian' is not one of gregorian, jalali" in capsys.readouterr().err


def test_version_has_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"salesnb {sn.__version__}"
    assert importlib.metadata.version("salesnb") == sn.__version__


def test_notebooks_command_copies_the_notebooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shipped = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert main(["notebooks", str(tmp_path / "nbs")]) == 0
    assert sorted(p.name for p in (tmp_path / "nbs").iterdir()) == shipped
    assert main(["notebooks", str(tmp_path / "nbs")]) == 1  # nothing is overwritten by accident
    assert "already there" in capsys.readouterr().err
    assert main(["notebooks", str(tmp_path / "nbs"), "--force"]) == 0


def test_one_workbook_reader_for_datasets_and_mappings(tmp_path: Path) -> None:
    # Numbers and dates stored as such in the workbook: both the canonical loader and a
    # mapping read them the same way (cells as stored, one rule to text).
    opps = pd.DataFrame({"opportunity_id": [101, 102], "owner": ["Sara", "Ali"],
                         "created_at": pd.to_datetime(["2025-01-05", "2025-01-06"]),
                         "status": ["won", "open"], "closed_at": [pd.Timestamp("2025-02-01"), pd.NaT],
                         "amount": [1000.0, 2500.5]})
    book = tmp_path / "crm.xlsx"
    with pd.ExcelWriter(book) as writer:
        opps.to_excel(writer, sheet_name="opportunities", index=False)
    sheets = read_workbook(book)
    assert list(sheets) == ["opportunities"] and sheets["opportunities"]["opportunity_id"].dtype == object
    loaded = sn.load(book)
    mapped = apply_mapping(book, {"file": "crm.xlsx", "columns": {c: c for c in opps.columns}}).data
    cols = ["opportunity_id", "owner", "created_at", "status", "closed_at", "amount"]
    pd.testing.assert_frame_equal(loaded.opportunities[cols], mapped.opportunities[cols])
    assert loaded.opportunities["opportunity_id"].tolist() == ["101", "102"]
