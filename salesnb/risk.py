"""Question 5b — the risk of each open opportunity, and how good that estimate has been.

:func:`risk` estimates, for every opportunity open at ``as_of``, the probability of
winning it within a horizon and eventually, when it would close if it is won, and
explains in plain words what makes it risky. :func:`backtest` replays the estimate
at past moments and scores it against what happened next, beside the fixed
probability-per-stage rule CRMs use. :func:`sales_velocity` and
:func:`pipeline_coverage` are the two classic pipeline health ratios.

The model
---------
A *landmark* competing-risks estimate (Aalen–Johansen), computed afresh for each
open deal ``d`` of age ``a`` (days since ``created_at``) in stage ``s`` with deal-size
band ``b``, from what was known at ``as_of`` (:func:`~salesnb._common.known_at`,
history entries up to ``as_of``; the ``stage`` column, which describes the data's
snapshot moment, is never read):

1. *Comparable deals*: every opportunity created no later than ``d`` (so it has been
   seen for at least ``a`` days) that was still open at age ``a`` and whose last
   open-stage history entry at or before age ``a`` is ``s``; of those, the ones in
   size band ``b``. Bands are quantiles (terciles by default) of the amounts of the
   opportunities known at ``as_of``; deals without an amount form their own band.
2. *Follow-up*: from age ``a`` on, a comparable deal is won (event 1) or lost (event 2)
   at its ``closed_at`` if that is known at ``as_of``; still open at ``as_of``, it is
   *censored* there: it counts as "still undecided" for as long as it was observed,
   never as lost. ``d`` itself and the other open deals are censored like that.
3. *Estimate*: the Aalen–Johansen cumulative incidence of winning, ``F_won(t)``, gives
   ``p_win_horizon = F_won(horizon)``. Eventually: ``F_won(τ) + S(τ)·π``, where ``τ``
   is the last follow-up time with at least ``min_at_risk`` deals still at risk (1 by
   default: the end of the follow-up), ``S(τ)`` the share still undecided then
   (``undecided_share``) and ``π`` the won share of all closings in the same comparable
   set: the undecided rest is *assumed* to close like those did — the data cannot say
   more, and a ``note`` warns when that rest is half or more of the comparable set.
4. *Pooling*: three nested sets — stage × band ⊂ stage ⊂ all deals open at age ``a``
   (band ⊂ all when the stage of ``d`` is unknown at ``as_of``). Each estimate is
   shrunk toward the next coarser one: ``w = n_eff / (n_eff + prior_strength)``,
   ``n_eff`` being the effective sample size for the horizon (a closing counts 1, a
   censored deal the share of the horizon it was observed). The blend is a mixture of
   the curves, so probabilities and close dates stay consistent.
5. *Too old*: when fewer than ``min_comparable`` effective deals were ever open at age
   ``a`` (``d`` is older than nearly all history), ``a`` is lowered to the oldest age
   that has that many, and a ``note`` says so.
6. *Expected close*: the quantiles (``close_quantiles``, the quartiles by default) of
   the time to win given a win, ``F_won(t) / p_win_eventually``, as timestamps after
   ``as_of``; NaT where the quantile falls beyond the longest follow-up.

No history (nothing closed by ``as_of``): probabilities are NaN and ``note`` says so.

The risk level
--------------
Points: the win chance relative to the historical win rate, ``ρ = p_win_eventually /
(won / (won + lost) of the deals closed by as_of)``, below 0.5: 2 points, below 0.8:
1 point; amount above the size band: 1; older than the p90 of won-deal cycles: 1;
stuck in its stage (beyond the stage's p90 of completed visits): 1. ``high`` from 3
points, ``medium`` from 1, else ``low``. So a deal is high risk when its chance is
very low and something concrete explains it, or when three warning signs coincide.

Reasons only (0 points): an amount below the band (small deals do not usually close
less often; the flag may point at a data-entry slip), an age beyond p75, and a thin
owner pipeline (it makes the deal matter more to its owner, not less likely to win).
The probability already accounts for size and age; the points make the level follow
what a manager can see and act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesnb._common import (
    NANOS_PER_DAY,
    TimeLike,
    group_column,
    history_known_at,
    known_at,
    ratio,
    resolve_moment,
    utc_ns,
)
from salesnb.cycle import sales_cycle
from salesnb.data import SalesData
from salesnb.exceptions import WindowError
from salesnb.funnel import stuck_opportunities
from salesnb.pipeline import new_opportunities, open_opportunities
from salesnb.stages import current_stage
from salesnb.volume import check_band, deal_size_flags, sales_volume
from salesnb.winrate import win_rate

__all__ = ["backtest", "backtest_records", "pipeline_coverage", "risk", "sales_velocity"]

#: Risk levels, in increasing order (an ordered categorical).
RISK_LEVELS: tuple[str, ...] = ("low", "medium", "high")
#: Points from which a deal is ``medium`` and ``high``.
MEDIUM_FROM, HIGH_FROM = 1, 3
#: ``ρ`` thresholds (win chance / historical win rate) worth 2 and 1 points.
RHO_VERY_LOW, RHO_LOW = 0.5, 0.8
#: Fewest won deals for the cycle-length flags.
MIN_WON_FOR_CYCLE = 5
#: Probabilities are clipped to [EPS, 1 - EPS] in the log-loss.
LOG_LOSS_EPS = 1e-3
NO_AMOUNT = "(no amount)"

_OUTCOME_OPEN, _OUTCOME_WON, _OUTCOME_LOST = 0, 1, 2


# --------------------------------------------------------------------------- history view
@dataclass(frozen=True)
class _History:
    """Everything the estimator reads, as known at ``at`` (integer nanoseconds)."""

    at: pd.Timestamp
    opps: pd.DataFrame  # known_at(data, at), index 0..n-1
    created: np.ndarray  # int64 ns since the epoch
    close_age: np.ndarray  # int64 ns from creation to a closing known at `at`; -1: open
    outcome: np.ndarray  # int8: 0 open at `at`, 1 won, 2 lost
    band: np.ndarray  # int64: 0 no amount, 1..k
    edges: np.ndarray  # inner band edges (k - 1 amounts)
    entry_row: np.ndarray  # open-stage history entries: row in `opps` ...
    entry_age: np.ndarray  # ... age at entry (int64 ns) ...
    entry_stage: np.ndarray  # ... and funnel position; sorted by row, time, source order
    stages: tuple[str, ...]

    @property
    def at_ns(self) -> int:
        return int(utc_ns(pd.Series([self.at]))[0])

    @property
    def win_share(self) -> float:
        """Won / (won + lost) of the deals closed by ``at`` (NaN when none)."""
        won = int((self.outcome == _OUTCOME_WON).sum())
        closed = int((self.outcome != _OUTCOME_OPEN).sum())
        return won / closed if closed else float("nan")

    def stage_at(self, age: int) -> np.ndarray:
        """Funnel position of each deal's last open-stage entry at or before ``age`` (-1: none)."""
        out = np.full(len(self.created), -1, dtype="int64")
        idx = np.flatnonzero(self.entry_age <= age)
        if len(idx):
            rows = self.entry_row[idx]
            last = idx[np.r_[rows[1:] != rows[:-1], True]]
            out[self.entry_row[last]] = self.entry_stage[last]
        return out


