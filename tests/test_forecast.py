"""Period forecasts, their 10–90 % interval and their backtest.

Expected values are worked out by hand on the Farvardin story of ``test_attainment.py``,
with the risk model's probabilities replaced by known ones (so every number can be
computed on paper); the interval's coverage is measured on generated deals with known
probabilities; the backtest on the bundled sample is checked against the issue's claim.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_attainment import AS_OF, HISTORY, SETTINGS, build, deals

import salesnb as sn
from salesnb.exceptions import WindowError
from salesnb.metrics import forecasting
from salesnb.metrics.forecasting import (
    count_quantiles,
    poisson_binomial,
    simulate_sums,
    sum_quantiles,
)

ROOT = Path(__file__).resolve().parent.parent
#: P(won before the end of Farvardin), as the risk model would give it.
KNOWN = {"d2": 0.5, "d5": 0.25, "d6": 0.2}


@pytest.fixture
def known_risk(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace the risk model by known probabilities; returns the horizons it was asked for."""
    horizons: list[float] = []

    def fake(data: sn.SalesData, as_of: object, horizon_days: float) -> pd.Series:
        horizons.append(horizon_days)
        ids = [i for i in KNOWN if i in set(data.opportunities["opportunity_id"])]
        return _probabilities(ids, [KNOWN[i] for i in ids])

    monkeypatch.setattr(forecasting, "win_probabilities", fake)
    return horizons


def _probabilities(ids: list[str], p: list[float]) -> pd.Series:
    """What the risk model's probabilities-only path returns: p_win_horizon by opportunity_id."""
    return pd.Series(p, index=pd.Index(ids, name="opportunity_id", dtype="object"), dtype="float64")


# --------------------------------------------------------------------------- distributions
def test_poisson_binomial_matches_enumeration() -> None:
    p = [0.1, 0.5, 0.7, 0.35, 0.9]
    exact = np.zeros(len(p) + 1)
    for outcome in itertools.product([0, 1], repeat=len(p)):
        exact[sum(outcome)] += np.prod([q if o else 1 - q for q, o in zip(p, outcome, strict=True)])
    pmf, offset = poisson_binomial(p)
    assert offset == 0 and np.allclose(pmf, exact, atol=1e-15)
    # many trials: the tails are trimmed, the rest is exact (mean and variance kept)
    q = np.random.default_rng(3).uniform(0, 1, 3000)
    pmf, offset = poisson_binomial(q)
    k = np.arange(offset, offset + len(pmf))
    assert pmf.sum() == pytest.approx(1, abs=1e-12)
    assert (pmf * k).sum() == pytest.approx(q.sum(), rel=1e-12)
    assert (pmf * (k - q.sum()) ** 2).sum() == pytest.approx((q * (1 - q)).sum(), rel=1e-9)


def test_count_quantiles_by_hand() -> None:
    # P(0) = .375, P(1) = .5, P(2) = .125: the 10 % quantile is 0, the 90 % one 2.
    assert count_quantiles([0.5, 0.25]) == [0, 2]
    # With a Poisson(1) count added: P(X <= 0) = .375 e^-1 = .138 >= .1 ...
    pmf = np.convolve([0.375, 0.5, 0.125], forecasting.poisson_pmf(1.0))
    assert count_quantiles([0.5, 0.25], extra_rate=1.0) == [int(np.searchsorted(np.cumsum(pmf), q)) for q in
                                                            (0.1, 0.9)]
    assert count_quantiles([]) == [0, 0]


def test_simulation_is_seeded_and_grouped() -> None:
    p, a = np.array([0.3, 0.6, 0.9]), np.array([10.0, 20.0, 30.0])
    codes = np.array([0, 1, 0])
    one = simulate_sums(p, a, codes, 2, draws=2000, seed=5)
    assert np.array_equal(one, simulate_sums(p, a, codes, 2, draws=2000, seed=5))
    assert not np.array_equal(one, simulate_sums(p, a, codes, 2, draws=2000, seed=6))
    assert set(np.unique(one[:, 0])) <= {0.0, 10.0, 30.0, 40.0}
    assert one[:, 1].mean() == pytest.approx(12.0, abs=0.6)


