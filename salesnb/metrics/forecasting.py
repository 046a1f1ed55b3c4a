"""Period forecasts: will each salesperson and the team make the period? And how good
have such forecasts been?

:func:`forecast` forecasts the won amount and count of a period from a moment
``as_of`` (inside the period, or before it):

* **salesnb**: what was won so far plus, for every deal open at ``as_of``, the chance
  that it is won before the period ends (the risk model, :func:`salesnb.risk`, with the
  horizon from ``as_of`` to the end; for a period not yet started, the chance by the end
  minus the chance by the start, at least 0) times its amount; plus the deals not
  created yet that will be won within the period (``new_deals``): in up to
  :data:`NEW_DEAL_WINDOWS` past stretches of time as long as ``as_of`` → end, the deals
  created after the stretch began and won in the same part of it as the period; their
  mean number is the expected count (a Poisson count), their amounts the ones drawn.
  The 10–90 % interval comes from the same probabilities, the deals taken as
  independent: for the count, the exact Poisson-binomial distribution
  (:func:`poisson_binomial`) convolved with the Poisson count of new deals; for the
  amount, a weighted sum of Bernoulli outcomes (and a compound Poisson sum) whose
  distribution has no closed form, simulated (:data:`DRAWS` draws from generators
  seeded with :data:`SEED`, deals in source order: the same data always give the same
  interval; :func:`simulate_sums`). The interval reflects the randomness of the
  outcomes given the probabilities, not the error of the probabilities themselves.
* **stage_weighted**: the pipeline weighted by the stage's probability, what a CRM shows:
  won so far plus each open deal's amount times the CRM's own ``probability`` when the
  data has it, else the historical win share of the deal's stage (won ÷ closed among
  the deals closed by ``as_of`` that reached it, won deals counting as having reached
  every stage). Without ``expected_close_at`` every open deal counts, whatever its close
  date; with it, as in a CRM's forecast view, those expected to close within the period
  (an overdue deal, expected before the period, belongs to an earlier one).
* **forecast_category** (when the data has ``forecast_category``): won so far plus the
  amounts of the ``commit`` deals; ``best case`` adds those deals, ``pipeline`` the rest.

:func:`forecast_backtest` replays the forecasts ``lead_days`` before the end of past
periods, with what was known then, and scores them against what happened.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.exceptions import WindowError
from salesnb.metrics._tables import (
    SEVERAL,
    TOTAL,
    all_groups,
    canonical_by,
    currency_labels,
    currency_mode,
    fetch,
    group_column,
    group_value,
    micros,
    only_pipelines,
    ratio,
    split_values,
    with_excluded,
)
from salesnb.metrics.deal_risk import win_probabilities
from salesnb.metrics.quota import (
    PeriodLike,
    TargetPeriod,
    in_period_pipeline,
    resolve_target_period,
    won_so_far,
)
from salesnb.metrics.window import TimeLike

__all__ = [
    "CATEGORIES",
    "DRAWS",
    "INTERVAL",
    "METHODS",
    "SEED",
    "count_quantiles",
    "forecast",
    "forecast_backtest",
    "forecast_fan",
    "poisson_binomial",
    "simulate_sums",
    "sum_quantiles",
]

#: The interval's quantiles: 10 % and 90 % (an 80 % central interval).
INTERVAL: tuple[float, float] = (0.1, 0.9)
#: Draws of the amount simulation, and the seed of its generator.
DRAWS = 10_000
SEED = 16
#: How many past stretches of time estimate the deals not created yet (at most).
NEW_DEAL_WINDOWS = 6
#: The CRM forecast categories, from the most to the least certain (cumulative).
CATEGORIES: tuple[str, ...] = ("commit", "best case", "pipeline")
#: The forecast methods, as :func:`forecast_backtest` names them.
METHODS: tuple[str, ...] = ("salesnb", "stage_weighted", "forecast_category")
#: Other spellings of the categories (after lower-casing; ``_`` and ``-`` read as spaces).
_CATEGORY_NAMES = {"commit": "commit", "committed": "commit", "closed": "commit", "closed won": "commit",
                   "best case": "best case", "bestcase": "best case", "upside": "best case",
                   "pipeline": "pipeline", "omitted": "omitted", "omit": "omitted",
                   "not forecasted": "omitted"}
_TAIL = 1e-15  # probability mass trimmed from each tail of the Poisson-binomial


# --------------------------------------------------------------------------- distributions
def poisson_binomial(p: Sequence[float] | np.ndarray) -> tuple[np.ndarray, int]:
    """Return the distribution of the number of successes of independent Bernoulli trials.

    Exact up to the tails: the probability mass function is built one trial at a time
    (a convolution with ``[1 - p, p]``), dropping from either end as it goes masses that
    add up to at most 1e-15, so the work grows with the number of trials times the
    spread of the distribution, not its square.

    Parameters
    ----------
    p : array of float
        Success probabilities, each in [0, 1].

    Returns
    -------
    (ndarray, int)
        The masses of ``offset, offset + 1, ...`` successes, and ``offset``.

    Examples
    --------
    >>> pmf, offset = poisson_binomial([0.5, 0.5])
    >>> offset, pmf.tolist()
    (0, [0.25, 0.5, 0.25])
    """
    pmf = np.ones(1)
    offset = 0
    probs = np.asarray(p, dtype="float64")
    tail = _TAIL / max(1, len(probs))  # at most 1e-15 dropped from each end in all
    for q in probs:
        nxt = np.empty(len(pmf) + 1)
        nxt[:-1] = pmf * (1.0 - q)
        nxt[-1] = 0.0
        nxt[1:] += pmf * q
        lo = int(np.searchsorted(np.cumsum(nxt), tail, side="right"))
        hi = len(nxt) - int(np.searchsorted(np.cumsum(nxt[::-1]), tail, side="right"))
        lo = min(lo, hi - 1)
        pmf, offset = nxt[lo:hi], offset + lo
    return pmf, offset


def poisson_pmf(rate: float) -> np.ndarray:
    """The Poisson distribution of mean ``rate`` on 0, 1, ... up to where at most 1e-15 is left."""
    if rate <= 0:
        return np.ones(1)
    # In logs (no overflow at any rate): log pmf(k) = k log(rate) - rate - log(k!), far
    # enough into the upper tail (mean + 12 standard deviations + 40), then cut where at
    # most 1e-15 is left above. NumPy alone: scipy.stats costs ~1 s to import.
    top = int(rate + 12.0 * np.sqrt(rate) + 40.0)
    k = np.arange(top + 1, dtype="float64")
    log_fact = np.fromiter((math.lgamma(v + 1.0) for v in k), dtype="float64", count=len(k))
    pmf = np.exp(k * np.log(rate) - rate - log_fact)
    upper = np.cumsum(pmf[::-1])[::-1]  # P(X >= k) within the range
    last = int(np.flatnonzero(upper > _TAIL)[-1]) if (upper > _TAIL).any() else 0
    return pmf[:last + 1]


def count_quantiles(p: Sequence[float] | np.ndarray, qs: Sequence[float] = INTERVAL, *,
                    extra_rate: float = 0.0) -> list[int]:
    """Return quantiles of the number of successes: for each ``q``, the smallest ``k`` with
    ``P(X <= k) >= q`` (exact, from :func:`poisson_binomial`).

    ``extra_rate`` adds an independent Poisson count of that mean (the deals not created
    yet), convolved exactly.

    Examples
    --------
    >>> count_quantiles([0.5, 0.5], [0.1, 0.5, 0.9])
    [0, 1, 2]
    """
    pmf, offset = poisson_binomial(p)
    if extra_rate > 0:
        pmf = np.convolve(pmf, poisson_pmf(extra_rate))
    cdf = np.cumsum(pmf)
    last = len(cdf) - 1
    return [offset + min(int(np.searchsorted(cdf, q - 1e-12, side="left")), last) for q in qs]


def simulate_sums(p: np.ndarray, amounts: np.ndarray, codes: np.ndarray, groups: int, *,
                  draws: int = DRAWS, seed: int = SEED, chunk: int = 256) -> np.ndarray:
    """Simulate the sum of the amounts of the deals won, per group.

    Each draw decides every deal independently (won with its probability); the deals
    are taken in the order given, ``chunk`` at a time, from one generator seeded with
    ``seed``: the same inputs give the same draws.

    Parameters
    ----------
    p, amounts : ndarray
        Per deal: the probability of winning and the amount (0 for none).
    codes : ndarray of int
        Per deal: its group, 0 to ``groups - 1``.
    groups : int
        Number of groups.
    draws, seed, chunk : int
        Draws, the generator's seed, deals decided per step.

    Returns
    -------
    ndarray
        Shape ``(draws, groups)``: the won amount of each group in each draw.

    Examples
    --------
    >>> sims = simulate_sums(np.array([1.0, 0.0]), np.array([5.0, 7.0]), np.array([0, 0]), 1, draws=3)
    >>> sims[:, 0].tolist()
    [5.0, 5.0, 5.0]
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((draws, groups))
    for lo in range(0, len(p), chunk):
        hi = min(lo + chunk, len(p))
        won = rng.random((draws, hi - lo)) < p[lo:hi]
        # The group sums of the won amounts as one product: (draws × deals) @ (deals × groups),
        # each deal's amount in its group's column.
        weights = np.zeros((hi - lo, groups))
        weights[np.arange(hi - lo), codes[lo:hi]] = np.nan_to_num(amounts[lo:hi])
        out += won.astype("float64") @ weights
    return out


