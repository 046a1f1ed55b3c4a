"""The data as known at a moment is an explicit object with a bounded cache."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import salesnb as sn
from salesnb.data.dataset import DERIVED_KEPT, SNAPSHOTS_KEPT, Snapshot
from salesnb.metrics.stages import current_stage


@pytest.fixture
def data(good_dataset: Path) -> sn.SalesData:
    return sn.load(good_dataset)


def test_at_returns_the_data_as_known_then(data: sn.SalesData) -> None:
    snap = data.at("2025-02-05")
    assert isinstance(snap, Snapshot)
    assert snap.as_of == pd.Timestamp("2025-02-05", tz="UTC")
    opps = snap.opportunities.set_index("opportunity_id")
    # o1 was won on 02-01 (known), o2 lost on 02-10 (not yet): still open then.
    assert opps.loc["o1", "status_asof"] == "won" and opps.loc["o2", "status_asof"] == "open"
    assert pd.isna(opps.loc["o2", "closed_asof"])
    assert snap.history["entered_at"].max() <= snap.as_of
    # the same moment, written another way, is the same snapshot
    assert data.at(pd.Timestamp("2025-02-05T03:30", tz="Asia/Tehran")) is snap
    # opportunities is a copy callers may extend without touching the snapshot
    table = snap.opportunities
    table["extra"] = 1
    assert "extra" not in snap.opportunities.columns


def test_before_anything_existed_nothing_is_known(data: sn.SalesData) -> None:
    snap = data.at("2025-01-01")
    assert len(snap.opportunities) == 0 and len(snap.history) == 0


def test_moving_as_of_ten_thousand_times_keeps_memory_bounded(data: sn.SalesData) -> None:
    start = pd.Timestamp("2025-01-05", tz="UTC")
    moments = [start + pd.Timedelta(minutes=i) for i in range(10_000)]

    def move(chunk: list[pd.Timestamp]) -> None:
        for i, moment in enumerate(chunk):
            snap = data.at(moment)
            if i % 50 == 0:  # build the tables of some (all of them would only be slower)
                snap.opportunities  # noqa: B018
                snap.history  # noqa: B018
            assert len(data._snapshots) <= SNAPSHOTS_KEPT

    gc.collect()
    tracemalloc.start()
    try:
        held = []
        for chunk in range(10):
            move(moments[chunk * 1_000:(chunk + 1) * 1_000])
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    assert len(data._snapshots) == SNAPSHOTS_KEPT
    # What stays held is SNAPSHOTS_KEPT snapshots plus pandas' list of weak references to
    # views of the dataset's columns, which it sweeps in batches (a saw-tooth under a
    # fixed ceiling); 10,000 snapshots kept would hold several MB.
    assert max(held) < 1_500_000, held
    assert held[-1] < 2 * max(held[:5]) + 100_000, held


def test_a_snapshot_keeps_at_most_derived_kept_tables(data: sn.SalesData) -> None:
    snap = data.at("2025-03-01")
    for i in range(3 * DERIVED_KEPT):
        assert snap.derived(("window", i), lambda i=i: np.arange(i)) is not None
    assert len(snap._derived) == DERIVED_KEPT
    assert snap.kept(("window", 0)) is None and snap.kept(("window", 3 * DERIVED_KEPT - 1)) is not None


def test_current_stage_needs_no_earlier_call(data: sn.SalesData) -> None:
    # A fresh snapshot, and nothing computed before: current_stage computes what it needs.
    snap = data.at("2025-01-12")
    assert snap.kept("last_open") is None
    opps = snap.opportunities
    cur = current_stage(snap, opps).set_index(opps["opportunity_id"])
    assert cur.loc["o1", "stage"] == "qualified" and cur.loc["o3", "stage"] == "qualified"
    assert bool(cur["from_history"].all())


def test_kpis_are_the_same_from_a_cold_or_a_warm_cache(data: sn.SalesData, good_dataset: Path) -> None:
    window = {"start": "2025-01-01", "end": "2025-03-01"}
    warm = [sn.funnel(data, **window), sn.kpi_summary(data, **window)]
    cold = sn.load(good_dataset)
    assert sn.kpi_summary(cold, **window) == warm[1]
    pd.testing.assert_frame_equal(sn.funnel(cold, **window), warm[0])


def test_a_subset_starts_with_no_snapshot(data: sn.SalesData) -> None:
    data.at("2025-02-01")
    sub = data.subset(owners=["Sara"])
    assert len(data._snapshots) == 1 and len(sub._snapshots) == 0
