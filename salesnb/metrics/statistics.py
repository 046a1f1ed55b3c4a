"""The statistics behind the KPIs: Wilson intervals, Kaplan–Meier, Aalen–Johansen.

Plain functions on numpy arrays, independent of the data model: the metrics modules
hand them compact per-deal or per-group arrays.

* :func:`wilson_interval` — the confidence interval of a rate (win rate);
* :func:`kaplan_meier` — time to an event with censoring (sales cycle, open deals
  still running);
* :func:`aalen_johansen` — competing risks, won vs lost, with censoring (risk).
"""

from __future__ import annotations

import statistics
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CumulativeIncidence", "aalen_johansen", "first_below", "kaplan_meier", "wilson_interval"]


def wilson_interval(successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Return the Wilson score interval for ``successes / trials`` (NaN where trials == 0).

    Examples
    --------
    >>> lo, hi = wilson_interval(np.array([8]), np.array([10]))
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.4902, 0.9433)
    """
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    # The bounds are exactly 0 for no success and 1 for all successes (not 1e-17 off).
    low = np.where(n > 0, np.where(k == 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
    high = np.where(n > 0, np.where(k == n, 1.0, np.clip(centre + half, 0, 1)), np.nan)
    return low, high


def kaplan_meier(days: np.ndarray, event: np.ndarray, confidence: float = 0.95
                 ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Estimate a Kaplan–Meier survival curve, with its at-risk table and median.

    The curve comes from :func:`scipy.stats.ecdf` on censored data.

    Parameters
    ----------
    days : ndarray
        Time of each subject: to its event, or to its censoring (negative values count
        as 0).
    event : ndarray of bool
        True where the event happened, False where the subject is censored.
    confidence : float, default 0.95
        Level of the pointwise log-log interval of the curve and of the median.

    Returns
    -------
    curve : DataFrame
        One row per distinct time: ``days``, ``survival``, ``ci_low``, ``ci_high``,
        ``at_risk``, ``events``, ``censored``.
    summary : dict
        ``n``, ``events``, ``censored``, ``median_days``, ``median_ci_low``,
        ``median_ci_high`` (NaN when the curve does not reach 0.5).

    Examples
    --------
    Four subjects, events at days 1 and 3, censored at 2 and 4: the curve drops to
    3/4 at day 1 and, with two still at risk, to 3/4 · 1/2 at day 3:

    >>> curve, summary = kaplan_meier(np.array([1.0, 2, 3, 4]),
    ...                               np.array([True, False, True, False]))
    >>> curve["survival"].tolist(), summary["median_days"]
    ([0.75, 0.75, 0.375, 0.375], 3.0)
    """
    from scipy import stats  # heavy import, only needed here

    days = np.clip(days.astype("float64"), 0, None)
    n, n_events = len(days), int(event.sum())
    summary: dict[str, Any] = {"n": n, "events": n_events, "censored": n - n_events,
               "median_days": np.nan, "median_ci_low": np.nan, "median_ci_high": np.nan}
    times = np.unique(days)
    events_at = np.array([int(event[days == t].sum()) for t in times]) if n < 5000 else \
        pd.Series(event.astype(int)).groupby(days).sum().reindex(times).to_numpy()
    counts_at = pd.Series(1, index=days).groupby(level=0).size().reindex(times).to_numpy()
    at_risk = n - np.concatenate([[0], np.cumsum(counts_at)[:-1]])
    if n_events == 0:
        surv = np.ones(len(times))
        low = high = np.full(len(times), np.nan)
    else:
        sample = stats.CensoredData(uncensored=days[event], right=days[~event])
        sf = stats.ecdf(sample).sf
        surv = sf.evaluate(times)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ci = sf.confidence_interval(confidence_level=confidence, method="log-log")
            low, high = ci.low.evaluate(times), ci.high.evaluate(times)
        summary["median_days"] = first_below(times, surv)
        summary["median_ci_low"] = first_below(times, low)
        summary["median_ci_high"] = first_below(times, high)
    curve = pd.DataFrame({
        "days": times, "survival": surv, "ci_low": low, "ci_high": high,
        "at_risk": at_risk.astype("int64"), "events": events_at.astype("int64"),
        "censored": (counts_at - events_at).astype("int64"),
    })
    return curve, summary


def first_below(times: np.ndarray, curve: np.ndarray, level: float = 0.5) -> float:
    """The first time at which ``curve`` is at or below ``level`` (NaN: never)."""
    hit = np.flatnonzero(np.nan_to_num(curve, nan=1.0) <= level)
    return float(times[hit[0]]) if len(hit) else float("nan")


@dataclass(frozen=True)
class CumulativeIncidence:
    """An Aalen–Johansen estimate of winning and losing over time (see :func:`aalen_johansen`).

    Attributes
    ----------
    n : int
        Subjects (deals) in the set.
    n_eff : float
        Effective sample size for the horizon: a closing counts 1, a censored deal the
        share of the horizon it was observed.
    times : ndarray
        Distinct follow-up times, in days, increasing.
    won, lost : ndarray
        Cumulative incidence of winning / losing at ``times``.
    undecided : ndarray
        Share neither won nor lost just after ``times`` (the overall survival).
    closed_won_share : float
        Won / closed over every closing of the set (NaN when none closed).
    """

    n: int
    n_eff: float
    times: np.ndarray
    won: np.ndarray
    lost: np.ndarray
    undecided: np.ndarray
    closed_won_share: float

    def won_by(self, t: float) -> float:
        """Cumulative incidence of winning by ``t`` days (0 before the first time)."""
        i = np.searchsorted(self.times, t, side="right") - 1
        return float(self.won[i]) if i >= 0 else 0.0

    def won_at(self, grid: np.ndarray) -> np.ndarray:
        """Cumulative incidence of winning at each time of ``grid``."""
        i = np.searchsorted(self.times, grid, side="right") - 1
        return np.where(i >= 0, self.won[np.clip(i, 0, None)] if len(self.won) else 0.0, 0.0)

    @property
    def still_undecided(self) -> float:
        """Share neither won nor lost at the end of the curve (1 when it is empty)."""
        return float(self.undecided[-1]) if len(self.times) else 1.0

    def eventually(self, pi: float) -> float:
        """Chance of winning eventually when the still undecided win with probability ``pi``."""
        won = float(self.won[-1]) if len(self.times) else 0.0
        return won + self.still_undecided * pi


def aalen_johansen(follow_up: np.ndarray, event: np.ndarray, horizon: float,
                   min_at_risk: int = 1) -> CumulativeIncidence:
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
    CumulativeIncidence
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
        return CumulativeIncidence(0, 0.0, empty, empty, empty, empty, pi)
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
    return CumulativeIncidence(n, n_eff, times[keep], won[keep], lost[keep], surv_after[keep], pi)
