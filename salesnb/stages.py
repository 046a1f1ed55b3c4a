"""Stage-history machinery: visits, deepest stage, current stage, stage where lost.

History entries are ordered by ``entered_at``, ties keeping the source order. A
*visit* of an open stage lasts until the next entry of the same opportunity (a
won/lost row counts), or, for the last one, until ``closed_at``. A visit with no end
by ``as_of`` is *censored*; one ending exactly at ``as_of`` is complete. Won/lost rows
are outcome markers, not visits. Everything here reads only what was known at
``as_of``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb._common import days_between, history_known_at, lookup
from salesnb.data import SalesData

__all__ = ["current_stage", "deepest_stage", "stage_visits", "stage_where_lost"]

UNKNOWN_STAGE = "(unknown)"


def _positions(data: SalesData, stages: pd.Series) -> np.ndarray:
    """Funnel position of each stage label (0-based); -1 for outcomes and unknown labels."""
    lookup = {s: i for i, s in enumerate(data.settings.stages)}
    return stages.map(lookup).fillna(-1).astype("int64").to_numpy()


def stage_visits(data: SalesData, as_of: pd.Timestamp, ids: pd.Index | None = None) -> pd.DataFrame:
    """Return one row per visit of an open stage, as known at ``as_of``.

    Parameters
    ----------
    data : SalesData
        The dataset.
    as_of : Timestamp
        Entries after it have not happened; closings after it neither.
    ids : Index, optional
        Restrict to these opportunity ids.

    Returns
    -------
    DataFrame
        ``opportunity_id``, ``stage``, ``position``, ``entered_at``, ``left_at`` (NaT
        when censored), ``censored`` (bool), ``days`` (to ``left_at``, or to ``as_of``
        when censored), ``next_stage`` (the label entered next, or the outcome when the
        visit ended by closing; missing when censored).
    """
    hist = history_known_at(data, as_of)
    if ids is not None:
        hist = hist[hist["opportunity_id"].isin(ids)]
    opp = data.opportunities.set_index("opportunity_id")
    ids_arr = hist["opportunity_id"].to_numpy()
    same_next = np.zeros(len(hist), dtype=bool)
    if len(hist) > 1:
        same_next[:-1] = ids_arr[1:] == ids_arr[:-1]
    next_time = hist["entered_at"].shift(-1).where(same_next)
    next_stage = hist["stage"].shift(-1).where(same_next)
    closed_at = hist["opportunity_id"].map(opp["closed_at"])
    status = hist["opportunity_id"].map(opp["status"])
    closed_known = (closed_at <= as_of).fillna(False)
    left_at = next_time.where(same_next, closed_at.where(closed_known))
    next_label = next_stage.where(same_next, status.where(closed_known))
    # An outcome label on the closing row of the history: use the configured labels.
    outcome = next_label.map({"won": data.settings.won, "lost": data.settings.lost})
    next_label = outcome.where(~same_next & closed_known, next_label)
    position = _positions(data, hist["stage"])
    is_visit = position >= 0
    out = pd.DataFrame({
        "opportunity_id": hist["opportunity_id"],
        "stage": hist["stage"],
        "position": position,
        "entered_at": hist["entered_at"],
        "left_at": left_at,
        "next_stage": next_label,
    })[is_visit]
    out["censored"] = out["left_at"].isna()
    out["days"] = days_between(out["entered_at"], out["left_at"].fillna(as_of))
    return out.reset_index(drop=True)


def deepest_stage(data: SalesData, opps: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Return each opportunity's deepest open stage (funnel position) known at ``as_of``.

    The furthest in funnel order among the open stages in its history; with no
    open-stage history, its ``stage`` column when that names an open stage; else the
    first stage (position 0).
    """
    hist = history_known_at(data, as_of)
    hist = hist[hist["opportunity_id"].isin(opps["opportunity_id"])]
    pos = pd.Series(_positions(data, hist["stage"]), index=hist.index)
    hist_max = pos[pos >= 0].groupby(hist.loc[pos >= 0, "opportunity_id"]).max()
    from_hist = opps["opportunity_id"].map(hist_max)
    from_column = pd.Series(_positions(data, opps["stage"]), index=opps.index).where(lambda s: s >= 0)
    return from_hist.fillna(from_column).fillna(0).astype("int64")


def stage_where_lost(data: SalesData, lost: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Return the stage each lost deal was lost in.

    The last open stage it entered (history known at ``as_of``), else its ``stage``
    column when that names an open stage, else ``(unknown)`` (a ``stage`` column
    holding an outcome label such as ``lost`` says nothing about where it was lost).
    """
    last = current_stage(data, lost, as_of)["stage"]
    column = lost["stage"].where(lost["stage"].isin(data.settings.stages))
    return last.fillna(column).fillna(UNKNOWN_STAGE)


def current_stage(data: SalesData, opps: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Return the last open stage each opportunity entered by ``as_of`` and when.

    Returns
    -------
    DataFrame
        Indexed like ``opps``: ``stage`` and ``entered_at`` (missing when the
        opportunity has no open-stage history), ``from_history`` (bool).
    """
    hist = history_known_at(data, as_of)
    hist = hist[hist["opportunity_id"].isin(opps["opportunity_id"])]
    hist = hist[_positions(data, hist["stage"]) >= 0]
    last = hist.drop_duplicates("opportunity_id", keep="last").set_index("opportunity_id")
    stage = lookup(opps["opportunity_id"], last["stage"])
    entered = lookup(opps["opportunity_id"], last["entered_at"])
    return pd.DataFrame({"stage": stage, "entered_at": entered, "from_history": stage.notna()},
                        index=opps.index)
