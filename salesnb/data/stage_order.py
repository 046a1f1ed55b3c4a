"""Where a mapped export's stage order comes from: the business, the CRM, or the data.

The order of the open stages decides the funnel, so it is never guessed silently. In
order of trust:

1. **Configured**: ``stages`` / ``pipelines`` in ``funnel.yml``, ``settings=`` or the
   mapping's own settings.
2. **The export's own order**: the ranks a mapping's ``stage_order`` sources give each
   stage — a rank column such as Salesforce's ``StageSortOrder`` (the stage's position in
   the picklist), stage probabilities (HubSpot's ``Deal probability``), or the order of
   the history's date columns (when it is not simply alphabetical, as HubSpot's
   all-properties exports are). A stage's rank is the most common value among the open
   deals currently at it (a CRM may set a closed deal's probability to 100 or 0); a later
   source breaks the ties of an earlier one.
3. **Inferred from the data**, with a :class:`~salesnb.exceptions.SalesnbWarning`: a stage
   comes before another when most deals that entered both entered it first (a Copeland
   ranking of the stage history); ties, and stages never seen together, by the median
   time deals took from creation to entering them; then by first appearance. Stages the
   export's order leaves out (a stage seen only in the history) are placed the same way,
   after the stage that precedes them in the inferred order, and named in the warning.

Each pipeline (a ``pipeline`` column) gets its own order; ``stages`` is then every
pipeline's order merged (:func:`~salesnb.data.settings.merge_orders`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesnb.data.settings import FunnelSettings, merge_orders

__all__ = ["OrderEvidence", "infer_order", "pipeline_stage_problems", "resolve_stage_order"]


@dataclass(frozen=True)
class OrderEvidence:
    """A rank per deal (aligned with the opportunities), or per stage, from one export source.

    ``per_deal``: a number for each opportunity row (its current stage's rank), or
    ``per_stage``: ``{(pipeline or None, stage): rank}`` (date-column order).
    """

    label: str
    per_deal: pd.Series | None = None
    per_stage: dict[tuple[str | None, str], float] | None = None


def _group_key(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value) else str(value)


def resolve_stage_order(opps: pd.DataFrame, hist: pd.DataFrame | None, settings: FunnelSettings, *,
                        configured: bool, evidence: Sequence[OrderEvidence] = ()
                        ) -> tuple[FunnelSettings, dict[str, Any], list[str]]:
    """Decide the stage order of a mapped dataset.

    Parameters
    ----------
    opps : DataFrame
        The mapped opportunities (``opportunity_id``, ``status``, ``created_at``,
        optional ``stage`` and ``pipeline``).
    hist : DataFrame or None
        The mapped stage history (``opportunity_id``, ``stage``, ``entered_at``).
    settings : FunnelSettings
        The resolved settings.
    configured : bool
        Whether ``stages`` or ``pipelines`` were configured (then they are kept).
    evidence : sequence of OrderEvidence
        The export's own order, most trusted first.

    Returns
    -------
    settings : FunnelSettings
        With ``stages`` (and ``pipelines``) set and ``stages_source`` saying where from.
    document : dict
        ``source`` (in words), ``stages``, ``pipelines``, ``inferred`` (the stages placed
        by inference) — the ``stage_order`` part of the quality document.
    warnings : list of str
        One per order that had to be inferred in part or whole.
    """
    outcomes = {settings.won, settings.lost}
    if configured:
        source = f"configured ({settings.source})"
        doc = {"source": source, "stages": list(settings.stages),
               "pipelines": {k: list(v) for k, v in settings.pipelines.items()}, "inferred": []}
        return settings.with_stages(settings.stages, inferred=False, source=source), doc, []
    has_pipeline = "pipeline" in opps.columns and opps["pipeline"].notna().any()
    groups: dict[str | None, np.ndarray] = {}
    if has_pipeline:
        keys = opps["pipeline"].map(_group_key)
        for key in dict.fromkeys(keys):
            groups[key] = (keys == key).to_numpy() if key is not None else keys.isna().to_numpy()
    else:
        groups[None] = np.ones(len(opps), dtype=bool)
    hist = hist if hist is not None else pd.DataFrame({"opportunity_id": [], "stage": [], "entered_at": []})
    orders: dict[str | None, tuple[str, ...]] = {}
    sources: dict[str | None, str] = {}
    inferred_all: list[str] = []
    warns: list[str] = []
    for key, mask in groups.items():
        group = opps[mask]
        if len(groups) == 1:
            ghist = hist
        else:
            index = pd.Index(group["opportunity_id"].dropna().astype(object).unique())
            ghist = hist[index.get_indexer(pd.Index(hist["opportunity_id"].astype(object))) >= 0] if len(hist) else hist
        stages = _open_stages(group, ghist, outcomes)
        if not stages:
            continue
        order, how, placed = _order(group, ghist, stages, key, evidence, outcomes)
        orders[key] = order
        sources[key] = how
        inferred_all.extend(s for s in placed if s not in inferred_all)
        if placed:
            where = f"pipeline {key!r}: " if key is not None else ""
            warns.append(f"{where}stage order {how}: {' → '.join(order)}; set 'stages' (or 'pipelines') in "
                         "funnel.yml to make it explicit")
    named = {k: v for k, v in orders.items() if k is not None}
    overall = merge_orders([list(v) for v in orders.values()]) if orders else ()
    distinct = list(dict.fromkeys(sources.values()))
    if not distinct:
        source = "no stages in the data"
    elif len(distinct) == 1:
        source = distinct[0]
    else:
        source = "; ".join(f"{k if k is not None else '(no pipeline)'}: {v}" for k, v in sources.items())
    inferred = bool(inferred_all)
    resolved = settings.with_stages(tuple(overall), inferred=inferred, pipelines=named if has_pipeline else {},
                                    source=source)
    doc = {"source": source, "stages": list(overall), "pipelines": {k: list(v) for k, v in named.items()},
           "inferred": inferred_all}
    return resolved, doc, warns


def _open_stages(group: pd.DataFrame, hist: pd.DataFrame, outcomes: set[str]) -> list[str]:
    seen: list[str] = []
    if len(hist):
        seen.extend(hist["stage"].dropna().astype(str))
    if "stage" in group.columns:
        seen.extend(group["stage"].dropna().astype(str))
    return [s for s in dict.fromkeys(seen) if s not in outcomes]


def _ranks(group: pd.DataFrame, stages: list[str], key: str | None, ev: OrderEvidence) -> dict[str, float]:
    out: dict[str, float] = {}
    if ev.per_stage is not None:
        for stage in stages:
            rank = ev.per_stage.get((key, stage), ev.per_stage.get((None, stage)))
            if rank is not None:
                out[stage] = rank
        return out
    if ev.per_deal is None or "stage" not in group.columns:
        return {}
    values = pd.DataFrame({"stage": group["stage"].to_numpy(), "rank": ev.per_deal[group.index].to_numpy()})
    if "status" in group.columns:
        # Only open deals: a CRM may set a closed deal's probability to 100 or 0 (Pipedrive does).
        values = values[(group["status"].astype(str).str.casefold() == "open").to_numpy()]
    values = values.dropna()
    for name, ranks in values.groupby("stage", sort=False)["rank"]:
        if str(name) in stages:
            counts = ranks.value_counts()
            top = counts[counts == counts.max()].index
            out[str(name)] = float(min(top))  # the most common rank (the lowest on a tie)
    return out


def _order(group: pd.DataFrame, hist: pd.DataFrame, stages: list[str], key: str | None,
           evidence: Sequence[OrderEvidence], outcomes: set[str]) -> tuple[tuple[str, ...], str, list[str]]:
    inferred, method = infer_order(hist, group, stages, outcomes)
    position = {s: i for i, s in enumerate(inferred)}
    ranked: list[dict[str, float]] = [_ranks(group, stages, key, ev) for ev in evidence]
    primary = next((i for i, r in enumerate(ranked) if r), None)
    if primary is None:
        return tuple(inferred), f"inferred from the data ({method})", list(inferred)
    first = ranked[primary]
    later = ranked[primary + 1:]
    known = sorted(first, key=lambda s: (first[s], *(r.get(s, np.inf) for r in later), position[s]))
    ties = len({first[s] for s in known}) < len(known)
    how = f"from the export: {evidence[primary].label}"
    if ties:
        tie_by = [evidence[primary + 1 + i].label for i, r in enumerate(later) if r]
        how += f" (ties broken by {', '.join(tie_by) if tie_by else 'the data'})"
    placed = [s for s in inferred if s not in first]
    order = list(known)
    for stage in placed:
        before = [s for s in inferred[: position[stage]] if s in order]
        order.insert(order.index(before[-1]) + 1 if before else 0, stage)
    if placed:
        how += f"; {', '.join(placed)} placed by inference ({method})"
    return tuple(order), how, placed


def infer_order(hist: pd.DataFrame, opps: pd.DataFrame, stages: Sequence[str], outcomes: set[str]
                ) -> tuple[list[str], str]:
    """Infer an order of ``stages`` from the stage history (see the module docstring).

    Returns the order and how it was found, in words.

    Examples
    --------
    >>> hist = pd.DataFrame({"opportunity_id": ["a", "a", "b", "b"], "stage": ["lead", "demo", "lead", "demo"],
    ...                      "entered_at": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-02", "2025-01-09"])})
    >>> opps = pd.DataFrame({"opportunity_id": ["a", "b"], "stage": ["demo", "demo"],
    ...                      "created_at": pd.to_datetime(["2025-01-01", "2025-01-02"])})
    >>> infer_order(hist, opps, ["demo", "lead"], {"won", "lost"})
    (['lead', 'demo'], 'stage history: which stage deals entered first')
    """
    stages = list(stages)
    first_seen = {s: i for i, s in enumerate(stages)}
    score = dict.fromkeys(stages, 0.0)
    pairs_seen = False
    days: dict[str, float] = {}
    if len(hist):
        h = hist[hist["stage"].isin(stages) & hist["opportunity_id"].notna()]
        h = h.assign(_order=np.arange(len(h))).sort_values(["opportunity_id", "entered_at", "_order"],
                                                           kind="mergesort")
        first = h.drop_duplicates(["opportunity_id", "stage"])
        if len(first):
            rank = first.groupby("opportunity_id", sort=False).cumcount()
            wide = pd.DataFrame({"opp": first["opportunity_id"].to_numpy(), "stage": first["stage"].to_numpy(),
                                 "rank": rank.to_numpy()}).pivot(index="opp", columns="stage", values="rank")
            names = list(wide.columns)
            values = wide.to_numpy(dtype="float64")
            for i, a in enumerate(names):
                for j in range(i + 1, len(names)):
                    before = int(np.sum(values[:, i] < values[:, j]))
                    after = int(np.sum(values[:, i] > values[:, j]))
                    if before or after:
                        pairs_seen = True
                    if before > after:
                        score[a] += 1
                    elif after > before:
                        score[names[j]] += 1
                    else:
                        score[a] += 0.5
                        score[names[j]] += 0.5
            if "created_at" in opps.columns:
                created = opps.drop_duplicates("opportunity_id").set_index("opportunity_id")["created_at"]
                lag = (first["entered_at"] - first["opportunity_id"].map(created)).dt.total_seconds() / 86400
                days = {str(k): float(v) for k, v in lag.groupby(first["stage"]).median().dropna().items()}
    order = sorted(stages, key=lambda s: (-score[s], days.get(s, np.inf), first_seen[s]))
    if pairs_seen:
        method = "stage history: which stage deals entered first"
    elif days:
        method = "time from creation to entering each stage, the history having no deal with two stages"
    else:
        method = "order of first appearance in the export, the data holding no stage history"
    return order, method


def pipeline_stage_problems(opps: pd.DataFrame, settings: FunnelSettings) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose pipeline ``settings.pipelines`` does not list, and rows at a stage not of their pipeline.

    For configured pipelines only (empty masks otherwise). A deal without a pipeline, or
    whose stage is an outcome (``won``/``lost``), is never flagged.

    Examples
    --------
    >>> s = FunnelSettings.from_mapping({"pipelines": {"New": ["lead", "demo"]}})
    >>> opps = pd.DataFrame({"pipeline": ["New", "Old", "New", None], "stage": ["demo", "lead", "quote", "x"]})
    >>> [m.tolist() for m in pipeline_stage_problems(opps, s)]
    [[False, True, False, False], [False, False, True, False]]
    """
    none = np.zeros(len(opps), dtype=bool)
    if not settings.pipelines or "pipeline" not in opps.columns:
        return none, none
    pipeline = opps["pipeline"].astype(object).where(opps["pipeline"].notna(), None)
    known = set(settings.pipelines)
    unknown = np.array([p is not None and str(p) not in known for p in pipeline], dtype=bool)
    if "stage" not in opps.columns:
        return unknown, none
    outcomes = {settings.won, settings.lost}
    allowed = {(p, s) for p, order in settings.pipelines.items() for s in (*order, *outcomes)}
    stage = opps["stage"].astype(object).where(opps["stage"].notna(), None)
    off = np.array([p is not None and s is not None and not u and (str(p), str(s)) not in allowed
                    for p, s, u in zip(pipeline, stage, unknown, strict=True)], dtype=bool)
    return unknown, off
