"""Question 5b — the risk of each open opportunity.

:func:`risk` estimates, for every opportunity open at ``as_of``, the probability of
winning it within a horizon and eventually, when it would close if it is won, and
explains in plain words what makes it risky. How good that estimate has been is
measured by :func:`salesnb.metrics.backtesting.backtest`.

The model
---------
A *landmark* competing-risks estimate (Aalen–Johansen) for each open deal ``d`` of
age ``a`` (days since ``created_at``) in stage ``s`` with deal-size band ``b``, from
what was known at ``as_of`` (:func:`_risk_inputs`: the snapshot
:meth:`salesnb.SalesData.at`, history entries up to ``as_of``; the ``stage`` column,
which describes the data's snapshot moment, is never read):

1. *Comparable deals*: every opportunity created no later than ``d`` (so it has been
   seen for at least ``a`` days) that was still open at age ``a`` and whose last
   open-stage history entry at or before the *landmark age* ``ℓ`` is ``s`` (in the
   same pipeline, when the data has a ``pipeline`` column); of those, the ones in size
   band ``b``. Bands are quantiles (terciles by default) of the amounts of the
   opportunities known at ``as_of``; deals without an amount form their own band.
   The landmark age is ``a`` itself when the open deals are few (exact landmarks);
   with many open deals it is ``a`` rounded down to a grid of ages (every day up to
   20 days, then steps of 5 %: :func:`landmark_grid`), so that deals of nearly the same
   age share one comparable set (see *The sweep*).
2. *Follow-up*: from age ``ℓ`` on, a comparable deal is won (event 1) or lost (event 2)
   at its ``closed_at`` if that is known at ``as_of``; still open at ``as_of``, it is
   *censored* there: it counts as "still undecided" for as long as it was observed,
   never as lost. ``d`` itself and the other open deals are censored like that. When
   ``ℓ < a`` the curves are read *conditionally* on being still open at ``a``: only
   what happens after age ``a`` counts, so a comparable set never includes a deal that
   had closed before the age of ``d``.
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
   that has that many (to the minute), and a ``note`` says so.
6. *Expected close*: the quantiles (``close_quantiles``, the quartiles by default) of
   the time to win given a win, ``F_won(t) / p_win_eventually``, as timestamps after
   ``as_of``; NaT where the quantile falls beyond the longest follow-up.
7. *Too little history*: with fewer than ``min_closed`` (200) won or fewer than 200
   lost deals closed by ``as_of`` — the bar Salesforce sets for its own opportunity
   scoring — the model is not used: both probabilities are the *stage baseline* (the
   won share of the deals closed by ``as_of`` that reached the deal's stage, all
   closed deals when the stage is unknown), ``comparable_set`` is ``stage baseline``,
   and the ``note`` and ``attrs["model"]`` say so.

No history (nothing closed by ``as_of``): probabilities are NaN and ``note`` says so.

The sweep
---------
All open deals are estimated together, in one pass over their landmark ages in
increasing order. The deals are sorted once by the end of their follow-up (closing, or
``as_of`` for the open ones); the deals still open at a landmark age are then a suffix
of that order, and each deal's stage at the landmark is kept up to date by replaying
the history entries in age order. At each landmark the comparable sets of every
(pipeline, stage, band) asked for are built once, each gets one Aalen–Johansen curve,
and every open deal at that landmark reads its estimates off the shared curves
(conditionally on its own age, see 2.). Memory is that of the data plus one landmark's
curves, never open deals × history. Exact landmarks cost one pass over the deals
still open per distinct age; they are used while ``distinct ages × deals`` stays
within :data:`EXACT_WORK`, beyond that the grid bounds the number of passes (about
100 for ages up to three years). Rounding the landmark acts as noise on the estimates
(about 0.005 on average on generated data), not as a bias: see ``docs/metrics.md``.

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

import itertools
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesnb._arrays import NANOS_PER_DAY
from salesnb._arrays import utc_nanos as utc_ns
from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData
from salesnb.exceptions import WindowError
from salesnb.metrics._tables import currency_labels, currency_mode, only_pipelines
from salesnb.metrics.cycle import _sales_cycle
from salesnb.metrics.opportunities import _open_opportunities
from salesnb.metrics.stalled import _stuck_opportunities
from salesnb.metrics.statistics import aalen_johansen
from salesnb.metrics.volume import _deal_size_flags, check_band
from salesnb.metrics.window import TimeLike, resolve_moment, resolve_window

__all__ = ["MIN_CLOSED", "OUTCOME_LOST", "OUTCOME_OPEN", "OUTCOME_WON", "RISK_LEVELS", "RiskInputs",
           "RiskModel", "check_risk_options", "estimate_open_deals", "risk", "win_probabilities"]

#: Risk levels, in increasing order (an ordered categorical).
RISK_LEVELS: tuple[str, ...] = ("low", "medium", "high")
#: Points from which a deal is ``medium`` and ``high``.
MEDIUM_FROM, HIGH_FROM = 1, 3
#: ``ρ`` thresholds (win chance / historical win rate) worth 2 and 1 points.
RHO_VERY_LOW, RHO_LOW = 0.5, 0.8
#: Fewest won deals for the cycle-length flags.
MIN_WON_FOR_CYCLE = 5
#: Fewest won and fewest lost deals closed by ``as_of`` for the model to be used (else
#: the stage baseline stands in): the bar Salesforce sets for its opportunity scoring.
MIN_CLOSED = 200
NO_AMOUNT = "(no amount)"
#: ``comparable_set`` of a deal estimated by the stage baseline (too little history).
STAGE_BASELINE = "stage baseline"

OUTCOME_OPEN, OUTCOME_WON, OUTCOME_LOST = 0, 1, 2
#: A missing time in the int64 nanosecond arrays (NaT).
NO_TIME = np.iinfo("int64").min

#: Landmark grid (used beyond :data:`EXACT_WORK`): ages 0, 1 d, 2 d... in steps of
#: ``GRID_MIN_STEP`` up to 20 days, then geometric in steps of ``GRID_STEP`` (5 %). A deal's
#: landmark is its age rounded down to it.
GRID_MIN_STEP = 24 * 3_600 * 10**9
GRID_STEP = 0.05
#: Exact landmarks (each deal's own age) while ``distinct ages × deals`` stays within this.
EXACT_WORK = 10**8
#: Landmarks computed at a time (threads) when the data has at least ``THREADS_FROM`` deals.
SWEEP_THREADS = 2
THREADS_FROM = 100_000
#: The bisection of the "too old" landmark stops at this resolution (one minute).
CAP_RESOLUTION = 60 * 10**9


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class RiskInputs:
    """Everything the risk model reads from a dataset, as known at ``as_of`` (see :func:`_risk_inputs`).

    Per deal (the opportunities created at or before ``as_of``; arrays of one length
    ``n``, in any order — the *deal index* is the position in them):

    Attributes
    ----------
    as_of : Timestamp
        The moment, timezone-aware.
    stages : tuple of str
        The open stages in funnel order; ``entry_stage`` holds positions in it.
    key : ndarray of int64
        A key per deal, unique, and the same for the same opportunity at every
        ``as_of`` of one dataset (today: its row in ``data.opportunities``). The
        backtest matches the deals of two moments with it.
    opportunity_id, owner : Series of str
        Labels, indexed ``0..n-1`` (owner may be missing).
    created : ndarray of int64
        ``created_at`` in UTC nanoseconds.
    closed : ndarray of int64
        ``closed_at`` in UTC nanoseconds when the closing is known at ``as_of``
        (``closed_at <= as_of``), else :data:`NO_TIME`.
    outcome : ndarray of int8
        :data:`OUTCOME_WON` / :data:`OUTCOME_LOST` for those closings, else
        :data:`OUTCOME_OPEN` (open at ``as_of``, whatever the status is today).
    amount : ndarray of float64
        ``amount``, NaN when empty.
    pipeline : ndarray of int32
        Code of the deal's ``pipeline`` in ``pipelines`` (all 0 without that column;
        an empty pipeline is a code of its own, labelled ``(none)``).
    pipelines : tuple of str
        The pipeline labels; empty when the data has no ``pipeline`` column.
    entry_deal, entry_stage, entry_at : ndarray of int64
        The open-stage history entries known at ``as_of`` (``entered_at <= as_of``,
        stage one of ``stages``; won/lost rows and unknown labels left out) of those
        deals: deal index, funnel position and ``entered_at`` in UTC nanoseconds,
        sorted by deal, then ``entered_at``, ties in the order of the source.
    crm_probability : ndarray of float64 or None
        The CRM's own probability of each stage, as a share (0–1): shape
        ``(max(1, len(pipelines)), len(stages))``, NaN where unknown; None when the data
        has no usable ``probability`` column. It is the median ``probability`` of the
        deals that are open in the data (``status`` open, their ``stage`` column naming
        the stage) — the stage's default probability in the CRM, a setting rather
        than an outcome. Per-deal probabilities are not replayed (that needs their
        history): a closed deal's probability is 0 or 100 in most CRMs, its outcome.
    crm_scale : str
        How ``probability`` was read: ``share`` (every value in [0, 1]), ``percent``
        (values in [0, 100], or written with ``%``), or a sentence saying why the
        column was not used; empty without the column.
    """

    as_of: pd.Timestamp
    stages: tuple[str, ...]
    key: np.ndarray
    opportunity_id: pd.Series
    owner: pd.Series
    created: np.ndarray
    closed: np.ndarray
    outcome: np.ndarray
    amount: np.ndarray
    pipeline: np.ndarray
    pipelines: tuple[str, ...]
    entry_deal: np.ndarray
    entry_stage: np.ndarray
    entry_at: np.ndarray
    crm_probability: np.ndarray | None = None
    crm_scale: str = ""
    #: What the size bands rank instead of ``amount``, or None: with amounts split by
    #: currency (no rates), each amount's percentile rank among the deals of its own
    #: currency, so a deal is large or small for its currency, never across currencies.
    size_key: np.ndarray | None = None

    @property
    def at_ns(self) -> int:
        """``as_of`` in UTC nanoseconds."""
        return int(self.as_of.value)

    @property
    def n_won(self) -> int:
        return int((self.outcome == OUTCOME_WON).sum())

    @property
    def n_lost(self) -> int:
        return int((self.outcome == OUTCOME_LOST).sum())

    @property
    def win_share(self) -> float:
        """Won / (won + lost) of the deals closed by ``as_of`` (NaN when none)."""
        won, closed = self.n_won, self.n_won + self.n_lost
        return won / closed if closed else float("nan")


def _probability_share(values: pd.Series) -> tuple[np.ndarray | None, str]:
    """Read a ``probability`` column as shares (0–1), detecting a 0–100 scale."""
    text = values.astype("str").str.strip() if not pd.api.types.is_numeric_dtype(values) else None
    percent_sign = bool(text is not None and text.str.endswith("%").fillna(False).any())
    if text is not None:
        numbers = pd.to_numeric(text.str.rstrip("%").str.strip(), errors="coerce")
    else:
        numbers = values.astype("float64")
    p = numbers.to_numpy(dtype="float64", na_value=np.nan)
    given = int(values.notna().sum())
    known = p[np.isfinite(p)]
    if not len(known):
        return None, "probability column not used: no value could be read as a number" if given else \
            "probability column not used: it is empty"
    if len(known) < given:
        return None, (f"probability column not used: {given - len(known)} value(s) are not numbers "
                      "(give shares 0–1 or percentages 0–100)")
    if known.min() < 0 or known.max() > 100:
        return None, (f"probability column not used: values from {known.min():g} to {known.max():g} "
                      "are outside 0–100")
    if percent_sign or known.max() > 1:
        return p / 100.0, "percent"
    return p, "share"


def _risk_inputs(data: SalesData, as_of: pd.Timestamp) -> RiskInputs:
    """What the risk model reads from ``data`` at ``as_of`` (:func:`_gather_risk_inputs`),
    gathered once per moment and kept with the snapshot: :func:`risk`, the forecast's
    :func:`win_probabilities` and the backtest at one ``as_of`` share it."""
    return data.at(as_of).derived(("risk_inputs",), lambda: _gather_risk_inputs(data, as_of))


def _gather_risk_inputs(data: SalesData, as_of: pd.Timestamp) -> RiskInputs:
    """Gather what the risk model reads from ``data``, as known at ``as_of``.

    The one place the risk model (:func:`estimate_open_deals`, the backtest's
    references) touches the dataset: everything after it works on the returned
    :class:`RiskInputs` alone. Its contract, for another engine to implement:

    * the deals are the opportunities with ``created_at <= as_of``; per deal a stable
      integer ``key``, ``opportunity_id``, ``owner``, ``created`` and — when
      ``closed_at <= as_of`` — ``closed`` and the ``outcome`` (won/lost), else
      ``closed = NO_TIME`` and ``outcome = OUTCOME_OPEN``; ``amount``; ``pipeline``
      codes (all 0 without the column);
    * the history entries with ``entered_at <= as_of`` whose stage is an open stage of
      ``settings.stages``, of those deals, as (deal index, funnel position,
      ``entered_at``) sorted by deal, ``entered_at``, source order;
    * the CRM's stage probabilities, from the whole dataset (a setting of the CRM, not
      a per-deal value known at ``as_of``; see :class:`RiskInputs`).

    Times are int64 UTC nanoseconds. Nothing recorded after ``as_of`` may change the
    result except ``crm_probability`` (which the model itself never reads).
    """
    snap = data.at(as_of)
    opps = snap.opportunities
    n = len(opps)
    key = opps.index.to_numpy(dtype="int64")
    created = np.array(utc_ns(opps["created_at"]), dtype="int64") if n else np.zeros(0, dtype="int64")
    closed = np.array(utc_ns(opps["closed_asof"]), dtype="int64") if n else np.zeros(0, dtype="int64")
    status = opps["status_asof"].to_numpy(dtype=object)
    outcome = np.select([status == "won", status == "lost"], [OUTCOME_WON, OUTCOME_LOST],
                        OUTCOME_OPEN).astype("int8")
    closed[outcome == OUTCOME_OPEN] = NO_TIME
    amount = opps["amount"].to_numpy(dtype="float64", na_value=np.nan)
    pipelines: tuple[str, ...] = ()
    pipeline = np.zeros(n, dtype="int32")
    full = data.opportunities
    if "pipeline" in full.columns:
        codes, uniques = pd.factorize(full["pipeline"].astype("str"), sort=True)
        names = [str(v) for v in uniques]
        if (codes < 0).any():
            codes = np.where(codes < 0, len(names), codes)
            names.append("(none)")
        pipelines = tuple(names)
        pipeline = codes.astype("int32")[key]
    # Open-stage entries of the deals known at as_of, on the deal index.
    hist = snap.history
    deal_of_row = np.full(len(full), -1, dtype="int64")
    deal_of_row[key] = np.arange(n)
    position = hist["position"].to_numpy()
    deal = deal_of_row[hist["opp_code"].to_numpy()] if len(hist) else np.zeros(0, dtype="int64")
    keep = (position >= 0) & (deal >= 0)
    entry_at = np.asarray(utc_ns(hist["entered_at"]))[keep] if len(hist) else np.zeros(0, dtype="int64")
    crm, scale = None, ""
    if "probability" in full.columns:
        share, scale = _probability_share(full["probability"])
        if share is not None:
            crm = _crm_stage_probability(full, share, data.settings.stages, pipelines,
                                         codes if pipelines else None)
    size_key = None
    if currency_mode(data) == "split" and n:
        codes = currency_labels(opps).to_numpy(dtype=object)
        size_key = pd.Series(amount).groupby(codes).rank(pct=True).to_numpy(dtype="float64")
    return RiskInputs(as_of, tuple(data.settings.stages), key, opps["opportunity_id"].reset_index(drop=True),
                      opps["owner"].reset_index(drop=True), created, closed, outcome, amount, pipeline,
                      pipelines, deal[keep].astype("int64"), position[keep].astype("int64"),
                      entry_at.astype("int64"), crm, scale, size_key)


def _crm_stage_probability(full: pd.DataFrame, share: np.ndarray, stages: tuple[str, ...],
                           pipelines: tuple[str, ...], pipeline_codes: np.ndarray | None) -> np.ndarray:
    """Median CRM probability of the deals open in the data, per (pipeline, stage)."""
    out = np.full((max(1, len(pipelines)), len(stages)), np.nan)
    is_open = (full["status"] == "open").to_numpy(dtype=bool) & np.isfinite(share)
    if not stages or not is_open.any():
        return out
    pos = pd.Series(full["stage"].to_numpy()[is_open]).map({s: i for i, s in enumerate(stages)})
    pipe = pipeline_codes[is_open] if pipeline_codes is not None else np.zeros(int(is_open.sum()), dtype="int64")
    frame = pd.DataFrame({"pipe": pipe, "pos": pos, "p": share[is_open]}).dropna(subset=["pos"])
    medians = frame.groupby(["pipe", "pos"])["p"].median()
    out[medians.index.get_level_values(0).to_numpy(dtype="int64"),
        medians.index.get_level_values(1).to_numpy(dtype="int64")] = medians.to_numpy()
    return out


# --------------------------------------------------------------------------- model options
@dataclass(frozen=True)
class RiskModel:
    """The options of the risk model (see :func:`risk`), checked by :func:`check_risk_options`.

    ``landmarks`` chooses exact landmark ages (``exact``), the grid (``grid``) or exact
    within :data:`EXACT_WORK` (``auto``, what :func:`risk` uses).
    """

    horizon: float = 90.0
    size_bands: int = 3
    prior_strength: float = 20.0
    min_comparable: float = 10.0
    quantiles: tuple[float, float] = (0.25, 0.75)
    min_at_risk: int = 1
    min_closed: int = MIN_CLOSED
    landmarks: str = "auto"


# --------------------------------------------------------------------------- per-deal arrays
@dataclass(frozen=True)
class _Deals:
    """Per-deal quantities the sweep and the stage references share (derived from inputs)."""

    inputs: RiskInputs
    stop: np.ndarray  # int64 ns from creation to the closing, or to as_of while open
    band: np.ndarray  # int64: 0 no amount, 1..k
    edges: np.ndarray  # inner band edges (k - 1 amounts)
    entry_age: np.ndarray  # int64 ns from creation to each entry
    stage_now: np.ndarray  # int64: position of the last entry (-1 none)
    stage_since: np.ndarray  # int64 ns: when that entry was made (NO_TIME none)

    @classmethod
    def build(cls, x: RiskInputs, size_bands: int) -> _Deals:
        n = len(x.created)
        closed = x.outcome != OUTCOME_OPEN
        stop = np.where(closed, x.closed - x.created, x.at_ns - x.created).astype("int64")
        size = x.amount if x.size_key is None else x.size_key
        known = size[~np.isnan(size)]
        edges = np.zeros(0)
        if size_bands > 1 and len(np.unique(known)) > 1:
            edges = np.unique(np.quantile(known, np.arange(1, size_bands) / size_bands))
        band = np.where(np.isnan(size), 0, np.searchsorted(edges, size, side="right") + 1)
        entry_age = x.entry_at - x.created[x.entry_deal] if len(x.entry_deal) else np.zeros(0, dtype="int64")
        stage_now = np.full(n, -1, dtype="int64")
        since = np.full(n, NO_TIME, dtype="int64")
        if len(x.entry_deal):
            last = np.r_[x.entry_deal[1:] != x.entry_deal[:-1], True]
            stage_now[x.entry_deal[last]] = x.entry_stage[last]
            since[x.entry_deal[last]] = x.entry_at[last]
        return cls(x, stop, band.astype("int64"), edges, entry_age.astype("int64"), stage_now, since)

    @property
    def is_open(self) -> np.ndarray:
        return self.inputs.outcome == OUTCOME_OPEN


def _band_labels(edges: np.ndarray) -> list[str]:
    return [NO_AMOUNT] + [f"Q{i}" for i in range(1, len(edges) + 2)]


# --------------------------------------------------------------------------- landmarks
class _EffectiveAll:
    """``n_eff`` of "all deals open at age ℓ", for many ages at once (sorted prefix sums)."""

    def __init__(self, deals: _Deals, horizon: float):
        open_ = deals.is_open
        self.closed_stop = np.sort(deals.stop[~open_])
        open_stop = np.sort(deals.stop[open_])
        self.open_stop = open_stop
        self.open_days = np.r_[0.0, np.cumsum(open_stop / NANOS_PER_DAY)]
        self.horizon = horizon

    def __call__(self, age: np.ndarray) -> np.ndarray:
        age = np.asarray(age, dtype="int64")
        closings = len(self.closed_stop) - np.searchsorted(self.closed_stop, age, side="right")
        lo = np.searchsorted(self.open_stop, age, side="left")
        if self.horizon <= 0:
            return closings.astype("float64")
        hi = np.maximum(lo, np.searchsorted(self.open_stop, age + self.horizon * NANOS_PER_DAY, side="left"))
        part = (self.open_days[hi] - self.open_days[lo] - (hi - lo) * (age / NANOS_PER_DAY)) / self.horizon
        return closings + part + (len(self.open_stop) - hi)


def _capped_ages(deals: _Deals, ages: np.ndarray, model: RiskModel) -> np.ndarray:
    """Lower each age to the oldest one with ``min_comparable`` effective deals open then.

    The bisection of each age runs between 0 and the age itself, to the minute, for
    every deal at once.
    """
    n_eff = _EffectiveAll(deals, model.horizon)
    out = ages.copy()
    thin = n_eff(ages) < model.min_comparable
    if not thin.any():
        return out
    if n_eff(np.zeros(1, dtype="int64"))[0] < model.min_comparable:
        out[thin] = 0
        return out
    lo = np.zeros(int(thin.sum()), dtype="int64")
    hi = ages[thin].copy()
    active = hi - lo > CAP_RESOLUTION
    while active.any():
        mid = (lo + hi) // 2
        ok = n_eff(mid) >= model.min_comparable
        lo = np.where(active & ok, mid, lo)
        hi = np.where(active & ~ok, mid, hi)
        active = hi - lo > CAP_RESOLUTION
    out[thin] = lo
    return out


def landmark_grid(top: int) -> np.ndarray:
    """The landmark ages (ns) up to ``top``: 0, then steps of ``GRID_STEP`` of the age, at least
    ``GRID_MIN_STEP``."""
    # Fixed steps up to the age where the relative step takes over, geometric beyond.
    switch = GRID_MIN_STEP / GRID_STEP
    fixed = np.arange(0, min(top, switch) + GRID_MIN_STEP, GRID_MIN_STEP, dtype="float64")
    if top > switch:
        count = int(np.ceil(np.log(top / switch) / np.log1p(GRID_STEP))) + 1
        fixed = np.r_[fixed[fixed < switch], switch * (1 + GRID_STEP) ** np.arange(count)]
    return np.unique(np.floor(fixed).astype("int64"))


def _grid_floor(ages: np.ndarray) -> np.ndarray:
    """Round ages (ns) down to :func:`landmark_grid`."""
    if not len(ages):
        return ages.copy()
    grid = landmark_grid(int(ages.max()))
    return grid[np.searchsorted(grid, ages, side="right") - 1]


# --------------------------------------------------------------------------- the sweep
def _running(values: np.ndarray) -> np.ndarray:
    """Running totals with a leading 0: ``out[i]`` sums ``values[:i]`` (counts in int32)."""
    out = np.zeros(len(values) + 1, dtype="float64" if values.dtype.kind == "f" else "int32")
    np.cumsum(values, out=out[1:])
    return out


_LEVELS_KNOWN = ("stage × size", "stage", "all open at that age")
_LEVELS_UNKNOWN = ("size", "all open at that age")
_READS = ("n", "n_eff", "pi", "p_h", "won_end", "undecided", "w0", "s0", "empty")
#: What a level a deal does not have reads as: an empty curve (its weight is 0).
_UNUSED = {"n": 0.0, "n_eff": 0.0, "pi": np.nan, "p_h": 0.0, "won_end": 0.0, "undecided": 1.0,
           "w0": 0.0, "s0": 1.0, "empty": 1.0}


class _Timeline:
    """Every deal known at ``as_of`` on one time line, sorted by the end of its follow-up.

    ``order2 = 2 · stop + open``: the follow-up end (closing, or ``as_of`` while open)
    with closings before censorings at the same moment. The deals still open at age
    ``e`` are those with ``order2 >= 2e + 1``, a suffix. Deals ending at the same
    moment form a *run* (one time of the Aalen–Johansen curves). The curve of all
    deals is computed once here: the "all open at that age" set has no stage
    condition, so at any age it is this curve read conditionally on being open then.
    """

    def __init__(self, deals: _Deals, model: RiskModel):
        x = deals.inputs
        self.model = model
        self.horizon_ns = model.horizon * NANOS_PER_DAY
        order2 = 2 * deals.stop + deals.is_open
        self.order = np.argsort(order2, kind="stable")
        self.order2 = order2[self.order]
        self.ev = x.outcome[self.order]
        stop = self.order2 >> 1
        n = len(stop)
        new_run = np.ones(n, dtype=bool)
        if n > 1:
            np.not_equal(stop[1:], stop[:-1], out=new_run[1:])
        self.run = np.cumsum(new_run) - 1  # run id of each position
        self.all = _Curve(self, np.arange(n))
        # The candidate times of the close range: runs where the "all" curve rises (a win)
        # within its followed part; every curve's wins are among them.
        jumps = self.all.jump_run
        self.cand_run = jumps
        self.cand_stop = stop[np.flatnonzero(new_run)][jumps] if n else np.zeros(0, dtype="int64")
        self.cand_won = self.all.jump_won
        self.cand_of_run = np.full(int(self.run[-1]) + 1 if n else 0, -1, dtype="int64")
        self.cand_of_run[jumps] = np.arange(len(jumps))


class _Curve:
    """The Aalen–Johansen curve of one comparable set, with running counts for its readouts.

    ``pos`` are the members' positions on the :class:`_Timeline` (increasing). Times
    are runs; the curve at a landmark ``g`` holds the deals open at ``g``, and a deal
    of age ``e >= g`` reads it conditionally on being open at ``e``.
    """

    __slots__ = ("cum_closed", "cum_open_days", "cum_won", "jump_cand", "jump_run", "jump_won", "kept",
                 "order2", "run_stop", "surv", "won")

    def __init__(self, line: _Timeline, pos: np.ndarray):
        whole = len(pos) == len(line.order2)
        self.order2 = line.order2 if whole else line.order2[pos]
        ev = line.ev if whole else line.ev[pos]
        n = len(pos)
        stop = self.order2 >> 1
        closed = ev != OUTCOME_OPEN
        self.cum_closed = _running(closed)
        self.cum_won = _running(ev == OUTCOME_WON)
        open_days = stop / NANOS_PER_DAY
        open_days[closed] = 0.0
        self.cum_open_days = _running(open_days)
        if n == 0:
            empty = np.zeros(0)
            self.run_stop = np.zeros(0, dtype="int64")
            self.won = self.surv = self.jump_won = empty
            self.jump_run = self.jump_cand = np.zeros(0, dtype="int64")
            self.kept = 0
            return
        new_time = np.empty(n, dtype=bool)
        new_time[0] = True
        np.not_equal(stop[1:], stop[:-1], out=new_time[1:])
        starts = np.flatnonzero(new_time)
        self.run_stop = stop[starts]
        bounds = np.append(starts, n)
        d_won = np.diff(self.cum_won[bounds]).astype("float64")
        d_lost = np.diff(self.cum_closed[bounds]) - d_won
        at_risk = (n - starts).astype("float64")
        surv_after = np.cumprod(1.0 - (d_won + d_lost) / at_risk)
        surv_before = np.empty_like(surv_after)
        surv_before[0] = 1.0
        surv_before[1:] = surv_after[:-1]
        self.won = np.cumsum(surv_before * d_won / at_risk)
        self.surv = surv_after
        self.kept = int(np.count_nonzero(at_risk >= line.model.min_at_risk))  # a prefix
        jumps = np.flatnonzero(d_won[:self.kept] > 0)
        first = starts[jumps]
        self.jump_run = line.run[first if whole else pos[first]]
        self.jump_won = self.won[jumps]
        # On the timeline's candidates (the "all" curve itself is built before they exist).
        self.jump_cand = line.cand_of_run[self.jump_run] if hasattr(line, "cand_of_run") else jumps

    def read(self, e: np.ndarray, line: _Timeline) -> dict[str, np.ndarray]:
        """Readouts for deals of (effective) ages ``e`` (ns), open then."""
        horizon = line.model.horizon
        q = np.searchsorted(self.order2, 2 * e + 1, side="left")  # members still open at age e
        total = len(self.order2)
        closed_after = self.cum_closed[-1] - self.cum_closed[q]
        won_after = self.cum_won[-1] - self.cum_won[q]
        with np.errstate(invalid="ignore", divide="ignore"):
            pi = np.where(closed_after > 0, won_after / np.maximum(closed_after, 1), np.nan)
        # n_eff: a closing counts 1, an open deal min(1, follow-up / horizon).
        r = np.maximum(q, np.searchsorted(self.order2, 2 * (e + np.ceil(line.horizon_ns).astype("int64")),
                                          side="left"))
        open_q, open_r = q - self.cum_closed[q], r - self.cum_closed[r]
        part = (self.cum_open_days[r] - self.cum_open_days[q] - (open_r - open_q) * (e / NANOS_PER_DAY)) \
            / horizon
        n_eff = closed_after + part + (total - self.cum_closed[-1] - open_r)
        kept = self.kept
        stops = self.run_stop[:kept]
        i0 = np.searchsorted(stops, e, side="right")  # times up to age e: before the follow-up
        empty = i0 >= kept
        base = np.maximum(i0 - 1, 0)
        has = (i0 > 0) & ~empty
        s0 = np.where(has, self.surv[base] if kept else 1.0, 1.0)
        w0 = np.where(has, self.won[base] if kept else 0.0, 0.0)
        j = np.searchsorted(stops, e + np.floor(line.horizon_ns).astype("int64"), side="right") - 1
        w_h = np.where(j >= 0, self.won[np.maximum(j, 0)] if kept else 0.0, 0.0)
        last = max(kept - 1, 0)
        won_end = self.won[last] if kept else 0.0
        surv_end = self.surv[last] if kept else 1.0
        return {
            "n": (total - q).astype("float64"),
            "n_eff": np.asarray(n_eff, dtype="float64"),
            "pi": pi,
            "p_h": np.where(empty, 0.0, (w_h - w0) / s0),
            "won_end": np.where(empty, 0.0, (won_end - w0) / s0),
            "undecided": np.where(empty, 1.0, surv_end / s0),
            "w0": w0,
            "s0": s0,
            "empty": empty.astype("float64"),
        }


class _Sweep:
    """Landmark estimates for every deal open at ``as_of``, in one pass over the landmark ages."""

    def __init__(self, deals: _Deals, model: RiskModel):
        x = deals.inputs
        self.deals, self.model = deals, model
        self.line = _Timeline(deals, model)
        order = self.line.order
        self.n_stages = len(x.stages)
        self.n_bands = int(deals.band.max()) + 1 if len(deals.band) else 1
        self.multi_band = len(np.unique(deals.band)) > 1  # else stage × size == stage
        self.band = deals.band[order]
        self.pipe = x.pipeline[order].astype("int64")
        rank = np.empty(len(order), dtype="int64")
        rank[order] = np.arange(len(order))
        # The group codes of each deal (on the time line) at the current landmark —
        # pipeline × (stage + 1), and × band — brought up to date by replaying the entries
        # in age order (ties: the later entry wins).
        self.k1 = self.n_stages + 1
        code_dtype = "int16" if max(1, len(x.pipelines)) * self.k1 * self.n_bands < 2**15 else "int64"
        self.code_stage = (self.pipe * self.k1).astype(code_dtype)
        self.code_fine = (self.code_stage.astype("int64") * self.n_bands + self.band).astype(code_dtype)
        by_age = np.argsort(deals.entry_age, kind="stable")
        self.entry_age = deals.entry_age[by_age]
        self.entry_pos = rank[x.entry_deal[by_age]] if len(by_age) else np.zeros(0, dtype="int64")
        self.entry_stage = x.entry_stage[by_age]
        self.applied = 0

    def _advance(self, landmark: int) -> None:
        upto = int(np.searchsorted(self.entry_age, landmark, side="right"))
        if upto <= self.applied:
            return
        pos = self.entry_pos[self.applied:upto]
        stage = self.entry_stage[self.applied:upto]
        _, first_from_end = np.unique(pos[::-1], return_index=True)
        last = len(pos) - 1 - first_from_end
        where = pos[last]
        code = self.pipe[where] * self.k1 + stage[last] + 1
        self.code_stage[where] = code
        self.code_fine[where] = code * self.n_bands + self.band[where]
        self.applied = upto

    def run(self, rows: np.ndarray, effective: np.ndarray, landmark: np.ndarray) -> pd.DataFrame:
        """Estimate the deals ``rows`` (deal indexes) at ages ``effective``, landmarks ``landmark``."""
        deals = self.deals
        m = len(rows)
        stage = deals.stage_now[rows]
        band = deals.band[rows]
        pipe = deals.inputs.pipeline[rows].astype("int64")
        known = stage >= 0
        # Each deal's levels, finest first; the last one is "all open at that age".
        self.width = 2 + int(self.multi_band)
        nlev = np.where(known, 2, 1) + int(self.multi_band)
        reads = [{name: np.full(m, value) for name, value in _UNUSED.items()} for _ in range(self.width)]
        curve_of = np.full((m, self.width), -1, dtype="int64")
        all_reads = self.line.all.read(effective, self.line)
        rows_m = np.arange(m)
        for name, values in all_reads.items():
            for level in range(self.width):
                sel = nlev - 1 == level
                reads[level][name][sel] = values[sel]
        t_stage = pipe * self.k1 + (stage + 1)
        t_fine = t_stage * self.n_bands + band
        order = np.argsort(landmark, kind="stable")
        bounds = np.flatnonzero(np.r_[True, landmark[order][1:] != landmark[order][:-1], True]) if m \
            else np.zeros(0, dtype="int64")
        low, high = np.full(m, np.nan), np.full(m, np.nan)

        def one_landmark(idx: np.ndarray, p0: int, code_stage: np.ndarray, code_fine: np.ndarray) -> None:
            """The comparable sets asked for at one landmark, each one curve read by its deals
            (writes only the rows ``idx`` of the shared outputs)."""
            curves: list[_Curve] = []
            kn = known[idx]
            plan: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
            if kn.any():
                plan.append((int(self.multi_band), code_stage, t_stage[idx], kn))
                if self.multi_band:
                    plan.append((0, code_fine, t_fine[idx], kn))
            if (~kn).any() and self.multi_band:
                plan.append((0, self.band[p0:], band[idx], ~kn))
            for level, codes, wanted, mask in plan:
                values, which = np.unique(wanted[mask], return_inverse=True)
                sub = idx[mask]
                for v, members in _members(codes, values):
                    curve = _Curve(self.line, members + p0)
                    take = sub[which == np.searchsorted(values, v)]
                    for name, got in curve.read(effective[take], self.line).items():
                        reads[level][name][take] = got
                    curve_of[take, level] = len(curves)
                    curves.append(curve)
            low[idx], high[idx] = self._quantiles(idx, reads, curve_of, curves, nlev, effective)

        # Landmarks are independent once their stage codes are fixed: on large data two run
        # at a time (numpy releases the GIL in its sorts, gathers and running sums), each
        # on a copy of the codes; the replay of the history stays in this thread, in order.
        threads = SWEEP_THREADS if len(self.line.order2) >= THREADS_FROM else 1
        pool = ThreadPoolExecutor(threads) if threads > 1 else None
        pending: deque[Future[None]] = deque()
        try:
            for a, b in itertools.pairwise(bounds):
                idx = order[a:b]
                g = int(landmark[idx[0]])
                self._advance(g)
                p0 = int(np.searchsorted(self.line.order2, 2 * g + 1, side="left"))
                if pool is None:
                    one_landmark(idx, p0, self.code_stage[p0:], self.code_fine[p0:])
                    continue
                pending.append(pool.submit(one_landmark, idx, p0, self.code_stage[p0:].copy(),
                                           self.code_fine[p0:].copy()))
                while len(pending) > threads:  # at most `threads` landmarks in memory at once
                    pending.popleft().result()
            for future in pending:
                future.result()
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        return self._mix(reads, nlev, rows_m, low, high, known)

    def _weights(self, reads: list[dict[str, np.ndarray]], nlev: np.ndarray) -> np.ndarray:
        """Mixture weights, finest first: ``w = n_eff / (n_eff + k)``, the rest to coarser sets."""
        m = len(nlev)
        last = nlev - 1
        weights = np.zeros((m, self.width))
        remaining = np.ones(m)
        for level in range(self.width):
            n_eff = reads[level]["n_eff"]
            if self.model.prior_strength > 0:
                w = n_eff / (n_eff + self.model.prior_strength)
            else:
                w = (n_eff > 0).astype("float64")
            weights[:, level] = np.where(level == last, remaining, np.where(level < last, remaining * w, 0.0))
            remaining = np.where(level < last, remaining * (1.0 - w), remaining)
        return weights

    def _quantiles(self, idx: np.ndarray, reads: list[dict[str, np.ndarray]], curve_of: np.ndarray,
                   curves: list[_Curve], nlev: np.ndarray, effective: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The close range of the deals ``idx``: the first candidate time at which the mixture's
        win incidence reaches each quantile of ``p_win_eventually`` (days after the deal's age)."""
        line, width = self.line, self.width
        m = len(idx)
        sub = [{name: r[name][idx] for name in _READS} for r in reads]
        weights = self._weights(sub, nlev[idx])
        pis = self._pis(sub, nlev[idx])
        p_ev = sum(weights[:, lv] * (sub[lv]["won_end"] + sub[lv]["undecided"] * pis[:, lv])
                   for lv in range(width))
        scale = np.where(p_ev > 0, p_ev, 1.0)
        w_over_s = np.stack([np.where(sub[lv]["empty"] > 0, 0.0, weights[:, lv] / sub[lv]["s0"])
                             for lv in range(width)], axis=1)
        base = sum(w_over_s[:, lv] * sub[lv]["w0"] for lv in range(width))
        n_cand = len(line.cand_stop)
        cid = curve_of[idx]
        last = nlev[idx] - 1
        # The landmark's curves' wins, keyed curve × candidate (sorted by construction).
        stride = n_cand + 1
        keys = np.concatenate([i * stride + c.jump_cand for i, c in enumerate(curves)]) \
            if curves else np.zeros(0, dtype="int64")
        won_at = np.concatenate([c.jump_won for c in curves]) if curves else np.zeros(0)

        def incidence(cand: np.ndarray) -> np.ndarray:
            total = np.zeros(len(cand))
            for lv in range(width):
                is_all = lv == last
                c = cid[:, lv]
                use = (c >= 0) & ~is_all
                if use.any() and len(keys):
                    probe = np.where(use, c, 0) * stride + cand
                    hit = np.searchsorted(keys, probe, side="right") - 1
                    own = use & (hit >= 0) & (keys[np.maximum(hit, 0)] >= np.where(use, c, 0) * stride)
                    total += w_over_s[:, lv] * np.where(own, won_at[np.maximum(hit, 0)], 0.0)
                if is_all.any() and n_cand:
                    total += np.where(is_all, w_over_s[:, lv] * line.cand_won[cand], 0.0)
            return total - base

        valid = p_ev > 0
        start = np.searchsorted(line.cand_stop, effective[idx], side="right")
        out = []
        for q in self.model.quantiles:
            lo = start.copy()
            hi = np.full(m, n_cand)
            active = (lo < hi) & valid
            while active.any():
                mid = (lo + hi) // 2
                reached = incidence(np.minimum(mid, max(n_cand - 1, 0))) / scale >= q - 1e-12
                hi = np.where(active & reached, mid, hi)
                lo = np.where(active & ~reached, mid + 1, lo)
                active = lo < hi
            found = (lo < n_cand) & valid
            days = (line.cand_stop[np.minimum(lo, max(n_cand - 1, 0))] - effective[idx]) / NANOS_PER_DAY \
                if n_cand else np.zeros(m)
            out.append(np.where(found, days, np.nan))
        return out[0], out[1]

    def _pis(self, reads: list[dict[str, np.ndarray]], nlev: np.ndarray) -> np.ndarray:
        """π per level: its own closings, else the next coarser level's, else the win share."""
        m = len(nlev)
        pis = np.zeros((m, self.width))
        fallback = np.full(m, self.deals.inputs.win_share)
        for level in range(self.width - 1, -1, -1):
            share = reads[level]["pi"]
            valid = level <= nlev - 1
            fallback = np.where(valid & np.isfinite(share), share, fallback)
            pis[:, level] = np.where(valid, fallback, 0.0)
        return pis

    def _mix(self, reads: list[dict[str, np.ndarray]], nlev: np.ndarray, rows: np.ndarray,
             low: np.ndarray, high: np.ndarray, known: np.ndarray) -> pd.DataFrame:
        width, win_share = self.width, self.deals.inputs.win_share
        last = nlev - 1
        weights = self._weights(reads, nlev)
        pis = self._pis(reads, nlev)
        get = {name: np.stack([reads[lv][name] for lv in range(width)], axis=1) for name in _READS}
        p_h = (weights * get["p_h"]).sum(axis=1)
        p_ev = (weights * (get["won_end"] + get["undecided"] * pis)).sum(axis=1)
        undecided = (weights * get["undecided"]).sum(axis=1)
        coarsest_neff = get["n_eff"][rows, last]
        finest = np.argmax(np.where(np.arange(width)[None, :] == last[:, None], True, weights > 0), axis=1)
        no_estimate = (coarsest_neff <= 0) | (not np.isfinite(win_share))
        stage_level = np.where(known, int(self.multi_band), last)
        p_stage = np.where(get["n_eff"][rows, stage_level] > 0, get["p_h"][rows, stage_level],
                           get["p_h"][rows, last])
        nan = np.nan
        return pd.DataFrame({
            "p_h": np.where(no_estimate, nan, p_h),
            "p_ev": np.where(no_estimate, nan, p_ev),
            "low": np.where(no_estimate, nan, low),
            "high": np.where(no_estimate, nan, high),
            "n_eff": np.where(no_estimate, 0.0, get["n_eff"][rows, finest]),
            "undecided": np.where(no_estimate, nan, undecided),
            "p_stage_age": np.where(no_estimate, nan, p_stage),
            "weight0": weights[:, 0],
            "neff0": get["n_eff"][:, 0],
            "n": np.where(no_estimate, get["n"][rows, last], get["n"][rows, finest]).astype("int64"),
            "level": np.where(no_estimate, -1, finest),
        })


