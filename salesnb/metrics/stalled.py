"""Question 4b, continued — the deals stalling now: stuck in their stage, or moving slowest.

A deal open at ``as_of`` is judged against the completed visits of its current stage
known at ``as_of`` (:mod:`salesnb.metrics.stages`): stuck beyond the stage's
historical quantile, or ranked by its pace relative to the stage's median.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics._tables import (
    US_PER_DAY,
    fetch,
    has_pipelines,
    only_pipelines,
    pipeline_value,
    ratio,
    summarize,
    with_excluded,
)
from salesnb.metrics.stages import label_positions
from salesnb.metrics.window import TimeLike, resolve_moment

__all__ = ["slowest_movers", "stuck_opportunities"]


def _stage_thresholds(snap: Snapshot, quantile: float, min_visits: int) -> pd.DataFrame:
    """Historical duration quantile and median of the completed visits per stage, known at
    ``snap.as_of`` (computed in the engine; NaN below ``min_visits`` visits).

    With a ``pipeline`` column, per pipeline and stage: the index is then
    (``pipeline``, ``stage``), each pipeline's deals judged against its own visits.
    """
    per_pipeline = has_pipelines(snap.data)

    def compute() -> pd.DataFrame:
        visits = snap.visits()
        done = visits.filter(~visits.censored)
        keys = ["position"]
        if per_pipeline:
            o = snap.data.opportunity_table
            pipes = o.select(_pk=o._row, pipeline=pipeline_value(o))
            done = done.join(pipes, done.opp_key == pipes._pk)
            keys = ["pipeline", "position"]
        return summarize(snap.data, done, keys, "duration",
                         quantiles={"threshold_days": quantile, "median_days": 0.5}, count="completed")

    stats_ = snap.derived(("stage_thresholds", quantile), compute).copy()
    stats_["stage"] = label_positions(stats_["position"].astype("int64"), list(snap.data.settings.stages))
    index = ["pipeline", "stage"] if per_pipeline else "stage"
    stats_ = stats_.set_index(index)[["threshold_days", "median_days", "completed"]]
    for c in ("threshold_days", "median_days"):
        stats_[c] = stats_[c].astype("float64") / US_PER_DAY
    stats_.loc[stats_["completed"] < min_visits, ["threshold_days", "median_days"]] = np.nan
    return stats_


def _open_positions(snap: Snapshot) -> pd.DataFrame:
    data = snap.data
    as_of = snap.as_of
    o = snap.table
    open_ = o.filter(snap.is_open(o))
    cur = snap.current()
    cur = cur.select(_ck=cur.opp_key, _cpos=cur.position, _cat=cur.entered_at)
    j = open_.left_join(cur, open_._row == cur._ck)
    extra = {"pipeline": pipeline_value(j)} if has_pipelines(data) else {}
    rows = fetch(data, j.select("opportunity_id", "owner", "created_at", "amount", "_cpos",
                                entered_stage_at=j._cat, _r=j._row, **extra).order_by("_r"))
    out = pd.DataFrame({
        "opportunity_id": rows["opportunity_id"],
        "owner": rows["owner"],
        "stage": label_positions(rows["_cpos"], list(data.settings.stages)),
        "entered_stage_at": rows["entered_stage_at"],
        "days_in_stage": (as_of - rows["entered_stage_at"]).dt.total_seconds() / 86_400.0,
        "age_days": (as_of - rows["created_at"]).dt.total_seconds() / 86_400.0,
        "amount": rows["amount"].astype("float64"),
    })
    if extra:
        out.insert(2, "pipeline", rows["pipeline"].astype("str"))
    return out


@fill_doc
def stuck_opportunities(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    quantile: float = 0.9,
    min_visits: int = 5,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """List the open opportunities stuck in their current stage.

    An opportunity open at ``as_of`` is *stuck* when it has been in its current stage
    (its last open-stage history entry) longer than the stage's historical
    ``quantile`` (p90 by default, linear interpolation between order statistics) of
    completed visits known at ``as_of`` (the *historical* rule), or longer than the
    stage's ``rotting_days`` in ``funnel.yml`` (the *rotting_days* rule), when set.

    Parameters
    ----------
    {data}
    {as_of_moment}
    quantile : float, default 0.9
        The share of completed visits of a stage that are shorter than its threshold.
    min_visits : int, default 5
        Fewest completed visits of a stage for it to have a threshold.
    {calendar}
    {pipelines}

    Returns
    -------
    DataFrame
        The stuck ones, most overdue first: ``opportunity_id``, ``owner``, ``stage``,
        ``entered_stage_at``, ``days_in_stage``, ``threshold_days``, ``overdue_ratio``
        (days in stage over the limit of the rule that flagged it; both: the larger),
        ``age_days``, ``amount``, ``rotting_days`` (the stage's configured limit, NaN
        when none), ``rule`` (``historical``, ``rotting_days`` or ``both``). ``attrs``:
        ``open``, ``quantile`` and ``excluded``, the open deals that could not be
        judged: ``no_history`` and ``stage_without_threshold`` (fewer than
        ``min_visits`` completed visits and no ``rotting_days``).
        With a ``pipeline`` column: ``pipeline`` after ``owner``, and each deal is
        judged against the visits of its stage in its own pipeline.

    Examples
    --------
    {load_sample}
    >>> t = sn.stuck_opportunities(data, as_of="1404-08-01")
    >>> len(t), t.attrs["excluded"]
    (183, {'no_history': 13, 'stage_without_threshold': 0})
    """
    data = only_pipelines(data, pipelines)
    at = resolve_moment(data, as_of, calendar)
    return _stuck_opportunities(data.at(at), quantile=quantile, min_visits=min_visits)


def _stuck_opportunities(snap: Snapshot, *, quantile: float = 0.9, min_visits: int = 5) -> pd.DataFrame:
    pos = _open_positions(snap)
    thresholds = _stage_thresholds(snap, quantile, min_visits)
    pos["threshold_days"] = _lookup(pos, thresholds["threshold_days"])
    rotting = pd.Series(dict(snap.data.settings.rotting_days), dtype="float64")
    pos["rotting_days"] = _lookup(pos, rotting)
    no_history = int(pos["stage"].isna().sum())
    no_threshold = int((pos["stage"].notna() & pos["threshold_days"].isna() & pos["rotting_days"].isna()).sum())
    historical = (pos["days_in_stage"] > pos["threshold_days"]).fillna(False).to_numpy(dtype=bool)
    rotten = (pos["days_in_stage"] > pos["rotting_days"]).fillna(False).to_numpy(dtype=bool)
    # The ratio of the rule that flagged the deal (both: the larger).
    by_history = ratio(pos["days_in_stage"], pos["threshold_days"])
    by_rotting = ratio(pos["days_in_stage"], pos["rotting_days"])
    pos["overdue_ratio"] = np.where(historical & rotten, np.fmax(by_history, by_rotting),
                                    np.where(rotten, by_rotting, by_history))
    pos["rule"] = pd.Series(np.where(historical & rotten, "both", np.where(rotten, "rotting_days", "historical")),
                            index=pos.index, dtype="str")
    stuck = pos[historical | rotten]
    stuck = stuck.sort_values(["overdue_ratio", "opportunity_id"], ascending=[False, True], ignore_index=True)
    lead = ["pipeline"] if "pipeline" in pos.columns else []
    out = stuck[["opportunity_id", "owner", *lead, "stage", "entered_stage_at", "days_in_stage", "threshold_days",
                 "overdue_ratio", "age_days", "amount", "rotting_days", "rule"]]
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
    pipelines: Sequence[str] | None = None,
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
    {pipelines}

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
    data = only_pipelines(data, pipelines)
    at = resolve_moment(data, as_of, calendar)
    snap = data.at(at)
    pos = _open_positions(snap)
    thresholds = _stage_thresholds(snap, 0.9, min_visits)
    pos["median_days"] = _lookup(pos, thresholds["median_days"])
    pos["pace_ratio"] = ratio(pos["days_in_stage"], pos["median_days"])
    ranked = pos.dropna(subset=["pace_ratio"]).sort_values(
        ["pace_ratio", "opportunity_id"], ascending=[False, True], ignore_index=True).head(n)
    lead = ["pipeline"] if "pipeline" in pos.columns else []
    out = ranked[["opportunity_id", "owner", *lead, "stage", "days_in_stage", "median_days", "pace_ratio",
                  "age_days", "amount"]]
    return with_excluded(out, not_ranked=int(pos["pace_ratio"].isna().sum()))


def _lookup(pos: pd.Series | pd.DataFrame, table: pd.Series) -> pd.Series:
    """``table[key]`` for each open deal of ``pos`` (its stage, or its pipeline and stage
    when ``table`` is per pipeline); NaN where absent, indexed like ``pos``."""
    if isinstance(table.index, pd.MultiIndex):
        keys = pd.MultiIndex.from_arrays([pos["pipeline"].to_numpy(), pos["stage"].to_numpy()])
    else:
        keys = pd.Index(pos["stage"].to_numpy())
    return pd.Series(table.reindex(keys).to_numpy(), index=pos.index, dtype="float64")