def _history(data: SalesData, at: pd.Timestamp, size_bands: int) -> _History:
    opps = known_at(data, at).reset_index(drop=True)
    created = utc_ns(opps["created_at"]) if len(opps) else np.zeros(0, dtype="int64")
    status = opps["status_asof"].to_numpy(dtype=object)
    outcome = np.select([status == "won", status == "lost"], [_OUTCOME_WON, _OUTCOME_LOST],
                        _OUTCOME_OPEN).astype("int8")
    closed = opps["closed_asof"]
    close_age = np.full(len(opps), -1, dtype="int64")
    has_close = closed.notna().to_numpy()
    if has_close.any():
        close_age[has_close] = utc_ns(closed[has_close]) - created[has_close]
    amount = opps["amount"].to_numpy(dtype="float64", na_value=np.nan)
    known = amount[~np.isnan(amount)]
    edges = np.zeros(0)
    if size_bands > 1 and len(np.unique(known)) > 1:
        edges = np.unique(np.quantile(known, np.arange(1, size_bands) / size_bands))
    band = np.where(np.isnan(amount), 0, np.searchsorted(edges, amount, side="right") + 1)
    hist = history_known_at(data, at)
    positions = {s: i for i, s in enumerate(data.settings.stages)}
    pos = hist["stage"].map(positions)
    hist = hist[pos.notna().to_numpy()]
    row_of = pd.Series(np.arange(len(opps)), index=opps["opportunity_id"].to_numpy())
    rows = row_of.reindex(hist["opportunity_id"].to_numpy()).to_numpy()
    keep = ~np.isnan(rows)
    hist, rows = hist[keep], rows[keep].astype("int64")
    ages = (utc_ns(hist["entered_at"]) - created[rows]) if len(hist) else np.zeros(0, dtype="int64")
    seq = hist["seq"].to_numpy() if "seq" in hist.columns else np.arange(len(hist))
    order = np.lexsort((seq, ages, rows))
    stage_pos = hist["stage"].map(positions).to_numpy(dtype="int64")
    return _History(at, opps, created, close_age, outcome, band.astype("int64"), edges,
                    rows[order], ages[order], stage_pos[order], tuple(data.settings.stages))


def _band_labels(edges: np.ndarray) -> list[str]:
    return [NO_AMOUNT] + [f"Q{i}" for i in range(1, len(edges) + 2)]


# --------------------------------------------------------------------------- estimator
@dataclass(frozen=True)
class _Curve:
    """Aalen–Johansen estimate on one comparable set (times in days after the landmark)."""

    n: int
    n_eff: float
    times: np.ndarray
    won: np.ndarray  # cumulative incidence of winning at `times`
    lost: np.ndarray
    undecided: np.ndarray  # overall survival S(t) at `times`
    closed_won_share: float  # π: won / closed among every closing in the set (NaN: none)

    def won_by(self, t: float) -> float:
        i = np.searchsorted(self.times, t, side="right") - 1
        return float(self.won[i]) if i >= 0 else 0.0

    def won_at(self, grid: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.times, grid, side="right") - 1
        return np.where(i >= 0, self.won[np.clip(i, 0, None)] if len(self.won) else 0.0, 0.0)

    @property
    def still_undecided(self) -> float:
        """Share neither won nor lost at the end of the curve (1 when it is empty)."""
        return float(self.undecided[-1]) if len(self.times) else 1.0

    def eventually(self, pi: float) -> float:
        won = float(self.won[-1]) if len(self.times) else 0.0
        return won + self.still_undecided * pi


