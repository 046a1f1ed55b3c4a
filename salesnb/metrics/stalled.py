"""Question 4b, continued — the deals stalling now: stuck in their stage, or moving slowest.

A deal open at ``as_of`` is judged against the completed visits of its current stage
known at ``as_of`` (:mod:`salesnb.metrics.stages`): stuck beyond the stage's
historical quantile, or ranked by its pace relative to the stage's median.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics._tables import lookup, ratio, with_excluded
from salesnb.metrics.stages import current_stage, visit_table
from salesnb.metrics.window import TimeLike, resolve_moment

__all__ = ["slowest_movers", "stuck_opportunities"]


def _stage_thresholds(snap: Snapshot, quantile: float, min_visits: int) -> pd.DataFrame:
    """Historical duration quantile of completed visits per stage, known at ``snap.as_of``."""
    visits = visit_table(snap)
    done = visits[~visits["censored"]]
    days = done.groupby("stage")["days"]
    stats_ = pd.DataFrame({"threshold_days": days.quantile(quantile), "median_days": days.median(),
                           "completed": days.size()})
    stats_.loc[stats_["completed"] < min_visits, ["threshold_days", "median_days"]] = np.nan
    return stats_


def _open_positions(snap: Snapshot) -> pd.DataFrame:
    as_of = snap.as_of
    opps = snap.opportunities
    open_ = opps[(opps["status_asof"] == "open").to_numpy()]
    cur = current_stage(snap, open_)
    return pd.DataFrame({
        "opportunity_id": open_["opportunity_id"],
        "owner": open_["owner"],
        "stage": cur["stage"],
        "entered_stage_at": cur["entered_at"],
        "days_in_stage": (as_of - cur["entered_at"]).dt.total_seconds() / 86_400.0,
        "age_days": (as_of - open_["created_at"]).dt.total_seconds() / 86_400.0,
        "amount": open_["amount"],
    })


@fill_doc
def stuck_opportunities(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    quantile: float = 0.9,
    min_visits: int = 5,
    calendar: str | None = None,
) -> pd.DataFrame:
    """List the open opportunities stuck in their current stage.

    An opportunity open at ``as_of`` is *stuck* when it has been in its current stage
    (its last open-stage history entry) longer than the stage's historical
    ``quantile`` (p90 by default, linear interpolation between order statistics) of
    completed visits known at ``as_of``.

    Parameters
    ----------
    {data}
    {as_of_moment}
    quantile : float, default 0.9
        The share of completed visits of a stage that are shorter than its threshold.
    min_visits : int, default 5
        Fewest completed visits of a stage for it to have a threshold.
    {calendar}

    Returns
    -------
    DataFrame
        The stuck ones, most overdue first: ``opportunity_id``, ``owner``, ``stage``,
        ``entered_stage_at``, ``days_in_stage``, ``threshold_days``, ``overdue_ratio``,
        ``age_days``, ``amount``. ``attrs``: ``open``, ``quantile`` and ``excluded``,
        the open deals that could not be judged: ``no_history`` and
        ``stage_without_threshold`` (fewer than ``min_visits`` completed visits).

    Examples
    --------
    {load_sample}
    >>> t = sn.stuck_opportunities(data, as_of="1404-08-01")
    >>> len(t), t.attrs["excluded"]
    (183, {'no_history': 13, 'stage_without_threshold': 0})
    """
    at = resolve_moment(data, as_of, calendar)
    return _stuck_opportunities(data.at(at), quantile=quantile, min_visits=min_visits)


def _stuck_opportunities(snap: Snapshot, *, quantile: float = 0.9, min_visits: int = 5) -> pd.DataFrame:
    pos = _open_positions(snap)
    thresholds = _stage_thresholds(snap, quantile, min_visits)
    pos["threshold_days"] = lookup(pos["stage"], thresholds["threshold_days"]).astype("float64")
    no_history = int(pos["stage"].isna().sum())
    no_threshold = int((pos["stage"].notna() & pos["threshold_days"].isna()).sum())
    pos["overdue_ratio"] = ratio(pos["days_in_stage"], pos["threshold_days"])
    stuck = pos[(pos["days_in_stage"] > pos["threshold_days"]).fillna(False)]
    stuck = stuck.sort_values(["overdue_ratio", "opportunity_id"], ascending=[False, True], ignore_index=True)
    out = stuck[["opportunity_id", "owner", "stage", "entered_stage_at", "days_in_stage", "threshold_days",
                 "overdue_ratio", "age_days", "amount"]]
    out.attrs["open"] = len(pos)
    out.attrs["quantile"] = quantile
    return with_excluded(out, no_history=no_history, stage_without_threshold=no_threshold)


@fill_doc
def slowest_movers(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    n: int = 10,
    min_visits: int = 5,
    calendar: str | None = None,
) -> pd.DataFrame:
    """List the open opportunities moving slowest relative to their stage's typical pace.

    Ranks the deals open at ``as_of`` by ``days_in_stage / median_days`` of their
    current stage (completed visits known at ``as_of``).

    Parameters
    ----------
    {data}
    {as_of_moment}
    n : int, default 10
        How many to list.
    min_visits : int, default 5
        Fewest completed visits of a stage for it to have a median.
    {calendar}

    Returns
    -------
    DataFrame
        At most ``n`` rows: ``opportunity_id``, ``owner``, ``stage``, ``days_in_stage``,
        ``median_days``, ``pace_ratio``, ``age_days``, ``amount``.
        ``attrs['excluded']``: ``not_ranked`` (no stage or no median).

    Examples
    --------
    {load_sample}
    >>> t = sn.slowest_movers(data, as_of="1404-08-01", n=3)
    >>> len(t), bool(t["pace_ratio"].is_monotonic_decreasing)
    (3, True)
    """
    at = resolve_moment(data, as_of, calendar)
    snap = data.at(at)
    pos = _open_positions(snap)
    thresholds = _stage_thresholds(snap, 0.9, min_visits)
    pos["median_days"] = lookup(pos["stage"], thresholds["median_days"]).astype("float64")
    pos["pace_ratio"] = ratio(pos["days_in_stage"], pos["median_days"])
    ranked = pos.dropna(subset=["pace_ratio"]).sort_values(
        ["pace_ratio", "opportunity_id"], ascending=[False, True], ignore_index=True).head(n)
    out = ranked[["opportunity_id", "owner", "stage", "days_in_stage", "median_days", "pace_ratio",
                  "age_days", "amount"]]
    return with_excluded(out, not_ranked=int(pos["pace_ratio"].isna().sum()))
