"""Question 4b — the funnel: how far prospects get, where they are lost, where they stall.

Over the cohort created in the window, with open stages ``s1..sk`` in funnel order:

* an opportunity's *deepest stage* is the furthest open stage in its history (known
  at ``as_of``); with no open-stage history, its ``stage`` column when that names an
  open stage; else ``s1``. Won by ``as_of``: it has passed every stage;
* ``reached(si)``: deepest stage ``si`` or later, or won;
* ``lost_here(si)``: lost by ``as_of`` with deepest stage ``si``;
* ``conversion_to_next(si) = reached(si+1) / reached(si)``; for ``sk``: won / reached(sk).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb._common import (
    TimeLike,
    Window,
    known_at,
    known_in_window,
    lookup,
    ratio,
    resolve_moment,
    resolve_window,
    window_mask,
    with_excluded,
)
from salesnb.data import SalesData
from salesnb.stages import current_stage, deepest_stage, stage_visits, visits_of

__all__ = ["funnel", "slowest_movers", "stage_transitions", "stuck_opportunities", "time_in_stage"]


def _cohort(data: SalesData, window: Window, columns: list[str | None] | None = None) -> pd.DataFrame:
    return known_in_window(data, window, "created", columns)


def funnel(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
) -> pd.DataFrame:
    """Build the funnel report of the cohort created in the window.

    Parameters
    ----------
    data : SalesData
        The dataset.
    start, end, as_of : str or Timestamp, optional
        The window ``[start, end)`` (the cohort) and the moment it is seen from.
    calendar : {"gregorian", "jalali"}, optional
        Calendar of date strings.

    Returns
    -------
    DataFrame
        One row per open stage in funnel order: ``stage``, ``position`` (1-based),
        ``reached``, ``lost_here``, ``open_here`` (still open, deepest stage here),
        ``conversion_to_next``, ``cumulative_conversion`` (reached / cohort),
        ``completed_visits``, ``censored_visits``, ``median_days_in_stage`` (completed
        visits of cohort opportunities). ``attrs`` holds ``cohort``, ``won``, ``lost``,
        ``open``.

    Examples
    --------
    >>> import salesnb as sn
    >>> f = sn.funnel(sn.load(sn.sample_path()), start="1403-01-01", end="1404-01-01")
    >>> f["stage"].tolist()
    ['lead', 'qualified', 'proposal', 'negotiation']
    """
    window = resolve_window(data, start, end, as_of, calendar)
    stages = list(data.settings.stages)
    cohort = _cohort(data, window, ["status_asof", "stage"])
    won = (cohort["status_asof"] == "won").to_numpy()
    lost = (cohort["status_asof"] == "lost").to_numpy()
    still_open = ~won & ~lost
    deepest = deepest_stage(data, cohort, window.as_of).to_numpy()
    k = len(stages)
    reached = np.array([int(((deepest >= i) | won).sum()) for i in range(k)], dtype="int64")
    lost_here = np.array([int((lost & (deepest == i)).sum()) for i in range(k)], dtype="int64")
    open_here = np.array([int((still_open & (deepest == i)).sum()) for i in range(k)], dtype="int64")
    following = np.append(reached[1:], int(won.sum())) if k else np.array([], dtype="int64")
    visits = visits_of(data, window.as_of, cohort.index.to_numpy(), lean=True)
    done = visits[~visits["censored"].to_numpy()]
    per_stage = done.groupby("position")["days"].agg(["median", "size"])
    censored = visits["position"][visits["censored"].to_numpy()].value_counts()
    out = pd.DataFrame({
        "stage": stages,
        "position": np.arange(1, k + 1),
        "reached": reached,
        "lost_here": lost_here,
        "open_here": open_here,
        "conversion_to_next": ratio(following, reached),
        "cumulative_conversion": ratio(reached, np.full(k, len(cohort))),
        "completed_visits": [int(per_stage["size"].get(i, 0)) for i in range(k)],
        "censored_visits": [int(censored.get(i, 0)) for i in range(k)],
        "median_days_in_stage": [float(per_stage["median"].get(i, np.nan)) for i in range(k)],
    })
    out.attrs.update(cohort=len(cohort), won=int(won.sum()), lost=int(lost.sum()),
                     open=int(still_open.sum()), stages_inferred=data.settings.stages_inferred)
    return out


def time_in_stage(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
    by: str | None = None,
    cohort: bool = True,
) -> pd.DataFrame:
    """Summarise how long opportunities stay in each stage.

    Completed visits (ended by ``as_of``) give the statistics; censored visits (no end
    yet) are counted but kept out of them.

    Parameters
    ----------
    cohort : bool, default True
        True: visits of the opportunities created in the window. False: every visit
        that started in the window.
    by : str or None
        Also split by an opportunity column (e.g. ``owner``).

    Returns
    -------
    DataFrame
        ``stage`` (funnel order), (the ``by`` column,) ``visits``, ``completed``,
        ``censored``, ``mean_days``, ``median_days``, ``p90_days`` (linear interpolation
        between the completed visits, pandas' default).
    """
    window = resolve_window(data, start, end, as_of, calendar)
    if cohort:
        visits = stage_visits(data, window.as_of, rows=_cohort(data, window, []).index.to_numpy())
    else:
        visits = stage_visits(data, window.as_of)
        visits = visits[window_mask(visits["entered_at"], window)]
    keys = ["stage"]
    if by is not None:
        values = data.opportunities[by].astype("str").to_numpy(dtype=object)[visits["opp_code"].to_numpy()]
        visits = visits.assign(**{by: pd.Series(values, index=visits.index, dtype="str").fillna("(none)")})
        keys.append(by)
    grouped = visits.groupby(keys, sort=False)
    done = visits[~visits["censored"]].groupby(keys, sort=False)["days"]
    out = pd.concat([
        grouped.size().rename("visits"),
        done.size().rename("completed"),
        done.mean().rename("mean_days"),
        done.median().rename("median_days"),
        done.quantile(0.9).rename("p90_days"),
    ], axis=1).reset_index()
    stage_frame = pd.DataFrame({"stage": pd.Series(list(data.settings.stages), dtype="str")})
    if by is None:
        out = stage_frame.merge(out, on="stage", how="left")
    else:
        out["_pos"] = out["stage"].map({s: i for i, s in enumerate(data.settings.stages)})
        out = out.sort_values(["_pos", by], ignore_index=True).drop(columns="_pos")
    out["visits"] = out["visits"].fillna(0).astype("int64")
    out["completed"] = out["completed"].fillna(0).astype("int64")
    out["censored"] = out["visits"] - out["completed"]
    return out[[*keys, "visits", "completed", "censored", "mean_days", "median_days", "p90_days"]]


def stage_transitions(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
) -> pd.DataFrame:
    """Count the moves between stages of the cohort created in the window.

    Each completed visit is a move from its stage to the next label (a stage, or the
    won/lost outcome when it ended by closing). Kinds: ``forward`` (to the next stage),
    ``skip`` (forward over one or more stages), ``regression`` (back to an earlier
    stage), ``repeat`` (the same stage again), ``won``, ``lost``.

    Returns
    -------
    DataFrame
        ``from_stage``, ``to_stage``, ``kind``, ``count``; funnel order.
    """
    window = resolve_window(data, start, end, as_of, calendar)
    visits = stage_visits(data, window.as_of, rows=_cohort(data, window, []).index.to_numpy())
    moves = visits[~visits["censored"]]
    order = {s: i for i, s in enumerate(data.settings.stages)}
    won, lost = data.settings.won, data.settings.lost
    to_pos = moves["next_stage"].map(order).astype("float64")  # NaN: an outcome
    step = to_pos - moves["position"]
    kind = np.select(
        [moves["next_stage"].eq(won).to_numpy(), moves["next_stage"].eq(lost).to_numpy(),
         (step == 1).to_numpy(), (step > 1).to_numpy(), (step < 0).to_numpy(), (step == 0).to_numpy()],
        ["won", "lost", "forward", "skip", "regression", "repeat"], default="other")
    frame = pd.DataFrame({"from_stage": moves["stage"], "to_stage": moves["next_stage"], "kind": kind,
                          "_f": moves["position"], "_t": to_pos.fillna(len(order))})
    out = frame.groupby(["from_stage", "to_stage", "kind", "_f", "_t"]).size().rename("count").reset_index()
    out = out.sort_values(["_f", "_t", "to_stage"], ignore_index=True)
    return out[["from_stage", "to_stage", "kind", "count"]]


def _stage_thresholds(data: SalesData, as_of: pd.Timestamp, quantile: float, min_visits: int) -> pd.DataFrame:
    """Historical duration quantile of completed visits per stage, known at ``as_of``."""
    visits = stage_visits(data, as_of)
    done = visits[~visits["censored"]]
    days = done.groupby("stage")["days"]
    stats_ = pd.DataFrame({"threshold_days": days.quantile(quantile), "median_days": days.median(),
                           "completed": days.size()})
    stats_.loc[stats_["completed"] < min_visits, ["threshold_days", "median_days"]] = np.nan
    return stats_


def _open_positions(data: SalesData, as_of: pd.Timestamp) -> pd.DataFrame:
    opps = known_at(data, as_of)
    open_ = opps[(opps["status_asof"] == "open").to_numpy()]
    cur = current_stage(data, open_, as_of)
    return pd.DataFrame({
        "opportunity_id": open_["opportunity_id"],
        "owner": open_["owner"],
        "stage": cur["stage"],
        "entered_stage_at": cur["entered_at"],
        "days_in_stage": (as_of - cur["entered_at"]).dt.total_seconds() / 86_400.0,
        "age_days": (as_of - open_["created_at"]).dt.total_seconds() / 86_400.0,
        "amount": open_["amount"],
    })


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

    Returns
    -------
    DataFrame
        The stuck ones, most overdue first: ``opportunity_id``, ``owner``, ``stage``,
        ``entered_stage_at``, ``days_in_stage``, ``threshold_days``, ``overdue_ratio``,
        ``age_days``, ``amount``. ``attrs['excluded']`` counts the open deals that could
        not be judged: ``no_history`` and ``stage_without_threshold`` (fewer than
        ``min_visits`` completed visits of the stage).
    """
    at = resolve_moment(data, as_of, calendar)
    pos = _open_positions(data, at)
    thresholds = _stage_thresholds(data, at, quantile, min_visits)
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

    Returns
    -------
    DataFrame
        At most ``n`` rows: ``opportunity_id``, ``owner``, ``stage``, ``days_in_stage``,
        ``median_days``, ``pace_ratio``, ``age_days``, ``amount``.
    """
    at = resolve_moment(data, as_of, calendar)
    pos = _open_positions(data, at)
    thresholds = _stage_thresholds(data, at, 0.9, min_visits)
    pos["median_days"] = lookup(pos["stage"], thresholds["median_days"]).astype("float64")
    pos["pace_ratio"] = ratio(pos["days_in_stage"], pos["median_days"])
    ranked = pos.dropna(subset=["pace_ratio"]).sort_values(
        ["pace_ratio", "opportunity_id"], ascending=[False, True], ignore_index=True).head(n)
    out = ranked[["opportunity_id", "owner", "stage", "days_in_stage", "median_days", "pace_ratio",
                  "age_days", "amount"]]
    return with_excluded(out, not_ranked=int(pos["pace_ratio"].isna().sum()))