def aalen_johansen(follow_up: np.ndarray, event: np.ndarray, horizon: float,
                   min_at_risk: int = 1) -> _Curve:
    """Estimate the cumulative incidence of winning and losing, censored deals included.

    Parameters
    ----------
    follow_up : ndarray
        Days from the landmark to the closing (events) or to ``as_of`` (censored).
    event : ndarray
        1 won, 2 lost, 0 censored (still open at ``as_of``).
    horizon : float
        Horizon in days, for the effective sample size.
    min_at_risk : int, default 1
        Follow the curve only while at least this many deals are at risk: the tail of
        a Kaplan–Meier-type curve rests on a handful of deals and swings with each.

    Returns
    -------
    _Curve
        ``times`` (distinct follow-up times), ``won`` and ``lost`` (cumulative incidence
        at those times), ``undecided`` (share neither won nor lost), ``n`` and ``n_eff``
        (a closing counts 1, a censored deal ``min(1, follow_up / horizon)``),
        ``closed_won_share`` (won / closed over every closing of the set).

    Examples
    --------
    Four deals: won at day 10, lost at 20, censored at 25, won at 70. At day 10 one of
    four wins (1/4); at 20 one of the three left is lost (S = 3/4 · 2/3 = 1/2); after
    the censoring at 25 the last deal wins at 70, adding S · 1/1 = 1/2:

    >>> c = aalen_johansen(np.array([10.0, 20, 25, 70]), np.array([1, 2, 0, 1]), 60.0)
    >>> c.won.tolist(), c.lost.tolist()
    ([0.25, 0.25, 0.25, 0.75], [0.0, 0.25, 0.25, 0.25])
    """
    follow_up = np.asarray(follow_up, dtype="float64")
    event = np.asarray(event)
    n = len(follow_up)
    censored = event == 0
    n_eff = float((~censored).sum() + np.minimum(1.0, follow_up[censored] / horizon).sum()) \
        if horizon > 0 else float((~censored).sum())
    n_closed = int((~censored).sum())
    pi = float((event == 1).sum() / n_closed) if n_closed else float("nan")
    if n == 0:
        empty = np.zeros(0)
        return _Curve(0, 0.0, empty, empty, empty, empty, pi)
    times, inverse = np.unique(follow_up, return_inverse=True)
    d_won = np.bincount(inverse, weights=(event == 1).astype(float), minlength=len(times))
    d_lost = np.bincount(inverse, weights=(event == 2).astype(float), minlength=len(times))
    leaving = np.bincount(inverse, minlength=len(times)).astype(float)
    at_risk = n - np.concatenate([[0.0], np.cumsum(leaving)[:-1]])
    surv_after = np.cumprod(1.0 - (d_won + d_lost) / at_risk)
    surv_before = np.concatenate([[1.0], surv_after[:-1]])
    won = np.cumsum(surv_before * d_won / at_risk)
    lost = np.cumsum(surv_before * d_lost / at_risk)
    keep = at_risk >= min_at_risk  # a prefix: at_risk never grows
    return _Curve(n, n_eff, times[keep], won[keep], lost[keep], surv_after[keep], pi)


@dataclass(frozen=True)
class _Estimate:
    p_horizon: float
    p_eventually: float
    close_low: float  # days after as_of (NaN: unknown)
    close_high: float
    n_comparable: int
    n_effective: float
    level: str  # the finest set that carries weight
    landmark_days: float
    undecided: float  # share of the comparable outcomes not observed (extrapolated with π)
    note: str