def test_the_interval_covers_80_percent_of_simulated_periods() -> None:
    """Generated periods with known deal probabilities: the actual falls within the 10–90 %
    interval in about 80 % of them (75–85 %), for the amount and for the count."""
    rng = np.random.default_rng(2025)
    periods, inside_amount, inside_count = 500, 0, 0
    for _ in range(periods):
        n = int(rng.integers(20, 120))
        p = rng.beta(0.6, 2.5, n)
        amounts = np.exp(rng.normal(20, 1.3, n))
        won = rng.random(n) < p
        sims = simulate_sums(p, amounts, np.zeros(n, dtype="int64"), 1, draws=4000, seed=16)
        low, high = sum_quantiles(sims)[:, 0]
        inside_amount += bool(low <= (won * amounts).sum() <= high)
        c_low, c_high = count_quantiles(p)
        inside_count += bool(c_low <= won.sum() <= c_high)
    assert 0.75 <= inside_amount / periods <= 0.85
    assert 0.75 <= inside_count / periods <= 0.85


def test_forecast_coverage_on_generated_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: a generated dataset of 300 salespeople, each with open deals of known
    probabilities; ``forecast(by="owner")`` gives each an interval, and outcomes drawn with
    those probabilities fall inside about 80 % of the time."""
    rng = np.random.default_rng(7)
    owners = [f"rep{i:03d}" for i in range(300)]
    counts = rng.integers(25, 60, len(owners))
    n = int(counts.sum())
    ids = [f"g{i:05d}" for i in range(n)]
    p = rng.beta(0.8, 2.5, n)
    frame = pd.DataFrame({"opportunity_id": ids, "owner": np.repeat(owners, counts),
                          "created_at": "2025-01-01", "status": "open", "closed_at": "",
                          "amount": np.round(np.exp(rng.normal(15, 1.0, n)))})
    known = dict(zip(ids, p, strict=True))
    monkeypatch.setattr(forecasting, "win_probabilities", lambda data, as_of, horizon_days: _probabilities(
        ids, [known[i] for i in ids]))
    data = sn.SalesData.from_frames(frame, settings={"stages": ["lead"]})
    f = sn.forecast(data, period=("2025-02-01", "2025-03-01"), as_of="2025-02-01", calendar="gregorian",
                    new_deals=False).set_index("owner")
    group = frame["owner"].to_numpy()
    amount = frame["amount"].to_numpy()
    inside_amount = inside_count = total = 0
    for _ in range(4):  # four simulated periods for each salesperson
        won = rng.random(n) < p
        actual = pd.DataFrame({"owner": group, "a": won * amount, "c": won}).groupby("owner").sum()
        inside_amount += int(((f["amount_low"] <= actual["a"]) & (actual["a"] <= f["amount_high"])).sum())
        inside_count += int(((f["count_low"] <= actual["c"]) & (actual["c"] <= f["count_high"])).sum())
        total += len(owners)
    assert 0.75 <= inside_amount / total <= 0.85
    # A count has atoms: P(low <= X <= high) is at least 80 % and, with 25-60 deals a
    # salesperson, a few points more.
    assert 0.78 <= inside_count / total <= 0.90


# --------------------------------------------------------------------------- by hand
def test_forecast_by_hand(known_risk: list[float]) -> None:
    f = sn.forecast(build(), period="1404-01", as_of=AS_OF, new_deals=False).set_index("owner")
    assert known_risk == [15.0]                         # 2025-04-06 → 04-21
    sara, ali = f.loc["Sara"], f.loc["Ali"]
    # Sara: won 4e9 (d1); open d2 (2e9, p .5) and d5 (6e9, p .25).
    assert sara["won_amount"] == 4e9 and sara["won_count"] == 1 and sara["open_count"] == 2
    assert sara["expected_amount"] == pytest.approx(4e9 + 0.5 * 2e9 + 0.25 * 6e9)   # 6.5e9
    assert sara["expected_count"] == pytest.approx(1.75)
    # Outcomes of d2, d5: none .375, d2 .375, d5 .125, both .125 → amounts 0, 2e9, 6e9, 8e9
    # with cumulative .375, .75, .875, 1: 10 % → 0, 90 % → 8e9; counts 0 / 2.
    assert (sara["amount_low"], sara["amount_high"]) == (4e9, 12e9)
    assert (sara["count_low"], sara["count_high"]) == (1, 3)
    # Ali: won 1e9 (d3); open d6 (3e9, p .2): 10 % → nothing more, 90 % → d6 won.
    assert ali["expected_amount"] == pytest.approx(1.6e9)
    assert (ali["amount_low"], ali["amount_high"]) == (1e9, 4e9)
    assert (ali["count_low"], ali["count_high"]) == (1, 2)
    # Stage-weighted: closed by as_of d1, d3, d8 won, d4 lost after lead, d9 after proposal:
    # lead 3/5 = .6, proposal 3/4 = .75; d2 is in proposal, d5 in lead, d6 has no stage
    # (the overall 3/5).
    assert sara["stage_weighted_amount"] == pytest.approx(4e9 + 0.75 * 2e9 + 0.6 * 6e9)
    assert sara["stage_weighted_count"] == pytest.approx(1 + 0.75 + 0.6)
    assert ali["stage_weighted_amount"] == pytest.approx(1e9 + 0.6 * 3e9)
    assert "commit_amount" not in f.columns
    total = sn.forecast(build(), period="1404-01", as_of=AS_OF, by=None, new_deals=False).iloc[0]
    assert total["expected_amount"] == pytest.approx(8.1e9)
    assert total["expected_count"] == pytest.approx(2.95)


def test_crm_probability_categories_and_close_dates(known_risk: list[float]) -> None:
    data = build(probability=[None, 0.9, None, None, None, 0.1, None, None, None],
                 forecast_category=["", "Commit", "", "", "best_case", "pipeline", "", "", ""],
                 expected_close_at=["", "2025-04-15", "", "", "2025-05-10", "2025-04-18", "", "", ""])
    f = sn.forecast(data, period="1404-01", as_of=AS_OF, new_deals=False).set_index("owner")
    sara, ali = f.loc["Sara"], f.loc["Ali"]
    # d5 is expected after the period's end: out of the CRM's forecasts (not salesnb's).
    assert sara["stage_weighted_amount"] == pytest.approx(4e9 + 0.9 * 2e9)
    assert ali["stage_weighted_amount"] == pytest.approx(1e9 + 0.1 * 3e9)
    assert sara["expected_amount"] == pytest.approx(6.5e9)
    assert (sara["commit_amount"], sara["best_case_amount"], sara["pipeline_amount"]) == (6e9, 6e9, 6e9)
    assert (ali["commit_amount"], ali["best_case_amount"], ali["pipeline_amount"]) == (1e9, 1e9, 4e9)
    assert (ali["commit_count"], ali["pipeline_count"]) == (1, 2)
    assert f.attrs["probability_source"] == {"crm": 2, "stage_history": 0}
    # the same pipeline in attainment: Sara's is d2 only (d5 is expected after the period)
    a = sn.attainment(data, period="1404-01", as_of=AS_OF, measure="won_amount").set_index("owner")
    assert a.loc["Sara", "pipeline"] == 2e9 and a.loc["Ali", "pipeline"] == 3e9
    assert a.attrs["excluded"]["no_expected_close"] == 0      # every deal open at as_of has a date


def test_a_period_to_come_and_a_period_over(known_risk: list[float]) -> None:
    # Seen before Farvardin starts: the chance by its end minus the chance by its start
    # (here the same fake probability: nothing is left), and nothing won so far.
    f = sn.forecast(build(), period="1404-01", as_of="1403-12-25", by=None, new_deals=False).iloc[0]
    assert sorted(known_risk) == [6.0, 37.0]                # 2025-03-15 → 03-21 and → 04-21
    assert f["won_amount"] == 0 and f["expected_amount"] == 0
    # Seen after its end: the forecast is what happened.
    f = sn.forecast(build(), period="1404-01", as_of="1404-02-10", by=None).iloc[0]
    assert f["expected_amount"] == f["amount_low"] == f["amount_high"] == f["won_amount"] == 7e9
    assert f["stage_weighted_amount"] == 7e9


def test_deals_not_created_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10-day period seen at its start, data from 35 days before: three past stretches of
    10 days fit (T-10, T-20, T-30). q1 (created T-28, won T-25), q2 (T-15 → T-12) and q3
    (T-9 → T-2) were created and won within one; q4 (created T-35, before its stretch) was
    not. So one new deal is expected, its amount drawn from 100, 200 and 300."""
    monkeypatch.setattr(forecasting, "win_probabilities", lambda data, as_of, horizon_days: _probabilities(
        [], []))
    t = pd.Timestamp("2025-06-01")
    day = pd.Timedelta(days=1)
    frame = pd.DataFrame({
        "opportunity_id": ["q1", "q2", "q3", "q4"], "owner": "Sara",
        "created_at": [t - 28 * day, t - 15 * day, t - 9 * day, t - 35 * day],
        "status": "won", "closed_at": [t - 25 * day, t - 12 * day, t - 2 * day, t - 22 * day],
        "amount": [100.0, 200.0, 300.0, 1000.0]})
    data = sn.SalesData.from_frames(frame, settings={"stages": ["lead"]})
    f = sn.forecast(data, period=(t, t + 10 * day), as_of=t, by=None, calendar="gregorian").iloc[0]
    assert f["new_count"] == pytest.approx(1.0) and f["new_amount"] == pytest.approx(200.0)
    assert f["expected_count"] == pytest.approx(1.0) and f["expected_amount"] == pytest.approx(200.0)
    # Poisson(1): P(0) = .37 → 10 % is 0; P(<= 1) = .74, P(<= 2) = .92 → 90 % is 2.
    assert (f["count_low"], f["count_high"]) == (0, 2)
    assert f["amount_low"] == 0 and f["amount_high"] in (300.0, 400.0, 500.0)


