"""The risk sweep against the per-deal definition, the fallback, and the backtest's new
references (AUC, stage × age, the CRM's own probability).

Expected values come from the slow reference implementation in ``risk_reference.py``
(per deal, through public views), from hand calculations in the comments, or from the
synthetic funnel of ``test_risk.py`` whose stage histories are known by construction.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest
from risk_reference import reference_risk
from test_risk import SYN_STAGES, SYN_START, T_TINY, Synthetic, frames, sample, tiny, truncate

import salesnb as sn
from salesnb.cli import main
from salesnb.metrics import deal_risk
from salesnb.metrics.backtesting import roc_auc
from salesnb.metrics.deal_risk import _probability_share, landmark_grid

DAY = pd.Timedelta(days=1)
HOUR_NS = 3_600 * 10**9


@cache
def small_synthetic() -> Synthetic:
    return Synthetic(n=900, seed=5, span_days=400.0)


@cache
def with_pipelines() -> sn.SalesData:
    """The small synthetic funnel split into two pipelines (every third deal in "partner")."""
    data = small_synthetic().data
    opps = data.opportunities.copy()
    opps["pipeline"] = np.where(np.arange(len(opps)) % 3 == 0, "partner", "direct")
    hist = data.stage_history[["opportunity_id", "stage", "entered_at"]]
    return sn.SalesData.from_frames(opps, hist, data.settings)


def compare(table: pd.DataFrame, ref: pd.DataFrame, at: pd.Timestamp) -> None:
    """Assert the sweep's table equals the reference, deal by deal."""
    got = table.set_index("opportunity_id").loc[ref.index]
    for column in ("p_win_horizon", "p_win_eventually"):
        np.testing.assert_allclose(got[column].to_numpy(float), ref[column].to_numpy(float),
                                   rtol=1e-9, atol=1e-12, err_msg=column)
    for column, days in (("expected_close_low", "close_low_days"), ("expected_close_high", "close_high_days")):
        want = (at + pd.Series(ref[days].to_numpy(float), index=ref.index) * DAY).dt.round("s")
        assert got[column].equals(want), column
    if "undecided_share" in ref.columns:
        modelled = ref["comparable_set"] != "stage baseline"
        np.testing.assert_allclose(got["undecided_share"][modelled], ref["undecided_share"][modelled],
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got["n_effective"][modelled], ref["n_effective"][modelled], rtol=1e-9)
    assert (got["n_comparable"] == ref["n_comparable"]).all()
    assert (got["comparable_set"] == ref["comparable_set"]).all()


# --------------------------------------------------------------------------- the grid
def test_landmark_grid_by_hand():
    # Every day up to 20 days, then 5 % steps: 20 d, 21 d, 22.05 d, 23.1525 d...
    grid = landmark_grid(24 * 86_400 * 10**9) / (24 * HOUR_NS)
    assert grid[:3].tolist() == [0.0, 1.0, 2.0]
    assert grid[20] == 20.0
    assert grid[21:24] == pytest.approx([21.0, 22.05, 23.1525])
    assert (np.diff(grid) > 0).all()


# --------------------------------------------------------------------------- sweep = per-deal definition
SWEEP_CASES = {
    "tiny": (tiny, T_TINY, {"horizon": 60.0, "prior_strength": 2.0, "min_comparable": 0.0}),
    "tiny, capped": (tiny, T_TINY, {"horizon": 60.0}),
    "sample": (sample, pd.Timestamp("2025-03-01", tz="Asia/Tehran"), {}),
    "sample, min_at_risk 5": (sample, pd.Timestamp("2025-09-01", tz="Asia/Tehran"), {"min_at_risk": 5}),
    "synthetic": (lambda: small_synthetic().data, SYN_START + 300 * DAY, {"size_bands": 4}),
    "pipelines": (with_pipelines, SYN_START + 250 * DAY, {}),
}


