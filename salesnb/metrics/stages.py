"""Stage-history machinery: visits, deepest stage, current stage, stage where lost.

History entries are ordered by ``entered_at``, ties keeping the source order. A
*visit* of an open stage lasts until the next entry of the same opportunity (a
won/lost row counts), or, for the last one, until ``closed_at``. A visit with no end
by ``as_of`` is *censored*; one ending exactly at ``as_of`` is complete. Won/lost rows
are outcome markers, not visits. Everything here reads only what was known at
``as_of``.

Joins use integer keys: ``opp_code`` in the history is the row of the opportunity in
``data.opportunities``, which is also the index of every opportunities frame the KPI
functions pass around (see :attr:`salesnb.data.dataset.Snapshot.opportunities`). The
tables built here are kept with the snapshot they come from
(:meth:`~salesnb.data.dataset.Snapshot.derived`); every function computes what it
needs when it is not kept, so none relies on another having run first.

:func:`stage_visits` is the public view (opportunity ids and stage names); the
others are the machinery of the funnel, cycle and risk modules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesnb._arrays import NANOS_PER_DAY, from_utc_ns, id_codes, label_codes
from salesnb._arrays import utc_nanos as utc_ns
from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics.window import TimeLike, resolve_moment

__all__ = ["UNKNOWN_STAGE", "current_stage", "deepest_stage", "stage_visits", "stage_where_lost",
           "visit_table", "visits_of"]

UNKNOWN_STAGE = "(unknown)"


def _positions(data: SalesData, stages: pd.Series) -> np.ndarray:
    """Funnel position of each stage label (0-based); -1 for outcomes and unknown labels."""
    if stages.empty or not data.settings.stages:
        return np.full(len(stages), -1, dtype="int64")
    return id_codes(stages, pd.Series(list(data.settings.stages), dtype="str")).astype("int64")


def _member(data: SalesData, rows: np.ndarray) -> np.ndarray:
    """Boolean mask over ``data.opportunities`` rows that are in ``rows``."""
    mask = np.zeros(len(data.opportunities), dtype=bool)
    mask[np.asarray(rows, dtype="int64")] = True
    return mask


def _all_visits(snap: Snapshot) -> pd.DataFrame:
    """Every visit known at ``snap.as_of`` on integer keys (kept with the snapshot).

    Columns: ``opp_code``, ``position``, ``entered_at``, ``left_at``, ``next_code``
    (position of the stage entered next; ``k`` won, ``k + 1`` lost, -1 censored, with
    ``k`` the number of open stages), ``censored``, ``days``. Labels are added by
    :func:`visit_table` only for the rows asked for.
    """
    return snap.derived("visits", lambda: _compute_visits(snap.data, snap.as_of, snap.history))


def _compute_visits(data: SalesData, as_of: pd.Timestamp, hist: pd.DataFrame,
                    keep: np.ndarray | None = None, *, lean: bool = False) -> pd.DataFrame:
    """Visits of the entries in ``hist`` (sorted), or of its rows in ``keep`` (a mask that
    holds every entry of an opportunity or none). ``lean``: only ``opp_code``,
    ``position``, ``censored`` and ``days`` (what durations per stage need)."""
    k = len(data.settings.stages)
    source_row = np.arange(len(hist)) if keep is None else np.flatnonzero(keep)
    codes = hist["opp_code"].to_numpy()[source_row]
    position = hist["position"].to_numpy()[source_row]
    rows = np.flatnonzero(position >= 0)
    nxt = rows + 1
    has_next = np.zeros(len(rows), dtype=bool)
    inside = nxt < len(codes)
    has_next[inside] = codes[nxt[inside]] == codes[rows[inside]]
    visit_codes = codes[rows]
    opps = data.opportunities
    # Times as int64 nanoseconds (NaT is the smallest int64): plain numpy from here on.
    nat = np.iinfo("int64").min
    entered_ns = utc_ns(hist["entered_at"])[source_row]
    closed_ns = utc_ns(opps["closed_at"])[visit_codes]
    closed_known = (closed_ns != nat) & (closed_ns <= as_of.value)
    next_rows = np.where(has_next, nxt, 0)
    left_ns = np.where(has_next, entered_ns[next_rows], np.where(closed_known, closed_ns, nat))
    visit_entered = entered_ns[rows]
    censored = left_ns == nat
    days = (np.where(censored, as_of.value, left_ns) - visit_entered) / NANOS_PER_DAY
    if lean:
        return pd.DataFrame({"opp_code": visit_codes, "position": position[rows], "censored": censored,
                             "days": days})
    # What was entered next: an open stage, or the won/lost row that closed the deal.
    next_code = np.where(has_next, position[next_rows], -1)
    outcome_row = has_next & (next_code < 0)
    if outcome_row.any():
        is_won = hist["stage"].array.take(source_row[next_rows[outcome_row]]) == data.settings.won
        next_code[outcome_row] = np.where(np.asarray(is_won, dtype=bool), k, k + 1)
    by_closing = ~has_next & closed_known
    won_deal = (opps["status"] == "won").to_numpy()[visit_codes]
    next_code[by_closing] = np.where(won_deal[by_closing], k, k + 1)
    tz = hist["entered_at"].dt.tz
    out = pd.DataFrame({
        "opp_code": visit_codes,
        "position": position[rows],
        "entered_at": from_utc_ns(visit_entered, tz),
        "left_at": from_utc_ns(left_ns, tz),
        "next_code": next_code,
        "censored": censored,
        "days": days,
    })
    return out


def visits_of(snap: Snapshot, rows: np.ndarray | None = None, *, lean: bool = False) -> pd.DataFrame:
    """The integer-keyed visits of :func:`_all_visits`, optionally for some opportunity rows
    (``lean``: see :func:`_compute_visits`; the columns may then be only those)."""
    if rows is None:
        return _all_visits(snap)
    data = snap.data
    member = _member(data, rows)
    visits = snap.kept("visits")
    if visits is not None:
        return visits[member[visits["opp_code"].to_numpy()]].reset_index(drop=True)
    # Only some opportunities (a cohort): compute just their visits, not every visit.
    hist = snap.history
    return _compute_visits(data, snap.as_of, hist, member[hist["opp_code"].to_numpy()], lean=lean)


def visit_table(snap: Snapshot, rows: np.ndarray | None = None) -> pd.DataFrame:
    """One row per visit known at ``snap.as_of``, labelled, with the internal ``opp_code``.

    ``rows`` restricts it to those rows of ``data.opportunities``. The columns of
    :func:`stage_visits`, plus ``opp_code`` (the opportunity's row).
    """
    data = snap.data
    visits = visits_of(snap, rows)
    s = data.settings
    index = visits.index
    return pd.DataFrame({
        "opportunity_id": pd.Series(
            data.opportunities["opportunity_id"].array.take(visits["opp_code"].to_numpy()), index=index),
        "stage": label_codes(visits["position"].to_numpy(), s.stages, index),
        "position": visits["position"].astype("int64"),
        "entered_at": visits["entered_at"],
        "left_at": visits["left_at"],
        "next_stage": label_codes(visits["next_code"].to_numpy(), (*s.stages, s.won, s.lost), index),
        "opp_code": visits["opp_code"].astype("int64"),
        "censored": visits["censored"],
        "days": visits["days"],
    })


@fill_doc
def stage_visits(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    ids: list[str] | pd.Index | pd.Series | None = None,
    calendar: str | None = None,
) -> pd.DataFrame:
    """List every visit of an open stage, as known at ``as_of``.

    A visit of a stage lasts from its entry until the next entry of the same
    opportunity (a won/lost row counts) or, for the last one, until ``closed_at``; a
    visit with no end by ``as_of`` is *censored*. History entries are ordered by
    ``entered_at``, ties keeping the order of the source.

    Parameters
    ----------
    {data}
    {as_of_moment}
    ids : list of str, optional
        Only the visits of these opportunity ids (unknown ids are ignored).
    {calendar}

    Returns
    -------
    DataFrame
        One row per visit, by opportunity then entry: ``opportunity_id``, ``stage``,
        ``position`` (0-based funnel position), ``entered_at``, ``left_at`` (NaT when
        censored), ``next_stage`` (the stage entered next, or the won/lost outcome when
        the visit ended by closing; missing when censored), ``censored`` (bool),
        ``days`` (to ``left_at``, or to ``as_of`` when censored).

    Examples
    --------
    {load_sample}
    >>> visits = sn.stage_visits(data, as_of="1404-01-01", ids=["OPP-000010"])
    >>> visits[["stage", "next_stage", "censored"]].to_dict("list")
    {'stage': ['lead', 'qualified', 'proposal'], 'next_stage': ['qualified', 'proposal', 'lost'], 'censored': [False, False, False]}
    """
    at = resolve_moment(data, as_of, calendar)
    rows = None
    if ids is not None:
        found = id_codes(pd.Series(np.asarray(ids), dtype="str"), data.opportunities["opportunity_id"])
        rows = found[found >= 0]
    return visit_table(data.at(at), rows).drop(columns=["opp_code"])


def _last_open_entry(snap: Snapshot) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The history known at ``snap.as_of`` and, per opportunity row, the history row of its
    last open-stage entry and its deepest funnel position (-1: none). Kept with the snapshot."""

    def compute() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        data = snap.data
        hist = snap.history
        open_rows = hist["position"].to_numpy() >= 0
        codes = hist["opp_code"].to_numpy()[open_rows]
        positions = np.flatnonzero(open_rows)
        last = np.ones(len(codes), dtype=bool)
        if len(codes) > 1:
            last[:-1] = codes[1:] != codes[:-1]
        which = np.full(len(data.opportunities), -1, dtype="int64")
        which[codes[last]] = positions[last]
        deepest = np.full(len(data.opportunities), -1, dtype="int64")
        if len(codes):
            # The history is sorted by opportunity: one maximum per run of equal codes.
            starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
            deepest[codes[starts]] = np.maximum.reduceat(hist["position"].to_numpy()[open_rows], starts)
        return hist, which, deepest

    return snap.derived("last_open", compute)


def deepest_stage(snap: Snapshot, opps: pd.DataFrame) -> pd.Series:
    """Return each opportunity's deepest open stage (funnel position) known at ``as_of``.

    The furthest in funnel order among the open stages in its history; with no
    open-stage history, its ``stage`` column when that names an open stage; else the
    first stage (position 0).
    """
    _, _, deepest = _last_open_entry(snap)
    from_hist = deepest[opps.index.to_numpy()]
    from_column = _positions(snap.data, opps["stage"])
    out = np.where(from_hist >= 0, from_hist, np.where(from_column >= 0, from_column, 0))
    return pd.Series(out.astype("int64"), index=opps.index)


def stage_where_lost(snap: Snapshot, lost: pd.DataFrame) -> pd.Series:
    """Return the stage each lost deal was lost in.

    The last open stage it entered (history known at ``as_of``), else its ``stage``
    column when that names an open stage, else ``(unknown)`` (a ``stage`` column
    holding an outcome label such as ``lost`` says nothing about where it was lost).
    """
    last = current_stage(snap, lost)["stage"]
    column = lost["stage"].where(lost["stage"].isin(snap.data.settings.stages))
    return last.fillna(column).fillna(UNKNOWN_STAGE)


def current_stage(snap: Snapshot, opps: pd.DataFrame) -> pd.DataFrame:
    """Return the last open stage each opportunity entered by ``as_of`` and when.

    Returns
    -------
    DataFrame
        Indexed like ``opps``: ``stage`` and ``entered_at`` (missing when the
        opportunity has no open-stage history), ``from_history`` (bool).
    """
    data = snap.data
    hist, which, _ = _last_open_entry(snap)
    rows = which[opps.index.to_numpy()]
    has = rows >= 0
    if has.any():
        safe = np.where(has, rows, 0)
        stage = label_codes(np.where(has, hist["position"].to_numpy()[safe], -1), data.settings.stages,
                            opps.index)
        entered = pd.Series(hist["entered_at"].array.take(safe), index=opps.index).where(has)
    else:
        stage = pd.Series(pd.NA, index=opps.index, dtype="str")
        entered = pd.Series(pd.NaT, index=opps.index, dtype=data.opportunities["created_at"].dtype)
    return pd.DataFrame({"stage": stage, "entered_at": entered, "from_history": has}, index=opps.index)
