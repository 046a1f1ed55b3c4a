"""``salesnb forecast``: a period's forecast against its targets, and ``--backtest``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from salesnb.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "data" / "sample")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["forecast", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_backtest_json_has_exactly_the_issues_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, SAMPLE, "--backtest", "--period", "1404-05", "--period", "1404-06",
                       "--lead-days", "30", "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["lead_days", "periods", "methods"]
    assert doc["lead_days"] == 30 and doc["periods"] == ["1404-05", "1404-06"]
    assert list(doc["methods"]) == ["salesnb", "stage_weighted"]      # no forecast_category here
    assert list(doc["methods"]["salesnb"]) == ["mae_amount", "mae_count", "coverage"]
    assert list(doc["methods"]["stage_weighted"]) == ["mae_amount", "mae_count"]
    assert 0 <= doc["methods"]["salesnb"]["coverage"] <= 1
    assert doc["methods"]["salesnb"]["mae_amount"] < doc["methods"]["stage_weighted"]["mae_amount"]


def test_backtest_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, SAMPLE, "--backtest", "--period", "1404-06", "--lead-days", "30")
    assert code == 0
    assert "1404-06" in out and "salesnb" in out and "stage_weighted" in out and "summary" in out


def test_forecast_json_with_the_samples_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, SAMPLE, "--period", "1404-08", "--as-of", "1404-08-15", "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["period", "start", "end", "as_of", "by", "groups", "total", "notes", "elapsed_share"]
    assert doc["period"] == "1404-08" and doc["by"] == "owner"
    assert doc["as_of"] == "2025-11-06T00:00:00+03:30"
    sara = next(g for g in doc["groups"] if g["owner"] == "سارا محمدی")
    for key in ("won_amount", "won_count", "expected_amount", "amount_low", "amount_high", "expected_count",
                "count_low", "count_high", "stage_weighted_amount", "stage_weighted_count", "targets"):
        assert key in sara
    assert sara["targets"]["won_amount"]["target"] == 7e9
    total = doc["total"]
    assert set(total["targets"]) == {"won_amount", "won_count", "created_count"}
    assert total["amount_low"] <= total["expected_amount"] <= total["amount_high"]
    assert abs(sum(g["expected_count"] for g in doc["groups"]) - total["expected_count"]) < 1e-6


def test_forecast_text_by_team_with_a_targets_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    targets = tmp_path / "t.csv"
    targets.write_text("period,team,measure,target\n1404-08,Tehran,won_amount,20000000000\n", encoding="utf-8")
    code, out, _ = run(capsys, SAMPLE, "--period", "1404-08", "--as-of", "1404-08-15", "--by", "team",
                       "--targets", str(targets))
    assert code == 0
    assert "Tehran" in out and "target won_amount: 20 billion IRR" in out and "TOTAL" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "1404-05", "--period", "1404-06"], "give one `--period`"),
    (["--backtest", "--period", "1404-05"], "needs `--lead-days`"),
    (["--period", "1404-05", "--lead-days", "30"], "goes with `--backtest`"),
    (["--backtest", "--period", "1404-09", "--lead-days", "30"], "outcome is not known yet"),
    (["--period", "1404-13"], "not a jalali period label"),
])
def test_usage_errors_exit_2_with_the_flags(capsys: pytest.CaptureFixture[str], args: list[str],
                                            message: str) -> None:
    code, _, err = run(capsys, SAMPLE, *args)
    assert code == 2
    assert message in err


def test_bad_targets_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    targets = tmp_path / "t.csv"
    targets.write_text("period,owner,measure,target\n1404-08,Nobody,won_amount,1\n", encoding="utf-8")
    code, _, err = run(capsys, SAMPLE, "--period", "1404-08", "--targets", str(targets))
    assert code == 1 and "Nobody" in err and "line 2" in err