@pytest.mark.parametrize("grid", [False, True], ids=["exact", "grid"])
@pytest.mark.parametrize("case", list(SWEEP_CASES))
def test_sweep_equals_the_per_deal_definition(case, grid, monkeypatch):
    make, at, options = SWEEP_CASES[case]
    data = make()
    if grid:
        monkeypatch.setattr(deal_risk, "EXACT_WORK", 0)  # the grid, however small the data
    names = {"horizon": "horizon_days"}
    table = sn.risk(data, as_of=at, min_closed=0, **{names.get(k, k): v for k, v in options.items()})
    ref = reference_risk(data, at, grid=grid, **options)
    assert table.attrs["landmarks"] == ("grid" if grid else "exact")
    assert len(table) == len(ref) > 0
    compare(table, ref, at)


def test_the_grid_changes_estimates_only_where_it_rounds():
    # On the sample the open deals are few: exact landmarks. Forcing the grid moves the
    # landmark of most deals by less than 5 % of their age, and the estimates a little.
    data, at = sample(), pd.Timestamp("2025-03-01", tz="Asia/Tehran")
    exact = sn.risk(data, as_of=at).set_index("opportunity_id")
    deal_risk.EXACT_WORK, kept = 0, deal_risk.EXACT_WORK
    try:
        grid = sn.risk(data, as_of=at).set_index("opportunity_id").loc[exact.index]
    finally:
        deal_risk.EXACT_WORK = kept
    diff = (exact["p_win_horizon"] - grid["p_win_horizon"]).abs()
    assert diff.max() < 0.15 and diff.mean() < 0.02


def test_two_landmarks_at_a_time_give_the_same_table(monkeypatch):
    # Large data runs two landmarks at a time in threads: the same numbers, in any order.
    data, at = sample(), pd.Timestamp("2025-03-01", tz="Asia/Tehran")
    monkeypatch.setattr(deal_risk, "EXACT_WORK", 0)
    alone = sn.risk(data, as_of=at)
    monkeypatch.setattr(deal_risk, "THREADS_FROM", 0)
    pd.testing.assert_frame_equal(sn.risk(data, as_of=at), alone)


def test_rows_in_any_order_give_the_same_estimates():
    # The old code reset the snapshot's index and looked up the current stage of other
    # deals whenever the rows were not sorted by creation (real exports are not).
    data = sample()
    at = pd.Timestamp("2025-01-01", tz="Asia/Tehran")
    opps = data.opportunities.sample(frac=1.0, random_state=3)
    # The history by deal in another order too, each deal's entries kept in their order
    # (equal entry times are ordered by the source: shuffling them would change the data).
    hist = data.stage_history[["opportunity_id", "stage", "entered_at"]]
    rank = pd.Series(np.random.default_rng(4).permutation(len(opps)), index=opps["opportunity_id"])
    hist = hist.iloc[np.argsort(hist["opportunity_id"].map(rank).to_numpy(), kind="stable")]
    fields = data.field_history  # likewise, by deal in another order
    fields = fields.iloc[np.argsort(fields["opportunity_id"].map(rank).to_numpy(), kind="stable")]
    shuffled = sn.SalesData.from_frames(opps, hist, data.settings, field_history=fields)
    a = sn.risk(data, as_of=at).sort_values("opportunity_id", ignore_index=True)
    b = sn.risk(shuffled, as_of=at).sort_values("opportunity_id", ignore_index=True)
    pd.testing.assert_frame_equal(a, b, check_like=False)


@pytest.mark.parametrize("as_of", ["1403-10-15T14:30", "1404-06-01"])
def test_grid_estimates_ignore_everything_after_as_of(as_of, monkeypatch):
    monkeypatch.setattr(deal_risk, "EXACT_WORK", 0)
    data = sample()
    at = sn.parse_date(as_of, calendar="jalali", tz=data.settings.timezone)
    full = sn.risk(data, as_of=at)
    cut = sn.risk(truncate(data, at), as_of=at)
    pd.testing.assert_frame_equal(full, cut)


