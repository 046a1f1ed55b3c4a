"""Question 5b — the risk of each open opportunity.

:func:`risk` estimates, for every opportunity open at ``as_of``, the probability of
winning it within a horizon and eventually, when it would close if it is won, and
explains in plain words what makes it risky. How good that estimate has been is
measured by :func:`salesnb.metrics.backtesting.backtest`.

The model
---------
A *landmark* competing-risks estimate (Aalen–Johansen), computed afresh for each
open deal ``d`` of age ``a`` (days since ``created_at``) in stage ``s`` with deal-size
band ``b``, from what was known at ``as_of`` (the snapshot
:meth:`salesnb.SalesData.at`, history entries up to ``as_of``; the ``stage`` column, which describes the data's
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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesnb._arrays import NANOS_PER_DAY
from salesnb._arrays import utc_nanos as utc_ns
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.exceptions import WindowError
from salesnb.metrics.cycle import _sales_cycle
from salesnb.metrics.opportunities import _open_opportunities
from salesnb.metrics.stages import current_stage
from salesnb.metrics.stalled import _stuck_opportunities
from salesnb.metrics.statistics import aalen_johansen
from salesnb.metrics.volume import _deal_size_flags, check_band
from salesnb.metrics.window import TimeLike, resolve_moment, resolve_window

__all__ = ["OUTCOME_LOST", "OUTCOME_OPEN", "OUTCOME_WON", "RISK_LEVELS", "RiskHistory",
           "check_risk_options", "estimate_open_deals", "risk"]

#: Risk levels, in increasing order (an ordered categorical).
RISK_LEVELS: tuple[str, ...] = ("low", "medium", "high")
#: Points from which a deal is ``medium`` and ``high``.
MEDIUM_FROM, HIGH_FROM = 1, 3
#: ``ρ`` thresholds (win chance / historical win rate) worth 2 and 1 points.
RHO_VERY_LOW, RHO_LOW = 0.5, 0.8
#: Fewest won deals for the cycle-length flags.
MIN_WON_FOR_CYCLE = 5
NO_AMOUNT = "(no amount)"

OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST = 0, 1, 2


# --------------------------------------------------------------------------- history view
@dataclass(frozen=True)
class RiskHistory:
    """Everything the estimator reads, as known at ``at`` (integer nanoseconds).

    Built by :func:`estimate_open_deals`; :mod:`salesnb.metrics.backtesting` reads it for
    its stage-only references.
    """

    at: pd.Timestamp
    opps: pd.DataFrame  # the snapshot's opportunities at `at`, index 0..n-1
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
        won = int((self.outcome == OUTCOME_WON).sum())
        closed = int((self.outcome != OUTCOME_OPEN).sum())
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


def _history(snap: Snapshot, size_bands: int) -> RiskHistory:
    data, at = snap.data, snap.as_of
    opps = snap.opportunities.reset_index(drop=True)
    created = utc_ns(opps["created_at"]) if len(opps) else np.zeros(0, dtype="int64")
    status = opps["status_asof"].to_numpy(dtype=object)
    outcome = np.select([status == "won", status == "lost"], [OUTCOME_WON, OUTCOME_LOST],
                        OUTCOME_OPEN).astype("int8")
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
    hist = snap.history
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
    return RiskHistory(at, opps, created, close_age, outcome, band.astype("int64"), edges,
                    rows[order], ages[order], stage_pos[order], tuple(data.settings.stages))


def _band_labels(edges: np.ndarray) -> list[str]:
    return [NO_AMOUNT] + [f"Q{i}" for i in range(1, len(edges) + 2)]


# --------------------------------------------------------------------------- estimator
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

    def __init__(self, hist: RiskHistory, horizon: float, prior_strength: float,
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


def _targets(snap: Snapshot, hist: RiskHistory) -> pd.DataFrame:
    """The deals open at ``as_of`` with stage (from history), age and band."""
    open_ = hist.opps[hist.outcome == OUTCOME_OPEN]
    cur = current_stage(snap, open_)
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


def estimate_open_deals(snap: Snapshot, horizon: float, size_bands: int, prior_strength: float,
                        min_comparable: float, quantiles: tuple[float, float],
                        min_at_risk: int) -> tuple[pd.DataFrame, RiskHistory]:
    """Estimate every deal open at ``snap.as_of`` (the columns of :func:`risk` before its flags)."""
    at = snap.as_of
    hist = _history(snap, size_bands)
    targets = _targets(snap, hist)
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
        window = resolve_window(data, None, at, at)
    except WindowError:  # as_of at or before the first day: no won deal to compare with
        return pd.DataFrame({"flag": pd.Series(dtype="str"), "ratio": pd.Series(dtype="float64")})
    flags = _deal_size_flags(data.at(window.as_of), window, band=band)
    return flags.set_index("opportunity_id")[["flag", "ratio"]]


def _cycle_quantiles(data: SalesData, at: pd.Timestamp) -> tuple[float, float]:
    try:
        window = resolve_window(data, None, at, at)
    except WindowError:
        return np.nan, np.nan
    cyc = _sales_cycle(data.at(window.as_of), window, period=None, by=None)
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
    snap = data.at(at)
    stuck = _stuck_opportunities(snap).set_index("opportunity_id")
    is_stuck = ids.isin(stuck.index).to_numpy()
    owners = _open_opportunities(snap, by="owner").set_index("owner")
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


def check_risk_options(horizon_days: float, size_bands: int, prior_strength: float,
                       min_comparable: float, close_quantiles: tuple[float, float],
                       min_at_risk: int) -> None:
    """Raise :class:`~salesnb.WindowError` naming the first model option out of range."""
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
    check_risk_options(horizon_days, size_bands, prior_strength, min_comparable, close_quantiles,
                   min_at_risk)
    check_band(band)
    at = resolve_moment(data, as_of, calendar)
    table, hist = estimate_open_deals(data.at(at), float(horizon_days), int(size_bands),
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