def sum_quantiles(sims: np.ndarray, qs: Sequence[float] = INTERVAL) -> np.ndarray:
    """Quantiles of simulated sums, per column: the smallest simulated value whose share of
    draws at or below it reaches ``q`` (``inverted_cdf``: an outcome that can happen)."""
    if not sims.size:
        return np.zeros((len(qs), sims.shape[1] if sims.ndim == 2 else 0))
    return np.quantile(sims, list(qs), axis=0, method="inverted_cdf")


# --------------------------------------------------------------------------- inputs
def _categories(values: pd.Series) -> pd.Series:
    """The CRM's forecast categories, normalised (``commit``, ``best case``, ``pipeline``,
    ``omitted``; ``(none)`` when empty, ``other`` when not one of them)."""
    def norm(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            return "(none)"
        key = re.sub(r"[\s_\-]+", " ", v.strip().casefold())
        return _CATEGORY_NAMES.get(key, "other")

    return values.map(norm, na_action=None).astype("str")


def _open_deals(snap: Snapshot, view: TargetPeriod, by: str | None) -> pd.DataFrame:
    """The deals open at ``as_of`` by ``opportunity_id``: group, amount, current stage position,
    CRM probability and category when known, and whether they are in the period's pipeline.

    By id, not in source order: the simulation draws for the deals in this order, and a
    database table has no order of its own (PostgreSQL puts a row wherever it fits), so the
    same data gives the same forecast in every engine."""
    import ibis

    o = snap.table
    t = o.filter(snap.is_open(o))
    cur = snap.current()
    c = cur.select(_ck=cur.opp_key, _pos=cur.position)
    j = t.left_join(c, t._row == c._ck)
    in_pipe = in_period_pipeline(j, view)
    no_close = j.expected_close_at.isnull() if "expected_close_at" in o.columns else ibis.literal(False)
    extra = {name: j[name] for name in ("probability", "forecast_category") if name in o.columns}
    q = j.select(_row=j._row, opportunity_id=j.opportunity_id, _g=group_value(j, by), amount=j.amount,
                 _pos=j._pos, _in_pipe=in_pipe, _no_close=no_close, **extra)
    frame = fetch(snap.data, q.order_by("opportunity_id"))
    frame["amount"] = frame["amount"].astype("float64")
    frame["_g"] = frame["_g"].astype("str")
    return frame.reset_index(drop=True)


def _stage_shares(snap: Snapshot) -> tuple[dict[int, float], float]:
    """Won share of the deals closed by ``as_of`` that reached each open stage, and overall.

    A closed deal reached the stages up to its deepest one entered by ``as_of`` (without
    history: the stage in its ``stage`` column, else the first); a won deal reached every
    stage, as in the funnel.
    """
    import ibis

    def compute() -> tuple[dict[int, float], float]:
        o = snap.table
        t = o.filter(snap.closed_known(o) & o.status.isin(["won", "lost"]))
        d = snap.deepest()
        d = d.select(_dk=d.opp_key, _deep=d.deepest)
        j = t.left_join(d, t._row == d._dk)
        stages = list(snap.data.settings.stages)
        by_column = ibis.cases(*[(j.stage == s, i) for i, s in enumerate(stages)],
                               else_=ibis.null("int64")) if stages else ibis.null("int64")
        pos = ibis.coalesce(j._deep, by_column, ibis.literal(0, "int64"))
        counts = fetch(snap.data, j.group_by(status=j.status, pos=pos).aggregate(n=j.count()))
        won = int(counts.loc[counts["status"] == "won", "n"].sum())
        lost = counts[counts["status"] == "lost"]
        overall = won / (won + int(lost["n"].sum())) if won + int(lost["n"].sum()) else np.nan
        shares = {}
        for i in range(len(stages)):
            n = won + int(lost.loc[lost["pos"].astype("int64") >= i, "n"].sum())
            shares[i] = won / n if n else overall
        return shares, overall

    return snap.derived("stage_shares", compute)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _NewDeals:
    """Deals not created yet at ``as_of`` that will be won within the period, estimated from
    the same stretch of time in the past: per group the expected number (``rate``) and the
    amounts of the past deals it is drawn from (``pool``)."""

    rate: dict[str, float]
    pool: dict[str, np.ndarray]
    windows: int
    #: Per group, the currency codes of the pooled deals (amounts split by currency only).
    currencies: dict[str, set[str]] = field(default_factory=dict)


def _new_deals(snap: Snapshot, view: TargetPeriod, by: str | None) -> _NewDeals:
    """Count, in up to :data:`NEW_DEAL_WINDOWS` past stretches as long as ``as_of`` → end
    (ending at ``as_of``, one after the other, within the data), the deals created after a
    stretch began and won within the same part of it as the period (as known at ``as_of``)."""
    if view.complete:
        return _NewDeals({}, {}, 0)
    at = view.as_of
    offset = max(view.start - at, pd.Timedelta(0))
    length = view.end - at
    first = snap.data.span[0]
    refs = [at - k * length for k in range(1, NEW_DEAL_WINDOWS + 1) if at - k * length >= first]
    if not refs:
        return _NewDeals({}, {}, 0)
    earliest = min(refs)
    o = snap.table
    t = o.filter(snap.closed_known(o) & (o.status == "won") & (o.created_at > micros(earliest))
                 & (o.closed_at >= micros(earliest + offset)))
    # by id: the same pool, in the same order, in every engine (see _open_deals)
    split = currency_mode(snap.data) == "split"
    extra = {"currency": t.currency} if split else {}
    frame = fetch(snap.data, t.select(_id=t.opportunity_id, _c=t.created_at, _k=t.closed_at, amount=t.amount,
                                      _g=group_value(t, by), **extra).order_by("_id"))
    if not len(frame):
        return _NewDeals({}, {}, len(refs))
    created = frame["_c"].to_numpy(dtype="int64")  # microseconds, as the engine holds instants
    closed = frame["_k"].to_numpy(dtype="int64")
    amount = frame["amount"].astype("float64").fillna(0.0).to_numpy()
    groups = frame["_g"].astype("str").to_numpy(dtype=object)
    codes = (currency_labels(frame).to_numpy(dtype=object) if split
             else np.full(len(frame), "", dtype=object))
    has_amount = frame["amount"].notna().to_numpy()
    counts: dict[str, int] = {}
    pool: dict[str, list[float]] = {}
    currencies: dict[str, set[str]] = {}
    for ref in refs:
        lo, a, b = micros(ref), micros(ref + offset), micros(ref + length)
        hit = (created > lo) & (closed >= a) & (closed < b)
        for g, v, c, known in zip(groups[hit], amount[hit], codes[hit], has_amount[hit], strict=True):
            counts[g] = counts.get(g, 0) + 1
            pool.setdefault(g, []).append(float(v))
            if split and known:
                currencies.setdefault(g, set()).add(str(c))
    n = len(refs)
    return _NewDeals({g: c / n for g, c in counts.items()},
                     {g: np.asarray(v, dtype="float64") for g, v in pool.items()}, n, currencies)


def _simulate_new(new: _NewDeals, groups: list[str], draws: int, seed: int) -> np.ndarray:
    """Simulated won amounts of the deals not created yet, per group: a Poisson number of
    deals, each amount drawn from the group's past ones (a generator of its own, seeded)."""
    rng = np.random.default_rng([seed, 1])
    out = np.zeros((draws, len(groups)))
    for i, g in enumerate(groups):
        rate, pool = new.rate.get(g, 0.0), new.pool.get(g)
        if rate <= 0 or pool is None or not len(pool):
            continue
        n = rng.poisson(rate, size=draws)
        picks = pool[rng.integers(0, len(pool), size=int(n.sum()))]
        out[:, i] = np.bincount(np.repeat(np.arange(draws), n), weights=picks, minlength=draws)
    return out


def _model_probabilities(data: SalesData, view: TargetPeriod, ids: pd.Series) -> pd.Series:
    """P(won in the period) of each open deal, from :func:`salesnb.risk` (NaN: no estimate)."""
    if view.complete or not len(ids):
        return pd.Series(0.0, index=ids.index)
    snap = data.at(view.as_of)

    def at_horizon(moment: pd.Timestamp) -> pd.Series:
        days = (moment - view.as_of).total_seconds() / 86_400.0
        return snap.derived(("forecast_risk", micros(moment)),
                            lambda: win_probabilities(data, view.as_of, days))

    p = at_horizon(view.end)
    if not view.started:
        p = (p - at_horizon(view.start).reindex(p.index)).clip(lower=0.0)
    return pd.Series(p.reindex(ids.to_numpy()).to_numpy(), index=ids.index)


# --------------------------------------------------------------------------- the forecast
def _forecast(data: SalesData, view: TargetPeriod, by: str | None, draws: int,
              seed: int, new_deals: bool = True) -> pd.DataFrame:
    snap = data.at(view.as_of)
    col = group_column(by)
    groups = all_groups(snap, by)
    won = won_so_far(snap, view, by).set_index(col) if groups else pd.DataFrame()
    deals = _open_deals(snap, view, by)
    amount = deals["amount"].to_numpy(dtype="float64")
    has_amount = ~np.isnan(amount)
    value = np.where(has_amount, amount, 0.0)

    p = _model_probabilities(data, view, deals["opportunity_id"]).to_numpy(dtype="float64")
    no_p = np.isnan(p)
    p = np.where(no_p, 0.0, p)
    shares, overall = _stage_shares(snap)
    stage_p = np.array([shares.get(int(s), overall) if pd.notna(s) else overall for s in deals["_pos"]],
                       dtype="float64")
    crm = deals["probability"].to_numpy(dtype="float64", na_value=np.nan) if "probability" in deals \
        else np.full(len(deals), np.nan)
    use_crm = ~np.isnan(crm)
    weight = np.where(use_crm, crm, stage_p)
    weight = np.where(np.isnan(weight), 0.0, weight)
    in_pipe = deals["_in_pipe"].to_numpy(dtype=bool)
    if view.complete:
        weight = np.zeros(len(deals))
    weighted = np.where(in_pipe, weight, 0.0)
    category = _categories(deals["forecast_category"]) if "forecast_category" in deals else None

    new = _new_deals(snap, view, by) if new_deals else _NewDeals({}, {}, 0)
    groups = sorted(set(groups) | set(deals["_g"]) | set(new.rate))
    code = {g: i for i, g in enumerate(groups)}
    codes = deals["_g"].map(code).to_numpy(dtype="int64")
    sims = simulate_sums(p, value, codes, len(groups), draws=draws, seed=seed) if len(deals) \
        else np.zeros((draws, len(groups)))
    if new.rate:
        sims = sims + _simulate_new(new, groups, draws, seed)
    amount_q = sum_quantiles(sims)
    rows = []
    for g in groups:
        m = codes == code[g]
        base_amount = float(won["won_amount"].get(g, 0.0)) if len(won) else 0.0
        base_count = int(won["won_count"].get(g, 0)) if len(won) else 0
        rate = new.rate.get(g, 0.0)
        new_amount = float(np.sum(new.pool[g])) / new.windows if rate > 0 else 0.0
        lo_c, hi_c = count_quantiles(p[m], extra_rate=rate)
        row: dict[str, Any] = {
            col: g, "won_amount": base_amount, "won_count": base_count,
            "open_count": int(m.sum()), "open_without_amount": int((m & ~has_amount).sum()),
            "expected_amount": base_amount + float(np.sum(p[m] * value[m])) + new_amount,
            "amount_low": base_amount + float(amount_q[0, code[g]]),
            "amount_high": base_amount + float(amount_q[1, code[g]]),
            "expected_count": base_count + float(np.sum(p[m])) + rate,
            "count_low": base_count + lo_c, "count_high": base_count + hi_c,
            "new_amount": new_amount, "new_count": rate,
            "stage_weighted_amount": base_amount + float(np.sum(weighted[m] * value[m])),
            "stage_weighted_count": base_count + float(np.sum(weighted[m])),
        }
        if category is not None:
            cats = category.to_numpy(dtype=object)
            amount_sum, count_sum = base_amount, base_count
            for name in CATEGORIES:
                chosen = m & in_pipe & (cats == name) & (not view.complete)
                amount_sum += float(np.sum(value[chosen]))
                count_sum += int(chosen.sum())
                key = name.replace(" ", "_")
                row[f"{key}_amount"], row[f"{key}_count"] = amount_sum, count_sum
        rows.append(row)
    columns = [col, "won_amount", "won_count", "open_count", "open_without_amount", "expected_amount",
               "amount_low", "amount_high", "expected_count", "count_low", "count_high", "new_amount",
               "new_count", "stage_weighted_amount", "stage_weighted_count"]
    if category is not None:
        columns += [f"{c.replace(' ', '_')}_{kind}" for c in CATEGORIES for kind in ("amount", "count")]
    out = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(
        {c: pd.Series(dtype="str" if c == col else "float64") for c in columns})
    tz = data.settings.timezone
    lead = pd.DataFrame({"period": pd.Series([view.label] * len(out), dtype="str"),
                         "period_start": pd.Series([view.start] * len(out), dtype=f"datetime64[ns, {tz}]"),
                         "period_end": pd.Series([view.end] * len(out), dtype=f"datetime64[ns, {tz}]")})
    out = pd.concat([lead, out.reset_index(drop=True)], axis=1)
    out[col] = out[col].astype("str")
    for c in ("won_count", "open_count", "open_without_amount", "count_low", "count_high"):
        if c in out:
            out[c] = out[c].astype("int64")

    notes: list[str] = []
    n_no_p = int((no_p & ~view.complete).sum()) if len(deals) else 0
    if n_no_p:
        notes.append(f"{n_no_p} open deal(s) have no win probability (no history to compare with) and add "
                     "nothing to the salesnb forecast")
    if not view.complete:
        if new.windows:
            notes.append(f"deals not created yet: {sum(new.rate.values()):.1f} expected to be created and "
                         f"won within the period, as in the {new.windows} past stretch(es) of the same length")
        else:
            notes.append("the forecast covers the deals open at as_of: deals created later and won within "
                         "the period are not foreseen" + ("" if new_deals else " (new_deals=False)")
                         + ("" if not new_deals else " (no past stretch of the same length in the data)"))
        if "expected_close_at" not in data.opportunity_table.columns:
            notes.append("no expected close dates: the stage-weighted pipeline counts every open deal, "
                         "whatever its close date")
    no_close = int(deals["_no_close"].sum()) if len(deals) else 0
    if no_close:
        notes.append(f"{no_close} open deal(s) without an expected close date are left out of the "
                     "stage-weighted and category forecasts")
    other = int((category == "other").sum()) if category is not None else 0
    if other:
        notes.append(f"{other} open deal(s) have a forecast category other than commit, best case, "
                     "pipeline or omitted and are left out of the category forecast")
    out.attrs.update(as_of=view.as_of, label=view.label, horizon_days=view.days_left, draws=int(draws),
                     new_deal_windows=new.windows, new_deals_expected=float(sum(new.rate.values())),
                     seed=int(seed), interval=INTERVAL, notes=notes,
                     probability_source={"crm": int((use_crm & in_pipe).sum()),
                                         "stage_history": int((~use_crm & in_pipe).sum())},
                     has_categories=category is not None)
    if currency_mode(data) == "split":
        out = _split_amounts(snap, view, by, out, new)
    return with_excluded(out, no_probability=n_no_p, open_without_amount=int((~has_amount).sum()),
                         no_expected_close=no_close, category_other=other)


def _split_amounts(snap: Snapshot, view: TargetPeriod, by: str | None, out: pd.DataFrame,
                   new: _NewDeals) -> pd.DataFrame:
    """Amounts split by currency (no rates): a group's amount columns stay only when every
    amount they add — the deals open at ``as_of``, those won so far in the period and the
    past deals the new ones are drawn from — is in one currency (a ``currency`` column
    says which); otherwise they are left empty. Counts are kept."""
    col = group_column(by)
    o = snap.table
    t = o.filter(o.amount.notnull() & (~snap.closed_known(o) | (
        (o.status == "won") & (o.closed_at >= micros(view.start)) & (o.closed_at < micros(view.as_of)))))
    rows = fetch(snap.data, t.select(_g=group_value(t, by), currency=t.currency).distinct())
    per: dict[str, set[str]] = {g: set(c) for g, c in new.currencies.items()}
    for g, c in zip(rows["_g"].astype("str"), currency_labels(rows), strict=True):
        per.setdefault(g, set()).add(c)
    label = {g: (next(iter(c)) if len(c) == 1 else SEVERAL) for g, c in per.items() if c}
    out["_currency"] = out[col].map(label)
    return split_values(snap.data, out, [c for c in out.columns if (c.endswith("_amount") and "without" not in c) or c.startswith("amount_")])


def _check_draws(draws: int, seed: int) -> None:
    if int(draws) != draws or draws < 100:
        raise WindowError(f"`draws`={draws!r} is not an integer of at least 100",
                          fix=f"give e.g. `draws`={DRAWS}")
    if int(seed) != seed or seed < 0:
        raise WindowError(f"`seed`={seed!r} is not a non-negative integer", fix=f"give e.g. `seed`={SEED}")


@fill_doc
def forecast(
    data: SalesData,
    *,
    period: PeriodLike,
    as_of: TimeLike = None,
    by: str | None = "owner",
    calendar: str | None = None,
    new_deals: bool = True,
    draws: int = DRAWS,
    seed: int = SEED,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Forecast the won amount and count of a period, with a 10–90 % interval.

    salesnb's forecast is what was won in the period by ``as_of`` plus, over the deals
    open at ``as_of``, the chance of each being won before the period ends (from
    :func:`~salesnb.risk`) times its amount, plus the deals not created yet that the
    same stretch of time brought in the past (``new_deals``). The interval treats the
    deals as independent: exact (Poisson-binomial, convolved with the Poisson count of
    new deals) for the count, simulated for the amount (``draws`` draws, a fixed
    ``seed``). Beside it, the forecasts a CRM shows: the
    stage-probability-weighted pipeline, and the CRM's forecast categories when the
    data has ``forecast_category``. The module docstring gives the rules.

    Parameters
    ----------
    {data}
    {target_period}
    {as_of_period}
    {by}
    {calendar}
    {new_deals}
    {draws}
    {pipelines}

    Returns
    -------
    DataFrame
        One row per group: ``period``, ``period_start``, ``period_end``, the group
        column, ``won_amount`` and ``won_count`` (won by ``as_of``), ``open_count``,
        ``open_without_amount``, ``expected_amount``, ``amount_low``, ``amount_high``,
        ``expected_count``, ``count_low``, ``count_high`` (the 10 % and 90 % quantiles),
        ``new_amount`` and ``new_count`` (the part of the expected values from deals not
        created yet), ``stage_weighted_amount``, ``stage_weighted_count``, and with categories
        ``commit_amount``, ``best_case_amount``, ``pipeline_amount`` (cumulative) and
        their ``_count``. ``attrs``: ``as_of``, ``horizon_days``, ``draws``, ``seed``,
        ``notes``, ``probability_source`` (deals weighted by the CRM's probability or by
        the stage's history), ``new_deal_windows`` (past stretches behind the new-deal
        estimate; 0: none), ``new_deals_expected``, ``excluded``.

    Examples
    --------
    {load_sample}
    >>> f = sn.forecast(data, period="1404-08", as_of="1404-08-01", by=None)
    >>> row = f.iloc[0]
    >>> bool(row["amount_low"] <= row["expected_amount"] <= row["amount_high"])
    True
    >>> bool(row["count_low"] <= row["expected_count"] <= row["count_high"])
    True
    """
    data = only_pipelines(data, pipelines)
    _check_draws(draws, seed)
    view = resolve_target_period(data, period, as_of, calendar)
    return _forecast(data, view, canonical_by(data, by), int(draws), int(seed), bool(new_deals))


# --------------------------------------------------------------------------- backtest
def _method_rows(fc: pd.Series, has_categories: bool) -> list[dict[str, Any]]:
    rows = [{"method": "salesnb", "forecast_amount": fc["expected_amount"],
             "forecast_count": fc["expected_count"], "amount_low": fc["amount_low"],
             "amount_high": fc["amount_high"], "count_low": float(fc["count_low"]),
             "count_high": float(fc["count_high"])},
            {"method": "stage_weighted", "forecast_amount": fc["stage_weighted_amount"],
             "forecast_count": fc["stage_weighted_count"]}]
    if has_categories:
        rows.append({"method": "forecast_category", "forecast_amount": fc["commit_amount"],
                     "forecast_count": float(fc["commit_count"]), "amount_low": fc["commit_amount"],
                     "amount_high": fc["best_case_amount"], "count_low": float(fc["commit_count"]),
                     "count_high": float(fc["best_case_count"])})
    return rows


@fill_doc
def forecast_backtest(
    data: SalesData,
    *,
    periods: Sequence[PeriodLike] | str,
    lead_days: float,
    by: str | None = None,
    calendar: str | None = None,
    new_deals: bool = True,
    draws: int = DRAWS,
    seed: int = SEED,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Score period forecasts made ``lead_days`` before each period's end against what happened.

    For each past period, every forecast of :func:`forecast` — salesnb's, the
    stage-weighted pipeline's and, when the data has categories, the commit forecast
    (its range: commit to best case) — is made at ``end - lead_days`` with what was
    known then, and compared with the won amount and count of the period as known at
    its end. A period whose end is after the last event in the data is refused: its
    outcome is not known yet.

    Parameters
    ----------
    {data}
    periods : sequence of str or (start, end)
        The periods (labels in ``calendar``, or pairs).
    lead_days : float
        How long before each period's end the forecast is made, in days (more than the
        period's length: before it starts).
    {by_none}
    {calendar}
    {new_deals}
    {draws}
    {pipelines}

    Returns
    -------
    DataFrame
        One row per period (× group) × method: ``period``, ``period_start``,
        ``period_end``, ``as_of``, (the group column,) ``method`` (``salesnb``,
        ``stage_weighted``, ``forecast_category``), ``forecast_amount``,
        ``forecast_count``, ``amount_low``, ``amount_high``, ``count_low``,
        ``count_high`` (the 10–90 % interval; NaN for the stage-weighted pipeline),
        ``actual_amount``, ``actual_count``, ``error_amount`` (forecast − actual),
        ``abs_error_amount``, ``rel_error_amount`` (÷ actual), the same for the count,
        ``inside_amount`` and ``inside_count`` (the actual within the interval; missing
        without one). ``attrs["summary"]``: one record per method (``pd.DataFrame(...)``
        makes it a table): ``method``, ``periods``, ``mae_amount``, ``mae_count``,
        ``mean_rel_error_amount``, ``coverage`` (share of rows whose actual amount fell
        inside the interval) and ``coverage_count``.

    Raises
    ------
    WindowError
        A period ends after the last event in the data, ``lead_days`` is negative, or no
        period is given.

    Examples
    --------
    {load_sample}
    >>> import pandas as pd
    >>> bt = sn.forecast_backtest(data, periods=["1404-05", "1404-06"], lead_days=30)
    >>> bt[["period", "method"]].values.tolist()
    [['1404-05', 'salesnb'], ['1404-05', 'stage_weighted'], ['1404-06', 'salesnb'], ['1404-06', 'stage_weighted']]
    >>> s = pd.DataFrame(bt.attrs["summary"]).set_index("method")
    >>> bool(s.loc["salesnb", "mae_amount"] < s.loc["stage_weighted", "mae_amount"])
    True
    """
    data = only_pipelines(data, pipelines)
    _check_draws(draws, seed)
    chosen = [periods] if isinstance(periods, str) else list(periods)
    if not chosen:
        raise WindowError("no period given", fix="give one or more past periods, e.g. ['1404-05', '1404-06']")
    if not np.isfinite(lead_days) or lead_days < 0:
        raise WindowError(f"`lead_days`={lead_days!r} is not a number of days >= 0", fix="give e.g. 30")
    by = canonical_by(data, by)
    col = group_column(by)
    last = data.span[1]
    lead = pd.Timedelta(days=float(lead_days))
    rows: list[dict[str, Any]] = []
    has_categories = "forecast_category" in data.opportunity_table.columns
    for p in chosen:
        outcome = resolve_target_period(data, p, None, calendar)
        if outcome.end > last:
            raise WindowError(
                f"`periods`: {outcome.label} ends {outcome.end.isoformat()}, after the last event in the "
                f"data ({last.isoformat()}): its outcome is not known yet",
                fix="give periods that ended by the last event")
        outcome = TargetPeriod(outcome.label, outcome.start, outcome.end, outcome.end, outcome.calendar)
        actual = won_so_far(data.at(outcome.end), outcome, by).set_index(col)
        view = TargetPeriod(outcome.label, outcome.start, outcome.end, outcome.end - lead, outcome.calendar)
        fc = _forecast(data, view, by, int(draws), int(seed), bool(new_deals))
        for _, f in fc.iterrows():
            g = f[col]
            a_amount = float(actual["won_amount"].get(g, 0.0)) if len(actual) else 0.0
            a_count = float(actual["won_count"].get(g, 0)) if len(actual) else 0.0
            for m in _method_rows(f, has_categories):
                rows.append({"period": outcome.label, "period_start": outcome.start,
                             "period_end": outcome.end, "as_of": view.as_of,
                             **({col: g} if by is not None else {}),
                             **m, "actual_amount": a_amount, "actual_count": a_count})
    out = pd.DataFrame(rows)
    for c in ("amount_low", "amount_high", "count_low", "count_high"):
        if c not in out:
            out[c] = np.nan
    out = out.astype({c: "float64" for c in ("forecast_amount", "forecast_count", "amount_low", "amount_high",
                                              "count_low", "count_high", "actual_amount", "actual_count")})
    for kind in ("amount", "count"):
        err = out[f"forecast_{kind}"] - out[f"actual_{kind}"]
        out[f"error_{kind}"] = err
        out[f"abs_error_{kind}"] = err.abs()
        out[f"rel_error_{kind}"] = ratio(err.abs(), out[f"actual_{kind}"])
        known = out[f"{kind}_low"].notna()
        inside = (out[f"{kind}_low"] <= out[f"actual_{kind}"]) & (out[f"actual_{kind}"] <= out[f"{kind}_high"])
        out[f"inside_{kind}"] = inside.astype("boolean").mask(~known)
    lead_cols = ["period", "period_start", "period_end", "as_of", *([col] if by is not None else []), "method"]
    out = out[[*lead_cols, "forecast_amount", "forecast_count", "amount_low", "amount_high", "count_low",
               "count_high", "actual_amount", "actual_count", "error_amount", "abs_error_amount",
               "rel_error_amount", "error_count", "abs_error_count", "rel_error_count", "inside_amount",
               "inside_count"]]
    summary = []
    for method in METHODS:
        part = out[out["method"] == method]
        if not len(part):
            continue
        inside_a, inside_c = part["inside_amount"].dropna(), part["inside_count"].dropna()
        summary.append({"method": method, "periods": int(part["period"].nunique()),
                        "mae_amount": float(part["abs_error_amount"].mean()),
                        "mae_count": float(part["abs_error_count"].mean()),
                        "mean_rel_error_amount": float(part["rel_error_amount"].mean()),
                        "coverage": float(inside_a.astype(bool).mean()) if len(inside_a) else np.nan,
                        "coverage_count": float(inside_c.astype(bool).mean()) if len(inside_c) else np.nan})
    out.attrs.update(summary=summary, lead_days=float(lead_days), draws=int(draws), seed=int(seed))
    return out


def backtest_document(table: pd.DataFrame, periods: Sequence[str]) -> dict[str, Any]:
    """The ``salesnb forecast --backtest --json`` document of a :func:`forecast_backtest` table:
    ``lead_days``, ``periods`` (the labels) and per method its mean absolute errors (and, for
    salesnb, the coverage of its interval). Undefined numbers are None."""
    def num(value: Any) -> float | None:
        return float(value) if value is not None and np.isfinite(value) else None

    summary = pd.DataFrame(table.attrs["summary"]).set_index("method")
    methods: dict[str, dict[str, float | None]] = {}
    for method in METHODS:
        if method not in summary.index:
            continue
        row = summary.loc[method]
        entry = {"mae_amount": num(row["mae_amount"]), "mae_count": num(row["mae_count"])}
        if method == "salesnb":
            entry["coverage"] = num(row["coverage"])
        methods[method] = entry
    lead = float(table.attrs["lead_days"])
    return {"lead_days": int(lead) if lead.is_integer() else lead, "periods": list(periods), "methods": methods}




# --------------------------------------------------------------------------- the fan
@fill_doc
def forecast_fan(
    data: SalesData,
    *,
    period: PeriodLike,
    as_of: TimeLike = None,
    targets: Any = None,
    calendar: str | None = None,
    steps: int = 3,
    new_deals: bool = True,
    draws: int = DRAWS,
    seed: int = SEED,
) -> pd.DataFrame:
    """The team's won amount through a period: what was won by each day up to ``as_of``,
    salesnb's forecast of the amount won by ``steps`` later moments (the fan: expected,
    10 % and 90 %), and the target's pace by business days.

    Each forecast point is :func:`forecast` of the part of the period up to that moment
    (one risk estimate per point).

    Parameters
    ----------
    {data}
    {target_period}
    {as_of_period}
    targets : Targets, DataFrame, str or Path, optional
        The targets (default: the dataset's own); without any, no pace.
    {calendar}
    steps : int, default 3
        Forecast points between ``as_of`` and the end.
    {new_deals}
    {draws}

    Returns
    -------
    DataFrame
        One row per local midnight of the period, its end and ``as_of``, in time order:
        ``at``, ``actual`` (won by then; NaN after ``as_of``), ``expected``, ``low``,
        ``high`` (at ``as_of`` and the forecast points; NaN elsewhere), ``pace`` (the
        target times the share of business days elapsed; NaN without a target).
        ``attrs``: ``label``, ``start``, ``end``, ``as_of``, ``target``.

    Examples
    --------
    >>> import salesnb as sn
    >>> fan = forecast_fan(sn.load(sn.sample_path()), period="1404-08", as_of="1404-08-15", steps=1)
    >>> fan.dropna(subset=["expected"])["expected"].is_monotonic_increasing
    True
    """
    from salesnb.metrics.quota import _resolve_targets, business_days, targets_for

    _check_draws(draws, seed)
    view = resolve_target_period(data, period, as_of, calendar)
    tz = data.settings.timezone
    days = pd.date_range(view.start.tz_localize(None), view.end.tz_localize(None), freq="D")
    moments = [pd.Timestamp(d).tz_localize(tz, nonexistent="shift_forward", ambiguous=True) for d in days]
    moments = sorted({*moments, view.start, view.end, min(max(view.as_of, view.start), view.end)})
    snap = data.at(view.as_of)
    from salesnb.metrics._tables import closed_frame

    closed = closed_frame(snap, view.window)
    won = closed[closed["status_asof"] == "won"]
    times = won["closed_asof"].dt.as_unit("ns").astype("int64").to_numpy()
    amounts = won["amount"].fillna(0.0).to_numpy(dtype="float64")
    order = np.argsort(times, kind="stable")
    times, cumulative = times[order], np.cumsum(amounts[order])
    target = np.nan
    try:
        found = _resolve_targets(data, targets, view.calendar)
        target = targets_for(data, found, view, None, "won_amount")[0].get(TOTAL, np.nan)
    except WindowError:
        pass
    whole = business_days(data, view.start, view.end)
    rows = []
    for at in moments:
        seen = at <= view.as_of
        i = int(np.searchsorted(times, at.value, side="right")) if len(times) else 0
        actual = float(cumulative[i - 1]) if seen and i > 0 else (0.0 if seen else np.nan)
        share = business_days(data, view.start, at) / whole if whole > 0 else \
            (at - view.start).total_seconds() / (view.end - view.start).total_seconds()
        rows.append({"at": at, "actual": actual, "expected": np.nan, "low": np.nan, "high": np.nan,
                     "pace": target * share})
    out = pd.DataFrame(rows)
    origin = min(max(view.as_of, view.start), view.end)
    base = float(out.loc[out["at"] == origin, "actual"].iloc[0]) if (out["at"] == origin).any() else 0.0
    out.loc[out["at"] == origin, ["expected", "low", "high"]] = base
    if not view.complete:
        span = view.end - origin
        for k in range(1, int(steps) + 1):
            at = origin + span * (k / int(steps))
            part = TargetPeriod(view.label, view.start, at, view.as_of, view.calendar)
            f = _forecast(data, part, None, draws, seed, new_deals).iloc[0]
            point = {"at": at, "actual": np.nan, "expected": f["expected_amount"], "low": f["amount_low"],
                     "high": f["amount_high"],
                     "pace": target * (business_days(data, view.start, at) / whole if whole > 0 else
                                       (at - view.start).total_seconds()
                                       / (view.end - view.start).total_seconds())}
            out = out[out["at"] != at]
            out = pd.concat([out, pd.DataFrame([point])], ignore_index=True)
    out = out.sort_values("at", kind="stable", ignore_index=True)
    out["at"] = pd.to_datetime(out["at"], utc=True).dt.tz_convert(tz)
    out.attrs.update(label=view.label, start=view.start, end=view.end, as_of=view.as_of,
                     target=float(target))
    return out