def test_nothing_open_gives_an_empty_table():
    data = frames([("a", "Sam", "2025-01-01", "won", "2025-01-20", 10),
                   ("b", "Sam", "2025-01-02", "lost", "2025-01-15", 10)], [], ["lead"])
    table = sn.risk(data, as_of="2025-02-01", min_closed=0)
    assert len(table) == 0 and "p_win_horizon" in table.columns
    assert table.attrs["win_share"] == 0.5


# --------------------------------------------------------------------------- too little history
def test_fallback_to_the_stage_baseline_by_hand():
    # Tiny has 2 won and 3 lost deals by as_of: fewer than 200 of each, so the stage
    # baseline stands in. X and C are in proposal; the closed deals that reached
    # proposal are A (won), B (lost), D (won), F (lost): 2/4. E never reached it.
    table = sn.risk(tiny(), as_of=T_TINY).set_index("opportunity_id")
    assert table.attrs["model"] == "stage baseline" and table.attrs["landmarks"] == ""
    assert (table.attrs["n_won"], table.attrs["n_lost"]) == (2, 3)
    for deal in ("X", "C"):
        row = table.loc[deal]
        assert row["p_win_horizon"] == row["p_win_eventually"] == 0.5
        assert row["comparable_set"] == "stage baseline"
        assert row["n_comparable"] == 4
        assert "fewer than 200 won and 200 lost deals closed by as_of (2 won, 3 lost)" in row["note"]
        assert pd.isna(row["expected_close_low"])
    assert any("stage baseline stands in" in n for n in table.attrs["notes"])
    # The bar is an option: 2 won and 3 lost are enough for min_closed=2 (the model runs).
    assert sn.risk(tiny(), as_of=T_TINY, min_closed=2).attrs["model"] == "landmark"


def test_fallback_equals_the_reference_baseline():
    data, at = small_synthetic().data, SYN_START + 120 * DAY
    table = sn.risk(data, as_of=at)
    assert table.attrs["model"] == "stage baseline"
    ref = reference_risk(data, at, min_closed=deal_risk.MIN_CLOSED)
    compare(table, ref, at)


def test_backtest_falls_back_visibly():
    # 1403-06-01 has 106 won deals before it on the sample: the stage baseline is scored
    # as the model there (same scores), and the row says so.
    bt = sn.backtest(sample(), as_of=["1403-06-01", "1404-03-01"])
    first, second = bt.iloc[0], bt.iloc[1]
    assert first["model"] == "stage baseline" and second["model"] == "landmark"
    assert (first["n_won_before"], first["n_lost_before"]) == (106, 333)
    assert first["brier_model"] == first["brier_baseline"]
    assert first["auc_model"] == first["auc_baseline"]
    assert "fewer than 200 won and 200 lost" in first["note"] and second["note"] == ""
    assert second["brier_model"] < second["brier_baseline"]


# --------------------------------------------------------------------------- AUC
def test_roc_auc_by_hand_and_by_counting_pairs():
    # Won deals score 0.9 and 0.4, the others 0.4 and 0.1: of the 4 (won, not won)
    # pairs, 3 are ordered right and 1 is a tie (counts 1/2): 3.5 / 4.
    assert roc_auc(np.array([0.9, 0.4, 0.4, 0.1]), np.array([1, 1, 0, 0])) == 0.875
    rng = np.random.default_rng(2)
    p = np.round(rng.random(300), 2)  # many ties
    y = (rng.random(300) < p).astype(int)
    won, other = p[y == 1], p[y == 0]
    pairs = (won[:, None] > other[None, :]).sum() + 0.5 * (won[:, None] == other[None, :]).sum()
    assert roc_auc(p, y) == pytest.approx(pairs / (len(won) * len(other)))
    assert np.isnan(roc_auc(np.array([0.2, 0.3]), np.array([1, 1])))