class _Estimator:
    """Landmark estimates for the deals open at ``as_of`` (one call per deal)."""

    def __init__(self, hist: _History, horizon: float, prior_strength: float,
                 min_comparable: float, quantiles: tuple[float, float], min_at_risk: int):
        self.h = hist
        self.horizon = horizon
        self.min_at_risk = min_at_risk
        self.k = prior_strength
        self.min_comparable = min_comparable
        self.quantiles = quantiles
        self.at_ns = hist.at_ns
        self.multi_band = len(np.unique(hist.band)) > 1  # else stage × size == stage
        # Per deal, independent of the landmark age (computed once, used for every deal).
        self._closed = hist.close_age >= 0
        self._stop = np.where(self._closed, hist.close_age, self.at_ns - hist.created)
        self._open_until = np.where(self._closed, hist.close_age, np.iinfo("int64").max)
        self._observed = self.at_ns - hist.created  # how long each deal has been seen

    def _base(self, age: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Deals open at ``age`` and seen that long: mask, follow-up days, event codes."""
        open_then = (self._observed >= age) & (self._open_until > age)
        follow = (self._stop - age) / NANOS_PER_DAY
        return open_then, follow, self.h.outcome

    def _n_eff_all(self, age: int) -> float:
        mask, follow, event = self._base(age)
        f, e = follow[mask], event[mask]
        return float((e != 0).sum() + np.minimum(1.0, f[e == 0] / self.horizon).sum())

    def _landmark(self, age: int) -> int:
        """Lower ``age`` to the oldest one with ``min_comparable`` effective deals."""
        if self._n_eff_all(age) >= self.min_comparable:
            return age
        if self._n_eff_all(0) < self.min_comparable:
            return 0
        lo, hi = 0, age  # n_eff(lo) >= min, n_eff(hi) < min; n_eff is non-increasing
        while hi - lo > 60 * 10**9:  # one minute
            mid = (lo + hi) // 2
            if self._n_eff_all(mid) >= self.min_comparable:
                lo = mid
            else:
                hi = mid
        return lo

    def estimate(self, age: int, stage: int, band: int) -> _Estimate:
        notes: list[str] = []
        landmark = self._landmark(age)
        if landmark < age:
            notes.append(f"older than nearly all history: compared with deals open at "
                         f"{landmark / NANOS_PER_DAY:.0f} d")
        mask, follow, event = self._base(landmark)
        sets: list[tuple[str, np.ndarray]] = []
        if stage >= 0:
            at_stage = mask & (self.h.stage_at(landmark) == stage)
            if self.multi_band:
                sets.append(("stage × size", at_stage & (self.h.band == band)))
            sets.append(("stage", at_stage))
        else:
            notes.append("stage unknown at as_of (no stage history): not conditioned on stage")
            if self.multi_band:
                sets.append(("size", mask & (self.h.band == band)))
        sets.append(("all open at that age", mask))
        curves = [aalen_johansen(follow[m], event[m], self.horizon, self.min_at_risk)
                  for _, m in sets]
        coarsest = curves[-1]
        if coarsest.n_eff <= 0 or not np.isfinite(self.h.win_share):
            why = "no deal closed by as_of" if not np.isfinite(self.h.win_share) \
                else "no comparable deal in the history"
            return _Estimate(np.nan, np.nan, np.nan, np.nan, coarsest.n, 0.0, "", np.nan, np.nan,
                             "; ".join([*notes, f"{why}: no estimate"]))
        # Mixture weights, finest first: w = n_eff / (n_eff + k), the rest to coarser sets.
        weights, remaining = [], 1.0
        for c in curves[:-1]:
            w = (c.n_eff / (c.n_eff + self.k)) if self.k > 0 else float(c.n_eff > 0)
            weights.append(remaining * w)
            remaining *= 1.0 - w
        weights.append(remaining)
        # π per set: its own closings, else the next coarser set's, else the win share.
        pis, fallback = [], self.h.win_share
        for c in reversed(curves):
            share = c.closed_won_share
            fallback = share if np.isfinite(share) else fallback
            pis.append(fallback)
        pis.reverse()
        p_h = sum(w * c.won_by(self.horizon) for w, c in zip(weights, curves, strict=True))
        p_ev = sum(w * c.eventually(pi) for w, c, pi in zip(weights, curves, pis, strict=True))
        undecided = sum(w * c.still_undecided for w, c in zip(weights, curves, strict=True))
        low: float = np.nan
        high: float = np.nan
        if p_ev > 0:
            grid = np.unique(np.concatenate([c.times for w, c in zip(weights, curves, strict=True)
                                             if w > 0]))
            won = sum(w * c.won_at(grid) for w, c in zip(weights, curves, strict=True) if w > 0)
            given_won = np.asarray(won) / p_ev  # distribution of the time to win, given a win
            found = [np.flatnonzero(given_won >= q - 1e-12) for q in self.quantiles]
            low, high = (float(grid[f[0]]) if len(f) else np.nan for f in found)
        finest = next(i for i, w in enumerate(weights) if w > 0 or i == len(weights) - 1)
        if weights[0] < 0.5 and len(curves) > 1:
            notes.append(f"few comparable deals ({curves[0].n_eff:.1f} effective in "
                         f"{sets[0][0]}): the estimate leans on pooled deals")
        if undecided >= 0.5:
            notes.append(f"{undecided:.0%} of comparable deals were still open at the end of "
                         "their follow-up: the eventual chance assumes they close like the "
                         "closed ones")
        return _Estimate(float(p_h), float(p_ev), low, high, curves[finest].n,
                         float(curves[finest].n_eff), sets[finest][0], landmark / NANOS_PER_DAY,
                         float(undecided), "; ".join(notes))


def _targets(data: SalesData, hist: _History) -> pd.DataFrame:
    """The deals open at ``as_of`` with stage (from history), age and band."""
    open_ = hist.opps[hist.outcome == _OUTCOME_OPEN]
    cur = current_stage(data, open_, hist.at)
    positions = {s: i for i, s in enumerate(hist.stages)}
    rows = open_.index.to_numpy()
    return pd.DataFrame({
        "row": rows,
        "opportunity_id": open_["opportunity_id"],
        "owner": open_["owner"],
        "stage": cur["stage"],
        "stage_pos": cur["stage"].map(positions).fillna(-1).astype("int64"),
        "age_ns": hist.at_ns - hist.created[rows],
        "age_days": (hist.at_ns - hist.created[rows]) / NANOS_PER_DAY,
        "days_in_stage": (hist.at - cur["entered_at"]).dt.total_seconds() / 86_400.0,
        "amount": open_["amount"].astype("float64"),
        "band": hist.band[rows],
    }).reset_index(drop=True)


def _estimate_all(data: SalesData, at: pd.Timestamp, horizon: float, size_bands: int,
                  prior_strength: float, min_comparable: float, quantiles: tuple[float, float],
                  min_at_risk: int) -> tuple[pd.DataFrame, _History]:
    hist = _history(data, at, size_bands)
    targets = _targets(data, hist)
    est = _Estimator(hist, horizon, prior_strength, min_comparable, quantiles, min_at_risk)
    results = [est.estimate(int(a), int(s), int(b)) for a, s, b in
               zip(targets["age_ns"], targets["stage_pos"], targets["band"], strict=True)]
    labels = _band_labels(hist.edges)
    day = pd.Timedelta(days=1)

    def close(days: list[float]) -> pd.Series:
        values = pd.Series(days, dtype="float64", index=targets.index)
        return (at + values * day).dt.round("s")

    out = targets.assign(
        size_band=[labels[b] for b in targets["band"]],
        p_win_horizon=[r.p_horizon for r in results],
        p_win_eventually=[r.p_eventually for r in results],
        expected_close_low=close([r.close_low for r in results]),
        expected_close_high=close([r.close_high for r in results]),
        n_comparable=pd.array([r.n_comparable for r in results], dtype="int64"),
        n_effective=[r.n_effective for r in results],
        comparable_set=[r.level for r in results],
        landmark_days=[r.landmark_days for r in results],
        undecided_share=[r.undecided for r in results],
        note=pd.array([r.note for r in results], dtype="str"),
    )
    return out, hist


# --------------------------------------------------------------------------- flags
def _size_flags(data: SalesData, at: pd.Timestamp, band: float) -> pd.DataFrame:
    try:
        flags = deal_size_flags(data, end=at, as_of=at, band=band)
    except WindowError:  # as_of at or before the first day: no won deal to compare with
        return pd.DataFrame({"flag": pd.Series(dtype="str"), "ratio": pd.Series(dtype="float64")})
    return flags.set_index("opportunity_id")[["flag", "ratio"]]


def _cycle_quantiles(data: SalesData, at: pd.Timestamp) -> tuple[float, float]:
    try:
        cyc = sales_cycle(data, end=at, as_of=at, by=None)
    except WindowError:
        return np.nan, np.nan
    row = cyc.iloc[0]
    if int(row["won_count"]) < MIN_WON_FOR_CYCLE:
        return np.nan, np.nan
    return float(row["p75_days"]), float(row["p90_days"])


def _fmt_ratio(value: float) -> str:
    return f"{value:.1f}×" if value >= 0.95 else f"{value:.2f}×"


def _flag_frame(data: SalesData, at: pd.Timestamp, table: pd.DataFrame, band: float,
                win_share: float) -> pd.DataFrame:
    """Add the flag columns, ``reasons`` and ``risk_level`` to the estimate table."""
    ids = table["opportunity_id"]
    size = _size_flags(data, at, band)
    size_flag = ids.map(size["flag"]).fillna("no reference")
    size_ratio = ids.map(size["ratio"]).astype("float64")
    p75, p90 = _cycle_quantiles(data, at)
    age = table["age_days"]
    older = np.select([(age > p90).to_numpy(), (age > p75).to_numpy()], ["p90", "p75"], "")
    stuck = stuck_opportunities(data, as_of=at).set_index("opportunity_id")
    is_stuck = ids.isin(stuck.index).to_numpy()
    owners = open_opportunities(data, as_of=at, by="owner").set_index("owner")
    thin = table["owner"].map(owners["too_few"]).astype("boolean").fillna(False).to_numpy(dtype=bool)
    rho = table["p_win_eventually"] / win_share if win_share > 0 else table["p_win_eventually"] * np.nan
    points = (np.where(rho < RHO_VERY_LOW, 2, np.where(rho < RHO_LOW, 1, 0))
              + (size_flag == "above").to_numpy()
              + (older == "p90") + is_stuck).astype("int64")
    reasons = []
    for i in range(len(table)):
        parts = []
        if rho.iloc[i] < RHO_LOW:
            parts.append(f"win chance {table['p_win_eventually'].iloc[i]:.0%} vs a "
                         f"{win_share:.0%} historical win rate")
        if size_flag.iloc[i] in ("above", "below"):
            parts.append(f"amount {_fmt_ratio(size_ratio.iloc[i])} the mean won amount")
        if older[i]:
            q = p90 if older[i] == "p90" else p75
            parts.append(f"older than {older[i][1:]}% of won deals ({older[i]} {q:.0f} d)")
        if is_stuck[i]:
            row = stuck.loc[ids.iloc[i]]
            parts.append(f"stuck in {row['stage']} for {row['days_in_stage']:.0f} d "
                         f"(p{round(100 * stuck.attrs.get('quantile', 0.9))} "
                         f"{row['threshold_days']:.0f} d)")
        if thin[i]:
            row = owners.loc[table["owner"].iloc[i]]
            parts.append(f"owner's pipeline thin ({row['open_count']} open vs median "
                         f"{row['team_median']:.0f})")
        reasons.append("; ".join(parts))
    level = np.where(points >= HIGH_FROM, "high", np.where(points >= MEDIUM_FROM, "medium", "low"))
    return table.assign(
        size_flag=pd.array(size_flag.to_numpy(), dtype="str"),
        older_than=pd.array(older, dtype="str"),
        stuck=is_stuck,
        thin_pipeline=thin,
        risk_points=points,
        risk_level=pd.Categorical(level, categories=list(RISK_LEVELS), ordered=True),
        reasons=pd.array(reasons, dtype="str"),
    )


def _check_options(horizon_days: float, size_bands: int, prior_strength: float,
                   min_comparable: float, close_quantiles: tuple[float, float],
                   min_at_risk: int) -> None:
    checks = [
        (int(min_at_risk) == min_at_risk and min_at_risk >= 1, f"min_at_risk={min_at_risk} is "
         "not a positive integer", "give 1 (follow every curve to its end) or more, e.g. 5"),
        (horizon_days > 0, f"horizon_days={horizon_days} is not positive", "give a horizon in days, e.g. 90"),
        (int(size_bands) == size_bands and size_bands >= 1, f"size_bands={size_bands} is not a "
         "positive integer", "give 1 (no size bands) or more, e.g. 3"),
        (prior_strength >= 0, f"prior_strength={prior_strength} is negative",
         "give 0 (no pooling) or more, e.g. 20"),
        (min_comparable >= 0, f"min_comparable={min_comparable} is negative", "give 0 or more, e.g. 10"),
        (len(close_quantiles) == 2 and 0 < close_quantiles[0] <= close_quantiles[1] <= 1,
         f"close_quantiles={close_quantiles!r} is not two increasing shares in (0, 1]",
         "give e.g. (0.25, 0.75)"),
    ]
    for ok, message, fix in checks:
        if not ok:
            raise WindowError(message, fix=fix)


# --------------------------------------------------------------------------- public API
def risk(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    horizon_days: float = 90,
    band: float = 0.5,
    size_bands: int = 3,
    prior_strength: float = 20.0,
    min_comparable: float = 10.0,
    min_at_risk: int = 1,
    close_quantiles: tuple[float, float] = (0.25, 0.75),
    calendar: str | None = None,
) -> pd.DataFrame:
    """Estimate the win probability and risk of every opportunity open at ``as_of``.

    The estimate conditions on the deal's current stage, its age and its deal-size
    band, uses only what was known at ``as_of`` and treats open deals as censored; the
    module docstring describes the model and the risk-level rule.

    Parameters
    ----------
    data : SalesData
        The dataset.
    as_of : str or Timestamp, optional
        The moment to look from (default: the last event in the data). Strings are
        read in ``calendar``.
    horizon_days : float, default 90
        Horizon of ``p_win_horizon``, in days.
    band : float, default 0.5
        Relative distance from the mean won amount beyond which the amount is flagged
        (as in :func:`~salesnb.deal_size_flags`).
    size_bands : int, default 3
        Number of deal-size bands (amount quantiles) the estimate is stratified by;
        1: no size stratification.
    prior_strength : float, default 20
        Pseudo-count of the shrinkage toward coarser comparable sets (in effective
        deals); 0: no pooling unless a set is empty.
    min_comparable : float, default 10
        Fewest effective comparable deals at the deal's age before the age is lowered.
    min_at_risk : int, default 1
        Each comparable set's curve is followed while at least this many of its deals
        are still open; the share undecided then is extrapolated with ``π``. Raising it
        steadies the tail but leans more on ``π`` (on the synthetic test data, where
        late closings are mostly losses, 1 was the most accurate).
    close_quantiles : (float, float), default (0.25, 0.75)
        Quantiles of the time to win (given a win) for the expected close range.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of ``as_of`` (default: the dataset's).

    Returns
    -------
    DataFrame
        One row per deal open at ``as_of``, highest risk first (then largest amount):
        ``opportunity_id``, ``owner``, ``stage`` (last open stage entered by ``as_of``;
        missing without history), ``age_days``, ``days_in_stage``, ``amount``,
        ``size_band``, ``p_win_horizon``, ``p_win_eventually``, ``expected_close_low``,
        ``expected_close_high``, ``undecided_share`` (the share of the comparable
        deals' outcomes not yet known, which ``p_win_eventually`` extrapolates),
        ``n_comparable`` and ``n_effective`` (of ``comparable_set``, the finest
        comparable set carrying weight),
        ``size_flag``, ``older_than`` (``p90``, ``p75`` or empty), ``stuck``,
        ``thin_pipeline``, ``risk_points``, ``risk_level`` (ordered categorical
        low < medium < high), ``reasons`` and ``note`` (plain text, empty when none).
        ``attrs`` holds ``as_of``, ``horizon_days``, ``win_share`` (won / closed by
        ``as_of``), ``size_band_edges``, ``prior_strength`` and ``notes``.

    Examples
    --------
    >>> import salesnb as sn
    >>> table = sn.risk(sn.load(sn.sample_path()), as_of="1404-06-01")
    >>> list(table.columns[:6])
    ['opportunity_id', 'owner', 'stage', 'age_days', 'days_in_stage', 'amount']
    >>> bool(table["p_win_horizon"].between(0, 1).all())
    True
    >>> table["risk_level"].cat.categories.tolist()
    ['low', 'medium', 'high']
    """
    _check_options(horizon_days, size_bands, prior_strength, min_comparable, close_quantiles,
                   min_at_risk)
    check_band(band)
    at = resolve_moment(data, as_of, calendar)
    table, hist = _estimate_all(data, at, float(horizon_days), int(size_bands),
                                float(prior_strength), float(min_comparable),
                                (float(close_quantiles[0]), float(close_quantiles[1])),
                                int(min_at_risk))
    table = _flag_frame(data, at, table, band, hist.win_share)
    table = table.sort_values(["risk_level", "amount", "opportunity_id"],
                              ascending=[False, False, True], na_position="last",
                              ignore_index=True)
    columns = ["opportunity_id", "owner", "stage", "age_days", "days_in_stage", "amount",
               "size_band", "p_win_horizon", "p_win_eventually", "expected_close_low",
               "expected_close_high", "undecided_share", "n_comparable", "n_effective",
               "comparable_set",
               "size_flag", "older_than", "stuck", "thin_pipeline", "risk_points",
               "risk_level", "reasons", "note"]
    out = table[columns]
    notes = []
    if not len(hist.entry_row):
        notes.append("no stage history known at as_of: the estimate conditions on age and size only")
    if not np.isfinite(hist.win_share):
        notes.append("no deal closed by as_of: no probability can be estimated")
    out.attrs.update(as_of=at, horizon_days=float(horizon_days), win_share=hist.win_share,
                     size_band_edges=hist.edges.tolist(), prior_strength=float(prior_strength),
                     notes=notes)
    return out


def _stage_baseline(hist: _History, targets: pd.DataFrame) -> np.ndarray:
    """Won share of the deals closed by ``as_of`` that reached each stage (CRM-style)."""
    closed = hist.outcome != _OUTCOME_OPEN
    won = hist.outcome == _OUTCOME_WON
    share = {}
    for pos in range(len(hist.stages)):
        reached = np.zeros(len(hist.created), dtype=bool)
        reached[hist.entry_row[hist.entry_stage == pos]] = True
        n = int((reached & closed).sum())
        share[pos] = (reached & won).sum() / n if n else hist.win_share
    return np.array([share.get(s, hist.win_share) for s in targets["stage_pos"]], dtype="float64")


def _stage_horizon(hist: _History, targets: pd.DataFrame, horizon: float) -> np.ndarray:
    """Share won within ``horizon`` days of entering the deal's stage (Aalen–Johansen).

    A horizon-aware, stage-only reference: time runs from the first entry into the
    stage (from creation when the stage is unknown), deals open at ``as_of`` censored.
    """
    at_ns = hist.at_ns
    closed = hist.close_age >= 0
    stop = np.where(closed, hist.close_age, at_ns - hist.created)

    def p_within(rows: np.ndarray, start: np.ndarray) -> float:
        follow = (stop[rows] - start) / NANOS_PER_DAY
        curve = aalen_johansen(follow, hist.outcome[rows], horizon)
        return curve.won_by(horizon) if curve.n_eff > 0 else float("nan")

    overall = p_within(np.arange(len(hist.created)), np.zeros(len(hist.created), dtype="int64"))
    share = {}
    for pos in range(len(hist.stages)):
        idx = np.flatnonzero(hist.entry_stage == pos)
        rows = hist.entry_row[idx]
        first = np.r_[True, rows[1:] != rows[:-1]] if len(rows) else np.zeros(0, dtype=bool)
        share[pos] = p_within(rows[first], hist.entry_age[idx][first]) if first.any() else overall
    return np.array([share.get(s, overall) for s in targets["stage_pos"]], dtype="float64")


def _scores(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    if not len(p):
        return np.nan, np.nan
    clipped = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    brier = float(np.mean((p - y) ** 2))
    log_loss = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
    return brier, log_loss


def _calibration(p: np.ndarray, y: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-count bins of the predictions (deciles): predicted vs observed."""
    if not len(p):
        return pd.DataFrame(columns=["bin", "n", "p_min", "p_max", "mean_predicted", "observed"])
    k = min(bins, len(p))
    code = pd.qcut(pd.Series(p).rank(method="first"), k, labels=False).to_numpy() + 1
    frame = pd.DataFrame({"bin": code, "p": p, "y": y})
    return frame.groupby("bin").agg(n=("p", "size"), p_min=("p", "min"), p_max=("p", "max"),
                                    mean_predicted=("p", "mean"), observed=("y", "mean")
                                    ).reset_index()


def backtest(
    data: SalesData,
    *,
    as_of: TimeLike | Sequence[TimeLike],
    horizon_days: float = 90,
    size_bands: int = 3,
    prior_strength: float = 20.0,
    min_comparable: float = 10.0,
    min_at_risk: int = 1,
    calendar: str | None = None,
) -> pd.DataFrame:
    """Score the win-probability estimate at past moments against what happened next.

    At each ``as_of`` point ``T``: the deals open at ``T`` are estimated with the
    history known at ``T`` (as :func:`risk` does) and by the CRM rule — the won share
    of the deals closed by ``T`` that reached the deal's current stage (all closed deals
    when the stage is unknown). The outcome is 1 when the deal was won by
    ``T + horizon_days``, 0 when it was lost by then or still open. Deals without an
    estimate (no history) are not scored and are counted.

    Points whose outcome is not known yet (``T + horizon_days`` after the last event in
    the data) are refused with :class:`~salesnb.WindowError`: scoring them would count
    deals still running as failures.

    Parameters
    ----------
    data : SalesData
        The dataset.
    as_of : str, Timestamp or a sequence of them
        The moments to replay (strings read in ``calendar``).
    horizon_days : float, default 90
        The horizon of the scored probability, in days.
    size_bands, prior_strength, min_comparable, min_at_risk
        Model options, see :func:`risk`.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of the date strings (default: the dataset's).

    Returns
    -------
    DataFrame
        One row per point: ``as_of``, ``horizon_days``, ``outcome_at`` (``T +
        horizon``), ``n_open``, ``n_scored``, ``n_unscored``, ``n_won``, ``n_lost``,
        ``n_still_open``, ``observed_rate``, ``mean_model``, ``mean_baseline``,
        ``brier_model``, ``brier_baseline``, ``log_loss_model``, ``log_loss_baseline``
        (probabilities clipped to [0.001, 0.999]), ``brier_stage_horizon`` and
        ``log_loss_stage_horizon`` (a second, horizon-aware stage-only reference: the
        share won within the horizon after entering the stage, censoring-aware — it
        separates what the horizon brings from what age and size bring),
        ``brier_skill`` (1 - model / baseline), ``calibration_error`` (count-weighted mean |predicted - observed|
        over the deciles). ``attrs['calibration']``: ``as_of``, ``bin`` (decile of the
        model's predictions), ``n``, ``p_min``, ``p_max``, ``mean_predicted``,
        ``observed``.

    Raises
    ------
    WindowError
        When ``T + horizon_days`` is after the last event in the data.

    Examples
    --------
    >>> import salesnb as sn
    >>> bt = sn.backtest(sn.load(sn.sample_path()), as_of=["1403-12-01", "1404-03-01"])
    >>> bool((bt["n_won"] + bt["n_lost"] + bt["n_still_open"] == bt["n_scored"]).all())
    True
    >>> bool((bt["brier_model"] < bt["brier_baseline"]).all())
    True
    """
    _check_options(horizon_days, size_bands, prior_strength, min_comparable, (0.25, 0.75),
                   min_at_risk)
    points = [as_of] if isinstance(as_of, str | pd.Timestamp) or not isinstance(as_of, Sequence) \
        else list(as_of)
    if not points:
        raise WindowError("no as_of point given", fix="give one or more moments to replay")
    last = data.span[1]
    horizon = pd.Timedelta(days=float(horizon_days))
    moments = [resolve_moment(data, p, calendar) for p in points]
    for p, at in zip(points, moments, strict=True):
        if at + horizon > last:
            raise WindowError(
                f"as_of={p!r} + {horizon_days:g} days ({(at + horizon).isoformat()}) is after the "
                f"last event in the data ({last.isoformat()}): the outcome is not known yet",
                fix=f"give as_of at or before {(last - horizon).isoformat()}, or a shorter horizon")
    rows, calib = [], []
    full = data.opportunities.set_index("opportunity_id")
    for at in moments:
        table, hist = _estimate_all(data, at, float(horizon_days), int(size_bands),
                                    float(prior_strength), float(min_comparable), (0.25, 0.75),
                                    int(min_at_risk))
        status = table["opportunity_id"].map(full["status"]).to_numpy(dtype=object)
        closed_at = table["opportunity_id"].map(full["closed_at"])
        by_end = (closed_at <= at + horizon).fillna(False).to_numpy(dtype=bool)
        won, lost = by_end & (status == "won"), by_end & (status == "lost")
        p_model = table["p_win_horizon"].to_numpy(dtype="float64")
        p_base = _stage_baseline(hist, table)
        p_stage_h = _stage_horizon(hist, table, float(horizon_days))
        scored = np.isfinite(p_model) & np.isfinite(p_base) & np.isfinite(p_stage_h)
        y = won[scored].astype("float64")
        bm, lm = _scores(p_model[scored], y)
        bb, lb = _scores(p_base[scored], y)
        bh, lh = _scores(p_stage_h[scored], y)
        cal = _calibration(p_model[scored], y)
        cal_err = float((cal["n"] * (cal["mean_predicted"] - cal["observed"]).abs()).sum()
                        / cal["n"].sum()) if len(cal) else np.nan
        rows.append({
            "as_of": at, "horizon_days": float(horizon_days), "outcome_at": at + horizon,
            "n_open": len(table), "n_scored": int(scored.sum()),
            "n_unscored": int((~scored).sum()), "n_won": int(won[scored].sum()),
            "n_lost": int(lost[scored].sum()),
            "n_still_open": int((~won & ~lost)[scored].sum()),
            "observed_rate": float(y.mean()) if len(y) else np.nan,
            "mean_model": float(p_model[scored].mean()) if len(y) else np.nan,
            "mean_baseline": float(p_base[scored].mean()) if len(y) else np.nan,
            "brier_model": bm, "brier_baseline": bb, "log_loss_model": lm,
            "log_loss_baseline": lb, "brier_stage_horizon": bh, "log_loss_stage_horizon": lh,
            "brier_skill": 1 - bm / bb if bb > 0 else np.nan,
            "calibration_error": cal_err,
        })
        calib.append(cal.assign(as_of=at))
    out = pd.DataFrame(rows)
    calibration = pd.concat(calib, ignore_index=True) if calib else pd.DataFrame()
    if len(calibration):
        calibration = calibration[["as_of", *[c for c in calibration.columns if c != "as_of"]]]
    out.attrs["calibration"] = calibration
    return out


def backtest_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a :func:`backtest` result as JSON-ready records (the ``backtest --json`` shape).

    One dict per point: the columns (timestamps as ISO text, NaN as None) and
    ``calibration``, the point's calibration rows.
    """
    calibration = table.attrs.get("calibration", pd.DataFrame())

    def plain(value: Any) -> Any:
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            return float(value) if np.isfinite(value) else None
        return value

    records: list[dict[str, Any]] = []
    for row in table.to_dict("records"):
        rec: dict[str, Any] = {str(k): plain(v) for k, v in row.items()}
        cal = calibration[calibration["as_of"] == row["as_of"]] if len(calibration) else calibration
        rec["calibration"] = [{str(k): plain(v) for k, v in r.items() if k != "as_of"}
                              for r in cal.to_dict("records")]
        records.append(rec)
    return records


def sales_velocity(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    by: str | None = "owner",
    period: str | None = None,
    calendar: str | None = None,
) -> pd.DataFrame:
    """Compute sales velocity: opportunities × mean won value × win rate / cycle days.

    The ingredients come from the KPI functions over the same window, as known at
    ``as_of``: ``opportunities`` — created in the window (:func:`~salesnb.new_opportunities`);
    ``mean_won_amount`` (:func:`~salesnb.sales_volume`); ``win_rate`` on the closed
    basis (:func:`~salesnb.win_rate`); ``cycle_days`` — the mean created-to-won days
    (:func:`~salesnb.sales_cycle`). Velocity is value per day; missing when an
    ingredient is (no won deal, nothing closed).

    Parameters
    ----------
    data : SalesData
        The dataset.
    start, end, as_of : str or Timestamp, optional
        The window ``[start, end)`` and the moment it is seen from.
    by : str or None, default "owner"
        Column to group by, None for the total.
    period : str or None, default None
        Split by period (``week``, ``month``...); None for the whole window.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of periods and date strings.

    Returns
    -------
    DataFrame
        (period columns,) the group column, ``opportunities``, ``mean_won_amount``,
        ``win_rate``, ``cycle_days``, ``velocity_per_day``.

    Examples
    --------
    >>> import salesnb as sn
    >>> v = sn.sales_velocity(sn.load(sn.sample_path()), start="1403-01-01", end="1404-01-01",
    ...                       by=None)
    >>> bool(v["velocity_per_day"].iloc[0] > 0)
    True
    """
    kw: dict[str, Any] = dict(start=start, end=end, as_of=as_of, calendar=calendar, by=by)
    col = group_column(by)
    keys = ["period", col] if period is not None else [col]
    created = new_opportunities(data, period=period or "month", **kw)
    if period is None:
        created = created.groupby(col, sort=False)["created"].sum().reset_index()
    volume = sales_volume(data, period=period, **kw)
    rate = win_rate(data, period=period, basis="closed", **kw)
    cycle = sales_cycle(data, period=period, **kw)
    lead = ["period", "period_start", "period_end"] if period is not None else []
    out = (volume[[*lead, col, "mean_amount"]]
           .merge(created[[*keys, "created"]], on=keys, how="left")
           .merge(rate[[*keys, "win_rate"]], on=keys, how="left")
           .merge(cycle[[*keys, "mean_days"]], on=keys, how="left"))
    out = out.rename(columns={"created": "opportunities", "mean_amount": "mean_won_amount",
                              "mean_days": "cycle_days"})
    out["opportunities"] = out["opportunities"].fillna(0).astype("int64")
    out["velocity_per_day"] = ratio(out["opportunities"] * out["mean_won_amount"] * out["win_rate"],
                                    out["cycle_days"])
    return out[[*lead, col, "opportunities", "mean_won_amount", "win_rate", "cycle_days",
                "velocity_per_day"]]


def pipeline_coverage(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    target: float | Mapping[str, float],
    by: str | None = "owner",
    calendar: str | None = None,
) -> pd.DataFrame:
    """Compute pipeline coverage: open value at ``as_of`` / target, per group.

    Parameters
    ----------
    data : SalesData
        The dataset.
    as_of : str or Timestamp, optional
        The moment to look at (default: the last event in the data).
    target : float or mapping
        The target (e.g. the quota of the coming period): one number for every group,
        or a mapping group → target. Groups without a target get NaN coverage; a
        group named in the mapping but unknown in the data is an error.
    by : str or None, default "owner"
        Column to group by, None for the total.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of ``as_of``.

    Returns
    -------
    DataFrame
        The group column, ``open_count``, ``open_value``, ``open_without_amount`` (from
        :func:`~salesnb.open_opportunities`), ``target``, ``coverage`` (NaN where the
        target is missing or 0). Groups with a target but nothing open show with 0.

    Examples
    --------
    >>> import salesnb as sn
    >>> c = sn.pipeline_coverage(sn.load(sn.sample_path()), target=5e10, by=None)
    >>> c.columns.tolist()
    ['group', 'open_count', 'open_value', 'open_without_amount', 'target', 'coverage']
    """
    col = group_column(by)
    table = open_opportunities(data, as_of=as_of, by=by, calendar=calendar)
    table = table[[col, "open_count", "open_value", "open_without_amount"]]
    if isinstance(target, Mapping):
        targets = {str(k): float(v) for k, v in target.items()}
        known = set(data.opportunities[by].dropna().astype(str)) if by is not None else set()
        unknown = sorted(set(targets) - known - set(table[col]))
        if unknown:
            raise WindowError(f"target names unknown {col} value(s) {unknown}",
                              fix=f"use names from the data, e.g. {', '.join(sorted(known)[:5])}")
        missing = [g for g in targets if g not in set(table[col])]
        if missing:
            extra = pd.DataFrame({col: pd.Series(missing, dtype="str"), "open_count": 0,
                                  "open_value": 0.0, "open_without_amount": 0})
            table = pd.concat([table, extra], ignore_index=True)
        values = table[col].map(targets).astype("float64")
    else:
        values = pd.Series(float(target), index=table.index)
    if (values < 0).any():
        raise WindowError("a target is negative", fix="give targets >= 0")
    out = table.assign(target=values)
    out["coverage"] = ratio(out["open_value"], out["target"])
    return out.reset_index(drop=True)