def test_forecast_backtest_by_hand(known_risk: list[float]) -> None:
    # The first 20 days of Farvardin, [03-21, 04-10), seen 4 days before their end
    # (2025-04-06): won so far d1, d3 (5e9, 2 deals); open d2 (2e9, .5), d5 (6e9, .25),
    # d6 (3e9, .2). What happened: d1 and d3 only (d2 was won at 04-10, the end: outside).
    period = ("1404-01-01", "1404-01-21")
    bt = sn.forecast_backtest(build(), periods=[period], lead_days=4, new_deals=False)
    assert bt["method"].tolist() == ["salesnb", "stage_weighted"]
    ours, crm = bt.iloc[0], bt.iloc[1]
    assert ours["as_of"].isoformat() == "2025-04-06T00:00:00+03:30"
    assert ours["actual_amount"] == 5e9 and ours["actual_count"] == 2
    assert ours["forecast_amount"] == pytest.approx(5e9 + 1e9 + 1.5e9 + 0.6e9)      # 8.1e9
    assert ours["abs_error_amount"] == pytest.approx(3.1e9)
    assert ours["rel_error_amount"] == pytest.approx(3.1 / 5)
    # None of the three is won with probability .5 × .75 × .8 = .3 >= .1: the 10 % quantile
    # is what was won so far, so the actual is inside (amount and count).
    assert ours["amount_low"] == 5e9 and bool(ours["inside_amount"]) and bool(ours["inside_count"])
    assert pd.isna(crm["inside_amount"]) and np.isnan(crm["amount_low"])
    assert crm["forecast_amount"] == pytest.approx(5e9 + 0.75 * 2e9 + 0.6 * 6e9 + 0.6 * 3e9)
    summary = pd.DataFrame(bt.attrs["summary"]).set_index("method")
    assert summary.loc["salesnb", "coverage"] == 1.0
    doc = forecasting.backtest_document(bt, ["1404-01-01_1404-01-21"])
    assert doc == {"lead_days": 4, "periods": ["1404-01-01_1404-01-21"],
                   "methods": {"salesnb": {"mae_amount": pytest.approx(3.1e9), "mae_count": pytest.approx(0.95),
                                           "coverage": 1.0},
                               "stage_weighted": {"mae_amount": pytest.approx(6.9e9),
                                                  "mae_count": pytest.approx(1.95)}}}
    assert bt["period"].tolist() == ["1404-01-01_1404-01-21"] * 2