# --------------------------------------------------------------------------- the CRM's probability
@pytest.mark.parametrize(("values", "scale", "shares"), [
    ([0.1, 0.5, None, 1.0], "share", [0.1, 0.5, np.nan, 1.0]),
    ([10, 50, None, 100], "percent", [0.1, 0.5, np.nan, 1.0]),
    (["10%", " 50 %", None, "100%"], "percent", [0.1, 0.5, np.nan, 1.0]),
    (["0.25", "1", None, "0"], "share", [0.25, 1.0, np.nan, 0.0]),
    ([0, 1, 1, 0], "share", [0.0, 1.0, 1.0, 0.0]),  # ambiguous: read as shares (documented)
])
def test_probability_scale_is_detected(values, scale, shares):
    got, how = _probability_share(pd.Series(values, dtype=object if isinstance(values[0], str) else None))
    assert how == scale
    np.testing.assert_allclose(got, shares)


@pytest.mark.parametrize(("values", "why"), [
    ([10, 150, None], "outside 0–100"),
    (["high", "10", None], "not numbers"),
    ([None, None, None], "empty"),
])
def test_unusable_probability_columns_are_said_so(values, why):
    got, how = _probability_share(pd.Series(values, dtype=object))
    assert got is None and why in how and how.startswith("probability column not used")


# Stage defaults of the synthetic CRM, in percent; won deals show 100 and lost ones 0.
CRM_DEFAULTS = {"lead": 10, "qualified": 30, "proposal": 60}


@cache
def with_crm_probability() -> Synthetic:
    syn = Synthetic(n=3000, seed=11)
    opps = syn.data.opportunities.copy()
    opps["probability"] = np.select([opps["status"] == "won", opps["status"] == "lost"], [100, 0],
                                    opps["stage"].map(CRM_DEFAULTS).fillna(0).to_numpy())
    # The open deals' stage column is their current stage (the export's snapshot).
    current = syn.data.stage_history.groupby("opportunity_id")["stage"].last()
    is_open = opps["status"] == "open"
    opps.loc[is_open, "stage"] = opps.loc[is_open, "opportunity_id"].map(current)
    opps.loc[is_open, "probability"] = opps.loc[is_open, "stage"].map(CRM_DEFAULTS)
    hist = syn.data.stage_history[["opportunity_id", "stage", "entered_at"]]
    syn.data = sn.SalesData.from_frames(opps, hist, syn.data.settings)
    return syn


def test_backtest_scores_the_crm_stage_probability():
    syn = with_crm_probability()
    at = SYN_START + 420 * DAY
    bt = sn.backtest(syn.data, as_of=at).iloc[0]
    # Loading reads the percents as shares (validation: a value above 1 means percent).
    assert bt["crm_scale"] == "share"
    assert syn.data.opportunities["probability"].max() == 1.0
    assert bt["n_crm"] == bt["n_scored"]
    # Independently: each deal open at T gets the default of the stage it was in at T
    # (from the construction), and is 1 when won by T + 90 d.
    now = (at - SYN_START) / DAY
    end = now + 90
    opps = syn.data.opportunities.set_index("opportunity_id").loc[syn.ids]
    created = ((opps["created_at"] - SYN_START) / DAY).to_numpy()
    closed = ((opps["closed_at"] - SYN_START) / DAY).to_numpy()
    open_at = (created <= now) & ~(closed <= now)
    stage_at = np.array([SYN_STAGES[int(np.flatnonzero(syn.entry[i] <= now)[-1])] for i in np.flatnonzero(open_at)])
    p = np.array([CRM_DEFAULTS[s] / 100 for s in stage_at])
    y = ((opps["status"] == "won").to_numpy() & (closed <= end))[open_at].astype(float)
    assert bt["brier_crm"] == pytest.approx(np.mean((p - y) ** 2))
    assert bt["auc_crm"] == pytest.approx(roc_auc(p, y))
    assert bt["brier_model_crm_deals"] == bt["brier_model"]  # the same deals
    # Closed deals carry 0/100 (their outcome): had they leaked, the CRM would look perfect.
    assert bt["brier_crm"] > 0.1


