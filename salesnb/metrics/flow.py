"""Question 4b — the funnel: how far prospects get, where they are lost, how long stages take.

Over the cohort created in the window, with open stages ``s1..sk`` in funnel order:

* an opportunity's *deepest stage* is the furthest open stage in its history (known
  at ``as_of``); with no open-stage history, its ``stage`` column when that names an
  open stage; else ``s1``. Won by ``as_of``: it has passed every stage;
* ``reached(si)``: deepest stage ``si`` or later, or won;
* ``lost_here(si)``: lost by ``as_of`` with deepest stage ``si``;
* ``conversion_to_next(si) = reached(si+1) / reached(si)``; for ``sk``: won / reached(sk).

The moves between stages and the time spent in each stage come from the stage visits
(:mod:`salesnb.metrics.stages`); the deals stuck in a stage now are in
:mod:`salesnb.metrics.stalled`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics._tables import NONE_LABEL, canonical_by, known_in_window, ratio, window_mask
from salesnb.metrics.stages import deepest_stage, visit_table, visits_of
from salesnb.metrics.window import TimeLike, Window, resolve_window

__all__ = ["funnel", "stage_transitions", "time_in_stage"]


def _cohort(snap: Snapshot, window: Window, columns: list[str | None] | None = None) -> pd.DataFrame:
    return known_in_window(snap, window, "created", columns)


@fill_doc
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
    {data}
    {window}
    {calendar}

    Returns
    -------
    DataFrame
        One row per open stage in funnel order: ``stage``, ``position`` (1-based),
        ``reached``, ``lost_here``, ``open_here`` (still open, deepest stage here),
        ``conversion_to_next``, ``cumulative_conversion`` (reached / cohort),
        ``completed_visits``, ``censored_visits``, ``median_days_in_stage`` (completed
        visits of cohort opportunities). ``attrs`` holds ``cohort``, ``won``, ``lost``,
        ``open`` and ``stages_inferred``.

    Examples
    --------
    {load_sample}
    >>> f = sn.funnel(data, start="1403-01-01", end="1404-01-01")
    >>> f[["stage", "reached"]].values.tolist()
    [['lead', 941], ['qualified', 620], ['proposal', 442], ['negotiation', 303]]
    """
    window = resolve_window(data, start, end, as_of, calendar)
    return _funnel(data.at(window.as_of), window)


def _funnel(snap: Snapshot, window: Window) -> pd.DataFrame:
    data = snap.data
    stages = list(data.settings.stages)
    cohort = _cohort(snap, window, ["status_asof", "stage"])
    won = (cohort["status_asof"] == "won").to_numpy()
    lost = (cohort["status_asof"] == "lost").to_numpy()
    still_open = ~won & ~lost
    deepest = deepest_stage(snap, cohort).to_numpy()
    k = len(stages)
    reached = np.array([int(((deepest >= i) | won).sum()) for i in range(k)], dtype="int64")
    lost_here = np.array([int((lost & (deepest == i)).sum()) for i in range(k)], dtype="int64")
    open_here = np.array([int((still_open & (deepest == i)).sum()) for i in range(k)], dtype="int64")
    following = np.append(reached[1:], int(won.sum())) if k else np.array([], dtype="int64")
    visits = visits_of(snap, cohort.index.to_numpy(), lean=True)
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


@fill_doc
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
    {data}
    {window}
    {calendar}
    {by_none}
    cohort : bool, default True
        True: visits of the opportunities created in the window. False: every visit
        that started in the window.

    Returns
    -------
    DataFrame
        ``stage`` (funnel order), (the ``by`` column,) ``visits``, ``completed``,
        ``censored``, ``mean_days``, ``median_days``, ``p90_days`` (linear interpolation
        between the completed visits, pandas' default).

    Examples
    --------
    {load_sample}
    >>> t = sn.time_in_stage(data, start="1403-01-01", end="1404-01-01")
    >>> t[["stage", "visits"]].values.tolist()
    [['lead', 917], ['qualified', 609], ['proposal', 444], ['negotiation', 306]]
    """
    window = resolve_window(data, start, end, as_of, calendar)
    by = canonical_by(data, by)
    snap = data.at(window.as_of)
    if cohort:
        visits = visit_table(snap, _cohort(snap, window, []).index.to_numpy())
    else:
        visits = visit_table(snap)
        visits = visits[window_mask(visits["entered_at"], window)]
    keys = ["stage"]
    if by is not None:
        values = data.opportunities[by].astype("str").to_numpy(dtype=object)[visits["opp_code"].to_numpy()]
        visits = visits.assign(**{by: pd.Series(values, index=visits.index, dtype="str").fillna(NONE_LABEL)})
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


@fill_doc
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

    Parameters
    ----------
    {data}
    {window}
    {calendar}

    Returns
    -------
    DataFrame
        ``from_stage``, ``to_stage``, ``kind``, ``count``; funnel order.

    Examples
    --------
    {load_sample}
    >>> t = sn.stage_transitions(data, start="1403-01-01", end="1404-01-01")
    >>> t.iloc[0, :3].tolist(), int(t["count"].iloc[0])
    (['lead', 'qualified', 'forward'], 583)
    """
    window = resolve_window(data, start, end, as_of, calendar)
    snap = data.at(window.as_of)
    visits = visit_table(snap, _cohort(snap, window, []).index.to_numpy())
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