def test_backtest_refuses_periods_not_over(known_risk: list[float]) -> None:
    with pytest.raises(WindowError, match="outcome is not known yet"):
        sn.forecast_backtest(build(), periods=["1404-02"], lead_days=30)
    with pytest.raises(WindowError, match="lead_days"):
        sn.forecast_backtest(build(), periods=["1404-01"], lead_days=-1)
    with pytest.raises(WindowError, match="no period"):
        sn.forecast_backtest(build(), periods=[], lead_days=3)


def test_the_risk_model_is_asked_once_per_horizon() -> None:
    data = build()
    one = sn.forecast(data, period="1404-01", as_of=AS_OF, by="owner")
    two = sn.forecast(data, period="1404-01", as_of=AS_OF, by=None)
    assert one["expected_amount"].sum() == pytest.approx(two["expected_amount"].iloc[0])
    # salesnb's expected value is won so far + Σ P × amount with the model's own P (this small
    # dataset is below the model's threshold: the stage's share won within the 15 days)
    at = sn.parse_date(AS_OF, calendar="jalali", tz=data.settings.timezone)
    risk = forecasting.win_probabilities(data, at, 15.0)
    amounts = deals().set_index("opportunity_id")["amount"]
    by_hand = 5e9 + sum(risk[i] * amounts[i] for i in risk.index) + two["new_amount"].iloc[0]
    assert two["expected_amount"].iloc[0] == pytest.approx(by_hand)


