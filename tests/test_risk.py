"""Risk, backtest, sales velocity and pipeline coverage (``salesnb.risk``).

Expected values are worked out by hand in the comments, or come from a synthetic
dataset whose true win probabilities are known by construction.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

import salesnb as sn
from salesnb.cli import main
from salesnb.exceptions import WindowError
from salesnb.metrics.statistics import aalen_johansen

DAY = pd.Timedelta(days=1)


# --------------------------------------------------------------------------- helpers
@cache
def sample() -> sn.SalesData:
    return sn.load(sn.sample_path())


def frames(rows: list[tuple], history: list[tuple], stages: list[str]) -> sn.SalesData:
    """Build a Gregorian UTC dataset from (id, owner, created, status, closed, amount) rows."""
    opps = pd.DataFrame(rows, columns=["opportunity_id", "owner", "created_at", "status",
                                       "closed_at", "amount"])
    hist = pd.DataFrame(history, columns=["opportunity_id", "stage", "entered_at"])
    return sn.SalesData.from_frames(opps, hist, {"stages": stages, "timezone": "UTC"})


def truncate(data: sn.SalesData, at: pd.Timestamp) -> sn.SalesData:
    """Delete every event after ``at``: what a CRM snapshot taken at ``at`` held."""
    opps = data.opportunities
    opps = opps[opps["created_at"] <= at].copy()
    later = (opps["closed_at"] > at).fillna(False)
    opps.loc[later, "status"] = "open"
    opps.loc[later, "closed_at"] = pd.NaT
    opps.loc[later, "lost_reason"] = np.nan
    hist = data.stage_history
    hist = hist[(hist["entered_at"] <= at) & hist["opportunity_id"].isin(opps["opportunity_id"])]
    fields = data.field_history  # the changes made by then (amounts, owners, close dates)
    if fields is not None:
        fields = fields[(fields["changed_at"] <= at) & fields["opportunity_id"].isin(opps["opportunity_id"])]
    return sn.SalesData.from_frames(opps, hist[["opportunity_id", "stage", "entered_at"]],
                                    data.settings, field_history=fields)


# --------------------------------------------------------------------------- synthetic data
SYN_STAGES = ["lead", "qualified", "proposal"]
SYN_START = pd.Timestamp("2023-01-01", tz="UTC")
#: Log-odds of advancing past each stage (past "proposal": winning), at the median size.
SYN_BASE = np.array([0.4, 0.8, 0.6])
#: Change of those log-odds per standard deviation of log-amount (larger deals win less).
SYN_SIZE_EFFECT = -0.9
#: Mean days in each stage before advancing; a deal about to be lost lingers 4x longer.
SYN_DAYS = np.array([6.0, 12.0, 18.0])
SYN_LINGER = 4.0


class Synthetic:
    """A funnel whose win probabilities are known: advance past stage s with q_s(size).

    Time in a stage is exponential, with mean ``SYN_DAYS[s] * exp(0.25 size)`` when the
    deal advances and ``SYN_LINGER`` times that when it will be lost there, so a deal
    that has sat long in a stage is more likely a loser. For a deal in stage s for d
    days, by Bayes: P(advance | still there after d) = q e^(-d/m) / (q e^(-d/m) + (1 - q)
    e^(-d/(4m))), and P(win eventually) = that × the product of q over later stages.
    """

    def __init__(self, n: int = 3000, seed: int = 11, span_days: float = 720.0):
        rng = np.random.default_rng(seed)
        self.end = SYN_START + span_days * DAY
        created = np.sort(rng.uniform(0, span_days, n))
        size = rng.normal(0.0, 1.0, n)
        self.q = 1 / (1 + np.exp(-(SYN_BASE[None, :] + SYN_SIZE_EFFECT * size[:, None])))
        advance = rng.random((n, 3)) < self.q
        won = advance.all(axis=1)
        final = np.where(won, 2, advance.argmin(axis=1))
        self.mean_days = SYN_DAYS[None, :] * np.exp(0.25 * size)[:, None]
        dur = rng.exponential(np.where(advance, self.mean_days, SYN_LINGER * self.mean_days))
        entry = created[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(dur[:, :2], axis=1)],
                                                  axis=1)
        rows = np.arange(n)
        close = entry[rows, final] + dur[rows, final]
        closed = close < span_days
        ids = [f"S{i:05d}" for i in range(n)]

        def ts(days: np.ndarray) -> pd.Series:
            return (SYN_START + pd.to_timedelta(days, unit="D")).round("min")

        self.ids = np.array(ids)
        self.entry = np.round(entry * 1440) / 1440  # days, to the minute like the data
        self.final, self.won = final, won
        opps = pd.DataFrame({
            "opportunity_id": ids,
            "owner": [f"rep{i % 6}" for i in range(n)],
            "created_at": ts(created),
            "status": np.where(closed, np.where(won, "won", "lost"), "open"),
            "closed_at": ts(close).where(closed),
            "amount": np.round(np.exp(13 + 0.8 * size), -2),
        })
        hist = []
        for s in range(3):
            sel = (final >= s) & (entry[:, s] < span_days)
            hist.append(pd.DataFrame({"opportunity_id": self.ids[sel], "stage": SYN_STAGES[s],
                                      "entered_at": ts(entry[sel, s]), "order": s}))
        hist.append(pd.DataFrame({"opportunity_id": self.ids[closed],
                                  "stage": np.where(won[closed], "won", "lost"),
                                  "entered_at": ts(close[closed]), "order": 3}))
        history = pd.concat(hist).sort_values(["opportunity_id", "order"], kind="stable")
        self.data = sn.SalesData.from_frames(
            opps, history.drop(columns="order"), {"stages": SYN_STAGES, "timezone": "UTC"})

    def truth(self, at: pd.Timestamp, ids: pd.Series) -> np.ndarray:
        """True P(win eventually) of the given deals, open at ``at``."""
        index = pd.Index(self.ids).get_indexer(ids)
        now = (at - SYN_START) / DAY
        out = []
        for i in index:
            stage = int(np.flatnonzero(self.entry[i] <= now)[-1])
            d = now - self.entry[i, stage]
            q, m = self.q[i, stage], self.mean_days[i, stage]
            # Still in the stage after d days: q e^(-d/m) of the advancers, (1 - q)
            # e^(-d/(4m)) of the losers (exponential survival functions).
            advance = q * np.exp(-d / m)
            linger = (1 - q) * np.exp(-d / (SYN_LINGER * m))
            out.append(advance / (advance + linger) * np.prod(self.q[i, stage + 1:]))
        return np.array(out)


@cache
def synthetic() -> Synthetic:
    return Synthetic()


# --------------------------------------------------------------------------- the estimator by hand
def test_aalen_johansen_by_hand():
    # Four deals followed from a landmark: won at day 10, lost at 20, censored at 25,
    # won at 70. At risk 4 at day 10: F_won = 1/4, S = 3/4. At 20, 3 at risk, one lost:
    # F_lost = 3/4 * 1/3 = 1/4, S = 1/2. The censored deal leaves; at 70 the last one
    # wins: F_won = 1/4 + 1/2 * 1/1 = 3/4. Ignoring the censoring (counting it as not
    # won) would give 2/4 instead.
    curve = aalen_johansen(np.array([10.0, 20, 25, 70]), np.array([1, 2, 0, 1]), horizon=60.0)
    assert curve.times.tolist() == [10.0, 20.0, 25.0, 70.0]
    assert curve.won.tolist() == pytest.approx([0.25, 0.25, 0.25, 0.75])
    assert curve.lost.tolist() == pytest.approx([0.0, 0.25, 0.25, 0.25])
    assert curve.undecided.tolist() == pytest.approx([0.75, 0.5, 0.5, 0.0])
    assert curve.won_by(60) == pytest.approx(0.25)
    # Effective size for a 60-day horizon: 3 closings + the censored one seen 25 of 60 days.
    assert curve.n_eff == pytest.approx(3 + 25 / 60)


T_TINY = pd.Timestamp("2025-06-01", tz="UTC")
# Stages lead -> proposal; as_of 2025-06-01; every amount 1000, one owner.
# X, the deal we estimate: created 05-02 (age 30 d), in proposal since 05-12.
# Comparable deals = created no later than X, still open at age 30:
#   A created 01-01, proposal at age 5, won  at age 40 (02-10)  -> in proposal, won  at +10
#   B created 01-01, proposal at age 5, lost at age 50 (02-20)  -> in proposal, lost at +20
#   C created 04-07, proposal at age 10, open at as_of (age 55) -> in proposal, censored at +25
#   D created 2024-10-01, proposal at 5, won at age 100 (01-09) -> in proposal, won  at +70
#   E created 02-01, lost at age 20 (02-21)                      -> closed before age 30: out
#   F created 03-01, lead until age 35, lost at age 45 (04-15)   -> in lead at 30: lost at +15
TINY_OPPS = [
    ("A", "Sam", "2025-01-01", "won", "2025-02-10", 1000),
    ("B", "Sam", "2025-01-01", "lost", "2025-02-20", 1000),
    ("C", "Sam", "2025-04-07", "open", "", 1000),
    ("D", "Sam", "2024-10-01", "won", "2025-01-09", 1000),
    ("E", "Sam", "2025-02-01", "lost", "2025-02-21", 1000),
    ("F", "Sam", "2025-03-01", "lost", "2025-04-15", 1000),
    ("X", "Sam", "2025-05-02", "open", "", 1000),
]
TINY_HISTORY = [
    ("A", "lead", "2025-01-01"), ("A", "proposal", "2025-01-06"), ("A", "won", "2025-02-10"),
    ("B", "lead", "2025-01-01"), ("B", "proposal", "2025-01-06"), ("B", "lost", "2025-02-20"),
    ("C", "lead", "2025-04-07"), ("C", "proposal", "2025-04-17"),
    ("D", "lead", "2024-10-01"), ("D", "proposal", "2024-10-06"), ("D", "won", "2025-01-09"),
    ("E", "lead", "2025-02-01"), ("E", "lost", "2025-02-21"),
    ("F", "lead", "2025-03-01"), ("F", "proposal", "2025-04-05"), ("F", "lost", "2025-04-15"),
    ("X", "lead", "2025-05-02"), ("X", "proposal", "2025-05-12"),
]


def tiny() -> sn.SalesData:
    return frames(TINY_OPPS, TINY_HISTORY, ["lead", "proposal"])


def test_risk_tiny_example_without_pooling():
    # In proposal at age 30: A (won +10), B (lost +20), C (censored +25), D (won +70) and
    # X itself (censored at +0, no weight): the curve of test_aalen_johansen_by_hand.
    # p(won within 60 d) = 1/4; eventually = 3/4 (nobody is undecided at the end).
    # Time to win given a win: 1/3 of the wins by +10, all by +70 -> quartiles at +10
    # and +70 days.
    table = sn.risk(tiny(), as_of=T_TINY, horizon_days=60, prior_strength=0, min_comparable=0,
                    min_closed=0)
    x = table.set_index("opportunity_id").loc["X"]
    assert x["stage"] == "proposal"
    assert x["age_days"] == pytest.approx(30)
    assert x["days_in_stage"] == pytest.approx(20)
    assert x["p_win_horizon"] == pytest.approx(1 / 4)
    assert x["p_win_eventually"] == pytest.approx(3 / 4)
    assert x["expected_close_low"] == T_TINY + 10 * DAY
    assert x["expected_close_high"] == T_TINY + 70 * DAY
    assert x["comparable_set"] == "stage"
    assert x["n_comparable"] == 5  # A, B, C, D and X
    assert x["n_effective"] == pytest.approx(3 + 25 / 60)


def test_risk_tiny_example_with_pooling():
    # Pooled set "all open at age 30" adds F (lost at +15): times 10 w, 15 l, 20 l,
    # 25 c, 70 w. F_won(10) = 1/5; S = 4/5 -> 3/5 -> 2/5; at 70: + 2/5 -> F_won = 3/5.
    # So p60 = 1/5, eventually 3/5. Effective sizes: stage 3 + 25/60 = 41/12.
    # Weight of the stage set with prior_strength 2: (41/12) / (41/12 + 2) = 41/65.
    # p60 = 41/65 * 1/4 + 24/65 * 1/5 = 301/1300; eventually 41/65 * 3/4 + 24/65 * 3/5
    # = 903/1300.
    table = sn.risk(tiny(), as_of=T_TINY, horizon_days=60, prior_strength=2, min_comparable=0,
                    min_closed=0)
    x = table.set_index("opportunity_id").loc["X"]
    assert x["p_win_horizon"] == pytest.approx(301 / 1300)
    assert x["p_win_eventually"] == pytest.approx(903 / 1300)
    # The blended curve: 301/1300 of 903/1300 = 1/3 by +10, all by +70: same quartiles.
    assert x["expected_close_low"] == T_TINY + 10 * DAY
    assert x["expected_close_high"] == T_TINY + 70 * DAY
    # Win share by as_of: A, D won; B, E, F lost -> 2/5. rho = (903/1300) / 0.4 > 0.8;
    # two won deals are too few for cycle flags; amounts equal the mean; not stuck.
    assert table.attrs["win_share"] == pytest.approx(0.4)
    assert x["risk_points"] == 0 and x["risk_level"] == "low" and x["reasons"] == ""


def test_risk_tiny_example_caps_the_age_when_history_is_thin():
    # With min_comparable 10 the pooled set (4 + 25/60 effective deals) is too thin at
    # age 30, and even at age 0 (7 deals, C and X censored early): the landmark is 0.
    table = sn.risk(tiny(), as_of=T_TINY, horizon_days=60, min_closed=0)
    x = table.set_index("opportunity_id").loc["X"]
    assert "older than nearly all history: compared with deals open at 0 d" in x["note"]
    assert 0 < x["p_win_horizon"] < 1


def test_no_history_gives_nan_with_a_note_and_small_history_degrades():
    only_open = frames([("a", "Sam", "2025-01-01", "open", "", 10),
                        ("b", "Sam", "2025-01-02", "open", "", None)], [], ["lead"])
    table = sn.risk(only_open, as_of="2025-02-01")
    assert len(table) == 2
    assert table["p_win_horizon"].isna().all() and table["p_win_eventually"].isna().all()
    assert table["note"].str.contains("no deal closed by as_of").all()
    assert table.attrs["notes"]
    # Two closed deals, no stage history: pooled, finite, with notes; nothing dropped.
    two = frames([("a", "Sam", "2025-01-01", "won", "2025-01-20", 10),
                  ("b", "Sam", "2025-01-02", "lost", "2025-01-15", 10),
                  ("c", "Sam", "2025-01-03", "open", "", 10)], [], ["lead"])
    table = sn.risk(two, as_of="2025-02-01", min_closed=0)
    assert len(table) == 1
    assert 0 <= table["p_win_horizon"].iloc[0] <= 1
    assert "stage unknown" in table["note"].iloc[0]


def test_deal_older_than_every_closing_gets_a_warning():
    # as_of 2025-06-01. a won at age 10, b lost at age 20; c open since 2024-11-13
    # (200 d), d open since 02-21 (100 d). Comparable to d (created before it, open at
    # age 100): c, censored 100 d later, and d itself. Nothing ever closed after age 100:
    # p(within 90 d) = 0, everything is undecided (undecided_share 1), and the eventual
    # chance falls back on the won share of every closing, 1/2 — with a note.
    data = frames([("a", "Sam", "2025-01-01", "won", "2025-01-11", 10),
                   ("b", "Sam", "2025-01-02", "lost", "2025-01-22", 10),
                   ("c", "Sam", "2024-11-13", "open", "", 10),
                   ("d", "Sam", "2025-02-21", "open", "", 10)], [], ["lead"])
    d = sn.risk(data, as_of=T_TINY, min_comparable=0, min_closed=0).set_index("opportunity_id").loc["d"]
    assert d["p_win_horizon"] == 0
    assert d["undecided_share"] == 1
    assert d["p_win_eventually"] == pytest.approx(0.5)
    assert "100% of comparable deals were still open" in d["note"]


def test_options_are_checked():
    with pytest.raises(WindowError, match="horizon_days"):
        sn.risk(tiny(), as_of=T_TINY, horizon_days=0)
    with pytest.raises(WindowError, match="close_quantiles"):
        sn.risk(tiny(), as_of=T_TINY, close_quantiles=(0.8, 0.2))


# --------------------------------------------------------------------------- no leakage
@pytest.mark.parametrize("as_of", ["1403-10-15T14:30", "1404-06-01"])
def test_risk_ignores_everything_after_as_of(as_of):
    data = sample()
    at = sn.parse_date(as_of, calendar="jalali", tz=data.settings.timezone)
    full = sn.risk(data, as_of=at)
    cut = sn.risk(truncate(data, at), as_of=at)
    assert len(full) > 100
    pd.testing.assert_frame_equal(full, cut)
    assert full.attrs["win_share"] == cut.attrs["win_share"]
    assert full.attrs["size_band_edges"] == cut.attrs["size_band_edges"]


def test_risk_table_shape_on_the_sample():
    table = sn.risk(sample(), as_of="1404-06-01")
    at = table.attrs["as_of"]
    open_at = sn.open_opportunities(sample(), as_of=at, active_days=None)["open_count"].sum()
    assert len(table) == open_at  # one row per open deal, none dropped
    assert table["opportunity_id"].is_unique
    assert table["risk_level"].cat.ordered
    assert table["risk_level"].is_monotonic_decreasing
    assert (table["p_win_horizon"] <= table["p_win_eventually"] + 1e-12).all()
    both = table.dropna(subset=["expected_close_low", "expected_close_high"])
    assert (both["expected_close_low"] <= both["expected_close_high"]).all()
    assert (table["expected_close_low"].dropna() > at).all()
    high = table[table["risk_level"] == "high"]
    assert (high["reasons"] != "").all()
    assert table["reasons"].str.contains("stuck in ").any()
    assert table["reasons"].str.contains(r"the mean won amount").any()


# --------------------------------------------------------------------------- backtest
SAMPLE_POINTS = ["1403-06-01", "1403-12-01", "1404-03-01", "1404-05-01"]


def test_backtest_beats_the_stage_baseline_on_the_sample():
    # The model itself at every point (the first has fewer than 200 won deals before it:
    # by default the stage baseline would stand in, see test_risk_sweep).
    bt = sn.backtest(sample(), as_of=SAMPLE_POINTS, min_closed=0)
    assert len(bt) == 4
    assert (bt["n_won"] + bt["n_lost"] + bt["n_still_open"] == bt["n_scored"]).all()
    assert (bt["brier_model"] < bt["brier_baseline"]).all()
    assert (bt["log_loss_model"] < bt["log_loss_baseline"]).all()
    assert (bt["brier_model"] < bt["brier_stage_horizon"]).all()
    assert_calibrated(bt)
    cal = bt.attrs["calibration"]
    assert set(cal["bin"]) == set(range(1, 11))
    assert cal.groupby("as_of")["n"].sum().tolist() == bt["n_scored"].tolist()


def assert_calibrated(bt: pd.DataFrame) -> None:
    """Check calibration within sampling error.

    The mean prediction is within 3 binomial standard errors of the observed rate;
    the deciles are off by less than 0.12 on average (each decile holds 15-30 deals,
    so about 0.08 is pure noise; the CRM stage rule is off by about 0.3); and the top
    decile wins far more often than the bottom one.
    """
    p = bt["observed_rate"]
    se = np.sqrt(p * (1 - p) / bt["n_scored"])
    assert ((bt["mean_model"] - p).abs() < 3 * se).all()
    assert (bt["calibration_error"] < 0.12).all()
    cal = bt.attrs["calibration"]
    for _, rows in cal.groupby("as_of"):
        assert rows["observed"].iloc[-1] > rows["observed"].iloc[0] + 0.2


def test_backtest_beats_the_stage_baseline_on_synthetic_data():
    syn = synthetic()
    points = [SYN_START + d * DAY for d in (300, 420, 540, 620)]
    bt = sn.backtest(syn.data, as_of=points, horizon_days=90)
    assert (bt["n_scored"] > 100).all()
    assert (bt["brier_model"] < bt["brier_baseline"]).all()
    assert (bt["log_loss_model"] < bt["log_loss_baseline"]).all()
    assert (bt["brier_model"] < bt["brier_stage_horizon"]).all()
    assert_calibrated(bt)


def test_synthetic_estimates_are_closer_to_the_truth_than_the_stage_rule():
    # The true P(win eventually) is known by construction (Synthetic.truth). The CRM
    # rule, computed here independently: the won share of the deals closed by T that
    # reached the deal's stage.
    syn = synthetic()
    at = SYN_START + 500 * DAY
    table = sn.risk(syn.data, as_of=at)
    truth = syn.truth(at, table["opportunity_id"])
    closed = syn.data.opportunities["closed_at"] <= at
    won = closed & (syn.data.opportunities["status"] == "won")
    reached_by_t = (syn.entry <= (at - SYN_START) / DAY) & (syn.final[:, None] >= np.arange(3))
    stage_rule = {SYN_STAGES[s]: won[reached_by_t[:, s]].sum() / closed[reached_by_t[:, s]].sum()
                  for s in range(3)}
    crm = table["stage"].map(stage_rule).to_numpy(dtype=float)
    model = table["p_win_eventually"].to_numpy()
    assert np.mean(np.abs(model - truth)) < 0.7 * np.mean(np.abs(crm - truth))
    assert np.corrcoef(model, truth)[0, 1] > 0.7
    assert abs(model.mean() - truth.mean()) < 0.05


def test_backtest_refuses_points_whose_outcome_is_unknown():
    # The sample's last event is 2025-11-20 (1404-08-29); 1404-08-01 + 90 days is later.
    with pytest.raises(WindowError, match="outcome is not known yet"):
        sn.backtest(sample(), as_of=["1404-03-01", "1404-08-01"])


def test_cli_backtest_json_shape(capsys):
    code = main(["backtest", str(sn.sample_path()), "--as-of", "1404-03-01",
                 "--as-of", "1404-05-01", "--horizon-days", "60", "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert isinstance(doc, list) and len(doc) == 2
    required = {"as_of", "horizon_days", "n_scored", "n_still_open", "n_won", "n_lost",
                "brier_model", "brier_baseline", "log_loss_model", "log_loss_baseline",
                "calibration"}
    for point in doc:
        assert required <= set(point)
        assert point["horizon_days"] == 60
        assert point["n_won"] + point["n_lost"] + point["n_still_open"] == point["n_scored"]
        assert {"bin", "n", "mean_predicted", "observed"} <= set(point["calibration"][0])
    # Jalali 1404-03-01 is 2025-05-22, read in the dataset's time zone.
    assert doc[0]["as_of"] == "2025-05-22T00:00:00+03:30"
    gregorian = main(["backtest", str(sn.sample_path()), "--as-of", "2025-05-22",
                      "--calendar", "gregorian", "--horizon-days", "60", "--json"])
    assert gregorian == 0
    assert json.loads(capsys.readouterr().out)[0] == doc[0]


def test_cli_backtest_text_and_refusal(capsys):
    assert main(["backtest", str(sn.sample_path()), "--as-of", "1404-03-01"]) == 0
    out = capsys.readouterr().out
    assert "Brier" in out and "calibration" in out
    assert main(["backtest", str(sn.sample_path()), "--as-of", "1404-08-01"]) == 2
    assert "outcome is not known yet" in capsys.readouterr().err


# --------------------------------------------------------------------------- velocity, coverage
VELOCITY_OPPS = [
    # In January 2025: four created; a and b won (cycles 10 and 20 d, 100 and 300), c
    # lost, d open. e was created in December and won in January (cycle 30 d, 200).
    ("a", "Sam", "2025-01-02", "won", "2025-01-12", 100),
    ("b", "Sam", "2025-01-03", "won", "2025-01-23", 300),
    ("c", "Sam", "2025-01-04", "lost", "2025-01-10", 50),
    ("d", "Sam", "2025-01-05", "open", "", 700),
    ("e", "Ann", "2024-12-20", "won", "2025-01-19", 200),
]


def test_sales_velocity_by_hand():
    data = frames(VELOCITY_OPPS, [], ["lead"])
    table = sn.sales_velocity(data, start="2025-01-01", end="2025-02-01").set_index("owner")
    # Sam: 4 created x mean won 200 x win rate 2/3 / mean cycle 15 d = 35.56 per day.
    assert table.loc["Sam", "opportunities"] == 4
    assert table.loc["Sam", "velocity_per_day"] == pytest.approx(4 * 200 * (2 / 3) / 15)
    # Ann created nothing in January: 0 x 200 x 1 / 30 = 0.
    assert table.loc["Ann", "velocity_per_day"] == 0
    monthly = sn.sales_velocity(data, start="2025-01-01", end="2025-02-01", by=None,
                                period="month")
    # Team: 4 created x mean won (100+300+200)/3 = 200 x 3/4 / mean cycle 20 d = 30.
    assert monthly["velocity_per_day"].tolist() == pytest.approx([4 * 200 * 0.75 / 20])


def test_pipeline_coverage_by_hand():
    data = frames(VELOCITY_OPPS, [], ["lead"])
    # Open at 2025-02-01: d (Sam, 700). Ann has nothing open.
    table = sn.pipeline_coverage(data, as_of="2025-02-01", target={"Sam": 350, "Ann": 100})
    cov = dict(zip(table["owner"], table["coverage"], strict=True))
    assert cov == {"Sam": 2.0, "Ann": 0.0}
    flat = sn.pipeline_coverage(data, as_of="2025-02-01", target=1400, by=None)
    assert flat["coverage"].tolist() == [0.5]
    with pytest.raises(WindowError, match="Bob"):
        sn.pipeline_coverage(data, as_of="2025-02-01", target={"Bob": 1})
