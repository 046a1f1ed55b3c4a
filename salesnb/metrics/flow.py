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

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

from salesnb._docstrings import fill_doc
from salesnb.data.dataset import SalesData, Snapshot
from salesnb.metrics._tables import (
    NONE_LABEL,
    US_PER_DAY,
    canonical_by,
    created_in_window,
    fetch,
    in_pipeline,
    only_pipelines,
    pipeline_label,
    pipeline_orders,
    ratio,
    summarize,
)
from salesnb.metrics.stages import visit_frame
from salesnb.metrics.window import TimeLike, Window, resolve_window

__all__ = ["funnel", "stage_transitions", "time_in_stage"]


def _cohort(snap: Snapshot, window: Window) -> ibis.Table:
    """The cohort created in the window, as a table of ``opp_key``."""
    cohort = created_in_window(snap, window)
    return cohort.select(opp_key=cohort._row)


@fill_doc
def funnel(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Build the funnel report of the cohort created in the window.

    Parameters
    ----------
    {data}
    {window}
    {calendar}
    {pipelines}

    Returns
    -------
    DataFrame
        One row per open stage in funnel order: ``stage``, ``position`` (1-based),
        ``reached``, ``lost_here``, ``open_here`` (still open, deepest stage here),
        ``conversion_to_next``, ``cumulative_conversion`` (reached / cohort),
        ``completed_visits``, ``censored_visits``, ``median_days_in_stage`` (completed
        visits of cohort opportunities). ``attrs`` holds ``cohort``, ``won``, ``lost``,
        ``open`` and ``stages_inferred``. With a ``pipeline`` column: a first column
        ``pipeline`` and one block of rows per pipeline in its own stage order
        (positions in that order); ``attrs['pipelines']`` holds each pipeline's counts
        and ``attrs['off_pipeline_history']`` the deals with history entries at stages
        not of their pipeline (left out of their deepest stage).

    Examples
    --------
    {load_sample}
    >>> f = sn.funnel(data, start="1403-01-01", end="1404-01-01")
    >>> f[["stage", "reached"]].values.tolist()
    [['lead', 941], ['qualified', 620], ['proposal', 442], ['negotiation', 303]]
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    return _funnel(data.at(window.as_of), window)


def _funnel(snap: Snapshot, window: Window) -> pd.DataFrame:
    data = snap.data
    orders = pipeline_orders(data)
    if not orders:
        return _funnel_of(snap, window, created_in_window(snap, window), list(data.settings.stages), False)
    parts, per_pipeline = [], {}
    cohort = created_in_window(snap, window)
    for name, stages in orders:
        part = _funnel_of(snap, window, cohort.filter(in_pipeline(cohort, name)), list(stages), True)
        label = pipeline_label(name)
        per_pipeline[label] = dict(part.attrs)
        parts.append(part.assign(pipeline=label))
    out = pd.concat(parts, ignore_index=True)
    out = out[["pipeline", *[c for c in out.columns if c != "pipeline"]]]
    totals = {k: sum(int(a[k]) for a in per_pipeline.values())
              for k in ("cohort", "won", "lost", "open", "off_pipeline_history")}
    out.attrs.update(totals, stages_inferred=data.settings.stages_inferred, pipelines=per_pipeline)
    return out


def _funnel_of(snap: Snapshot, window: Window, cohort: ibis.Table, stages: list[str],
               per_pipeline: bool) -> pd.DataFrame:
    """The funnel of one cohort over its open ``stages`` (positions are indexes in ``stages``).

    ``per_pipeline``: the cohort is one pipeline's, whose stages may be a part of the
    overall order; history entries at a stage outside ``stages`` are left out of its
    deepest stage (the deals are counted in ``attrs['off_pipeline_history']``).
    """
    data = snap.data
    k = len(stages)
    cd, off = _cohort_deepest(snap, cohort, stages, per_pipeline)
    counts = fetch(data, cd.group_by(["deep", "status_asof"]).aggregate(n=cd.count()))
    deep = counts["deep"].to_numpy(dtype="int64")
    n = counts["n"].to_numpy(dtype="int64")
    won = (counts["status_asof"] == "won").to_numpy()
    lost = (counts["status_asof"] == "lost").to_numpy()
    still_open = (counts["status_asof"] == "open").to_numpy()
    n_won, n_lost, n_open = int(n[won].sum()), int(n[lost].sum()), int(n[still_open].sum())
    size = n_won + n_lost + n_open
    reached = np.array([int(n[(deep >= i) | won].sum()) for i in range(k)], dtype="int64")
    lost_here = np.array([int(n[lost & (deep == i)].sum()) for i in range(k)], dtype="int64")
    open_here = np.array([int(n[still_open & (deep == i)].sum()) for i in range(k)], dtype="int64")
    following = np.append(reached[1:], n_won) if k else np.array([], dtype="int64")
    visits = snap.visits(cohort.select(opp_key=cohort._row))
    done = summarize(data, visits.filter(~visits.censored), ["position"], "duration",
                     quantiles={"median": 0.5}, count="size")
    per_stage = done.astype({"position": "int64"}).set_index("position")
    open_visits = visits.filter(visits.censored)
    cens = fetch(data, open_visits.group_by("position").aggregate(n=open_visits.count()))
    censored = dict(zip(cens["position"].astype("int64"), cens["n"].astype("int64"), strict=True))
    # Visits are keyed by the overall funnel position of their stage.
    overall = {s: i for i, s in enumerate(data.settings.stages)}
    keys = [overall.get(s, -99) for s in stages]
    out = pd.DataFrame({
        "stage": pd.Series(stages, dtype="str") if k else pd.Series([], dtype="str"),
        "position": np.arange(1, k + 1),
        "reached": reached,
        "lost_here": lost_here,
        "open_here": open_here,
        "conversion_to_next": ratio(following, reached),
        "cumulative_conversion": ratio(reached, np.full(k, size)),
        "completed_visits": [int(per_stage["size"].get(i, 0)) for i in keys],
        "censored_visits": [int(censored.get(i, 0)) for i in keys],
        "median_days_in_stage": [float(per_stage["median"].get(i, np.nan)) / US_PER_DAY for i in keys],
    })
    out.attrs.update(cohort=size, won=n_won, lost=n_lost, open=n_open,
                     stages_inferred=data.settings.stages_inferred)
    if per_pipeline:
        out.attrs["off_pipeline_history"] = off
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
    pipelines: Sequence[str] | None = None,
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
    {pipelines}

    Returns
    -------
    DataFrame
        (``pipeline``, when the data has that column: each pipeline's stages in its own
        order,) ``stage`` (funnel order), (the ``by`` column,) ``visits``, ``completed``,
        ``censored``, ``mean_days``, ``median_days``, ``p90_days`` (linear interpolation
        between the completed visits, pandas' default).

    Examples
    --------
    {load_sample}
    >>> t = sn.time_in_stage(data, start="1403-01-01", end="1404-01-01")
    >>> t[["stage", "visits"]].values.tolist()
    [['lead', 917], ['qualified', 609], ['proposal', 444], ['negotiation', 306]]
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    by = canonical_by(data, by)
    snap = data.at(window.as_of)
    if cohort:
        visits = visit_frame(snap, cohort=_cohort(snap, window))
    else:
        visits = visit_frame(snap, entered_in=window)
    orders = pipeline_orders(data)
    if orders and by == "pipeline":
        by = None  # already one block per pipeline
    keys = ["stage"]
    for column in (["pipeline"] if orders else []) + ([by] if by is not None else []):
        visits = visits.assign(**{column: _labels_of(snap, visits["opp_key"], column)})
    if by is not None:
        keys.append(by)
    if orders:
        keys.insert(0, "pipeline")
    grouped = visits.groupby(keys, sort=False)
    done = visits[~visits["censored"]].groupby(keys, sort=False)["days"]
    out = pd.concat([
        grouped.size().rename("visits"),
        done.size().rename("completed"),
        done.mean().rename("mean_days"),
        done.median().rename("median_days"),
        done.quantile(0.9).rename("p90_days"),
    ], axis=1).reset_index()
    overall = {s: i for i, s in enumerate(data.settings.stages)}
    if not orders:
        if by is None:
            stage_frame = pd.DataFrame({"stage": pd.Series(list(data.settings.stages), dtype="str")})
            out = stage_frame.merge(out, on="stage", how="left")
        else:
            out["_pos"] = out["stage"].map(overall)
            out = out.sort_values(["_pos", by], ignore_index=True).drop(columns="_pos")
    else:
        # Each pipeline's own stages in its order (every one listed when there is no
        # `by`), then any other stage its deals visited (in the overall order).
        frames = []
        for rank, (name, stages) in enumerate(orders):
            label = pipeline_label(name)
            own = {s: i for i, s in enumerate(stages)}
            part = out[out["pipeline"] == label]
            if by is None:
                grid = pd.DataFrame({"pipeline": label, "stage": pd.Series(list(stages), dtype="str")})
                part = grid.merge(part, on=["pipeline", "stage"], how="outer")
            part = part.assign(_rank=rank, _pos=[own.get(st, len(own) + overall.get(st, 0))
                                                 for st in part["stage"]])
            frames.append(part)
        out = pd.concat(frames, ignore_index=True) if frames else out.assign(_rank=0, _pos=0)
        out = out.sort_values(["_rank", "_pos", *([by] if by else [])], ignore_index=True,
                              kind="mergesort").drop(columns=["_rank", "_pos"])
    out["visits"] = out["visits"].fillna(0).astype("int64")
    out["completed"] = out["completed"].fillna(0).astype("int64")
    out["censored"] = out["visits"] - out["completed"]
    return out[[*keys, "visits", "completed", "censored", "mean_days", "median_days", "p90_days"]]


def _labels_of(snap: Snapshot, opp_keys: pd.Series, column: str) -> pd.Series:
    """The value of opportunity ``column`` (as text, ``(none)`` when empty) for each key."""
    o = snap.table
    labels = fetch(snap.data, o.select(_k=o._row, _g=o[column].cast("string")))
    lookup = pd.Series(labels["_g"].to_numpy(), index=labels["_k"].to_numpy())
    values = lookup.reindex(opp_keys.to_numpy()).to_numpy()
    return pd.Series(values, index=opp_keys.index, dtype="str").fillna(NONE_LABEL)


@fill_doc
def stage_transitions(
    data: SalesData,
    *,
    start: TimeLike = None,
    end: TimeLike = None,
    as_of: TimeLike = None,
    calendar: str | None = None,
    pipelines: Sequence[str] | None = None,
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
    {pipelines}

    Returns
    -------
    DataFrame
        ``from_stage``, ``to_stage``, ``kind``, ``count``; funnel order. With a
        ``pipeline`` column: a first column ``pipeline``, kinds judged in each
        pipeline's own stage order (a move to a stage of another pipeline: ``other``).

    Examples
    --------
    {load_sample}
    >>> t = sn.stage_transitions(data, start="1403-01-01", end="1404-01-01")
    >>> t.iloc[0, :3].tolist(), int(t["count"].iloc[0])
    (['lead', 'qualified', 'forward'], 583)
    """
    data = only_pipelines(data, pipelines)
    window = resolve_window(data, start, end, as_of, calendar)
    snap = data.at(window.as_of)
    visits = visit_frame(snap, cohort=_cohort(snap, window))
    moves = visits[~visits["censored"]]
    orders = pipeline_orders(data)
    won, lost = data.settings.won, data.settings.lost
    if orders:
        # Positions within the deal's own pipeline: a move is forward, a skip or a
        # regression in that pipeline's order.
        pipe = _labels_of(snap, moves["opp_key"], "pipeline")
        rank = {pipeline_label(name): r for r, (name, _) in enumerate(orders)}
        own = {pipeline_label(name): {s: i for i, s in enumerate(stages)} for name, stages in orders}
        size = {label: len(o) for label, o in own.items()}
        from_pos = pd.Series([own.get(p, {}).get(st, np.nan) for p, st in zip(pipe, moves["stage"], strict=True)],
                             index=moves.index, dtype="float64")
        to_pos = pd.Series([own.get(p, {}).get(st, np.nan) if isinstance(st, str) else np.nan
                            for p, st in zip(pipe, moves["next_stage"], strict=True)],
                           index=moves.index, dtype="float64")
        end_pos = pipe.map(size).astype("float64")
        sort_keys = ["_p", "_f", "_t", "to_stage"]
        extra = {"pipeline": pipe, "_p": pipe.map(rank)}
    else:
        order = {s: i for i, s in enumerate(data.settings.stages)}
        from_pos = moves["position"].astype("float64")
        to_pos = moves["next_stage"].map(order).astype("float64")  # NaN: an outcome
        end_pos = pd.Series(float(len(order)), index=moves.index)
        sort_keys = ["_f", "_t", "to_stage"]
        extra = {}
    step = to_pos - from_pos
    kind = np.select(
        [moves["next_stage"].eq(won).to_numpy(), moves["next_stage"].eq(lost).to_numpy(),
         (step == 1).to_numpy(), (step > 1).to_numpy(), (step < 0).to_numpy(), (step == 0).to_numpy()],
        ["won", "lost", "forward", "skip", "regression", "repeat"], default="other")
    frame = pd.DataFrame({**extra, "from_stage": moves["stage"], "to_stage": moves["next_stage"], "kind": kind,
                          "_f": from_pos.fillna(end_pos), "_t": to_pos.fillna(end_pos)})
    group = [*extra, "from_stage", "to_stage", "kind", "_f", "_t"]
    out = frame.groupby(group).size().rename("count").reset_index()
    out = out.sort_values(sort_keys, ignore_index=True)
    return out[[*(["pipeline"] if orders else []), "from_stage", "to_stage", "kind", "count"]]


def _cohort_deepest(snap: Snapshot, cohort: ibis.Table, stages: list[str],
                    per_pipeline: bool) -> tuple[ibis.Table, int]:
    """``cohort`` with ``status_asof`` and ``deep``: its deepest open stage known at
    ``as_of`` as an index in ``stages`` (from the history; else its ``stage`` column when
    that names one of ``stages``; else the first stage); and, for one pipeline's cohort,
    how many of its deals have history entries at stages that are not the pipeline's."""
    off = 0
    if per_pipeline:
        overall = {s: i for i, s in enumerate(snap.data.settings.stages)}
        h = snap.entries
        h = h.filter((h.position >= 0) & h.opp_key.isin(cohort._row))
        local = ibis.cases(*[(h.position == overall[s], i) for i, s in enumerate(stages) if s in overall],
                           else_=ibis.null("int64")) if stages else ibis.null("int64")
        h = h.mutate(_local=local)
        stray = h.filter(h._local.isnull())
        off = int(snap.data.engine.one(stray.aggregate(n=stray.opp_key.nunique())).get("n") or 0)
        deep = h.group_by("opp_key").aggregate(deepest=h._local.max().cast("int64"))
    else:
        deep = snap.deepest()
    deep = deep.select(_dk=deep.opp_key, _deep=deep.deepest)
    joined = cohort.left_join(deep, cohort._row == deep._dk)
    from_column = ibis.cases(*[(joined.stage == s, i) for i, s in enumerate(stages)],
                             else_=ibis.null("int64")) if stages else ibis.null("int64")
    return joined.mutate(deep=ibis.coalesce(joined._deep, from_column, 0)), off