def test_draws_and_seed_are_checked() -> None:
    with pytest.raises(WindowError, match="draws"):
        sn.forecast(build(), period="1404-01", draws=10)
    with pytest.raises(WindowError, match="seed"):
        sn.forecast(build(), period="1404-01", seed=-1)


# --------------------------------------------------------------------------- the sample
def test_on_the_sample_salesnb_beats_the_stage_weighted_pipeline() -> None:
    data = sn.load(sn.sample_path())
    bt = sn.forecast_backtest(data, periods=["1404-03", "1404-04", "1404-05", "1404-06"], lead_days=30)
    summary = pd.DataFrame(bt.attrs["summary"]).set_index("method")
    assert summary.loc["salesnb", "mae_amount"] < summary.loc["stage_weighted", "mae_amount"]
    assert summary.loc["salesnb", "mae_count"] < summary.loc["stage_weighted", "mae_count"]
    json.dumps(forecasting.backtest_document(bt, ["1404-03"]), allow_nan=False)


def test_the_fan(known_risk: list[float]) -> None:
    fan = forecasting.forecast_fan(build(), period="1404-01", as_of=AS_OF, steps=2, new_deals=False)
    assert fan.attrs["target"] == pytest.approx(21e9 + 10.5e9) or np.isfinite(fan.attrs["target"])
    seen = fan.dropna(subset=["actual"])
    assert seen["actual"].is_monotonic_increasing and seen["actual"].iloc[-1] == 5e9
    points = fan.dropna(subset=["expected"])
    assert len(points) == 3 and points["expected"].iloc[-1] == pytest.approx(8.1e9)
    # the pace is flat over Nowruz (no business day from 03-21 to 03-25)
    pace = fan.set_index(fan["at"].dt.strftime("%Y-%m-%d"))["pace"]
    assert pace["2025-03-21"] == pace["2025-03-25"] == 0
    assert pace["2025-03-26"] > 0


def test_a_dataset_with_no_opportunity_in_reach(known_risk: list[float]) -> None:
    data = sn.SalesData.from_frames(deals(), HISTORY, SETTINGS)
    f = sn.forecast(data, period="1390-01", by="owner")
    assert list(f.columns[:4]) == ["period", "period_start", "period_end", "owner"]
    assert len(f) == 0 or (f["expected_amount"] == 0).all()


