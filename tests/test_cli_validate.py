"""``salesnb validate DATA``: summary on success, every problem on failure, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from salesnb.cli import main

ROOT = Path(__file__).resolve().parents[1]
HEADER = "opportunity_id,owner,created_at,status,closed_at,amount\n"


def test_validate_good_folder(good_dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(good_dataset)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"source: {good_dataset / 'opportunities.csv'}"
    assert "opportunities: 3 (open 1, won 1, lost 1); without amount: 1" in lines
    assert "stage history: 10 rows for 3 opportunities" in lines
    # First event: o1 created 2025-01-05; last: o2 lost 2025-02-10 (UTC by default).
    assert "events from 2025-01-05T00:00:00+00:00 to 2025-02-10T00:00:00+00:00" in lines
    assert "salespeople: 2 (Ali, Sara); teams: 0" in lines
    assert "extra columns kept: region" in lines
    assert ("  stages: lead → qualified → proposal (inferred from the stage history); "
            "outcomes: won / lost") in lines
    assert "  timezone: UTC (default)" in lines
    assert "  calendar: gregorian (default)" in lines
    assert any(line.startswith("  - stage order inferred from the data: lead → qualified → proposal")
               for line in lines)
    assert lines[-1] == "OK: no problems found"


def test_validate_reports_configured_settings(make_dataset,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_dataset(funnel="stages: [lead, qualified, proposal]\ntimezone: Asia/Tehran\n"
                                 "calendar: jalali\n")
    assert main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "  stages: lead → qualified → proposal (configured); outcomes: won / lost" in out
    assert "  timezone: Asia/Tehran\n" in out
    assert "  week_start: saturday (default)" in out
    assert "inferred" not in out


def test_validate_bad_folder_prints_every_problem(make_dataset,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_dataset(HEADER
                          + "o1,Sara,2025-01-05,open,,10\n"
                          + "o1,Ali,2025-01-06,open,,10\n"
                          + "o2,Ali,2025-01-06,Pending,,10\n"
                          + "o3,Ali,2025-01-06,won,2025-01-01,x\n", None)
    assert main(["validate", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    path = folder / "opportunities.csv"
    assert err.startswith(f"{folder}: INVALID — 4 problem(s)")
    assert "4 problems found in the data:" in err
    assert f"{path}, column 'opportunity_id': has duplicate ids" in err
    assert f"{path}, column 'status': has unknown statuses" in err
    assert f"{path}, column 'amount': has values that cannot be read as a number" in err
    assert f"{path}, column 'closed_at': is before created_at" in err
    assert err.count("Fix:") == 4


def test_validate_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["validate", str(missing)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"error: {missing}: no such file or folder" in err
    assert "Fix: pass a dataset folder" in err


def test_validate_bad_settings_file(make_dataset, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_dataset(funnel="- lead\n")
    assert main(["validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"error: {folder / 'funnel.yml'}: expected a mapping of settings" in err
    assert "Fix:" in err


def test_validate_with_settings_and_encoding_options(make_dataset, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_dataset(None, None)
    (folder / "opportunities.csv").write_bytes(
        "opportunity_id,owner,created_at,status\no1,سارا,2025-01-05,open\n".encode("cp1256"))
    settings = tmp_path / "settings.yml"
    settings.write_text("calendar: jalali\n", encoding="utf-8")
    assert main(["validate", str(folder), "--encoding", "cp1256", "--settings", str(settings)]) == 0
    out = capsys.readouterr().out
    assert "salespeople: 1 (سارا)" in out
    assert "  calendar: jalali\n" in out
    assert "stage history: none supplied" in out


def test_validate_wrong_encoding_exits_1(make_dataset, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_dataset(None, None)
    (folder / "opportunities.csv").write_bytes(
        "opportunity_id,owner,created_at,status\no1,سارا,2025-01-05,open\n".encode("cp1256"))
    assert main(["validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "is not valid utf-8 text" in err and "--encoding cp1256" in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    assert "DATA" in capsys.readouterr().err


def test_python_dash_m_entry_point(good_dataset: Path, make_dataset) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "salesnb", "validate", str(good_dataset)],
                        capture_output=True, text=True, env=env, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "opportunities: 3 (open 1, won 1, lost 1)" in ok.stdout
    assert ok.stdout.rstrip().endswith("OK: no problems found")

    bad = make_dataset(HEADER + "o1,Sara,2025-01-05,maybe,,\n", None, name="bad")
    failed = subprocess.run([sys.executable, "-m", "salesnb", "validate", str(bad)],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert failed.returncode == 1
    assert "INVALID — 1 problem(s)" in failed.stderr
    assert "offending values: 'maybe'" in failed.stderr


# --------------------------------------------------------------------------- --json, --strict, recognition
FIXTURES = ROOT / "tests" / "fixtures" / "presets"


def test_validate_json_of_a_canonical_dataset(good_dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["validate", str(good_dataset), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["mapping"] is None and doc["strict"] is True and doc["problems"] == []
    opps = doc["tables"]["opportunities"]
    assert (opps["rows_read"], opps["rows_loaded"], opps["set_aside"], opps["repaired"]) == (3, 3, {}, {})
    assert opps["encoding"] == "utf-8" and doc["tables"]["stage_history"]["rows_read"] == 10
    assert doc["stage_order"] == {"source": "inferred from the stage history", "inferred":
                                  ["lead", "qualified", "proposal"], "stages": ["lead", "qualified", "proposal"],
                                  "pipelines": {}}
    assert doc["dataset"]["status"] == {"open": 1, "won": 1, "lost": 1}


def test_validate_json_lists_every_problem(make_dataset, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    folder = make_dataset(HEADER + "o1,Sara,2025-01-05,open,,10\no1,Ali,2025-01-06,maybe,,-3\n", None)
    assert main(["validate", str(folder), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False
    by_column = {p["column"]: p for p in doc["problems"]}
    assert set(by_column) == {"opportunity_id", "status", "amount"}
    assert by_column["status"]["values"] == ["maybe"] and by_column["status"]["count"] == 1
    assert by_column["amount"]["fix"].startswith("amounts must be >= 0")
    assert all(p["source"].endswith("opportunities.csv") for p in doc["problems"])


def test_validate_json_of_an_export_and_strict(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    folder = FIXTURES / "pipedrive" / "list_en"
    assert main(["validate", str(folder), "--mapping", "pipedrive", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    opps = doc["tables"]["opportunities"]
    assert opps["rows_read"] == opps["rows_loaded"] + sum(opps["set_aside"].values())
    assert opps["repaired"] == {"negative_amount": 1} and opps["encoding"] == "utf-8"
    assert doc["stage_order"]["pipelines"]["Renewals"] == ["Review", "Quote"]
    assert any("placed by inference" in w for w in doc["warnings"])
    # --strict: the negative amount is an error naming the file, the column, the row and the fix.
    assert main(["validate", str(folder), "--mapping", "pipedrive", "--strict", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["strict"] is True
    (problem,) = doc["problems"]
    assert problem["rule"] == "negative amount (negative_amount)"
    assert problem["column"] == "Deal - Value" and problem["rows"] == ["106 (line 7)"]
    assert "without --strict" in problem["fix"]
    assert main(["validate", str(folder), "--mapping", "pipedrive", "--strict"]) == 1
    err = capsys.readouterr().err
    assert "INVALID — 1 problem(s)" in err and "column 'Deal - Value': negative amount (negative_amount)" in err


@pytest.mark.parametrize(("fixture", "preset"), [
    ("salesforce/data_export_cp1252", "salesforce"), ("salesforce/report_us", "salesforce"),
    ("hubspot/all_properties", "hubspot"), ("hubspot/internal_names", "hubspot"),
    ("pipedrive/list_de", "pipedrive"), ("pipedrive/account_export_pt", "pipedrive")])
def test_validate_without_mapping_names_the_preset(fixture: str, preset: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import json

    folder = FIXTURES / fixture
    assert main(["validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"this looks like an export the preset '{preset}' reads" in err
    assert f"Fix: add --mapping {preset}" in err
    assert main(["validate", str(folder), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["recognised"]["preset"] == preset and doc["ok"] is False


def test_kpi_with_strict_and_a_recognised_export(capsys: pytest.CaptureFixture[str]) -> None:
    folder = FIXTURES / "hubspot" / "all_properties"
    args = ["kpi", str(folder), "--start", "2023-03-01", "--end", "2023-06-01", "--json"]
    assert main(args) == 1
    assert "--mapping hubspot" in capsys.readouterr().err
    assert main([*args, "--mapping", "hubspot"]) == 0
    capsys.readouterr()
    assert main([*args, "--mapping", "hubspot", "--strict"]) == 1
    err = capsys.readouterr().err
    for rule in ("(blank_stage)", "(negative_amount)", "(closed_before_created)"):
        assert rule in err
    assert "column 'Amount': negative amount" in err