def _members(codes: np.ndarray, values: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Positions (increasing) of ``codes`` equal to each of ``values``."""
    if len(values) <= 3:
        return [(int(v), np.flatnonzero(codes == v)) for v in values]
    order = np.argsort(codes, kind="stable")  # int16 codes: a radix sort
    sorted_codes = codes[order]
    lo = np.searchsorted(sorted_codes, values, side="left")
    hi = np.searchsorted(sorted_codes, values, side="right")
    return [(int(v), order[a:b]) for v, a, b in zip(values, lo, hi, strict=True)]


# --------------------------------------------------------------------------- the estimates
def stage_share(deals: _Deals, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stage baseline of the deals ``rows``: won share of the closed deals that reached their stage.

    Per (pipeline, stage); all closed deals when the stage is unknown (or no closed
    deal reached it). Returns the shares and the number of closed deals behind each.
    """
    x = deals.inputs
    closed = x.outcome != OUTCOME_OPEN
    won = x.outcome == OUTCOME_WON
    n_closed = int(closed.sum())
    share_all = x.win_share
    k = len(x.stages)
    cells = max(1, len(x.pipelines)) * max(k, 1)
    # (deal, cell) pairs, each once: a deal reached a stage when it has an entry there.
    cell_of_entry = x.pipeline[x.entry_deal].astype("int64") * max(k, 1) + x.entry_stage
    pair = np.unique(x.entry_deal * cells + cell_of_entry) if len(cell_of_entry) else np.zeros(0, dtype="int64")
    pair_deal, pair_cell = pair // cells, pair % cells
    n_reached = np.bincount(pair_cell, weights=closed[pair_deal], minlength=cells)
    n_won = np.bincount(pair_cell, weights=won[pair_deal], minlength=cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_reached > 0, n_won / np.maximum(n_reached, 1), share_all)
    count = np.where(n_reached > 0, n_reached, n_closed)
    stage = deals.stage_now[rows]
    cell = x.pipeline[rows].astype("int64") * max(k, 1) + np.maximum(stage, 0)
    known = stage >= 0
    return (np.where(known, share[cell], share_all),
            np.where(known, count[cell], n_closed).astype("int64"))


def estimate_open_deals(inputs: RiskInputs, model: RiskModel) -> tuple[pd.DataFrame, _Deals]:
    """Estimate every deal open at ``inputs.as_of`` (the columns of :func:`risk` before its flags).

    Also returns the per-deal arrays, for the backtest's references. Besides the
    columns :func:`risk` shows, the table holds ``row`` (deal index), ``stage_pos``,
    ``pipeline``, ``band``, ``landmark_days`` and ``p_stage_age`` (the stage-level
    curve alone: the stage × age reference).
    """
    x = inputs
    deals = _Deals.build(x, model.size_bands)
    rows = np.flatnonzero(deals.is_open)
    at_ns = x.at_ns
    age = at_ns - x.created[rows]
    stage = deals.stage_now[rows]
    since = deals.stage_since[rows]
    stage_label = _labels(stage, x.stages)
    targets = pd.DataFrame({
        "row": rows,
        "opportunity_id": x.opportunity_id.to_numpy()[rows] if len(rows) else np.zeros(0, dtype=object),
        "owner": x.owner.to_numpy()[rows] if len(rows) else np.zeros(0, dtype=object),
        "stage": stage_label,
        "stage_pos": stage,
        "pipeline": x.pipeline[rows].astype("int64"),
        "age_ns": age,
        "age_days": age / NANOS_PER_DAY,
        "days_in_stage": np.where(since != NO_TIME, (at_ns - since) / NANOS_PER_DAY, np.nan),
        "amount": x.amount[rows],
        "band": deals.band[rows],
    })
    targets["opportunity_id"] = targets["opportunity_id"].astype("str")
    targets["owner"] = targets["owner"].astype("str")
    n_won, n_lost = x.n_won, x.n_lost
    fallback = n_won < model.min_closed or n_lost < model.min_closed
    notes = np.full(len(rows), "", dtype=object)
    exact = False
    if fallback or not np.isfinite(x.win_share):
        est = _baseline_estimates(deals, rows, model, n_won, n_lost)
        landmark = np.full(len(rows), np.nan)
        level_names = est.pop("level_names")
        notes = est.pop("notes")
    else:
        effective = _capped_ages(deals, age, model) if len(rows) else age
        capped = effective < age
        if model.landmarks == "exact":
            exact = True
        elif model.landmarks == "grid":
            exact = False
        else:
            exact = len(np.unique(effective)) * len(x.created) <= EXACT_WORK
        landmark_ns = effective if exact else _grid_floor(effective)
        sweep = _Sweep(deals, model)
        res = sweep.run(rows, effective, landmark_ns)
        level_names = _level_names(res["level"].to_numpy(), stage >= 0, sweep.multi_band)
        est = {
            "p_win_horizon": res["p_h"].to_numpy(),
            "p_win_eventually": res["p_ev"].to_numpy(),
            "close_low": res["low"].to_numpy(),
            "close_high": res["high"].to_numpy(),
            "n_comparable": res["n"].to_numpy(),
            "n_effective": res["n_eff"].to_numpy(),
            "undecided_share": res["undecided"].to_numpy(),
            "p_stage_age": res["p_stage_age"].to_numpy(),
        }
        landmark = effective / NANOS_PER_DAY
        notes = _notes(capped, effective, stage >= 0, res, level_names, sweep.multi_band)
        landmark = np.where(np.isnan(est["p_win_horizon"]), np.nan, landmark)
    band_labels = _band_labels(deals.edges)
    day = pd.Timedelta(days=1)

    def close(days: np.ndarray) -> pd.Series:
        values = pd.Series(days, dtype="float64", index=targets.index)
        return (x.as_of + values * day).dt.round("s")

    out = targets.assign(
        size_band=_labels(targets["band"].to_numpy(), band_labels),
        p_win_horizon=est["p_win_horizon"],
        p_win_eventually=est["p_win_eventually"],
        expected_close_low=close(est["close_low"]),
        expected_close_high=close(est["close_high"]),
        n_comparable=pd.array(est["n_comparable"], dtype="int64"),
        n_effective=est["n_effective"].astype("float64"),
        comparable_set=pd.array(level_names, dtype="str"),
        landmark_days=landmark,
        undecided_share=est["undecided_share"],
        p_stage_age=est["p_stage_age"],
        note=pd.array(notes.astype(str) if len(notes) else np.zeros(0, dtype=str), dtype="str"),
    )
    out.attrs.update(model=STAGE_BASELINE if fallback else "landmark", n_won=n_won, n_lost=n_lost,
                     exact_landmarks=exact)
    return out, deals


def _labels(codes: np.ndarray, labels: tuple[str, ...] | list[str]) -> pd.Series:
    """``labels[code]`` as text, missing where ``code < 0``."""
    table = np.array([*labels, None], dtype=object)
    codes = np.asarray(codes, dtype="int64")
    return pd.Series(pd.array(table[np.where(codes >= 0, codes, len(labels))], dtype="str"))


def _level_names(level: np.ndarray, known: np.ndarray, multi_band: bool) -> np.ndarray:
    chain_known = np.array([*(_LEVELS_KNOWN if multi_band else _LEVELS_KNOWN[1:]), ""], dtype=object)
    chain_unknown = np.array([*(_LEVELS_UNKNOWN if multi_band else _LEVELS_UNKNOWN[1:]), ""], dtype=object)
    level = np.where(level >= 0, level, -1)
    return np.where(known, chain_known[level], chain_unknown[np.minimum(level, len(chain_unknown) - 1)])


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Join per-deal text parts with "; ", skipping empty ones."""
    out = np.full(len(parts[0]) if parts else 0, "", dtype=object)
    for part in parts:
        has = part != ""
        glue = np.where((out != "") & has, "; ", "")
        out = np.where(has, out + glue + part, out)
    return out


def _notes(capped: np.ndarray, effective: np.ndarray, known: np.ndarray, res: pd.DataFrame,
           level_names: np.ndarray, multi_band: bool) -> np.ndarray:
    """The per-deal notes of the model, in the order they arise."""
    first_level = np.where(known, (_LEVELS_KNOWN if multi_band else _LEVELS_KNOWN[1:])[0],
                           (_LEVELS_UNKNOWN if multi_band else _LEVELS_UNKNOWN[1:])[0])
    levels_count = np.where(known, 2, 1) + int(multi_band)
    no_estimate = res["level"].to_numpy() < 0
    weight0, neff0 = res["weight0"].to_numpy(), res["neff0"].to_numpy()
    undecided = res["undecided"].to_numpy()
    coarsest = res["n_eff"].to_numpy()

    def text(mask: np.ndarray, make: Callable[[int], str]) -> np.ndarray:
        out = np.full(len(mask), "", dtype=object)
        for i in np.flatnonzero(mask):
            out[i] = make(int(i))
        return out

    days = np.round(effective / NANOS_PER_DAY).astype("int64")
    return _join([
        text(capped, lambda i: f"older than nearly all history: compared with deals open at {days[i]} d"),
        np.where(known, "", "stage unknown at as_of (no stage history): not conditioned on stage"),
        np.where(no_estimate, np.where(coarsest == 0, "no comparable deal in the history: no estimate",
                                       "no deal closed by as_of: no estimate"), ""),
        text(~no_estimate & (weight0 < 0.5) & (levels_count > 1),
             lambda i: f"few comparable deals ({neff0[i]:.1f} effective in {first_level[i]}): the "
                       "estimate leans on pooled deals"),
        text(~no_estimate & (undecided >= 0.5),
             lambda i: f"{undecided[i]:.0%} of comparable deals were still open at the end of their "
                       "follow-up: the eventual chance assumes they close like the closed ones"),
    ])


def _baseline_estimates(deals: _Deals, rows: np.ndarray, model: RiskModel, n_won: int,
                        n_lost: int) -> dict[str, np.ndarray]:
    """The stage baseline standing in for the model (too little history), or NaN (none)."""
    m = len(rows)
    nan = np.full(m, np.nan)
    known = deals.stage_now[rows] >= 0
    if not np.isfinite(deals.inputs.win_share):
        return {"p_win_horizon": nan, "p_win_eventually": nan, "close_low": nan, "close_high": nan,
                "n_comparable": np.zeros(m, dtype="int64"), "n_effective": np.zeros(m),
                "undecided_share": nan, "p_stage_age": nan, "level_names": np.full(m, "", dtype=object),
                "notes": np.array(["; ".join(
                    (["stage unknown at as_of (no stage history): not conditioned on stage"]
                     if not k else []) + ["no deal closed by as_of: no estimate"]) for k in known],
                    dtype=object)}
    share, count = stage_share(deals, rows)
    why = (f"fewer than {model.min_closed} won and {model.min_closed} lost deals closed by as_of "
           f"({n_won} won, {n_lost} lost): the stage baseline (won share of the closed deals that "
           "reached this stage) stands in for the model")
    notes = np.array([why if k else "stage unknown at as_of (no stage history): " + why.replace(
        "reached this stage", "were closed") for k in known], dtype=object)
    return {"p_win_horizon": share, "p_win_eventually": share.copy(), "close_low": nan,
            "close_high": nan.copy(), "n_comparable": count, "n_effective": count.astype("float64"),
            "undecided_share": nan.copy(), "p_stage_age": share.copy(),
            "level_names": np.full(m, STAGE_BASELINE, dtype=object), "notes": notes}


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


def _whole(values: np.ndarray) -> np.ndarray:
    """Numbers as text with no decimals (as ``f"{x:.0f}"``: halves to even)."""
    return np.round(np.asarray(values, dtype="float64")).astype("int64").astype(str).astype(object)


def _ratio_text(values: np.ndarray) -> np.ndarray:
    """``1.4×`` from 0.95 on, ``0.53×`` below (as ``f"{x:.1f}×"`` / ``f"{x:.2f}×"``)."""
    return np.array([f"{v:.1f}×" if v >= 0.95 else f"{v:.2f}×" for v in values], dtype=object)


def _flag_frame(data: SalesData, at: pd.Timestamp, table: pd.DataFrame, band: float,
                win_share: float) -> pd.DataFrame:
    """Add the flag columns, ``reasons`` and ``risk_level`` to the estimate table."""
    m = len(table)
    ids = pd.Index(table["opportunity_id"])
    size = _size_flags(data, at, band)
    at_size = ids.get_indexer(size.index) if len(size) else np.zeros(0, dtype="int64")
    flags = np.full(m, "no reference", dtype=object)
    size_ratio = np.full(m, np.nan)
    found = at_size >= 0
    flags[at_size[found]] = size["flag"].to_numpy(dtype=object)[found]
    size_ratio[at_size[found]] = size["ratio"].to_numpy(dtype="float64")[found]
    p75, p90 = _cycle_quantiles(data, at)
    age = table["age_days"].to_numpy(dtype="float64")
    older = np.select([age > p90, age > p75], ["p90", "p75"], "")
    snap = data.at(at)
    stuck = _stuck_opportunities(snap)
    at_stuck = ids.get_indexer(stuck["opportunity_id"])
    is_stuck = np.zeros(m, dtype=bool)
    is_stuck[at_stuck[at_stuck >= 0]] = True
    owners = _open_opportunities(snap, by="owner").set_index("owner")
    owner = table["owner"]
    thin = owner.map(owners["too_few"]).astype("boolean").fillna(False).to_numpy(dtype=bool)
    p_ev = table["p_win_eventually"].to_numpy(dtype="float64")
    rho = p_ev / win_share if win_share > 0 else p_ev * np.nan
    points = (np.where(rho < RHO_VERY_LOW, 2, np.where(rho < RHO_LOW, 1, 0))
              + (flags == "above") + (older == "p90") + is_stuck).astype("int64")
    empty = np.full(m, "", dtype=object)
    chance = empty.copy()
    low = rho < RHO_LOW
    if low.any():
        chance[low] = ("win chance " + _whole(100 * p_ev[low]) + f"% vs a {win_share:.0%} historical win rate")
    amount = empty.copy()
    off = (flags == "above") | (flags == "below")
    if off.any():
        amount[off] = "amount " + _ratio_text(size_ratio[off]) + " the mean won amount"
    aged = empty.copy()
    for tag, q in (("p90", p90), ("p75", p75)):
        sel = older == tag
        if sel.any():
            aged[sel] = f"older than {tag[1:]}% of won deals ({tag} {q:.0f} d)"
    stuck_part = empty.copy()
    if len(stuck):
        quantile = round(100 * stuck.attrs.get("quantile", 0.9))
        historical = ("stuck in " + stuck["stage"].to_numpy(dtype=object) + " for "
                      + _whole(stuck["days_in_stage"].to_numpy()) + f" d (p{quantile} "
                      + _whole(stuck["threshold_days"].fillna(0).to_numpy()) + " d)")
        # Flagged by the stage's rotting_days of funnel.yml alone: say that limit instead.
        rotting = ("stuck in " + stuck["stage"].to_numpy(dtype=object) + " for "
                   + _whole(stuck["days_in_stage"].to_numpy()) + " d (rotting limit "
                   + _whole(stuck["rotting_days"].fillna(0).to_numpy()) + " d)")
        text = np.where((stuck["rule"] == "rotting_days").to_numpy(), rotting, historical)
        stuck_part[at_stuck[at_stuck >= 0]] = text[at_stuck >= 0]
    thin_part = empty.copy()
    if thin.any():
        texts = pd.Series("owner's pipeline thin (" + owners["open_count"].astype(str) + " open vs median "
                          + pd.Series(_whole(owners["team_median"].to_numpy()), index=owners.index)
                          + ")", index=owners.index)
        thin_part[thin] = owner[thin].map(texts).to_numpy(dtype=object)
    reasons = _join([chance, amount, aged, stuck_part, thin_part])
    level = np.where(points >= HIGH_FROM, "high", np.where(points >= MEDIUM_FROM, "medium", "low"))
    return table.assign(
        size_flag=pd.array(flags, dtype="str"),
        older_than=pd.array(older, dtype="str"),
        stuck=is_stuck,
        thin_pipeline=thin,
        risk_points=points,
        risk_level=pd.Categorical(level, categories=list(RISK_LEVELS), ordered=True),
        reasons=pd.array(reasons, dtype="str"),
    )


def check_risk_options(horizon_days: float, size_bands: int, prior_strength: float,
                       min_comparable: float, close_quantiles: tuple[float, float],
                       min_at_risk: int, min_closed: int = MIN_CLOSED) -> RiskModel:
    """Raise :class:`~salesnb.WindowError` naming the first model option out of range.

    Returns the options as a :class:`RiskModel`.
    """
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
        (int(min_closed) == min_closed and min_closed >= 0, f"min_closed={min_closed} is not a "
         "non-negative integer", f"give 0 (always use the model) or more, e.g. {MIN_CLOSED}"),
    ]
    for ok, message, fix in checks:
        if not ok:
            raise WindowError(message, fix=fix)
    return RiskModel(float(horizon_days), int(size_bands), float(prior_strength), float(min_comparable),
                     (float(close_quantiles[0]), float(close_quantiles[1])), int(min_at_risk),
                     int(min_closed))


# --------------------------------------------------------------------------- public API
@fill_doc
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
    min_closed: int = MIN_CLOSED,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Estimate the win probability and risk of every opportunity open at ``as_of``.

    The estimate conditions on the deal's current stage, its age and its deal-size
    band, uses only what was known at ``as_of`` and treats open deals as censored; the
    module docstring describes the model and the risk-level rule.

    Parameters
    ----------
    {data}
    {as_of_moment}
    {risk_horizon}
    {band}
    {risk_model}
    close_quantiles : (float, float), default (0.25, 0.75)
        Quantiles of the time to win (given a win) for the expected close range.
    {risk_min_closed}
    {calendar}
    {pipelines}

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
        comparable set carrying weight; ``stage baseline`` when the history is too thin
        for the model), ``size_flag``, ``older_than`` (``p90``, ``p75`` or empty),
        ``stuck``, ``thin_pipeline``, ``risk_points``, ``risk_level`` (ordered
        categorical low < medium < high), ``reasons`` and ``note`` (plain text, empty
        when none). ``attrs`` holds ``as_of``, ``horizon_days``, ``win_share`` (won /
        closed by ``as_of``), ``size_band_edges``, ``prior_strength``, ``model``
        (``landmark``, or ``stage baseline`` below ``min_closed``), ``n_won`` and
        ``n_lost`` (closed by ``as_of``), ``landmarks`` (``exact``: each deal's own
        age; ``grid``: ages rounded down to :func:`landmark_grid`; empty when the
        model was not used) and ``notes``.

    Examples
    --------
    {load_sample}
    >>> table = sn.risk(data, as_of="1404-06-01")
    >>> list(table.columns[:6])
    ['opportunity_id', 'owner', 'stage', 'age_days', 'days_in_stage', 'amount']
    >>> bool(table["p_win_horizon"].between(0, 1).all())
    True
    >>> table["risk_level"].cat.categories.tolist()
    ['low', 'medium', 'high']
    >>> table.attrs["model"], table.attrs["n_won"] >= 200
    ('landmark', True)
    """
    data = only_pipelines(data, pipelines)
    model = check_risk_options(horizon_days, size_bands, prior_strength, min_comparable, close_quantiles,
                               min_at_risk, min_closed)
    check_band(band)
    at = resolve_moment(data, as_of, calendar)
    inputs = _risk_inputs(data, at)
    table, deals = estimate_open_deals(inputs, model)
    attrs = dict(table.attrs)
    table.attrs = {}
    table = _flag_frame(data, at, table, band, inputs.win_share)
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
    if not len(inputs.entry_deal):
        notes.append("no stage history known at as_of: the estimate conditions on age and size only")
    if not np.isfinite(inputs.win_share):
        notes.append("no deal closed by as_of: no probability can be estimated")
    elif attrs["model"] == STAGE_BASELINE:
        notes.append(f"fewer than {model.min_closed} won and {model.min_closed} lost deals closed by "
                     f"as_of ({attrs['n_won']} won, {attrs['n_lost']} lost): the stage baseline "
                     "stands in for the model")
    if inputs.size_key is not None:
        notes.append("amounts are in several currencies and no exchange rates were given: size bands rank "
                     "each amount among the deals of its own currency (size_band_edges are percentile ranks "
                     "within a currency, not amounts)")
    landmarks = "" if attrs["model"] == STAGE_BASELINE or not np.isfinite(inputs.win_share) else \
        "exact" if attrs["exact_landmarks"] else "grid"
    out.attrs = {"as_of": at, "horizon_days": model.horizon, "win_share": inputs.win_share,
                 "size_band_edges": deals.edges.tolist(), "prior_strength": model.prior_strength,
                 "model": attrs["model"], "n_won": attrs["n_won"], "n_lost": attrs["n_lost"],
                 "landmarks": landmarks, "notes": notes}
    return out


def _stage_horizon(deals: _Deals, rows: np.ndarray, horizon: float) -> np.ndarray:
    """Share won within ``horizon`` days of entering the deal's stage (Aalen–Johansen).

    A horizon-aware, stage-only reference: time runs from the first entry into the
    stage (from creation when the stage is unknown), deals open at ``as_of`` censored.
    Per (pipeline, stage); a stage no deal reached gets the overall share.
    """
    x = deals.inputs
    k = max(len(x.stages), 1)

    def p_within(members: np.ndarray, start: np.ndarray) -> float:
        follow = (deals.stop[members] - start) / NANOS_PER_DAY
        curve = aalen_johansen(follow, x.outcome[members], horizon)
        return curve.won_by(horizon) if curve.n_eff > 0 else float("nan")

    n = len(x.created)
    overall = p_within(np.arange(n), np.zeros(n, dtype="int64"))
    cells = max(1, len(x.pipelines)) * k
    share = np.full(cells, overall)
    cell_of_entry = x.pipeline[x.entry_deal].astype("int64") * k + x.entry_stage
    for cell in np.unique(cell_of_entry):
        idx = np.flatnonzero(cell_of_entry == cell)
        members = x.entry_deal[idx]
        first = np.r_[True, members[1:] != members[:-1]]  # entries are sorted by deal, then time
        share[cell] = p_within(members[first], deals.entry_age[idx][first])
    stage = deals.stage_now[rows]
    cell = x.pipeline[rows].astype("int64") * k + np.maximum(stage, 0)
    return np.where(stage >= 0, share[cell], overall)


def win_probabilities(data: SalesData, as_of: pd.Timestamp, horizon_days: float) -> pd.Series:
    """``p_win_horizon`` of every deal open at ``as_of``, by ``opportunity_id``: the numbers
    :func:`risk` gives with its default model, without its flags and ranking — except while
    too few deals have closed for the model (its stage-baseline fallback), where the chance
    is the stage's share won *within* ``horizon_days`` of entering it, not ever.

    For the forecast, which reads the probabilities alone (the flags, the stuck-deal
    thresholds and the sort cost as much again at CRM scale). What the model reads is
    gathered once per moment (:func:`_risk_inputs`), so several horizons at one ``as_of``
    share it.

    Examples
    --------
    >>> import salesnb as sn
    >>> data = sn.load(sn.sample_path())
    >>> at = pd.Timestamp("2025-08-23", tz="Asia/Tehran")
    >>> p = win_probabilities(data, at, 90.0)
    >>> full = sn.risk(data, as_of=at).set_index("opportunity_id")["p_win_horizon"]
    >>> bool(p.sort_index().equals(full.sort_index()))
    True
    """
    d = RiskModel()  # risk()'s defaults
    model = check_risk_options(horizon_days, d.size_bands, d.prior_strength, d.min_comparable, d.quantiles,
                               d.min_at_risk, d.min_closed)
    at = resolve_moment(data, as_of, None)
    inputs = _risk_inputs(data, at)
    table, deals = estimate_open_deals(inputs, model)
    p = table["p_win_horizon"].to_numpy(dtype="float64")
    if table.attrs.get("model") == STAGE_BASELINE and np.isfinite(inputs.win_share) and len(table):
        # Too few closed deals for the model: risk() shows the stage baseline (the share of
        # the stage's deals ever won), but a forecast needs the chance *within the horizon*:
        # the stage's share won within that many days of entering it (Aalen–Johansen), the
        # horizon-aware reference the backtest scores as brier_stage_horizon.
        p = _stage_horizon(deals, table["row"].to_numpy(dtype="int64"), model.horizon)
    return pd.Series(p,
                     index=pd.Index(table["opportunity_id"], name="opportunity_id"), name="p_win_horizon")
