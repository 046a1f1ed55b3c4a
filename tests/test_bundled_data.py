"""The bundled sample is exactly what `salesnb sample` generates, in every copy."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pandas as pd
import pytest

import salesnb as sn
from salesnb.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def test_regenerating_the_sample_gives_identical_files(tmp_path: Path) -> None:
    # The command documented in the README / Makefile (`make data`).
    assert main(["sample", str(tmp_path / "sample"), "--n", "2000", "--seed", "1", "--field-history",
                 "--sqlite", str(tmp_path / "sample.sqlite")]) == 0
    for name in ("opportunities.csv", "stage_history.csv", "field_history.csv", "funnel.yml"):
        assert filecmp.cmp(tmp_path / "sample" / name, SAMPLE / name, shallow=False), name
    fresh = sn.load(f"sqlite:///{tmp_path / 'sample.sqlite'}")
    shipped = sn.load(f"sqlite:///{ROOT / 'data' / 'sample.sqlite'}")
    pd.testing.assert_frame_equal(fresh.opportunities, shipped.opportunities)
    pd.testing.assert_frame_equal(fresh.stage_history, shipped.stage_history)
    pd.testing.assert_frame_equal(fresh.field_history, shipped.field_history)


def test_the_goldens_sample_is_the_bundled_sample_without_its_field_history(tmp_path: Path) -> None:
    """The KPI goldens read the bundled sample without its field history (tests/golden/
    generate.py): that is exactly what the generator writes without --field-history."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "golden"))
    try:
        from generate import SAMPLE as GOLDEN_SAMPLE
    finally:
        sys.path.remove(str(ROOT / "tests" / "golden"))
    assert main(["sample", str(tmp_path / "plain"), "--n", "2000", "--seed", "1"]) == 0
    for name in ("opportunities.csv", "stage_history.csv", "funnel.yml"):
        assert filecmp.cmp(tmp_path / "plain" / name, ROOT / GOLDEN_SAMPLE / name, shallow=False), name
    assert not (ROOT / GOLDEN_SAMPLE / "field_history.csv").exists()


def test_sample_path_points_at_the_bundled_sample() -> None:
    assert sn.sample_path() == SAMPLE
    data = sn.load(sn.sample_path())
    assert data.settings.calendar == "jalali"
    assert data.settings.timezone == "Asia/Tehran"
    assert data.settings.currency == "IRR"
    assert len(data.opportunities) == 2000


def test_unknown_bundled_dataset_is_a_clear_error() -> None:
    with pytest.raises(sn.DataFileError, match="bundled dataset not found"):
        sn.sample_path("nope")
