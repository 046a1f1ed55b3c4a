"""Today's numbers equal the golden outputs written before the large changes.

The goldens (``tests/golden/``, see ``generate.py`` there) were written by the code at
commit baef83d: the ``salesnb kpi --json`` document of 16 cases (sample, Maven, a
generated Gregorian dataset; several windows, ``--as-of``, ``--band``) and every public
KPI table of the sample for two windows. A difference here means a number moved.
"""

from __future__ import annotations

import json
import math
import pickle
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from salesnb.cli import main

HERE = Path(__file__).resolve().parent / "golden"
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from generate import KPI_CASES, TABLE_WINDOWS  # noqa: E402

sys.path.remove(str(HERE))


def same(a: Any, b: Any, path: str = "") -> list[str]:
    """Differences between two JSON values (floats equal to 1e-12 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}: keys {sorted(set(a) ^ set(b))}"] if set(a) != set(b) else []
        for k in sorted(set(a) & set(b)):
            out += same(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) else [f"{path}: {a!r} != {b!r}"]
    return [] if (a == b and type(a) is type(b)) else [f"{path}: {a!r} != {b!r}"]


@pytest.mark.parametrize("case", sorted(KPI_CASES))
def test_kpi_json_matches_golden(case: str, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    data, args = KPI_CASES[case]
    monkeypatch.chdir(ROOT)
    assert main(["kpi", data, *args, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = json.loads((HERE / "kpi" / f"{case}.json").read_text(encoding="utf-8"))
    assert same(got, want) == []


#: Where classes pickled in the goldens live now (the only change allowed here: import paths).
MOVED = {("salesnb._common", "Window"): ("salesnb.metrics.window", "Window")}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(*MOVED.get((module, name), (module, name)))


@pytest.fixture(scope="module")
def golden_tables() -> dict[str, Any]:
    with open(HERE / "tables" / "sample.pkl", "rb") as fh:
        return _Unpickler(fh).load()  # written by tests/golden/generate.py from our own code


def test_table_golden_cases_cover_both_windows(golden_tables: dict[str, Any]) -> None:
    windows = {name.split("/")[0] for name in golden_tables if "/" in name}
    assert windows == set(TABLE_WINDOWS)


def test_public_tables_match_golden(golden_tables: dict[str, Any]) -> None:
    sys.path.insert(0, str(HERE))
    try:
        import generate
    finally:
        sys.path.remove(str(HERE))
    current = generate.table_goldens()
    assert sorted(current) == sorted(golden_tables)
    problems = []
    for name, want in golden_tables.items():
        got = current[name]
        try:
            if isinstance(want, pd.DataFrame):
                _frames_equal(_without_additions(name, got, want), want)
            else:
                assert same(json.loads(json.dumps(got, default=str)),
                            json.loads(json.dumps(want, default=str))) == []
        except AssertionError as err:
            problems.append(f"{name}: {str(err)[:600]}")
    assert problems == []


#: Documented additions since the goldens, per table: columns and attrs that may be new
#: (issue 14: the backtest's AUC, references and fallback; risk's model attrs). Every
#: golden column and attr must still be there and equal.
ADDED: dict[str, tuple[set[str], set[str]]] = {
    "risk": (set(), {"model", "n_won", "n_lost", "landmarks"}),
    # issue 15: the per-stage rotting_days rule beside the historical one.
    "stuck_opportunities": ({"rotting_days", "rule"}, set()),
    "backtest": ({"auc_model", "auc_baseline", "auc_stage_horizon", "mean_stage_age", "brier_stage_age",
                  "log_loss_stage_age", "auc_stage_age", "crm_scale", "n_crm", "mean_crm", "brier_crm",
                  "log_loss_crm", "auc_crm", "brier_model_crm_deals", "log_loss_model_crm_deals", "model",
                  "n_won_before", "n_lost_before", "note"}, set()),
}


def _without_additions(name: str, got: pd.DataFrame, want: pd.DataFrame) -> pd.DataFrame:
    columns, attrs = ADDED.get(name.split("/")[-1], (set(), set()))
    extra = [c for c in got.columns if c not in want.columns]
    assert set(extra) <= columns, f"undocumented new columns {sorted(set(extra) - columns)}"
    assert set(got.attrs) - set(want.attrs) <= attrs, "undocumented new attrs"
    kept = got.drop(columns=extra)
    kept.attrs = {k: v for k, v in got.attrs.items() if k in want.attrs}
    return kept


def _frames_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=1e-12)
    assert sorted(got.attrs) == sorted(want.attrs)
    for key, value in want.attrs.items():
        if isinstance(value, pd.DataFrame):
            _frames_equal(got.attrs[key], value)
        else:
            assert str(got.attrs[key]) == str(value), key