def test_no_probability_column_no_crm_scores():
    bt = sn.backtest(sample(), as_of="1404-03-01").iloc[0]
    assert bt["crm_scale"] == "" and bt["n_crm"] == 0 and np.isnan(bt["brier_crm"])


# --------------------------------------------------------------------------- stage × age
def test_stage_age_reference_is_the_model_without_size_or_pooling():
    # Stage × age is the stage-level curve alone: the model with one size band and no
    # pooling (a set with any effective deal gets all the weight). Deals without an
    # amount would form a band of their own: give every deal one.
    base = sample()
    opps = base.opportunities.assign(amount=base.opportunities["amount"].fillna(1.0))
    data = sn.SalesData.from_frames(opps, base.stage_history[["opportunity_id", "stage", "entered_at"]],
                                    base.settings)
    at = pd.Timestamp("2025-05-22", tz="Asia/Tehran")
    bt = sn.backtest(data, as_of=at).iloc[0]
    plain = sn.risk(data, as_of=at, size_bands=1, prior_strength=0)
    full = data.opportunities.set_index("opportunity_id")
    closed_at = plain["opportunity_id"].map(full["closed_at"])
    won = (plain["opportunity_id"].map(full["status"]) == "won") & (closed_at <= at + 90 * DAY)
    y = won.to_numpy(dtype=float)
    p = plain["p_win_horizon"].to_numpy()
    assert bt["brier_stage_age"] == pytest.approx(np.mean((p - y) ** 2))
    assert bt["mean_stage_age"] == pytest.approx(p.mean())


# --------------------------------------------------------------------------- the JSON document
OLD_KEYS = {"as_of", "horizon_days", "outcome_at", "n_open", "n_scored", "n_unscored", "n_won", "n_lost",
            "n_still_open", "observed_rate", "mean_model", "mean_baseline", "brier_model", "brier_baseline",
            "log_loss_model", "log_loss_baseline", "brier_stage_horizon", "log_loss_stage_horizon",
            "brier_skill", "calibration_error", "calibration"}
NEW_KEYS = {"auc_model", "auc_baseline", "auc_stage_horizon", "mean_stage_age", "brier_stage_age",
            "log_loss_stage_age", "auc_stage_age", "crm_scale", "n_crm", "mean_crm", "brier_crm",
            "log_loss_crm", "auc_crm", "brier_model_crm_deals", "log_loss_model_crm_deals", "model",
            "n_won_before", "n_lost_before", "note"}


def test_backtest_json_adds_keys_and_keeps_the_old_ones(capsys):
    assert main(["backtest", str(sn.sample_path()), "--as-of", "1403-06-01", "--as-of", "1404-03-01",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for point in doc:
        assert set(point) == OLD_KEYS | NEW_KEYS
    assert [p["model"] for p in doc] == ["stage baseline", "landmark"]
    assert doc[0]["note"].startswith("fewer than 200 won and 200 lost")
    assert 0.5 < doc[1]["auc_model"] <= 1
    assert main(["backtest", str(sn.sample_path()), "--as-of", "1403-06-01", "--min-closed", "0",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["model"] == "landmark"


def test_backtest_text_shows_the_fallback_and_auc(capsys):
    assert main(["backtest", str(sn.sample_path()), "--as-of", "1403-06-01"]) == 0
    out = capsys.readouterr().out
    assert "note: fewer than 200 won" in out
    assert "model (= stage baseline)" in out and "AUC" in out and "stage×age" in out


def test_frames_helper_still_builds_tiny_data():
    # The shared helpers of test_risk build what this module compares.
    data = frames([("a", "Sam", "2025-01-01", "won", "2025-01-05", 10)], [], ["lead"])
    assert len(data.opportunities) == 1