# --------------------------------------------------------------------------- engines
def _same_everywhere(other: sn.SalesData) -> None:
    here = sn.load(sn.sample_path())
    for by in ("owner", None):
        pd.testing.assert_frame_equal(
            sn.forecast(here, period="1404-08", as_of="1404-08-10", by=by),
            sn.forecast(other, period="1404-08", as_of="1404-08-10", by=by), check_exact=True)
    pd.testing.assert_frame_equal(
        sn.attainment(here, period="1404-08", as_of="1404-08-10", by=None),
        sn.attainment(other, here.targets, period="1404-08", as_of="1404-08-10", by=None), check_exact=True)


def test_the_same_numbers_inside_sqlite() -> None:
    _same_everywhere(sn.load(f"sqlite:///{ROOT / 'data' / 'sample.sqlite'}"))


def test_the_same_numbers_inside_postgresql(pg_url: str) -> None:
    from salesnb.data.sql import write_sql

    write_sql(sn.load(sn.sample_path()), pg_url)
    _same_everywhere(sn.load(pg_url))


def test_below_the_models_threshold_the_forecast_uses_chances_within_the_period() -> None:
    """With fewer than 200 won and 200 lost deals closed, risk() shows the stage baseline (the
    share ever won); the forecast must not read that as the chance of winning within a month:
    it takes the stage's share won within the horizon, which grows with the horizon."""
    from salesnb.metrics.deal_risk import win_probabilities

    data = sn.load(sn.sample_path())
    at = sn.parse_date("1403-04-01", calendar="jalali", tz=data.settings.timezone)
    table = sn.risk(data, as_of=at)
    assert table.attrs["model"] == "stage baseline"
    eventual = table.set_index("opportunity_id")["p_win_horizon"].sort_index()
    month = win_probabilities(data, at, 30.0).sort_index()
    year = win_probabilities(data, at, 365.0).sort_index()
    assert month.index.equals(eventual.index)
    assert (month <= year + 1e-12).all() and month.mean() < year.mean()
    assert month.mean() < 0.5 * eventual.mean()
    # landmark model in use: the same numbers as risk()
    later = sn.parse_date("1404-03-01", calendar="jalali", tz=data.settings.timezone)
    full = sn.risk(data, as_of=later, horizon_days=30).set_index("opportunity_id")["p_win_horizon"]
    assert win_probabilities(data, later, 30.0).sort_index().equals(full.sort_index().rename("p_win_horizon"))


def test_the_within_horizon_stage_share_by_hand() -> None:
    """Worked by hand (Aalen–Johansen, every deal in ``lead`` from its creation): won at
    day 5 and day 20, lost at day 8, and the open deal ``o`` censored at day 1 (its age at
    as_of). Three at risk after day 1: P(won by day 10) = 1/3; the loss at day 8 leaves
    one at risk with survival 1/3, so P(won by day 30) = 1/3 + 1/3 = 2/3 — the eventual
    share (2 won of 3 closed) the stage baseline would have given for any horizon."""
    from salesnb.metrics.deal_risk import win_probabilities

    t0 = pd.Timestamp("2025-01-01")
    day = pd.Timedelta(days=1)
    frame = pd.DataFrame({
        "opportunity_id": ["w1", "l1", "w2", "o"], "owner": "Sara",
        "created_at": [t0, t0, t0, t0 + 39 * day],
        "status": ["won", "lost", "won", "open"],
        "closed_at": [t0 + 5 * day, t0 + 8 * day, t0 + 20 * day, pd.NaT], "amount": 100.0})
    history = pd.DataFrame({"opportunity_id": ["w1", "l1", "w2", "o"], "stage": "lead",
                            "entered_at": frame["created_at"]})
    data = sn.SalesData.from_frames(frame, history, {"stages": ["lead"], "timezone": "UTC",
                                                    "calendar": "gregorian"})
    at = pd.Timestamp("2025-02-10", tz="UTC")  # o is one day old
    assert sn.risk(data, as_of=at).attrs["model"] == "stage baseline"
    assert win_probabilities(data, at, 10.0)["o"] == pytest.approx(1 / 3)
    assert win_probabilities(data, at, 30.0)["o"] == pytest.approx(2 / 3)
