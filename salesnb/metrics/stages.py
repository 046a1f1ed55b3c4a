"""Stage-history machinery: visits, current stage, stage where lost; and :func:`stage_visits`.

History entries are ordered by ``entered_at``, ties keeping the source order. A
*visit* of an open stage lasts until the next entry of the same opportunity (a
won/lost row counts), or, for the last one, until ``closed_at``. A visit with no end
by ``as_of`` is *censored*; one ending exactly at ``as_of`` is complete. Won/lost rows
are outcome markers, not visits. Everything here reads only what was known at
``as_of``.

The visits themselves are engine expressions of the snapshot
(:meth:`~salesnb.data.dataset.Snapshot.visits`, joined on the integer key ``opp_key``);
this module labels them for people (:func:`visit_frame`, :func:`stage_visits`) and
derives the stage where a lost deal was lost. :func:`current_stage` is the pandas view
of the last open stage, for the risk model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ibis
import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics._tables import days, fetch, in_window, only_pipelines
from salesnb.metrics.window import TimeLike, Window, resolve_moment

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["UNKNOWN_STAGE", "current_stage", "label_positions", "stage_visits", "stage_where_lost",
           "visit_frame"]

UNKNOWN_STAGE = "(unknown)"


def label_positions(codes: pd.Series, labels: list[str] | tuple[str, ...]) -> pd.Series:
    """Return ``labels[code]`` for each code as text (missing where the code is missing or
    outside the labels)."""
    values = codes.to_numpy(dtype="float64", na_value=np.nan)
    out = [labels[int(c)] if not np.isnan(c) and 0 <= int(c) < len(labels) else None for c in values]
    return pd.Series(out, index=codes.index, dtype="str")


def visit_frame(snap: Snapshot, *, cohort: ir.Table | None = None, ids: Any = None,
                entered_in: Window | None = None) -> pd.DataFrame:
    """The visits known at ``snap.as_of`` as a labelled DataFrame (by opportunity, then entry).

    ``cohort`` (a table with ``opp_key``) or ``ids`` (opportunity ids) restrict it to
    some opportunities, ``entered_in`` to visits entered in a window. Columns of
    :func:`stage_visits`, plus ``opp_key`` (the opportunity's ``_row``).
    """
    data = snap.data
    v = snap.visits(cohort)
    o = snap.table
    if ids is not None:
        wanted = ibis.memtable({"_id": [str(i) for i in ids]})
        keys = o.filter(o.opportunity_id.isin(wanted._id)).select(opp_key=o._row)
        v = v.filter(v.opp_key.isin(keys.opp_key))
    if entered_in is not None:
        v = v.filter(in_window(v.entered_at, entered_in))
    names = o.select(_k=o._row, opportunity_id=o.opportunity_id)
    j = v.join(names, v.opp_key == names._k)
    rows = fetch(data, j.select("opportunity_id", "position", "entered_at", "left_at", "next_code",
                                "censored", "duration", "opp_key", "seq")
                 .order_by(["opp_key", "entered_at", "seq"]))
    s = data.settings
    stages = list(s.stages)
    return pd.DataFrame({
        "opportunity_id": rows["opportunity_id"].astype("str"),
        "stage": label_positions(rows["position"], stages),
        "position": rows["position"].astype("int64"),
        "entered_at": rows["entered_at"],
        "left_at": rows["left_at"],
        "next_stage": label_positions(rows["next_code"], [*stages, s.won, s.lost]),
        "censored": rows["censored"].astype(bool),
        "days": days(rows["duration"]),
        "opp_key": rows["opp_key"].astype("int64"),
    })


@fill_doc
def stage_visits(
    data: SalesData,
    *,
    as_of: TimeLike = None,
    ids: list[str] | pd.Index | pd.Series | None = None,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
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
    {pipelines}

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
    data = only_pipelines(data, pipelines)
    at = resolve_moment(data, as_of, calendar)
    return visit_frame(data.at(at), ids=ids).drop(columns=["opp_key"])


def stage_where_lost(snap: Snapshot, lost: ir.Table) -> tuple[ir.Table, ir.StringValue]:
    """The stage each (lost) deal of ``lost`` was lost in, as an engine expression.

    The last open stage it entered (history known at ``as_of``), else its ``stage``
    column when that names an open stage, else ``(unknown)`` (a ``stage`` column holding
    an outcome label such as ``lost`` says nothing about where it was lost). Returns
    ``lost`` joined with what it needs, and the label expression over that join.
    """
    stages = list(snap.data.settings.stages)
    cur = snap.current()
    cur = cur.select(_ck=cur.opp_key, _cpos=cur.position)
    joined = lost.left_join(cur, lost._row == cur._ck)
    if not stages:
        return joined, ibis.literal(UNKNOWN_STAGE)
    from_history = ibis.cases(*[(joined._cpos == i, s) for i, s in enumerate(stages)],
                              else_=ibis.null("string"))
    from_column = ibis.ifelse(joined.stage.isin(stages), joined.stage, ibis.null("string"))
    return joined, ibis.coalesce(from_history, from_column, ibis.literal(UNKNOWN_STAGE))


def current_stage(snap: Snapshot, opps: pd.DataFrame) -> pd.DataFrame:
    """Return the last open stage each opportunity entered by ``as_of`` and when.

    Parameters
    ----------
    snap : Snapshot
        The data as known at ``as_of``.
    opps : DataFrame
        Opportunities with ``opportunity_id`` (a part of ``snap.opportunities``).

    Returns
    -------
    DataFrame
        Indexed like ``opps``: ``stage`` and ``entered_at`` (missing when the
        opportunity has no open-stage history), ``from_history`` (bool).
    """
    data = snap.data

    def compute() -> pd.DataFrame:
        cur = snap.current()
        o = snap.table
        names = o.select(_k=o._row, opportunity_id=o.opportunity_id)
        j = cur.join(names, cur.opp_key == names._k)
        return fetch(data, j.select("opportunity_id", "position", "entered_at"))

    found = snap.derived("current_stage", compute).set_index("opportunity_id")
    ids = opps["opportunity_id"].to_numpy()
    position = pd.Series(found["position"].reindex(ids).to_numpy(), index=opps.index)
    entered = pd.Series(found["entered_at"].reindex(ids).array, index=opps.index)
    has = position.notna().to_numpy()
    return pd.DataFrame({"stage": label_positions(position, list(data.settings.stages)),
                         "entered_at": entered, "from_history": has}, index=opps.index)
