"""Stage-history machinery: visits, deepest stage, current stage, stage where lost.

History entries are ordered by ``entered_at``, ties keeping the source order. A
*visit* of an open stage lasts until the next entry of the same opportunity (a
won/lost row counts), or, for the last one, until ``closed_at``. A visit with no end
by ``as_of`` is *censored*; one ending exactly at ``as_of`` is complete. Won/lost rows
are outcome markers, not visits. Everything here reads only what was known at
``as_of``.

Joins use integer keys: ``opp_code`` in the history is the row of the opportunity in
``data.opportunities``, which is also the index of every opportunities frame the KPI
functions pass around (see :func:`salesnb._common.known_at`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb._common import history_known_at
from salesnb.data import SalesData
from salesnb.validation import id_codes

__all__ = ["current_stage", "deepest_stage", "stage_visits", "stage_where_lost"]

UNKNOWN_STAGE = "(unknown)"


def _positions(data: SalesData, stages: pd.Series) -> np.ndarray:
    """Funnel position of each stage label (0-based); -1 for outcomes and unknown labels."""
    lookup = {s: i for i, s in enumerate(data.settings.stages)}
    return stages.map(lookup).fillna(-1).astype("int64").to_numpy()


def _member(data: SalesData, rows: np.ndarray) -> np.ndarray:
    """Boolean mask over ``data.opportunities`` rows that are in ``rows``."""
    mask = np.zeros(len(data.opportunities), dtype=bool)
    mask[np.asarray(rows, dtype="int64")] = True
    return mask


def _all_visits(data: SalesData, as_of: pd.Timestamp) -> pd.DataFrame:
    key = ("visits", as_of.value)
    cached = data.cache.get(key)
    if cached is not None:
        return cached
    hist = history_known_at(data, as_of)
    codes = hist["opp_code"].to_numpy()
    same_next = np.zeros(len(hist), dtype=bool)
    if len(hist) > 1:
        same_next[:-1] = codes[1:] == codes[:-1]
    opps = data.opportunities
    closed = opps["closed_at"].take(codes).set_axis(hist.index)
    closed_known = (closed <= as_of).fillna(False).to_numpy(dtype=bool)
    status = opps["status"].to_numpy(dtype=object)[codes]
    outcome = np.where(status == "won", data.settings.won, data.settings.lost)
    next_time = hist["entered_at"].shift(-1)
    next_stage = hist["stage"].shift(-1).to_numpy(dtype=object)
    left_at = next_time.where(same_next, closed.where(closed_known))
    ended_by_closing = np.where(closed_known, outcome.astype(object), np.array(None, dtype=object))
    next_label = np.where(same_next, next_stage, ended_by_closing)
    position = hist["position"].to_numpy()
    is_visit = position >= 0
    out = pd.DataFrame({
        "opportunity_id": hist["opportunity_id"],
        "stage": hist["stage"],
        "position": position,
        "entered_at": hist["entered_at"],
        "left_at": left_at,
        "next_stage": pd.array(next_label, dtype="str"),
        "opp_code": codes,
    })[is_visit].reset_index(drop=True)
    out["censored"] = out["left_at"].isna()
    out["days"] = (out["left_at"].fillna(as_of) - out["entered_at"]).dt.total_seconds() / 86_400.0
    data.cache[key] = out
    return out


def stage_visits(
    data: SalesData,
    as_of: pd.Timestamp,
    ids: pd.Index | None = None,
    *,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Return one row per visit of an open stage, as known at ``as_of``.

    Parameters
    ----------
    data : SalesData
        The dataset.
    as_of : Timestamp
        Entries after it have not happened; closings after it neither.
    ids : Index, optional
        Restrict to these opportunity ids.
    rows : array of int, optional
        Restrict to these rows of ``data.opportunities`` (the faster form of ``ids``).

    Returns
    -------
    DataFrame
        ``opportunity_id``, ``stage``, ``position``, ``entered_at``, ``left_at`` (NaT
        when censored), ``next_stage`` (the label entered next, or the outcome when the
        visit ended by closing; missing when censored), ``opp_code``, ``censored``
        (bool), ``days`` (to ``left_at``, or to ``as_of`` when censored).
    """
    visits = _all_visits(data, as_of)
    if ids is not None:
        found = id_codes(pd.Series(np.asarray(ids), dtype="str"), data.opportunities["opportunity_id"])
        rows = found[found >= 0]
    if rows is not None:
        visits = visits[_member(data, rows)[visits["opp_code"].to_numpy()]].reset_index(drop=True)
    return visits.copy(deep=False)


def _last_open_entry(data: SalesData, as_of: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Per opportunity row: the history row of its last open-stage entry by ``as_of`` (-1: none)."""
    key = ("last_open", as_of.value)
    cached = data.cache.get(key)
    if cached is None:
        hist = history_known_at(data, as_of)
        open_rows = hist["position"].to_numpy() >= 0
        codes = hist["opp_code"].to_numpy()[open_rows]
        positions = np.flatnonzero(open_rows)
        last = np.ones(len(codes), dtype=bool)
        if len(codes) > 1:
            last[:-1] = codes[1:] != codes[:-1]
        which = np.full(len(data.opportunities), -1, dtype="int64")
        which[codes[last]] = positions[last]
        deepest = np.full(len(data.opportunities), -1, dtype="int64")
        np.maximum.at(deepest, codes, hist["position"].to_numpy()[open_rows])
        cached = (hist, which, deepest)
        data.cache[key] = cached
    return cached[1], cached[2]


def deepest_stage(data: SalesData, opps: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Return each opportunity's deepest open stage (funnel position) known at ``as_of``.

    The furthest in funnel order among the open stages in its history; with no
    open-stage history, its ``stage`` column when that names an open stage; else the
    first stage (position 0).
    """
    _, deepest = _last_open_entry(data, as_of)
    from_hist = deepest[opps.index.to_numpy()]
    from_column = _positions(data, opps["stage"])
    out = np.where(from_hist >= 0, from_hist, np.where(from_column >= 0, from_column, 0))
    return pd.Series(out.astype("int64"), index=opps.index)


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
    which, _ = _last_open_entry(data, as_of)
    hist = data.cache[("last_open", as_of.value)][0]
    rows = which[opps.index.to_numpy()]
    has = rows >= 0
    if has.any():
        safe = np.where(has, rows, 0)
        stage = pd.Series(hist["stage"].to_numpy(dtype=object)[safe], index=opps.index, dtype="str")
        entered = pd.Series(hist["entered_at"].array.take(safe), index=opps.index)
        stage, entered = stage.where(has), entered.where(has)
    else:
        stage = pd.Series(pd.NA, index=opps.index, dtype="str")
        entered = pd.Series(pd.NaT, index=opps.index, dtype=data.opportunities["created_at"].dtype)
    return pd.DataFrame({"stage": stage, "entered_at": entered, "from_history": has}, index=opps.index)
